// The 24-column grid (rows of 30 px) the panels sit on. In edit mode a panel moves by
// dragging its handle and resizes by dragging its corner, or by the arrow keys on either
// (one cell a press); the others make room (lib/grid.ts). A pointer grid written here:
// react-grid-layout needs React's class components through preact/compat and would double
// the view's size for what is about 150 lines.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Panel } from "../../api/dashboards";
import type { VarValues } from "../../lib/dashVars";
import { COLUMNS, nudge, place, type Item } from "../../lib/grid";
import type { ResolvedRange, TimeZoneMode } from "../../lib/time";
import { PanelView } from "./PanelView";
import css from "./Dashboards.module.css";

export const ROW_PX = 30;
const GAP_PX = 8;

interface Props {
  panels: Panel[];
  vars: VarValues;
  range: ResolvedRange | null;
  tz: TimeZoneMode;
  tick: number;
  editing: boolean;
  onLayout?: (items: Item[]) => void;
  onEdit?: (id: number) => void;
  onDuplicate?: (id: number) => void;
  onRemove?: (id: number) => void;
}

interface Drag {
  id: number;
  mode: "move" | "resize";
  startX: number;
  startY: number;
  origin: Item;
  layout: Item[];
}

const toItems = (panels: Panel[]): Item[] => panels.map((p) => ({ id: p.id, ...p.grid }));

export function Grid({ panels, vars, range, tz, tick, editing, onLayout, onEdit, onDuplicate, onRemove }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1200);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [announce, setAnnounce] = useState("");

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    setWidth(el.clientWidth);
    return () => ro.disconnect();
  }, []);

  const colPx = width / COLUMNS;
  const items = drag ? drag.layout : toItems(panels);
  const bottom = items.reduce((m, it) => Math.max(m, it.y + it.h), 0);

  const say = (layout: Item[], id: number) => {
    const it = layout.find((i) => i.id === id)!;
    const title = panels.find((p) => p.id === id)?.title || "panel";
    setAnnounce(`${title}: column ${it.x + 1}, row ${it.y + 1}, ${it.w} columns wide, ${it.h} rows high`);
  };

  const onHandleKey = (id: number, e: KeyboardEvent, mode: "move" | "resize") => {
    const d: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const v = d[e.key];
    if (!v) return;
    e.preventDefault();
    const cur = toItems(panels);
    const next = mode === "move" ? nudge(cur, id, v[0], v[1]) : nudge(cur, id, 0, 0, v[0], v[1]);
    onLayout?.(next);
    say(next, id);
  };

  const onHandlePointer = (id: number, e: PointerEvent, mode: "move" | "resize") => {
    if (e.button !== 0) return;
    e.preventDefault();
    const layout = toItems(panels);
    setDrag({ id, mode, startX: e.clientX, startY: e.clientY, origin: layout.find((i) => i.id === id)!, layout });
  };

  useEffect(() => {
    if (!drag) return;
    const base = toItems(panels);
    const at = (e: PointerEvent) => {
      const dx = Math.round((e.clientX - drag.startX) / colPx);
      const dy = Math.round((e.clientY - drag.startY) / ROW_PX);
      const o = drag.origin;
      return drag.mode === "move" ? place(base, drag.id, { x: o.x + dx, y: o.y + dy }) : place(base, drag.id, { w: o.w + dx, h: o.h + dy });
    };
    const move = (e: PointerEvent) => setDrag((d) => (d ? { ...d, layout: at(e) } : d));
    const up = (e: PointerEvent) => {
      const next = at(e);
      setDrag(null);
      onLayout?.(next);
      say(next, drag.id);
    };
    const cancel = () => setDrag(null);
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", cancel);
    return () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", cancel);
    };
  }, [drag?.id, drag?.mode, drag?.startX, drag?.startY, colPx]);

  return (
    <div class={`${css.grid} ${editing ? css.gridEditing : ""}`} ref={box} style={{ height: `${Math.max(1, bottom) * ROW_PX}px` }}>
      {panels.map((p) => {
        const it = items.find((i) => i.id === p.id) ?? { id: p.id, ...p.grid };
        const w = it.w * colPx - GAP_PX;
        const h = it.h * ROW_PX - GAP_PX;
        return (
          <PanelView
            key={p.id}
            panel={p}
            vars={vars}
            range={range}
            tz={tz}
            tick={tick}
            widthPx={w}
            heightPx={h}
            dragging={drag?.id === p.id}
            style={{ left: `${it.x * colPx}px`, top: `${it.y * ROW_PX}px`, width: `${w}px`, height: `${h}px` }}
            actions={editing ? {
              onEdit: () => onEdit?.(p.id),
              onDuplicate: () => onDuplicate?.(p.id),
              onRemove: () => onRemove?.(p.id),
              onHandleKey: (e, mode) => onHandleKey(p.id, e, mode),
              onHandlePointer: (e, mode) => onHandlePointer(p.id, e, mode),
            } : undefined}
          />
        );
      })}
      <p class="visually-hidden" aria-live="polite">{announce}</p>
    </div>
  );
}
