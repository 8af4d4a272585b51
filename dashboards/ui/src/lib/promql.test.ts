import { describe, expect, it } from "vitest";
import {
  autoStep, clampStep, errorPosition, formatStep, parseStep, promCompletions, promContext, seriesName, seriesService,
} from "./promql";

const at = (text: string) => promContext(text.replace("|", ""), text.indexOf("|"));

describe("promContext", () => {
  it("offers metrics and functions for a word", () => {
    expect(at("http_req|")).toEqual({ kind: "metric", from: 0, to: 8, prefix: "http_req" });
    expect(at("sum(rate(http|[5m]))")).toMatchObject({ kind: "metric", prefix: "http", from: 9 });
    expect(at("|")).toMatchObject({ kind: "metric", prefix: "" });
  });
  it("offers label names inside braces, with the metric", () => {
    expect(at("http_requests_total{|")).toMatchObject({ kind: "label", prefix: "", metric: "http_requests_total" });
    expect(at('http_requests_total{code="200", se|')).toMatchObject({ kind: "label", prefix: "se", metric: "http_requests_total" });
    expect(at('rate(up{jo|}[5m])')).toMatchObject({ kind: "label", prefix: "jo", metric: "up", to: 10 });
    expect(at("{|")).toMatchObject({ kind: "label", metric: null });
  });
  it("offers label values after name=\"", () => {
    expect(at('http_requests_total{service="|')).toMatchObject({ kind: "value", label: "service", prefix: "", metric: "http_requests_total", from: 29 });
    expect(at('http_requests_total{service=~"ch|eck"}')).toMatchObject({ kind: "value", label: "service", prefix: "ch", to: 35 });
    expect(at('x{a="1", b!="|')).toMatchObject({ kind: "value", label: "b", metric: "x" });
  });
  it("offers labels inside by (…), from the query's metric", () => {
    expect(at("sum by (|) (rate(http_requests_total[5m]))")).toMatchObject({ kind: "grouping", metric: "http_requests_total" });
    expect(at("sum(rate(http_requests_total[5m])) by (code, se|)")).toMatchObject({ kind: "grouping", prefix: "se" });
  });
  it("offers nothing in durations, numbers, after a value, or inside a closed string", () => {
    expect(at("rate(x[5|])").kind).toBe("none");
    expect(at("x > 1|").kind).toBe("none");
    expect(at('x{a="1"|').kind).toBe("none");
    expect(at("x |").kind).toBe("none");
    expect(at('label_replace(x, "|').kind).toBe("none");
  });
});

describe("promCompletions", () => {
  it("ranks prefix matches first and inserts a call for functions", () => {
    const items = promCompletions(at("ra|"), { metrics: ["http_requests_total", "rate_limited"] });
    expect(items[0]).toEqual({ label: "rate_limited", insert: "rate_limited", kind: "metric" });
    expect(items.find((i) => i.label === "rate")).toEqual({ label: "rate", insert: "rate(", kind: "function" });
  });
  it("inserts name=\" for labels and escapes values", () => {
    expect(promCompletions(at("x{|"), { labels: ["__name__", "code"] }).map((i) => i.insert)).toEqual(['__name__="', 'code="']);
    expect(promCompletions(at("sum by (|) (x)"), { labels: ["__name__", "code"] }).map((i) => i.insert)).toEqual(["code"]);
    expect(promCompletions(at('x{a="|'), { values: ['say "hi"'] })[0].insert).toBe('say \\"hi\\"');
  });
});

describe("errorPosition", () => {
  it("finds the unclosed parenthesis", () => {
    expect(errorPosition("sum(rate(x[5m])", "parse error: unclosed left parenthesis")).toBe(3);
  });
  it("points at the end for an unexpected end inside braces", () => {
    expect(errorPosition("foo{", "parse error: unexpected end of input inside braces")).toBe(3);
    expect(errorPosition("foo{a=", "parse error: unexpected end of input")).toBe(6);
  });
  it("reads a position the message names", () => {
    expect(errorPosition("foo bar", "parse error at position 4: unexpected identifier")).toBe(4);
    expect(errorPosition("foo bar", "1:5: parse error: unexpected identifier")).toBe(4);
    expect(errorPosition("x", "something else")).toBeNull();
  });
});

describe("series", () => {
  it("names a series as Prometheus does", () => {
    expect(seriesName({ service: "checkout", code: "500" })).toBe('{code="500", service="checkout"}');
    expect(seriesName({ __name__: "up", job: "a" })).toBe('up{job="a"}');
    expect(seriesName({})).toBe("{}");
  });
  it("finds the service for logs", () => {
    expect(seriesService({ service: "web" })).toBe("web");
    expect(seriesService({ service_name: "api" })).toBe("api");
    expect(seriesService({ job: "node" })).toBe("node");
    expect(seriesService({ code: "1" })).toBeNull();
  });
});

describe("steps", () => {
  it("picks about one point per 2.5 px, rounded to a nice value", () => {
    expect(autoStep(3_600_000, 1000)).toBe(10); // 400 points → 9 s → 10 s
    expect(autoStep(300_000, 1000)).toBe(1); // never under 1 s
    expect(autoStep(7 * 86_400_000, 1200)).toBe(1800);
  });
  it("never exceeds 11,000 points", () => {
    expect(clampStep(1, 86_400_000)).toBe(8);
    expect(autoStep(86_400_000, 100_000)).toBeGreaterThanOrEqual(8);
  });
  it("parses and formats steps", () => {
    expect(parseStep("15s")).toBe(15);
    expect(parseStep("1m30s")).toBe(90);
    expect(parseStep("30")).toBe(30);
    expect(parseStep("0.5")).toBeNull();
    expect(parseStep("abc")).toBeNull();
    expect(parseStep("")).toBeNull();
    expect(formatStep(90)).toBe("1m30s");
    expect(formatStep(3600)).toBe("1h");
    expect(formatStep(1)).toBe("1s");
  });
});
