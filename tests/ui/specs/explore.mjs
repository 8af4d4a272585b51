// The explorer: search, histogram, zoom, facets, errors, aggregations, export, the list.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { api, BASE, ingest, newPage, search, summary } from "../lib/context.mjs";

test("a search shows the expected records and the histogram's total equals the API's", async () => {
  const page = await newPage("/explore");
  await search(page, "service:payments level:error");
  const r = await api("/api/v1/query", { method: "POST", body: JSON.stringify({ query: "service:payments level:error", start: "now-1h", limit: 0 }) });
  assert.ok(r.total > 0);
  // Wait for this search's summary: the first load's (every record) can still be showing
  // when the new query starts, and then "Searching…" replaces it.
  const want = new RegExp(`^${r.total.toLocaleString("en-US")} records, \\d+ loaded`);
  await summary(page).filter({ hasText: want }).waitFor();
  assert.match(await summary(page).innerText(), want);
  const rows = page.getByRole("grid", { name: "Log records" }).getByRole("row");
  // One header row, then the hits.
  assert.equal(await rows.count(), Math.min(r.total, 200) + 1);
  for (const text of await rows.allInnerTexts()) if (!/^Time/.test(text)) assert.match(text, /ERROR\s+payments/);
  const hist = await api(`/api/v1/histogram?q=${encodeURIComponent("service:payments level:error")}&start=now-1h`);
  assert.equal(Number(await page.getByTestId("histogram").getAttribute("data-total")), hist.total);
  assert.equal(hist.total, r.total);
  await page.close();
});

test("dragging across the histogram zooms the time range", async () => {
  const page = await newPage("/explore?q=*");
  await page.getByText(/records, \d+ loaded/).waitFor();
  const range = page.getByRole("button", { name: /^Time range:/ });
  assert.equal(await range.innerText(), "Last 1 hour");
  const box = await page.locator(".u-over").boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL(/start=\d{4}-/);
  const url = new URL(page.url());
  const span = Date.parse(url.searchParams.get("end")) - Date.parse(url.searchParams.get("start"));
  // 30 % of an hour, give or take the pixels.
  assert.ok(span > 15 * 60_000 && span < 21 * 60_000, `zoomed span ${span} ms`);
  assert.match(await range.innerText(), /→/);
  await page.getByText(/records, \d+ loaded/).waitFor();
  await page.close();
});

test("clicking a bar narrows the range to its bucket", async () => {
  const page = await newPage("/explore?q=*");
  await page.getByText(/records, \d+ loaded/).waitFor();
  const box = await page.locator(".u-over").boundingBox();
  await page.mouse.click(box.x + box.width * 0.7, box.y + box.height - 3);
  await page.waitForURL(/start=\d{4}-/);
  const url = new URL(page.url());
  // A 1-hour range has 1-minute buckets.
  assert.equal(Date.parse(url.searchParams.get("end")) - Date.parse(url.searchParams.get("start")), 60_000);
  await page.getByText(/records, \d+ loaded/).waitFor();
  await page.close();
});

test("a facet click adds the filter to the query, and its negation too", async () => {
  const page = await newPage("/explore?q=*");
  await page.getByText(/records, \d+ loaded/).waitFor();
  const fields = page.getByRole("complementary", { name: "Fields" });
  await fields.getByRole("button", { name: /^service/ }).click();
  await fields.getByText(/Top values over all/).waitFor();
  await fields.getByRole("button", { name: "Filter for service:payments" }).click();
  await page.waitForURL(/q=service%3Apayments/);
  assert.equal(await page.getByRole("combobox", { name: "Query" }).inputValue(), "service:payments");
  await page.getByText(/records, \d+ loaded/).waitFor();
  await fields.getByRole("button", { name: /^host/ }).click();
  await fields.getByRole("button", { name: "Filter out host:node-1" }).click();
  await page.waitForURL(/host%3Anode-1/);
  assert.equal(await page.getByRole("combobox", { name: "Query" }).inputValue(), "service:payments -host:node-1");
  await page.close();
});

test("a query error is shown with the server's message and marked in the query bar", async () => {
  const page = await newPage("/explore");
  await search(page, "(a OR b");
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /expected `\)` to close the `\(` at column 1/);
  assert.equal(await page.getByRole("combobox", { name: "Query" }).getAttribute("aria-invalid"), "true");
  await page.close();
});

test("completion offers field names, a field's values and pipes", async () => {
  const page = await newPage("/explore");
  const bar = page.getByRole("combobox", { name: "Query" });
  await bar.click();
  await bar.pressSequentially("serv");
  const list = page.getByRole("listbox", { name: "Suggestions" });
  await list.getByRole("option", { name: /service:/ }).first().waitFor();
  await bar.press("Tab");
  assert.equal(await bar.inputValue(), "service:");
  await list.getByRole("option", { name: /payments/ }).waitFor();
  await bar.pressSequentially("pay");
  await bar.press("Tab");
  assert.equal(await bar.inputValue(), "service:payments");
  await bar.pressSequentially(" | st");
  await list.getByRole("option", { name: /stats/ }).waitFor();
  await page.close();
});

test("recent queries are offered on an empty query bar, and Enter on one runs it", async () => {
  const page = await newPage("/explore");
  await search(page, "service:web");
  await page.waitForURL(/q=service%3Aweb/);
  await search(page, "service:auth");
  await page.waitForURL(/q=service%3Aauth/);
  const bar = page.getByRole("combobox", { name: "Query" });
  await bar.fill("");
  const list = page.getByRole("listbox", { name: "Suggestions" });
  await list.getByRole("option").first().waitFor();
  assert.deepEqual((await list.getByRole("option").allInnerTexts()).slice(0, 2).map((t) => t.replace(/^recent\s*/i, "")), ["service:auth", "service:web"]);
  await bar.press("ArrowDown");
  await bar.press("ArrowDown");
  await bar.press("Enter");
  await page.waitForURL(/q=service%3Aweb/);
  await page.close();
});

test("auto-refresh re-runs a relative range and shows records that arrived since", async () => {
  const tag = `refresh${Date.now()}`;
  const page = await newPage(`/explore?q=service:${tag}&refresh=5s`);
  await page.getByText("No records match in this time range.").waitFor();
  await ingest([{ service: tag, level: "info", msg: "arrived later" }]);
  await page.getByRole("grid", { name: "Log records" }).getByText("arrived later").waitFor({ timeout: 15_000 });
  await page.close();
});

test("an aggregation shows a table and a chart", async () => {
  const page = await newPage("/explore");
  await search(page, "* | stats count() by service");
  const table = page.getByRole("table", { name: "Aggregation result" });
  await table.waitFor();
  const answer = await api("/api/v1/query", { method: "POST", body: JSON.stringify({ query: "* | stats count() by service", start: "now-1h" }) });
  // A header row, then one per service (other tests add services of their own).
  assert.equal(await table.getByRole("row").count(), answer.rows.length + 1);
  assert.ok(answer.rows.length >= 5);
  await page.getByRole("figure", { name: "Bar chart of count" }).waitFor();
  await search(page, "* | timechart span=5m count() by level");
  await page.getByRole("img", { name: /^Time chart of \d+ series/ }).waitFor();
  await page.getByRole("button", { name: "Stacked bars" }).click();
  await page.waitForURL(/chart=bars/);
  await page.close();
});

test("export downloads what the export API returns", async () => {
  const page = await newPage("/explore?q=service:auth");
  await page.getByText(/records, \d+ loaded/).waitFor();
  const group = page.getByRole("group", { name: "Export" });
  const href = await group.getAttribute("data-ndjson");
  const [download] = await Promise.all([page.waitForEvent("download"), group.getByRole("button", { name: "Export NDJSON" }).click()]);
  const file = readFileSync(await download.path(), "utf8");
  const expected = await (await fetch(`${BASE}${href}`)).text();
  assert.equal(download.suggestedFilename(), "pharos-export.ndjson");
  assert.ok(file.length > 0);
  assert.equal(file, expected);
  await page.close();
});

test("the list is virtualized: every record loads by scrolling, few rows are in the page", async () => {
  const page = await newPage("/explore?q=*");
  await page.getByText(/records, \d+ loaded/).waitFor();
  const total = (await api("/api/v1/query", { method: "POST", body: JSON.stringify({ query: "*", start: "now-1h", limit: 0 }) })).total;
  const grid = page.getByRole("grid", { name: "Log records" });
  for (let i = 0; i < 40; i++) {
    await grid.evaluate((el) => (el.scrollTop = el.scrollHeight));
    if ((await summary(page).innerText()).includes(`${total.toLocaleString("en-US")} loaded`)) break;
    await page.waitForTimeout(150);
  }
  assert.match(await summary(page).innerText(), new RegExp(`${total.toLocaleString("en-US")} loaded`));
  const inDom = await grid.getByRole("row").count();
  assert.ok(inDom < 120, `${inDom} rows in the DOM for ${total} loaded`);
  const ids = await page.evaluate(() => [...document.querySelectorAll('[role=row][id^="row-"]')].map((r) => r.id));
  assert.equal(new Set(ids).size, ids.length, "no record twice");
  await page.close();
});
