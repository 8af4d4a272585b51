import { expect, it } from "vitest";
import type { CorrelateResult, Hit } from "../api/types";
import { durationMs, formatDuration, layoutRequest } from "./request";

const hit = (id: string, service: string, ts: string, over: Partial<Hit> = {}): Hit => ({
  record_id: id, timestamp: ts, timestamp_ns: 0, observed_timestamp: "", level: "info", severity_number: 9, severity_text: "",
  service, host: null, message: "m", trace_id: null, span_id: null, correlation_id: "r", attributes: {}, resource: {}, raw: "", ...over,
});

it("lays a request out: lanes in order, gaps, durations as bars ending at the record, spans", () => {
  const res: CorrelateResult = {
    id: "r", total: 4, truncated: false, took_ms: 1,
    services: [{ service: "web", first: "", last: "", first_ns: 0, last_ns: 0, count: 2, errors: 0 }, { service: "db", first: "", last: "", first_ns: 0, last_ns: 0, count: 2, errors: 1 }],
    records: [
      hit("1", "web", "2026-12-07T10:00:00.000Z", { span_id: "s1" }),
      hit("2", "db", "2026-12-07T10:00:00.010Z", { attributes: { duration_ms: 8 } }),
      hit("3", "db", "2026-12-07T10:00:00.030Z", { level: "error" }),
      hit("4", "web", "2026-12-07T10:00:00.050Z", { span_id: "s1", attributes: { duration_ms: 100 } }),
    ],
  };
  const l = layoutRequest(res);
  expect(l.lanes).toEqual(["web", "db"]);
  expect(l.records.map((r) => r.lane)).toEqual([0, 1, 1, 0]);
  expect(l.records.map((r) => r.gapMs)).toEqual([null, 10, 20, 20]);
  expect(l.errors).toBe(1);
  // The 100 ms operation logged at +50 ms began 50 ms before the first record.
  expect(l.startMs).toBe(Date.parse("2026-12-07T09:59:59.950Z"));
  expect(l.durationMs).toBe(100);
  expect(l.spans).toEqual([{ spanId: "s1", lane: 0, startMs: Date.parse("2026-12-07T09:59:59.950Z"), endMs: Date.parse("2026-12-07T10:00:00.050Z"), records: 2 }]);
});

it("reads durations in their units and formats them", () => {
  expect(durationMs(hit("1", "a", "2026-12-07T10:00:00Z", { attributes: { duration_us: 1500 } }))).toBe(1.5);
  expect(durationMs(hit("1", "a", "2026-12-07T10:00:00Z", { attributes: { duration_ms: "12" } }))).toBeNull();
  expect(formatDuration(125)).toBe("125 ms");
  expect(formatDuration(1250)).toBe("1.25 s");
  expect(formatDuration(125_000)).toBe("2 min 5 s");
});
