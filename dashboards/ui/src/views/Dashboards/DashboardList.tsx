// `/dashboards`: every dashboard — built in, provisioned (read-only, with its file) and the
// users' — searchable by title and tag, with New and Import, the service overviews, and the
// provisioning files that did not load.

import { useState } from "preact/hooks";
import { dashboards, type Source } from "../../api/dashboards";
import { dashboardHref, matchesSearch } from "../../lib/dashUrl";
import { formatTime } from "../../lib/time";
import { usePoll } from "../Alerts/usePoll";
import { ImportDialog } from "./ImportDialog";
import css from "./Dashboards.module.css";

const SOURCE_TEXT: Record<Source, string> = { builtin: "built in", provisioned: "provisioned", user: "saved here" };


export function DashboardList() {
  const list = usePoll((signal) => dashboards.list(signal), [], 60_000);
  const [q, setQ] = useState("");
  const [importing, setImporting] = useState(false);
  const rows = (list.data?.dashboards ?? []).filter((d) => matchesSearch(d.title, d.tags ?? [], q));
  const order: Source[] = ["builtin", "provisioned", "user"];
  rows.sort((a, b) => order.indexOf(a.source) - order.indexOf(b.source) || a.title.localeCompare(b.title));

  return (
    <div class={css.area}>
      <header class={css.listHead}>
        <h1>Dashboards</h1>
        <label class={css.search}>
          <span class="visually-hidden">Search dashboards by title or tag</span>
          <input class="input" type="search" placeholder="Search by title or tag" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <a class="btn primary" href="/dashboards/new">New dashboard</a>
        <button type="button" class="btn" onClick={() => setImporting(true)}>Import</button>
      </header>
      {list.error && <p class="error-text" role="alert">{list.error}</p>}
      {(list.data?.errors ?? []).length > 0 && (
        <div class={css.notice} role="alert">
          <strong>Provisioned dashboards that did not load:</strong>
          <ul>{list.data!.errors.map((e) => <li key={e.path}><code>{e.path}</code>: {e.error}</li>)}</ul>
        </div>
      )}
      {!list.data && !list.error && <p role="status">Loading…</p>}
      <table class={css.listTable} aria-label="Dashboards">
        <thead>
          <tr>
            <th scope="col">Title</th>
            <th scope="col">Tags</th>
            <th scope="col">Source</th>
            <th scope="col" class={css.num}>Panels</th>
            <th scope="col" class={css.num}>Version</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {matchesSearch("Service overview", ["builtin"], q) && (
            <tr>
              <th scope="row"><a href="/dashboards/services">Service overview</a></th>
              <td />
              <td>built in · every service that sends data</td>
              <td class={css.num}>—</td>
              <td class={css.num}>—</td>
              <td />
            </tr>
          )}
          {rows.map((d) => (
            <tr key={d.uid}>
              <th scope="row"><a href={dashboardHref(d.uid)}>{d.title}</a></th>
              <td>{(d.tags ?? []).map((t) => <button key={t} type="button" class={css.tag} onClick={() => setQ(t)} aria-label={`Show dashboards tagged ${t}`}>{t}</button>)}</td>
              <td>
                {SOURCE_TEXT[d.source]}
                {d.source === "provisioned" && <> · read-only, from <code>{d.path}</code></>}
                {d.source === "builtin" && " · read-only"}
              </td>
              <td class={css.num}>{d.panels}</td>
              <td class={css.num}>{d.version}</td>
              <td>{d.updated_at ? formatTime(Date.parse(d.updated_at), "local", false) : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && rows.length === 0 && <p class={css.empty}>{q ? "No dashboard matches." : "No dashboards yet: create one or import a Grafana dashboard."}</p>}
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
    </div>
  );
}
