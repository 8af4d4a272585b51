import { expect, it } from "vitest";
import type { TableResult } from "../api/types";
import { stackSeries, statsBars, timechartSeries } from "./table";

const table = (columns: string[], rows: unknown[][]): TableResult => ({ kind: "table", total: 0, columns, rows, span_ms: null, took_ms: 0 });

it("turns timechart rows into one series per group, aligned on time", () => {
  const t = table(["_time", "level", "count"], [
    ["2026-12-07T10:00:00Z", "error", 1], ["2026-12-07T10:00:00Z", "info", 4], ["2026-12-07T10:05:00Z", "info", 2],
  ]);
  const s = timechartSeries(t);
  expect(s.xs).toEqual([Date.UTC(2026, 11, 7, 10) / 1000, Date.UTC(2026, 11, 7, 10, 5) / 1000]);
  expect(s.series).toEqual([{ label: "error", values: [1, null] }, { label: "info", values: [4, 2] }]);
  expect(stackSeries(s.series)[1].values).toEqual([5, 2]);
});

it("names series by aggregation when there are several, or no group", () => {
  const t = table(["_time", "count", "avg(d)"], [["2026-12-07T10:00:00Z", 3, 1.5]]);
  expect(timechartSeries(t).series.map((s) => s.label)).toEqual(["count", "avg(d)"]);
});

it("makes bars of stats rows, and none without a group", () => {
  expect(statsBars(table(["service", "count"], [["api", 3], [null, 1]]))).toEqual({ column: "count", bars: [{ label: "api", value: 3 }, { label: "(none)", value: 1 }] });
  expect(statsBars(table(["count"], [[3]]))).toBeNull();
});
