// The request view: every record of one correlation or trace id across services on one time
// line (a lane per service, errors and warnings marked, durations as waterfall bars), a
// summary of the request, and the records in order with the time between them. A record
// opens in the record panel, whose context link jumps to the explorer.

import { Fragment } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, isAbort } from "../../api/client";
import type { CorrelateResult } from "../../api/types";
import { firstLine } from "../../lib/hits";
import { isProblem, levelVar } from "../../lib/levels";
import { formatDuration, layoutRequest, PlacedRecord, RequestLayout } from "../../lib/request";
import { navigate, useLocation } from "../../lib/router";
import { formatTime } from "../../lib/time";
import { decodeRequest, encodeRequest, exploreHref, RequestState } from "../../lib/url";
import { RecordPanel } from "../Explore/RecordPanel";
import css from "./RequestView.module.css";

export function RequestView() {
  const loc = useLocation();
  const state = useMemo(() => decodeRequest(loc.pathname, loc.search), [loc.pathname, loc.search]);
  const update = (patch: Partial<RequestState>) => navigate(encodeRequest({ ...state, ...patch }), { replace: true });
  const [res, setRes] = useState<CorrelateResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [input, setInput] = useState(state.id);

  useEffect(() => {
    setRes(null);
    setError(null);
    setInput(state.id);
    if (!state.id) return;
    const ctl = new AbortController();
    api.correlate(state.id, ctl.signal).then(setRes, (e) => isAbort(e) || setError(e as ApiError));
    return () => ctl.abort();
  }, [state.id]);

  const layout = useMemo(() => (res ? layoutRequest(res) : null), [res]);
  const opened = state.record ? (res?.records.find((h) => h.record_id === state.record) ?? null) : null;

  return (
    <div class={css.view}>
      <div class={css.main}>
        <form class={css.top} role="search" onSubmit={(e) => { e.preventDefault(); if (input.trim()) navigate(encodeRequest({ ...state, id: input.trim(), record: null })); }}>
          <h1 class={css.title}>Request</h1>
          <label class="visually-hidden" for="request-id">Correlation or trace id</label>
          <input id="request-id" class="input mono" value={input} onInput={(e) => setInput(e.currentTarget.value)} placeholder="correlation or trace id" />
          <button class="btn" type="submit">Show</button>
          <a class="btn" href={exploreHref({ query: `correlation_id:${quote(state.id)} OR trace_id:${quote(state.id)}`, start: "now-30d", tz: state.tz })}>Search in Explore</a>
        </form>
        {error && <p class="error-text" role="alert">{error.message}</p>}
        {!res && !error && state.id && <p class="muted" role="status">Loading…</p>}
        {res && layout && res.total === 0 && <p role="status">No records carry the id <code>{state.id}</code>.</p>}
        {res && layout && res.total > 0 && (
          <>
            <Summary res={res} layout={layout} />
            <Timeline layout={layout} selected={state.record} onOpen={(id) => update({ record: id })} />
            <RecordList layout={layout} tz={state.tz} selected={state.record} onOpen={(id) => update({ record: id })} />
          </>
        )}
      </div>
      {state.record && (
        <RecordPanel
          recordId={state.record}
          loaded={opened}
          tz={state.tz}
          showContext={false}
          onClose={() => update({ record: null })}
          onToggleContext={() => opened && navigate(contextHref(opened.record_id, opened.service, opened.timestamp, state.tz))}
          onOpenRecord={(id) => update({ record: id })}
        />
      )}
    </div>
  );
}

function quote(id: string): string {
  return /^[A-Za-z0-9_.:-]+$/.test(id) ? id : JSON.stringify(id);
}

function contextHref(recordId: string, service: string | null, timestamp: string, tz: RequestState["tz"]): string {
  const t = Date.parse(timestamp);
  return exploreHref({
    query: service ? `service:${quote(service)}` : "",
    start: new Date(t - 300_000).toISOString(), end: new Date(t + 300_000).toISOString(),
    record: recordId, context: true, tz,
  });
}

function Summary({ res, layout }: { res: CorrelateResult; layout: RequestLayout }) {
  return (
    <section class={css.summary} aria-label="Summary">
      <dl class={css.stats}>
        <div><dt>Duration</dt><dd>{formatDuration(layout.durationMs)}</dd></div>
        <div><dt>Records</dt><dd>{res.total.toLocaleString()}{res.truncated ? ` (first ${res.records.length.toLocaleString()} shown)` : ""}</dd></div>
        <div><dt>Services</dt><dd>{layout.lanes.length}</dd></div>
        <div><dt>Errors</dt><dd class={layout.errors ? "error-text" : ""}>{layout.errors}</dd></div>
        <div><dt>Warnings</dt><dd>{layout.warnings}</dd></div>
      </dl>
      <ol class={css.services} aria-label="Services crossed, in order">
        {res.services.map((s) => (
          <li key={s.service}>
            <strong>{s.service || "(no service)"}</strong> <span class="muted">{s.count} record{s.count === 1 ? "" : "s"}{s.errors ? "," : ""}</span>
            {s.errors > 0 && <span class="error-text"> {s.errors} error{s.errors === 1 ? "" : "s"}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Timeline({ layout, selected, onOpen }: { layout: RequestLayout; selected: string | null; onOpen: (id: string) => void }) {
  const span = Math.max(1, layout.endMs - layout.startMs);
  const pos = (ms: number) => `${(2 + (96 * (ms - layout.startMs)) / span).toFixed(3)}%`;
  const width = (ms: number) => `${Math.max(0.3, (96 * ms) / span).toFixed(3)}%`;
  return (
    <section class={css.timeline} aria-label="Time line, one lane per service">
      <div class={css.axis} aria-hidden="true">
        <span>0</span><span>{formatDuration(span / 2)}</span><span>{formatDuration(span)}</span>
      </div>
      {layout.lanes.map((lane, li) => (
        <div class={css.lane} key={lane} role="group" aria-label={`Service ${lane || "(none)"}`}>
          <div class={css.laneName} title={lane}>{lane || "(none)"}</div>
          <div class={css.track}>
            {layout.spans.filter((sp) => sp.lane === li).map((sp) => (
              <span
                key={sp.spanId}
                class={css.span}
                style={{ left: pos(sp.startMs), width: width(sp.endMs - sp.startMs) }}
                title={`span ${sp.spanId}: ${sp.records} records, ${formatDuration(sp.endMs - sp.startMs)}`}
                aria-hidden="true"
              />
            ))}
            {layout.records.filter((r) => r.lane === li).map((r) => (
              <Fragment key={r.hit.record_id}>
                {r.durationMs !== null && r.durationMs > 0 && (
                  <span class={css.bar} style={{ left: pos(r.timeMs - r.durationMs), width: width(r.durationMs), background: levelVar(r.hit.level) }} aria-hidden="true" />
                )}
                <button
                  type="button"
                  class={`${css.marker} ${isProblem(r.hit.level) ? css[isProblem(r.hit.level)!] : ""} ${selected === r.hit.record_id ? css.selectedMarker : ""}`}
                  style={{ left: pos(r.timeMs), background: levelVar(r.hit.level) }}
                  title={`${r.hit.level ?? ""} ${firstLine(r.hit.message).line}`}
                  aria-label={`${lane}: ${r.hit.level ?? "no level"} at +${formatDuration(r.timeMs - layout.startMs)}: ${firstLine(r.hit.message).line}`}
                  onClick={() => onOpen(r.hit.record_id)}
                />
              </Fragment>
            ))}
          </div>
        </div>
      ))}
    </section>
  );
}

function RecordList({ layout, tz, selected, onOpen }: { layout: RequestLayout; tz: RequestState["tz"]; selected: string | null; onOpen: (id: string) => void }) {
  return (
    <table class={css.records} aria-label="Records of the request, oldest first">
      <thead>
        <tr><th scope="col">Time</th><th scope="col">+ since previous</th><th scope="col">Service</th><th scope="col">Level</th><th scope="col">Duration</th><th scope="col">Message</th></tr>
      </thead>
      <tbody>
        {layout.records.map((r: PlacedRecord) => (
          <tr key={r.hit.record_id} class={selected === r.hit.record_id ? css.selectedRow : ""}>
            <td class="mono">{formatTime(r.timeMs, tz)}</td>
            <td class="mono">{r.gapMs === null ? "start" : `+${formatDuration(r.gapMs)}`}</td>
            <td>{r.hit.service}</td>
            <td class="level" style={{ color: levelVar(r.hit.level) }}>{r.hit.level}</td>
            <td class="mono">{r.durationMs === null ? "" : formatDuration(r.durationMs)}</td>
            <td>
              <button type="button" class={`btn link ${css.open}`} onClick={() => onOpen(r.hit.record_id)}>{firstLine(r.hit.message).line || "(empty message)"}</button>
              {" "}
              <a class={css.ctxLink} href={contextHref(r.hit.record_id, r.hit.service, r.hit.timestamp, tz)} aria-label={`Context of this ${r.hit.service ?? ""} record in the explorer`}>context</a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
