import { describe, expect, it } from "vitest";
import { probes, serviceDashboard } from "./serviceOverview";

describe("service overview", () => {
  it("probes both kinds of HTTP metrics for the job", () => {
    expect(probes("checkout").map((p) => p.expr)).toEqual([
      'count(http_server_request_duration_seconds_count{job="checkout"})',
      'count(http_requests_total{job="checkout"})',
    ]);
  });
  it("builds RED from logs when there are no metrics", () => {
    const d = serviceDashboard("web shop", "logs");
    expect(d.panels.map((p) => p.targets[0])).toEqual([
      { kind: "logs", query: 'service:"web shop" | timechart count()' },
      { kind: "logs", query: 'service:"web shop" AND level:>=error | timechart count()' },
      { kind: "logs", query: 'service:"web shop" | timechart p50(duration_ms), p95(duration_ms), p99(duration_ms)' },
      { kind: "logs", query: 'service:"web shop" AND level:>=error' },
    ]);
    expect(d.panels[3].type).toBe("logs");
  });
  it("builds RED from OpenTelemetry metrics", () => {
    const d = serviceDashboard("api", "otel");
    expect(d.panels[1].targets[0]).toMatchObject({ expr: 'sum(rate(http_server_request_duration_seconds_count{job="api", http_response_status_code=~"5.."}[$__rate_interval]))' });
    expect(d.panels[2].targets).toHaveLength(3);
  });
});
