// One record opened: its message (multi-line and stack traces as written), every field with
// filter buttons, attributes and resource as JSON trees, the original as it was sent, copy
// buttons, links to the request view for its trace and correlation ids, and its context.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, isAbort } from "../../api/client";
import type { Hit } from "../../api/types";
import { CopyButton } from "../../components/CopyButton/CopyButton";
import { JsonTree } from "../../components/JsonTree/JsonTree";
import { displayValue, flattenHit, prettyRaw } from "../../lib/hits";
import { levelVar } from "../../lib/levels";
import { formatTime, TimeZoneMode } from "../../lib/time";
import { encodeRequest, exploreHref } from "../../lib/url";
import { ContextList } from "./ContextList";
import css from "./RecordPanel.module.css";

interface Props {
  recordId: string;
  loaded: Hit | null;
  tz: TimeZoneMode;
  showContext: boolean;
  onClose: () => void;
  onToggleContext: () => void;
  onOpenRecord: (id: string) => void;
  onFilter?: (field: string, value: string, negate: boolean) => void;
}

export function requestHref(id: string, tz: TimeZoneMode): string {
  return encodeRequest({ id, tz, record: null });
}

export function RecordPanel({ recordId, loaded, tz, showContext, onClose, onToggleContext, onOpenRecord, onFilter }: Props) {
  const [fetched, setFetched] = useState<Hit | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const hit = loaded?.record_id === recordId ? loaded : fetched?.record_id === recordId ? fetched : null;

  useEffect(() => {
    if (hit) return;
    // Opened from an address: the record may not be among the loaded hits.
    const ctl = new AbortController();
    setError(null);
    api.context(recordId, 0, 0, ctl.signal).then(
      (c) => setFetched(c.record),
      (e) => isAbort(e) || setError(e as ApiError),
    );
    return () => ctl.abort();
  }, [recordId, hit === null]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !(e.target as HTMLElement).closest("dialog, [role=combobox]")) onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);

  return (
    <section class={css.panel} aria-label="Record" aria-busy={!hit && !error}>
      <header class={css.header}>
        <h2 class={css.title}>Record</h2>
        {hit && (
          <span class={css.meta}>
            <span class="mono">{formatTime(Date.parse(hit.timestamp), tz)}</span>
            <span class="level" style={{ color: levelVar(hit.level) }}>{hit.level}</span>
            <span>{hit.service}</span>
          </span>
        )}
        <button type="button" class="btn small" onClick={onClose} aria-label="Close record">✕</button>
      </header>
      {error && <p class="error-text" role="alert">Cannot open record {recordId}: {error.message}</p>}
      {!hit && !error && <p class="muted">Loading record {recordId}…</p>}
      {hit && (
        <div class={css.body}>
          <div class={css.actions}>
            <button type="button" class="btn" aria-pressed={showContext} onClick={onToggleContext}>
              {showContext ? "Hide context" : "Show context"}
            </button>
            <CopyButton text={JSON.stringify(hit, null, 2)} label="Copy JSON of this record" short="Copy JSON" />
            {hit.correlation_id && <a class="btn" href={requestHref(hit.correlation_id, tz)}>Request {hit.correlation_id}</a>}
            {hit.trace_id && hit.trace_id !== hit.correlation_id && <a class="btn" href={requestHref(hit.trace_id, tz)}>Trace {hit.trace_id.slice(0, 12)}…</a>}
          </div>
          {showContext && <ContextList anchor={hit} tz={tz} onOpenRecord={onOpenRecord} />}
          <h3 class={css.section}>Message <CopyButton text={hit.message ?? ""} label="Copy message" /></h3>
          <pre class={css.message}>{hit.message}</pre>
          <h3 class={css.section}>Fields</h3>
          <table class={css.fields}>
            <tbody>
              {flattenHit(hit).map(([name, value]) => (
                <tr key={name}>
                  <th scope="row" class="mono">{name}</th>
                  <td class="mono">
                    {(name === "trace_id" || name === "correlation_id") && typeof value === "string" ? (
                      <a href={requestHref(value, tz)} aria-label={`Open the request view for ${name} ${value}`}>{value}</a>
                    ) : (
                      displayValue(value)
                    )}
                  </td>
                  <td class={css.fieldActions}>
                    {onFilter && (
                      <>
                        <button type="button" class="btn small" aria-label={`Filter for ${name}`} onClick={() => onFilter(name, displayValue(value), false)}>+</button>
                        <button type="button" class="btn small" aria-label={`Filter out ${name}`} onClick={() => onFilter(name, displayValue(value), true)}>−</button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3 class={css.section}>Attributes</h3>
          <JsonTree value={hit.attributes} />
          <h3 class={css.section}>Resource</h3>
          <JsonTree value={hit.resource} />
          <h3 class={css.section}>Original, as sent <CopyButton text={typeof hit.raw === "string" ? hit.raw : JSON.stringify(hit.raw)} label="Copy the original" /></h3>
          <pre class={css.raw}>{prettyRaw(hit.raw)}</pre>
          <p>
            <a href={exploreHref({ query: hit.service ? `service:${hit.service}` : "", start: new Date(Date.parse(hit.timestamp) - 300_000).toISOString(), end: new Date(Date.parse(hit.timestamp) + 300_000).toISOString(), record: hit.record_id, context: true, tz })}>
              This service ±5 minutes in the explorer
            </a>
          </p>
        </div>
      )}
    </section>
  );
}
