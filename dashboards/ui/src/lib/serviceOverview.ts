// The built-in service overview (no stored document): RED for one service — request rate,
// error rate and latency p50/p95/p99 — from its HTTP metrics when it has them (OpenTelemetry's
// `http_server_request_duration_seconds`, or Prometheus client `http_requests_total`), else
// from its logs (counts, error levels, `duration_ms`); and its newest errors.

import type { Dashboard, Panel } from "../api/dashboards";
import { quoteValue } from "./query";

export type OverviewSource = "otel" | "prometheus" | "logs";

/** Instant queries whose non-empty answer says the service has that kind of HTTP metrics. */
export function probes(service: string): { source: OverviewSource; expr: string }[] {
  const job = JSON.stringify(service);
  return [
    { source: "otel", expr: `count(http_server_request_duration_seconds_count{job=${job}})` },
    { source: "prometheus", expr: `count(http_requests_total{job=${job}})` },
  ];
}

export const SOURCE_TEXT: Record<OverviewSource, string> = {
  otel: "from metrics (OpenTelemetry HTTP server metrics)",
  prometheus: "from metrics (http_requests_total)",
  logs: "from logs",
};

const quantiles = (bucket: string) =>
  [0.5, 0.95, 0.99].map((q) => ({
    kind: "promql" as const,
    expr: `histogram_quantile(${q}, sum by (le) (rate(${bucket}[$__rate_interval])))`,
    legend: `p${Math.round(q * 100)}`,
  }));

export function serviceDashboard(service: string, source: OverviewSource): Dashboard {
  const job = JSON.stringify(service);
  const filter = `service:${quoteValue(service)}`;
  const from = source === "logs" ? "logs" : "metrics";
  let rate: Panel["targets"], errors: Panel["targets"], latency: Panel["targets"];
  let latencyUnit: Panel["unit"] = "s";
  let rateUnit: Panel["unit"] = "reqps";
  if (source === "otel") {
    const m = "http_server_request_duration_seconds";
    rate = [{ kind: "promql", expr: `sum(rate(${m}_count{job=${job}}[$__rate_interval]))`, legend: "requests/s" }];
    errors = [{ kind: "promql", expr: `sum(rate(${m}_count{job=${job}, http_response_status_code=~"5.."}[$__rate_interval]))`, legend: "5xx/s" }];
    latency = quantiles(`${m}_bucket{job=${job}}`);
  } else if (source === "prometheus") {
    const sel = (extra: string) => `http_requests_total{job=${job}${extra}}`;
    rate = [{ kind: "promql", expr: `sum(rate(${sel("")}[$__rate_interval]))`, legend: "requests/s" }];
    errors = [{
      kind: "promql",
      expr: `sum(rate(${sel(', code=~"5.."')}[$__rate_interval])) or sum(rate(${sel(', status=~"5.."')}[$__rate_interval]))`,
      legend: "5xx/s",
    }];
    latency = quantiles(`http_request_duration_seconds_bucket{job=${job}}`);
  } else {
    rate = [{ kind: "logs", query: `${filter} | timechart count()` }];
    errors = [{ kind: "logs", query: `${filter} AND level:>=error | timechart count()` }];
    latency = [{ kind: "logs", query: `${filter} | timechart p50(duration_ms), p95(duration_ms), p99(duration_ms)` }];
    latencyUnit = "ms";
    rateUnit = "short";
  }
  const panel = (id: number, title: string, targets: Panel["targets"], grid: Panel["grid"], extra: Partial<Panel> = {}): Panel => ({
    id, title, type: "timeseries", grid, targets, ...extra,
  });
  return {
    uid: `service-${service}`,
    title: `Service: ${service}`,
    time: { from: "now-1h", to: "now" },
    panels: [
      panel(1, source === "logs" ? "Requests (log records)" : "Request rate", rate, { x: 0, y: 0, w: 8, h: 9 }, { unit: rateUnit, description: from }),
      panel(2, source === "logs" ? "Errors (error-level records)" : "Error rate (5xx)", errors, { x: 8, y: 0, w: 8, h: 9 }, {
        unit: rateUnit, description: from,
      }),
      panel(3, "Latency p50 / p95 / p99", latency, { x: 16, y: 0, w: 8, h: 9 }, { unit: latencyUnit, description: source === "logs" ? "from logs (duration_ms)" : from }),
      { id: 4, title: "Newest errors", type: "logs", grid: { x: 0, y: 9, w: 24, h: 12 }, targets: [{ kind: "logs", query: `${filter} AND level:>=error` }], description: "from logs" },
    ],
  };
}
