// Time from Enter to the explorer's first screen (the histogram and the first page of hits),
// measured in the browser: the clock starts on the Enter keydown and stops on the first
// animation frame where the new summary, the histogram and the first row are all drawn.
//   PHAROS_URL=http://127.0.0.1:7070 node bench.mjs [runs] [start] [end] [query…]

import { launch } from "./lib/browser.mjs";
import { BASE } from "./lib/context.mjs";

const [runsArg, start = "now-24h", end = "now", ...rest] = process.argv.slice(2);
const runs = Number(runsArg ?? 10);
const queries = rest.length ? rest : ["*", "level:error", "service:checkout AND level:error", "product"];

const { context, close } = await launch();
const page = await context.newPage();
const results = [];
for (const q of queries) {
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    await page.goto(`${BASE}/explore?start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`);
    const bar = page.getByRole("combobox", { name: "Query" });
    await bar.fill(q);
    await bar.press("Escape");
    const measured = page.evaluate(
      () =>
        new Promise((resolve) => {
          let t0 = null;
          let sawLoading = false;
          document.addEventListener("keydown", (e) => e.key === "Enter" && t0 === null && (t0 = performance.now()), { capture: true });
          const check = () => {
            const summary = document.querySelector('[data-testid="summary"]')?.textContent ?? "";
            if (summary.startsWith("Searching")) sawLoading = true;
            const done = sawLoading && / loaded /.test(summary) && document.querySelector('[data-testid="histogram"] canvas') && document.querySelector('[role=row][id^="row-"]');
            if (t0 !== null && done) resolve({ ms: performance.now() - t0, summary });
            else requestAnimationFrame(check);
          };
          requestAnimationFrame(check);
          // A run that never finishes is reported, not waited for forever.
          setTimeout(() => resolve({ ms: NaN, summary: document.querySelector('[data-testid="summary"]')?.textContent ?? "" }), 20_000);
        }),
    );
    await page.waitForTimeout(50);
    await bar.press("Enter");
    const r = await measured;
    if (Number.isNaN(r.ms)) console.error(`${q}: run ${i} did not finish in 20 s (summary: ${r.summary})`);
    else if (i > 0) times.push(r.ms); // the first run warms the server's caches
    if (i === runs) results.push({ query: q, summary: r.summary, times });
  }
}
await close();
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
console.log(`| query | hits (summary) | p50 ms | p90 ms | max ms |\n|---|---|---:|---:|---:|`);
for (const r of results) {
  console.log(`| \`${r.query}\` | ${r.summary} | ${pct(r.times, 50).toFixed(0)} | ${pct(r.times, 90).toFixed(0)} | ${Math.max(...r.times).toFixed(0)} |`);
}
