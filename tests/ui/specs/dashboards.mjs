// Dashboards against the real server: one is created in the UI (a PromQL time series and a
// log stat), saved, reloaded, edited (a panel renamed, resized and moved by keyboard), saved
// again, and version 1 restored as version 3 — the page and the API agree at each step. A
// Grafana dashboard is imported (its pie chart skipped, with the reason), saved, drawn and
// exported. The service overview of a seeded service draws RED from its logs and its newest
// errors; the built-in Pharos dashboard draws its panels. axe-core on each.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { api, axeViolations, newPage, until } from "../lib/context.mjs";

const FIXTURE = new URL("../fixtures/grafana.json", import.meta.url);
const UID = "ui-test-board";

const panel = (page, name) => page.getByRole("region", { name, exact: true });
const stored = () => api(`/api/v1/dashboards/${UID}`);

async function editPanel(page, fill) {
  const dialog = page.getByRole("dialog", { name: /^Edit panel/ });
  await dialog.waitFor();
  await fill(dialog);
  await dialog.getByRole("button", { name: "Apply" }).click();
  await dialog.waitFor({ state: "detached" });
}

async function save(page, message, heading = "Save the dashboard") {
  await page.getByRole("toolbar", { name: "Dashboard" }).getByRole("button", { name: "Save", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: heading });
  await dialog.getByLabel("Message (optional)").fill(message);
  await dialog.getByRole("button", { name: "Save", exact: true }).click();
  await dialog.waitFor({ state: "detached" });
}

test("dashboards: created in the UI, saved, reloaded, edited by keyboard, and an earlier version restored", async () => {
  const page = await newPage("/dashboards");
  await page.getByRole("table", { name: "Dashboards" }).getByRole("link", { name: "Pharos" }).waitFor();
  assert.deepEqual(await axeViolations(page), [], "dashboard list");
  await page.getByRole("link", { name: "New dashboard" }).click();
  await page.waitForURL(/\/dashboards\/new$/);

  await page.getByRole("button", { name: "Settings" }).click();
  const settings = page.getByRole("dialog", { name: "Dashboard settings" });
  await settings.getByLabel("Title").fill("UI test board");
  await settings.getByLabel("Tags (comma-separated)").fill("ui, test");
  await settings.getByRole("button", { name: "Apply" }).click();

  await page.getByRole("button", { name: "Add panel" }).click();
  await editPanel(page, async (d) => {
    await d.getByLabel("Title", { exact: true }).fill("Requests");
    await d.getByRole("combobox", { name: "PromQL query 1" }).fill("sum by (code) (rate(http_requests_total[5m]))");
    await d.getByLabel("Legend").fill("{{code}}");
  });
  await page.getByRole("button", { name: "Add panel" }).click();
  await editPanel(page, async (d) => {
    await d.getByLabel("Title", { exact: true }).fill("Errors");
    await d.getByLabel("Type").selectOption("stat");
    await d.getByLabel("Query 1 kind").selectOption("logs");
    await d.getByRole("combobox", { name: "Log query 1" }).fill("level:error");
  });
  await panel(page, "Requests").getByRole("img", { name: /time series of 2 series/ }).waitFor();
  await until("the stat shows its value", async () => /\d/.test(await panel(page, "Errors").locator("div").last().innerText()));
  assert.deepEqual(await axeViolations(page), [], "a new dashboard in edit mode");
  await save(page, "first", "Save the new dashboard");
  await page.waitForURL(new RegExp(`/dashboards/d/${UID}`));

  let s = await stored();
  assert.equal(s.version, 1);
  assert.equal(s.message, "first");
  assert.deepEqual(s.dashboard.tags, ["ui", "test"]);
  assert.deepEqual(s.dashboard.panels.map((p) => [p.title, p.type, p.targets[0].kind]), [["Requests", "timeseries", "promql"], ["Errors", "stat", "logs"]]);
  const v1Errors = s.dashboard.panels[1].grid;

  await page.reload();
  await panel(page, "Requests").getByRole("img", { name: /time series/ }).waitFor();
  await until("the stat shows its value", async () => /\d/.test(await panel(page, "Errors").locator("div").last().innerText()));
  assert.deepEqual(await axeViolations(page), [], "a dashboard");

  // Edit: rename a panel; resize and move the other with the arrow keys on its handles.
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await panel(page, "Requests").getByRole("button", { name: "Edit Requests" }).click();
  await editPanel(page, (d) => d.getByLabel("Title", { exact: true }).fill("Request rate"));
  const resize = panel(page, "Errors").getByRole("button", { name: "Resize Errors", exact: true });
  await resize.press("ArrowLeft");
  await resize.press("ArrowDown");
  await resize.press("ArrowDown");
  await panel(page, "Errors").getByRole("button", { name: "Move Errors", exact: true }).press("ArrowRight");
  assert.deepEqual(await axeViolations(page), [], "edit mode");
  await save(page, "renamed and resized");
  await page.getByText("Saved as version 2.").waitFor();
  s = await stored();
  assert.equal(s.version, 2);
  assert.equal(s.dashboard.panels[0].title, "Request rate");
  assert.deepEqual(s.dashboard.panels[1].grid, { x: v1Errors.x + 1, y: v1Errors.y, w: v1Errors.w - 1, h: v1Errors.h + 2 });
  await panel(page, "Request rate").waitFor();

  // Versions: both listed with their messages; view and restore version 1.
  await page.getByRole("button", { name: "Versions" }).click();
  const versions = page.getByRole("complementary", { name: "Versions" });
  await versions.getByText("renamed and resized").waitFor();
  assert.equal(await versions.getByRole("listitem").count(), 2);
  await versions.getByRole("button", { name: "View version 1" }).click();
  await page.getByText(/Viewing version 1/).waitFor();
  await panel(page, "Requests").waitFor();
  await versions.getByRole("button", { name: "Restore version 1" }).click();
  await page.getByText("Restored version 1 as version 3.").waitFor();
  await panel(page, "Requests").waitFor();
  assert.equal(await panel(page, "Request rate").count(), 0);
  s = await stored();
  assert.equal(s.version, 3);
  assert.equal(s.dashboard.panels[0].title, "Requests");
  assert.deepEqual(s.dashboard.panels[1].grid, v1Errors);
  await page.reload();
  await panel(page, "Requests").waitFor();
  await page.getByText("version 3", { exact: true }).waitFor();
  await page.close();
});

test("dashboards: a Grafana dashboard is imported (the pie chart skipped, with why), saved, drawn and exported", async () => {
  const page = await newPage("/dashboards");
  await page.getByRole("button", { name: "Import" }).click();
  const dialog = page.getByRole("dialog", { name: "Import a Grafana dashboard" });
  await dialog.getByLabel("Or choose a file").setInputFiles(FIXTURE.pathname);
  await until("the file is read", async () => (await dialog.getByLabel("Grafana dashboard JSON").inputValue()).includes("piechart"));
  await dialog.getByRole("button", { name: "Convert" }).click();
  await dialog.getByText(/2 panels converted, 1 skipped/).waitFor();
  const skipped = dialog.getByRole("list", { name: "Skipped panels" }).getByRole("listitem");
  assert.equal(await skipped.count(), 1);
  assert.match(await skipped.innerText(), /Share by service \(piechart\): \S+/);
  assert.deepEqual(await axeViolations(page), [], "import dialog");
  await dialog.getByRole("button", { name: "Save", exact: true }).click();
  await page.waitForURL(/\/dashboards\/d\/grafana-fixture/);
  await panel(page, "Requests by code").getByRole("img", { name: /time series/ }).waitFor();
  await until("the stat shows its value", async () => /\d/.test(await panel(page, "Requests in total").innerText()));
  assert.equal(await page.getByRole("alert").count(), 0);

  const exported = await api("/api/v1/dashboards/grafana-fixture/export");
  assert.equal(exported.title, "Imported from Grafana");
  assert.deepEqual(exported.panels.map((p) => p.type), ["timeseries", "stat"]);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export JSON" }).click()]);
  assert.equal(download.suggestedFilename(), "grafana-fixture.json");
  assert.deepEqual(JSON.parse(readFileSync(await download.path(), "utf8")), exported);
  assert.ok(JSON.parse(readFileSync(FIXTURE, "utf8")).dashboard.panels.length === 3);
  await page.close();
});

test("dashboards: the service overview of a seeded service draws RED from its logs and its newest errors", async () => {
  const page = await newPage("/dashboards/services");
  await page.getByRole("table", { name: "Services" }).getByRole("link", { name: "checkout", exact: true }).click();
  await page.waitForURL(/\/dashboards\/services\/checkout$/);
  await page.getByTestId("overview-source").getByText(/from logs/).waitFor();
  for (const name of ["Requests (log records)", "Errors (error-level records)", "Latency p50 / p95 / p99"]) {
    await panel(page, name).getByRole("img", { name: /time series/ }).waitFor();
  }
  assert.match(await panel(page, "Latency p50 / p95 / p99").getByRole("list", { name: /^Legend/ }).innerText(), /p95/);
  const errors = panel(page, "Newest errors").getByRole("list", { name: "Records of Newest errors" }).getByRole("link");
  await errors.first().waitFor();
  assert.match(await errors.first().getAttribute("href"), /^\/explore\?q=service%3Acheckout/);
  assert.match(await errors.first().innerText(), /error/i);
  assert.equal(await page.getByRole("alert").count(), 0);
  assert.deepEqual(await axeViolations(page), [], "service overview");
  await page.close();
});

test("dashboards: the built-in Pharos dashboard opens read-only and draws its panels", async () => {
  const page = await newPage("/dashboards");
  await page.getByRole("table", { name: "Dashboards" }).getByRole("link", { name: "Pharos" }).click();
  await page.waitForURL(/\/dashboards\/d\/pharos/);
  await page.getByText(/Built into Pharos/).waitFor();
  assert.equal(await page.getByRole("button", { name: "Edit", exact: true }).count(), 0);
  const regions = page.getByRole("main").getByRole("region").filter({ has: page.locator("h2") });
  await until("the panels are drawn", async () => (await regions.count()) >= 3 && (await page.getByText("Loading…").count()) === 0, 30_000);
  assert.deepEqual(await page.getByRole("alert").allInnerTexts(), [], "no panel failed");
  assert.deepEqual(await axeViolations(page), [], "the Pharos dashboard");
  await page.close();
});
