// Runs a search: the histogram over all hits and the first page at once (the first screen),
// then more pages as the list is scrolled. Pages follow the time order: the next page of a
// newest-first list ends just after the last hit's nanosecond, and the hits already shown at
// that nanosecond are skipped (so records sharing a timestamp are neither lost nor doubled).

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, isAbort, PageBounds } from "../../api/client";
import type { HistogramResult, Hit, TableResult } from "../../api/types";
import { timestampNs } from "../../lib/hits";
import { isAggregation, splitPipes } from "../../lib/query";
import { histogramInterval, resolveRange, ResolvedRange } from "../../lib/time";
import type { ExploreState } from "../../lib/url";

export const FIRST_PAGE = 200;
const NEXT_PAGE = 1000;
/** The most hits kept loaded: the list stays smooth far beyond what anyone scrolls. */
export const MAX_LOADED = 200_000;
const MAX_LIMIT = 10_000;

export interface SearchResult {
  status: "idle" | "loading" | "done" | "error";
  error: ApiError | null;
  range: ResolvedRange | null;
  kind: "hits" | "table";
  total: number;
  tookMs: number;
  hits: Hit[];
  /** Bumped whenever `hits` grows (the array is appended in place). */
  version: number;
  table: TableResult | null;
  histogram: HistogramResult | null;
  histogramError: ApiError | null;
  canLoadMore: boolean;
  loadingMore: boolean;
}

const EMPTY: SearchResult = {
  status: "idle", error: null, range: null, kind: "hits", total: 0, tookMs: 0, hits: [], version: 0, table: null,
  histogram: null, histogramError: null, canLoadMore: false, loadingMore: false,
};

function pageQuery(query: string, order: "asc" | "desc"): string {
  const q = query.trim() || "*";
  return order === "asc" ? `${q} | sort by _time asc` : q;
}

/** Only plain filters page by time: a `sort` or `limit` of the person's own decides the order. */
function pageable(query: string): boolean {
  return !/\|\s*(sort|limit)\b/i.test(query);
}

export function useSearch(state: ExploreState, runNonce: number, enabled: boolean) {
  const [result, setResult] = useState<SearchResult>(EMPTY);
  const hitsRef = useRef<Hit[]>([]);
  const abortRef = useRef<AbortController | null>(null);
  const pageRef = useRef<{ query: string; order: "asc" | "desc"; range: ResolvedRange; limit: number } | null>(null);

  useEffect(() => {
    if (!enabled) return;
    abortRef.current?.abort();
    const ctl = new AbortController();
    abortRef.current = ctl;
    const range = resolveRange({ start: state.start, end: state.end }, Date.now());
    if (!range) {
      setResult({ ...EMPTY, status: "error", error: new ApiError("The time range is not valid: the start must be before the end.", 400) });
      return;
    }
    const query = state.query;
    const aggregation = isAggregation(query);
    hitsRef.current = [];
    pageRef.current = null;
    setResult((r) => ({ ...r, status: "loading", error: null, range }));
    const bounds: PageBounds = { start: range.startMs, end: range.endMs };
    const filter = splitPipes(query).filter.trim();
    const histogram = aggregation
      ? Promise.resolve(null)
      : api.histogram(filter === "*" ? "" : filter, range, histogramInterval(range), ctl.signal).catch((e) => {
          if (isAbort(e)) throw e;
          return e as ApiError;
        });
    const main = api.query(aggregation ? query : pageQuery(query, state.order), bounds, aggregation ? MAX_LIMIT : FIRST_PAGE, ctl.signal);
    Promise.all([main, histogram]).then(
      ([res, hist]) => {
        if (ctl.signal.aborted) return;
        const h = hist instanceof ApiError ? null : hist;
        const hErr = hist instanceof ApiError ? hist : null;
        if (res.kind === "table") {
          setResult({ ...EMPTY, status: "done", range, kind: "table", total: res.total, tookMs: res.took_ms, table: res, histogram: h, histogramError: hErr });
          return;
        }
        hitsRef.current = res.hits;
        const more = pageable(query) && res.hits.length === FIRST_PAGE && res.total > FIRST_PAGE;
        pageRef.current = more ? { query: pageQuery(query, state.order), order: state.order, range, limit: NEXT_PAGE } : null;
        setResult({
          ...EMPTY, status: "done", range, kind: "hits", total: res.total, tookMs: res.took_ms, hits: hitsRef.current,
          version: 1, histogram: h, histogramError: hErr, canLoadMore: more,
        });
      },
      (e) => {
        if (isAbort(e)) return;
        setResult({ ...EMPTY, status: "error", range, error: e instanceof ApiError ? e : new ApiError(String(e), 0) });
      },
    );
    return () => ctl.abort();
  }, [state.query, state.start, state.end, state.order, runNonce, enabled]);

  const loadingMore = useRef(false);
  const loadMore = useCallback(async () => {
    const page = pageRef.current;
    const hits = hitsRef.current;
    if (!page || loadingMore.current || hits.length === 0 || hits.length >= MAX_LOADED) return;
    loadingMore.current = true;
    setResult((r) => ({ ...r, loadingMore: true }));
    const signal = abortRef.current?.signal;
    try {
      const boundaryNs = timestampNs(hits[hits.length - 1].timestamp);
      const seen = new Set<string>();
      for (let i = hits.length - 1; i >= 0 && timestampNs(hits[i].timestamp) === boundaryNs; i--) seen.add(hits[i].record_id);
      const bounds: PageBounds =
        page.order === "desc"
          ? { start: page.range.startMs, end: (boundaryNs + 1n).toString() }
          : { start: boundaryNs.toString(), end: page.range.endMs };
      // A page must reach past the records sharing the boundary time, or it would repeat.
      const limit = Math.min(MAX_LIMIT, Math.max(page.limit, seen.size + NEXT_PAGE));
      const res = await api.query(page.query, bounds, limit, signal);
      if (signal?.aborted || pageRef.current !== page || res.kind !== "hits") return;
      const fresh = res.hits.filter((h) => !seen.has(h.record_id));
      hits.push(...fresh);
      const done = res.hits.length < limit || fresh.length === 0 || hits.length >= MAX_LOADED;
      if (done) pageRef.current = null;
      setResult((r) => ({ ...r, hits, version: r.version + 1, canLoadMore: !done, loadingMore: false }));
    } catch (e) {
      if (!isAbort(e)) setResult((r) => ({ ...r, loadingMore: false, error: e instanceof ApiError ? e : new ApiError(String(e), 0) }));
    } finally {
      loadingMore.current = false;
    }
  }, []);

  return { result, loadMore };
}
