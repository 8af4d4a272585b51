// The records just before and after one record, from the same service and host (the
// context API), with the anchor highlighted and more loadable in either direction.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, isAbort } from "../../api/client";
import type { ContextResult, Hit } from "../../api/types";
import { firstLine } from "../../lib/hits";
import { levelVar } from "../../lib/levels";
import { formatTime, TimeZoneMode } from "../../lib/time";
import css from "./RecordPanel.module.css";

const STEP = 20;
const MAX = 1000;

export function ContextList({ anchor, tz, onOpenRecord }: { anchor: Hit; tz: TimeZoneMode; onOpenRecord: (id: string) => void }) {
  const [before, setBefore] = useState(10);
  const [after, setAfter] = useState(10);
  const [ctx, setCtx] = useState<ContextResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  useEffect(() => {
    setBefore(10);
    setAfter(10);
  }, [anchor.record_id]);

  useEffect(() => {
    const ctl = new AbortController();
    api.context(anchor.record_id, before, after, ctl.signal).then(setCtx, (e) => isAbort(e) || setError(e as ApiError));
    return () => ctl.abort();
  }, [anchor.record_id, before, after]);

  const row = (h: Hit, isAnchor: boolean) => (
    <li key={h.record_id} class={`${css.ctxRow} ${isAnchor ? css.anchor : ""}`} aria-current={isAnchor ? "true" : undefined}>
      <button type="button" class={css.ctxButton} onClick={() => onOpenRecord(h.record_id)} disabled={isAnchor}>
        <span class="mono">{formatTime(Date.parse(h.timestamp), tz).slice(11)}</span>
        <span class="level" style={{ color: levelVar(h.level) }}>{h.level}</span>
        <span class="mono">{firstLine(h.message).line}</span>
      </button>
    </li>
  );

  return (
    <section class={css.context} aria-label="Context">
      <h3 class={css.section}>
        Context: {anchor.service ?? "no service"} on {anchor.host ?? "no host"}
      </h3>
      {error && <p class="error-text" role="alert">{error.message}</p>}
      {ctx && (
        <>
          <button type="button" class="btn small" disabled={ctx.before.length < before || before >= MAX} onClick={() => setBefore(Math.min(MAX, before + STEP))}>
            {ctx.before.length < before ? "No earlier records" : `Load ${STEP} earlier`}
          </button>
          <ol class={css.ctxList}>
            {ctx.before.map((h) => row(h, false))}
            {row(ctx.record, true)}
            {ctx.after.map((h) => row(h, false))}
          </ol>
          <button type="button" class="btn small" disabled={ctx.after.length < after || after >= MAX} onClick={() => setAfter(Math.min(MAX, after + STEP))}>
            {ctx.after.length < after ? "No later records" : `Load ${STEP} later`}
          </button>
        </>
      )}
    </section>
  );
}
