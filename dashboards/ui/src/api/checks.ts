// The checks API: states, uptime windows, daily bars, incidents; and the probes' latency
// history, which is the `probe_duration_seconds` series in the metrics store.

import { apiUrl, request } from "./client";

export interface LastResult {
  at: string;
  ok: boolean;
  reason: string;
  status: number | null;
  latency_ms: number | null;
  tls_expires_at?: string;
}

export interface CheckView {
  id: string;
  kind: "http" | "tcp" | "tls" | "heartbeat";
  target: string;
  state: "up" | "down" | "unknown";
  since: string | null;
  last_result: LastResult | null;
  last_latency_ms: number | null;
  uptime_percent: Record<"24h" | "7d" | "30d" | "90d", number | null>;
}

export interface DayUptime {
  date: string;
  uptime_percent: number | null;
  downtime_secs: number;
  unknown_secs: number;
  incidents: number;
}

export interface CheckIncident {
  start: string;
  end: string | null;
  open: boolean;
  duration_secs: number;
  reason: string;
  status: number | null;
  latency_ms: number | null;
}

export interface UptimeResult {
  id: string;
  uptime_percent: number | null;
  downtime_secs: number;
  incidents: CheckIncident[];
}

interface PromMatrix {
  data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
}

export const checks = {
  list(signal?: AbortSignal): Promise<{ checks: CheckView[] }> {
    return request("/api/v1/checks", { signal });
  },
  /** The days run midnight to midnight in `tz` (an IANA name; the server's default is UTC). */
  daily(id: string, days: number, signal?: AbortSignal, tz?: string): Promise<{ days: DayUptime[] }> {
    return request(apiUrl(`/api/v1/checks/${encodeURIComponent(id)}/daily`, { days, tz }), { signal });
  },
  uptime(id: string, from: string, signal?: AbortSignal): Promise<UptimeResult> {
    return request(apiUrl(`/api/v1/checks/${encodeURIComponent(id)}/uptime`, { from }), { signal });
  },
  /** Probe latency (seconds) over the last `rangeS`, one point per `stepS`. */
  latency(id: string, rangeS: number, stepS: number, signal?: AbortSignal): Promise<PromMatrix> {
    const end = Date.now() / 1000;
    const body = new URLSearchParams({
      query: `max_over_time(probe_duration_seconds{check=${JSON.stringify(id)}}[${stepS}s])`,
      start: String(end - rangeS),
      end: String(end),
      step: String(stepS),
    });
    return request("/prometheus/api/v1/query_range", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: body.toString(),
      signal,
    });
  },
};
