// One check: its state and last result (with the TLS certificate's expiry), the probes'
// response time over 24 h, 90 daily uptime bars (hover or focus: the day's uptime and
// incidents), and the incidents of the last 90 days with their causes and durations.

import { useMemo } from "preact/hooks";
import type uPlot from "uplot";
import { checks, type DayUptime } from "../../api/checks";
import { UPlotChart } from "../../components/Chart/UPlotChart";
import { relative, when } from "../Alerts/state";
import { usePoll } from "../Alerts/usePoll";
import { STATE_TEXT } from "./Checks";
import { dayClass, dur, pct } from "./format";
import css from "./Checks.module.css";

const DAY_S = 86_400;

export function CheckPage({ id }: { id: string }) {
  const list = usePoll((signal) => checks.list(signal), [], 10_000);
  // Days of the browser's time zone, as every other time on the page is shown.
  const daily = usePoll((signal) => checks.daily(id, 90, signal, browserTimeZone()), [id], 60_000);
  const uptime = usePoll((signal) => checks.uptime(id, "now-90d", signal), [id], 30_000);
  const latency = usePoll((signal) => checks.latency(id, DAY_S, 300, signal), [id], 60_000);
  const check = list.data?.checks.find((c) => c.id === id);

  const data = useMemo<uPlot.AlignedData>(() => {
    const series = latency.data?.data.result[0]?.values ?? [];
    return [series.map((v) => v[0]), series.map((v) => Number(v[1]) * 1000)];
  }, [latency.data]);
  const options = useMemo<Omit<uPlot.Options, "width" | "height">>(
    () => ({
      series: [{}, { label: "latency (ms)", stroke: "#1f5fc9", width: 1.5, points: { show: false } }],
      axes: [{}, { label: "ms" }],
      legend: { show: true },
    }),
    [],
  );

  if (list.data && !check) {
    return (
      <div class={css.area}>
        <h1>No check {id}</h1>
        <p><a href="/checks">All checks</a></p>
      </div>
    );
  }
  const last = check?.last_result;
  return (
    <div class={css.area}>
      <nav aria-label="Breadcrumb" class="muted"><a href="/checks">Checks</a> / {id}</nav>
      <header class={css.head}>
        <h1>{id}</h1>
        {check && <span class={`${css.state} ${css[check.state]}`} data-testid="check-state">{STATE_TEXT[check.state]}</span>}
        {check?.since && <span class="muted" title={when(check.since)}>since {relative(check.since)}</span>}
      </header>
      {check && (
        <dl class={css.facts}>
          <dt>Kind</dt><dd>{check.kind}</dd>
          <dt>Target</dt><dd class="mono">{check.target || "—"}</dd>
          <dt>Last result</dt>
          <dd>{last ? `${last.ok ? "ok" : "failed"}: ${last.reason} (${relative(last.at)})` : "—"}</dd>
          {last?.tls_expires_at && (
            <>
              <dt>Certificate expires</dt>
              <dd data-testid="tls-expiry">{when(last.tls_expires_at)} ({relative(last.tls_expires_at)})</dd>
            </>
          )}
          <dt>Uptime</dt>
          <dd>24 h {pct(check.uptime_percent["24h"])} · 7 d {pct(check.uptime_percent["7d"])} · 30 d {pct(check.uptime_percent["30d"])} · 90 d {pct(check.uptime_percent["90d"])}</dd>
        </dl>
      )}

      <section aria-labelledby="days-title" class={css.section}>
        <h2 id="days-title">Uptime, last 90 days</h2>
        {daily.error && <p class="error-text" role="alert">{daily.error}</p>}
        <DayBars days={daily.data?.days ?? []} />
      </section>

      {check?.kind !== "heartbeat" && (
        <section aria-labelledby="latency-title" class={css.section}>
          <h2 id="latency-title">Response time, last 24 hours</h2>
          {latency.error && <p class="error-text" role="alert">{latency.error}</p>}
          {latency.data && data[0].length === 0 ? (
            <p class="muted">No probe results yet.</p>
          ) : (
            <UPlotChart options={options} data={data} height={200} label={`Response time of ${id} over the last 24 hours`} />
          )}
        </section>
      )}

      <section aria-labelledby="incidents-title" class={css.section}>
        <h2 id="incidents-title">Incidents, last 90 days</h2>
        {uptime.error && <p class="error-text" role="alert">{uptime.error}</p>}
        {uptime.data && uptime.data.incidents.length === 0 && <p class="muted">None.</p>}
        {uptime.data && uptime.data.incidents.length > 0 && (
          <table class={css.table} aria-label="Incidents">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
                <th scope="col" class={css.num}>Duration</th>
                <th scope="col">Cause</th>
              </tr>
            </thead>
            <tbody>
              {uptime.data.incidents.slice().reverse().map((i) => (
                <tr key={i.start}>
                  <td>{when(i.start)}</td>
                  <td>{i.open ? <strong>ongoing</strong> : when(i.end)}</td>
                  <td class={css.num}>{dur(i.duration_secs)}</td>
                  <td>{i.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

function DayBars({ days }: { days: DayUptime[] }) {
  return (
    <>
      <ul class={css.bars} aria-label="Daily uptime">
        {days.map((d) => {
          const text = d.uptime_percent === null
            ? `${d.date}: no data`
            : `${d.date}: ${pct(d.uptime_percent)} up, ${d.incidents} incident${d.incidents === 1 ? "" : "s"}${d.downtime_secs ? `, ${dur(d.downtime_secs)} down` : ""}`;
          return (
            <li key={d.date} class={css[dayClass(d.uptime_percent)]} title={text} aria-label={text} tabIndex={0} />
          );
        })}
      </ul>
      <div class={css.barLegend}><span>90 days ago</span><span>today</span></div>
    </>
  );
}

function browserTimeZone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    return undefined;
  }
}
