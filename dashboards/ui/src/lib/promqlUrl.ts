// The metrics explorer's state in the URL: `/graph?q=…&start=…&end=…&step=…&view=table&stacked=1`.
// Times stay as chosen (`now-1h` stays relative); defaults are left out.

import { AUTO_REFRESH, DEFAULT_RANGE, TimeZoneMode } from "./time";

export type MetricsView = "graph" | "table";

export interface MetricsState {
  query: string;
  start: string;
  end: string;
  /** What the person typed (`30s`, `1m`); empty = automatic. */
  step: string;
  view: MetricsView;
  stacked: boolean;
  tz: TimeZoneMode;
  refresh: (typeof AUTO_REFRESH)[number];
}

export const DEFAULT_METRICS: MetricsState = {
  query: "", start: DEFAULT_RANGE.start, end: DEFAULT_RANGE.end, step: "", view: "graph", stacked: false, tz: "local", refresh: "off",
};

export function decodeMetrics(search: string): MetricsState {
  const p = new URLSearchParams(search);
  const d = DEFAULT_METRICS;
  return {
    query: p.get("q") ?? d.query,
    start: p.get("start") || d.start,
    end: p.get("end") || d.end,
    step: (p.get("step") ?? "").trim(),
    view: p.get("view") === "table" ? "table" : "graph",
    stacked: p.get("stacked") === "1",
    tz: p.get("tz") === "utc" ? "utc" : "local",
    refresh: (AUTO_REFRESH as readonly string[]).includes(p.get("refresh") ?? "") ? (p.get("refresh") as MetricsState["refresh"]) : "off",
  };
}

export function encodeMetrics(s: MetricsState): string {
  const p = new URLSearchParams();
  const d = DEFAULT_METRICS;
  if (s.query) p.set("q", s.query);
  if (s.start !== d.start) p.set("start", s.start);
  if (s.end !== d.end) p.set("end", s.end);
  if (s.step.trim()) p.set("step", s.step.trim());
  if (s.view !== d.view) p.set("view", s.view);
  if (s.stacked) p.set("stacked", "1");
  if (s.tz !== d.tz) p.set("tz", s.tz);
  if (s.refresh !== d.refresh) p.set("refresh", s.refresh);
  const text = p.toString();
  return `/graph${text ? `?${text}` : ""}`;
}
