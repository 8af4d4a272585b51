import { describe, expect, it } from "vitest";
import { formatUnit, thresholdColor } from "./dashFormat";

describe("units", () => {
  it("formats the units panels offer", () => {
    expect(formatUnit(1536, "bytes")).toBe("1.5 KiB");
    expect(formatUnit(0.25, "percentunit")).toBe("25%");
    expect(formatUnit(42.123, "percent", 1)).toBe("42.1%");
    expect(formatUnit(0.0123, "s")).toBe("12.3 ms");
    expect(formatUnit(250, "ms")).toBe("250 ms");
    expect(formatUnit(12500, "reqps")).toBe("12.5K req/s");
    expect(formatUnit(1234567, "short")).toBe("1.235M");
    expect(formatUnit(null, "short")).toBe("—");
  });
  it("colours by the highest threshold reached", () => {
    const t = [{ value: null, color: "green" }, { value: 80, color: "red" }];
    expect(thresholdColor(10, t)).toBe("#2e9d52");
    expect(thresholdColor(80, t)).toBe("#d33b30");
    expect(thresholdColor(5, undefined)).toBe(null);
  });
});
