// Dashboard variables in panel queries: `$name` and `${name}` take the variable's value;
// several values (multi, or All) become a regex alternation in PromQL (`label="$v"` turns
// into `label=~"a|b"`) and an OR group in log queries (`service:$v` → `(service:a OR
// service:b)`). `$__interval` is the step the range and panel width give; `$__range` the range.

import { quoteValue } from "./query";

export const ALL = "$__all";

/** A variable's chosen values (`[ALL]` for All) and, for All, every option it stands for. */
export interface VarValue {
  values: string[];
  all: string[];
}

export type VarValues = Record<string, VarValue>;

/** Seconds → `15s`, `1m`, `2h`, `1d` (the largest unit that divides it). */
export function formatInterval(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const NICE_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/**
 * The step for a panel: about one point per 3 px of its width, rounded up to a nice step, and
 * never under 15 s (Grafana's default minimum: the usual scrape interval, so `rate(x[$__interval])`
 * has samples).
 */
export function panelInterval(rangeMs: number, widthPx: number, minS = 15): number {
  const points = Math.max(10, Math.floor(Math.max(widthPx, 60) / 3));
  const raw = Math.max(minS, rangeMs / 1000 / points);
  return NICE_S.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

function chosen(v: VarValue): string[] {
  return v.values.includes(ALL) ? v.all : v.values;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A PromQL string literal's inside (backslashes and quotes escaped). */
function promString(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

export interface Builtins {
  intervalS: number;
  rangeMs: number;
}

function builtin(name: string, b: Builtins): string | null {
  switch (name) {
    case "__interval": return formatInterval(b.intervalS);
    case "__interval_ms": return String(Math.round(b.intervalS * 1000));
    case "__rate_interval": return formatInterval(Math.max(b.intervalS * 4, 60));
    case "__range": return formatInterval(b.rangeMs / 1000);
    case "__range_s": return String(Math.round(b.rangeMs / 1000));
    default: return null;
  }
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** PromQL: a single value as is (escaped inside quotes), several as `a|b` with `=~`. */
export function interpolatePromql(expr: string, vars: VarValues, b: Builtins): string {
  // `label="$v"` / `label!="$v"` with several values (or All) become regex matchers.
  const multi = (name: string) => {
    const v = vars[name];
    return !!v && (v.values.includes(ALL) || v.values.length > 1);
  };
  let out = expr.replace(/([A-Za-z_][A-Za-z0-9_]*\s*)(!?=)(\s*)"(\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?)"/g, (m, lhs, op, sp, _ref, name) => {
    if (!multi(name)) return m;
    const v = vars[name];
    const body = v.values.includes(ALL) ? ".*" : chosen(v).map(escapeRegex).join("|");
    return `${lhs}${op === "=" ? "=~" : "!~"}${sp}"${promString(body)}"`;
  });
  out = out.replace(VAR, (m, a, c) => {
    const name = a ?? c;
    const bi = builtin(name, b);
    if (bi !== null) return bi;
    const v = vars[name];
    if (!v) return m;
    const vals = chosen(v);
    if (vals.length === 0) return "";
    if (vals.length === 1) return vals[0];
    return `(${vals.map(escapeRegex).join("|")})`;
  });
  return out;
}

/** Log queries: `field:$v` → `field:a`, or `(field:a OR field:b)`; All → `field:*`. */
export function interpolateLogs(query: string, vars: VarValues, b: Builtins): string {
  let out = query.replace(/([A-Za-z_@][A-Za-z0-9_.@-]*):\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, field, name) => {
    const v = vars[name];
    if (!v) return m;
    if (v.values.includes(ALL)) return `${field}:*`;
    const vals = v.values;
    if (vals.length === 0) return `${field}:*`;
    if (vals.length === 1) return `${field}:${quoteValue(vals[0])}`;
    return `(${vals.map((x) => `${field}:${quoteValue(x)}`).join(" OR ")})`;
  });
  out = out.replace(VAR, (m, a, c) => {
    const name = a ?? c;
    const bi = builtin(name, b);
    if (bi !== null) return bi;
    const v = vars[name];
    if (!v) return m;
    const vals = chosen(v);
    if (vals.length === 0) return "*";
    if (vals.length === 1) return quoteValue(vals[0]);
    return `(${vals.map(quoteValue).join(" OR ")})`;
  });
  return out;
}

/** The names a text refers to (to know which panels a variable change reruns). */
export function referencedVars(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(VAR)) out.add(m[1] ?? m[2]);
  return [...out];
}

/** `{{job}} {{code}}` legends from a series' labels. */
export function formatLegend(legend: string | undefined, labels: Record<string, string>, fallback: string): string {
  if (!legend) return fallback;
  return legend.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, k) => labels[k] ?? "");
}

export interface VarDef {
  name: string;
  kind: string;
  multi?: boolean;
  include_all?: boolean;
  default?: string | string[];
  value?: string;
}

/**
 * Each variable's values: the URL's (`var-name`) when given, else its default, else its first
 * option (All when it offers All and has no default). Values no longer among the options are
 * kept: a URL names what the person chose.
 */
export function resolveVars(defs: VarDef[], options: Record<string, string[]>, fromUrl: Record<string, string[]>): VarValues {
  const out: VarValues = {};
  for (const d of defs) {
    const opts = d.kind === "constant" ? [d.value ?? ""] : (options[d.name] ?? []);
    let values: string[];
    if (d.kind === "constant") values = [d.value ?? ""];
    else if (fromUrl[d.name]?.length) values = d.multi ? fromUrl[d.name] : fromUrl[d.name].slice(0, 1);
    else if (d.default !== undefined && d.default !== "" && !(Array.isArray(d.default) && d.default.length === 0)) values = Array.isArray(d.default) ? d.default : [d.default];
    else if (d.include_all) values = [ALL];
    else values = opts.length ? [opts[0]] : [];
    if (values.includes(ALL) && !d.include_all) values = opts.slice(0, 1);
    out[d.name] = { values, all: opts };
  }
  return out;
}
