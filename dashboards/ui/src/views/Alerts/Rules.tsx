// The alert rules: state, health, last evaluation and its duration, the error of a failing
// rule, and the query; and the notification log (every delivery attempt and its result).

import { alerting } from "../../api/alerting";
import { relative, when } from "./state";
import { usePoll } from "./usePoll";
import css from "./Alerts.module.css";

export function Rules() {
  const rules = usePoll((signal) => alerting.rules(signal), []);
  const groups = rules.data?.data.groups ?? [];
  return (
    <section aria-labelledby="rules-title" class={css.panel}>
      <h2 id="rules-title">Rules</h2>
      {rules.error && <p class="error-text" role="alert">{rules.error}</p>}
      {!rules.data && <p role="status">Loading…</p>}
      {rules.data && groups.length === 0 && <p class={css.empty}>No alert rules are loaded (<code>[alerting.rules] files</code>).</p>}
      {groups.map((g) => (
        <section key={`${g.file}/${g.name}`} class={css.group} aria-label={`Rule group ${g.name}`}>
          <header class={css.groupHead}>
            <h3>{g.name}</h3>
            <span class="muted">
              {g.file} · every {g.interval}s · last evaluated {relative(g.lastEvaluation)} in {(g.evaluationTime * 1000).toFixed(1)} ms
            </span>
          </header>
          <table class={css.table}>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">State</th>
                <th scope="col">Health</th>
                <th scope="col">For</th>
                <th scope="col">Last evaluation</th>
                <th scope="col">Took</th>
                <th scope="col">Query</th>
              </tr>
            </thead>
            <tbody>
              {g.rules.map((r) => (
                <tr key={r.name} id={`rule-${encodeURIComponent(r.name)}`}>
                  <th scope="row">{r.name}</th>
                  <td><span class={`${css.badge} ${css[`rule_${r.state}`] ?? ""}`}>{r.state}</span> {r.alerts.length > 0 && <span class="muted">({r.alerts.length})</span>}</td>
                  <td>
                    {r.health}
                    {r.lastError && <div class="error-text">{r.lastError}</div>}
                  </td>
                  <td>{r.duration ? `${r.duration}s` : "—"}</td>
                  <td title={when(r.lastEvaluation)}>{relative(r.lastEvaluation)}</td>
                  <td class={css.num}>{(r.evaluationTime * 1000).toFixed(1)} ms</td>
                  <td class="mono"><RuleQuery query={r.query} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </section>
  );
}

/** A log rule's query (`logs: QUERY [300s] > 2`) links to its records over its window. */
function RuleQuery({ query }: { query: string }) {
  const m = /^logs: (.*) \[(\d+)s\] (.*)$/.exec(query);
  if (!m) return <>{query}</>;
  const href = `/explore?q=${encodeURIComponent(m[1])}&start=now-${m[2]}s`;
  return (
    <>
      <a href={href} title="Open the records in Explore">{m[1]}</a> over {m[2]}s {m[3]}
    </>
  );
}

export function Notifications() {
  const log = usePoll((signal) => alerting.notifications(signal), [], 5_000);
  const rows = log.data?.notifications ?? [];
  return (
    <section aria-labelledby="notifications-title" class={css.panel}>
      <h2 id="notifications-title">Notification log</h2>
      {log.error && <p class="error-text" role="alert">{log.error}</p>}
      {!log.data && <p role="status">Loading…</p>}
      {log.data && rows.length === 0 && <p class={css.empty}>Nothing has been sent yet.</p>}
      {rows.length > 0 && (
        <table class={css.table}>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Status</th>
              <th scope="col">Receiver</th>
              <th scope="col">Through</th>
              <th scope="col">To</th>
              <th scope="col">Alerts</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((n, i) => (
              <tr key={i}>
                <td>{when(n.at)}</td>
                <td>{n.status}</td>
                <td>{n.receiver || "—"}</td>
                <td>{n.integration}</td>
                <td class="mono">{n.target}</td>
                <td class={css.num}>{n.alerts}</td>
                <td class={n.ok ? undefined : "error-text"}>
                  {n.ok ? `sent in ${n.duration_ms} ms` : `failed (attempt ${n.attempt}): ${n.error ?? ""}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
