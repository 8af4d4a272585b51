// The alerts as the routing groups them: a matcher filter (the syntax of `pharos alerts`),
// firing, silenced and inhibited alerts told apart, pending ones from the rules, and from
// each alert a silence, its rule and its source.

import { useState } from "preact/hooks";
import { alerting, type Alert, type AlertGroup, type RuleAlert } from "../../api/alerting";
import { MatcherError, parseMatchers } from "../../lib/matchers";
import { Labels } from "./Labels";
import { relative, when, type AlertsState } from "./state";
import { usePoll } from "./usePoll";
import css from "./Alerts.module.css";

export type AlertKind = "firing" | "silenced" | "inhibited";

export function alertKind(a: Alert): AlertKind {
  if (a.status.silencedBy.length) return "silenced";
  if (a.status.inhibitedBy.length) return "inhibited";
  return "firing";
}

interface Props {
  state: AlertsState;
  update: (p: Partial<AlertsState>) => void;
  onSilence: (a: Alert) => void;
}

export function AlertList({ state, update, onSilence }: Props) {
  const [draft, setDraft] = useState(state.filter);
  let filterError: string | null = null;
  try {
    parseMatchers(state.filter);
  } catch (e) {
    filterError = e instanceof MatcherError ? e.message : String(e);
  }
  const groups = usePoll((signal) => (filterError ? Promise.resolve([] as AlertGroup[]) : alerting.groups(state.filter, signal)), [state.filter]);
  const rules = usePoll((signal) => alerting.rules(signal), []);
  const pending: { rule: string; alert: RuleAlert }[] = [];
  for (const g of rules.data?.data.groups ?? [])
    for (const r of g.rules) for (const a of r.alerts) if (a.state === "pending") pending.push({ rule: r.name, alert: a });

  const addMatcher = (name: string, value: string) => {
    const m = `${name}=${JSON.stringify(value)}`;
    const next = state.filter.trim() ? `${state.filter.trim()}, ${m}` : m;
    setDraft(next);
    update({ filter: next });
  };

  const all = (groups.data ?? []).flatMap((g) => g.alerts);
  const counts = { firing: 0, silenced: 0, inhibited: 0 };
  for (const a of all) counts[alertKind(a)]++;
  const shown = (a: Alert) => {
    const k = alertKind(a);
    return k === "firing" || (k === "silenced" && state.showSilenced) || (k === "inhibited" && state.showInhibited);
  };

  return (
    <section aria-labelledby="alerts-title" class={css.panel}>
      <h2 id="alerts-title" class="visually-hidden">Alerts</h2>
      <form
        class={css.filterBar}
        onSubmit={(e) => {
          e.preventDefault();
          update({ filter: draft.trim() });
        }}
      >
        <label class={css.field}>
          <span>Filter</span>
          <input
            class={`input ${css.grow}`}
            value={draft}
            placeholder={'alertname="Down", severity=~"page|critical"'}
            aria-invalid={filterError ? "true" : undefined}
            aria-describedby={filterError ? "alert-filter-error" : undefined}
            onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="btn primary">Apply</button>
        <label class={css.check}>
          <input type="checkbox" checked={state.showSilenced} onChange={(e) => update({ showSilenced: (e.target as HTMLInputElement).checked })} />
          Show silenced ({counts.silenced})
        </label>
        <label class={css.check}>
          <input type="checkbox" checked={state.showInhibited} onChange={(e) => update({ showInhibited: (e.target as HTMLInputElement).checked })} />
          Show inhibited ({counts.inhibited})
        </label>
      </form>
      {filterError && <p id="alert-filter-error" class="error-text" role="alert">{filterError}</p>}
      {groups.error && <p class="error-text" role="alert">{groups.error}</p>}
      <p class={css.counts} role="status" data-testid="alert-counts">
        {groups.data ? `${counts.firing} firing, ${counts.silenced} silenced, ${counts.inhibited} inhibited, ${pending.length} pending` : "Loading…"}
      </p>

      {(groups.data ?? []).map((g) => {
        const alerts = g.alerts.filter(shown);
        if (!alerts.length) return null;
        return (
          <section key={`${g.receiver.name}/${g.groupKey}`} class={css.group} aria-label={`Group ${groupTitle(g)}`}>
            <header class={css.groupHead}>
              <h3>{groupTitle(g)}</h3>
              <span class="muted">receiver {g.receiver.name} · {alerts.length} alert{alerts.length === 1 ? "" : "s"}</span>
            </header>
            <ul class={css.alertList}>
              {alerts.map((a) => (
                <AlertRow key={a.fingerprint} alert={a} onPick={addMatcher} onSilence={() => onSilence(a)} />
              ))}
            </ul>
          </section>
        );
      })}
      {groups.data && all.filter(shown).length === 0 && (
        <p class={css.empty}>{state.filter ? "No alert matches the filter." : "Nothing is firing."}</p>
      )}

      {pending.length > 0 && (
        <section class={css.group} aria-label="Pending alerts">
          <header class={css.groupHead}>
            <h3>Pending</h3>
            <span class="muted">the condition holds; the rule's "for" has not passed yet</span>
          </header>
          <ul class={css.alertList}>
            {pending.map(({ rule, alert }, i) => (
              <li key={`${rule}-${i}`} class={css.alert}>
                <div class={css.alertTop}>
                  <span class={`${css.badge} ${css.pending}`}>Pending</span>
                  <strong>{alert.labels.alertname ?? rule}</strong>
                  <span class="muted" title={when(alert.activeAt)}>active since {relative(alert.activeAt)}</span>
                  <span class="muted">value {alert.value}</span>
                </div>
                <Labels labels={alert.labels} omit={["alertname"]} />
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}

function groupTitle(g: AlertGroup): string {
  const names = Object.keys(g.labels).sort();
  return names.length ? names.map((n) => `${n}=${g.labels[n]}`).join(", ") : "(all alerts)";
}

function AlertRow({ alert, onPick, onSilence }: { alert: Alert; onPick: (n: string, v: string) => void; onSilence: () => void }) {
  const kind = alertKind(alert);
  const name = alert.labels.alertname ?? "(no alertname)";
  const summary = alert.annotations.summary ?? alert.annotations.description;
  const runbook = alert.annotations.runbook_url ?? alert.annotations.runbook;
  const service = alert.labels.service;
  const ruleHref = `/alerts?tab=rules#rule-${encodeURIComponent(name)}`;
  return (
    <li class={css.alert} aria-label={`${name} ${kind}`}>
      <div class={css.alertTop}>
        <span class={`${css.badge} ${css[kind]}`}>{kind === "firing" ? "Firing" : kind === "silenced" ? "Silenced" : "Inhibited"}</span>
        <strong>{name}</strong>
        <span class="muted" title={when(alert.startsAt)}>since {relative(alert.startsAt)}</span>
        <span class={css.actions}>
          {kind !== "silenced" && (
            <button type="button" class="btn small" onClick={onSilence} aria-label={`Silence ${name}`}>
              Silence
            </button>
          )}
          <a class="btn small" href={ruleHref}>Rule</a>
          {service && (
            <a class="btn small" href={`/explore?q=${encodeURIComponent(`service:${service} level:error`)}&start=now-1h`}>Logs</a>
          )}
          {alert.generatorURL && /^https?:\/\//.test(alert.generatorURL) && (
            <a class="btn small" href={alert.generatorURL} rel="noreferrer">Source</a>
          )}
        </span>
      </div>
      {summary && <p class={css.summary}>{summary}</p>}
      {runbook && /^https?:\/\//.test(runbook) && (
        <p class={css.summary}>
          <a href={runbook} rel="noreferrer">Runbook</a>
        </p>
      )}
      <Labels labels={alert.labels} onPick={onPick} omit={["alertname"]} />
      {kind === "silenced" && (
        <p class="muted">
          Silenced by <a href={`/alerts?tab=silences#silence-${alert.status.silencedBy[0]}`}>{alert.status.silencedBy.join(", ")}</a>
        </p>
      )}
      {kind === "inhibited" && <p class="muted">Inhibited by {alert.status.inhibitedBy.join(", ")}</p>}
    </li>
  );
}
