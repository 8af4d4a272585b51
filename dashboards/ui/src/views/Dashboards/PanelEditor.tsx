// Editing one panel: title, type, its queries (PromQL or logs, with the editors of the
// Metrics and Explore views), legend, unit, decimals, min/max, stacked, thresholds, text —
// with a live preview over the dashboard's range.

import { useState } from "preact/hooks";
import { PANEL_TYPES, UNITS, type Panel, type PanelType, type Target, type Threshold, type Unit } from "../../api/dashboards";
import { QueryEditor } from "../../components/QueryEditor/QueryEditor";
import type { VarValues } from "../../lib/dashVars";
import type { ResolvedRange, TimeZoneMode } from "../../lib/time";
import { PromEditor } from "../Metrics/PromEditor";
import { Modal } from "./Modal";
import { PanelView } from "./PanelView";
import css from "./Dashboards.module.css";

const TYPE_TEXT: Record<PanelType, string> = {
  timeseries: "Time series", stat: "Stat", table: "Table", bargauge: "Bar gauge", gauge: "Gauge", logs: "Logs", text: "Text",
};

interface Props {
  panel: Panel;
  vars: VarValues;
  range: ResolvedRange | null;
  tz: TimeZoneMode;
  onSave: (p: Panel) => void;
  onClose: () => void;
}

const num = (s: string): number | null => (s.trim() === "" || Number.isNaN(Number(s)) ? null : Number(s));

export function PanelEditor({ panel, vars, range, tz, onSave, onClose }: Props) {
  const [p, setP] = useState<Panel>(structuredClone(panel));
  const [preview, setPreview] = useState<Panel>(p);
  const [tick, setTick] = useState(0);
  const set = (patch: Partial<Panel>) => setP((cur) => ({ ...cur, ...patch }));
  const setTarget = (i: number, t: Target) => set({ targets: p.targets.map((x, j) => (j === i ? t : x)) });
  const refresh = () => {
    setPreview(p);
    setTick((t) => t + 1);
  };
  const thresholds = p.thresholds ?? [];
  const valueTypes = p.type === "stat" || p.type === "gauge" || p.type === "bargauge";

  return (
    <Modal title={`Edit panel: ${panel.title || "Untitled"}`} onClose={onClose} wide>
      <form
        class={css.form}
        onSubmit={(e) => {
          e.preventDefault();
          onSave(p);
        }}
      >
        <div class={css.row}>
          <label class={css.field}>
            <span>Title</span>
            <input class="input" value={p.title} onInput={(e) => set({ title: e.currentTarget.value })} />
          </label>
          <label class={css.field}>
            <span>Type</span>
            <select class="input" value={p.type} onChange={(e) => set({ type: e.currentTarget.value as PanelType })}>
              {PANEL_TYPES.map((t) => <option key={t} value={t}>{TYPE_TEXT[t]}</option>)}
            </select>
          </label>
          <label class={css.field}>
            <span>Unit</span>
            <select class="input" value={p.unit ?? ""} onChange={(e) => set({ unit: (e.currentTarget.value || undefined) as Unit | undefined })}>
              <option value="">(default)</option>
              {UNITS.map((u) => <option key={u} value={u}>{u}</option>)}
            </select>
          </label>
          <label class={css.field}>
            <span>Decimals</span>
            <input class="input" type="number" min="0" max="10" value={p.decimals ?? ""} onInput={(e) => set({ decimals: num(e.currentTarget.value) })} />
          </label>
        </div>

        {p.type === "text" ? (
          <label class={css.field}>
            <span>Text</span>
            <textarea class="input" rows={6} value={p.text ?? ""} onInput={(e) => set({ text: e.currentTarget.value })} />
          </label>
        ) : (
          <fieldset class={css.fieldset}>
            <legend>Queries</legend>
            {p.targets.map((t, i) => (
              <div key={i} class={css.target}>
                <div class={css.row}>
                  <label class={css.field}>
                    <span>Query {i + 1} kind</span>
                    <select
                      class="input"
                      value={t.kind}
                      onChange={(e) => setTarget(i, e.currentTarget.value === "promql" ? { kind: "promql", expr: t.kind === "promql" ? t.expr : "" } : { kind: "logs", query: t.kind === "logs" ? t.query : "" })}
                    >
                      <option value="promql">PromQL</option>
                      <option value="logs">Logs</option>
                    </select>
                  </label>
                  {t.kind === "promql" && (
                    <label class={css.field}>
                      <span>Legend</span>
                      <input class="input" placeholder="{{job}}" value={t.legend ?? ""} onInput={(e) => setTarget(i, { ...t, legend: e.currentTarget.value || undefined })} />
                    </label>
                  )}
                  <button type="button" class="btn small" onClick={() => set({ targets: p.targets.filter((_, j) => j !== i) })}>Remove query {i + 1}</button>
                </div>
                <div class={css.editorBox}>
                  {t.kind === "promql" ? (
                    <PromEditor label={`PromQL query ${i + 1}`} value={t.expr} onChange={(v) => setTarget(i, { ...t, expr: v })} onRun={refresh} error={null} />
                  ) : (
                    <QueryEditor label={`Log query ${i + 1}`} value={t.query} onChange={(v) => setTarget(i, { ...t, query: v })} onRun={refresh} fields={[]} error={null} placeholder="service:$service | timechart count() by level" />
                  )}
                </div>
              </div>
            ))}
            <div class={css.row}>
              <button type="button" class="btn small" onClick={() => set({ targets: [...p.targets, { kind: "promql", expr: "" }] })}>Add PromQL query</button>
              <button type="button" class="btn small" onClick={() => set({ targets: [...p.targets, { kind: "logs", query: "" }] })}>Add log query</button>
              <button type="button" class="btn small" onClick={refresh}>Run queries</button>
            </div>
          </fieldset>
        )}

        <div class={css.row}>
          {p.type === "timeseries" && (
            <label class={css.check}><input type="checkbox" checked={!!p.stacked} onChange={(e) => set({ stacked: e.currentTarget.checked })} /> Stacked</label>
          )}
          <label class={css.field}>
            <span>Min</span>
            <input class="input" type="number" value={p.min ?? ""} onInput={(e) => set({ min: num(e.currentTarget.value) })} />
          </label>
          <label class={css.field}>
            <span>Max</span>
            <input class="input" type="number" value={p.max ?? ""} onInput={(e) => set({ max: num(e.currentTarget.value) })} />
          </label>
        </div>

        {valueTypes && (
          <fieldset class={css.fieldset}>
            <legend>Thresholds</legend>
            {thresholds.map((t, i) => (
              <div key={i} class={css.row}>
                <label class={css.field}>
                  <span>Threshold {i + 1} from</span>
                  {i === 0 ? <input class="input" value="base" disabled /> : (
                    <input class="input" type="number" value={t.value ?? ""} onInput={(e) => set({ thresholds: thresholds.map((x, j) => (j === i ? { ...x, value: num(e.currentTarget.value) } : x)) })} />
                  )}
                </label>
                <label class={css.field}>
                  <span>Threshold {i + 1} colour</span>
                  <input class="input" value={t.color} onInput={(e) => set({ thresholds: thresholds.map((x, j) => (j === i ? { ...x, color: e.currentTarget.value } : x)) })} />
                </label>
                <button type="button" class="btn small" onClick={() => set({ thresholds: thresholds.filter((_, j) => j !== i) })}>Remove threshold {i + 1}</button>
              </div>
            ))}
            <button
              type="button"
              class="btn small"
              onClick={() => {
                const next: Threshold[] = thresholds.length ? [...thresholds, { value: (thresholds[thresholds.length - 1].value ?? 0) + 10, color: "red" }] : [{ value: null, color: "green" }, { value: 80, color: "red" }];
                set({ thresholds: next });
              }}
            >
              Add threshold
            </button>
          </fieldset>
        )}

        <div class={css.previewBox}>
          <PanelView panel={{ ...preview, grid: { ...p.grid } }} vars={vars} range={range} tz={tz} widthPx={720} heightPx={240} tick={tick} style={{ position: "relative", width: "100%", height: "240px" }} />
        </div>

        <div class={css.formActions}>
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn primary">Apply</button>
        </div>
      </form>
    </Modal>
  );
}
