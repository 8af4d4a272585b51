// Labels as chips; a click adds `name="value"` to the alert filter.

import type { Labels as LabelSet } from "../../api/alerting";
import css from "./Alerts.module.css";

export function Labels({ labels, onPick, omit = [] }: { labels: LabelSet; onPick?: (name: string, value: string) => void; omit?: string[] }) {
  const names = Object.keys(labels).filter((n) => !omit.includes(n)).sort();
  return (
    <ul class={css.labels} aria-label="Labels">
      {names.map((n) => (
        <li key={n}>
          {onPick ? (
            <button type="button" class={css.label} title={`Filter by ${n}="${labels[n]}"`} onClick={() => onPick(n, labels[n])}>
              <span class={css.labelName}>{n}</span>={labels[n]}
            </button>
          ) : (
            <span class={css.label}>
              <span class={css.labelName}>{n}</span>={labels[n]}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}
