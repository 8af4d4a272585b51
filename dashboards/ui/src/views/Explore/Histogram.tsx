// The volume histogram over all hits (the histogram API: exact counts, not the loaded rows),
// stacked by level in the levels' colours. Drag across it to zoom; click a bar to narrow the
// range to it. The chart's label summarizes it for screen readers; "Zoom out" (twice the
// span, same middle) works from the keyboard.

import { useMemo, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { HistogramResult } from "../../api/types";
import { UPlotChart } from "../../components/Chart/UPlotChart";
import { stackHistogram } from "../../lib/histogram";
import { levelColor } from "../../lib/levels";
import { formatTime, ResolvedRange, TimeZoneMode } from "../../lib/time";
import css from "./Explore.module.css";

interface Props {
  histogram: HistogramResult;
  range: ResolvedRange;
  tz: TimeZoneMode;
  onZoom: (startMs: number, endMs: number) => void;
}

export function Histogram({ histogram, range, tz, onZoom }: Props) {
  const stacked = useMemo(
    () => stackHistogram(histogram.buckets, histogram.interval_ms, range.startMs, range.endMs),
    [histogram, range],
  );
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;

  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(() => {
    const bars = uPlot.paths.bars!({ size: [0.9, 60], align: 1 });
    const text = getComputedStyle(document.documentElement).getPropertyValue("--text-muted").trim();
    const grid = getComputedStyle(document.documentElement).getPropertyValue("--border").trim();
    let dragged = false;
    // Series are drawn in order, each over the one before: the tallest (all levels) first.
    const series: uPlot.Series[] = [{}];
    for (let i = stacked.levels.length - 1; i >= 0; i--) {
      const level = stacked.levels[i];
      const color = levelColor(level);
      series.push({
        label: level,
        stroke: color,
        fill: color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (_u, _v, _s, idx) => (idx === null ? "" : String(stacked.counts[i][idx] ?? 0)),
      });
    }
    return {
      series,
      legend: { show: false },
      scales: { x: { time: true, range: () => [range.startMs / 1000, range.endMs / 1000] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        { stroke: text, grid: { show: false }, ticks: { stroke: grid }, values: (_u, ticks) => ticks.map((t) => formatTime(t * 1000, tz, false).slice(11, 16)) },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { show: false }, size: 48, space: 18 },
      ],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            dragged = true;
            const from = u.posToVal(u.select.left, "x") * 1000;
            const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomRef.current(from, to);
          },
        ],
        ready: [
          (u) => {
            u.over.addEventListener("click", () => {
              if (dragged) {
                dragged = false;
                return;
              }
              const idx = u.cursor.idx;
              if (idx === null || idx === undefined || !stacked.totals[idx]) return;
              const t = stacked.xs[idx] * 1000;
              zoomRef.current(t, t + stacked.intervalMs);
            });
          },
        ],
      },
    };
  }, [stacked, range, tz]);

  const data = useMemo<uPlot.AlignedData>(
    () => [stacked.xs, ...stacked.levels.map((_, i) => stacked.cumulative[stacked.levels.length - 1 - i])],
    [stacked],
  );
  const total = histogram.total;
  const label = `Volume histogram: ${total.toLocaleString()} records from ${formatTime(range.startMs, tz, false)} to ${formatTime(range.endMs, tz, false)}, ${histogram.interval_ms / 1000} s per bar. Drag across it to zoom, click a bar to narrow the range to it.`;

  return (
    <div class={css.histogram} data-total={total} data-testid="histogram">
      <div class={css.legend}>
        {stacked.levels.map((l) => (
          <span key={l} aria-hidden="true"><i style={{ background: `var(--level-${l})` }} />{l}</span>
        ))}
        <button
          type="button"
          class="btn small"
          onClick={() => {
            const span = range.endMs - range.startMs;
            const mid = range.startMs + span / 2;
            onZoom(mid - span, Math.min(Date.now(), mid + span));
          }}
        >
          Zoom out
        </button>
      </div>
      <UPlotChart options={options} data={data} height={110} label={label} />
    </div>
  );
}
