// Runs one panel's queries over the dashboard's range: PromQL as range queries at the
// panel's step (or an instant query for tables), log queries through the query API (a plain
// search becomes a `timechart` for time series). Each panel fails alone, with the server's
// message.

import { useEffect, useState } from "preact/hooks";
import { api, isAbort } from "../../api/client";
import type { Panel } from "../../api/dashboards";
import { prom } from "../../api/prom";
import { panelInterval, type VarValues, formatLegend } from "../../lib/dashVars";
import { alignMatrix } from "../../lib/promqlData";
import { seriesName } from "../../lib/promql";
import { mergeSeries, panelQueries, table, type PanelData, type Series } from "../../lib/panelData";
import { timechartSeries } from "../../lib/table";
import type { ResolvedRange } from "../../lib/time";

export { panelQueries };

export type PanelState =
  | { kind: "loading"; previous: PanelData | null }
  | { kind: "error"; message: string }
  | { kind: "ready"; data: PanelData; queries: string[] };

async function run(panel: Panel, vars: VarValues, range: ResolvedRange, widthPx: number, signal: AbortSignal): Promise<{ data: PanelData; queries: string[] }> {
  const qs = panelQueries(panel, vars, range, widthPx);
  const stepS = panelInterval(range.endMs - range.startMs, widthPx);
  const bounds = { start: range.startMs, end: range.endMs };
  const parts = await Promise.all(
    qs.map(async (q): Promise<PanelData> => {
      if (q.kind === "logs") {
        const limit = panel.type === "logs" ? 100 : panel.type === "table" ? 500 : 1;
        const r = await api.query(q.text, bounds, limit, signal);
        if (r.kind === "hits") return { kind: "hits", hits: r.hits, total: r.total };
        if (r.columns[0] === "_time" && (panel.type === "timeseries" || panel.type === "stat")) {
          const ts = timechartSeries(r);
          return { kind: "series", xs: ts.xs, series: ts.series.map((s) => ({ label: q.legend || s.label, values: s.values })) };
        }
        return table(r);
      }
      if (panel.type === "table") {
        const r = await prom.query(q.text, range.endMs / 1000, signal);
        if (r.data.resultType !== "vector") return { kind: "table", columns: ["value"], rows: [[r.data.result[1]]] };
        const keys = [...new Set(r.data.result.flatMap((s) => Object.keys(s.metric)))].sort();
        return { kind: "table", columns: [...keys, "value"], rows: r.data.result.map((s) => [...keys.map((k) => s.metric[k] ?? ""), Number(s.value[1])]) };
      }
      const startS = Math.floor(range.startMs / 1000 / stepS) * stepS;
      const endS = Math.ceil(range.endMs / 1000 / stepS) * stepS;
      const r = await prom.queryRange(q.text, startS, endS, stepS, signal);
      const aligned = alignMatrix(r.data.result, startS, endS, stepS);
      const series: Series[] = aligned.series.map((s) => ({ label: formatLegend(q.legend, s.metric, seriesName(s.metric)), values: s.values }));
      return { kind: "series", xs: aligned.xs, series };
    }),
  );
  const queries = qs.map((q) => q.text);
  if (parts.length === 0) return { data: { kind: "table", columns: [], rows: [] }, queries };
  if (parts.every((p) => p.kind === "series")) return { data: { kind: "series", ...mergeSeries(parts as { xs: number[]; series: Series[] }[]) }, queries };
  if (parts.every((p) => p.kind === "hits")) {
    const hits = parts.flatMap((p) => (p.kind === "hits" ? p.hits : [])).sort((a, b) => b.timestamp_ns - a.timestamp_ns);
    return { data: { kind: "hits", hits, total: parts.reduce((n, p) => n + (p.kind === "hits" ? p.total : 0), 0) }, queries };
  }
  return { data: parts[0], queries };
}

export function usePanelData(panel: Panel, vars: VarValues, range: ResolvedRange | null, widthPx: number, tick: number): PanelState {
  const [state, setState] = useState<PanelState>({ kind: "loading", previous: null });
  // Widths only change the step in big jumps: round so resizing the window does not rerun every panel.
  const width = Math.max(100, Math.round(widthPx / 100) * 100);
  const key = JSON.stringify([panel.type, panel.targets, vars]);
  useEffect(() => {
    if (!range || panel.type === "text") return;
    const ctl = new AbortController();
    setState((s) => ({ kind: "loading", previous: s.kind === "ready" ? s.data : s.kind === "loading" ? s.previous : null }));
    run(panel, vars, range, width, ctl.signal).then(
      (r) => setState({ kind: "ready", data: r.data, queries: r.queries }),
      (e) => isAbort(e) || setState({ kind: "error", message: (e as Error).message }),
    );
    return () => ctl.abort();
  }, [key, range?.startMs, range?.endMs, width, tick]);
  return state;
}
