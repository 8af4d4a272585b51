// Levels in severity order, as the server names them; each has a CSS colour variable
// (styles/tokens.css) so charts and badges agree in both themes.

export const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type Level = (typeof LEVELS)[number];

/** Levels shown in the histogram's stack, plus records without a level. */
export const STACK_ORDER = ["fatal", "error", "warn", "info", "debug", "trace", "none"] as const;

export function levelVar(level: string | null | undefined): string {
  const l = (level ?? "none").toLowerCase();
  return `var(--level-${(LEVELS as readonly string[]).includes(l) ? l : "none"})`;
}

/** Reads a level's colour for canvas drawing (uPlot needs concrete colours). */
export function levelColor(level: string, el: Element = document.documentElement): string {
  return getComputedStyle(el).getPropertyValue(`--level-${level}`).trim() || "#888";
}

export function isProblem(level: string | null | undefined): "error" | "warn" | null {
  const l = (level ?? "").toLowerCase();
  if (l === "error" || l === "fatal") return "error";
  if (l === "warn") return "warn";
  return null;
}
