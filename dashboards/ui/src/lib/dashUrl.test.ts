import { describe, expect, it } from "vitest";
import { dashboardHref, decodeDash, decodeRoute, encodeDash, matchesSearch, slug } from "./dashUrl";

describe("dashboard addresses", () => {
  it("names the page", () => {
    expect(decodeRoute("/dashboards")).toEqual({ page: "list" });
    expect(decodeRoute("/dashboards/new")).toEqual({ page: "new" });
    expect(decodeRoute("/dashboards/d/checkout-red")).toEqual({ page: "dashboard", uid: "checkout-red" });
    expect(decodeRoute("/dashboards/d/a%20b/slug")).toEqual({ page: "dashboard", uid: "a b" });
    expect(decodeRoute("/dashboards/services")).toEqual({ page: "services" });
    expect(decodeRoute("/dashboards/services/web%2Fapi")).toEqual({ page: "service", service: "web/api" });
  });
  it("round-trips the range, zone, refresh and variables with Grafana's names", () => {
    const s = { from: "now-6h", to: "now", tz: "utc" as const, refresh: "30s" as const, vars: { service: ["checkout"], env: ["a", "b"] } };
    const text = encodeDash(s);
    expect(text).toBe("?from=now-6h&to=now&tz=utc&refresh=30s&var-service=checkout&var-env=a&var-env=b");
    expect(decodeDash(text)).toEqual(s);
    expect(decodeDash("")).toEqual({ from: null, to: null, tz: "local", refresh: null, vars: {} });
    expect(decodeDash("?refresh=7s").refresh).toBe(null);
    expect(dashboardHref("x", { vars: { s: ["$__all"] } })).toBe("/dashboards/d/x?var-s=%24__all");
  });
  it("slugs titles into uids", () => {
    expect(slug("Checkout — RED!")).toBe("checkout-red");
    expect(slug("")).toBe("dashboard");
  });
  it("searches titles and tags, every word", () => {
    expect(matchesSearch("Checkout RED", ["team-a"], "red team")).toBe(true);
    expect(matchesSearch("Checkout RED", ["team-a"], "tag:team-a")).toBe(true);
    expect(matchesSearch("Checkout RED", ["team-a"], "payments")).toBe(false);
    expect(matchesSearch("Anything", [], "")).toBe(true);
  });
});
