// Live tail: follows new records matching the query (the tail API, Server-Sent Events),
// newest at the bottom. It never moves while the person reads: scrolling up or selecting
// text pauses it, and what arrives meanwhile waits behind a "resume" button. Records the
// server had to drop for a slow client are counted and said.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, isAbort } from "../../api/client";
import { streamEvents } from "../../api/sse";
import type { Hit } from "../../api/types";
import { splitPipes } from "../../lib/query";
import type { TimeZoneMode } from "../../lib/time";
import { ResultsTable } from "./ResultsTable";
import css from "./Explore.module.css";

/** Records kept on screen; older ones scroll out of memory. */
const KEEP = 20_000;

type PauseReason = "button" | "scroll" | "selection" | null;

interface Props {
  query: string;
  tz: TimeZoneMode;
  columns: string[];
  selectedId: string | null;
  onOpen: (hit: Hit) => void;
}

export function LiveTail({ query, tz, columns, selectedId, onOpen }: Props) {
  const records = useRef<Hit[]>([]);
  const pending = useRef<Hit[]>([]);
  const [version, setVersion] = useState(0);
  const [pendingCount, setPendingCount] = useState(0);
  const [dropped, setDropped] = useState(0);
  const [paused, setPaused] = useState<PauseReason>(null);
  const pausedRef = useRef<PauseReason>(null);
  pausedRef.current = paused;
  const [status, setStatus] = useState<"connecting" | "live" | "error">("connecting");
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    records.current = [];
    pending.current = [];
    setVersion(0);
    setPendingCount(0);
    setDropped(0);
    const ctl = new AbortController();
    let frame = 0;
    // Renders at most once a frame, however fast records come.
    const flush = () => {
      frame = 0;
      if (pausedRef.current) {
        setPendingCount(pending.current.length);
        return;
      }
      const next = records.current.concat(pending.current);
      pending.current = [];
      records.current = next.length > KEEP ? next.slice(next.length - KEEP) : next;
      setVersion((v) => v + 1);
      setPendingCount(0);
    };
    let retry = 0;
    const connect = () => {
      setStatus("connecting");
      streamEvents(
        api.tailUrl(splitPipes(query).filter.trim()),
        (e) => {
          setStatus("live");
          setError(null);
          retry = 0;
          if (e.event === "record") pending.current.push(JSON.parse(e.data) as Hit);
          else if (e.event === "dropped") setDropped((d) => d + Number(JSON.parse(e.data).dropped ?? 0));
          if (!frame) frame = requestAnimationFrame(flush);
        },
        ctl.signal,
        () => {
          setStatus("live");
          setError(null);
        },
      ).then(
        () => !ctl.signal.aborted && setTimeout(connect, 1000),
        (e) => {
          if (isAbort(e)) return;
          setStatus("error");
          setError(e instanceof ApiError ? e.message : String(e));
          // A refused query will not get better by retrying; a dropped connection may.
          if (!(e instanceof ApiError && e.status === 400)) setTimeout(connect, Math.min(10_000, 1000 * 2 ** retry++));
        },
      );
    };
    connect();
    return () => {
      ctl.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [query]);

  // Selecting text inside the tail pauses it, so the selection stays put.
  useEffect(() => {
    const onSel = () => {
      const sel = window.getSelection();
      if (sel && !sel.isCollapsed && box.current?.contains(sel.anchorNode)) setPaused((p) => p ?? "selection");
    };
    document.addEventListener("selectionchange", onSel);
    return () => document.removeEventListener("selectionchange", onSel);
  }, []);

  const resume = () => {
    setPaused(null);
    pausedRef.current = null;
    records.current = records.current.concat(pending.current).slice(-KEEP);
    pending.current = [];
    setPendingCount(0);
    setVersion((v) => v + 1);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest("input, textarea, select, button, [role=grid]")) return;
      if (e.key === " ") {
        e.preventDefault();
        if (pausedRef.current) resume();
        else setPaused("button");
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const statusText =
    status === "error" ? `Disconnected: ${error}` : status === "connecting" ? "Connecting…" : paused ? `Paused${paused === "scroll" ? " (scrolled up)" : paused === "selection" ? " (text selected)" : ""}` : "Live";

  return (
    <div class={css.live} ref={box}>
      <div class={css.liveBar}>
        <span class={`${css.liveDot} ${status === "live" && !paused ? css.on : ""}`} aria-hidden="true" />
        <span role="status" aria-live="polite">{statusText}</span>
        <span class="muted">{records.current.length.toLocaleString()} records</span>
        {paused ? (
          <button type="button" class="btn small primary" onClick={resume}>
            Resume{pendingCount ? ` (${pendingCount.toLocaleString()} new)` : ""}
          </button>
        ) : (
          <button type="button" class="btn small" onClick={() => setPaused("button")}>Pause</button>
        )}
        {dropped > 0 && (
          <span class="error-text" role="alert">
            {dropped.toLocaleString()} records dropped: the browser could not keep up (search finds them).
          </span>
        )}
      </div>
      <ResultsTable
        hits={records.current}
        version={version}
        total={records.current.length}
        columns={columns}
        tz={tz}
        selectedId={selectedId}
        onOpen={onOpen}
        label="Live records"
        stickToBottom={!paused}
        onScrollAway={(away) => {
          if (away && !pausedRef.current && records.current.length > 0) setPaused("scroll");
        }}
      />
    </div>
  );
}
