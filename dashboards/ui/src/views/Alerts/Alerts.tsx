// The Alerts area: what is firing (grouped as the routing groups it), silences, escalation
// incidents, who is on call, the rules and the notification log. The tab and the filters
// are in the URL; the silence form opens over any tab.

import { useEffect, useState } from "preact/hooks";
import type { Alert, Silence } from "../../api/alerting";
import { matchersFor } from "../../lib/matchers";
import { navigate, useLocation } from "../../lib/router";
import { AlertList } from "./AlertList";
import { Incidents } from "./Incidents";
import { OnCall } from "./OnCall";
import { Notifications, Rules } from "./Rules";
import { draftFromSilence, SilenceForm, type SilenceDraft } from "./SilenceForm";
import { SilenceList } from "./SilenceList";
import { decodeAlerts, encodeAlerts, TABS, type AlertsState } from "./state";
import css from "./Alerts.module.css";

export function Alerts() {
  const loc = useLocation();
  const state = decodeAlerts(loc.search);
  const update = (p: Partial<AlertsState>) => navigate(encodeAlerts({ ...state, ...p }), { replace: true });
  const [draft, setDraft] = useState<SilenceDraft | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    // A link to a rule or silence (`#rule-Name`) scrolls to it once the list is drawn.
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) return;
    const t = window.setTimeout(() => document.getElementById(id)?.scrollIntoView({ block: "center" }), 400);
    return () => window.clearTimeout(t);
  }, [state.tab]);

  const silenceAlert = (a: Alert) => {
    const labels = { ...a.labels };
    setDraft({ matchers: matchersFor(labels), durationText: "2h", comment: "" });
  };
  const editSilence = (s: Silence) => {
    const d = draftFromSilence(s);
    // An expired silence cannot come back: a new one is made from it.
    setDraft(s.status.state === "expired" ? { ...d, id: undefined, durationText: "2h" } : d);
  };

  return (
    <div class={css.area}>
      <header class={css.areaHead}>
        <h1>Alerts</h1>
        <nav aria-label="Alerting" class={css.tabs}>
          {TABS.map((t) => (
            <a key={t.id} href={encodeAlerts({ ...state, tab: t.id })} aria-current={state.tab === t.id ? "page" : undefined} class={css.tab}>
              {t.label}
            </a>
          ))}
        </nav>
      </header>
      {notice && (
        <p class={css.notice} role="status">
          {notice} <button type="button" class="btn link" onClick={() => setNotice(null)}>Dismiss</button>
        </p>
      )}
      <div key={version}>
        {state.tab === "alerts" && <AlertList state={state} update={update} onSilence={silenceAlert} />}
        {state.tab === "silences" && <SilenceList onEdit={editSilence} onNew={() => setDraft({ matchers: [], durationText: "2h", comment: "" })} />}
        {state.tab === "incidents" && <Incidents state={state} update={update} />}
        {state.tab === "oncall" && <OnCall />}
        {state.tab === "rules" && <Rules />}
        {state.tab === "notifications" && <Notifications />}
      </div>
      {draft && (
        <SilenceForm
          draft={draft}
          onClose={() => setDraft(null)}
          onSaved={(id) => {
            setNotice(`${draft.id ? "Updated" : "Created"} silence ${id}.`);
            setDraft(null);
            setVersion((v) => v + 1);
          }}
        />
      )}
    </div>
  );
}
