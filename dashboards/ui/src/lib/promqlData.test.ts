import { describe, expect, it } from "vitest";
import { alignMatrix, formatValue, parseValue, stack } from "./promqlData";

describe("alignMatrix", () => {
  it("puts every series on the query's steps, null where a point is missing", () => {
    const a = alignMatrix(
      [
        { metric: { code: "200" }, values: [[100, "1"], [130, "3"]] },
        { metric: { code: "500" }, values: [[115, "NaN"], [130, "+Inf"]] },
      ],
      100, 130, 15,
    );
    expect(a.xs).toEqual([100, 115, 130]);
    expect(a.series[0].values).toEqual([1, null, 3]);
    expect(a.series[1].values).toEqual([null, null, Infinity]);
  });
});

describe("stack", () => {
  it("adds the shown series cumulatively", () => {
    expect(stack([[1, 2, null], [10, 20, 30], [100, 100, 100]], [true, false, true])).toEqual([[1, 2, null], [null, null, null], [101, 102, 100]]);
  });
});

describe("values", () => {
  it("parses and formats", () => {
    expect(parseValue("1.5")).toBe(1.5);
    expect(parseValue("-Inf")).toBe(-Infinity);
    expect(formatValue(29.999999999999993)).toBe("30");
    expect(formatValue(1234567)).toBe("1,234,567");
    expect(formatValue(0.0001234)).toBe("1.234e-4");
    expect(formatValue(null)).toBe("—");
  });
});
