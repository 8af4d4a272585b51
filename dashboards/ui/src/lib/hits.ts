// Reading hits: a field by path (as the query language names it), every field flattened for
// the sidebar and the record panel, and exact nanosecond times for paging (the JSON number
// `timestamp_ns` loses precision in JavaScript; the RFC 3339 text does not).

import type { Hit } from "../api/types";

export const BUILTIN_COLUMNS = ["level", "service", "host", "trace_id", "correlation_id", "span_id", "severity_number"] as const;

/** `2026-12-07T15:24:36.844123Z` → nanoseconds since the epoch, exactly. */
export function timestampNs(ts: string): bigint {
  const m = /^(.*?:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return BigInt(Math.round(Date.parse(ts))) * 1_000_000n;
  const seconds = Date.parse(`${m[1]}${m[3]}`) / 1000;
  const frac = (m[2] ?? "").padEnd(9, "0").slice(0, 9);
  return BigInt(seconds) * 1_000_000_000n + BigInt(frac || "0");
}

function lookup(obj: unknown, path: string): unknown {
  if (obj === null || typeof obj !== "object") return undefined;
  const o = obj as Record<string, unknown>;
  if (path in o) return o[path];
  // Dotted keys may be nested objects or flat keys with dots; try each split.
  const parts = path.split(".");
  for (let i = 1; i < parts.length; i++) {
    const head = parts.slice(0, i).join(".");
    if (head in o) {
      const v = lookup(o[head], parts.slice(i).join("."));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** A field as the query language names it: a built-in, `resource.x`, or an attribute path. */
export function fieldValue(hit: Hit, path: string): unknown {
  if (path === "message") return hit.message;
  if (path === "_time") return hit.timestamp;
  if ((BUILTIN_COLUMNS as readonly string[]).includes(path)) return (hit as unknown as Record<string, unknown>)[path];
  if (path.startsWith("resource.")) return lookup(hit.resource, path.slice("resource.".length));
  if (path.startsWith("attributes.")) return lookup(hit.attributes, path.slice("attributes.".length));
  return lookup(hit.attributes, path);
}

export function displayValue(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** Every leaf field of a hit as `[path, value]`: built-ins, attributes, `resource.…`. */
export function flattenHit(hit: Hit): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const k of BUILTIN_COLUMNS) {
    const v = (hit as unknown as Record<string, unknown>)[k];
    if (v !== null && v !== undefined && v !== "") out.push([k, v]);
  }
  const walk = (prefix: string, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, inner] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, inner);
    } else out.push([prefix, v]);
  };
  walk("", hit.attributes ?? {});
  for (const [k, v] of Object.entries(hit.resource ?? {})) walk(`resource.${k}`, v);
  return out;
}

export interface FieldSummary {
  name: string;
  /** Hits of the sample that have the field. */
  count: number;
  top: { value: string; count: number }[];
}

/** Fields present in a sample of hits, most common first, with their top values there. */
export function summarizeFields(hits: Hit[], topN = 5): FieldSummary[] {
  const fields = new Map<string, Map<string, number>>();
  for (const hit of hits) {
    for (const [name, v] of flattenHit(hit)) {
      if (name === "span_id" || name === "severity_number") continue;
      let values = fields.get(name);
      if (!values) fields.set(name, (values = new Map()));
      const text = displayValue(v);
      values.set(text, (values.get(text) ?? 0) + 1);
    }
  }
  return [...fields.entries()]
    .map(([name, values]) => ({
      name,
      count: [...values.values()].reduce((a, n) => a + n, 0),
      top: [...values.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, topN).map(([value, count]) => ({ value, count })),
    }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

/** The first line of a message, and how many lines follow it. */
export function firstLine(message: string | null): { line: string; more: number } {
  const text = message ?? "";
  const lines = text.split("\n");
  return { line: lines[0], more: lines.length - 1 };
}

/** The original as sent: pretty JSON when it is JSON, else the text. */
export function prettyRaw(raw: unknown): string {
  if (typeof raw !== "string") return JSON.stringify(raw, null, 2);
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}
