// Asks for the API token when the server refuses a request (401), says so when the one
// entered was refused, and retries every waiting request once it is entered.

import { useEffect, useRef, useState } from "preact/hooks";
import { onTokenNeeded, setToken } from "../../api/token";
import css from "../ShortcutHelp/Dialog.module.css";

export function TokenPrompt() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState<"missing" | "refused" | null>(null);
  const [value, setValue] = useState("");

  useEffect(
    () =>
      onTokenNeeded((r) => {
        setReason(r);
        setValue("");
      }),
    [],
  );
  useEffect(() => {
    const d = dialog.current;
    if (d && reason && !d.open) d.showModal();
  }, [reason]);

  const submit = (e: Event) => {
    e.preventDefault();
    if (!value.trim()) return;
    dialog.current?.close();
    setReason(null);
    setToken(value.trim());
  };

  return (
    <dialog
      ref={dialog}
      class={css.dialog}
      aria-labelledby="token-title"
      // Without a token nothing works: Escape does not dismiss it.
      onCancel={(e) => e.preventDefault()}
    >
      <form class={css.form} onSubmit={submit}>
        <h2 id="token-title">API token needed</h2>
        {reason === "refused" ? (
          <p class="error-text" role="alert">The server refused this token. Enter the right one.</p>
        ) : (
          <p>This server needs an API token (<code>auth.api_token</code>). It is kept for this browser tab only.</p>
        )}
        <label>
          API token
          <input
            class="input"
            type="password"
            autocomplete="off"
            style={{ display: "block", width: "100%", marginTop: "4px" }}
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <div class={css.actions}>
          <button class="btn primary" type="submit">Use token</button>
        </div>
      </form>
    </dialog>
  );
}
