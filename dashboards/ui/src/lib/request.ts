// Lays out one request (all records of a correlation or trace id) on a time line: a lane per
// service, each record at its time, and a bar where the record carries a duration (drawn as
// ending at the record's time: services log an operation when it finishes).

import type { CorrelateResult, Hit } from "../api/types";
import { fieldValue } from "./hits";

/** Attribute names read as an operation's duration, with their unit in milliseconds. */
const DURATION_FIELDS: [string, number][] = [["duration_ms", 1], ["elapsed_ms", 1], ["latency_ms", 1], ["duration_us", 0.001], ["duration_ns", 1e-6]];

export function durationMs(hit: Hit): number | null {
  for (const [name, scale] of DURATION_FIELDS) {
    const v = fieldValue(hit, name);
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v * scale;
  }
  return null;
}

export interface PlacedRecord {
  hit: Hit;
  timeMs: number;
  lane: number;
  /** Milliseconds since the previous record of the request (null for the first). */
  gapMs: number | null;
  durationMs: number | null;
}

/** A span seen in the records: from its first record (less its duration) to its last. */
export interface SpanExtent {
  spanId: string;
  lane: number;
  startMs: number;
  endMs: number;
  records: number;
}

export interface RequestLayout {
  lanes: string[];
  records: PlacedRecord[];
  /** Spans with more than one record (a lone record's span is its marker or bar). */
  spans: SpanExtent[];
  startMs: number;
  endMs: number;
  /** First record to last (durations that reach earlier count too). */
  durationMs: number;
  errors: number;
  warnings: number;
}

export function layoutRequest(res: CorrelateResult): RequestLayout {
  const lanes = res.services.map((s) => s.service);
  const laneOf = new Map(lanes.map((l, i) => [l, i]));
  let prev: number | null = null;
  let errors = 0;
  let warnings = 0;
  const records: PlacedRecord[] = res.records.map((hit) => {
    const timeMs = Date.parse(hit.timestamp);
    const service = hit.service ?? "";
    if (!laneOf.has(service)) {
      laneOf.set(service, lanes.length);
      lanes.push(service);
    }
    const l = (hit.level ?? "").toLowerCase();
    if (l === "error" || l === "fatal") errors++;
    else if (l === "warn") warnings++;
    const placed = { hit, timeMs, lane: laneOf.get(service)!, gapMs: prev === null ? null : timeMs - prev, durationMs: durationMs(hit) };
    prev = timeMs;
    return placed;
  });
  const times = records.map((r) => r.timeMs);
  const starts = records.map((r) => r.timeMs - (r.durationMs ?? 0));
  const startMs = records.length ? Math.min(...starts) : 0;
  const endMs = records.length ? Math.max(...times) : 0;
  const bySpan = new Map<string, SpanExtent>();
  for (const r of records) {
    const id = r.hit.span_id;
    if (!id) continue;
    const from = r.timeMs - (r.durationMs ?? 0);
    const s = bySpan.get(id);
    if (s) {
      s.startMs = Math.min(s.startMs, from);
      s.endMs = Math.max(s.endMs, r.timeMs);
      s.records++;
    } else bySpan.set(id, { spanId: id, lane: r.lane, startMs: from, endMs: r.timeMs, records: 1 });
  }
  const spans = [...bySpan.values()].filter((s) => s.records > 1);
  return { lanes, records, spans, startMs, endMs, durationMs: endMs - startMs, errors, warnings };
}

/** `850 ms`, `1.25 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const min = Math.floor(ms / 60_000);
  return `${min} min ${Math.round((ms % 60_000) / 1000)} s`;
}
