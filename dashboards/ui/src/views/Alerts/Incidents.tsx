// Escalation incidents: each with its timeline (opened, who was paged when and through
// what, the acknowledgement and its comment, the next step and when it fires, resolution),
// and acknowledging with a comment, which stops the escalation.

import { useState } from "preact/hooks";
import { alerting, type Incident, type NotificationEntry, type Target } from "../../api/alerting";
import { relative, savedAuthor, saveAuthor, when, type AlertsState } from "./state";
import { usePoll } from "./usePoll";
import css from "./Alerts.module.css";

const STATE_TEXT: Record<string, string> = { open: "Escalating", acknowledged: "Acknowledged", resolved: "Resolved" };

function targetText(t: Target): string {
  const [kind, value] = Object.entries(t)[0] ?? ["", ""];
  return kind === "receiver" ? `receiver ${value}` : kind === "email" ? `e-mail ${value}` : `${kind} ${value}`;
}

interface TimelineEntry {
  at: string;
  text: string;
  detail?: string;
  future?: boolean;
}

function timeline(inc: Incident, deliveries: NotificationEntry[]): TimelineEntry[] {
  const out: TimelineEntry[] = [{ at: inc.opened_at, text: `Opened (policy ${inc.policy})` }];
  for (const n of inc.notified) {
    // The delivery result: the notification log's attempt to that target near that time.
    const target = Object.values(n.target)[0] ?? "";
    const tried = deliveries.find(
      (d) => d.group_key === inc.group_key && d.target.includes(target.replace(/^.*</, "").replace(/>$/, "")) && Math.abs(Date.parse(d.at) - Date.parse(n.at)) < 120_000,
    );
    out.push({
      at: n.at,
      text: `Paged ${targetText(n.target)}${n.schedule ? ` (on call in ${n.schedule})` : ""} — step ${n.step + 1}${n.round ? `, round ${n.round + 1}` : ""}`,
      detail: tried ? (tried.ok ? `delivered in ${tried.duration_ms} ms` : `delivery failed: ${tried.error ?? "unknown error"}`) : undefined,
    });
  }
  if (inc.acked_at) out.push({ at: inc.acked_at, text: `Acknowledged by ${inc.acked_by ?? "?"}`, detail: inc.ack_comment ?? undefined });
  if (inc.resolved_at)
    out.push(
      inc.resolved_by
        ? { at: inc.resolved_at, text: `Resolved by ${inc.resolved_by}`, detail: inc.resolve_comment ?? undefined }
        : { at: inc.resolved_at, text: "Resolved: every alert of the group resolved" },
    );
  if (inc.next_escalation_at) out.push({ at: inc.next_escalation_at, text: `Next step (${inc.step + 2}) escalates`, future: true });
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

export function Incidents({ state, update }: { state: AlertsState; update: (p: Partial<AlertsState>) => void }) {
  const incidents = usePoll((signal) => alerting.incidents(!state.resolved, signal), [state.resolved], 5_000);
  const log = usePoll((signal) => alerting.notifications(signal), [], 5_000);
  const list = (incidents.data?.incidents ?? []).slice().sort((a, b) => b.opened_at.localeCompare(a.opened_at));
  return (
    <section aria-labelledby="incidents-title" class={css.panel}>
      <div class={css.panelHead}>
        <h2 id="incidents-title">Incidents</h2>
        <label class={css.check}>
          <input type="checkbox" checked={state.resolved} onChange={(e) => update({ resolved: (e.target as HTMLInputElement).checked })} />
          Show resolved
        </label>
      </div>
      {incidents.error && <p class="error-text" role="alert">{incidents.error}</p>}
      {!incidents.data && <p role="status">Loading…</p>}
      {incidents.data && list.length === 0 && <p class={css.empty}>No open incident.</p>}
      {list.map((inc) => (
        <IncidentCard key={inc.id} inc={inc} deliveries={log.data?.notifications ?? []} onChange={incidents.reload} />
      ))}
    </section>
  );
}

function IncidentCard({ inc, deliveries, onChange }: { inc: Incident; deliveries: NotificationEntry[]; onChange: () => void }) {
  const [comment, setComment] = useState("");
  const [author, setAuthor] = useState(savedAuthor());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const title = Object.entries(inc.group_labels).map(([k, v]) => `${k}=${v}`).join(", ") || inc.group_key;
  const act = async (what: "ack" | "resolve") => {
    if (!author.trim()) return;
    setBusy(true);
    setError(null);
    saveAuthor(author.trim());
    try {
      if (what === "ack") await alerting.ack(inc.id, author.trim(), comment);
      else await alerting.resolve(inc.id, author.trim(), comment);
      setComment("");
      onChange();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article class={css.group} aria-label={`Incident ${inc.id}`}>
      <header class={css.groupHead}>
        <h3>{title}</h3>
        <span class={`${css.badge} ${css[`inc_${inc.state}`] ?? ""}`}>{STATE_TEXT[inc.state] ?? inc.state}</span>
        <span class="muted">
          #{inc.id} · receiver {inc.receiver} · {inc.alerts.length} alert{inc.alerts.length === 1 ? "" : "s"} · opened {relative(inc.opened_at)}
        </span>
      </header>
      <ol class={css.timeline} aria-label="Timeline">
        {timeline(inc, deliveries).map((t, i) => (
          <li key={i} class={t.future ? css.future : undefined}>
            <time dateTime={t.at} title={t.at}>{when(t.at)}</time>
            <span>
              {t.text}
              {t.future && <span class="muted"> ({relative(t.at)})</span>}
              {t.detail && <span class={css.detail}> — {t.detail}</span>}
            </span>
          </li>
        ))}
      </ol>
      {inc.state !== "resolved" && (
        <form
          class={css.ackForm}
          onSubmit={(e) => {
            e.preventDefault();
            void act(inc.state === "open" ? "ack" : "resolve");
          }}
          aria-label={`${inc.state === "open" ? "Acknowledge" : "Resolve"} incident ${inc.id}`}
        >
          <label class={css.field}>
            <span>Your name</span>
            <input class="input" value={author} required autocomplete="name" onInput={(e) => setAuthor((e.target as HTMLInputElement).value)} />
          </label>
          <label class={`${css.field} ${css.grow}`}>
            <span>Comment</span>
            <input class={`input ${css.grow}`} value={comment} placeholder="What you are doing about it" onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
          </label>
          {inc.state === "open" && <button type="submit" class="btn primary" disabled={busy || !author.trim()}>Acknowledge</button>}
          <button
            type={inc.state === "open" ? "button" : "submit"}
            class={inc.state === "open" ? "btn" : "btn primary"}
            disabled={busy || !author.trim()}
            title="Close the incident now; if its alerts still fire, their next notification opens a new one"
            onClick={inc.state === "open" ? () => void act("resolve") : undefined}
          >
            Resolve
          </button>
        </form>
      )}
      {error && <p class="error-text" role="alert">{error}</p>}
    </article>
  );
}
