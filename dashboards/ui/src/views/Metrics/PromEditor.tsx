// The PromQL editor: a textarea (native editing and screen-reader behaviour) with a
// completion listbox (the ARIA combobox pattern) fed by the Prometheus API — metric names,
// label names inside `{…}` and `by (…)`, label values after `name="` — and function names.
// The server's error is underlined where it points.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { prom } from "../../api/prom";
import { promCompletions, promContext, type PromCompletion, type PromContext } from "../../lib/promql";
import css from "./Metrics.module.css";

interface Props {
  value: string;
  onChange: (v: string) => void;
  onRun: (v: string) => void;
  error: { message: string; index: number | null } | null;
  /** The accessible name (several editors on one page need their own). */
  label?: string;
}

/** Names fetched per key (the metric or label they are for), kept a minute: new series show up. */
const cache = new Map<string, { at: number; names: Promise<string[]> }>();
const CACHE_MS = 60_000;
function cached(key: string, load: () => Promise<string[]>): Promise<string[]> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.names;
  const names = load().catch((e) => {
    cache.delete(key);
    throw e;
  });
  cache.set(key, { at: Date.now(), names });
  return names;
}

function namesKey(ctx: PromContext): string | null {
  switch (ctx.kind) {
    case "metric": return "metrics";
    case "label":
    case "grouping": return `labels:${ctx.metric ?? ""}`;
    case "value": return `values:${ctx.label}:${ctx.metric ?? ""}`;
    default: return null;
  }
}

function load(ctx: PromContext): Promise<string[]> {
  if (ctx.kind === "metric") return prom.metricNames();
  if (ctx.kind === "label" || ctx.kind === "grouping") return prom.labelNames(ctx.metric);
  if (ctx.kind === "value") return prom.labelValues(ctx.label, ctx.metric);
  return Promise.resolve([]);
}

export function PromEditor({ value, onChange, onRun, error, label = "PromQL query" }: Props) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [cursor, setCursor] = useState(value.length);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [chose, setChose] = useState(false);
  const [focused, setFocused] = useState(false);
  const [names, setNames] = useState<{ key: string; list: string[] } | null>(null);

  const ctx = useMemo(() => (open ? promContext(value, cursor) : ({ kind: "none" } as PromContext)), [open, value, cursor]);
  const key = namesKey(ctx);

  useEffect(() => {
    if (!key) return;
    let live = true;
    cached(key, () => load(ctx)).then((list) => live && setNames({ key, list }), () => live && setNames({ key, list: [] }));
    return () => {
      live = false;
    };
  }, [key]);

  const items: PromCompletion[] = useMemo(() => {
    if (ctx.kind === "none") return [];
    const list = names?.key === key ? names.list : [];
    if (ctx.kind === "metric") return promCompletions(ctx, { metrics: list });
    if (ctx.kind === "value") return promCompletions(ctx, { values: list });
    return promCompletions(ctx, { labels: list });
  }, [ctx, names, key]);
  const showList = focused && open && items.length > 0;

  useEffect(() => {
    setActive(-1);
    setChose(false);
  }, [value, cursor]);

  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(Math.max(el.scrollHeight, 34), 160)}px`;
  }, [value]);

  const accept = (item: PromCompletion) => {
    if (ctx.kind === "none") return;
    let insert = item.insert;
    const to = ctx.to;
    let after = 0;
    if (ctx.kind === "value") {
      // Close the string (or step over the quote already there).
      if (value[to] === '"') after = 1;
      else insert += '"';
    }
    if (ctx.kind === "label" && value.slice(to, to + 2) === '="') {
      insert = item.label;
      after = 2;
    }
    if (item.kind === "function" || item.kind === "aggregation") {
      if (value[to] === "(") {
        insert = item.label;
        after = 1;
      }
    }
    const next = value.slice(0, ctx.from) + insert + value.slice(to);
    const pos = ctx.from + insert.length + after;
    onChange(next);
    // A label name goes on to its values; a function to its argument.
    setOpen(item.kind === "label" && ctx.kind === "label" ? true : item.kind === "function" || item.kind === "aggregation");
    requestAnimationFrame(() => {
      area.current?.setSelectionRange(pos, pos);
      setCursor(pos);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (showList) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = items.length;
        setActive((a) => (chose ? (a + (e.key === "ArrowDown" ? 1 : n - 1)) % n : e.key === "ArrowDown" ? 0 : n - 1));
        setChose(true);
        return;
      }
      // Tab takes the highlighted (or first) suggestion; Enter takes one chosen with the
      // arrow keys, and otherwise runs the query.
      if (e.key === "Tab" || (e.key === "Enter" && chose && !e.shiftKey)) {
        e.preventDefault();
        accept(items[Math.max(0, active)]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        setOpen(false);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      setOpen(false);
      onRun(value);
    } else if (e.key === " " && e.ctrlKey) {
      e.preventDefault();
      setOpen(true);
    }
  };

  const listId = "promql-completions";
  const errorAt = error?.index ?? null;

  return (
    <div class={css.editorWrap}>
      <div class={`${css.editor} ${error ? css.hasError : ""}`}>
        <pre class={css.shadow} aria-hidden="true">
          {errorAt === null ? value : (
            <>
              {value.slice(0, errorAt)}
              <mark class={css.errorMark}>{value[errorAt] && value[errorAt] !== "\n" ? value[errorAt] : " "}</mark>
              {value.slice(errorAt + 1)}
            </>
          )}
          {"\n"}
        </pre>
        <textarea
          ref={area}
          class={css.input}
          rows={1}
          value={value}
          spellcheck={false}
          autocomplete="off"
          placeholder="PromQL, e.g. sum by (code) (rate(http_requests_total[5m]))"
          aria-label={label}
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={showList}
          aria-controls={listId}
          aria-activedescendant={showList && active >= 0 ? `${listId}-${active}` : undefined}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "promql-error" : undefined}
          onInput={(e) => {
            const el = e.currentTarget;
            onChange(el.value);
            setCursor(el.selectionStart ?? el.value.length);
            setOpen(true);
          }}
          onKeyDown={onKeyDown}
          onKeyUp={(e) => {
            if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) setCursor(e.currentTarget.selectionStart ?? 0);
          }}
          onClick={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onFocus={() => setFocused(true)}
          onBlur={() => setTimeout(() => setFocused(false), 150)}
        />
      </div>
      {showList && (
        <ul class={css.list} id={listId} role="listbox" aria-label="Suggestions">
          {items.map((item, i) => (
            <li
              key={item.kind + item.label}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              class={`${css.option} ${i === active ? css.active : ""}`}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(item);
              }}
            >
              <span class={css.kind}>{item.kind}</span>
              <span class="mono">{item.label}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
