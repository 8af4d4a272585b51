// The metrics explorer at /graph against metrics seeded through Prometheus remote write
// (seed-metrics.mjs): completion of metric names, label names and values; a graph whose
// legend toggles series; a table that agrees with the instant query API; the state in the
// URL across a reload; the server's error; from a series to its service's logs; axe-core.

import assert from "node:assert/strict";
import { before, test } from "node:test";
import { api, axeViolations, BASE, newPage } from "../lib/context.mjs";
import { seedMetrics, waitMetrics } from "../seed-metrics.mjs";

before(async () => {
  try {
    await seedMetrics(BASE, Date.now());
  } catch (e) {
    // Run again by hand against a server seeded before: its samples are there already.
    if (!/out of order|duplicate timestamp/.test(e.message)) throw e;
  }
  await waitMetrics(BASE);
});

const RATE_BY_CODE = "sum by (code) (rate(http_requests_total[5m]))";

/** An absolute range ending a minute ago, on a whole second: instant queries at its end are repeatable. */
function fixedRange() {
  const end = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  return { start: new Date(end - 30 * 60_000).toISOString(), end: new Date(end).toISOString(), endS: end / 1000 };
}

const editor = (page) => page.getByRole("combobox", { name: "PromQL query" });
const suggestions = (page) => page.getByRole("listbox", { name: "Suggestions" });
const optionTexts = async (page) => (await suggestions(page).getByRole("option").allInnerTexts()).map((t) => t.split(/\s+/).pop());

async function runQuery(page, text) {
  const bar = editor(page);
  await bar.fill(text);
  await bar.press("Escape");
  await bar.press("Enter");
}

test("metrics: completion offers metric names, then label names inside braces, then label values", async () => {
  const page = await newPage("/graph");
  const bar = editor(page);
  await bar.click();
  await bar.pressSequentially("http_req");
  await suggestions(page).getByRole("option", { name: /http_requests_total/ }).waitFor();
  // Every seeded metric starts with http_req: the arrow keys go to the counter, Tab takes it.
  const offered = await optionTexts(page);
  assert.ok(offered.length >= 4, `the four seeded metrics: ${offered}`);
  for (let i = 0; i <= offered.indexOf("http_requests_total"); i++) await bar.press("ArrowDown");
  assert.equal(await suggestions(page).getByRole("option", { selected: true }).innerText().then((t) => t.split(/\s+/).pop()), "http_requests_total");
  await bar.press("Tab");
  assert.equal(await bar.inputValue(), "http_requests_total");

  await bar.pressSequentially("{");
  await suggestions(page).getByRole("option", { name: /service/ }).waitFor();
  const labels = await optionTexts(page);
  for (const l of ["code", "method", "service"]) assert.ok(labels.includes(l), `label ${l} offered: ${labels}`);

  await bar.pressSequentially('service="');
  await suggestions(page).getByRole("option", { name: /checkout/ }).waitFor();
  assert.deepEqual((await optionTexts(page)).sort(), ["checkout", "web"]);
  await bar.press("Tab");
  assert.equal(await bar.inputValue(), 'http_requests_total{service="checkout"');
  await bar.press("Escape");
  assert.equal(await suggestions(page).count(), 0, "Escape closes the list");
  await page.close();
});

test("metrics: a range query draws a graph whose legend toggles series; the table agrees with the API", async () => {
  const r = fixedRange();
  const page = await newPage(`/graph?start=${encodeURIComponent(r.start)}&end=${encodeURIComponent(r.end)}`);
  await runQuery(page, RATE_BY_CODE);
  const legend = page.getByRole("list", { name: "Legend" });
  await legend.getByRole("listitem").nth(1).waitFor();
  assert.equal(await legend.getByRole("listitem").count(), 2);
  await page.getByRole("img", { name: /Graph of 2 series/ }).waitFor();
  const s500 = legend.getByRole("button", { name: '{code="500"}' });
  assert.equal(await s500.getAttribute("aria-pressed"), "true");
  await s500.click();
  assert.equal(await s500.getAttribute("aria-pressed"), "false", "clicking a legend entry hides the series");
  assert.equal(await legend.getByRole("button", { name: '{code="200"}' }).getAttribute("aria-pressed"), "true");
  await s500.click();
  assert.equal(await s500.getAttribute("aria-pressed"), "true");
  // Stacked, in the URL.
  await page.getByRole("checkbox", { name: "Stacked" }).check();
  await page.waitForURL(/stacked=1/);
  await page.getByRole("img", { name: /Stacked graph of 2 series/ }).waitFor();
  assert.deepEqual(await axeViolations(page), [], "graph view");

  await page.getByRole("button", { name: "Table" }).click();
  const table = page.getByRole("table", { name: "Query result" });
  await table.waitFor();
  const rows = table.locator("tbody tr");
  assert.equal(await rows.count(), 2);
  const shown = {};
  for (const row of await rows.all()) {
    const cells = await row.getByRole("cell").allInnerTexts();
    shown[cells[0]] = cells[1];
  }
  const answer = await api(`/prometheus/api/v1/query?query=${encodeURIComponent(RATE_BY_CODE)}&time=${r.endS}`);
  const want = Object.fromEntries(answer.data.result.map((s) => [`{code="${s.metric.code}"}`, s.value[1]]));
  assert.deepEqual(shown, want, "the table's values are the instant query's at the range's end");
  // Sortable by value: descending puts the 200s first.
  await table.getByRole("button", { name: "Value" }).click();
  assert.equal(await table.getByRole("columnheader", { name: "Value" }).getAttribute("aria-sort"), "descending");
  assert.equal(await rows.first().getByRole("cell").first().innerText(), '{code="200"}');
  assert.deepEqual(await axeViolations(page), [], "table view");
  await page.close();
});

test("metrics: the URL keeps the query, the step and the view; a reload shows the same", async () => {
  const page = await newPage("/graph");
  await runQuery(page, RATE_BY_CODE);
  await page.getByRole("list", { name: "Legend" }).getByRole("listitem").first().waitFor();
  assert.match(await page.locator("#step-note").innerText(), /^auto step \d+s$/);
  const step = page.getByRole("textbox", { name: "Step" });
  await step.fill("30s");
  await step.press("Enter");
  await page.waitForURL(/step=30s/);
  await page.getByText("step 30s", { exact: true }).waitFor();
  assert.match(page.url(), /q=sum\+by\+%28code%29/);

  await page.reload();
  assert.equal(await editor(page).inputValue(), RATE_BY_CODE);
  assert.equal(await page.getByRole("textbox", { name: "Step" }).inputValue(), "30s");
  await page.getByRole("list", { name: "Legend" }).getByRole("listitem").nth(1).waitFor();

  await page.getByRole("button", { name: "Table" }).click();
  await page.waitForURL(/view=table/);
  assert.match(page.url(), /step=30s/);
  await page.reload();
  assert.equal(await page.getByRole("button", { name: "Table" }).getAttribute("aria-pressed"), "true");
  await page.getByRole("table", { name: "Query result" }).locator("tbody tr").nth(1).waitFor();
  assert.equal(await editor(page).inputValue(), RATE_BY_CODE);
  await page.close();
});

test("metrics: a broken query shows the server's error", async () => {
  const page = await newPage("/graph");
  const broken = "sum(rate(http_requests_total[5m])";
  await runQuery(page, broken);
  const alert = page.getByRole("alert").filter({ hasText: /Query failed/ });
  await alert.waitFor();
  const answer = await fetch(`${BASE}/prometheus/api/v1/query?query=${encodeURIComponent(broken)}`).then((r) => r.json());
  assert.equal(answer.status, "error");
  assert.ok((await alert.innerText()).includes(answer.error), `the server's message "${answer.error}"`);
  assert.equal(await editor(page).getAttribute("aria-invalid"), "true");
  await page.close();
});

test("metrics: a series' Logs link opens Explore on its service over the same range", async () => {
  const page = await newPage("/graph?start=now-30m");
  await runQuery(page, "sum by (service) (rate(http_requests_total[5m]))");
  const legend = page.getByRole("list", { name: "Legend" });
  await legend.getByRole("listitem").nth(1).waitFor();
  await legend.getByRole("link", { name: 'Logs of {service="checkout"}' }).click();
  await page.waitForURL(/\/explore\?/);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get("q"), "service:checkout");
  assert.equal(url.searchParams.get("start"), "now-30m");
  assert.equal(await page.getByRole("combobox", { name: "Query" }).inputValue(), "service:checkout");
  await page.close();
});
