// Every silence, active, pending and expired apart, with who made it and why; edit one, or
// expire it now.

import { useState } from "preact/hooks";
import { alerting, type Silence } from "../../api/alerting";
import { formatMatchers } from "../../lib/matchers";
import { relative, when } from "./state";
import { usePoll } from "./usePoll";
import css from "./Alerts.module.css";

const ORDER = ["active", "pending", "expired"] as const;
const TITLES = { active: "Active", pending: "Pending", expired: "Expired" };

export function SilenceList({ onEdit, onNew }: { onEdit: (s: Silence) => void; onNew: () => void }) {
  const silences = usePoll((signal) => alerting.silences(signal), []);
  const [error, setError] = useState<string | null>(null);
  const expire = async (s: Silence) => {
    setError(null);
    try {
      await alerting.expireSilence(s.id);
      silences.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const list = silences.data ?? [];
  return (
    <section aria-labelledby="silences-title" class={css.panel}>
      <div class={css.panelHead}>
        <h2 id="silences-title">Silences</h2>
        <button type="button" class="btn primary" onClick={onNew}>New silence</button>
      </div>
      {(silences.error || error) && <p class="error-text" role="alert">{silences.error ?? error}</p>}
      {!silences.data && <p role="status">Loading…</p>}
      {ORDER.map((state) => {
        const rows = list
          .filter((s) => s.status.state === state)
          .sort((a, b) => (state === "expired" ? b.endsAt.localeCompare(a.endsAt) : a.endsAt.localeCompare(b.endsAt)));
        return (
          <section key={state} aria-label={`${TITLES[state]} silences`} class={css.group}>
            <header class={css.groupHead}>
              <h3>{TITLES[state]}</h3>
              <span class="muted">{rows.length}</span>
            </header>
            {rows.length === 0 ? (
              <p class={css.empty}>None.</p>
            ) : (
              <table class={css.table}>
                <thead>
                  <tr>
                    <th scope="col">Matchers</th>
                    <th scope="col">{state === "pending" ? "Starts" : "Started"}</th>
                    <th scope="col">{state === "expired" ? "Ended" : "Ends"}</th>
                    <th scope="col">Created by</th>
                    <th scope="col">Comment</th>
                    <th scope="col"><span class="visually-hidden">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr key={s.id} id={`silence-${s.id}`} aria-label={`Silence ${formatMatchers(s.matchers)}`}>
                      <td class="mono">{formatMatchers(s.matchers)}</td>
                      <td title={when(s.startsAt)}>{when(s.startsAt)}</td>
                      <td title={when(s.endsAt)}>{relative(s.endsAt)}</td>
                      <td>{s.createdBy}</td>
                      <td>{s.comment}</td>
                      <td class={css.rowActions}>
                        <button type="button" class="btn small" onClick={() => onEdit(s)}>
                          {state === "expired" ? "Recreate" : "Edit"}
                        </button>
                        {state !== "expired" && (
                          <button type="button" class="btn small" onClick={() => expire(s)} aria-label={`Expire silence ${formatMatchers(s.matchers)}`}>
                            Expire
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        );
      })}
    </section>
  );
}
