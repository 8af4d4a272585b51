// An area that is not built yet: says so plainly, and points at what works today.

import type { Area } from "../../app/areas";

export function NotYet({ area }: { area: Area }) {
  return (
    <section style={{ padding: "24px", maxWidth: "680px" }}>
      <h1>{area.label}</h1>
      <p>
        <strong>Not built yet.</strong> {area.blurb} This area comes with the next part of the web UI.
      </p>
      {area.today && (
        <>
          <p>What works today:</p>
          <ul>
            {area.today.map((t) => (
              <li key={t.href}><a href={t.href}>{t.label}</a></li>
            ))}
          </ul>
        </>
      )}
      <p>
        Logs can be searched now in <a href="/explore">Explore</a>.
      </p>
    </section>
  );
}
