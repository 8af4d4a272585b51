import { expect, it } from "vitest";
import { stackHistogram } from "./histogram";

it("fills empty buckets, splits levels, and stacks them bottom-up", () => {
  const h = stackHistogram(
    [
      { time: "2026-12-07T10:00:00Z", total: 3, counts: { info: 2, error: 1 } },
      { time: "2026-12-07T10:02:00Z", total: 5, counts: { warn: 1 } },
    ],
    60_000,
    Date.UTC(2026, 11, 7, 10, 0),
    Date.UTC(2026, 11, 7, 10, 3),
  );
  expect(h.xs.length).toBe(3);
  expect(h.levels).toEqual(["error", "warn", "info", "none"]);
  expect(h.totals).toEqual([3, 0, 5]);
  expect(h.counts).toEqual([[1, 0, 0], [0, 0, 1], [2, 0, 0], [0, 0, 4]]);
  expect(h.cumulative[h.levels.length - 1]).toEqual(h.totals);
});
