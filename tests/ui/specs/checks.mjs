// Checks, the status page and badges against the alerting server (tests/e2e/ui.rs): its
// check `web` probes a TCP port this test opens and then closes. Up, then down: the list,
// the check's page (state, 90 daily bars, the incident and its cause), the public status
// page and the badge all say so.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { api, axeViolations, ctx, newPage, until } from "../lib/context.mjs";

const ALERTS = process.env.PHAROS_ALERTS_URL ?? null;
const PORT = Number(process.env.PHAROS_CHECK_PORT ?? 0);
const skip = (!ALERTS || !PORT) && "no alerting server with a check (PHAROS_ALERTS_URL, PHAROS_CHECK_PORT)";

const web = async () => (await api("/api/v1/checks", {}, ALERTS)).checks.find((c) => c.id === "web");

test("checks: a check that goes down shows in the list, its bars, the status page and its badge", { skip }, async () => {
  // Until the port opens, connections are refused: the check starts down.
  await until("web is down before its port opens", async () => (await web())?.state === "down");
  const server = createServer((s) => s.end());
  await new Promise((r) => server.listen(PORT, "127.0.0.1", r));
  await until("web is up", async () => (await web())?.state === "up");

  const page = await newPage("/checks", ALERTS);
  const table = page.getByRole("table", { name: "Checks" });
  const row = table.getByRole("row", { name: /^web/ });
  await row.getByText("Up", { exact: true }).waitFor();
  const listed = await web();
  assert.ok(listed.uptime_percent["24h"] > 0 && listed.uptime_percent["24h"] < 100, JSON.stringify(listed));
  // Up now, after a stretch down: the uptime windows are between 0 and 100 (the value moves
  // every second, so only its form is compared with the page).
  assert.match(await row.innerText(), new RegExp(`tcp\\s+127\\.0\\.0\\.1:${PORT}\\s+\\d+ ms\\s+\\d+(\\.\\d+)?%`));
  assert.deepEqual(await axeViolations(page), [], "checks list");

  await row.getByRole("link", { name: "web" }).click();
  await page.waitForURL(/\/checks\/web$/);
  await page.getByTestId("check-state").getByText("Up").waitFor();
  const bars = page.getByRole("list", { name: "Daily uptime" }).getByRole("listitem");
  assert.equal(await bars.count(), 90);
  assert.match(await bars.last().getAttribute("aria-label"), /% up, 1 incident, /);
  assert.match(await bars.first().getAttribute("aria-label"), /no data$/);
  await page.getByRole("img", { name: /Response time of web/ }).waitFor();
  assert.deepEqual(await axeViolations(page), [], "check page");

  // Down: the port closes; connections are refused.
  await new Promise((r) => server.close(r));
  await until("web is down", async () => (await web())?.state === "down");
  await page.reload();
  await page.getByTestId("check-state").getByText("Down").waitFor();
  assert.match(await bars.last().getAttribute("aria-label"), /2 incidents/);
  const incident = page.getByRole("table", { name: "Incidents" }).getByRole("row").nth(1);
  await incident.waitFor();
  assert.match(await incident.innerText(), /ongoing[\s\S]*refused/i);

  // The status page, public on this server: a browser without any token sees the outage.
  const status = await ctx.context.newPage();
  const resp = await status.goto(`${ALERTS}/status`);
  assert.equal(resp.status(), 200);
  await status.getByRole("status").getByText("Major outage").waitFor();
  assert.match(await status.getByRole("region", { name: "web" }).innerText(), /Down/);
  assert.match(await status.locator("body").innerText(), /Current incidents[\s\S]*refused/i);
  assert.deepEqual(await axeViolations(status), [], "status page");
  await status.close();

  const badge = await fetch(`${ALERTS}/badge/web/status`);
  assert.equal(badge.headers.get("content-type"), "image/svg+xml; charset=utf-8");
  assert.match(await badge.text(), /aria-label="web: down"/);
  await page.close();
});

test("checks: a maintenance window written on the page shows on the status page, and removing it ends it", { skip }, async () => {
  const page = await newPage("/checks", ALERTS);
  const form = page.getByRole("form", { name: "New status page notice" });
  await form.getByRole("radio", { name: "Maintenance window" }).check();
  await form.getByRole("textbox", { name: "Title" }).fill("Network upgrade");
  await form.getByRole("textbox", { name: "Text" }).fill("Connections may drop.");
  // From the current hour (the default) to two hours later: in effect now.
  const hourAgo = new Date(Date.now() - 3_600_000);
  const pad = (n) => String(n).padStart(2, "0");
  const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  await form.getByLabel("From").fill(local(hourAgo));
  await form.getByLabel("Until").fill(local(new Date(Date.now() + 2 * 3_600_000)));
  await form.getByRole("checkbox", { name: "web" }).check();
  await form.getByRole("textbox", { name: "Your name" }).fill("Dana");
  await form.getByRole("button", { name: "Schedule maintenance" }).click();
  const row = page.getByRole("table", { name: "Status page notices" }).getByRole("row", { name: /Network upgrade/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Maintenance\s+In effect[\s\S]*web\s+Dana/);
  const stored = (await api("/api/v1/status/notices", {}, ALERTS)).notices.find((n) => n.title === "Network upgrade");
  assert.equal(stored.state, "active");
  assert.deepEqual(stored.components, ["web"]);
  assert.deepEqual(await axeViolations(page), [], "checks list with notices");

  const status = await ctx.context.newPage();
  await status.goto(`${ALERTS}/status`);
  assert.match(await status.getByRole("region", { name: "web" }).innerText(), /Under maintenance/);
  const notice = status.getByRole("article", { name: "Network upgrade" });
  assert.match(await notice.innerText(), /Connections may drop\./);
  assert.doesNotMatch(await status.getByRole("status").innerText(), /outage/);
  assert.deepEqual(await axeViolations(status), [], "status page with a maintenance window");

  await row.getByRole("button", { name: "Remove the notice Network upgrade" }).click();
  await row.waitFor({ state: "detached" });
  await status.reload();
  assert.equal(await status.getByRole("article", { name: "Network upgrade" }).count(), 0);
  await status.close();
  await page.close();
});
