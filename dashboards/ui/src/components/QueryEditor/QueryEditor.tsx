// The query bar: a textarea over a highlighted copy of its text (the textarea keeps native
// editing, selection and screen-reader behaviour), with a completion listbox (ARIA combobox
// pattern) and the server's error shown at its position.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { complete, Completion, FieldInfo, tokenize } from "../../lib/query";
import { recentQueries } from "../../lib/recent";
import css from "./QueryEditor.module.css";

interface Props {
  value: string;
  onChange: (v: string) => void;
  onRun: (v: string) => void;
  fields: FieldInfo[];
  /** Asks for field data when the editor is first used. */
  onWantFields?: () => void;
  error: { message: string; index: number | null } | null;
  /** The accessible name (several editors on one page need their own). */
  label?: string;
  placeholder?: string;
}

export function QueryEditor({ value, onChange, onRun, fields, onWantFields, error, placeholder, label = "Query" }: Props) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [cursor, setCursor] = useState(0);
  const [open, setOpen] = useState(false);
  // -1: nothing chosen yet (Tab takes the first).
  const [active, setActive] = useState(-1);
  // Enter runs the query unless a suggestion was chosen with the arrow keys (Tab accepts the
  // highlighted one either way): pressing Enter never does something the person did not see.
  const [chose, setChose] = useState(false);
  const [focused, setFocused] = useState(false);

  const suggestions = useMemo(() => {
    if (!open) return null;
    if (value.trim() === "") {
      const items: Completion[] = recentQueries().slice(0, 10).map((q) => ({ label: q, insert: q, kind: "keyword", detail: "recent" }));
      return { from: 0, to: value.length, items };
    }
    return complete(value, cursor, fields);
  }, [open, value, cursor, fields]);
  const items = suggestions?.items ?? [];
  const showList = focused && open && items.length > 0;

  useEffect(() => {
    setActive(-1);
    setChose(false);
  }, [value, cursor]);

  // Grow with the text, up to a few lines.
  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 120)}px`;
  }, [value]);

  const accept = (item: Completion) => {
    if (!suggestions) return;
    const next = value.slice(0, suggestions.from) + item.insert + value.slice(suggestions.to);
    const pos = suggestions.from + item.insert.length;
    onChange(next);
    setOpen(item.kind === "field" || item.kind === "command");
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
      const enterPicks = e.key === "Enter" && chose && !e.ctrlKey && !e.metaKey;
      const picked = items[Math.max(0, active)];
      if (e.key === "Tab" || (enterPicks && picked.detail !== "recent")) {
        e.preventDefault();
        accept(picked);
        return;
      }
      if (enterPicks && picked.detail === "recent") {
        e.preventDefault();
        setOpen(false);
        onChange(picked.insert);
        onRun(picked.insert);
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

  const highlighted = useMemo(() => renderTokens(value, error?.index ?? null), [value, error]);
  const listId = "query-completions";

  return (
    <div class={css.wrap}>
      <div class={`${css.editor} ${error ? css.hasError : ""}`}>
        <pre class={css.highlight} aria-hidden="true">{highlighted}{"\n"}</pre>
        <textarea
          ref={area}
          class={css.input}
          rows={1}
          value={value}
          spellcheck={false}
          autocomplete="off"
          placeholder={placeholder}
          aria-label={label}
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={showList}
          aria-controls={listId}
          aria-activedescendant={showList && active >= 0 ? `${listId}-${active}` : undefined}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "query-error" : undefined}
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
          onFocus={() => {
            setFocused(true);
            onWantFields?.();
            if (value.trim() === "") setOpen(true);
          }}
          onBlur={() => setTimeout(() => setFocused(false), 150)}
        />
      </div>
      {showList && (
        <ul class={css.list} id={listId} role="listbox" aria-label="Suggestions">
          {items.map((item, i) => (
            <li
              key={item.label + i}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              class={`${css.option} ${i === active ? css.active : ""}`}
              onMouseDown={(e) => {
                e.preventDefault();
                if (item.detail === "recent") {
                  onChange(item.insert);
                  setOpen(false);
                  onRun(item.insert);
                } else accept(item);
              }}
            >
              <span class={css.kind}>{item.kind === "keyword" && item.detail === "recent" ? "recent" : item.kind}</span>
              <span class="mono">{item.label}</span>
              {item.detail && item.detail !== "recent" && <span class={css.detail}>{item.detail}</span>}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <div id="query-error" class={css.error} role="alert">
          {error.message}
        </div>
      )}
    </div>
  );
}

function renderTokens(text: string, errorAt: number | null) {
  const out = tokenize(text).map((t) => {
    const cls = css[`t_${t.kind}`];
    if (errorAt !== null && errorAt >= t.from && errorAt < t.from + t.text.length) {
      const k = errorAt - t.from;
      return (
        <span class={cls} key={t.from}>
          {t.text.slice(0, k)}
          <mark class={css.errorMark}>{t.text[k]}</mark>
          {t.text.slice(k + 1)}
        </span>
      );
    }
    return cls ? <span class={cls} key={t.from}>{t.text}</span> : t.text;
  });
  if (errorAt !== null && errorAt >= text.length) out.push(<mark class={css.errorMark} key="end"> </mark>);
  return out;
}
