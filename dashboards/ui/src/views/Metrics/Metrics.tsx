// The metrics explorer at /graph: a PromQL query run as a range query over the time range
// (the step chosen from the chart's width, or typed), drawn as lines or stacked, or as a
// table of the instant query at the range's end. Everything is in the URL.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../../api/client";
import { prom, type InstantResult } from "../../api/prom";
import { TimeRangePicker } from "../../components/TimeRangePicker/TimeRangePicker";
import { autoStep, clampStep, errorPosition, formatStep, parseStep, seriesService, type Metric } from "../../lib/promql";
import { alignMatrix, type Aligned } from "../../lib/promqlData";
import { decodeMetrics, encodeMetrics, type MetricsState } from "../../lib/promqlUrl";
import { navigate, useLocation } from "../../lib/router";
import { isRelative, resolveRange, type ResolvedRange } from "../../lib/time";
import { exploreHref } from "../../lib/url";
import { Graph } from "./Graph";
import { PromEditor } from "./PromEditor";
import { ResultTable } from "./ResultTable";
import css from "./Metrics.module.css";

type Outcome =
  | { kind: "idle" }
  | { kind: "loading" }
  | { kind: "error"; message: string; index: number | null }
  | { kind: "graph"; data: Aligned; stepS: number; range: ResolvedRange; warnings: string[] }
  | { kind: "table"; result: InstantResult; timeS: number; warnings: string[] };

export function Metrics() {
  const loc = useLocation();
  const state = decodeMetrics(loc.search);
  const update = (p: Partial<MetricsState>, replace = true) => navigate(encodeMetrics({ ...state, ...p }), { replace });
  const [draft, setDraft] = useState(state.query);
  const [stepDraft, setStepDraft] = useState(state.step);
  const [outcome, setOutcome] = useState<Outcome>({ kind: "idle" });
  const [runs, setRuns] = useState(0);
  const [running, setRunning] = useState(false);
  const [autoStepS, setAutoStepS] = useState<number | null>(null);
  const box = useRef<HTMLDivElement>(null);

  // Back and forward (or a link) change the query under the editor.
  useEffect(() => setDraft(state.query), [state.query]);
  useEffect(() => setStepDraft(state.step), [state.step]);

  const stepTyped = state.step ? parseStep(state.step) : null;
  const stepBad = state.step !== "" && stepTyped === null;

  useEffect(() => {
    const query = state.query.trim();
    setRunning(false);
    if (!query) return setOutcome({ kind: "idle" });
    const range = resolveRange(state, Date.now());
    if (!range) return setOutcome({ kind: "error", message: "The time range is not valid.", index: null });
    const width = box.current?.clientWidth || 1000;
    const auto = autoStep(range.endMs - range.startMs, width);
    setAutoStepS(auto);
    const stepS = stepTyped !== null ? clampStep(stepTyped, range.endMs - range.startMs) : auto;
    const ctl = new AbortController();
    setRunning(true);
    const done = () => !ctl.signal.aborted && setRunning(false);
    setOutcome((o) => (o.kind === "graph" || o.kind === "table" ? o : { kind: "loading" }));
    const fail = (e: unknown) => {
      if (isAbort(e)) return;
      const message = e instanceof ApiError || e instanceof Error ? e.message : String(e);
      setOutcome({ kind: "error", message, index: errorPosition(query, message) });
    };
    if (state.view === "table") {
      const timeS = range.endMs / 1000;
      prom.query(query, timeS, ctl.signal).then((r) => setOutcome({ kind: "table", result: r.data, timeS, warnings: r.warnings ?? [] }), fail).finally(done);
    } else {
      // Steps fall on multiples of the step, so a refreshed chart keeps its points.
      const startS = Math.floor(range.startMs / 1000 / stepS) * stepS;
      const endS = Math.ceil(range.endMs / 1000 / stepS) * stepS;
      prom.queryRange(query, startS, endS, stepS, ctl.signal).then(
        (r) => setOutcome({ kind: "graph", data: alignMatrix(r.data.result, startS, endS, stepS), stepS, range, warnings: r.warnings ?? [] }),
        fail,
      ).finally(done);
    }
    return () => ctl.abort();
  }, [state.query, state.start, state.end, state.step, state.view, runs]);

  useEffect(() => {
    if (state.refresh === "off" || !isRelative(state) || !state.query) return;
    const ms = { "5s": 5000, "10s": 10_000, "30s": 30_000, "1m": 60_000, "5m": 300_000 }[state.refresh];
    const t = window.setInterval(() => setRuns((n) => n + 1), ms);
    return () => window.clearInterval(t);
  }, [state.refresh, state.start, state.end, state.query]);

  const run = (q: string) => {
    if (q.trim() === state.query.trim()) setRuns((n) => n + 1);
    else update({ query: q.trim() }, false);
  };

  const logsHref = (metric: Metric): string | null => {
    const service = seriesService(metric);
    if (!service) return null;
    const value = /^[A-Za-z0-9_.\-/]+$/.test(service) ? service : JSON.stringify(service);
    return exploreHref({ query: `service:${value}`, start: state.start, end: state.end });
  };

  const shownStep = outcome.kind === "graph" ? outcome.stepS : stepTyped ?? autoStepS;

  return (
    <div class={css.area}>
      <h1 class="visually-hidden">Metrics</h1>
      <form
        class={css.toolbar}
        onSubmit={(e) => {
          e.preventDefault();
          run(draft);
        }}
      >
        <PromEditor
          value={draft}
          onChange={setDraft}
          onRun={run}
          error={outcome.kind === "error" && outcome.index !== null ? { message: outcome.message, index: outcome.index } : outcome.kind === "error" ? { message: outcome.message, index: null } : null}
        />
        <TimeRangePicker
          range={state}
          tz={state.tz}
          refresh={state.refresh}
          onChange={(r) => update({ start: r.start, end: r.end }, false)}
          onTz={(tz) => update({ tz })}
          onRefresh={(refresh) => update({ refresh })}
        />
        <button type="submit" class="btn primary">Run query</button>
      </form>
      <div class={css.controls}>
        <div class={css.tabs} role="group" aria-label="View">
          <button type="button" class="btn small" aria-pressed={state.view === "graph"} onClick={() => update({ view: "graph" })}>Graph</button>
          <button type="button" class="btn small" aria-pressed={state.view === "table"} onClick={() => update({ view: "table" })}>Table</button>
        </div>
        {state.view === "graph" && (
          <label class={css.check}>
            <input type="checkbox" checked={state.stacked} onChange={(e) => update({ stacked: e.currentTarget.checked })} />
            Stacked
          </label>
        )}
        {state.view === "graph" && (<>
        <label class={css.field}>
          <span>Step</span>
          <input
            class={`input ${css.step}`}
            value={stepDraft}
            placeholder={autoStepS ? `auto (${formatStep(autoStepS)})` : "auto"}
            aria-invalid={stepBad ? true : undefined}
            aria-describedby="step-note"
            onInput={(e) => setStepDraft(e.currentTarget.value)}
            onBlur={() => stepDraft.trim() !== state.step && update({ step: stepDraft.trim() })}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                update({ step: stepDraft.trim() });
              }
            }}
          />
        </label>
        <span id="step-note" class={stepBad ? "error-text" : "muted"} role="status">
          {stepBad
            ? `"${state.step}" is not a step (try 15s, 1m, 1h); using auto`
            : shownStep
              ? `${stepTyped !== null ? "step" : "auto step"} ${formatStep(shownStep)}${stepTyped !== null && shownStep !== stepTyped ? " (raised to stay under 11,000 points)" : ""}`
              : ""}
        </span>
        </>)}
        {running && outcome.kind !== "loading" && <span class="muted">Running…</span>}
      </div>
      <div class={css.results} ref={box} aria-busy={running}>
        {outcome.kind === "error" && (
          <div id="promql-error" class={css.error} role="alert">
            <strong>Query failed:</strong> {outcome.message}
          </div>
        )}
        {outcome.kind === "idle" && <p class="muted">Enter a PromQL query and press Enter. Metric names are offered as you type.</p>}
        {outcome.kind === "loading" && <p class="muted" role="status">Running…</p>}
        {(outcome.kind === "graph" || outcome.kind === "table") && outcome.warnings.map((w) => <p key={w} class={css.warning}>{w}</p>)}
        {outcome.kind === "graph" && (
          <Graph data={outcome.data} stacked={state.stacked} tz={state.tz} logsHref={logsHref} onZoom={(s, e) => update({ start: s, end: e }, false)} />
        )}
        {outcome.kind === "table" && <ResultTable result={outcome.result} timeS={outcome.timeS} tz={state.tz} logsHref={logsHref} />}
      </div>
    </div>
  );
}
