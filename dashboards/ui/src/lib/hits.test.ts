import { describe, expect, it } from "vitest";
import type { Hit } from "../api/types";
import { fieldValue, firstLine, flattenHit, prettyRaw, summarizeFields, timestampNs } from "./hits";

const hit = (over: Partial<Hit>): Hit => ({
  record_id: "1", timestamp: "2026-12-07T10:00:00.123456789Z", timestamp_ns: 0, observed_timestamp: "", level: "info",
  severity_number: 9, severity_text: "info", service: "api", host: "h1", message: "m", trace_id: null, span_id: null,
  correlation_id: null, attributes: {}, resource: {}, raw: "{}", ...over,
});

describe("hits", () => {
  it("reads nanosecond times exactly, whatever the number of digits", () => {
    expect(timestampNs("2026-12-07T10:00:00.123456789Z")).toBe(1796637600123456789n);
    expect(timestampNs("2026-12-07T10:00:00.5Z")).toBe(1796637600500000000n);
    expect(timestampNs("2026-12-07T10:00:00Z")).toBe(1796637600000000000n);
  });
  it("finds fields by the query language's names, nested or dotted", () => {
    const h = hit({ attributes: { http: { status_code: 500 }, "user.id": "u-1" }, resource: { "service.version": "1.2" } });
    expect(fieldValue(h, "http.status_code")).toBe(500);
    expect(fieldValue(h, "attributes.http.status_code")).toBe(500);
    expect(fieldValue(h, "user.id")).toBe("u-1");
    expect(fieldValue(h, "resource.service.version")).toBe("1.2");
    expect(fieldValue(h, "service")).toBe("api");
  });
  it("flattens and summarizes fields", () => {
    const hits = [hit({ attributes: { a: { b: 1 } } }), hit({ attributes: { a: { b: 2 } }, service: "web" })];
    expect(flattenHit(hits[0]).map(([k]) => k)).toEqual(["level", "service", "host", "severity_number", "a.b"]);
    const s = summarizeFields(hits);
    expect(s.find((f) => f.name === "service")?.top).toEqual([{ value: "api", count: 1 }, { value: "web", count: 1 }]);
  });
  it("shows multi-line messages and the original readably", () => {
    expect(firstLine("a\nb\nc")).toEqual({ line: "a", more: 2 });
    expect(prettyRaw('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyRaw("plain text")).toBe("plain text");
  });
});
