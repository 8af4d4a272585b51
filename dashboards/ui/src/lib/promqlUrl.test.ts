import { describe, expect, it } from "vitest";
import { DEFAULT_METRICS, decodeMetrics, encodeMetrics } from "./promqlUrl";

describe("metrics URL state", () => {
  it("leaves defaults out", () => {
    expect(encodeMetrics(DEFAULT_METRICS)).toBe("/graph");
    expect(decodeMetrics("")).toEqual(DEFAULT_METRICS);
  });
  it("round-trips every field", () => {
    const s = { query: 'sum by (code) (rate(x{a="b"}[5m]))', start: "now-6h", end: "now", step: "30s", view: "table" as const, stacked: true, tz: "utc" as const, refresh: "30s" as const };
    const url = encodeMetrics(s);
    expect(url).toMatch(/^\/graph\?q=/);
    expect(url).toContain("step=30s");
    expect(url).toContain("view=table");
    expect(url).toContain("stacked=1");
    expect(decodeMetrics(url.slice("/graph".length))).toEqual(s);
  });
  it("ignores unknown values", () => {
    expect(decodeMetrics("?view=pie&stacked=yes").view).toBe("graph");
    expect(decodeMetrics("?view=pie&stacked=yes").stacked).toBe(false);
  });
});
