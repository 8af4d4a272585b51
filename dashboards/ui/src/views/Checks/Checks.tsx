// The checks area: every check with its state, last latency and uptime over 24 h, 7 d, 30 d
// and 90 d (`/checks`), and a page per check (`/checks/{id}`).

import { checks, type CheckView } from "../../api/checks";
import { useLocation } from "../../lib/router";
import { relative, when } from "../Alerts/state";
import { usePoll } from "../Alerts/usePoll";
import { CheckPage } from "./CheckPage";
import { Notices } from "./Notices";
import { pct } from "./format";
import css from "./Checks.module.css";

export function Checks() {
  const loc = useLocation();
  const id = loc.pathname.startsWith("/checks/") ? decodeURIComponent(loc.pathname.slice("/checks/".length)) : null;
  return id ? <CheckPage id={id} /> : <CheckList />;
}

export const STATE_TEXT: Record<CheckView["state"], string> = { up: "Up", down: "Down", unknown: "Unknown" };

function CheckList() {
  const list = usePoll((signal) => checks.list(signal), [], 10_000);
  const rows = list.data?.checks ?? [];
  return (
    <div class={css.area}>
      <header class={css.head}>
        <h1>Checks</h1>
        <a href="/status" class="btn small">Status page</a>
      </header>
      {list.error && <p class="error-text" role="alert">{list.error}</p>}
      {!list.data && <p role="status">Loading…</p>}
      {list.data && rows.length === 0 && (
        <p class="muted">No checks are configured (<code>[[checks]]</code> in the config; see docs/configuration.md).</p>
      )}
      {rows.length > 0 && (
        <table class={css.table} aria-label="Checks">
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">State</th>
              <th scope="col">Kind</th>
              <th scope="col">Target</th>
              <th scope="col" class={css.num}>Latency</th>
              <th scope="col" class={css.num}>24 h</th>
              <th scope="col" class={css.num}>7 d</th>
              <th scope="col" class={css.num}>30 d</th>
              <th scope="col" class={css.num}>90 d</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.id}>
                <th scope="row"><a href={`/checks/${encodeURIComponent(c.id)}`}>{c.id}</a></th>
                <td>
                  <span class={`${css.state} ${css[c.state]}`}>{STATE_TEXT[c.state]}</span>{" "}
                  <span class="muted" title={when(c.since)}>{c.since ? relative(c.since).replace(/ ago$/, "") : ""}</span>
                </td>
                <td>{c.kind}</td>
                <td class="mono">{c.target || "—"}</td>
                <td class={css.num}>{c.last_latency_ms === null ? "—" : `${c.last_latency_ms.toFixed(0)} ms`}</td>
                {(["24h", "7d", "30d", "90d"] as const).map((w) => (
                  <td key={w} class={css.num}>{pct(c.uptime_percent?.[w])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Notices />
    </div>
  );
}
