// A time series panel: uPlot lines (or stacked areas), the panel's unit on the value axis, a
// compact legend with each series' last value.

import { useMemo } from "preact/hooks";
import uPlot from "uplot";
import type { Panel } from "../../../api/dashboards";
import { UPlotChart } from "../../../components/Chart/UPlotChart";
import { formatUnit } from "../../../lib/dashFormat";
import { lastValue, type PanelData } from "../../../lib/panelData";
import { stack } from "../../../lib/promqlData";
import { formatTime, type TimeZoneMode } from "../../../lib/time";
import css from "../Dashboards.module.css";

export const PALETTE = ["#1f77b4", "#d9730d", "#2ca02c", "#c0261d", "#8c5bd0", "#8c564b", "#d6459f", "#6b6b6b", "#9aa30f", "#11a1b8"];
const MAX_SERIES = 50;

export function TimeseriesPanel({ panel, data, width, height, tz }: { panel: Panel; data: Extract<PanelData, { kind: "series" }>; width: number; height: number; tz: TimeZoneMode }) {
  const series = data.series.slice(0, MAX_SERIES);
  // About 170 px a legend entry; at most three rows (the rest scrolls).
  const legendRows = Math.min(3, Math.ceil(series.length / Math.max(1, Math.floor(width / 170))));
  const chartH = Math.max(60, height - (legendRows ? 4 + legendRows * 18 : 0));
  const stacked = !!panel.stacked;
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(() => {
    const cs = getComputedStyle(document.documentElement);
    const muted = cs.getPropertyValue("--text-muted").trim() || "#666";
    const grid = cs.getPropertyValue("--border").trim() || "#ddd";
    const s: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    series.forEach((x, i) => {
      const color = PALETTE[i % PALETTE.length];
      s.push({ label: x.label, stroke: color, width: 1.5, fill: stacked ? `${color}40` : undefined, points: { show: false }, spanGaps: false });
      if (stacked && i > 0) bands.push({ series: [i + 1, i], fill: `${color}40` });
    });
    return {
      series: s,
      bands: stacked ? bands : undefined,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: panel.min != null || panel.max != null ? { range: (_u, lo, hi) => [panel.min ?? lo, panel.max ?? hi] } : {} },
      axes: [
        { stroke: muted, grid: { stroke: grid, width: 1 }, values: (_u, ticks) => ticks.map((t) => formatTime(t * 1000, tz, false).slice(11, 16)) },
        {
          stroke: muted,
          grid: { stroke: grid, width: 1 },
          values: (_u, ticks) => ticks.map((t) => formatUnit(t, panel.unit, panel.decimals)),
          // As wide as the longest label (units make them long: "0.02 req/s"), with the ticks and gap.
          size: (_u, values) => 20 + 7.5 * Math.max(3, ...(values ?? []).map((v) => String(v).length)),
        },
      ],
    };
  }, [series.map((x) => x.label).join("\n"), stacked, tz, panel.unit, panel.decimals, panel.min, panel.max]);
  const plotData = useMemo<uPlot.AlignedData>(() => {
    const cols = series.map((x) => x.values);
    return [data.xs, ...(stacked ? stack(cols, cols.map(() => true)) : cols)] as uPlot.AlignedData;
  }, [data, stacked]);
  if (!series.length) return <p class={css.empty}>No data over this range.</p>;
  return (
    <div class={css.tsBox}>
      <UPlotChart options={options} data={plotData} height={chartH} label={`${panel.title}: ${stacked ? "stacked " : ""}time series of ${series.length} series`} />
      <ul class={css.legend} aria-label={`Legend of ${panel.title}`}>
        {series.map((x, i) => (
          <li key={x.label + i}>
            <i class={css.swatch} style={{ background: PALETTE[i % PALETTE.length] }} aria-hidden="true" />
            <span class={css.legendName} title={x.label}>{x.label || "(series)"}</span>
            <span class={css.legendValue}>{formatUnit(lastValue(x.values), panel.unit, panel.decimals)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
