// The log explorer: query bar, time range, histogram, fields, results (or an aggregation's
// table and chart, or the live tail), and the opened record. Everything the person chose is
// in the URL (lib/url.ts); running a query pushes a history entry, other changes replace it.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, isAbort, PageBounds } from "../../api/client";
import type { FieldStat, Hit } from "../../api/types";
import { QueryEditor } from "../../components/QueryEditor/QueryEditor";
import { TimeRangePicker } from "../../components/TimeRangePicker/TimeRangePicker";
import { byteOffsetToIndex, addFilter } from "../../lib/query";
import { rememberQuery } from "../../lib/recent";
import { navigate, useLocation } from "../../lib/router";
import { absoluteRange, isRelative, parseDuration, resolveRange } from "../../lib/time";
import { decodeExplore, encodeExplore, ExploreState } from "../../lib/url";
import { AggregationView } from "./AggregationView";
import { ExportMenu } from "./ExportMenu";
import { FieldsSidebar } from "./FieldsSidebar";
import { Histogram } from "./Histogram";
import { LiveTail } from "./LiveTail";
import { RecordPanel } from "./RecordPanel";
import { ResultsTable } from "./ResultsTable";
import { useSearch } from "./useSearch";
import css from "./Explore.module.css";

export function Explore() {
  const loc = useLocation();
  const state = useMemo(() => decodeExplore(loc.search), [loc.search]);
  const stateRef = useRef(state);
  stateRef.current = state;
  const update = useCallback((patch: Partial<ExploreState>, push = false) => {
    navigate(`/explore${encodeExplore({ ...stateRef.current, ...patch })}`, { replace: !push });
  }, []);

  const [draft, setDraft] = useState(state.query);
  // The query bar follows the address (back, forward, a facet, a link) unless the person has
  // typed since: an update that lands late must not overwrite what they are typing.
  const synced = useRef(state.query);
  useEffect(() => {
    setDraft((d) => (d === synced.current ? state.query : d));
    synced.current = state.query;
  }, [state.query]);
  const [nonce, setNonce] = useState(0);
  const live = state.mode === "live";
  const { result, loadMore } = useSearch(state, nonce, !live);

  const run = (text: string) => {
    rememberQuery(text);
    if (text === state.query) setNonce((n) => n + 1);
    else update({ query: text, record: null, context: false }, true);
  };

  // Auto-refresh re-runs a relative range (an absolute one would show the same thing).
  useEffect(() => {
    const ms = state.refresh === "off" ? null : parseDuration(state.refresh);
    if (!ms || live || !isRelative(state)) return;
    const id = setInterval(() => setNonce((n) => n + 1), ms);
    return () => clearInterval(id);
  }, [state.refresh, state.start, state.end, live]);

  // Field names and top values for completion, fetched when the query bar is first used.
  const [fields, setFields] = useState<FieldStat[]>([]);
  const fieldsFor = useRef<string | null>(null);
  const wantFields = () => {
    const key = `${state.start}|${state.end}`;
    if (fieldsFor.current === key) return;
    fieldsFor.current = key;
    const range = resolveRange(state, Date.now());
    if (range) api.fields(range, 20).then((f) => setFields(f.fields), (e) => isAbort(e) || (fieldsFor.current = null));
  };

  const onFilter = (field: string, value: string, negate: boolean) => {
    const next = addFilter(state.query, field, value, negate);
    rememberQuery(next);
    setDraft(next);
    update({ query: next }, true);
  };
  const onToggleColumn = (field: string) =>
    update({ columns: state.columns.includes(field) ? state.columns.filter((c) => c !== field) : [...state.columns, field] });
  const onOpen = (hit: Hit) => update({ record: hit.record_id });
  const onClose = useCallback(() => update({ record: null, context: false }), []);

  // `/` focuses the query bar; `l` toggles live tail.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest("input, textarea, select, [contenteditable]") || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "/") {
        e.preventDefault();
        document.querySelector<HTMLTextAreaElement>("textarea[aria-label=Query]")?.focus();
      } else if (e.key === "l") {
        update({ mode: stateRef.current.mode === "live" ? "search" : "live" });
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const error = result.error;
  const editorError = error && result.status === "error" ? { message: error.message, index: error.position === null ? null : byteOffsetToIndex(state.query, error.position) } : null;
  const bounds: PageBounds | null = result.range ? { start: result.range.startMs, end: result.range.endMs } : null;
  const loadedHit = state.record ? (result.hits.find((h) => h.record_id === state.record) ?? null) : null;

  return (
    <div class={css.explore}>
      <h1 class="visually-hidden">Explore logs</h1>
      <form
        class={css.toolbar}
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          run(draft);
        }}
      >
        <QueryEditor
          value={draft}
          onChange={setDraft}
          onRun={run}
          fields={fields}
          onWantFields={wantFields}
          error={editorError}
          placeholder='Search: level:error service:checkout "payment declined" | stats count() by service'
        />
        <TimeRangePicker
          range={state}
          tz={state.tz}
          refresh={state.refresh}
          onChange={(r) => update({ ...r }, true)}
          onTz={(tz) => update({ tz })}
          onRefresh={(refresh) => update({ refresh })}
        />
        <button type="submit" class="btn primary">Search</button>
        <button type="button" class="btn" aria-pressed={live} onClick={() => update({ mode: live ? "search" : "live" })}>
          {live ? "Stop live tail" : "Live tail"}
        </button>
      </form>
      <div class={css.body}>
        {!live && result.kind === "hits" && (
          <FieldsSidebar hits={result.hits} query={state.query} bounds={bounds} columns={state.columns} onFilter={onFilter} onToggleColumn={onToggleColumn} />
        )}
        <section class={css.results} aria-label="Results">
          {live ? (
            <LiveTail query={state.query} tz={state.tz} columns={state.columns} selectedId={state.record} onOpen={onOpen} />
          ) : (
            <>
              {result.histogram && result.range && (
                <Histogram histogram={result.histogram} range={result.range} tz={state.tz} onZoom={(s, e) => update({ ...absoluteRange(s, e) }, true)} />
              )}
              {result.histogramError && <p class="error-text">Histogram: {result.histogramError.message}</p>}
              <div class={css.summary}>
                <span role="status" aria-live="polite" data-testid="summary">
                  {result.status === "loading" ? "Searching…" : result.status === "error" ? "The search failed." : result.status === "done" ? summaryText(result) : ""}
                </span>
                {result.kind === "hits" && result.status !== "error" && (
                  <label class={css.order}>
                    Order
                    <select class="input" value={state.order} onChange={(e) => update({ order: e.currentTarget.value as "asc" | "desc" }, true)}>
                      <option value="desc">newest first</option>
                      <option value="asc">oldest first</option>
                    </select>
                  </label>
                )}
                <ExportMenu query={state.query} range={result.range} />
              </div>
              {error && result.status === "error" && !editorError?.message && <p class="error-text">{error.message}</p>}
              {result.kind === "table" && result.table ? (
                <AggregationView table={result.table} tz={state.tz} chart={state.chart} onChart={(chart) => update({ chart })} />
              ) : (
                <ResultsTable
                  hits={result.hits}
                  version={result.version}
                  total={result.total}
                  columns={state.columns}
                  tz={state.tz}
                  selectedId={state.record}
                  onOpen={onOpen}
                  onEndReached={result.canLoadMore ? loadMore : undefined}
                  label="Log records"
                  footer={result.loadingMore ? "Loading more…" : result.status === "done" && result.hits.length > 0 && !result.canLoadMore ? endText(result.hits.length, result.total) : result.status === "done" && result.hits.length === 0 ? "No records match in this time range." : null}
                />
              )}
            </>
          )}
        </section>
        {state.record && (
          <RecordPanel
            recordId={state.record}
            loaded={loadedHit}
            tz={state.tz}
            showContext={state.context}
            onClose={onClose}
            onToggleContext={() => update({ context: !state.context })}
            onOpenRecord={(id) => update({ record: id })}
            onFilter={onFilter}
          />
        )}
      </div>
    </div>
  );
}

function summaryText(r: { kind: string; total: number; tookMs: number; hits: Hit[] }): string {
  const took = `${r.tookMs.toFixed(1)} ms`;
  if (r.kind === "table") return `${r.total.toLocaleString()} records aggregated (server ${took})`;
  return `${r.total.toLocaleString()} records, ${r.hits.length.toLocaleString()} loaded (server ${took})`;
}

function endText(loaded: number, total: number): string {
  return loaded >= total ? `All ${total.toLocaleString()} records shown.` : `${loaded.toLocaleString()} of ${total.toLocaleString()} records loaded (the list stops here).`;
}
