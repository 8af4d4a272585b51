// A record opened: its fields and attributes, its context, links to the request view, and
// the address that brings all of it back.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ctx, newPage, search } from "../lib/context.mjs";

test("a record opens with its attributes, by mouse and by keyboard", async () => {
  const page = await newPage("/explore?q=service:checkout");
  const grid = page.getByRole("grid", { name: "Log records" });
  await grid.getByRole("row").nth(1).click();
  const panel = page.getByRole("region", { name: "Record" });
  await panel.getByRole("heading", { name: "Attributes" }).waitFor();
  const fields = await panel.locator("table").innerText();
  assert.match(fields, /service\s+checkout/);
  assert.match(fields, /duration_ms\s+\d+/);
  assert.match(await panel.innerText(), /Original, as sent/);
  assert.match(page.url(), /rec=\d+/);
  await panel.getByRole("button", { name: "Close record" }).click();
  await panel.waitFor({ state: "detached" });
  // Keyboard only: focus the list, move down, open.
  await grid.focus();
  await page.keyboard.press("j");
  await page.keyboard.press("Enter");
  await panel.getByRole("heading", { name: "Attributes" }).waitFor();
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "detached" });
  await page.close();
});

test("context shows the neighbours from the same service and host, more load on demand", async () => {
  const page = await newPage("/explore?q=service:inventory host:node-2");
  const grid = page.getByRole("grid", { name: "Log records" });
  await grid.getByRole("row").nth(20).click();
  const panel = page.getByRole("region", { name: "Record" });
  await panel.getByRole("button", { name: "Show context" }).click();
  const context = panel.getByRole("region", { name: "Context" });
  await context.getByRole("listitem").nth(5).waitFor();
  const items = context.getByRole("listitem");
  assert.equal(await items.count(), 21, "10 before, the anchor, 10 after");
  const anchor = context.locator('[aria-current="true"]');
  assert.equal(await anchor.count(), 1);
  await context.getByRole("button", { name: "Load 20 earlier" }).click();
  await page.waitForFunction(() => document.querySelectorAll('[aria-label="Context"] li').length > 21);
  assert.match(page.url(), /ctx=1/);
  await page.close();
});

test("a copied address restores the view in a new page", async () => {
  const page = await newPage("/explore?q=*");
  await search(page, "service:web level:info");
  await page.getByText(/records, \d+ loaded/).waitFor();
  await page.getByRole("checkbox", { name: "Show user.id as a column" }).check();
  await page.getByRole("button", { name: /^Time range:/ }).click();
  await page.getByRole("radio", { name: "UTC" }).check();
  await page.getByRole("button", { name: "Last 6 hours" }).click();
  await page.getByRole("grid", { name: "Log records" }).getByRole("row").nth(3).click();
  await page.getByRole("region", { name: "Record" }).getByRole("heading", { name: "Attributes" }).waitFor();
  const url = page.url();
  const recordText = await page.getByRole("region", { name: "Record" }).locator("table").innerText();
  const other = await ctx.context.newPage();
  await other.goto(url);
  assert.equal(await other.getByRole("combobox", { name: "Query" }).inputValue(), "service:web level:info");
  assert.equal(await other.getByRole("button", { name: /^Time range:/ }).innerText(), "Last 6 hours");
  await other.getByRole("columnheader", { name: "user.id" }).waitFor();
  await other.getByRole("columnheader", { name: "Time (UTC)" }).waitFor();
  const panel = other.getByRole("region", { name: "Record" });
  await panel.getByRole("heading", { name: "Attributes" }).waitFor();
  assert.equal(await panel.locator("table").innerText(), recordText);
  await page.close();
  await other.close();
});

test("a correlation id in a record links to the request view", async () => {
  const page = await newPage("/explore?q=correlation_id:req-0003 service:auth");
  await page.getByRole("grid", { name: "Log records" }).getByRole("row").nth(1).click();
  const panel = page.getByRole("region", { name: "Record" });
  await panel.getByRole("link", { name: "Open the request view for correlation_id req-0003" }).click();
  await page.waitForURL(/\/request\/req-0003/);
  await page.getByRole("group", { name: "Service payments" }).waitFor();
  await page.close();
});
