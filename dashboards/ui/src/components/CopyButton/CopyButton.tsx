// Copies text to the clipboard and says so (also to screen readers).

import { useState } from "preact/hooks";

export function CopyButton({ text, label, short = "Copy" }: { text: string; label: string; short?: string }) {
  const [done, setDone] = useState<"copied" | "failed" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone("copied");
    } catch {
      // Clipboard access needs a secure context; fall back to a selection copy.
      const ta = document.createElement("textarea");
      ta.value = text;
      document.body.append(ta);
      ta.select();
      const ok = document.execCommand("copy");
      ta.remove();
      setDone(ok ? "copied" : "failed");
    }
    setTimeout(() => setDone(null), 1500);
  };
  return (
    <button type="button" class="btn small" onClick={copy} aria-label={label}>
      {done === "copied" ? "Copied" : done === "failed" ? "Copy failed" : short}
      <span class="visually-hidden" aria-live="polite">{done === "copied" ? "Copied" : ""}</span>
    </button>
  );
}
