// The instant query at the range's end: one row per series, its labels and value (as the
// server wrote it), sortable by value or by series.

import { useMemo, useState } from "preact/hooks";
import type { InstantResult } from "../../api/prom";
import { seriesName, type Metric } from "../../lib/promql";
import { parseValue } from "../../lib/promqlData";
import { formatTime, type TimeZoneMode } from "../../lib/time";
import css from "./Metrics.module.css";

type Sort = { by: "series" | "value"; dir: "asc" | "desc" } | null;

interface Row {
  metric: Metric;
  name: string;
  value: string;
}

export function ResultTable({ result, timeS, tz, logsHref }: { result: InstantResult; timeS: number; tz: TimeZoneMode; logsHref: (m: Metric) => string | null }) {
  const [sort, setSort] = useState<Sort>(null);
  const rows: Row[] = useMemo(() => {
    if (result.resultType === "vector") return result.result.map((s) => ({ metric: s.metric, name: seriesName(s.metric), value: s.value[1] }));
    if (result.resultType === "matrix")
      return result.result.map((s) => ({ metric: s.metric, name: seriesName(s.metric), value: s.values.map((v) => `${v[1]} @${v[0]}`).join("\n") }));
    return [{ metric: {}, name: result.resultType, value: result.result[1] }];
  }, [result]);
  const sorted = useMemo(() => {
    if (!sort) return rows;
    const k = sort.dir === "asc" ? 1 : -1;
    return [...rows].sort((a, b) => {
      if (sort.by === "series") return k * a.name.localeCompare(b.name);
      const x = parseValue(a.value) ?? -Infinity;
      const y = parseValue(b.value) ?? -Infinity;
      return k * (x === y ? 0 : x < y ? -1 : 1);
    });
  }, [rows, sort]);
  const ariaSort = (by: "series" | "value") => (sort?.by === by ? (sort.dir === "asc" ? "ascending" : "descending") : "none");
  const next = (by: "series" | "value") =>
    setSort(sort?.by !== by ? { by, dir: by === "value" ? "desc" : "asc" } : { by, dir: sort.dir === "asc" ? "desc" : "asc" });

  if (!rows.length) return <p class="muted" role="status">The query returned no series at {formatTime(timeS * 1000, tz, false)}.</p>;
  return (
    <div class={css.tableWrap}>
      <table class={css.table} aria-label="Query result">
        <caption class={css.caption}>
          {rows.length} {rows.length === 1 ? "series" : "series"} at <time dateTime={new Date(timeS * 1000).toISOString()}>{formatTime(timeS * 1000, tz)}</time>
        </caption>
        <thead>
          <tr>
            <th scope="col" aria-sort={ariaSort("series")}>
              <button type="button" class={css.sortBtn} onClick={() => next("series")}>Series</button>
            </th>
            <th scope="col" class={css.num} aria-sort={ariaSort("value")}>
              <button type="button" class={css.sortBtn} onClick={() => next("value")}>Value</button>
            </th>
            <th scope="col"><span class="visually-hidden">Links</span></th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => {
            const href = logsHref(r.metric);
            return (
              <tr key={r.name}>
                <td class="mono">{r.name}</td>
                <td class={`${css.num} mono`}>{r.value}</td>
                <td>{href && <a href={href} aria-label={`Logs of ${r.name}`}>Logs</a>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
