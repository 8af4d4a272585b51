// A modal <dialog> (focus kept inside, Escape closes) with its heading as its name.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import css from "./Dashboards.module.css";

let next = 0;

export function Modal({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useRef(`modal-${++next}`).current;
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.open && d.close();
  }, []);
  return (
    <dialog ref={ref} class={`${css.dialog} ${wide ? css.wide : ""}`} aria-labelledby={id} onCancel={(e) => (e.preventDefault(), onClose())}>
      <div class={css.dialogBody}>
        <h2 id={id} class={css.dialogTitle}>{title}</h2>
        {children}
      </div>
    </dialog>
  );
}
