// What a panel draws, whatever its queries were: series on one time axis (PromQL ranges and
// log `timechart`s aligned on the union of their times), a table, or log records — and the
// single value a stat, gauge or bar gauge shows of it.

import type { Panel } from "../api/dashboards";
import type { Hit, TableResult } from "../api/types";
import { interpolateLogs, interpolatePromql, panelInterval, type VarValues } from "./dashVars";
import { splitPipes } from "./query";
import type { ResolvedRange } from "./time";

export interface Series {
  label: string;
  /** Aligned with `xs`; null where the series has no point. */
  values: (number | null)[];
}

export type PanelData =
  | { kind: "series"; xs: number[]; series: Series[] }
  | { kind: "table"; columns: string[]; rows: unknown[][] }
  | { kind: "hits"; hits: Hit[]; total: number };

/** Several series sets, each on its own axis (seconds), on the union of their times. */
export function mergeSeries(parts: { xs: number[]; series: Series[] }[]): { xs: number[]; series: Series[] } {
  if (parts.length === 1) return parts[0];
  const xs = [...new Set(parts.flatMap((p) => p.xs))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const series: Series[] = [];
  for (const p of parts) {
    for (const s of p.series) {
      const values: (number | null)[] = new Array(xs.length).fill(null);
      p.xs.forEach((x, i) => (values[index.get(x)!] = s.values[i]));
      series.push({ label: s.label, values });
    }
  }
  return { xs, series };
}

export function lastValue(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && Number.isFinite(values[i])) return values[i];
  return null;
}

/** One value per series (its last), or per table row (its last number), or the hit count. */
export function values(data: PanelData): { label: string; value: number | null; spark?: (number | null)[] }[] {
  if (data.kind === "series") return data.series.map((s) => ({ label: s.label, value: lastValue(s.values), spark: s.values }));
  if (data.kind === "hits") return [{ label: "records", value: data.total }];
  const numCol = [...data.columns.keys()].reverse().find((c) => data.rows.some((r) => typeof r[c] === "number"));
  if (numCol === undefined) return [];
  const labelCols = data.columns.map((_, i) => i).filter((i) => i !== numCol && !data.rows.every((r) => typeof r[i] === "number"));
  if (data.columns[0] === "_time") {
    // A timechart: the last bucket's value.
    const last = data.rows[data.rows.length - 1];
    return last ? [{ label: data.columns[numCol], value: typeof last[numCol] === "number" ? (last[numCol] as number) : null }] : [];
  }
  return data.rows.map((r) => ({
    label: labelCols.map((c) => String(r[c] ?? "")).join(" · ") || data.columns[numCol],
    value: typeof r[numCol] === "number" ? (r[numCol] as number) : null,
  }));
}

/** A table of any data: series as label and last value, hits as time, level, service, message. */
export function asTable(data: PanelData): { columns: string[]; rows: unknown[][] } {
  if (data.kind === "table") return data;
  if (data.kind === "hits") return { columns: ["time", "level", "service", "message"], rows: data.hits.map((h) => [h.timestamp, h.level, h.service, h.message]) };
  return { columns: ["series", "last"], rows: data.series.map((s) => [s.label, lastValue(s.values)]) };
}

export function table(result: TableResult): PanelData {
  return { kind: "table", columns: result.columns, rows: result.rows };
}

/**
 * The queries a panel runs, with the variables filled in; a plain search in a time series
 * counts per step, and a `timechart` without a span takes the step.
 */
export function panelQueries(panel: Panel, vars: VarValues, range: ResolvedRange, widthPx: number): { kind: "promql" | "logs"; text: string; legend?: string }[] {
  const intervalS = panelInterval(range.endMs - range.startMs, widthPx);
  const b = { intervalS, rangeMs: range.endMs - range.startMs };
  return panel.targets.map((t) => {
    if (t.kind === "promql") return { kind: "promql" as const, text: interpolatePromql(t.expr, vars, b), legend: t.legend };
    let q = interpolateLogs(t.query, vars, b);
    if (panel.type === "timeseries" && splitPipes(q).pipes === "") q = `${q.trim() || "*"} | timechart span=${b.intervalS}s count()`;
    // A timechart without a span gets the panel's step, as PromQL panels do.
    else q = q.replace(/\|\s*timechart\s+(?!span\s*=)/, `| timechart span=${b.intervalS}s `);
    return { kind: "logs" as const, text: q, legend: undefined };
  });
}
