// The time range: the current range always shown on its button; a popover with the quick
// ranges, absolute from–to in the chosen zone, UTC/local, and auto-refresh.

import { useEffect, useRef, useState } from "preact/hooks";
import {
  AUTO_REFRESH, QUICK_RANGES, TimeRange, TimeZoneMode, describeRange, fromInputValue, resolveRange, toInputValue,
} from "../../lib/time";
import css from "./TimeRangePicker.module.css";

interface Props {
  range: TimeRange;
  tz: TimeZoneMode;
  refresh: (typeof AUTO_REFRESH)[number];
  onChange: (r: TimeRange) => void;
  onTz: (tz: TimeZoneMode) => void;
  onRefresh: (r: (typeof AUTO_REFRESH)[number]) => void;
}

export function TimeRangePicker({ range, tz, refresh, onChange, onTz, onRefresh }: Props) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const resolved = resolveRange(range, Date.now());
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [bad, setBad] = useState<string | null>(null);

  useEffect(() => {
    if (!open) return;
    const r = resolveRange(range, Date.now());
    if (r) {
      setFrom(toInputValue(r.startMs, tz));
      setTo(toInputValue(r.endMs, tz));
    }
    setBad(null);
    const close = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open, range, tz]);

  const applyAbsolute = (e: Event) => {
    e.preventDefault();
    const s = fromInputValue(from, tz);
    const t = fromInputValue(to, tz);
    if (s === null || t === null) return setBad("Enter both times as date and time.");
    if (s >= t) return setBad("The start must be before the end.");
    onChange({ start: new Date(s).toISOString(), end: new Date(t).toISOString() });
    setOpen(false);
  };

  return (
    <div class={css.root} ref={root} onKeyDown={(e) => e.key === "Escape" && open && (e.stopPropagation(), setOpen(false))}>
      <button
        type="button"
        class="btn"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-label={`Time range: ${describeRange(range, tz)}`}
        title={resolved ? `${new Date(resolved.startMs).toISOString()} → ${new Date(resolved.endMs).toISOString()}` : undefined}
        onClick={() => setOpen(!open)}
      >
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.5" /><path d="M8 4v4l3 2" fill="none" stroke="currentColor" stroke-width="1.5" /></svg>
        {describeRange(range, tz)}
      </button>
      {open && (
        <div class={css.popover} role="dialog" aria-label="Choose the time range">
          <div class={css.columns}>
            <div>
              <h3 class={css.heading}>Quick ranges</h3>
              <ul class={css.quick}>
                {QUICK_RANGES.map((q) => (
                  <li key={q.start}>
                    <button
                      type="button"
                      class={`btn ${css.quickBtn}`}
                      aria-pressed={range.start === q.start && range.end === "now"}
                      onClick={() => {
                        onChange({ start: q.start, end: "now" });
                        setOpen(false);
                      }}
                    >
                      {q.label}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
            <form onSubmit={applyAbsolute} class={css.absolute}>
              <h3 class={css.heading}>Absolute ({tz === "utc" ? "UTC" : "local time"})</h3>
              <label>
                From
                <input class="input" type="datetime-local" step="1" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
              </label>
              <label>
                To
                <input class="input" type="datetime-local" step="1" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
              </label>
              {bad && <p class="error-text" role="alert">{bad}</p>}
              <button class="btn primary" type="submit">Apply range</button>
              <fieldset class={css.tz}>
                <legend>Times shown in</legend>
                <label><input type="radio" name="tz" checked={tz === "local"} onChange={() => onTz("local")} /> local time</label>
                <label><input type="radio" name="tz" checked={tz === "utc"} onChange={() => onTz("utc")} /> UTC</label>
              </fieldset>
              <label>
                Auto-refresh
                <select class="input" value={refresh} onChange={(e) => onRefresh(e.currentTarget.value as (typeof AUTO_REFRESH)[number])}>
                  {AUTO_REFRESH.map((r) => <option key={r} value={r}>{r === "off" ? "off" : `every ${r}`}</option>)}
                </select>
              </label>
            </form>
          </div>
        </div>
      )}
    </div>
  );
}
