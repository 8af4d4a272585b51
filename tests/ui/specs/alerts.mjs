// The Alerts area against a server with a log rule, an e-mail escalation policy and an
// on-call schedule (tests/e2e/ui.rs writes its config and runs the SMTP server): a firing
// rule appears; a silence made from the alert mutes it (the API agrees) and expiring it
// un-mutes it; an incident is acknowledged from the page with a comment and its escalation
// stops; on call and its calendar agree with the API; rules and the notification log show.

import assert from "node:assert/strict";
import { test } from "node:test";
import { api, axeViolations, ingest, newPage, until } from "../lib/context.mjs";

const ALERTS = process.env.PHAROS_ALERTS_URL ?? null;
const skip = !ALERTS && "no alerting server (PHAROS_ALERTS_URL)";

const firing = async () => (await api("/api/v2/alerts", {}, ALERTS)).find((a) => a.labels.alertname === "CheckoutErrors");

test("alerts: a firing rule appears; silencing it from the page mutes it and expiring un-mutes it", { skip }, async () => {
  const now = Date.now();
  await ingest(
    [0, 1, 2].map((i) => ({ ts: new Date(now - i * 1000).toISOString(), level: "error", service: "checkout", msg: `payment declined ${i}`, correlation_id: `pay-${i}` }))
      .concat([{ ts: new Date(now).toISOString(), level: "warn", service: "checkout", msg: "slow card network" }]),
    ALERTS,
  );
  await until("the rule fires", firing);

  const page = await newPage("/alerts", ALERTS);
  const alert = page.getByRole("listitem", { name: "CheckoutErrors firing" });
  await alert.waitFor({ timeout: 15_000 });
  const text = await alert.innerText();
  assert.match(text, /checkout errors in 10m/, "the summary annotation");
  assert.match(text, /severity=page/);
  assert.equal(await alert.getByRole("link", { name: "Runbook" }).getAttribute("href"), "https://runbooks.example.com/checkout");
  // The pending rule (its `for` has not passed) is listed apart.
  await page.getByRole("region", { name: "Pending alerts" }).getByText("CheckoutSlow").waitFor({ timeout: 15_000 });
  assert.deepEqual(await axeViolations(page), [], "alert list");

  // A label chip filters the list, in the URL.
  await alert.getByRole("button", { name: /^severity=page$/ }).click();
  await page.waitForURL(/filter=severity%3D%22page%22/);
  await page.getByRole("listitem", { name: "CheckoutErrors firing" }).waitFor();

  await page.getByRole("button", { name: "Silence CheckoutErrors" }).click();
  const dialog = page.getByRole("dialog", { name: "New silence" });
  await dialog.waitFor();
  const matchers = await dialog.getByRole("textbox", { name: "Matchers" }).inputValue();
  assert.match(matchers, /^alertname="CheckoutErrors", /, "pre-filled from the alert's labels");
  await dialog.getByRole("region", { name: "Affected alerts" }).getByText("Affects 1 alert now").waitFor();
  await dialog.getByRole("textbox", { name: "Duration" }).fill("1h");
  await dialog.getByRole("textbox", { name: "Author" }).fill("Alice");
  await dialog.getByRole("textbox", { name: "Comment" }).fill("card network maintenance, TICKET-7");
  assert.deepEqual(await axeViolations(page), [], "silence form");
  await dialog.getByRole("button", { name: "Create silence" }).click();
  const notice = await page.getByRole("status").filter({ hasText: /Created silence/ }).innerText();
  const id = /Created silence ([\w-]+)/.exec(notice)[1];

  // The API agrees: the alert is silenced by that silence, made by Alice for an hour.
  const silenced = await until("the API reports it silenced", async () => {
    const a = await firing();
    return a?.status.silencedBy.includes(id) && a;
  });
  assert.equal(silenced.status.state, "suppressed");
  const silence = await api(`/api/v2/silence/${id}`, {}, ALERTS);
  assert.equal(silence.createdBy, "Alice");
  assert.equal(silence.comment, "card network maintenance, TICKET-7");
  const hours = (Date.parse(silence.endsAt) - Date.parse(silence.startsAt)) / 3_600_000;
  assert.ok(Math.abs(hours - 1) < 0.01, `an hour, not ${hours}`);

  // The list shows it as silenced now (after the next refresh, or a reload).
  await page.reload();
  await page.getByRole("listitem", { name: "CheckoutErrors silenced" }).waitFor();
  await page.getByRole("checkbox", { name: /Show silenced/ }).uncheck();
  await page.waitForURL(/silenced=0/);
  await page.getByRole("listitem", { name: "CheckoutErrors silenced" }).waitFor({ state: "detached" });

  // Silences: listed as active with its author and comment; expiring it un-mutes the alert.
  await page.getByRole("navigation", { name: "Alerting" }).getByRole("link", { name: "Silences" }).click();
  const active = page.getByRole("region", { name: "Active silences" });
  const row = active.getByRole("row", { name: /alertname="CheckoutErrors"/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Alice[\s\S]*TICKET-7/);
  assert.deepEqual(await axeViolations(page), [], "silences");
  await row.getByRole("button", { name: /^Expire silence/ }).click();
  await page.getByRole("region", { name: "Expired silences" }).getByRole("row", { name: /alertname="CheckoutErrors"/ }).waitFor();
  await until("the API reports it no longer silenced", async () => {
    const a = await firing();
    return a && a.status.silencedBy.length === 0 && a.status.state === "active";
  });
  await page.close();
});

test("incidents: acknowledged from the page with a comment, the escalation stops; then resolved by hand", { skip }, async () => {
  const open = await until("an incident opens", async () => (await api("/api/v1/incidents", {}, ALERTS)).incidents[0]);
  assert.ok(open.next_escalation_at, "the next step is due");
  const page = await newPage("/alerts?tab=incidents", ALERTS);
  const card = page.getByRole("article", { name: `Incident ${open.id}` });
  await card.waitFor();
  const timeline = card.getByRole("list", { name: "Timeline" });
  await timeline.getByText(/Paged e-mail .*@example\.com/).waitFor();
  await timeline.getByText(/Next step \(2\) escalates/).waitFor();
  assert.deepEqual(await axeViolations(page), [], "incidents");

  const form = card.getByRole("form", { name: `Acknowledge incident ${open.id}` });
  await form.getByRole("textbox", { name: "Your name" }).fill("Bob");
  await form.getByRole("textbox", { name: "Comment" }).fill("rolling back release 42");
  await form.getByRole("button", { name: "Acknowledge" }).click();
  await timeline.getByText("Acknowledged by Bob").waitFor();
  assert.match(await timeline.innerText(), /rolling back release 42/);
  assert.equal(await timeline.getByText(/Next step/).count(), 0, "no next step once acknowledged");

  const acked = (await api("/api/v1/incidents", {}, ALERTS)).incidents.find((i) => i.id === open.id);
  assert.equal(acked.state, "acknowledged");
  assert.equal(acked.acked_by, "Bob");
  assert.equal(acked.ack_comment, "rolling back release 42");
  assert.equal(acked.next_escalation_at, null);
  // tests/e2e/ui.rs then checks that the SMTP server got nothing after the first page.
  console.log(`INCIDENT ${open.id} ${open.next_escalation_at}`);

  // Resolved by hand from the page: it leaves the open list; with resolved ones shown, its
  // timeline ends with who resolved it and why.
  const resolveForm = card.getByRole("form", { name: `Resolve incident ${open.id}` });
  await resolveForm.getByRole("textbox", { name: "Comment" }).fill("rolled back; error rate normal");
  await resolveForm.getByRole("button", { name: "Resolve" }).click();
  await card.waitFor({ state: "detached" });
  const done = (await api("/api/v1/incidents?open=false", {}, ALERTS)).incidents.find((i) => i.id === open.id);
  assert.equal(done.state, "resolved");
  assert.equal(done.resolved_by, "Bob");
  assert.equal(done.resolve_comment, "rolled back; error rate normal");
  await page.getByRole("checkbox", { name: "Show resolved" }).check();
  await card.getByRole("list", { name: "Timeline" }).getByText("Resolved by Bob").waitFor();
  assert.equal(await card.getByRole("form").count(), 0, "nothing to do on a resolved incident");
  await page.close();
});

test("on call: now, next and four weeks of shifts as the schedule computes them", { skip }, async () => {
  const { schedules } = await api("/api/v1/oncall", {}, ALERTS);
  const primary = schedules.find((s) => s.schedule === "primary");
  const page = await newPage("/alerts?tab=oncall", ALERTS);
  const section = page.getByRole("region", { name: "Schedule primary" });
  await section.waitFor();
  assert.match(await section.getByTestId("oncall-now-primary").innerText(), new RegExp(primary.current.name));
  const calendar = section.getByRole("table", { name: "Shifts of primary, four weeks" });
  await calendar.getByRole("listitem").first().waitFor();
  assert.equal(await calendar.getByRole("row").count(), 5, "a header and four weeks");
  const names = new Set((await calendar.getByRole("listitem").allInnerTexts()).map((t) => t.replace(/ (from|until) .*$/, "")));
  assert.deepEqual([...names].sort(), ["Alice", "Bob"], "the weekly rotation alternates");
  assert.deepEqual(await axeViolations(page), [], "on call");

  // An override made on the page changes who is on call now (and so who is paged).
  const pad = (n) => String(n).padStart(2, "0");
  const local = (ms) => {
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };
  const form = section.getByRole("form", { name: "New override in primary" });
  await form.getByRole("textbox", { name: "Who covers" }).fill("Carol <carol@example.com>");
  await form.getByLabel("From").fill(local(Date.now() - 60_000));
  await form.getByLabel("Until").fill(local(Date.now() + 3 * 3_600_000));
  await form.getByRole("textbox", { name: "Your name" }).fill("Alice");
  await form.getByRole("textbox", { name: "Comment" }).fill("swap for the afternoon");
  await form.getByRole("button", { name: "Create override" }).click();
  await section.getByTestId("oncall-now-primary").getByText("Carol", { exact: true }).waitFor();
  const after = (await api("/api/v1/oncall", {}, ALERTS)).schedules.find((s) => s.schedule === "primary");
  assert.equal(after.current.name, "Carol");
  assert.equal(after.by_override, true);
  const overrides = section.getByRole("region", { name: "Overrides of primary" });
  assert.match(await overrides.getByRole("row", { name: /Carol/ }).innerText(), /Alice[\s\S]*swap for the afternoon/);
  await calendar.getByRole("listitem").filter({ hasText: "Carol" }).first().waitFor();
  assert.deepEqual(await axeViolations(page), [], "on call with an override");

  // Deleting it gives the turn back to the rotation.
  await overrides.getByRole("button", { name: "Delete the override of Carol" }).click();
  await section.getByTestId("oncall-now-primary").getByText(primary.current.name, { exact: true }).waitFor();
  const back = (await api("/api/v1/oncall", {}, ALERTS)).schedules.find((s) => s.schedule === "primary");
  assert.equal(back.current.name, primary.current.name);
  await page.close();
});

test("rules and the notification log", { skip }, async () => {
  const page = await newPage("/alerts?tab=rules", ALERTS);
  const row = page.getByRole("row", { name: /CheckoutErrors/ });
  await row.waitFor();
  assert.match(await row.innerText(), /firing/i);
  assert.equal(await row.getByRole("link").first().getAttribute("href"), "/explore?q=level%3Aerror%20service%3Acheckout&start=now-600s");
  assert.deepEqual(await axeViolations(page), [], "rules");
  await page.getByRole("navigation", { name: "Alerting" }).getByRole("link", { name: "Notifications" }).click();
  const sent = page.getByRole("row", { name: /firing.*email/ });
  await sent.first().waitFor();
  assert.match(await sent.first().innerText(), /sent in \d+ ms/);
  assert.deepEqual(await axeViolations(page), [], "notifications");
  await page.close();
});
