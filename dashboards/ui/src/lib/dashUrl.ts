// The dashboards area's addresses: which page the path names, and a dashboard's view state
// in the query string with Grafana's names (`?from=now-6h&to=now&var-service=checkout`,
// a multi-value variable repeated: `var-env=a&var-env=b`). Defaults are left out.

import { AUTO_REFRESH, type TimeZoneMode } from "./time";

export type DashRoute =
  | { page: "list" }
  | { page: "new" }
  | { page: "dashboard"; uid: string }
  | { page: "services" }
  | { page: "service"; service: string };

export function decodeRoute(pathname: string): DashRoute {
  const rest = pathname.replace(/^\/dashboards\/?/, "").replace(/\/$/, "");
  if (rest === "") return { page: "list" };
  if (rest === "new") return { page: "new" };
  if (rest === "services") return { page: "services" };
  let m = /^services\/(.+)$/.exec(rest);
  if (m) return { page: "service", service: decodeURIComponent(m[1]) };
  m = /^d\/([^/]+)/.exec(rest);
  if (m) return { page: "dashboard", uid: decodeURIComponent(m[1]) };
  return { page: "list" };
}

export function dashboardHref(uid: string, state?: Partial<DashState>): string {
  return `/dashboards/d/${encodeURIComponent(uid)}${state ? encodeDash({ ...EMPTY, ...state }) : ""}`;
}

export function serviceHref(service: string): string {
  return `/dashboards/services/${encodeURIComponent(service)}`;
}

export type Refresh = (typeof AUTO_REFRESH)[number];

export interface DashState {
  /** Absent: the dashboard's own default range. */
  from: string | null;
  to: string | null;
  tz: TimeZoneMode;
  refresh: Refresh | null;
  /** Variable values by name; absent: the variable's default. */
  vars: Record<string, string[]>;
}

const EMPTY: DashState = { from: null, to: null, tz: "local", refresh: null, vars: {} };

export function decodeDash(search: string): DashState {
  const p = new URLSearchParams(search);
  const vars: Record<string, string[]> = {};
  for (const [k, v] of p) {
    if (!k.startsWith("var-") || k.length === 4) continue;
    (vars[k.slice(4)] ??= []).push(v);
  }
  const refresh = p.get("refresh");
  return {
    from: p.get("from") || null,
    to: p.get("to") || null,
    tz: p.get("tz") === "utc" ? "utc" : "local",
    refresh: refresh !== null && (AUTO_REFRESH as readonly string[]).includes(refresh) ? (refresh as Refresh) : null,
    vars,
  };
}

export function encodeDash(s: DashState): string {
  const p = new URLSearchParams();
  if (s.from) p.set("from", s.from);
  if (s.to) p.set("to", s.to);
  if (s.tz !== "local") p.set("tz", s.tz);
  if (s.refresh) p.set("refresh", s.refresh);
  for (const [name, values] of Object.entries(s.vars)) for (const v of values) p.append(`var-${name}`, v);
  const text = p.toString();
  return text ? `?${text}` : "";
}

/** A title as a uid the server accepts: `[A-Za-z0-9_-]{1,64}`. */
export function slug(title: string): string {
  const s = title.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
  return s || "dashboard";
}

/** The list's search: every word is in the title or a tag (`tag:` may prefix a word). */
export function matchesSearch(title: string, tags: string[], q: string): boolean {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = [title, ...tags].join(" ").toLowerCase();
  return words.every((w) => hay.includes(w.replace(/^tag:/, "")));
}
