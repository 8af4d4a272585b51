// The shell: every area in the navigation, client-side routes on reload, the shortcut help,
// the token prompt, and axe-core in both themes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { axeViolations, newPage, search, TOKEN, TOKEN_BASE, waitSearchable } from "../lib/context.mjs";
import { seed } from "../seed.mjs";

test("the navigation names every area; the ones not built yet say so", async () => {
  const page = await newPage("/");
  await page.waitForURL(/\/explore$/);
  const nav = page.getByRole("navigation", { name: "Main" });
  const names = await nav.getByRole("link").allInnerTexts();
  assert.deepEqual(names.map((n) => n.replace(/\s*\(soon\)/, "")), ["Explore", "Metrics", "Dashboards", "Alerts", "Checks", "SLOs", "Reports", "Status"]);
  await nav.getByRole("link", { name: /Reports/ }).click();
  await page.getByText("Not built yet.").waitFor();
  // A reload of a client-side route is served index.html and lands on the same view.
  await page.reload();
  await page.getByRole("heading", { name: "Reports" }).waitFor();
  // The version comes from /api/v1/buildinfo after the page is drawn.
  await page.getByTitle("Server version").getByText(/^v\d+\.\d+\.\d+$/).waitFor();
  await page.close();
});

test("? opens the keyboard shortcut help", async () => {
  const page = await newPage("/explore");
  await page.locator("body").press("?");
  const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /focus the query bar/);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await page.close();
});

test("axe-core finds no serious or critical violations, in light and dark", async () => {
  for (const scheme of ["light", "dark"]) {
    const page = await newPage("/explore?q=service:checkout");
    await page.emulateMedia({ colorScheme: scheme });
    await page.getByText(/records, \d+ loaded/).waitFor();
    assert.deepEqual(await axeViolations(page), [], `explore, ${scheme}`);
    await page.getByRole("grid", { name: "Log records" }).getByRole("row").nth(1).click();
    await page.getByRole("region", { name: "Record" }).getByRole("button", { name: "Show context" }).click();
    await page.getByRole("region", { name: "Context" }).getByRole("listitem").first().waitFor();
    assert.deepEqual(await axeViolations(page), [], `record and context, ${scheme}`);
    await search(page, "* | timechart span=5m count() by level");
    await page.getByRole("table", { name: "Aggregation result" }).waitFor();
    assert.deepEqual(await axeViolations(page), [], `aggregation, ${scheme}`);
    await page.goto(page.url().replace(/\/explore.*/, "/request/req-0002"));
    await page.getByRole("region", { name: "Summary" }).waitFor();
    assert.deepEqual(await axeViolations(page), [], `request view, ${scheme}`);
    await page.goto(page.url().replace(/\/request.*/, "/explore?mode=live"));
    await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor();
    assert.deepEqual(await axeViolations(page), [], `live tail, ${scheme}`);
    await page.close();
  }
});

test("the token prompt appears when the server needs a token, says when it is refused, and works", { skip: !TOKEN_BASE && "no server with a token (PHAROS_TOKEN_URL)" }, async () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  await seed(TOKEN_BASE, Date.now(), 50);
  await waitSearchable("*", 50, TOKEN_BASE, auth);
  const page = await newPage("/explore?q=*", TOKEN_BASE);
  const dialog = page.getByRole("dialog", { name: "API token needed" });
  await dialog.waitFor();
  assert.deepEqual(await axeViolations(page), [], "token prompt");
  await dialog.getByLabel("API token").fill("not-the-token");
  await dialog.getByRole("button", { name: "Use token" }).click();
  await dialog.getByText("The server refused this token.").waitFor();
  await dialog.getByLabel("API token").fill(TOKEN);
  await dialog.getByRole("button", { name: "Use token" }).click();
  await page.getByText(/^\d+ records, \d+ loaded/).waitFor();
  await dialog.waitFor({ state: "hidden" });
  // Kept for the browser session: a reload does not ask again.
  await page.reload();
  await page.getByText(/^\d+ records, \d+ loaded/).waitFor();
  assert.equal(await dialog.isVisible(), false);
  await page.close();
});
