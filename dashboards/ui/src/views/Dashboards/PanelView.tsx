// One panel on the grid: its title (the region's name), where its data comes from, its
// body drawn by the type's renderer, and its own error (the server's message) — a failing
// panel never breaks the others. In edit mode: edit, duplicate, remove, and the move and
// resize handles (arrow keys on them move or resize by a cell).

import type { JSX } from "preact";
import type { Panel } from "../../api/dashboards";
import type { VarValues } from "../../lib/dashVars";
import type { ResolvedRange, TimeZoneMode } from "../../lib/time";
import { exploreHref } from "../../lib/url";
import { BarGaugePanel, GaugePanel, StatPanel } from "./panels/ValuePanels";
import { LogsPanel, TablePanel, TextPanel } from "./panels/ListPanels";
import { TimeseriesPanel } from "./panels/TimeseriesPanel";
import { panelQueries, usePanelData } from "./usePanelData";
import css from "./Dashboards.module.css";

export interface PanelActions {
  onEdit: () => void;
  onDuplicate: () => void;
  onRemove: () => void;
  onHandleKey: (e: KeyboardEvent, mode: "move" | "resize") => void;
  onHandlePointer: (e: PointerEvent, mode: "move" | "resize") => void;
}

interface Props {
  panel: Panel;
  vars: VarValues;
  range: ResolvedRange | null;
  tz: TimeZoneMode;
  widthPx: number;
  heightPx: number;
  tick: number;
  /** Present in edit mode. */
  actions?: PanelActions;
  style: JSX.CSSProperties;
  dragging?: boolean;
}

const HEAD_PX = 30;

export function PanelView({ panel, vars, range, tz, widthPx, heightPx, tick, actions, style, dragging }: Props) {
  const state = usePanelData(panel, vars, range, widthPx, tick);
  const bodyH = heightPx - HEAD_PX - 8;
  const titleId = `panel-title-${panel.id}`;
  const logsTarget = panel.targets.find((t) => t.kind === "logs");
  const logsQuery = logsTarget && range ? panelQueries({ ...panel, type: "logs" }, vars, range, widthPx).find((q) => q.kind === "logs")?.text ?? "" : "";
  const source = panel.description ?? (panel.targets.length ? [...new Set(panel.targets.map((t) => (t.kind === "promql" ? "PromQL" : "logs")))].join(" + ") : "");

  let body: JSX.Element | null = null;
  if (panel.type === "text") body = <TextPanel text={panel.text ?? ""} />;
  else if (state.kind === "error") body = <p class={`error-text ${css.panelError}`} role="alert">{state.message}</p>;
  else {
    const data = state.kind === "ready" ? state.data : state.previous;
    if (!data || !range) body = <p class={css.empty} role="status">Loading…</p>;
    else if (panel.type === "timeseries") body = data.kind === "series" ? <TimeseriesPanel panel={panel} data={data} width={widthPx - 16} height={bodyH} tz={tz} /> : <TablePanel panel={panel} data={data} tz={tz} />;
    else if (panel.type === "stat") body = <StatPanel panel={panel} data={data} />;
    else if (panel.type === "gauge") body = <GaugePanel panel={panel} data={data} />;
    else if (panel.type === "bargauge") body = <BarGaugePanel panel={panel} data={data} />;
    else if (panel.type === "table") body = <TablePanel panel={panel} data={data} tz={tz} />;
    else body = <LogsPanel panel={panel} data={data} tz={tz} query={logsQuery} range={range} />;
  }

  return (
    <section class={`${css.panel} ${dragging ? css.dragging : ""}`} style={style} role="region" aria-labelledby={titleId} data-panel-id={panel.id}>
      <header class={`${css.panelHead} ${actions ? css.editable : ""}`}>
        {actions && (
          <button
            type="button"
            class={css.moveHandle}
            aria-label={`Move ${panel.title || "panel"}`}
            title="Drag, or use the arrow keys, to move"
            onKeyDown={(e) => actions.onHandleKey(e, "move")}
            onPointerDown={(e) => actions.onHandlePointer(e, "move")}
          >
            <svg viewBox="0 0 10 16" width="8" height="14" aria-hidden="true"><g fill="currentColor"><circle cx="2" cy="3" r="1.4" /><circle cx="8" cy="3" r="1.4" /><circle cx="2" cy="8" r="1.4" /><circle cx="8" cy="8" r="1.4" /><circle cx="2" cy="13" r="1.4" /><circle cx="8" cy="13" r="1.4" /></g></svg>
          </button>
        )}
        <h2 id={titleId} class={css.panelTitle} title={panel.title}>{panel.title || "Untitled panel"}</h2>
        {source && <span class={css.source}>{source}</span>}
        {state.kind === "loading" && state.previous && <span class={css.spinner} role="status" aria-label="Refreshing" />}
        {!actions && logsTarget && logsQuery && range && panel.type !== "logs" && (
          <a class={css.panelLink} href={exploreHref({ query: logsQuery, start: new Date(range.startMs).toISOString(), end: new Date(range.endMs).toISOString() })} aria-label={`Explore the logs of ${panel.title}`}>Explore</a>
        )}
        {actions && (
          <span class={css.panelTools}>
            <button type="button" class="btn small" onClick={actions.onEdit} aria-label={`Edit ${panel.title || "panel"}`}>Edit</button>
            <button type="button" class="btn small" onClick={actions.onDuplicate} aria-label={`Duplicate ${panel.title || "panel"}`}>Duplicate</button>
            <button type="button" class="btn small" onClick={actions.onRemove} aria-label={`Remove ${panel.title || "panel"}`}>Remove</button>
          </span>
        )}
      </header>
      <div class={css.panelBody} style={{ height: `${Math.max(20, bodyH)}px` }}>{body}</div>
      {actions && (
        <button
          type="button"
          class={css.resizeHandle}
          aria-label={`Resize ${panel.title || "panel"}`}
          title="Drag, or use the arrow keys, to resize"
          onKeyDown={(e) => actions.onHandleKey(e, "resize")}
          onPointerDown={(e) => actions.onHandlePointer(e, "resize")}
        />
      )}
    </section>
  );
}
