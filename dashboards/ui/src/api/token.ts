// The API token, in one place: kept for the browser session (sessionStorage: gone when the
// tab closes, never written to disk by us), sent as a bearer token. When the server refuses a
// request, the app shell asks for it (see components/TokenPrompt). A later security issue
// replaces this with login; only this file and the prompt need to change.

const KEY = "pharos.api-token";

type Listener = (reason: "missing" | "refused") => void;
const listeners = new Set<Listener>();
let pending: Promise<void> | null = null;
let resolvePending: (() => void) | null = null;

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage can be disabled; the token then lasts until the page is reloaded.
  }
  if (token && resolvePending) {
    resolvePending();
    pending = null;
    resolvePending = null;
  }
}

export function authHeaders(): Record<string, string> {
  const t = getToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** The prompt subscribes here; the client calls `needToken` on a 401. */
export function onTokenNeeded(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Resolves once a (new) token has been entered; every 401 at the same time shares it. */
export function needToken(): Promise<void> {
  const reason = getToken() ? "refused" : "missing";
  if (!pending) {
    pending = new Promise((resolve) => (resolvePending = resolve));
    listeners.forEach((l) => l(reason));
  }
  return pending;
}
