// The panels of single values: stat (the value coloured by thresholds, an optional
// sparkline), gauge (an arc from min to max) and bar gauge (a bar per series).

import type { Panel } from "../../../api/dashboards";
import { formatUnit, thresholdColor } from "../../../lib/dashFormat";
import { values, type PanelData } from "../../../lib/panelData";
import css from "../Dashboards.module.css";

function Sparkline({ points }: { points: (number | null)[] }) {
  const nums = points.filter((p): p is number => p !== null && Number.isFinite(p));
  if (nums.length < 2) return null;
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  const d = points
    .map((p, i) => (p === null ? null : `${((100 * i) / (points.length - 1)).toFixed(2)},${(30 - (hi === lo ? 15 : (28 * (p - lo)) / (hi - lo) + 1)).toFixed(2)}`))
    .filter(Boolean)
    .join(" ");
  return (
    <svg class={css.spark} viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
      <polyline points={d} fill="none" stroke="currentColor" stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

export function StatPanel({ panel, data }: { panel: Panel; data: PanelData }) {
  const vals = values(data).slice(0, 12);
  if (!vals.length) return <p class={css.empty}>No data over this range.</p>;
  return (
    <div class={css.stats}>
      {vals.map((v, i) => {
        const color = thresholdColor(v.value, panel.thresholds);
        return (
          <div key={i} class={css.stat} style={color ? { color } : undefined}>
            <span class={css.statValue}>{formatUnit(v.value, panel.unit, panel.decimals)}</span>
            {vals.length > 1 && <span class={css.statLabel}>{v.label}</span>}
            {v.spark && <Sparkline points={v.spark} />}
          </div>
        );
      })}
    </div>
  );
}

function bounds(panel: Panel, nums: number[]): [number, number] {
  const lo = panel.min ?? 0;
  const hi = panel.max ?? (panel.unit === "percent" ? 100 : panel.unit === "percentunit" ? 1 : Math.max(lo + 1, ...nums));
  return [lo, hi];
}

export function GaugePanel({ panel, data }: { panel: Panel; data: PanelData }) {
  const vals = values(data).slice(0, 6);
  if (!vals.length) return <p class={css.empty}>No data over this range.</p>;
  const [lo, hi] = bounds(panel, vals.map((v) => v.value ?? 0));
  return (
    <div class={css.stats}>
      {vals.map((v, i) => {
        const frac = v.value === null ? 0 : Math.min(1, Math.max(0, (v.value - lo) / (hi - lo || 1)));
        const color = thresholdColor(v.value, panel.thresholds) ?? "var(--accent)";
        const a = Math.PI * (1 - frac);
        const x = 50 + 40 * Math.cos(a);
        const y = 50 - 40 * Math.sin(a);
        return (
          <figure key={i} class={css.gauge} aria-label={`${v.label}: ${formatUnit(v.value, panel.unit, panel.decimals)} of ${formatUnit(hi, panel.unit)}`}>
            <svg viewBox="0 0 100 56" aria-hidden="true">
              <path d="M10 50 A40 40 0 0 1 90 50" fill="none" stroke="var(--bg-hover)" stroke-width="9" />
              {frac > 0 && <path d={`M10 50 A40 40 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`} fill="none" stroke={color} stroke-width="9" />}
            </svg>
            <figcaption>
              <span class={css.gaugeValue} style={{ color }}>{formatUnit(v.value, panel.unit, panel.decimals)}</span>
              {vals.length > 1 && <span class={css.statLabel}>{v.label}</span>}
            </figcaption>
          </figure>
        );
      })}
    </div>
  );
}

export function BarGaugePanel({ panel, data }: { panel: Panel; data: PanelData }) {
  const vals = values(data).slice(0, 50);
  if (!vals.length) return <p class={css.empty}>No data over this range.</p>;
  const [lo, hi] = bounds(panel, vals.map((v) => v.value ?? 0));
  return (
    <ul class={css.barGauge} aria-label={`Bars of ${panel.title}`}>
      {vals.map((v, i) => {
        const frac = v.value === null ? 0 : Math.min(1, Math.max(0, (v.value - lo) / (hi - lo || 1)));
        return (
          <li key={i}>
            <span class={css.barLabel} title={v.label}>{v.label}</span>
            <span class={css.barTrack}><span class={css.barFill} style={{ width: `${100 * frac}%`, background: thresholdColor(v.value, panel.thresholds) ?? "var(--accent)" }} /></span>
            <span class={css.barValue}>{formatUnit(v.value, panel.unit, panel.decimals)}</span>
          </li>
        );
      })}
    </ul>
  );
}
