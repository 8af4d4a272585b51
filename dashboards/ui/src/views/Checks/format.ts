// How the checks view writes uptime and durations.

export function pct(p: number | null | undefined): string {
  if (p === null || p === undefined) return "—";
  const s = p.toFixed(3).replace(/\.?0+$/, "");
  return `${s}%`;
}

export function dur(secs: number): string {
  if (secs < 60) return `${Math.round(secs)}s`;
  const m = Math.round(secs / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
}

/** A day's bar colour: green at or above the objective, yellow within a point, red below, grey without data. */
export function dayClass(p: number | null, objective = 99.9): "good" | "warn" | "bad" | "none" {
  if (p === null) return "none";
  if (p >= objective) return "good";
  if (p >= objective - 1) return "warn";
  return "bad";
}
