// Shaping Prometheus answers for uPlot: a matrix becomes one time axis at the query's step
// with a column per series (null where a series has no point), optionally stacked.

import type { Metric } from "./promql";

export interface MatrixSeries {
  metric: Metric;
  values: [number, string][];
}

export interface Aligned {
  /** Seconds. */
  xs: number[];
  series: { metric: Metric; values: (number | null)[] }[];
}

/** Points at start, start+step, … end (seconds), as query_range evaluates them. */
export function alignMatrix(result: MatrixSeries[], startS: number, endS: number, stepS: number): Aligned {
  const xs: number[] = [];
  for (let t = startS; t <= endS + 1e-9; t += stepS) xs.push(Math.round(t * 1000) / 1000);
  const index = (t: number) => Math.round((t - startS) / stepS);
  const series = result.map((r) => {
    const values: (number | null)[] = new Array(xs.length).fill(null);
    for (const [t, v] of r.values) {
      const i = index(t);
      if (i >= 0 && i < xs.length) values[i] = parseValue(v);
    }
    return { metric: r.metric, values };
  });
  return { xs, series };
}

export function parseValue(v: string): number | null {
  if (v === "NaN") return null;
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * Stacked: each column is the sum of itself and every shown column before it (hidden ones
 * count as zero); a point missing in a series stays missing.
 */
export function stack(columns: (number | null)[][], shown: boolean[]): (number | null)[][] {
  const acc: number[] = columns.length ? new Array(columns[0].length).fill(0) : [];
  return columns.map((col, s) => {
    if (!shown[s]) return col.map(() => null);
    return col.map((v, i) => {
      if (v === null || !Number.isFinite(v)) return null;
      acc[i] += v;
      return acc[i];
    });
  });
}

/** A value as a person reads it: up to 4 significant decimals, large numbers grouped. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 1e15)) return v.toExponential(3);
  return Number(v.toPrecision(Math.max(6, Math.ceil(Math.log10(a + 1))))).toLocaleString("en-US", { maximumFractionDigits: 6 });
}
