// A collapsible JSON tree: objects and arrays are <details> (native, keyboard-operable),
// leaves are coloured by type.

import css from "./JsonTree.module.css";

export function JsonTree({ value, name, open = true }: { value: unknown; name?: string; open?: boolean }) {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
    const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
    if (entries.length === 0) return <div class={css.leaf}>{name && <span class={css.key}>{name}: </span>}<span class="muted">{brackets.join("")}</span></div>;
    return (
      <details class={css.node} open={open}>
        <summary>
          {name && <span class={css.key}>{name}: </span>}
          <span class="muted">{brackets[0]} {entries.length} {Array.isArray(value) ? (entries.length === 1 ? "item" : "items") : entries.length === 1 ? "key" : "keys"} {brackets[1]}</span>
        </summary>
        <div class={css.children}>
          {entries.map(([k, v]) => <JsonTree key={k} name={k} value={v} open={open} />)}
        </div>
      </details>
    );
  }
  const kind = value === null ? "null" : typeof value;
  return (
    <div class={css.leaf}>
      {name && <span class={css.key}>{name}: </span>}
      <span class={css[kind] ?? ""}>{kind === "string" ? JSON.stringify(value) : String(value)}</span>
    </div>
  );
}
