// Time ranges as the URL keeps them: text the server also understands (`now-15m`, `now`,
// RFC 3339), resolved to epoch milliseconds once per run so the histogram, the hits and the
// fields of one search all use the same instant.

export interface TimeRange {
  /** `now-15m`, `now`, or an RFC 3339 instant. */
  start: string;
  end: string;
}

export interface ResolvedRange {
  startMs: number;
  endMs: number;
}

export type TimeZoneMode = "local" | "utc";

export const DEFAULT_RANGE: TimeRange = { start: "now-1h", end: "now" };

export const QUICK_RANGES: { label: string; start: string }[] = [
  { label: "Last 5 minutes", start: "now-5m" },
  { label: "Last 15 minutes", start: "now-15m" },
  { label: "Last 1 hour", start: "now-1h" },
  { label: "Last 6 hours", start: "now-6h" },
  { label: "Last 24 hours", start: "now-24h" },
  { label: "Last 7 days", start: "now-7d" },
  { label: "Last 30 days", start: "now-30d" },
];

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `30s`, `15m`, `1h`, `7d` → milliseconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** A time of the URL (`now`, `now-15m`, RFC 3339, epoch ms) at `nowMs`; null when invalid. */
export function resolveTime(text: string, nowMs: number): number | null {
  const t = text.trim();
  if (t === "" || t === "now") return nowMs;
  const rel = /^now\s*-\s*(.+)$/.exec(t);
  if (rel) {
    const d = parseDuration(rel[1]);
    return d === null ? null : nowMs - d;
  }
  if (/^\d+$/.test(t)) return Number(t);
  // Only full instants: `2026-01-01` alone would be read as UTC midnight by Date, and
  // anything looser is ambiguous.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(t)) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

export function resolveRange(range: TimeRange, nowMs: number): ResolvedRange | null {
  const startMs = resolveTime(range.start, nowMs);
  const endMs = resolveTime(range.end, nowMs);
  if (startMs === null || endMs === null || startMs >= endMs) return null;
  return { startMs, endMs };
}

export function isRelative(range: TimeRange): boolean {
  return range.start.startsWith("now") && range.end.startsWith("now");
}

/** An absolute range (what drag-zoom and a bar click produce), as URL text. */
export function absoluteRange(startMs: number, endMs: number): TimeRange {
  return { start: new Date(Math.round(startMs)).toISOString(), end: new Date(Math.round(endMs)).toISOString() };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `2026-12-07 15:04:05.123` in UTC or the browser's zone. */
export function formatTime(ms: number, tz: TimeZoneMode, withMs = true): string {
  const d = new Date(ms);
  const parts =
    tz === "utc"
      ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
      : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  const [y, mo, da, h, mi, s, msPart] = parts;
  const base = `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
  return withMs ? `${base}.${pad(msPart, 3)}` : base;
}

/** What the range picker's button says: the quick range's name, or `from → to`. */
export function describeRange(range: TimeRange, tz: TimeZoneMode): string {
  if (range.end === "now") {
    const quick = QUICK_RANGES.find((q) => q.start === range.start);
    if (quick) return quick.label;
    const rel = /^now-(.+)$/.exec(range.start);
    if (rel) return `Last ${rel[1]}`;
  }
  const now = Date.now();
  const s = resolveTime(range.start, now);
  const e = resolveTime(range.end, now);
  const show = (text: string, ms: number | null) =>
    text.startsWith("now") || ms === null ? text : formatTime(ms, tz, false);
  return `${show(range.start, s)} → ${show(range.end, e)}${tz === "utc" ? " UTC" : ""}`;
}

/**
 * A `datetime-local` input's value (`2026-12-07T15:04`) for an instant, in the chosen zone,
 * and back: the picker edits absolute times in the zone the person reads.
 */
export function toInputValue(ms: number, tz: TimeZoneMode): string {
  return formatTime(ms, tz, false).replace(" ", "T");
}

export function fromInputValue(value: string, tz: TimeZoneMode): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
  return tz === "utc" ? Date.UTC(y, mo - 1, d, h, mi, s) : new Date(y, mo - 1, d, h, mi, s).getTime();
}

/** A histogram bucket width that gives about `target` bars over the range. */
export function histogramInterval(range: ResolvedRange, target = 80): string {
  const steps: [number, string][] = [
    [1000, "1s"], [5000, "5s"], [10_000, "10s"], [30_000, "30s"], [60_000, "1m"], [300_000, "5m"],
    [600_000, "10m"], [1_800_000, "30m"], [3_600_000, "1h"], [10_800_000, "3h"], [21_600_000, "6h"],
    [43_200_000, "12h"], [86_400_000, "1d"],
  ];
  const want = (range.endMs - range.startMs) / target;
  for (const [ms, text] of steps) if (ms >= want) return text;
  return "1d";
}

export const AUTO_REFRESH = ["off", "5s", "10s", "30s", "1m", "5m"] as const;
