// The versions of a stored dashboard, newest first: when, what the message said, how many
// panels; each can be viewed (drawn in place of the current one) or restored (saved again as
// the newest version).

import { useEffect, useState } from "preact/hooks";
import { dashboards, type StoredDashboard, type VersionInfo } from "../../api/dashboards";
import { formatTime, type TimeZoneMode } from "../../lib/time";
import css from "./Dashboards.module.css";

interface Props {
  uid: string;
  current: number;
  tz: TimeZoneMode;
  viewing: number | null;
  onView: (v: StoredDashboard | null) => void;
  onRestored: (version: number, from: number) => void;
  onClose: () => void;
}

export function VersionsDrawer({ uid, current, tz, viewing, onView, onRestored, onClose }: Props) {
  const [list, setList] = useState<VersionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    dashboards.versions(uid, ctl.signal).then((r) => setList(r.versions), (e) => ctl.signal.aborted || setError((e as Error).message));
    return () => ctl.abort();
  }, [uid, current]);

  const view = async (n: number) => {
    if (n === current) return onView(null);
    try {
      onView(await dashboards.version(uid, n));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const restore = async (n: number) => {
    setBusy(true);
    try {
      const r = await dashboards.restore(uid, n);
      onRestored(r.version, n);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <aside class={css.drawer} aria-label="Versions">
      <header class={css.drawerHead}>
        <h2>Versions</h2>
        <button type="button" class="btn small" onClick={onClose}>Close versions</button>
      </header>
      {error && <p class="error-text" role="alert">{error}</p>}
      {!list && !error && <p role="status">Loading…</p>}
      {list && (
        <ol class={css.versions} aria-label="Saved versions">
          {list.map((v) => (
            <li key={v.version} class={viewing === v.version || (viewing === null && v.version === current) ? css.versionShown : ""}>
              <div class={css.versionHead}>
                <strong>Version {v.version}</strong>
                {v.version === current && <span class={css.tag}>current</span>}
              </div>
              <div class="muted">{formatTime(Date.parse(v.updated_at), tz, false)} · {v.panels} panel{v.panels === 1 ? "" : "s"}</div>
              {v.message && <div class={css.versionMsg}>{v.message}</div>}
              <div class={css.row}>
                <button type="button" class="btn small" onClick={() => view(v.version)} aria-label={`View version ${v.version}`}>View</button>
                {v.version !== current && (
                  <button type="button" class="btn small" disabled={busy} onClick={() => restore(v.version)} aria-label={`Restore version ${v.version}`}>Restore</button>
                )}
              </div>
            </li>
          ))}
        </ol>
      )}
    </aside>
  );
}
