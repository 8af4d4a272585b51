import { describe, expect, it } from "vitest";
import { asTable, mergeSeries, panelQueries, values } from "./panelData";

describe("panel data", () => {
  it("aligns series of several queries on the union of their times", () => {
    const out = mergeSeries([
      { xs: [0, 60], series: [{ label: "a", values: [1, 2] }] },
      { xs: [60, 120], series: [{ label: "b", values: [3, 4] }] },
    ]);
    expect(out).toEqual({ xs: [0, 60, 120], series: [{ label: "a", values: [1, 2, null] }, { label: "b", values: [null, 3, 4] }] });
  });
  it("takes one value per series, stats row, last timechart bucket or hit count", () => {
    expect(values({ kind: "series", xs: [0, 1], series: [{ label: "a", values: [5, null] }] })[0].value).toBe(5);
    expect(values({ kind: "table", columns: ["service", "count()"], rows: [["web", 3], ["api", 4]] })).toEqual([
      { label: "web", value: 3 }, { label: "api", value: 4 },
    ]);
    expect(values({ kind: "table", columns: ["count()"], rows: [[7]] })).toEqual([{ label: "count()", value: 7 }]);
    expect(values({ kind: "table", columns: ["_time", "count()"], rows: [["t1", 1], ["t2", 9]] })).toEqual([{ label: "count()", value: 9 }]);
    expect(values({ kind: "hits", hits: [], total: 12 })[0].value).toBe(12);
  });
  it("shows series as a table of last values", () => {
    expect(asTable({ kind: "series", xs: [0], series: [{ label: "a", values: [2] }] })).toEqual({ columns: ["series", "last"], rows: [["a", 2]] });
  });
});

describe("panel queries", () => {
  const range = { startMs: 0, endMs: 3_600_000 };
  const vars = { service: { values: ["web", "api"], all: [] } };
  it("fills in variables and counts a plain search per step in a time series", () => {
    const p = { id: 1, title: "", type: "timeseries" as const, grid: { x: 0, y: 0, w: 12, h: 8 }, targets: [
      { kind: "logs" as const, query: "service:$service level:error" },
      { kind: "promql" as const, expr: 'rate(x{job="$service"}[$__interval])', legend: "{{job}}" },
    ] };
    expect(panelQueries(p, vars, range, 600)).toEqual([
      { kind: "logs", text: "(service:web OR service:api) level:error | timechart span=30s count()", legend: undefined },
      { kind: "promql", text: 'rate(x{job=~"web|api"}[30s])', legend: "{{job}}" },
    ]);
    expect(panelQueries({ ...p, type: "stat" }, vars, range, 600)[0].text).toBe("(service:web OR service:api) level:error");
    const tc = (query: string) => panelQueries({ ...p, targets: [{ kind: "logs", query }] }, vars, range, 600)[0].text;
    expect(tc("* | timechart count() by level")).toBe("* | timechart span=30s count() by level");
    expect(tc("* | timechart span=5m count()")).toBe("* | timechart span=5m count()");
  });
});
