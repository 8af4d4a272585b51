import { describe, expect, it } from "vitest";
import { decodeExplore, decodeRequest, DEFAULT_EXPLORE, encodeExplore, encodeRequest, ExploreState } from "./url";

describe("explore URL state", () => {
  it("round-trips every field", () => {
    const s: ExploreState = {
      query: 'service:api "a b" | stats count() by host', start: "2026-12-01T00:00:00.000Z", end: "now-5m", tz: "utc",
      columns: ["http.status_code", "user.id"], record: "18446744073709551615", context: true, order: "asc", mode: "live",
      refresh: "30s", chart: "bars",
    };
    expect(decodeExplore(encodeExplore(s))).toEqual(s);
  });
  it("leaves defaults out, so addresses stay short", () => {
    expect(encodeExplore(DEFAULT_EXPLORE)).toBe("");
    expect(encodeExplore({ ...DEFAULT_EXPLORE, query: "error" })).toBe("?q=error");
  });
  it("keeps relative times relative", () => {
    expect(encodeExplore({ ...DEFAULT_EXPLORE, start: "now-15m" })).toBe("?start=now-15m");
  });
  it("reads unknown or broken values as defaults", () => {
    expect(decodeExplore("?tz=mars&order=sideways&mode=x&refresh=1y&chart=pie")).toEqual(DEFAULT_EXPLORE);
  });
  it("drops the context flag without a record", () => {
    expect(encodeExplore({ ...DEFAULT_EXPLORE, context: true })).toBe("");
  });
});

describe("request URL state", () => {
  it("round-trips an id with characters a path must escape", () => {
    const s = { id: "a/b c?d", tz: "utc" as const, record: "42" };
    const href = encodeRequest(s);
    const u = new URL(href, "http://x");
    expect(decodeRequest(u.pathname, u.search)).toEqual(s);
  });
});
