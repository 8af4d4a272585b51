// Creating or editing a silence: matchers (pre-filled from an alert), a duration or an end
// time, the author and a comment, and a preview of the alerts it will mute, which the
// server answers with the same matching it silences with.

import { useEffect, useRef, useState } from "preact/hooks";
import { alerting, type Alert, type ApiMatcher, type Silence } from "../../api/alerting";
import { formatMatchers, MatcherError, parseMatchers } from "../../lib/matchers";
import { parseDuration } from "../../lib/time";
import { duration, savedAuthor, saveAuthor } from "./state";
import css from "./Alerts.module.css";

export interface SilenceDraft {
  /** Editing this silence; absent for a new one. */
  id?: string;
  matchers: ApiMatcher[];
  durationText: string;
  comment: string;
}

export function draftFromSilence(s: Silence): SilenceDraft {
  const left = Math.max(60, Math.round((Date.parse(s.endsAt) - Math.max(Date.now(), Date.parse(s.startsAt))) / 1000));
  return { id: s.id, matchers: s.matchers, durationText: compact(left), comment: s.comment };
}

function compact(secs: number): string {
  if (secs % 86400 === 0) return `${secs / 86400}d`;
  if (secs % 3600 === 0) return `${secs / 3600}h`;
  return `${Math.ceil(secs / 60)}m`;
}

export function SilenceForm({ draft, onClose, onSaved }: { draft: SilenceDraft; onClose: () => void; onSaved: (id: string) => void }) {
  const [matchersText, setMatchersText] = useState(formatMatchers(draft.matchers));
  const [durationText, setDurationText] = useState(draft.durationText);
  const [author, setAuthor] = useState(savedAuthor());
  const [comment, setComment] = useState(draft.comment);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<Alert[] | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  let matchers: ApiMatcher[] = [];
  let matcherError: string | null = null;
  try {
    matchers = parseMatchers(matchersText);
    if (!matchers.length) matcherError = "a silence needs at least one matcher";
    else if (matchers.every((m) => (m.isRegex ? new RegExp(`^(?:${m.value})$`).test("") : m.value === "") === m.isEqual))
      matcherError = "these matchers match every alert; add one that picks some";
  } catch (e) {
    matcherError = e instanceof MatcherError ? e.message : String(e);
  }
  const durMs = parseDuration(durationText);
  const durationError = durMs === null || durMs <= 0 ? "a duration such as 30m, 2h or 1d" : null;
  const filter = matcherError ? null : `{${formatMatchers(matchers)}}`;

  useEffect(() => {
    if (!filter) {
      setPreview(null);
      return;
    }
    const ctl = new AbortController();
    const t = window.setTimeout(() => {
      alerting.alerts(filter, ctl.signal).then(setPreview, () => setPreview(null));
    }, 250);
    return () => {
      ctl.abort();
      window.clearTimeout(t);
    };
  }, [filter]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (matcherError || durationError || durMs === null || !author.trim() || !comment.trim()) return;
    setSaving(true);
    setError(null);
    saveAuthor(author.trim());
    const now = Date.now();
    try {
      const r = await alerting.postSilence({
        id: draft.id,
        matchers,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + durMs).toISOString(),
        createdBy: author.trim(),
        comment: comment.trim(),
      });
      onSaved(r.silenceID);
    } catch (err) {
      setError((err as Error).message);
      setSaving(false);
    }
  };

  const title = draft.id ? "Edit silence" : "New silence";
  return (
    <dialog ref={dialog} class={css.dialog} aria-labelledby="silence-title" onClose={onClose} onCancel={onClose}>
      <form onSubmit={submit} class={css.form}>
        <h2 id="silence-title">{title}</h2>
        <label class={css.stack}>
          <span>Matchers</span>
          <textarea
            class="input mono"
            rows={3}
            value={matchersText}
            aria-invalid={matcherError ? "true" : undefined}
            aria-describedby="silence-matchers-help"
            onInput={(e) => setMatchersText((e.target as HTMLTextAreaElement).value)}
          />
          <span id="silence-matchers-help" class={matcherError ? "error-text" : "muted"}>
            {matcherError ?? 'name="value", name=~"regex", name!="value", separated by commas'}
          </span>
        </label>
        <div class={css.row}>
          <label class={css.stack}>
            <span>Duration</span>
            <input
              class="input"
              value={durationText}
              aria-invalid={durationError ? "true" : undefined}
              aria-describedby="silence-duration-help"
              onInput={(e) => setDurationText((e.target as HTMLInputElement).value)}
            />
            <span id="silence-duration-help" class={durationError ? "error-text" : "muted"}>
              {durationError ?? `ends ${new Date(Date.now() + (durMs ?? 0)).toLocaleString()} (${duration(Math.round((durMs ?? 0) / 1000))})`}
            </span>
          </label>
          <label class={css.stack}>
            <span>Author</span>
            <input class="input" value={author} required autocomplete="name" onInput={(e) => setAuthor((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <label class={css.stack}>
          <span>Comment</span>
          <textarea class="input" rows={2} required value={comment} placeholder="Why, and the ticket" onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
        </label>
        <section aria-label="Affected alerts" class={css.preview}>
          <h3>
            {preview === null ? "Affected alerts" : `Affects ${preview.length} alert${preview.length === 1 ? "" : "s"} now`}
          </h3>
          {preview && preview.length > 0 && (
            <ul>
              {preview.slice(0, 20).map((a) => (
                <li key={a.fingerprint} class="mono">
                  {Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(", ")}
                </li>
              ))}
              {preview.length > 20 && <li class="muted">and {preview.length - 20} more</li>}
            </ul>
          )}
        </section>
        {error && <p class="error-text" role="alert">{error}</p>}
        <div class={css.formActions}>
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn primary" disabled={saving || !!matcherError || !!durationError || !author.trim() || !comment.trim()}>
            {draft.id ? "Update silence" : "Create silence"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
