// The application shell: navigation over every area, the server's version, the keyboard
// shortcut help, the token prompt, and the view the path names.

import { lazy, Suspense } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api/client";
import { navigate, useLocation } from "../lib/router";
import { AREAS } from "./areas";
import { ShortcutHelp } from "../components/ShortcutHelp/ShortcutHelp";
import { TokenPrompt } from "../components/TokenPrompt/TokenPrompt";
import { NotYet } from "../views/NotYet/NotYet";
import { Explore } from "../views/Explore/Explore";
import css from "./App.module.css";

// The request view loads when first opened: the first load carries only the explorer.
const RequestView = lazy(() => import("../views/Request/RequestView").then((m) => ({ default: m.RequestView })));
const Checks = lazy(() => import("../views/Checks/Checks").then((m) => ({ default: m.Checks })));
const Slos = lazy(() => import("../views/Slos/Slos").then((m) => ({ default: m.Slos })));
const Alerts = lazy(() => import("../views/Alerts/Alerts").then((m) => ({ default: m.Alerts })));
const Dashboards = lazy(() => import("../views/Dashboards/Dashboards").then((m) => ({ default: m.Dashboards })));
const Metrics = lazy(() => import("../views/Metrics/Metrics").then((m) => ({ default: m.Metrics })));

export function App() {
  const loc = useLocation();
  const [version, setVersion] = useState<string | null>(null);
  const [help, setHelp] = useState(false);

  useEffect(() => {
    api.buildInfo().then((b) => setVersion(b.version), () => setVersion(null));
  }, []);

  useEffect(() => {
    if (loc.pathname === "/" || loc.pathname === "") navigate("/explore", { replace: true });
  }, [loc.pathname]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, select, [contenteditable]")) return;
      if (e.key === "?") {
        e.preventDefault();
        setHelp(true);
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const area = AREAS.find((a) => loc.pathname === a.path || loc.pathname.startsWith(`${a.path}/`));
  const current = loc.pathname.startsWith("/request/") ? "/explore" : area?.path;
  useEffect(() => {
    document.title = `${loc.pathname.startsWith("/request/") ? "Request" : (area?.label ?? "Pharos")} · Pharos`;
  }, [loc.pathname, area]);

  return (
    <div class={css.shell}>
      <a class={css.skip} href="#main">Skip to content</a>
      <header class={css.header}>
        <a class={css.brand} href="/explore" aria-label="Pharos home">
          <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true"><path d="M6 15h4l-1-9H7z" fill="#e8a33d" /><circle cx="8" cy="4" r="2.5" fill="#e8a33d" /></svg>
          Pharos
        </a>
        <nav aria-label="Main" class={css.nav}>
          {AREAS.map((a) => (
            <a key={a.path} href={a.path} class={css.navLink} aria-current={current === a.path ? "page" : undefined}>
              {a.label}
              {!a.built && <span class={css.soon}> (soon)</span>}
            </a>
          ))}
        </nav>
        <span class={css.version} title="Server version">{version ? `v${version}` : ""}</span>
        <button type="button" class={css.helpBtn} aria-label="Keyboard shortcuts" onClick={() => setHelp(true)}>?</button>
      </header>
      <main id="main" class={css.main} tabIndex={-1}>
        {loc.pathname.startsWith("/request/") ? (
          <Suspense fallback={<p class={css.loading}>Loading…</p>}>
            <RequestView />
          </Suspense>
        ) : area?.path === "/alerts" ? (
          <Suspense fallback={<p class={css.loading}>Loading…</p>}>
            <Alerts />
          </Suspense>
        ) : area?.path === "/slos" ? (
          <Suspense fallback={<p class={css.loading}>Loading…</p>}>
            <Slos />
          </Suspense>
        ) : area?.path === "/checks" ? (
          <Suspense fallback={<p class={css.loading}>Loading…</p>}>
            <Checks />
          </Suspense>
        ) : area?.path === "/dashboards" ? (
          <Suspense fallback={<p class={css.loading}>Loading…</p>}>
            <Dashboards />
          </Suspense>
        ) : area?.path === "/graph" ? (
          <Suspense fallback={<p class={css.loading}>Loading…</p>}>
            <Metrics />
          </Suspense>
        ) : area?.built ? (
          <Explore />
        ) : area ? (
          <NotYet area={area} />
        ) : (
          <NotFound />
        )}
      </main>
      <ShortcutHelp open={help} onClose={() => setHelp(false)} />
      <TokenPrompt />
    </div>
  );
}

function NotFound() {
  const loc = useLocation();
  return (
    <section class={css.notFound}>
      <h1>No page here</h1>
      <p>
        There is nothing at <code>{loc.pathname}</code>. <a href="/explore">Go to Explore</a>.
      </p>
    </section>
  );
}
