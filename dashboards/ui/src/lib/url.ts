// The whole state of each view lives in the URL: pure encode/decode, so a copied address
// opens the same view anywhere. Times stay as the person chose them (`now-15m` stays
// relative); defaults are left out so addresses stay short.

import { DEFAULT_RANGE, TimeZoneMode, AUTO_REFRESH } from "./time";

export type ExploreMode = "search" | "live";
export type SortOrder = "desc" | "asc";
export type ChartKind = "lines" | "bars";

export interface ExploreState {
  query: string;
  start: string;
  end: string;
  tz: TimeZoneMode;
  /** Extra columns after time, level, service and message. */
  columns: string[];
  /** The opened record's id (decimal string; ids exceed JavaScript's safe integers). */
  record: string | null;
  /** Show the opened record's context. */
  context: boolean;
  order: SortOrder;
  mode: ExploreMode;
  refresh: (typeof AUTO_REFRESH)[number];
  chart: ChartKind;
}

export const DEFAULT_EXPLORE: ExploreState = {
  query: "",
  start: DEFAULT_RANGE.start,
  end: DEFAULT_RANGE.end,
  tz: "local",
  columns: [],
  record: null,
  context: false,
  order: "desc",
  mode: "search",
  refresh: "off",
  chart: "lines",
};

function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

export function decodeExplore(search: string): ExploreState {
  const p = new URLSearchParams(search);
  const d = DEFAULT_EXPLORE;
  const cols = p.get("cols");
  return {
    query: p.get("q") ?? d.query,
    start: p.get("start") || d.start,
    end: p.get("end") || d.end,
    tz: oneOf(p.get("tz"), ["local", "utc"], d.tz),
    columns: cols ? cols.split(",").map((c) => c.trim()).filter(Boolean) : [],
    record: p.get("rec") || null,
    context: p.get("ctx") === "1",
    order: oneOf(p.get("order"), ["desc", "asc"], d.order),
    mode: oneOf(p.get("mode"), ["search", "live"], d.mode),
    refresh: oneOf(p.get("refresh"), AUTO_REFRESH, d.refresh),
    chart: oneOf(p.get("chart"), ["lines", "bars"], d.chart),
  };
}

export function encodeExplore(s: ExploreState): string {
  const p = new URLSearchParams();
  const d = DEFAULT_EXPLORE;
  if (s.query) p.set("q", s.query);
  if (s.start !== d.start) p.set("start", s.start);
  if (s.end !== d.end) p.set("end", s.end);
  if (s.tz !== d.tz) p.set("tz", s.tz);
  if (s.columns.length) p.set("cols", s.columns.join(","));
  if (s.record) p.set("rec", s.record);
  if (s.record && s.context) p.set("ctx", "1");
  if (s.order !== d.order) p.set("order", s.order);
  if (s.mode !== d.mode) p.set("mode", s.mode);
  if (s.refresh !== d.refresh) p.set("refresh", s.refresh);
  if (s.chart !== d.chart) p.set("chart", s.chart);
  const text = p.toString();
  return text ? `?${text}` : "";
}

export interface RequestState {
  id: string;
  tz: TimeZoneMode;
  /** The opened record in the request view. */
  record: string | null;
}

/** `/request/<id>?tz=utc&rec=…`: the id is a path segment, escaped. */
export function decodeRequest(pathname: string, search: string): RequestState {
  const m = /^\/request\/(.+)$/.exec(pathname);
  const p = new URLSearchParams(search);
  return {
    id: m ? decodeURIComponent(m[1]) : "",
    tz: oneOf(p.get("tz"), ["local", "utc"], "local"),
    record: p.get("rec") || null,
  };
}

export function encodeRequest(s: RequestState): string {
  const p = new URLSearchParams();
  if (s.tz !== "local") p.set("tz", s.tz);
  if (s.record) p.set("rec", s.record);
  const text = p.toString();
  return `/request/${encodeURIComponent(s.id)}${text ? `?${text}` : ""}`;
}

/** The explorer's address for a query (links from the request view and the record panel). */
export function exploreHref(partial: Partial<ExploreState>): string {
  return `/explore${encodeExplore({ ...DEFAULT_EXPLORE, ...partial })}`;
}
