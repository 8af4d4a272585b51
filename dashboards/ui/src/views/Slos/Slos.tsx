// SLOs: a list sorted by the error budget left (the most urgent first), and a page per SLO
// with its budget over the window, the burn rate of every alerting window pair and whether
// each burn-rate alert's condition holds.

import { useMemo } from "preact/hooks";
import type uPlot from "uplot";
import { slos, type SloStatus } from "../../api/slos";
import { UPlotChart } from "../../components/Chart/UPlotChart";
import { useLocation } from "../../lib/router";
import { when } from "../Alerts/state";
import { usePoll } from "../Alerts/usePoll";
import { dur, pct } from "../Checks/format";
import css from "../Checks/Checks.module.css";

const left = (s: SloStatus) => s.error_budget.remaining_fraction;

export function budgetText(f: number | null): string {
  if (f === null) return "no data";
  return `${(f * 100).toFixed(1)}%`;
}

export function Slos() {
  const loc = useLocation();
  const name = loc.pathname.startsWith("/slos/") ? decodeURIComponent(loc.pathname.slice("/slos/".length)) : null;
  const list = usePoll((signal) => slos.list(signal), [], 30_000);
  if (name) return <SloPage name={name} status={list.data?.slos.find((s) => s.name === name) ?? null} loaded={!!list.data} error={list.error} />;
  // No data sorts last; overspent (negative) first.
  const rows = (list.data?.slos ?? []).slice().sort((a, b) => (left(a) ?? Infinity) - (left(b) ?? Infinity));
  return (
    <div class={css.area}>
      <header class={css.head}><h1>SLOs</h1></header>
      {list.error && <p class="error-text" role="alert">{list.error}</p>}
      {!list.data && <p role="status">Loading…</p>}
      {list.data && rows.length === 0 && <p class="muted">No SLOs are configured (<code>[[alerting.slos]]</code>; see docs/alerting/slos.md).</p>}
      {rows.length > 0 && (
        <table class={css.table} aria-label="SLOs">
          <thead>
            <tr>
              <th scope="col">SLO</th>
              <th scope="col" class={css.num}>Objective</th>
              <th scope="col">Window</th>
              <th scope="col" class={css.num}>SLI</th>
              <th scope="col" class={css.num}>Budget left</th>
              <th scope="col">Alerts</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => {
              const f = left(s);
              return (
                <tr key={s.name}>
                  <th scope="row"><a href={`/slos/${encodeURIComponent(s.name)}`}>{s.name}</a>{s.description && <div class="muted">{s.description}</div>}</th>
                  <td class={css.num}>{pct(s.objective_percent)}</td>
                  <td>{s.window}</td>
                  <td class={css.num}>{pct(s.sli_percent)}</td>
                  <td class={`${css.num} ${f !== null && f < 0 ? css.down : f !== null && f < 0.25 ? css.warnText : ""}`}>{budgetText(f)}</td>
                  <td>{s.alerts.filter((a) => a.met).map((a) => a.severity).join(", ") || <span class="muted">none</span>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

function SloPage({ name, status, loaded, error }: { name: string; status: SloStatus | null; loaded: boolean; error: string | null }) {
  const budget = usePoll((signal) => slos.budget(name, 60, signal), [name], 60_000);
  const data = useMemo<uPlot.AlignedData>(() => {
    const pts = budget.data?.points ?? [];
    return [pts.map((p) => p.at_ns / 1e9), pts.map((p) => (p.remaining_fraction === null ? null : p.remaining_fraction * 100))];
  }, [budget.data]);
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(
    () => ({
      // Points drawn: a young SLO has data only at its last few instants.
      series: [{}, { label: "budget left (%)", stroke: "#1f5fc9", fill: "rgba(31,95,201,0.12)", width: 1.5, points: { show: true, size: 5 } }],
      axes: [{}, { label: "%" }],
    }),
    [],
  );
  if (loaded && !status) {
    return (
      <div class={css.area}>
        <h1>No SLO {name}</h1>
        <p><a href="/slos">All SLOs</a></p>
      </div>
    );
  }
  return (
    <div class={css.area}>
      <nav aria-label="Breadcrumb" class="muted"><a href="/slos">SLOs</a> / {name}</nav>
      <header class={css.head}><h1>{name}</h1>{status?.description && <span class="muted">{status.description}</span>}</header>
      {error && <p class="error-text" role="alert">{error}</p>}
      {status && (
        <dl class={css.facts}>
          <dt>Objective</dt><dd>{pct(status.objective_percent)} over {status.window}{status.time_zone ? ` (${status.time_zone})` : ""}</dd>
          <dt>Window</dt><dd>{when(status.window_start)} → {when(status.window_end)}</dd>
          <dt>SLI</dt><dd data-testid="slo-sli">{pct(status.sli_percent)}</dd>
          <dt>Error budget</dt>
          <dd data-testid="slo-budget">
            {budgetText(status.error_budget.remaining_fraction)} left of {dur(status.error_budget.total_secs)}
            {status.error_budget.consumed_secs !== null && ` (${dur(Math.max(0, status.error_budget.consumed_secs))} spent)`}
          </dd>
          <dt>At the last hour's burn rate</dt>
          <dd>{status.time_to_exhaustion_secs === null ? "the budget is not running out" : `spent in ${dur(status.time_to_exhaustion_secs)}`}</dd>
          {status.errors.length > 0 && (<><dt>Errors</dt><dd class="error-text">{status.errors.join("; ")}</dd></>)}
        </dl>
      )}
      <section aria-labelledby="budget-title" class={css.section}>
        <h2 id="budget-title">Error budget left over the window</h2>
        {budget.error && <p class="error-text" role="alert">{budget.error}</p>}
        <UPlotChart options={options} data={data} height={200} label={`Error budget of ${name} over its window`} />
      </section>
      {status && (
        <section aria-labelledby="burn-title" class={css.section}>
          <h2 id="burn-title">Burn rates</h2>
          <table class={css.table} aria-label="Burn-rate alerts">
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">Long window</th>
                <th scope="col" class={css.num}>Burn rate</th>
                <th scope="col">Short window</th>
                <th scope="col" class={css.num}>Burn rate</th>
                <th scope="col" class={css.num}>Threshold</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {status.alerts.map((a) => (
                <tr key={`${a.long_window}-${a.short_window}`}>
                  <th scope="row">{a.severity}</th>
                  <td>{a.long_window}</td>
                  <td class={css.num}>{rate(a.long_burn_rate)}</td>
                  <td>{a.short_window}</td>
                  <td class={css.num}>{rate(a.short_burn_rate)}</td>
                  <td class={css.num}>{a.factor}×</td>
                  <td>{a.met ? <strong class={css.down}>firing</strong> : "ok"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">
            Burn rate 1 spends the budget exactly over the window. Current rates: {status.burn_rates.map((b) => `${b.window} ${rate(b.burn_rate)}`).join(" · ")}.
            {" "}<a href={`/alerts?filter=${encodeURIComponent(`slo="${name}"`)}`}>This SLO's alerts</a>
          </p>
        </section>
      )}
    </div>
  );
}

function rate(r: number | null): string {
  return r === null ? "—" : r.toFixed(2);
}
