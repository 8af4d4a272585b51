// Live tail: a record ingested after it started shows; pause holds new ones back.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ingest, newPage } from "../lib/context.mjs";

test("live tail shows a record ingested after it started, and pause holds the next", async () => {
  const tag = `live${Date.now()}`;
  const page = await newPage(`/explore?q=${encodeURIComponent(`service:${tag}`)}&mode=live`);
  await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor();
  const grid = page.getByRole("grid", { name: "Live records" });
  await ingest([{ service: tag, level: "info", msg: "first live record" }]);
  await grid.getByText("first live record").waitFor({ timeout: 10_000 });
  await page.getByRole("button", { name: "Pause" }).click();
  await ingest([{ service: tag, level: "warn", msg: "second live record" }]);
  const resume = page.getByRole("button", { name: /^Resume \(1 new\)$/ });
  await resume.waitFor({ timeout: 10_000 });
  assert.equal(await grid.getByText("second live record").count(), 0, "paused: not shown");
  await resume.click();
  await grid.getByText("second live record").waitFor();
  // Selecting text pauses it: the selection does not move.
  await grid.getByText("first live record").selectText();
  await page.getByRole("status").filter({ hasText: "Paused (text selected)" }).waitFor();
  await ingest([{ service: tag, level: "info", msg: "third live record" }]);
  await page.getByRole("button", { name: /^Resume \(1 new\)$/ }).waitFor({ timeout: 10_000 });
  assert.equal(await grid.getByText("third live record").count(), 0);
  // Stopping the tail goes back to search.
  await page.getByRole("button", { name: "Stop live tail" }).click();
  await page.getByRole("grid", { name: "Log records" }).waitFor();
  await page.close();
});
