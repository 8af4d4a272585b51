// Browser tests of the Pharos UI against the real binary: tests/e2e/ui.rs starts `pharos`
// (and a second one with an API token), then runs `node --test` on this file. Data is seeded
// here through the real ingest API (seed.mjs). Elements are found by role and label.

import { after, before } from "node:test";
import { seed } from "./seed.mjs";
import { BASE, ctx, startBrowser, waitSearchable } from "./lib/context.mjs";

before(async () => {
  const records = await seed(BASE, Date.now());
  await waitSearchable("*", records.length);
  await startBrowser();
});

after(async () => {
  await ctx.close?.();
});

await import("./specs/explore.mjs");
await import("./specs/record.mjs");
await import("./specs/request.mjs");
await import("./specs/live.mjs");
await import("./specs/shell.mjs");
await import("./specs/alerts.mjs");
await import("./specs/checks.mjs");
await import("./specs/slos.mjs");
await import("./specs/metrics.mjs");
await import("./specs/dashboards.mjs");
