// Editing the dashboard's variables: name, label, kind and what the kind needs (a field and
// filter, a metric and label, a list of options, a constant value), multi-value, All, default.

import { useState } from "preact/hooks";
import type { Variable, VariableKind } from "../../api/dashboards";
import { Modal } from "./Modal";
import css from "./Dashboards.module.css";

const KINDS: { kind: VariableKind; text: string }[] = [
  { kind: "field_values", text: "Values of a log field" },
  { kind: "label_values", text: "Values of a metric label" },
  { kind: "custom", text: "Custom list" },
  { kind: "constant", text: "Constant" },
  { kind: "interval", text: "Interval" },
];

const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);

export function VariablesEditor({ variables, onSave, onClose }: { variables: Variable[]; onSave: (v: Variable[]) => void; onClose: () => void }) {
  const [vars, setVars] = useState<Variable[]>(structuredClone(variables));
  const [error, setError] = useState<string | null>(null);
  const set = (i: number, patch: Partial<Variable>) => setVars(vars.map((v, j) => (j === i ? { ...v, ...patch } : v)));
  const submit = (e: Event) => {
    e.preventDefault();
    const names = vars.map((v) => v.name);
    const bad = names.find((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
    if (bad !== undefined) return setError(`"${bad}" is not a variable name (letters, digits and _, not starting with a digit)`);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) return setError(`two variables are named ${dup}`);
    onSave(vars);
  };
  return (
    <Modal title="Variables" onClose={onClose} wide>
      <form class={css.form} onSubmit={submit}>
        <p class="muted">Panels use a variable as <code>$name</code> or <code>{"${name}"}</code>; several values become <code>=~"a|b"</code> in PromQL and <code>(field:a OR field:b)</code> in log queries.</p>
        {vars.map((v, i) => (
          <fieldset key={i} class={css.fieldset}>
            <legend>Variable {i + 1}{v.name ? `: ${v.name}` : ""}</legend>
            <div class={css.row}>
              <label class={css.field}><span>Name</span><input class="input" value={v.name} onInput={(e) => set(i, { name: e.currentTarget.value })} /></label>
              <label class={css.field}>
                <span>Kind</span>
                <select class="input" value={v.kind} onChange={(e) => set(i, { kind: e.currentTarget.value as VariableKind })}>
                  {KINDS.map((k) => <option key={k.kind} value={k.kind}>{k.text}</option>)}
                </select>
              </label>
              {v.kind !== "label_values" && (
                <label class={css.field}><span>Label shown</span><input class="input" value={v.label ?? ""} onInput={(e) => set(i, { label: e.currentTarget.value || undefined })} /></label>
              )}
            </div>
            <div class={css.row}>
              {v.kind === "field_values" && (
                <>
                  <label class={css.field}><span>Field</span><input class="input" value={v.field ?? ""} onInput={(e) => set(i, { field: e.currentTarget.value })} /></label>
                  <label class={css.field}><span>Of records matching</span><input class="input" value={v.query ?? "*"} onInput={(e) => set(i, { query: e.currentTarget.value })} /></label>
                </>
              )}
              {v.kind === "label_values" && (
                <>
                  <label class={css.field}><span>Metric</span><input class="input" value={v.metric ?? ""} onInput={(e) => set(i, { metric: e.currentTarget.value })} /></label>
                  <label class={css.field}><span>Label</span><input class="input" value={v.label ?? ""} onInput={(e) => set(i, { label: e.currentTarget.value })} /></label>
                </>
              )}
              {(v.kind === "custom" || v.kind === "interval") && (
                <label class={css.field}><span>Options (comma-separated)</span><input class="input" value={(v.options ?? []).join(", ")} onInput={(e) => set(i, { options: list(e.currentTarget.value) })} /></label>
              )}
              {v.kind === "constant" ? (
                <label class={css.field}><span>Value</span><input class="input" value={v.value ?? ""} onInput={(e) => set(i, { value: e.currentTarget.value })} /></label>
              ) : (
                <label class={css.field}>
                  <span>Default{v.multi ? " (comma-separated)" : ""}</span>
                  <input class="input" value={Array.isArray(v.default) ? v.default.join(", ") : (v.default ?? "")} onInput={(e) => {
                      // Several values (a list) only for a multi-value variable.
                      const text = e.currentTarget.value;
                      set(i, { default: !text.trim() ? undefined : v.multi ? list(text) : text });
                    }} />
                </label>
              )}
            </div>
            {v.kind !== "constant" && (
              <div class={css.row}>
                <label class={css.check}><input
                    type="checkbox"
                    checked={!!v.multi}
                    onChange={(e) => {
                      const multi = e.currentTarget.checked;
                      const d = v.default;
                      set(i, { multi, default: d === undefined ? d : multi ? (Array.isArray(d) ? d : list(d)) : Array.isArray(d) ? d[0] : d });
                    }}
                  /> Several values</label>
                <label class={css.check}><input type="checkbox" checked={!!v.include_all} onChange={(e) => set(i, { include_all: e.currentTarget.checked })} /> Offer All</label>
                <button type="button" class="btn small" onClick={() => setVars(vars.filter((_, j) => j !== i))}>Remove variable {i + 1}</button>
              </div>
            )}
            {v.kind === "constant" && <button type="button" class="btn small" onClick={() => setVars(vars.filter((_, j) => j !== i))}>Remove variable {i + 1}</button>}
          </fieldset>
        ))}
        <button type="button" class="btn small" onClick={() => setVars([...vars, { name: `var${vars.length + 1}`, kind: "custom", options: [] }])}>Add variable</button>
        {error && <p class="error-text" role="alert">{error}</p>}
        <div class={css.formActions}>
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn primary">Apply</button>
        </div>
      </form>
    </Modal>
  );
}
