import { describe, expect, it } from "vitest";
import { addSpot, clamp, collides, compact, nudge, place, type Item } from "./grid";

const A: Item = { id: 1, x: 0, y: 0, w: 12, h: 8 };
const B: Item = { id: 2, x: 12, y: 0, w: 12, h: 8 };
const C: Item = { id: 3, x: 0, y: 8, w: 24, h: 4 };

const noOverlap = (items: Item[]) => items.every((a) => items.every((b) => !collides(a, b)));

describe("grid", () => {
  it("finds collisions and keeps items inside 24 columns", () => {
    expect(collides(A, B)).toBe(false);
    expect(collides(A, { ...B, x: 11 })).toBe(true);
    expect(clamp({ id: 1, x: 20, y: -3, w: 10, h: 0 })).toEqual({ id: 1, x: 14, y: 0, w: 10, h: 1 });
  });
  it("floats items up over holes", () => {
    expect(compact([A, { ...C, y: 20 }])).toEqual([A, { ...C, y: 8 }]);
  });
  it("pushes what a moved item lands on, without overlaps", () => {
    const out = place([A, B, C], 3, { y: 0, w: 12 });
    expect(out.find((i) => i.id === 3)).toEqual({ id: 3, x: 0, y: 0, w: 12, h: 4 });
    expect(out.find((i) => i.id === 1)).toEqual({ ...A, y: 4 });
    expect(noOverlap(out)).toBe(true);
  });
  it("moves down by swapping with the item below", () => {
    const out = nudge([A, C], 1, 0, 1);
    expect(out).toEqual([{ ...A, y: 4 }, { ...C, y: 0 }]);
    expect(nudge(out, 1, 0, -1)).toEqual([A, C]);
  });
  it("moves sideways and resizes by a cell, pushing neighbours down", () => {
    expect(nudge([A, B], 1, 1, 0)).toEqual([{ ...A, x: 1 }, { ...B, y: 8 }]);
    const wider = nudge([A, C], 1, 0, 0, 0, 2);
    expect(wider).toEqual([{ ...A, h: 10 }, { ...C, y: 10 }]);
    expect(nudge([A], 1, 0, -1)).toEqual([A]);
  });
  it("adds beside the last row when there is room, else below", () => {
    expect(addSpot([A], 12, 8)).toEqual({ x: 12, y: 0 });
    expect(addSpot([A, B], 12, 8)).toEqual({ x: 0, y: 8 });
  });
});
