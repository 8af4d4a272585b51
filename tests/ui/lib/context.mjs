// What every browser test shares: the servers (from the environment tests/e2e/ui.rs sets),
// the browser, and helpers that find elements by role and label.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { launch } from "./browser.mjs";

export const BASE = process.env.PHAROS_URL ?? "http://127.0.0.1:7070";
/** A second server started with an API token (the token prompt's test). */
export const TOKEN_BASE = process.env.PHAROS_TOKEN_URL ?? null;
export const TOKEN = process.env.PHAROS_TOKEN ?? null;

export const ctx = { context: null, close: null };

export async function startBrowser() {
  const b = await launch();
  ctx.context = b.context;
  ctx.close = b.close;
}

export async function newPage(path = "/explore", base = BASE) {
  const page = await ctx.context.newPage();
  page.on("pageerror", (e) => console.error(`page error on ${path}: ${e.message}`));
  await page.goto(`${base}${path}`);
  return page;
}

export async function api(path, init = {}, base = BASE) {
  const resp = await fetch(`${base}${path}`, init);
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${path}: ${resp.status} ${text}`);
  return JSON.parse(text);
}

export async function ingest(records, base = BASE) {
  const resp = await fetch(`${base}/api/v1/logs`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: records.map((r) => JSON.stringify(r)).join("\n"),
  });
  if (!resp.ok) throw new Error(`ingest: ${resp.status} ${await resp.text()}`);
}

/** Polls `fn` every 200 ms until it returns something truthy (returned), or throws naming `what`. */
export async function until(what, fn, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls the search API until `q` has at least `want` hits (records are searchable within ~1 s). */
export async function waitSearchable(q, want, base = BASE, headers = {}) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await api("/api/v1/query", { method: "POST", headers, body: JSON.stringify({ query: q, start: "now-2h", limit: 0 }) }, base);
    if (r.total >= want) return r.total;
    if (Date.now() > deadline) throw new Error(`${q}: ${r.total} hits after 20 s, wanted ${want}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Runs the query bar: types the text and presses Enter. */
export async function search(page, text) {
  const bar = page.getByRole("combobox", { name: "Query" });
  await bar.fill(text);
  await bar.press("Escape");
  await bar.press("Enter");
}

export function summary(page) {
  return page.getByTestId("summary");
}

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** axe-core on the page as it is now: the serious and critical violations, described. */
export async function axeViolations(page) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}
