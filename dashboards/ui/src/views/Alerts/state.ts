// The Alerts area's URL state (tab, filter, the silence form) and small shared helpers.

import { formatTime } from "../../lib/time";

export const TABS = [
  { id: "alerts", label: "Alerts" },
  { id: "silences", label: "Silences" },
  { id: "incidents", label: "Incidents" },
  { id: "oncall", label: "On call" },
  { id: "rules", label: "Rules" },
  { id: "notifications", label: "Notifications" },
] as const;

export type Tab = (typeof TABS)[number]["id"];

export interface AlertsState {
  tab: Tab;
  /** Matchers that filter the alert list (`pharos alerts` syntax). */
  filter: string;
  showSilenced: boolean;
  showInhibited: boolean;
  /** Incidents: include resolved ones. */
  resolved: boolean;
}

export function decodeAlerts(search: string): AlertsState {
  const p = new URLSearchParams(search);
  const tab = TABS.find((t) => t.id === p.get("tab"))?.id ?? "alerts";
  return {
    tab,
    filter: p.get("filter") ?? "",
    showSilenced: p.get("silenced") !== "0",
    showInhibited: p.get("inhibited") !== "0",
    resolved: p.get("resolved") === "1",
  };
}

export function encodeAlerts(s: AlertsState): string {
  const p = new URLSearchParams();
  if (s.tab !== "alerts") p.set("tab", s.tab);
  if (s.filter) p.set("filter", s.filter);
  if (!s.showSilenced) p.set("silenced", "0");
  if (!s.showInhibited) p.set("inhibited", "0");
  if (s.resolved) p.set("resolved", "1");
  const q = p.toString();
  return q ? `/alerts?${q}` : "/alerts";
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? formatTime(ms, "local", false) : iso;
}

/** "3m ago", "in 2h 5m": for times near now. */
export function relative(iso: string | null | undefined, nowMs = Date.now()): string {
  if (!iso) return "";
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return "";
  const d = Math.round((ms - nowMs) / 1000);
  // The server's clock and this one differ by a little: "in 0s" would read as a bug.
  if (Math.abs(d) < 2) return "just now";
  const text = duration(Math.abs(d));
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

export function duration(secs: number): string {
  if (secs < 60) return `${secs}s`;
  const m = Math.floor(secs / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

const AUTHOR_KEY = "pharos.author";

/** The name this browser signs silences and acknowledgements with. */
export function savedAuthor(): string {
  try {
    return localStorage.getItem(AUTHOR_KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveAuthor(name: string): void {
  try {
    localStorage.setItem(AUTHOR_KEY, name);
  } catch {
    /* private mode: the field is simply not remembered */
  }
}
