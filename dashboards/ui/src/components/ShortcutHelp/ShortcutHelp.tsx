// The keyboard shortcuts, opened with `?` or the header's button. A native <dialog>: focus
// moves in and back, Escape closes it.

import { useEffect, useRef } from "preact/hooks";
import css from "./Dialog.module.css";

export const SHORTCUTS: [string, string][] = [
  ["?", "show this help"],
  ["/", "focus the query bar"],
  ["Enter or Ctrl/⌘+Enter", "run the query (in the query bar)"],
  ["Ctrl+Space", "show completions (in the query bar)"],
  ["Tab", "accept the highlighted completion"],
  ["↑ / ↓ then Enter", "choose a completion (or a recent query)"],
  ["j / k", "next / previous record"],
  ["o or Enter", "open the selected record"],
  ["Escape", "close the record, a menu or this help"],
  ["l", "start or stop live tail"],
  ["Space", "pause or resume live tail"],
];

export function ShortcutHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={dialog} class={css.dialog} aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <table class={css.table}>
        <tbody>
          {SHORTCUTS.map(([keys, what]) => (
            <tr key={keys}>
              <th scope="row"><kbd>{keys}</kbd></th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form method="dialog">
        <button class="btn primary">Close</button>
      </form>
    </dialog>
  );
}
