// One fetch wrapper for every call: the token, abort signals, and one error type. Network
// failures, non-JSON answers and the server's `{"error": …}` bodies all become an ApiError;
// a syntax error keeps its position so the query bar can point at it.

import { authHeaders, needToken } from "./token";
import type {
  BuildInfo, ContextResult, CorrelateResult, FieldsResult, HistogramResult, QueryResult,
} from "./types";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Byte offset of a query syntax error (the server's `position`). */
    readonly position: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

type Params = Record<string, string | number | undefined | null>;

export function apiUrl(path: string, params: Params = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const q = p.toString();
  return q ? `${path}?${q}` : path;
}

export async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(url, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(`cannot reach the Pharos server (${(e as Error).message})`, 0);
  }
  if (resp.status === 401) {
    // Ask once for every request waiting on it, then try again with the new token (a
    // refused one asks again, saying so).
    await needToken();
    return request<T>(url, init);
  }
  const text = await resp.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (!resp.ok) throw new ApiError(text || resp.statusText, resp.status);
    throw new ApiError("the server answered with something that is not JSON", resp.status);
  }
  if (!resp.ok) {
    const b = (body ?? {}) as { error?: string; position?: number };
    throw new ApiError(b.error ?? resp.statusText, resp.status, typeof b.position === "number" ? b.position : null);
  }
  return body as T;
}

export interface RangeParams {
  startMs: number;
  endMs: number;
}

/** A page's bounds: epoch ms numbers, or nanosecond strings (exact; the server reads both). */
export interface PageBounds {
  start: number | string;
  end: number | string;
}

export const api = {
  query(query: string, bounds: PageBounds, limit: number, signal?: AbortSignal): Promise<QueryResult> {
    return request("/api/v1/query", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, start: bounds.start, end: bounds.end, limit }),
      signal,
    });
  },
  histogram(query: string, range: RangeParams, interval: string, signal?: AbortSignal): Promise<HistogramResult> {
    return request(apiUrl("/api/v1/histogram", { q: query, start: range.startMs, end: range.endMs, interval }), { signal });
  },
  fields(range: RangeParams, top = 10, signal?: AbortSignal): Promise<FieldsResult> {
    return request(apiUrl("/api/v1/fields", { start: range.startMs, end: range.endMs, top }), { signal });
  },
  context(recordId: string, before: number, after: number, signal?: AbortSignal): Promise<ContextResult> {
    return request(apiUrl(`/api/v1/context/${encodeURIComponent(recordId)}`, { before, after }), { signal });
  },
  correlate(id: string, signal?: AbortSignal): Promise<CorrelateResult> {
    return request(apiUrl(`/api/v1/correlate/${encodeURIComponent(id)}`, { limit: 10000 }), { signal });
  },
  buildInfo(): Promise<BuildInfo> {
    return request("/api/v1/buildinfo");
  },
  exportUrl(query: string, range: RangeParams, format: "ndjson" | "csv"): string {
    return apiUrl("/api/v1/export", { q: query, start: range.startMs, end: range.endMs, format });
  },
  tailUrl(query: string): string {
    return apiUrl("/api/v1/tail", { q: query });
  },
};

/**
 * Downloads a URL that needs the token (an <a download> cannot send headers): streams it
 * into a Blob, then saves it under `filename`.
 */
export async function download(url: string, filename: string, signal?: AbortSignal): Promise<number> {
  const resp = await fetch(url, { headers: authHeaders(), signal });
  if (resp.status === 401) {
    await needToken();
    return download(url, filename, signal);
  }
  if (!resp.ok) {
    const text = await resp.text();
    let msg = text;
    try {
      msg = JSON.parse(text).error ?? text;
    } catch {
      /* plain text */
    }
    throw new ApiError(msg || resp.statusText, resp.status);
  }
  const blob = await resp.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  return blob.size;
}
