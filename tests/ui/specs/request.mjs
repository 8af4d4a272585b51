// The request view: every service of a correlation id on one time line.

import assert from "node:assert/strict";
import { test } from "node:test";
import { api, newPage } from "../lib/context.mjs";

test("the request view shows every service of a correlation id, in order, with the summary", async () => {
  const page = await newPage("/request/req-0005");
  const answer = await api("/api/v1/correlate/req-0005");
  const timeline = page.getByRole("region", { name: "Time line, one lane per service" });
  await timeline.waitFor();
  const lanes = await timeline.getByRole("group").evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
  assert.deepEqual(lanes, answer.services.map((s) => `Service ${s.service}`));
  assert.deepEqual(lanes, ["Service web", "Service auth", "Service checkout", "Service payments"]);
  const summary = await page.getByRole("region", { name: "Summary" }).innerText();
  assert.match(summary, /Duration\s+125 ms/);
  assert.match(summary, /Errors\s+1/);
  // Every record is a marker; the error is one of them.
  assert.equal(await timeline.getByRole("button").count(), answer.records.length);
  await timeline.getByRole("button", { name: /^payments: error/ }).click();
  const panel = page.getByRole("region", { name: "Record" });
  await panel.getByText("payment declined").first().waitFor();
  assert.match(page.url(), /rec=\d+/);
  // Times between records are shown.
  assert.match(await page.getByRole("table", { name: /Records of the request/ }).innerText(), /\+25 ms/);
  // And the record's context in the explorer is one link away.
  await page.getByRole("link", { name: "Context of this payments record in the explorer" }).click();
  await page.waitForURL(/\/explore\?.*ctx=1/);
  await page.getByRole("region", { name: "Context" }).waitFor();
  await page.close();
});
