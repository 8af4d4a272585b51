// PromQL for the metrics explorer: what is being completed at the cursor (a metric or
// function, a label name inside `{…}` or `by (…)`, a label value after `name="`), where a
// server error points, and series names as Prometheus writes them.

export const AGGREGATIONS = [
  "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
] as const;

export const FUNCTIONS = [
  "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
  "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor",
  "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time",
  "ln", "log10", "log2", "max_over_time", "min_over_time", "minute", "month", "predict_linear", "present_over_time",
  "quantile_over_time", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time",
  "stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year",
] as const;

export const KEYWORDS = ["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"] as const;

export type PromContext =
  /** An identifier where a metric, a function or an aggregation may go. */
  | { kind: "metric"; from: number; to: number; prefix: string }
  /** A label name inside a selector's braces (of `metric`, when there is one). */
  | { kind: "label"; from: number; to: number; prefix: string; metric: string | null }
  /** A label name inside `by (…)`, `without (…)`, `on (…)` or `ignoring (…)`. */
  | { kind: "grouping"; from: number; to: number; prefix: string; metric: string | null }
  /** A label value after `name="`; from/to cover the value typed so far (not the quotes). */
  | { kind: "value"; from: number; to: number; prefix: string; metric: string | null; label: string }
  | { kind: "none" };

const IDENT = /[A-Za-z0-9_:]/;

/** What is being typed at `cursor` in `text`. */
export function promContext(text: string, cursor: number): PromContext {
  const before = text.slice(0, cursor);
  // Walk the text before the cursor, tracking strings, braces, brackets and parentheses.
  let quote: string | null = null;
  let quoteStart = -1;
  let braceOpen = -1;
  let bracket = false;
  const parens: { at: number; grouping: boolean }[] = [];
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      quote = c;
      quoteStart = i;
    } else if (c === "#") {
      const nl = before.indexOf("\n", i);
      if (nl < 0) return { kind: "none" };
      i = nl;
    } else if (c === "{") braceOpen = i;
    else if (c === "}") braceOpen = -1;
    else if (c === "[") bracket = true;
    else if (c === "]") bracket = false;
    else if (c === "(") {
      const word = /([A-Za-z_]+)\s*$/.exec(before.slice(0, i));
      parens.push({ at: i, grouping: !!word && ["by", "without", "on", "ignoring", "group_left", "group_right"].includes(word[1].toLowerCase()) });
    } else if (c === ")") parens.pop();
  }
  const metric = braceOpen >= 0 ? metricBefore(text, braceOpen) : nearestMetric(text, before);
  if (quote) {
    if (braceOpen < 0) return { kind: "none" };
    const m = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(before.slice(0, quoteStart));
    if (!m) return { kind: "none" };
    return { kind: "value", from: quoteStart + 1, to: valueEnd(text, quoteStart + 1, quote), prefix: before.slice(quoteStart + 1), metric, label: m[1] };
  }
  if (bracket) return { kind: "none" };
  let from = cursor;
  while (from > 0 && IDENT.test(text[from - 1])) from--;
  let to = cursor;
  while (to < text.length && IDENT.test(text[to])) to++;
  const prefix = text.slice(from, cursor);
  if (braceOpen >= 0) {
    // A name goes right after `{` or `,` only.
    const lead = text.slice(braceOpen + 1, from);
    if (/(^|,)\s*$/.test(lead)) return { kind: "label", from, to, prefix, metric };
    return { kind: "none" };
  }
  const top = parens[parens.length - 1];
  if (top?.grouping) {
    const lead = text.slice(top.at + 1, from);
    if (/(^|,)\s*$/.test(lead)) return { kind: "grouping", from, to, prefix, metric };
    return { kind: "none" };
  }
  if (prefix === "" ) {
    // Nothing typed: offer at the start of an expression only (not after a metric or a number).
    if (/([A-Za-z0-9_:)\]}])\s*$/.test(before) && !/\b(by|without|and|or|unless|bool)\s*$/.test(before)) return { kind: "none" };
    return { kind: "metric", from, to, prefix };
  }
  if (/^[0-9]/.test(prefix)) return { kind: "none" };
  // A number like `1e3` or a duration is not a metric; `offset 5m` neither.
  if (/\boffset\s+$/.test(text.slice(0, from))) return { kind: "none" };
  return { kind: "metric", from, to, prefix };
}

function valueEnd(text: string, from: number, quote: string): number {
  let i = from;
  while (i < text.length && text[i] !== quote) i += text[i] === "\\" ? 2 : 1;
  return Math.min(i, text.length);
}

/** The metric name just before a `{` (or null: `{__name__="x"}`). */
function metricBefore(text: string, brace: number): string | null {
  const m = /([A-Za-z_:][A-Za-z0-9_:]*)\s*$/.exec(text.slice(0, brace));
  if (!m) return null;
  const name = m[1];
  return isReserved(name) ? null : name;
}

/** In `sum by (…) (rate(metric[5m]))` the grouping's labels come from the metric in the query. */
function nearestMetric(text: string, _before: string): string | null {
  const re = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  let m: RegExpExecArray | null;
  // Skip words inside strings.
  const stripped = text.replace(/"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`/g, (s) => " ".repeat(s.length));
  while ((m = re.exec(stripped))) {
    const w = m[0];
    const next = stripped.slice(m.index + w.length).trimStart()[0];
    if (isReserved(w) || next === "(" || /^\d/.test(w)) continue;
    // Skip label names inside braces and durations in brackets.
    const open = stripped.lastIndexOf("{", m.index);
    const close = stripped.lastIndexOf("}", m.index);
    if (open > close) continue;
    const bo = stripped.lastIndexOf("[", m.index);
    const bc = stripped.lastIndexOf("]", m.index);
    if (bo > bc) continue;
    const po = stripped.slice(0, m.index);
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/i.test(po)) continue;
    return w;
  }
  return null;
}

function isReserved(w: string): boolean {
  const l = w.toLowerCase();
  return (AGGREGATIONS as readonly string[]).includes(l) || (FUNCTIONS as readonly string[]).includes(l) || (KEYWORDS as readonly string[]).includes(l);
}

export interface PromCompletion {
  label: string;
  insert: string;
  kind: "metric" | "function" | "aggregation" | "label" | "value";
}

/** The items for a context, from the names the server gave, best first. */
export function promCompletions(ctx: PromContext, names: { metrics?: string[]; labels?: string[]; values?: string[] }): PromCompletion[] {
  if (ctx.kind === "none") return [];
  const p = ctx.prefix.toLowerCase();
  const rank = (items: PromCompletion[]) => {
    const starts = items.filter((i) => i.label.toLowerCase().startsWith(p));
    const has = items.filter((i) => !i.label.toLowerCase().startsWith(p) && i.label.toLowerCase().includes(p));
    return [...starts, ...has].filter((i) => i.label !== ctx.prefix || ctx.kind === "value").slice(0, 50);
  };
  if (ctx.kind === "metric") {
    const items: PromCompletion[] = [
      ...(names.metrics ?? []).map((m) => ({ label: m, insert: m, kind: "metric" as const })),
      ...AGGREGATIONS.map((f) => ({ label: f, insert: `${f}(`, kind: "aggregation" as const })),
      ...FUNCTIONS.map((f) => ({ label: f, insert: `${f}(`, kind: "function" as const })),
    ];
    if (p === "") return (names.metrics ?? []).slice(0, 50).map((m) => ({ label: m, insert: m, kind: "metric" as const }));
    return rank(items);
  }
  if (ctx.kind === "label" || ctx.kind === "grouping") {
    const items = (names.labels ?? []).filter((l) => l !== "__name__" || ctx.kind === "label").map((l) => ({
      label: l, insert: ctx.kind === "label" ? `${l}="` : l, kind: "label" as const,
    }));
    return rank(items);
  }
  return rank((names.values ?? []).map((v) => ({ label: v, insert: escapeValue(v), kind: "value" as const })));
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

/**
 * Where a server error points, as a character offset into the query: a position the message
 * names (`position 12`, `1:12`), else what it describes — an unclosed parenthesis or brace
 * is found in the query, an unexpected end is the end. Null when it points nowhere.
 */
export function errorPosition(query: string, message: string): number | null {
  const pos = /\bposition\s+(\d+)/i.exec(message) ?? /\bat char(?:acter)?\s+(\d+)/i.exec(message);
  if (pos) return Math.min(Number(pos[1]), query.length);
  const lc = /\b(\d+):(\d+)\b/.exec(message);
  if (lc && !/\d+:\d+:\d+/.test(message)) {
    const lines = query.split("\n");
    const line = Number(lc[1]) - 1;
    if (line >= 0 && line < lines.length) {
      const before = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
      return Math.min(before + Number(lc[2]) - 1, query.length);
    }
  }
  if (/unclosed left paren/i.test(message)) return unmatched(query, "(", ")");
  if (/unclosed left brace|inside braces/i.test(message)) return unmatched(query, "{", "}") ?? query.length;
  if (/unclosed left bracket/i.test(message)) return unmatched(query, "[", "]");
  if (/unexpected end of input|unexpected end/i.test(message)) return query.length;
  return null;
}

/** The first opening character without its closing one (outside strings). */
function unmatched(query: string, open: string, close: string): number | null {
  const stack: number[] = [];
  let quote: string | null = null;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === open) stack.push(i);
    else if (c === close) stack.pop();
  }
  return stack.length ? stack[0] : null;
}

export type Metric = Record<string, string>;

/** `http_requests_total{code="500", service="checkout"}`, labels sorted, as Prometheus shows them. */
export function seriesName(metric: Metric): string {
  const name = metric.__name__ ?? "";
  const labels = Object.keys(metric).filter((k) => k !== "__name__").sort().map((k) => `${k}=${JSON.stringify(metric[k])}`);
  return `${name}{${labels.join(", ")}}`;
}

/** The service a series' logs are under: `service`, `service_name` or `job`. */
export function seriesService(metric: Metric): string | null {
  return metric.service || metric.service_name || metric.job || null;
}

const NICE_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
export const MAX_POINTS = 11_000;

/**
 * The automatic step, in seconds: about one point per 2.5 px of chart width, rounded up to a
 * nice value, never under 1 s and never more than 11,000 points over the range.
 */
export function autoStep(rangeMs: number, widthPx: number): number {
  const points = Math.max(1, Math.floor(Math.max(widthPx, 100) / 2.5));
  const raw = Math.max(1, rangeMs / 1000 / points);
  const nice = NICE_STEPS_S.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
  return clampStep(nice, rangeMs);
}

/** Never under 1 s; never so small that the range has over 11,000 points. */
export function clampStep(stepS: number, rangeMs: number): number {
  const min = Math.max(1, Math.ceil(rangeMs / 1000 / MAX_POINTS));
  return Math.max(stepS, min);
}

/** `15s`, `1m`, `1h30m`, or plain seconds (`30`, `0.5` is refused) → seconds; null when invalid. */
export function parseStep(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return n >= 1 ? n : null;
  }
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(t))) {
    total += Number(m[1]) * unit[m[2]];
    end = re.lastIndex;
  }
  if (end !== t.length || t === "" || total < 1) return null;
  return total;
}

/** 90 → `1m30s`, 3600 → `1h`. */
export function formatStep(seconds: number): string {
  let s = Math.round(seconds);
  const parts: string[] = [];
  for (const [u, n] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
  }
  return parts.join("") || "0s";
}
