// SLOs against the alerting server (tests/e2e/ui.rs): `web-availability`, 99.9 % over 30 d
// on the check `web`, which the checks test took down. The list and the SLO's page show what
// the API computes: SLI, budget left, the burn-rate alerts, and the budget chart.

import assert from "node:assert/strict";
import { test } from "node:test";
import { api, axeViolations, newPage } from "../lib/context.mjs";

const ALERTS = process.env.PHAROS_ALERTS_URL ?? null;
const skip = !ALERTS && "no alerting server (PHAROS_ALERTS_URL)";

test("SLOs: the list and a page show the budget, SLI and burn-rate alerts the API computes", { skip }, async () => {
  const { slos } = await api("/api/v1/slos", {}, ALERTS);
  const slo = slos.find((s) => s.name === "web-availability");
  assert.ok(slo, JSON.stringify(slos));

  const page = await newPage("/slos", ALERTS);
  const row = page.getByRole("table", { name: "SLOs" }).getByRole("row", { name: /web-availability/ });
  await row.waitFor();
  const text = await row.innerText();
  assert.match(text, /99\.9%[\s\S]*30d/);
  // The budget is spent a little more every second the check is down: compare its form, and
  // that the API's value at about the same time rounds alike within a point.
  const shown = Number((text.split("\t")[4] ?? "").replace("%", ""));
  assert.ok(Math.abs(shown - slo.error_budget.remaining_fraction * 100) < 5, `${text} vs ${slo.error_budget.remaining_fraction}`);
  assert.deepEqual(await axeViolations(page), [], "SLO list");

  await row.getByRole("link", { name: "web-availability" }).click();
  await page.waitForURL(/\/slos\/web-availability$/);
  await page.getByTestId("slo-budget").waitFor();
  assert.match(await page.getByTestId("slo-budget").innerText(), /left of 43m 12s|left of 43m/);
  const alerts = page.getByRole("table", { name: "Burn-rate alerts" }).getByRole("row");
  assert.equal(await alerts.count(), slo.alerts.length + 1, "a header and one row per alert");
  await page.getByRole("img", { name: "Error budget of web-availability over its window" }).waitFor();
  const budget = await api("/api/v1/slos/web-availability/budget?points=60", {}, ALERTS);
  assert.equal(budget.points.length, 60);
  assert.ok(budget.points.at(-1).remaining_fraction < 1, "the outage spent some budget");
  assert.deepEqual(await axeViolations(page), [], "SLO page");
  await page.close();
});
