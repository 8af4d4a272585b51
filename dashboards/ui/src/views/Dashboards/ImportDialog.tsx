// Importing a Grafana dashboard: paste its JSON or choose the file; the server converts it
// (nothing is stored yet) and says how many panels came over, which were skipped and why,
// and its warnings; Save stores it (over an existing one only when asked) and opens it.

import { useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { dashboards, type ImportResult } from "../../api/dashboards";
import { dashboardHref } from "../../lib/dashUrl";
import { navigate } from "../../lib/router";
import { Modal } from "./Modal";
import css from "./Dashboards.module.css";

export function ImportDialog({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState("");
  const [result, setResult] = useState<ImportResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exists, setExists] = useState(false);
  const [busy, setBusy] = useState(false);

  const convert = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    setExists(false);
    try {
      JSON.parse(text);
    } catch (err) {
      return setError(`This is not JSON: ${(err as Error).message}`);
    }
    setBusy(true);
    try {
      setResult(await dashboards.importGrafana(text));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const save = async (overwrite: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const r = await dashboards.importGrafana(text, { save: true, overwrite });
      navigate(dashboardHref(r.dashboard.uid!));
    } catch (err) {
      setExists(err instanceof ApiError && err.status === 409);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const choose = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    if (f) {
      setText(await f.text());
      setResult(null);
    }
  };

  return (
    <Modal title="Import a Grafana dashboard" onClose={onClose} wide>
      <form class={css.form} onSubmit={convert}>
        <label class={css.field}>
          <span>Grafana dashboard JSON</span>
          <textarea class={`input ${css.json}`} rows={10} value={text} onInput={(e) => (setText(e.currentTarget.value), setResult(null))} placeholder='{"title": "…", "panels": […]} or Grafana "Export → Save to file"' />
        </label>
        <label class={css.field}>
          <span>Or choose a file</span>
          <input type="file" accept=".json,application/json" onChange={choose} />
        </label>
        <div class={css.formActions}>
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn" disabled={!text.trim() || busy}>Convert</button>
        </div>
      </form>
      {error && <p class="error-text" role="alert">{error}</p>}
      {result && (
        <section class={css.importResult} aria-label="Conversion">
          <p role="status">
            <strong>{result.dashboard.title}</strong>: {result.dashboard.panels.length} panel{result.dashboard.panels.length === 1 ? "" : "s"} converted
            {result.skipped.length ? `, ${result.skipped.length} skipped` : ""}.
          </p>
          {result.skipped.length > 0 && (
            <>
              <h3>Skipped panels</h3>
              <ul aria-label="Skipped panels">
                {result.skipped.map((s, i) => <li key={i}><strong>{s.title || `panel ${s.id ?? i + 1}`}</strong> ({s.type}): {s.reason}</li>)}
              </ul>
            </>
          )}
          {result.warnings.length > 0 && (
            <>
              <h3>Warnings</h3>
              <ul aria-label="Warnings">{result.warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>
            </>
          )}
          <div class={css.formActions}>
            {exists && <button type="button" class="btn" disabled={busy} onClick={() => save(true)}>Save over the existing one</button>}
            <button type="button" class="btn primary" disabled={busy} onClick={() => save(false)}>Save</button>
          </div>
        </section>
      )}
    </Modal>
  );
}
