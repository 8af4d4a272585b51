import { describe, expect, it } from "vitest";
import { describeRange, formatTime, fromInputValue, histogramInterval, parseDuration, resolveRange, resolveTime, toInputValue } from "./time";

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

describe("times", () => {
  it("parses durations", () => {
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("7d")).toBe(7 * 86_400_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("soon")).toBeNull();
  });
  it("resolves now, now-X, RFC 3339 and epoch milliseconds", () => {
    expect(resolveTime("now", NOW)).toBe(NOW);
    expect(resolveTime("now-1h", NOW)).toBe(NOW - 3_600_000);
    expect(resolveTime("now - 5m", NOW)).toBe(NOW - 300_000);
    expect(resolveTime("2026-12-07T10:00:00Z", NOW)).toBe(Date.UTC(2026, 11, 7, 10));
    expect(resolveTime("2026-12-07T10:00:00.250+01:00", NOW)).toBe(Date.UTC(2026, 11, 7, 9, 0, 0, 250));
    expect(resolveTime("1796601600000", NOW)).toBe(1796601600000);
    expect(resolveTime("2026-12-07", NOW)).toBeNull();
    expect(resolveTime("yesterday", NOW)).toBeNull();
  });
  it("refuses a range that ends before it starts", () => {
    expect(resolveRange({ start: "now", end: "now-1h" }, NOW)).toBeNull();
    expect(resolveRange({ start: "now-1h", end: "now" }, NOW)).toEqual({ startMs: NOW - 3_600_000, endMs: NOW });
  });
  it("names quick ranges and shows absolute ones", () => {
    expect(describeRange({ start: "now-15m", end: "now" }, "local")).toBe("Last 15 minutes");
    expect(describeRange({ start: "now-2h", end: "now" }, "local")).toBe("Last 2h");
    expect(describeRange({ start: "2026-12-07T10:00:00.000Z", end: "2026-12-07T11:30:00.000Z" }, "utc")).toBe("2026-12-07 10:00:00 → 2026-12-07 11:30:00 UTC");
  });
  it("formats in UTC, and the picker's inputs round-trip in either zone", () => {
    expect(formatTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6), "utc")).toBe("2026-01-02 03:04:05.006");
    for (const tz of ["utc", "local"] as const) {
      const t = Date.UTC(2026, 5, 1, 8, 9, 10);
      expect(fromInputValue(toInputValue(t, tz), tz)).toBe(t);
    }
    expect(fromInputValue("2026-06-01T08:09", "utc")).toBe(Date.UTC(2026, 5, 1, 8, 9));
    expect(fromInputValue("junk", "utc")).toBeNull();
  });
  it("chooses a histogram interval that gives a readable number of bars", () => {
    expect(histogramInterval({ startMs: 0, endMs: 3_600_000 })).toBe("1m");
    expect(histogramInterval({ startMs: 0, endMs: 300_000 })).toBe("5s");
    expect(histogramInterval({ startMs: 0, endMs: 7 * 86_400_000 })).toBe("3h");
    expect(histogramInterval({ startMs: 0, endMs: 365 * 86_400_000 })).toBe("1d");
  });
});
