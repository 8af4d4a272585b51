// The fields present in the hits: listed from the loaded hits (the first 500, as Kibana's
// Discover samples), each with its top values there. Opening a field asks the server for
// its exact top values over every hit (`filter | top 10 field`). A value's + and − add
// `field:value` or its negation to the query; the checkbox makes the field a column.

import { useEffect, useMemo, useState } from "preact/hooks";
import { api, isAbort, PageBounds } from "../../api/client";
import type { Hit } from "../../api/types";
import { summarizeFields } from "../../lib/hits";
import { quoteValue, splitPipes } from "../../lib/query";
import css from "./Explore.module.css";

const SAMPLE = 500;

interface Props {
  hits: Hit[];
  query: string;
  bounds: PageBounds | null;
  columns: string[];
  onFilter: (field: string, value: string, negate: boolean) => void;
  onToggleColumn: (field: string) => void;
}

export function FieldsSidebar({ hits, query, bounds, columns, onFilter, onToggleColumn }: Props) {
  const sample = useMemo(() => hits.slice(0, SAMPLE), [hits, Math.min(hits.length, SAMPLE)]);
  const fields = useMemo(() => summarizeFields(sample), [sample]);
  const [filterText, setFilterText] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const shown = fields.filter((f) => f.name.toLowerCase().includes(filterText.toLowerCase()));

  return (
    <aside class={css.sidebar} aria-label="Fields">
      <h2 class={css.sideTitle}>Fields</h2>
      <label class="visually-hidden" for="field-filter">Filter field names</label>
      <input id="field-filter" class={`input ${css.fieldFilter}`} placeholder="Filter fields" value={filterText} onInput={(e) => setFilterText(e.currentTarget.value)} />
      {sample.length > 0 && <p class={css.sampleNote}>In the first {sample.length.toLocaleString()} hits</p>}
      <ul class={css.fieldList}>
        {shown.map((f) => (
          <li key={f.name}>
            <div class={css.fieldRow}>
              <input
                type="checkbox"
                checked={columns.includes(f.name)}
                onChange={() => onToggleColumn(f.name)}
                aria-label={`Show ${f.name} as a column`}
                title="Show as a column"
              />
              <button
                type="button"
                class={css.fieldName}
                aria-expanded={open === f.name}
                onClick={() => setOpen(open === f.name ? null : f.name)}
              >
                <span class="mono">{f.name}</span>
                <span class={css.fieldCount}>{Math.round((100 * f.count) / Math.max(1, sample.length))}%</span>
              </button>
            </div>
            {open === f.name && <FieldValues field={f.name} sampleTop={f.top} query={query} bounds={bounds} onFilter={onFilter} />}
          </li>
        ))}
        {shown.length === 0 && <li class="muted">{sample.length ? "No field matches." : "No hits to show fields of."}</li>}
      </ul>
    </aside>
  );
}

function FieldValues({ field, sampleTop, query, bounds, onFilter }: {
  field: string;
  sampleTop: { value: string; count: number }[];
  query: string;
  bounds: PageBounds | null;
  onFilter: Props["onFilter"];
}) {
  const [exact, setExact] = useState<{ value: string; count: number }[] | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  useEffect(() => {
    if (!bounds) return;
    const ctl = new AbortController();
    const filter = splitPipes(query).filter.trim() || "*";
    api.query(`${filter} | top 10 ${field}`, bounds, 10, ctl.signal).then(
      (r) => {
        if (r.kind !== "table") return;
        setTotal(r.total);
        setExact(r.rows.filter((row) => row[0] !== null).map((row) => ({ value: typeof row[0] === "string" ? row[0] : JSON.stringify(row[0]), count: Number(row[1]) })));
      },
      (e) => isAbort(e) || setExact(null),
    );
    return () => ctl.abort();
  }, [field, query, bounds]);
  const values = exact ?? sampleTop;
  const max = Math.max(1, ...values.map((v) => v.count));
  return (
    <div class={css.values}>
      <p class={css.sampleNote}>{exact ? `Top values over all ${total?.toLocaleString()} hits` : "Top values in the sample"}</p>
      <ul>
        {values.map((v) => (
          <li key={v.value} class={css.valueRow}>
            <span class={`${css.valueText} mono`} title={v.value}>{v.value === "" ? '""' : v.value}</span>
            <span class={css.valueCount}>{v.count.toLocaleString()}</span>
            <button type="button" class="btn small" aria-label={`Filter for ${field}:${quoteValue(v.value)}`} onClick={() => onFilter(field, v.value, false)}>+</button>
            <button type="button" class="btn small" aria-label={`Filter out ${field}:${quoteValue(v.value)}`} onClick={() => onFilter(field, v.value, true)}>−</button>
            <span class={css.valueBar} style={{ width: `${(100 * v.count) / max}%` }} aria-hidden="true" />
          </li>
        ))}
      </ul>
    </div>
  );
}
