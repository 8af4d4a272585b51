// The dashboard's small dialogs: settings (title, description, tags, default range, refresh)
// and saving (an optional message; a stale version says so and offers a reload).

import { useState } from "preact/hooks";
import type { Dashboard } from "../../api/dashboards";
import { AUTO_REFRESH, QUICK_RANGES } from "../../lib/time";
import { Modal } from "./Modal";
import css from "./Dashboards.module.css";

export function SettingsDialog({ doc, onSave, onClose }: { doc: Dashboard; onSave: (d: Partial<Dashboard>) => void; onClose: () => void }) {
  const [title, setTitle] = useState(doc.title);
  const [description, setDescription] = useState(doc.description ?? "");
  const [tags, setTags] = useState((doc.tags ?? []).join(", "));
  const [from, setFrom] = useState(doc.time?.from ?? "now-6h");
  const [to, setTo] = useState(doc.time?.to ?? "now");
  const [refresh, setRefresh] = useState(doc.refresh ?? "off");
  return (
    <Modal title="Dashboard settings" onClose={onClose}>
      <form
        class={css.form}
        onSubmit={(e) => {
          e.preventDefault();
          onSave({
            title: title.trim() || doc.title,
            description: description || undefined,
            tags: tags.split(",").map((t) => t.trim()).filter(Boolean),
            time: { from: from.trim() || "now-6h", to: to.trim() || "now" },
            refresh: refresh === "off" ? null : refresh,
          });
        }}
      >
        <label class={css.field}><span>Title</span><input class="input" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} /></label>
        <label class={css.field}><span>Description</span><input class="input" value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
        <label class={css.field}><span>Tags (comma-separated)</span><input class="input" value={tags} onInput={(e) => setTags(e.currentTarget.value)} /></label>
        <div class={css.row}>
          <label class={css.field}>
            <span>Default range from</span>
            <input class="input" list="dash-quick" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label class={css.field}><span>to</span><input class="input" value={to} onInput={(e) => setTo(e.currentTarget.value)} /></label>
          <datalist id="dash-quick">{QUICK_RANGES.map((q) => <option key={q.start} value={q.start}>{q.label}</option>)}</datalist>
          <label class={css.field}>
            <span>Auto-refresh</span>
            <select class="input" value={refresh} onChange={(e) => setRefresh(e.currentTarget.value)}>
              {AUTO_REFRESH.map((r) => <option key={r} value={r}>{r === "off" ? "off" : `every ${r}`}</option>)}
            </select>
          </label>
        </div>
        <div class={css.formActions}>
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn primary">Apply</button>
        </div>
      </form>
    </Modal>
  );
}

export function SaveDialog({ isNew, onSave, onClose, error, stale, onReload, onCopy }: {
  isNew: boolean;
  onSave: (message: string) => Promise<void>;
  onClose: () => void;
  error: string | null;
  stale: boolean;
  onReload: () => void;
  /** Keeps these changes as a new dashboard instead. */
  onCopy: () => void;
}) {
  const [message, setMessage] = useState("");
  const [saving, setSaving] = useState(false);
  return (
    <Modal title={isNew ? "Save the new dashboard" : "Save the dashboard"} onClose={onClose}>
      <form
        class={css.form}
        onSubmit={(e) => {
          e.preventDefault();
          setSaving(true);
          onSave(message).finally(() => setSaving(false));
        }}
      >
        <label class={css.field}>
          <span>Message (optional)</span>
          <input class="input" value={message} placeholder="What changed" onInput={(e) => setMessage(e.currentTarget.value)} />
        </label>
        {error && (
          <div role="alert" class={css.notice}>
            <p class="error-text">{error}</p>
            {stale && (
              <p>
                Someone saved this dashboard since you started editing. Reload to see their version (your changes here are lost), or keep your changes as a new dashboard.{" "}
                <button type="button" class="btn small" onClick={onReload}>Reload</button>{" "}
                <button type="button" class="btn small" onClick={onCopy}>Save as a copy</button>
              </p>
            )}
          </div>
        )}
        <div class={css.formActions}>
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn primary" disabled={saving}>Save</button>
        </div>
      </form>
    </Modal>
  );
}
