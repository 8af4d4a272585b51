// The screenshots in docs/ui.md, taken from a server the browser tests have seeded:
//   PHAROS_URL=http://127.0.0.1:PORT node screenshots.mjs ../../docs/ui
// (tests/e2e/ui.rs runs it after the browser tests when PHAROS_UI_SCREENSHOTS names a folder).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./lib/browser.mjs";
import { BASE } from "./lib/context.mjs";

const out = process.argv[2] ?? process.env.PHAROS_UI_SCREENSHOTS ?? "screenshots";
mkdirSync(out, { recursive: true });

const ALERTS = process.env.PHAROS_ALERTS_URL ?? null;

async function shoot(context, name, path, prepare = async () => {}, base = BASE) {
  const page = await context.newPage();
  await page.goto(`${base}${path}`);
  await prepare(page);
  // Let charts settle after their last resize.
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(out, `${name}.png`) });
  await page.close();
  console.log(`${name}.png`);
}

const loaded = (page) => page.getByText(/records, \d+ loaded/).waitFor();

for (const scheme of ["light", "dark"]) {
  const { context, close } = await launch({ colorScheme: scheme, viewport: { width: 1400, height: 820 } });
  const suffix = scheme === "dark" ? "-dark" : "";
  await shoot(context, `explore${suffix}`, "/explore?q=level:>=warn", async (page) => {
    await loaded(page);
    await page.getByRole("complementary", { name: "Fields" }).getByRole("button", { name: /^service/ }).click();
    await page.getByText(/Top values over all/).waitFor();
  });
  // Dashboards after the browser tests (specs/dashboards.mjs): its test board, the
  // service overview of checkout, and the list; in both themes.
  await shoot(context, `dashboard${suffix}`, "/dashboards/d/ui-test-board?from=now-1h", (page) => page.getByRole("region", { name: "Requests", exact: true }).getByRole("img").waitFor());
  await shoot(context, `dashboard-service${suffix}`, "/dashboards/services/checkout", (page) => page.getByRole("list", { name: "Records of Newest errors" }).waitFor());
  if (scheme === "dark") {
    await close();
    continue;
  }
  await shoot(context, "query-completion", "/explore", async (page) => {
    const bar = page.getByRole("combobox", { name: "Query" });
    await bar.click();
    await bar.pressSequentially("level:error serv");
    await page.getByRole("listbox", { name: "Suggestions" }).waitFor();
  });
  await shoot(context, "query-error", "/explore", async (page) => {
    const bar = page.getByRole("combobox", { name: "Query" });
    await bar.fill('service:checkout "payment declined');
    await bar.press("Enter");
    await page.getByRole("alert").waitFor();
  });
  await shoot(context, "record-context", "/explore?q=Cart.java", async (page) => {
    await loaded(page);
    await page.getByRole("grid", { name: "Log records" }).getByRole("row").nth(1).click();
    await page.getByRole("button", { name: "Show context" }).click();
    await page.getByRole("region", { name: "Context" }).getByRole("listitem").nth(3).waitFor();
  });
  await shoot(context, "time-range", "/explore?q=*", async (page) => {
    await loaded(page);
    await page.getByRole("button", { name: /^Time range:/ }).click();
  });
  await shoot(context, "aggregation-timechart", "/explore?q=" + encodeURIComponent("* | timechart span=2m count() by level") + "&chart=bars", async (page) => {
    await page.getByRole("table", { name: "Aggregation result" }).waitFor();
  });
  await shoot(context, "aggregation-stats", "/explore?q=" + encodeURIComponent("* | stats count(), avg(duration_ms), p99(duration_ms) by service"), async (page) => {
    await page.getByRole("table", { name: "Aggregation result" }).waitFor();
  });
  await shoot(context, "request-view", "/request/req-0010", async (page) => {
    await page.getByRole("region", { name: "Summary" }).waitFor();
    await page.getByRole("button", { name: /^payments:/ }).click();
    await page.getByRole("region", { name: "Record" }).getByRole("heading", { name: "Attributes" }).waitFor();
  });
  await shoot(context, "live-tail", "/explore?mode=live", async (page) => {
    await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor();
    const body = Array.from({ length: 30 }, (_, i) => JSON.stringify({ service: ["web", "checkout", "auth"][i % 3], level: i % 7 === 0 ? "warn" : "info", msg: `live request ${i} handled` })).join("\n");
    await fetch(`${BASE}/api/v1/logs`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
    await page.getByText("live request 29 handled").waitFor();
  });
  // The metrics explorer over the series tests/ui/seed-metrics.mjs wrote (the metrics spec).
  await shoot(context, "metrics", "/graph?q=" + encodeURIComponent("sum by (code) (rate(http_requests_total[5m]))") + "&start=now-1h", (page) => page.getByRole("img", { name: /Graph of 2 series/ }).waitFor());
  await shoot(context, "dashboards", "/dashboards", (page) => page.getByRole("link", { name: "UI test board" }).waitFor());
  await shoot(context, "dashboard-edit", "/dashboards/d/ui-test-board?from=now-1h", async (page) => {
    await page.getByRole("button", { name: "Edit", exact: true }).click();
    await page.getByRole("button", { name: "Edit Requests" }).click();
    await page.getByRole("dialog", { name: /^Edit panel/ }).getByRole("img").waitFor();
  });
  await shoot(context, "dashboard-versions", "/dashboards/d/ui-test-board?from=now-1h", async (page) => {
    await page.getByRole("button", { name: "Versions" }).click();
    await page.getByRole("complementary", { name: "Versions" }).getByText("restored version 1").waitFor();
  });
  await shoot(context, "dashboard-import", "/dashboards", async (page) => {
    await page.getByRole("button", { name: "Import" }).click();
    const dialog = page.getByRole("dialog", { name: "Import a Grafana dashboard" });
    await dialog.getByLabel("Or choose a file").setInputFiles(new URL("./fixtures/grafana.json", import.meta.url).pathname);
    await dialog.getByRole("button", { name: "Convert" }).click();
    await dialog.getByRole("list", { name: "Skipped panels" }).waitFor();
  });
  await shoot(context, "dashboard-pharos", "/dashboards/d/pharos", (page) => page.getByText(/Built into Pharos/).waitFor());
  if (ALERTS) {
    // The alerting server after the browser tests: CheckoutErrors firing, its incident
    // acknowledged, the silence expired.
    await shoot(context, "alerts", "/alerts", (page) => page.getByRole("listitem", { name: "CheckoutErrors firing" }).waitFor(), ALERTS);
    await shoot(context, "alerts-silence", "/alerts", async (page) => {
      await page.getByRole("button", { name: "Silence CheckoutErrors" }).click();
      const dialog = page.getByRole("dialog", { name: "New silence" });
      await dialog.getByRole("textbox", { name: "Comment" }).fill("card network maintenance, TICKET-7");
      await dialog.getByText("Affects 1 alert now").waitFor();
    }, ALERTS);
    await shoot(context, "alerts-incident", "/alerts?tab=incidents&resolved=1", (page) => page.getByText(/Acknowledged by/).first().waitFor(), ALERTS);
    await shoot(context, "checks", "/checks", (page) => page.getByRole("table", { name: "Checks" }).getByRole("row", { name: /^web/ }).waitFor(), ALERTS);
    await shoot(context, "check-page", "/checks/web", (page) => page.getByRole("table", { name: "Incidents" }).waitFor(), ALERTS);
    await shoot(context, "slo-page", "/slos/web-availability", (page) => page.getByRole("table", { name: "Burn-rate alerts" }).waitFor(), ALERTS);
    await shoot(context, "alerts-oncall", "/alerts?tab=oncall", (page) => page.getByRole("table", { name: /Shifts of primary/ }).getByRole("listitem").first().waitFor(), ALERTS);
  }
  await close();
}
