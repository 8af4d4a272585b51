// The dashboard grid's layout rules (24 columns, rows of 30 px), as react-grid-layout and
// Grafana keep them: items never overlap; a moved or resized item pushes the ones it hits
// down; then every item floats up as far as it can (vertical compaction).

export const COLUMNS = 24;
export const MAX_H = 100;

export interface Item {
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

export function collides(a: Item, b: Item): boolean {
  return a.id !== b.id && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Keeps an item inside the grid: 1 ≤ w ≤ 24, x + w ≤ 24, 1 ≤ h ≤ 100, x, y ≥ 0. */
export function clamp(it: Item): Item {
  const w = Math.min(COLUMNS, Math.max(1, Math.round(it.w)));
  const h = Math.min(MAX_H, Math.max(1, Math.round(it.h)));
  const x = Math.min(COLUMNS - w, Math.max(0, Math.round(it.x)));
  const y = Math.max(0, Math.round(it.y));
  return { ...it, x, y, w, h };
}

const byPosition = (a: Item, b: Item) => a.y - b.y || a.x - b.x || a.id - b.id;

/** Every item floats up until it touches another (or the top); the order by position is kept. */
export function compact(items: Item[]): Item[] {
  const placed: Item[] = [];
  for (const it of [...items].sort(byPosition)) {
    let cur = { ...it };
    while (cur.y > 0 && !placed.some((p) => collides({ ...cur, y: cur.y - 1 }, p))) cur = { ...cur, y: cur.y - 1 };
    for (;;) {
      const hit = placed.find((p) => collides(cur, p));
      if (!hit) break;
      cur = { ...cur, y: hit.y + hit.h };
    }
    placed.push(cur);
  }
  const out = new Map(placed.map((p) => [p.id, p]));
  return items.map((it) => out.get(it.id)!);
}

/**
 * Puts item `id` at a new place or size: it stays there, each other item takes the highest
 * free spot in its columns (so one it passes can swap above it), then everything compacts.
 */
export function place(items: Item[], id: number, next: Partial<Item>): Item[] {
  const target = items.find((it) => it.id === id);
  if (!target) return items;
  const pinned = clamp({ ...target, ...next });
  const placed: Item[] = [pinned];
  for (const it of items.filter((i) => i.id !== id).sort(byPosition)) {
    let y = 0;
    while (placed.some((p) => collides({ ...it, y }, p))) y++;
    placed.push({ ...it, y });
  }
  const out = new Map(placed.map((p) => [p.id, p]));
  return compact(items.map((it) => out.get(it.id)!));
}

/**
 * The keyboard's move by one cell: left/right and resizes take effect at once; up and down
 * go as far as needed for the item to change place (past the neighbour it swaps with).
 */
export function nudge(items: Item[], id: number, dx: number, dy: number, dw = 0, dh = 0): Item[] {
  const it = items.find((i) => i.id === id);
  if (!it) return items;
  if (dy === 0) return place(items, id, { x: it.x + dx, w: it.w + dw, h: it.h + dh });
  const bottom = items.reduce((m, i) => Math.max(m, i.y + i.h), 0);
  for (let step = 1; step <= bottom + 1; step++) {
    const y = it.y + dy * step;
    if (y < 0) break;
    const out = place(items, id, { y });
    const moved = out.find((i) => i.id === id)!;
    if (moved.y !== it.y || out.some((o, k) => o.y !== items[k].y)) return out;
  }
  return items;
}

/** A spot for a new item of w×h: the first free place at the bottom of the layout. */
export function addSpot(items: Item[], w: number, h: number): { x: number; y: number } {
  const bottom = items.reduce((m, it) => Math.max(m, it.y + it.h), 0);
  // Beside the last row's items when there is room, as Grafana does.
  for (let y = Math.max(0, bottom - h); y <= bottom; y++) {
    for (let x = 0; x + w <= COLUMNS; x++) {
      const probe = { id: -1, x, y, w, h };
      if (!items.some((it) => collides(probe, it))) return { x, y };
    }
  }
  return { x: 0, y: bottom };
}
