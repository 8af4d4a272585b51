// The range query as a uPlot chart, lines or stacked, with a legend of its own: each series
// by its labels, a button that shows or hides it, the value under the cursor (or the last
// one), and a link to its service's logs. Drag across the chart to zoom into that time.

import { useEffect, useMemo, useState } from "preact/hooks";
import uPlot from "uplot";
import { UPlotChart } from "../../components/Chart/UPlotChart";
import { seriesName, type Metric } from "../../lib/promql";
import { formatValue, stack, type Aligned } from "../../lib/promqlData";
import { absoluteRange, formatTime, type TimeZoneMode } from "../../lib/time";
import css from "./Metrics.module.css";

export const PALETTE = ["#1f77b4", "#d9730d", "#2ca02c", "#c0261d", "#8c5bd0", "#8c564b", "#d6459f", "#6b6b6b", "#9aa30f", "#11a1b8"];
/** Series drawn at most; the rest are listed as left out. */
const MAX_SERIES = 200;

interface Props {
  data: Aligned;
  stacked: boolean;
  tz: TimeZoneMode;
  logsHref: (m: Metric) => string | null;
  onZoom: (start: string, end: string) => void;
}

export function Graph({ data, stacked, tz, logsHref, onZoom }: Props) {
  const series = data.series.slice(0, MAX_SERIES);
  const names = useMemo(() => series.map((s) => seriesName(s.metric)), [data]);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [idx, setIdx] = useState<number | null>(null);
  useEffect(() => setIdx(null), [data]);
  const shown = names.map((n) => !hidden.has(n));

  const columns = useMemo(() => series.map((s) => s.values), [data]);
  const drawn = useMemo(() => (stacked ? stack(columns, shown) : columns), [columns, stacked, hidden]);

  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(() => {
    const cs = getComputedStyle(document.documentElement);
    const muted = cs.getPropertyValue("--text-muted").trim() || "#666";
    const grid = cs.getPropertyValue("--border").trim() || "#ddd";
    const s: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    let below: number | null = null;
    names.forEach((_n, i) => {
      const color = PALETTE[i % PALETTE.length];
      s.push({
        label: names[i],
        stroke: color,
        width: 1.5,
        show: shown[i],
        fill: stacked ? `${color}40` : undefined,
        points: { show: false },
        spanGaps: false,
      });
      if (stacked && shown[i]) {
        if (below !== null) bands.push({ series: [i + 1, below], fill: `${color}40` });
        below = i + 1;
      }
    });
    return {
      series: s,
      bands: stacked ? bands : undefined,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: muted, grid: { stroke: grid, width: 1 }, values: (_u, ticks) => ticks.map((t) => formatTime(t * 1000, tz, false).slice(5, 16)) },
        { stroke: muted, grid: { stroke: grid, width: 1 }, size: 64, values: (_u, ticks) => ticks.map((t) => formatValue(t)) },
      ],
      hooks: {
        setCursor: [(u) => setIdx(u.cursor.idx ?? null)],
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            const r = absoluteRange(a * 1000, b * 1000);
            onZoom(r.start, r.end);
          },
        ],
      },
    };
  }, [names, stacked, hidden, tz]);

  const plotData = useMemo<uPlot.AlignedData>(() => [data.xs, ...drawn] as uPlot.AlignedData, [data, drawn]);

  if (!series.length) return <p class="muted" role="status">The query returned no series over this range.</p>;

  const valueAt = (i: number) => {
    const vals = series[i].values;
    if (idx !== null) return vals[idx];
    for (let k = vals.length - 1; k >= 0; k--) if (vals[k] !== null) return vals[k];
    return null;
  };
  const toggle = (name: string, only: boolean) => {
    if (only) {
      // Alt/⌘-click: this series alone (or all again).
      const alone = hidden.size === names.length - 1 && !hidden.has(name);
      setHidden(alone ? new Set() : new Set(names.filter((n) => n !== name)));
      return;
    }
    const next = new Set(hidden);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setHidden(next);
  };

  return (
    <div class={css.graph}>
      <UPlotChart
        options={options}
        data={plotData}
        height={320}
        label={`${stacked ? "Stacked graph" : "Graph"} of ${series.length} series over ${data.xs.length} points`}
      />
      <p class={css.cursorTime} aria-live="off">
        {idx !== null && data.xs[idx] !== undefined ? `Values at ${formatTime(data.xs[idx] * 1000, tz, false)}` : "Last values (hover the graph for others)"}
      </p>
      <ul class={css.legend} aria-label="Legend">
        {series.map((s, i) => {
          const href = logsHref(s.metric);
          return (
            <li key={names[i]} class={css.legendItem}>
              <button
                type="button"
                class={css.legendBtn}
                aria-pressed={shown[i]}
                title="Click to hide or show; Alt-click to show this series alone"
                onClick={(e) => toggle(names[i], e.altKey || e.metaKey)}
              >
                <i class={css.swatch} style={{ background: shown[i] ? PALETTE[i % PALETTE.length] : "transparent", borderColor: PALETTE[i % PALETTE.length] }} aria-hidden="true" />
                <span class="mono">{names[i]}</span>
              </button>
              <span class={`${css.legendValue} mono`}>{formatValue(valueAt(i))}</span>
              {href && <a class={css.logs} href={href} aria-label={`Logs of ${names[i]}`}>Logs</a>}
            </li>
          );
        })}
      </ul>
      {data.series.length > MAX_SERIES && (
        <p class={css.warning}>{data.series.length - MAX_SERIES} more series are not drawn; narrow the query (for example with sum by (…)).</p>
      )}
    </div>
  );
}
