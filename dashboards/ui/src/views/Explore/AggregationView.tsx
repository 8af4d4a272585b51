// A `stats`, `timechart` or `top` answer: a chart (timechart as lines or stacked bars; stats
// and top as bars of the first aggregation) above the table of every row.

import { useMemo } from "preact/hooks";
import uPlot from "uplot";
import type { TableResult } from "../../api/types";
import { UPlotChart } from "../../components/Chart/UPlotChart";
import { isTimechart, stackSeries, statsBars, timechartSeries } from "../../lib/table";
import { levelColor, LEVELS } from "../../lib/levels";
import { formatTime, TimeZoneMode } from "../../lib/time";
import type { ChartKind } from "../../lib/url";
import css from "./Explore.module.css";

const PALETTE = ["#1f77b4", "#d9730d", "#2ca02c", "#c0261d", "#8c5bd0", "#8c564b", "#d6459f", "#6b6b6b", "#9aa30f", "#11a1b8"];

export function AggregationView({ table, tz, chart, onChart }: { table: TableResult; tz: TimeZoneMode; chart: ChartKind; onChart: (c: ChartKind) => void }) {
  const timechart = isTimechart(table);
  return (
    <div class={css.aggregation}>
      {timechart ? <TimechartChart table={table} tz={tz} chart={chart} onChart={onChart} /> : <StatsBars table={table} />}
      <div class={css.tableWrap} tabIndex={0} role="region" aria-label="Rows">
        <table class={css.table} aria-label="Aggregation result">
          <thead>
            <tr>{table.columns.map((c) => <th key={c} scope="col">{c}</th>)}</tr>
          </thead>
          <tbody>
            {table.rows.map((row, i) => (
              <tr key={i}>
                {row.map((v, j) => (
                  <td key={j} class={typeof v === "number" ? css.num : ""}>
                    {v === null ? <span class="muted">null</span> : j === 0 && timechart ? formatTime(Date.parse(String(v)), tz, false) : typeof v === "number" ? v.toLocaleString() : String(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function TimechartChart({ table, tz, chart, onChart }: { table: TableResult; tz: TimeZoneMode; chart: ChartKind; onChart: (c: ChartKind) => void }) {
  const ts = useMemo(() => timechartSeries(table), [table]);
  const shown = useMemo(() => (chart === "bars" ? stackSeries(ts.series) : ts.series), [ts, chart]);
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(() => {
    const muted = getComputedStyle(document.documentElement).getPropertyValue("--text-muted").trim();
    const grid = getComputedStyle(document.documentElement).getPropertyValue("--border").trim();
    const bars = uPlot.paths.bars!({ size: [0.8, 40], align: 1 });
    const series: uPlot.Series[] = [{ value: (_u, v) => (v === null ? "" : formatTime(v * 1000, tz, false)) }];
    // Stacked bars draw the tallest first, so each series paints over the one above it.
    const order = chart === "bars" ? [...shown.keys()].reverse() : [...shown.keys()];
    for (const i of order) {
      // Series named after a level (`by level`) take the level's colour, as in the histogram.
      const color = (LEVELS as readonly string[]).includes(shown[i].label) ? levelColor(shown[i].label) : PALETTE[i % PALETTE.length];
      series.push({
        label: shown[i].label,
        stroke: color,
        width: chart === "bars" ? 0 : 1.5,
        fill: chart === "bars" ? color : undefined,
        paths: chart === "bars" ? bars : undefined,
        points: { show: false },
        spanGaps: false,
        value: (_u, _v, _s, idx) => (idx === null ? "" : String(ts.series[i].values[idx] ?? "")),
      });
    }
    return {
      series,
      legend: { show: true, live: true },
      scales: { x: { time: true } },
      axes: [
        { stroke: muted, grid: { stroke: grid, width: 1 }, values: (_u, ticks) => ticks.map((t) => formatTime(t * 1000, tz, false).slice(5, 16)) },
        { stroke: muted, grid: { stroke: grid, width: 1 }, size: 56 },
      ],
    };
  }, [shown, chart, tz]);
  const order = chart === "bars" ? [...shown.keys()].reverse() : [...shown.keys()];
  const data = useMemo<uPlot.AlignedData>(() => [ts.xs, ...order.map((i) => shown[i].values)], [ts, shown]);
  return (
    <div class={css.chartBox}>
      <div class={css.chartTools} role="group" aria-label="Chart type">
        <button type="button" class="btn small" aria-pressed={chart === "lines"} onClick={() => onChart("lines")}>Lines</button>
        <button type="button" class="btn small" aria-pressed={chart === "bars"} onClick={() => onChart("bars")}>Stacked bars</button>
      </div>
      <UPlotChart options={options} data={data} height={220} label={`Time chart of ${ts.series.length} series over ${ts.xs.length} buckets`} />
    </div>
  );
}

function StatsBars({ table }: { table: TableResult }) {
  const shaped = useMemo(() => statsBars(table), [table]);
  if (!shaped || shaped.bars.length > 60) return null;
  const max = Math.max(1, ...shaped.bars.map((b) => b.value));
  return (
    <figure class={css.bars} aria-label={`Bar chart of ${shaped.column}`}>
      {shaped.bars.map((b) => (
        <div class={css.barRow} key={b.label}>
          <span class={css.barLabel} title={b.label}>{b.label}</span>
          <span class={css.barTrack}><span class={css.bar} style={{ width: `${(100 * b.value) / max}%` }} /></span>
          <span class={css.num}>{b.value.toLocaleString()}</span>
        </div>
      ))}
      <figcaption class="muted">{shaped.column}</figcaption>
    </figure>
  );
}
