import { describe, expect, it } from "vitest";
import { dayClass, dur, pct } from "./format";

describe("checks formatting", () => {
  it("writes uptime with three decimals at most", () => {
    expect(pct(100)).toBe("100%");
    expect(pct(99.95)).toBe("99.95%");
    expect(pct(99.99951)).toBe("100%");
    expect(pct(99.1234)).toBe("99.123%");
    expect(pct(null)).toBe("—");
  });
  it("writes durations and colours days against the objective", () => {
    expect(dur(42)).toBe("42s");
    expect(dur(600)).toBe("10m");
    expect(dur(3 * 3600 + 300)).toBe("3h 5m");
    expect(dayClass(null)).toBe("none");
    expect(dayClass(99.95)).toBe("good");
    expect(dayClass(99.2)).toBe("warn");
    expect(dayClass(90)).toBe("bad");
  });
});
