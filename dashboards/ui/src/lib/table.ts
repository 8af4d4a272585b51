// Shapes aggregation tables (`stats`, `timechart`, `top`) for charts: timechart rows become
// one series per group (and aggregation), aligned on the bucket times; stats rows become
// labelled bars.

import type { TableResult } from "../api/types";

export interface TimeSeries {
  /** Bucket starts, epoch seconds. */
  xs: number[];
  series: { label: string; values: (number | null)[] }[];
}

function isNumberColumn(table: TableResult, col: number): boolean {
  return table.rows.some((r) => typeof r[col] === "number") && table.rows.every((r) => r[col] === null || typeof r[col] === "number");
}

/** The columns holding aggregations (numbers) and those holding the `by` values. */
export function splitColumns(table: TableResult, skipFirst: boolean): { keys: number[]; values: number[] } {
  const keys: number[] = [];
  const values: number[] = [];
  table.columns.forEach((_, i) => {
    if (skipFirst && i === 0) return;
    (isNumberColumn(table, i) ? values : keys).push(i);
  });
  return { keys, values };
}

export function isTimechart(table: TableResult): boolean {
  return table.columns[0] === "_time";
}

export function timechartSeries(table: TableResult): TimeSeries {
  const { keys, values } = splitColumns(table, true);
  const times = [...new Set(table.rows.map((r) => Date.parse(String(r[0]))))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const series = new Map<string, (number | null)[]>();
  for (const row of table.rows) {
    const group = keys.map((k) => (row[k] === null ? "(none)" : String(row[k]))).join(" · ");
    for (const v of values) {
      const label = [group, values.length > 1 || !group ? table.columns[v] : ""].filter(Boolean).join(" · ");
      let s = series.get(label);
      if (!s) series.set(label, (s = times.map(() => null)));
      s[index.get(Date.parse(String(row[0])))!] = row[v] as number | null;
    }
  }
  return { xs: times.map((t) => t / 1000), series: [...series.entries()].map(([label, vals]) => ({ label, values: vals })) };
}

/** Stacks series for bars: each value becomes the sum of it and those before it. */
export function stackSeries(series: TimeSeries["series"]): TimeSeries["series"] {
  const out: TimeSeries["series"] = [];
  series.forEach((s, i) =>
    out.push({ label: s.label, values: s.values.map((v, j) => (v ?? 0) + (i > 0 ? (out[i - 1].values[j] ?? 0) : 0)) }),
  );
  return out;
}

export interface Bar {
  label: string;
  value: number;
}

/** `stats … by …` and `top` rows as bars of the first aggregation; null when there is no group. */
export function statsBars(table: TableResult): { column: string; bars: Bar[] } | null {
  const { keys, values } = splitColumns(table, false);
  if (keys.length === 0 || values.length === 0) return null;
  const v = values[0];
  return {
    column: table.columns[v],
    bars: table.rows.map((r) => ({ label: keys.map((k) => (r[k] === null ? "(none)" : String(r[k]))).join(" · "), value: Number(r[v] ?? 0) })),
  };
}
