// What the status page tells its readers besides the checks: announcements and scheduled
// maintenance windows, listed with their state and written here (or `pharos notice add`).

import { useState } from "preact/hooks";
import { notices, type Notice } from "../../api/notices";
import { fromInputValue, toInputValue } from "../../lib/time";
import { savedAuthor, saveAuthor, when } from "../Alerts/state";
import { usePoll } from "../Alerts/usePoll";
import css from "./Checks.module.css";

const STATE_TEXT: Record<Notice["state"], string> = { active: "In effect", scheduled: "Scheduled", ended: "Ended" };

export function Notices() {
  const [version, setVersion] = useState(0);
  const list = usePoll((signal) => notices.list(signal), [version], 60_000);
  const [error, setError] = useState<string | null>(null);
  const shown = (list.data?.notices ?? []).filter((n) => n.state !== "ended");
  const remove = async (n: Notice) => {
    setError(null);
    try {
      await notices.remove(n.id);
      setVersion((v) => v + 1);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section class={css.section} aria-labelledby="notices-h">
      <h2 id="notices-h">Status page notices</h2>
      {list.error && <p class="error-text" role="alert">{list.error}</p>}
      {list.data && shown.length === 0 && <p class="muted">No announcement or maintenance window in effect or ahead.</p>}
      {shown.length > 0 && (
        <table class={css.table} aria-label="Status page notices">
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">From</th>
              <th scope="col">Until</th>
              <th scope="col">Components</th>
              <th scope="col">By</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.map((n) => (
              <tr key={n.id}>
                <th scope="row">{n.title}{n.body && <div class="muted">{n.body}</div>}</th>
                <td>{n.kind === "maintenance" ? "Maintenance" : "Announcement"}</td>
                <td>{STATE_TEXT[n.state]}</td>
                <td>{when(n.starts_at)}</td>
                <td>{n.ends_at ? when(n.ends_at) : "until removed"}</td>
                <td>{n.components.length ? n.components.join(", ") : "all"}</td>
                <td>{n.author}</td>
                <td>
                  <button type="button" class="btn small" onClick={() => remove(n)} aria-label={`Remove the notice ${n.title}`}>Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error && <p class="error-text" role="alert">{error}</p>}
      {list.data && <NoticeForm components={list.data.components} onCreated={() => setVersion((v) => v + 1)} />}
    </section>
  );
}

function NoticeForm({ components, onCreated }: { components: string[]; onCreated: () => void }) {
  const hour = 3_600_000;
  const start0 = Math.ceil(Date.now() / hour) * hour;
  const [kind, setKind] = useState<Notice["kind"]>("announcement");
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [start, setStart] = useState(toInputValue(start0, "local").slice(0, 16));
  const [end, setEnd] = useState(toInputValue(start0 + hour, "local").slice(0, 16));
  const [author, setAuthor] = useState(savedAuthor());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let starts_at: string | undefined;
    let ends_at: string | undefined;
    if (kind === "maintenance") {
      const a = fromInputValue(start, "local");
      const b = fromInputValue(end, "local");
      if (a === null || b === null) {
        setError("start and end must be dates and times");
        return;
      }
      starts_at = new Date(a).toISOString();
      ends_at = new Date(b).toISOString();
    }
    setBusy(true);
    saveAuthor(author.trim());
    try {
      await notices.create({ kind, title, body, components: chosen, starts_at, ends_at, author: author.trim() || undefined });
      setTitle("");
      setBody("");
      onCreated();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (c: string, on: boolean) => setChosen((l) => (on ? [...l, c] : l.filter((x) => x !== c)));

  return (
    <form class={css.noticeForm} onSubmit={submit} aria-label="New status page notice">
      <fieldset class={css.kinds}>
        <legend>Kind</legend>
        <label><input type="radio" name="notice-kind" checked={kind === "announcement"} onChange={() => setKind("announcement")} /> Announcement</label>
        <label><input type="radio" name="notice-kind" checked={kind === "maintenance"} onChange={() => setKind("maintenance")} /> Maintenance window</label>
      </fieldset>
      <label class={css.stack}>
        <span>Title</span>
        <input class="input" required maxLength={200} value={title} placeholder="Database upgrade" onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
      </label>
      <label class={css.stack}>
        <span>Text</span>
        <textarea class="input" rows={2} maxLength={4000} value={body} onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} />
      </label>
      {kind === "maintenance" && (
        <div class={css.times}>
          <label class={css.stack}>
            <span>From</span>
            <input class="input" type="datetime-local" required value={start} onInput={(e) => setStart((e.target as HTMLInputElement).value)} />
          </label>
          <label class={css.stack}>
            <span>Until</span>
            <input class="input" type="datetime-local" required value={end} onInput={(e) => setEnd((e.target as HTMLInputElement).value)} />
          </label>
        </div>
      )}
      {components.length > 0 && (
        <fieldset class={css.kinds}>
          <legend>Components (none: the whole page)</legend>
          {components.map((c) => (
            <label key={c}><input type="checkbox" checked={chosen.includes(c)} onChange={(e) => toggle(c, (e.target as HTMLInputElement).checked)} /> {c}</label>
          ))}
        </fieldset>
      )}
      <label class={css.stack}>
        <span>Your name</span>
        <input class="input" value={author} autocomplete="name" onInput={(e) => setAuthor((e.target as HTMLInputElement).value)} />
      </label>
      <div>
        <button type="submit" class="btn primary" disabled={busy || !title.trim()}>
          {kind === "maintenance" ? "Schedule maintenance" : "Post announcement"}
        </button>
      </div>
      {error && <p class="error-text" role="alert">{error}</p>}
    </form>
  );
}
