// The Prometheus HTTP API under /prometheus: range and instant queries (POST, form-encoded,
// so long queries fit), and the names completion offers. A refused query is an ApiError
// with the server's message (`{"status":"error","errorType":…,"error":…}`).

import { apiUrl, request } from "./client";
import type { MatrixSeries } from "../lib/promqlData";
import type { Metric } from "../lib/promql";

interface PromResponse<T> {
  status: "success" | "error";
  data: T;
  warnings?: string[];
}

export interface InstantSample {
  metric: Metric;
  value: [number, string];
}

export type InstantResult =
  | { resultType: "vector"; result: InstantSample[] }
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "scalar" | "string"; result: [number, string] };

export interface RangeResult {
  resultType: "matrix";
  result: MatrixSeries[];
}

function form(params: Record<string, string | number>): RequestInit {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) body.set(k, String(v));
  return { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: body.toString() };
}

const names = async (url: string, signal?: AbortSignal) => (await request<PromResponse<string[]>>(url, { signal })).data ?? [];

export const prom = {
  async queryRange(query: string, startS: number, endS: number, stepS: number, signal?: AbortSignal): Promise<PromResponse<RangeResult>> {
    return request("/prometheus/api/v1/query_range", { ...form({ query, start: startS, end: endS, step: stepS }), signal });
  },
  async query(query: string, timeS: number, signal?: AbortSignal): Promise<PromResponse<InstantResult>> {
    return request("/prometheus/api/v1/query", { ...form({ query, time: timeS }), signal });
  },
  metricNames(signal?: AbortSignal): Promise<string[]> {
    return names("/prometheus/api/v1/label/__name__/values", signal);
  },
  labelNames(metric: string | null, signal?: AbortSignal): Promise<string[]> {
    return names(apiUrl("/prometheus/api/v1/labels", { "match[]": metric ?? undefined }), signal);
  },
  labelValues(label: string, metric: string | null, signal?: AbortSignal): Promise<string[]> {
    return names(apiUrl(`/prometheus/api/v1/label/${encodeURIComponent(label)}/values`, { "match[]": metric ?? undefined }), signal);
  },
};
