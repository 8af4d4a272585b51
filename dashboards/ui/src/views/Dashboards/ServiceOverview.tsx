// The built-in service overview: `/dashboards/services` lists every service that sends data
// (the log field `service` and the metrics' `job` label); `/dashboards/services/{service}`
// shows its RED panels — from its HTTP metrics when it has them, else from its logs — and
// its newest errors, drawn by the same panels as any dashboard.

import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../../api/client";
import { prom } from "../../api/prom";
import { serviceHref } from "../../lib/dashUrl";
import { quoteValue } from "../../lib/query";
import { probes, serviceDashboard, SOURCE_TEXT, type OverviewSource } from "../../lib/serviceOverview";
import { resolveRange } from "../../lib/time";
import { exploreHref } from "../../lib/url";
import { TimeRangePicker } from "../../components/TimeRangePicker/TimeRangePicker";
import { usePoll } from "../Alerts/usePoll";
import { Grid } from "./Grid";
import { useDashState } from "./useDashState";
import css from "./Dashboards.module.css";

interface ServiceRow {
  name: string;
  logs: number | null;
  metrics: boolean;
}

async function listServices(signal: AbortSignal): Promise<ServiceRow[]> {
  const range = resolveRange({ start: "now-24h", end: "now" }, Date.now())!;
  const [logs, jobs] = await Promise.all([
    api.query("* | top 500 service", { start: range.startMs, end: range.endMs }, 500, signal).catch(() => null),
    prom.labelValues("job", null, signal).catch(() => [] as string[]),
  ]);
  const rows = new Map<string, ServiceRow>();
  if (logs?.kind === "table") {
    for (const r of logs.rows) if (typeof r[0] === "string" && r[0]) rows.set(r[0], { name: r[0], logs: Number(r[1]), metrics: false });
  }
  for (const j of jobs) rows.set(j, { ...(rows.get(j) ?? { name: j, logs: null }), metrics: true });
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function ServiceList() {
  const list = usePoll(listServices, [], 60_000);
  return (
    <div class={css.area}>
      <header class={css.listHead}>
        <nav aria-label="Breadcrumb" class={css.crumbs}><a href="/dashboards">Dashboards</a> /</nav>
        <h1>Service overview</h1>
      </header>
      <p class="muted">Every service that sent logs in the last 24 hours or has metrics (its <code>job</code>): request rate, errors and latency, from its HTTP metrics where they exist, else from its logs.</p>
      {list.error && <p class="error-text" role="alert">{list.error}</p>}
      {!list.data && !list.error && <p role="status">Loading…</p>}
      {list.data && list.data.length === 0 && <p class={css.empty}>No service has sent data yet.</p>}
      {list.data && list.data.length > 0 && (
        <table class={css.listTable} aria-label="Services">
          <thead><tr><th scope="col">Service</th><th scope="col" class={css.num}>Log records (24 h)</th><th scope="col">Metrics</th><th scope="col">Logs</th></tr></thead>
          <tbody>
            {list.data.map((s) => (
              <tr key={s.name}>
                <th scope="row"><a href={serviceHref(s.name)}>{s.name}</a></th>
                <td class={css.num}>{s.logs === null ? "—" : s.logs.toLocaleString()}</td>
                <td>{s.metrics ? "yes" : "no"}</td>
                <td><a href={exploreHref({ query: `service:${quoteValue(s.name)}` })} aria-label={`Logs of ${s.name}`}>Explore</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

async function probe(service: string): Promise<OverviewSource> {
  for (const p of probes(service)) {
    try {
      const r = await prom.query(p.expr, Date.now() / 1000);
      if (r.data.resultType === "vector" && r.data.result.some((s) => Number(s.value[1]) > 0)) return p.source;
    } catch {
      /* no metrics store, or no such series: logs */
    }
  }
  return "logs";
}

export function ServicePage({ service }: { service: string }) {
  const [source, setSource] = useState<OverviewSource | null>(null);
  useEffect(() => {
    setSource(null);
    probe(service).then(setSource);
  }, [service]);
  const doc = useMemo(() => (source ? serviceDashboard(service, source) : null), [service, source]);
  const dash = useDashState(doc);
  const logsQuery = `service:${quoteValue(service)}`;
  return (
    <div class={css.area}>
      <header class={css.dashHead}>
        <nav aria-label="Breadcrumb" class={css.crumbs}><a href="/dashboards">Dashboards</a> / <a href="/dashboards/services">Service overview</a> /</nav>
        <h1>{service}</h1>
        <div class={css.toolbar} role="toolbar" aria-label="Service overview">
          <TimeRangePicker range={dash.range} tz={dash.state.tz} refresh={dash.refresh} onChange={dash.setRange} onTz={dash.setTz} onRefresh={dash.setRefresh} />
          <button type="button" class="btn" onClick={dash.reload}>Refresh</button>
          <a class="btn" href={exploreHref({ query: logsQuery, start: dash.range.start, end: dash.range.end })}>Logs of {service}</a>
        </div>
      </header>
      {source ? (
        <p class="muted" data-testid="overview-source">Request rate, errors and latency {SOURCE_TEXT[source]}; newest errors from logs.</p>
      ) : (
        <p role="status">Looking for the HTTP metrics of {service}…</p>
      )}
      {doc && <Grid panels={doc.panels} vars={{}} range={dash.resolved} tz={dash.state.tz} tick={dash.tick} editing={false} />}
    </div>
  );
}
