// Panel values as people read them: units (Grafana's names for the common ones), decimals,
// and the colour a value takes from a panel's thresholds.

import type { Threshold, Unit } from "../api/dashboards";
import { formatValue } from "./promqlData";

function fixed(v: number, decimals: number | null | undefined): string {
  if (decimals !== null && decimals !== undefined) return v.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return formatValue(Math.abs(v) >= 100 ? Math.round(v * 10) / 10 : Number(v.toPrecision(4)));
}

const SI = ["", "K", "M", "G", "T", "P"];
const BYTES = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function scaled(v: number, base: number, names: string[], decimals?: number | null): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < names.length - 1) {
    x /= base;
    i++;
  }
  return `${fixed(x, decimals)}${names === BYTES ? " " : ""}${names[i]}`;
}

function duration(seconds: number, decimals?: number | null): string {
  const a = Math.abs(seconds);
  if (a === 0) return "0 s";
  if (a < 1e-3) return `${fixed(seconds * 1e6, decimals)} µs`;
  if (a < 1) return `${fixed(seconds * 1e3, decimals)} ms`;
  if (a < 60) return `${fixed(seconds, decimals)} s`;
  if (a < 3600) return `${fixed(seconds / 60, decimals)} min`;
  if (a < 86400) return `${fixed(seconds / 3600, decimals)} h`;
  return `${fixed(seconds / 86400, decimals)} d`;
}

export function formatUnit(v: number | null | undefined, unit: Unit | undefined, decimals?: number | null): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  switch (unit) {
    case "percent": return `${fixed(v, decimals)}%`;
    case "percentunit": return `${fixed(v * 100, decimals)}%`;
    case "s": return duration(v, decimals);
    case "ms": return duration(v / 1000, decimals);
    case "bytes": return scaled(v, 1024, BYTES, decimals);
    case "reqps": return `${scaled(v, 1000, SI, decimals)} req/s`;
    case "none": return decimals !== null && decimals !== undefined ? fixed(v, decimals) : formatValue(v);
    default: return scaled(v, 1000, SI, decimals);
  }
}

/** Named colours (Grafana's thresholds use these words) as CSS colours readable on both themes. */
const NAMED: Record<string, string> = {
  green: "#2e9d52", red: "#d33b30", yellow: "#d8a400", orange: "#e0701b", blue: "#3274d9", purple: "#8f56d0",
  "dark-green": "#1b7a3d", "dark-red": "#a8221a", "semi-dark-green": "#26894a", "semi-dark-red": "#c22c22",
};

export function cssColor(name: string): string {
  return NAMED[name] ?? name;
}

/** The colour of the highest threshold at or below `v` (the first, value null, is the base). */
export function thresholdColor(v: number | null, thresholds: Threshold[] | undefined): string | null {
  if (!thresholds?.length) return null;
  let color = thresholds[0].color;
  if (v === null) return cssColor(color);
  for (const t of thresholds) if (t.value === null || v >= t.value) color = t.color;
  return cssColor(color);
}
