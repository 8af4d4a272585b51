// The variables bar: a control per variable with its options (label values from the
// Prometheus API, a field's top values from the log query API, custom and interval lists),
// the chosen values kept in the URL (`var-name`). Constants are not shown.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, isAbort } from "../../api/client";
import type { Variable } from "../../api/dashboards";
import { prom } from "../../api/prom";
import { ALL, interpolateLogs, interpolatePromql, resolveVars, type VarValues } from "../../lib/dashVars";
import type { ResolvedRange } from "../../lib/time";
import css from "./Dashboards.module.css";

async function loadOptions(v: Variable, range: ResolvedRange, others: VarValues, signal: AbortSignal): Promise<string[]> {
  // A metric selector or a filter may use the other variables (`up{job="$job"}`).
  const b = { intervalS: 60, rangeMs: range.endMs - range.startMs };
  switch (v.kind) {
    case "custom":
    case "interval":
      return v.options ?? [];
    case "constant":
      return [v.value ?? ""];
    case "label_values":
      return v.label ? prom.labelValues(v.label, v.metric ? interpolatePromql(v.metric, others, b) : null, signal) : [];
    case "field_values": {
      if (!v.field) return [];
      const filter = interpolateLogs(v.query?.trim() || "*", others, b);
      const r = await api.query(`${filter} | top 200 ${v.field}`, { start: range.startMs, end: range.endMs }, 200, signal);
      if (r.kind !== "table") return [];
      return r.rows.map((row) => row[0]).filter((x) => x !== null && x !== undefined).map((x) => (typeof x === "string" ? x : JSON.stringify(x))).sort();
    }
  }
}

/** Loads every variable's options over the range; the values follow from them and the URL. */
export function useVariables(variables: Variable[], range: ResolvedRange | null, fromUrl: Record<string, string[]>): { values: VarValues; options: Record<string, string[]>; errors: Record<string, string> } {
  const [options, setOptions] = useState<Record<string, string[]>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  // What the other variables are set to (from the URL and defaults) for chained ones.
  const chained = variables.some((v) => /\$/.test(`${v.metric ?? ""}${v.query ?? ""}`));
  const others = chained ? resolveVars(variables, {}, fromUrl) : {};
  const key = JSON.stringify([variables, others]);
  useEffect(() => {
    if (!range) return;
    const ctl = new AbortController();
    for (const v of variables) {
      const { [v.name]: _self, ...rest } = others;
      loadOptions(v, range, rest, ctl.signal).then(
        (list) => {
          setOptions((o) => ({ ...o, [v.name]: list }));
          setErrors(({ [v.name]: _, ...rest }) => rest);
        },
        (e) => isAbort(e) || setErrors((x) => ({ ...x, [v.name]: (e as Error).message })),
      );
    }
    return () => ctl.abort();
    // Options follow the range only in big steps (a refresh keeps them).
  }, [key, range ? Math.round(range.startMs / 300_000) : 0]);
  return { values: resolveVars(variables, options, fromUrl), options, errors };
}

interface Props {
  variables: Variable[];
  values: VarValues;
  options: Record<string, string[]>;
  errors: Record<string, string>;
  onChange: (name: string, values: string[]) => void;
}

export function VariablesBar({ variables, values, options, errors, onChange }: Props) {
  const shown = variables.filter((v) => v.kind !== "constant");
  if (!shown.length) return null;
  return (
    <div class={css.varBar} role="group" aria-label="Variables">
      {shown.map((v) => {
        const name = v.kind === "label_values" ? v.name : (v.label || v.name);
        const opts = options[v.name] ?? [];
        const cur = values[v.name]?.values ?? [];
        const id = `var-${v.name}`;
        return (
          <div key={v.name} class={css.varItem}>
            {v.multi ? (
              <MultiSelect id={id} name={name} options={opts} includeAll={!!v.include_all} values={cur} onChange={(vals) => onChange(v.name, vals)} />
            ) : (
              <label class={css.varLabel}>
                <span>{name}</span>
                <select class="input" id={id} value={cur[0] ?? ""} onChange={(e) => onChange(v.name, [e.currentTarget.value])}>
                  {v.include_all && <option value={ALL}>All</option>}
                  {[...new Set([...cur.filter((c) => c !== ALL), ...opts])].map((o) => <option key={o} value={o}>{o === "" ? "(empty)" : o}</option>)}
                </select>
              </label>
            )}
            {errors[v.name] && <span class="error-text" role="alert">{name}: {errors[v.name]}</span>}
          </div>
        );
      })}
    </div>
  );
}

function MultiSelect({ id, name, options, includeAll, values, onChange }: { id: string; name: string; options: string[]; includeAll: boolean; values: string[]; onChange: (v: string[]) => void }) {
  const all = values.includes(ALL);
  const text = all ? "All" : values.length ? values.join(", ") : "none";
  const toggle = (o: string) => {
    const set = new Set(all ? [] : values);
    if (set.has(o)) set.delete(o);
    else set.add(o);
    onChange(set.size ? [...set] : includeAll ? [ALL] : []);
  };
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    // Closes on a click elsewhere, as a select's list does.
    const close = (e: MouseEvent) => {
      if (ref.current?.open && !ref.current.contains(e.target as Node)) ref.current.open = false;
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, []);
  return (
    <details
      class={css.multi}
      id={id}
      ref={ref}
      onKeyDown={(e) => {
        if (e.key === "Escape" && ref.current?.open) {
          ref.current.open = false;
          ref.current.querySelector("summary")?.focus();
        }
      }}
    >
      <summary class="btn" aria-label={`${name}: ${text}`}><span class={css.varName}>{name}</span> {text}</summary>
      <fieldset class={css.multiList}>
        <legend class="visually-hidden">{name}</legend>
        {includeAll && <label><input type="checkbox" checked={all} onChange={() => onChange(all ? [] : [ALL])} /> All</label>}
        {[...new Set([...options, ...values.filter((v) => v !== ALL)])].map((o) => (
          <label key={o}><input type="checkbox" checked={!all && values.includes(o)} onChange={() => toggle(o)} /> {o}</label>
        ))}
      </fieldset>
    </details>
  );
}
