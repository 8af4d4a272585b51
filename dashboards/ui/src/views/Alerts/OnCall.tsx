// Who is on call now and next in each schedule, and a four-week calendar of its shifts
// (overrides marked) from the schedule's own handoff rules.

import { useState } from "preact/hooks";
import { alerting, type OnCall as OnCallNow, type Shift } from "../../api/alerting";
import { fromInputValue, toInputValue } from "../../lib/time";
import { relative, savedAuthor, saveAuthor, when } from "./state";
import { usePoll } from "./usePoll";
import css from "./Alerts.module.css";

const DAY_MS = 86_400_000;

export function OnCall() {
  const now = usePoll((signal) => alerting.onCall(signal), [], 60_000);
  const list = now.data?.schedules ?? [];
  return (
    <section aria-labelledby="oncall-title" class={css.panel}>
      <h2 id="oncall-title">On call</h2>
      {now.error && <p class="error-text" role="alert">{now.error}</p>}
      {!now.data && <p role="status">Loading…</p>}
      {now.data && list.length === 0 && (
        <p class={css.empty}>
          No on-call schedule is configured (<code>[[alerting.escalation.schedules]]</code> in the config; see docs/alerting.md).
        </p>
      )}
      {list.map((s) => (
        <Schedule key={s.schedule} s={s} onChanged={now.reload} />
      ))}
    </section>
  );
}

/** A turn that begins or ends inside the day says when (the handoff, in local time). */
function HandoffTime({ day, shift }: { day: Date; shift: Shift }) {
  const a = day.getTime();
  const b = a + DAY_MS;
  const start = Date.parse(shift.start);
  const end = Date.parse(shift.end);
  const hm = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (start > a && start < b) return <span class="muted"> from {hm(start)}</span>;
  if (end > a && end < b) return <span class="muted"> until {hm(end)}</span>;
  return null;
}

function Schedule({ s, onChanged }: { s: OnCallNow; onChanged: () => void }) {
  // The calendar starts on this week's Monday, local time.
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() - ((start.getDay() + 6) % 7));
  const from = start.getTime();
  const to = from + 28 * DAY_MS;
  const [version, setVersion] = useState(0);
  const shifts = usePoll((signal) => alerting.shifts(s.schedule, from, to, signal), [s.schedule, from, version], 300_000);
  const changed = () => {
    setVersion((v) => v + 1);
    onChanged();
  };
  const days = Array.from({ length: 28 }, (_, i) => new Date(from + i * DAY_MS));
  const today = new Date().toDateString();
  const onDay = (d: Date): Shift[] => {
    const a = d.getTime();
    const b = a + DAY_MS;
    return (shifts.data?.shifts ?? []).filter((x) => Date.parse(x.start) < b && Date.parse(x.end) > a);
  };
  return (
    <section class={css.group} aria-label={`Schedule ${s.schedule}`}>
      <header class={css.groupHead}>
        <h3>{s.schedule}</h3>
        <span class="muted">{s.time_zone}</span>
      </header>
      <dl class={css.now}>
        <dt>Now</dt>
        <dd data-testid={`oncall-now-${s.schedule}`}>
          <strong>{s.current.name}</strong> {s.current.email !== s.current.name && <span class="muted">&lt;{s.current.email}&gt;</span>}
          {s.by_override && <span class={`${css.badge} ${css.override}`}>override</span>} until {when(s.until)} ({relative(s.until)})
        </dd>
        <dt>Next</dt>
        <dd>
          <strong>{s.next.name}</strong> from {when(s.until)}
        </dd>
      </dl>
      {shifts.error && <p class="error-text" role="alert">{shifts.error}</p>}
      <p class="muted">The next four weeks, in your time zone ({Intl.DateTimeFormat().resolvedOptions().timeZone}); overrides in bold.</p>
      <table class={css.calendar} aria-label={`Shifts of ${s.schedule}, four weeks`}>
        <thead>
          <tr>
            {["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map((d) => (
              <th key={d} scope="col">{d}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[0, 1, 2, 3].map((w) => (
            <tr key={w}>
              {days.slice(w * 7, w * 7 + 7).map((d) => (
                <td key={d.toISOString()} class={d.toDateString() === today ? css.today : undefined}>
                  <span class={css.dayNum}>{d.getDate()}</span>
                  <ul>
                    {onDay(d).map((x) => (
                      <li key={x.start} class={x.by_override ? css.overrideShift : undefined} title={`${when(x.start)} → ${when(x.end)}${x.by_override ? " (override)" : ""}`}>
                        {x.who.name}
                        <HandoffTime day={d} shift={x} />
                      </li>
                    ))}
                  </ul>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <Overrides schedule={s.schedule} version={version} onChanged={changed} />
    </section>
  );
}

/** The schedule's overrides (the config file's, and those made here, which can be deleted) and a form for a new one. */
function Overrides({ schedule, version, onChanged }: { schedule: string; version: number; onChanged: () => void }) {
  const list = usePoll((signal) => alerting.overrides(schedule, signal), [schedule, version], 300_000);
  const hour = 3_600_000;
  const start0 = Math.ceil(Date.now() / hour) * hour;
  const [who, setWho] = useState("");
  const [start, setStart] = useState(toInputValue(start0, "local").slice(0, 16));
  const [end, setEnd] = useState(toInputValue(start0 + 24 * hour, "local").slice(0, 16));
  const [author, setAuthor] = useState(savedAuthor());
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const upcoming = (list.data?.overrides ?? []).filter((o) => Date.parse(o.end) > Date.now());

  const create = async (e: Event) => {
    e.preventDefault();
    const a = fromInputValue(start, "local");
    const b = fromInputValue(end, "local");
    if (a === null || b === null) {
      setError("start and end must be dates and times");
      return;
    }
    setBusy(true);
    setError(null);
    saveAuthor(author.trim());
    try {
      await alerting.createOverride(schedule, { who, start: new Date(a).toISOString(), end: new Date(b).toISOString(), created_by: author.trim(), comment });
      setWho("");
      setComment("");
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (id: string) => {
    setError(null);
    try {
      await alerting.deleteOverride(schedule, id);
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <section aria-label={`Overrides of ${schedule}`} class={css.overrides}>
      <h4>Overrides</h4>
      {upcoming.length === 0 ? (
        <p class={css.empty}>No current or upcoming override.</p>
      ) : (
        <table class={css.table}>
          <thead>
            <tr>
              <th scope="col">Who</th>
              <th scope="col">From</th>
              <th scope="col">Until</th>
              <th scope="col">Made by</th>
              <th scope="col">Comment</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {upcoming.map((o) => (
              <tr key={o.id ?? o.start}>
                <td>{o.who.name}</td>
                <td>{when(o.start)}</td>
                <td>{when(o.end)}</td>
                <td>{o.id ? o.created_by : "config file"}</td>
                <td>{o.comment}</td>
                <td>
                  {o.id && (
                    <button type="button" class="btn small" onClick={() => remove(o.id as string)} aria-label={`Delete the override of ${o.who.name}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class={css.overrideForm} onSubmit={create} aria-label={`New override in ${schedule}`}>
        <label class={css.stack}>
          <span>Who covers</span>
          <input class="input" required value={who} placeholder="Carol <carol@example.com>" onInput={(e) => setWho((e.target as HTMLInputElement).value)} />
        </label>
        <label class={css.stack}>
          <span>From</span>
          <input class="input" type="datetime-local" required value={start} onInput={(e) => setStart((e.target as HTMLInputElement).value)} />
        </label>
        <label class={css.stack}>
          <span>Until</span>
          <input class="input" type="datetime-local" required value={end} onInput={(e) => setEnd((e.target as HTMLInputElement).value)} />
        </label>
        <label class={css.stack}>
          <span>Your name</span>
          <input class="input" required value={author} autocomplete="name" onInput={(e) => setAuthor((e.target as HTMLInputElement).value)} />
        </label>
        <label class={css.stack}>
          <span>Comment</span>
          <input class="input" value={comment} placeholder="Swap with Bob" onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn primary" disabled={busy || !who.trim() || !author.trim()}>Create override</button>
      </form>
      {error && <p class="error-text" role="alert">{error}</p>}
    </section>
  );
}
