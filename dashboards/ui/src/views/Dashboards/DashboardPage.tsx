// A dashboard (`/dashboards/d/{uid}`, or `/dashboards/new`): the time range shared by its
// panels, its variables and the grid; edit mode (move, resize, add, edit, duplicate and
// remove panels; variables; settings), Save with a message (a stale version says so),
// versions (view, restore), export, delete, and Save as copy for read-only ones.

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { dashboards, type Dashboard, type Panel, type StoredDashboard } from "../../api/dashboards";
import { TimeRangePicker } from "../../components/TimeRangePicker/TimeRangePicker";
import { dashboardHref } from "../../lib/dashUrl";
import { addSpot, type Item } from "../../lib/grid";
import { navigate } from "../../lib/router";
import { SaveDialog, SettingsDialog } from "./DashboardDialogs";
import { Grid } from "./Grid";
import { Modal } from "./Modal";
import { PanelEditor } from "./PanelEditor";
import { useDashState } from "./useDashState";
import { useVariables, VariablesBar } from "./VariablesBar";
import { VariablesEditor } from "./VariablesEditor";
import { VersionsDrawer } from "./VersionsDrawer";
import css from "./Dashboards.module.css";

type Dialog = { kind: "panel"; id: number } | { kind: "vars" } | { kind: "settings" } | { kind: "save" } | { kind: "delete" } | null;

const BLANK: Dashboard = { title: "New dashboard", time: { from: "now-6h", to: "now" }, variables: [], panels: [] };

export function DashboardPage({ uid }: { uid: string | null }) {
  const [stored, setStored] = useState<StoredDashboard | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [draft, setDraft] = useState<Dashboard | null>(uid ? null : structuredClone(BLANK));
  const [isNew, setIsNew] = useState(!uid);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [saveError, setSaveError] = useState<{ message: string; stale: boolean } | null>(null);
  const [versionsOpen, setVersionsOpen] = useState(false);
  const [viewing, setViewing] = useState<StoredDashboard | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [loads, setLoads] = useState(0);

  useEffect(() => {
    if (!uid) return;
    const ctl = new AbortController();
    dashboards.get(uid, ctl.signal).then(
      (d) => {
        setStored(d);
        setLoadError(null);
      },
      (e) => ctl.signal.aborted || setLoadError((e as Error).message),
    );
    return () => ctl.abort();
  }, [uid, loads]);

  const editing = draft !== null;
  const doc = viewing?.dashboard ?? draft ?? stored?.dashboard ?? null;
  const dash = useDashState(doc);
  const vars = useVariables(doc?.variables ?? [], dash.resolved, dash.state.vars);
  const readOnly = !!stored && stored.source !== "user";

  useEffect(() => {
    if (doc) document.title = `${doc.title} · Dashboards · Pharos`;
  }, [doc?.title]);
  useEffect(() => {
    if (!editing) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [editing]);

  if (loadError) {
    return (
      <div class={css.area}>
        <p class="error-text" role="alert">{loadError}</p>
        <a href="/dashboards">All dashboards</a>
      </div>
    );
  }
  if (!doc) return <div class={css.area}><p role="status">Loading…</p></div>;

  const patch = (p: Partial<Dashboard>) => setDraft((d) => (d ? { ...d, ...p } : d));
  const setPanels = (f: (ps: Panel[]) => Panel[]) => setDraft((d) => (d ? { ...d, panels: f(d.panels) } : d));
  const nextId = () => Math.max(0, ...(draft?.panels ?? []).map((p) => p.id)) + 1;
  const onLayout = (items: Item[]) => setPanels((ps) => ps.map((p) => {
    const it = items.find((i) => i.id === p.id);
    return it ? { ...p, grid: { x: it.x, y: it.y, w: it.w, h: it.h } } : p;
  }));
  const addPanel = () => {
    const id = nextId();
    const spot = addSpot((draft?.panels ?? []).map((p) => ({ id: p.id, ...p.grid })), 12, 8);
    setPanels((ps) => [...ps, { id, title: "New panel", type: "timeseries", grid: { ...spot, w: 12, h: 8 }, targets: [{ kind: "promql", expr: "" }] }]);
    setDialog({ kind: "panel", id });
  };
  const duplicate = (id: number) => {
    const p = draft?.panels.find((x) => x.id === id);
    if (!p) return;
    const nid = nextId();
    const spot = addSpot(draft!.panels.map((x) => ({ id: x.id, ...x.grid })), p.grid.w, p.grid.h);
    setPanels((ps) => [...ps, { ...structuredClone(p), id: nid, title: `${p.title} (copy)`, grid: { ...p.grid, ...spot } }]);
  };
  const startEdit = () => {
    setViewing(null);
    setDraft(structuredClone(stored!.dashboard));
  };
  const saveAsCopy = () => {
    const { uid: _uid, ...rest } = structuredClone(doc);
    setViewing(null);
    setIsNew(true);
    setDraft({ ...rest, title: `${doc.title} (copy)` });
  };
  const cancel = () => {
    if (isNew && !uid) return navigate("/dashboards");
    setIsNew(false);
    setDraft(null);
  };
  const save = async (message: string) => {
    if (!draft) return;
    try {
      if (isNew) {
        const r = await dashboards.create(draft, message);
        setDraft(null);
        setIsNew(false);
        setDialog(null);
        if (r.uid === uid) setLoads((n) => n + 1);
        else navigate(dashboardHref(r.uid));
        return;
      }
      const r = await dashboards.update(stored!.dashboard.uid ?? uid!, { ...draft, uid: stored!.dashboard.uid ?? uid! }, stored!.version, message);
      setDraft(null);
      setDialog(null);
      setNotice(`Saved as version ${r.version}.`);
      setLoads((n) => n + 1);
    } catch (e) {
      const stale = e instanceof ApiError && e.status === 409 && /changed since/i.test(e.message);
      setSaveError({ message: (e as Error).message, stale });
    }
  };
  const remove = async () => {
    try {
      await dashboards.remove(uid!);
      navigate("/dashboards");
    } catch (e) {
      setNotice((e as Error).message);
      setDialog(null);
    }
  };
  const editingPanel = dialog?.kind === "panel" ? draft?.panels.find((p) => p.id === dialog.id) : undefined;

  return (
    <div class={`${css.area} ${versionsOpen ? css.withDrawer : ""}`}>
      <div class={css.main}>
        <header class={css.dashHead}>
          <nav aria-label="Breadcrumb" class={css.crumbs}><a href="/dashboards">Dashboards</a> /</nav>
          <h1>{doc.title}{editing && <span class={css.editBadge}> (editing)</span>}</h1>
          {stored && !editing && <span class="muted">version {stored.version}</span>}
          <div class={css.toolbar} role="toolbar" aria-label="Dashboard">
            <TimeRangePicker range={dash.range} tz={dash.state.tz} refresh={dash.refresh} onChange={dash.setRange} onTz={dash.setTz} onRefresh={dash.setRefresh} />
            <button type="button" class="btn" onClick={dash.reload}>Refresh</button>
            {editing ? (
              <>
                <button type="button" class="btn" onClick={addPanel}>Add panel</button>
                <button type="button" class="btn" onClick={() => setDialog({ kind: "vars" })}>Variables</button>
                <button type="button" class="btn" onClick={() => setDialog({ kind: "settings" })}>Settings</button>
                <button type="button" class="btn" onClick={cancel}>Discard</button>
                <button type="button" class="btn primary" onClick={() => (setSaveError(null), setDialog({ kind: "save" }))}>Save</button>
              </>
            ) : (
              <>
                {!readOnly && stored && <button type="button" class="btn primary" onClick={startEdit}>Edit</button>}
                <button type="button" class="btn" onClick={saveAsCopy}>Save as copy</button>
                {stored && <button type="button" class="btn" aria-expanded={versionsOpen} onClick={() => setVersionsOpen(!versionsOpen)}>Versions</button>}
                {stored && <button type="button" class="btn" onClick={() => dashboards.exportFile(stored.dashboard.uid ?? uid!).catch((e) => setNotice((e as Error).message))}>Export JSON</button>}
                {stored && !readOnly && <button type="button" class="btn" onClick={() => setDialog({ kind: "delete" })}>Delete</button>}
              </>
            )}
          </div>
        </header>
        {readOnly && !editing && (
          <p class={css.notice}>
            {stored!.source === "builtin" ? "Built into Pharos: it cannot be edited here. " : <>Provisioned from <code>{stored!.path}</code>: edit that file to change it. </>}
            Use <strong>Save as copy</strong> to make an editable copy.
          </p>
        )}
        {viewing && (
          <p class={css.notice} role="status">
            Viewing version {viewing.version}{viewing.message ? ` (“${viewing.message}”)` : ""}; the current one is version {stored?.version}.{" "}
            <button type="button" class="btn small" onClick={() => setViewing(null)}>Back to the current version</button>
          </p>
        )}
        {notice && <p class={css.notice} role="status">{notice} <button type="button" class="btn small" onClick={() => setNotice(null)}>Dismiss</button></p>}
        {doc.description && <p class="muted">{doc.description}</p>}
        <VariablesBar variables={doc.variables ?? []} values={vars.values} options={vars.options} errors={vars.errors} onChange={dash.setVar} />
        {!dash.resolved && <p class="error-text" role="alert">The time range is not valid.</p>}
        {doc.panels.length === 0 && (
          <p class={css.empty}>{editing ? "No panels yet: use Add panel." : "This dashboard has no panels."}</p>
        )}
        <Grid
          panels={doc.panels}
          vars={vars.values}
          range={dash.resolved}
          tz={dash.state.tz}
          tick={dash.tick}
          editing={editing}
          onLayout={onLayout}
          onEdit={(id) => setDialog({ kind: "panel", id })}
          onDuplicate={duplicate}
          onRemove={(id) => setPanels((ps) => ps.filter((p) => p.id !== id))}
        />
      </div>
      {versionsOpen && stored && (
        <VersionsDrawer
          uid={stored.dashboard.uid ?? uid!}
          current={stored.version}
          tz={dash.state.tz}
          viewing={viewing?.version ?? null}
          onView={setViewing}
          onRestored={(v, from) => {
            setViewing(null);
            setNotice(`Restored version ${from} as version ${v}.`);
            setLoads((n) => n + 1);
          }}
          onClose={() => (setVersionsOpen(false), setViewing(null))}
        />
      )}
      {editingPanel && (
        <PanelEditor
          panel={editingPanel}
          vars={vars.values}
          range={dash.resolved}
          tz={dash.state.tz}
          onSave={(p) => {
            setPanels((ps) => ps.map((x) => (x.id === p.id ? p : x)));
            setDialog(null);
          }}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog?.kind === "vars" && draft && (
        <VariablesEditor variables={draft.variables ?? []} onSave={(v) => (patch({ variables: v }), setDialog(null))} onClose={() => setDialog(null)} />
      )}
      {dialog?.kind === "settings" && draft && <SettingsDialog doc={draft} onSave={(p) => (patch(p), setDialog(null))} onClose={() => setDialog(null)} />}
      {dialog?.kind === "save" && (
        <SaveDialog
          isNew={isNew}
          onSave={save}
          onClose={() => setDialog(null)}
          error={saveError?.message ?? null}
          stale={!!saveError?.stale}
          onReload={() => {
            setDraft(null);
            setDialog(null);
            setLoads((n) => n + 1);
          }}
          onCopy={() => {
            setIsNew(true);
            setSaveError(null);
            setDraft((d) => {
              if (!d) return d;
              const { uid: _uid, ...rest } = d;
              return { ...rest, title: `${d.title} (copy)` };
            });
          }}
        />
      )}
      {dialog?.kind === "delete" && (
        <Modal title={`Delete “${doc.title}”?`} onClose={() => setDialog(null)}>
          <p>The dashboard and all its versions are deleted. This cannot be undone.</p>
          <div class={css.formActions}>
            <button type="button" class="btn" onClick={() => setDialog(null)}>Cancel</button>
            <button type="button" class="btn primary" onClick={remove}>Delete</button>
          </div>
        </Modal>
      )}
    </div>
  );
}
