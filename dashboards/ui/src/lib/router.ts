// A tiny history router: the path picks the view, the query string is the view's state
// (lib/url.ts). Links are plain <a href> (so they open in a new tab too); same-origin
// clicks are taken over here.

import { useEffect, useState } from "preact/hooks";

export interface Location {
  pathname: string;
  search: string;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { pathname: window.location.pathname, search: window.location.search };
}

export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  const target = new URL(href, window.location.href);
  const next = target.pathname + target.search;
  if (next === window.location.pathname + window.location.search) return;
  if (opts.replace) history.replaceState(null, "", next);
  else history.pushState(null, "", next);
  listeners.forEach((l) => l());
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return loc;
}

/** Paths the UI draws; anything else (/api/…, /ready, /metrics, the status page…) is the server's. */
export function isAppPath(path: string): boolean {
  return /^\/(explore|request|graph|dashboards|alerts|checks|slos|reports)(\/|$)/.test(path) || path === "/";
}

/** Installed once: in-app links navigate without a reload (modifier clicks keep their meaning). */
export function interceptLinks(): void {
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest?.("a[href]") as HTMLAnchorElement | null;
    if (!a || a.target || a.hasAttribute("download") || a.origin !== window.location.origin) return;
    if (!isAppPath(a.pathname)) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
  });
}
