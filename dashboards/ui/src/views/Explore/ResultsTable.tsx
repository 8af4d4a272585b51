// The hits as an ARIA grid, virtualized: only the rows in view (plus a margin) are in the
// DOM, so 100,000 loaded rows scroll as smoothly as 100. Rows have one height; a record's
// full message, stack trace and fields open in the record panel. Keyboard: j/k or arrows
// move, Enter or o opens.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Hit } from "../../api/types";
import { displayValue, fieldValue, firstLine } from "../../lib/hits";
import { levelVar } from "../../lib/levels";
import { formatTime, TimeZoneMode } from "../../lib/time";
import css from "./ResultsTable.module.css";

export const ROW_HEIGHT = 24;
const HEADER_HEIGHT = 25;
const OVERSCAN = 10;

interface Props {
  hits: Hit[];
  /** Bumped when `hits` grows in place. */
  version: number;
  total: number;
  columns: string[];
  tz: TimeZoneMode;
  selectedId: string | null;
  onOpen: (hit: Hit) => void;
  onEndReached?: () => void;
  footer?: preact.ComponentChildren;
  label: string;
  /** Live tail: keep the newest (last) row in view unless the person scrolled away. */
  stickToBottom?: boolean;
  onScrollAway?: (away: boolean) => void;
}

export function ResultsTable({ hits, version, total, columns, tz, selectedId, onOpen, onEndReached, footer, label, stickToBottom, onScrollAway }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [active, setActive] = useState(0);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stickToBottom) el.scrollTop = el.scrollHeight;
  }, [version, stickToBottom]);

  // A new search starts at the top.
  useEffect(() => {
    if (version <= 1 && !stickToBottom && scroller.current) {
      scroller.current.scrollTop = 0;
      setActive(0);
    }
  }, [version, stickToBottom]);

  const count = hits.length;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);

  useEffect(() => {
    if (onEndReached && last >= count - OVERSCAN && count > 0) onEndReached();
  }, [last, count]);

  const template = `minmax(168px, 190px) 64px minmax(80px, 130px) ${columns.map(() => "minmax(80px, 160px) ").join("")}minmax(240px, 1fr)`;

  const moveTo = (i: number) => {
    const n = Math.max(0, Math.min(count - 1, i));
    setActive(n);
    const el = scroller.current;
    if (!el) return;
    // Rows sit below the sticky header.
    const top = n * ROW_HEIGHT;
    const view = el.clientHeight - HEADER_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + view) el.scrollTop = top + ROW_HEIGHT - view;
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "j" || e.key === "ArrowDown") moveTo(active + 1);
    else if (e.key === "k" || e.key === "ArrowUp") moveTo(active - 1);
    else if (e.key === "PageDown") moveTo(active + Math.floor(height / ROW_HEIGHT));
    else if (e.key === "PageUp") moveTo(active - Math.floor(height / ROW_HEIGHT));
    else if (e.key === "Home") moveTo(0);
    else if (e.key === "End") moveTo(count - 1);
    else if ((e.key === "Enter" || e.key === "o") && hits[active]) onOpen(hits[active]);
    else return;
    e.preventDefault();
  };

  const rows = [];
  for (let i = first; i < last; i++) {
    const hit = hits[i];
    const { line, more } = firstLine(hit.message);
    rows.push(
      <div
        key={hit.record_id}
        id={`row-${hit.record_id}`}
        role="row"
        aria-rowindex={i + 2}
        aria-selected={hit.record_id === selectedId}
        class={`${css.row} ${i === active ? css.active : ""} ${hit.record_id === selectedId ? css.selected : ""}`}
        style={{ top: `${i * ROW_HEIGHT}px`, gridTemplateColumns: template }}
        onClick={() => {
          setActive(i);
          // Selecting text in a row is not a click to open it.
          if (!window.getSelection()?.toString()) onOpen(hit);
        }}
      >
        <span role="gridcell" class={`${css.cell} mono`}>{formatTime(Date.parse(hit.timestamp), tz)}</span>
        <span role="gridcell" class={`${css.cell} level`} style={{ color: levelVar(hit.level) }}>{hit.level ?? ""}</span>
        <span role="gridcell" class={css.cell}>{hit.service ?? ""}</span>
        {columns.map((c) => (
          <span role="gridcell" class={`${css.cell} mono`} key={c}>{displayValue(fieldValue(hit, c))}</span>
        ))}
        <span role="gridcell" class={`${css.cell} ${css.message} mono`}>
          {line}
          {more > 0 && <span class={css.more}> ⏎ {more} more line{more > 1 ? "s" : ""}</span>}
        </span>
      </div>,
    );
  }

  // The grid is its own scroll container (so it is the focusable scroll region), with the
  // header row sticky at its top.
  return (
    <div
      ref={scroller}
      class={css.grid}
      role="grid"
      aria-label={label}
      aria-rowcount={Math.max(total, count) + 1}
      aria-readonly="true"
      tabIndex={0}
      aria-activedescendant={hits[active] ? `row-${hits[active].record_id}` : undefined}
      onKeyDown={onKeyDown}
      onFocus={() => hits[active] || moveTo(0)}
      onScroll={(e) => {
        const el = e.currentTarget;
        setScrollTop(el.scrollTop);
        onScrollAway?.(el.scrollTop + el.clientHeight < el.scrollHeight - ROW_HEIGHT * 2);
      }}
    >
      <div role="rowgroup" class={css.head}>
        <div role="row" aria-rowindex={1} class={css.headRow} style={{ gridTemplateColumns: template }}>
          <span role="columnheader" class={css.cell}>Time{tz === "utc" ? " (UTC)" : ""}</span>
          <span role="columnheader" class={css.cell}>Level</span>
          <span role="columnheader" class={css.cell}>Service</span>
          {columns.map((c) => (
            <span role="columnheader" class={css.cell} key={c}>{c}</span>
          ))}
          <span role="columnheader" class={css.cell}>Message</span>
        </div>
      </div>
      <div role="rowgroup" style={{ height: `${count * ROW_HEIGHT}px`, position: "relative" }}>{rows}</div>
      {footer && <div class={css.footer}>{footer}</div>}
    </div>
  );
}
