// Shapes the histogram API's buckets for a stacked bar chart: one slot per interval over the
// whole range (the API leaves out empty buckets), counts per level, and cumulative sums in
// stack order (uPlot draws series one over the other, so each is the top of its stack).

import type { HistogramBucket } from "../api/types";
import { STACK_ORDER } from "./levels";

export interface StackedHistogram {
  /** Bucket starts, epoch seconds (uPlot's x unit). */
  xs: number[];
  /** Levels present, bottom of the stack first. */
  levels: string[];
  /** counts[i][j]: records of levels[i] in bucket j. */
  counts: number[][];
  /** cumulative[i][j]: records of levels[0..=i] in bucket j. */
  cumulative: number[][];
  totals: number[];
  intervalMs: number;
}

export function stackHistogram(buckets: HistogramBucket[], intervalMs: number, startMs: number, endMs: number): StackedHistogram {
  const step = Math.max(1, intervalMs);
  // Buckets are aligned to the interval (epoch-based), as the server's timechart aligns them.
  const first = Math.floor(startMs / step) * step;
  const slots = Math.max(1, Math.ceil((endMs - first) / step));
  const byTime = new Map<number, HistogramBucket>();
  for (const b of buckets) byTime.set(Date.parse(b.time), b);
  const present = new Set<string>();
  for (const b of buckets) for (const [level, n] of Object.entries(b.counts)) if (n > 0) present.add(level);
  const levelsOf = (b: HistogramBucket) => Object.values(b.counts).reduce((a, n) => a + n, 0);
  if (buckets.some((b) => b.total > levelsOf(b))) present.add("none");
  const levels = STACK_ORDER.filter((l) => present.has(l)) as string[];
  const xs: number[] = [];
  const counts = levels.map(() => [] as number[]);
  const totals: number[] = [];
  for (let i = 0; i < slots; i++) {
    const t = first + i * step;
    xs.push(t / 1000);
    const b = byTime.get(t);
    totals.push(b?.total ?? 0);
    levels.forEach((level, li) => {
      const n = level === "none" ? (b ? b.total - levelsOf(b) : 0) : (b?.counts[level] ?? 0);
      counts[li].push(n);
    });
  }
  // Buckets the grid did not place (a server aligned differently) still count.
  const placed = totals.reduce((a, n) => a + n, 0);
  const all = buckets.reduce((a, b) => a + b.total, 0);
  if (placed !== all) {
    for (const b of buckets) {
      const t = Date.parse(b.time);
      const i = Math.min(slots - 1, Math.max(0, Math.floor((t - first) / step)));
      if (t - first === i * step) continue;
      totals[i] += b.total;
      levels.forEach((level, li) => (counts[li][i] += level === "none" ? b.total - levelsOf(b) : (b.counts[level] ?? 0)));
    }
  }
  const cumulative: number[][] = [];
  levels.forEach((_, li) => cumulative.push(counts[li].map((n, j) => n + (li > 0 ? cumulative[li - 1][j] : 0))));
  return { xs, levels, counts, cumulative, totals, intervalMs: step };
}
