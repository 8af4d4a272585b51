// The panels of rows: table (any result: an aggregation's rows, series' last values, records)
// and logs (the newest records, each opening in the explorer), and text.

import type { Panel } from "../../../api/dashboards";
import { levelVar } from "../../../lib/levels";
import { asTable, type PanelData } from "../../../lib/panelData";
import { formatTime, type TimeZoneMode, type ResolvedRange } from "../../../lib/time";
import { exploreHref } from "../../../lib/url";
import { formatUnit } from "../../../lib/dashFormat";
import css from "../Dashboards.module.css";

export function TablePanel({ panel, data, tz }: { panel: Panel; data: PanelData; tz: TimeZoneMode }) {
  const t = asTable(data);
  if (!t.rows.length) return <p class={css.empty}>No rows over this range.</p>;
  return (
    <div class={css.tableWrap} tabIndex={0} role="region" aria-label={`Rows of ${panel.title}`}>
      <table class={css.table} aria-label={panel.title}>
        <thead><tr>{t.columns.map((c) => <th key={c} scope="col">{c}</th>)}</tr></thead>
        <tbody>
          {t.rows.slice(0, 500).map((r, i) => (
            <tr key={i}>
              {r.map((v, j) => (
                <td key={j} class={typeof v === "number" ? css.num : ""}>
                  {v === null || v === undefined ? "—" : typeof v === "number" ? formatUnit(v, panel.unit ?? "none", panel.decimals) : t.columns[j] === "_time" || t.columns[j] === "time" ? formatTime(Date.parse(String(v)), tz, false) : String(v)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function LogsPanel({ panel, data, tz, query, range }: { panel: Panel; data: PanelData; tz: TimeZoneMode; query: string; range: ResolvedRange }) {
  if (data.kind !== "hits") return <TablePanel panel={panel} data={data} tz={tz} />;
  if (!data.hits.length) return <p class={css.empty}>No records over this range.</p>;
  const start = new Date(range.startMs).toISOString();
  const end = new Date(range.endMs).toISOString();
  return (
    <div class={css.tableWrap}>
      <ul class={css.logs} aria-label={`Records of ${panel.title}`}>
        {data.hits.map((h) => (
          <li key={h.record_id}>
            <a href={exploreHref({ query, start, end, record: h.record_id })} class={css.logLink}>
              <time class={css.logTime}>{formatTime(h.timestamp_ns / 1e6, tz, false)}</time>
              <span class="level" style={{ color: levelVar(h.level) }}>{h.level ?? "—"}</span>
              <span class={css.logService}>{h.service}</span>
              <span class={css.logMsg}>{(h.message ?? "").split("\n")[0]}</span>
            </a>
          </li>
        ))}
      </ul>
      {data.total > data.hits.length && <p class={css.more}><a href={exploreHref({ query, start, end })}>All {data.total.toLocaleString()} records in Explore</a></p>}
    </div>
  );
}

/** Text panels: paragraphs, `#` headings and `-` lists; never HTML. */
export function TextPanel({ text }: { text: string }) {
  const blocks = text.split(/\n\s*\n/).map((b) => b.trim()).filter(Boolean);
  return (
    <div class={css.text}>
      {blocks.map((b, i) => {
        const h = /^(#{1,3})\s+(.*)$/s.exec(b);
        if (h) return <p key={i} class={css.textHeading}>{h[2]}</p>;
        const lines = b.split("\n");
        if (lines.every((l) => /^\s*[-*]\s+/.test(l))) return <ul key={i}>{lines.map((l, j) => <li key={j}>{l.replace(/^\s*[-*]\s+/, "")}</li>)}</ul>;
        return <p key={i}>{b}</p>;
      })}
    </div>
  );
}
