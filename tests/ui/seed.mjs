// Seed data for the browser tests (and for trying the UI by hand): records over the last
// 50 minutes from five services, every level, multi-line stack traces, and requests that
// cross services under one correlation id, with durations. Deterministic (seeded PRNG), with
// times relative to `now`, sent through the real ingest API.
//
//   node seed.mjs http://127.0.0.1:7070 [records]

const SERVICES = ["web", "checkout", "payments", "auth", "inventory"];
const HOSTS = ["node-1", "node-2", "node-3"];
const MESSAGES = {
  info: ["GET /cart 200", "user signed in", "order placed", "cache warmed", "payment authorised", "stock reserved"],
  debug: ["cache hit for key cart:42", "retrying connection", "span closed"],
  warn: ["slow response from upstream", "retry budget low", "deprecated header used"],
  error: ["payment declined", "connection refused by db-1", "timeout waiting for inventory"],
};

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** The seeded records; `request` ids are req-0001… with 4 services each. */
export function seedRecords(nowMs, count = 2000) {
  const rand = rng(42);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const out = [];
  const span = 50 * 60_000;
  for (let i = 0; i < count; i++) {
    const r = rand();
    const level = r < 0.05 ? "error" : r < 0.15 ? "warn" : r < 0.3 ? "debug" : "info";
    const service = pick(SERVICES);
    const ts = nowMs - span + Math.floor((i / count) * span) + Math.floor(rand() * 500);
    const rec = {
      ts: new Date(ts).toISOString(),
      level,
      service,
      host: pick(HOSTS),
      msg: pick(MESSAGES[level]),
      http: { method: pick(["GET", "POST"]), status_code: level === "error" ? 500 : level === "warn" ? 429 : 200 },
      duration_ms: Math.round(rand() * 400),
      user: { id: `u-${Math.floor(rand() * 50)}` },
    };
    if (level === "error" && i % 3 === 0) {
      rec.msg = `unhandled exception in ${service}\njava.lang.IllegalStateException: cart is empty\n    at Cart.checkout(Cart.java:42)\n    at Handler.handle(Handler.java:17)`;
    }
    out.push(rec);
  }
  // Requests across services: the same correlation id, a trace id, durations.
  for (let q = 1; q <= 20; q++) {
    const id = `req-${String(q).padStart(4, "0")}`;
    const trace = q.toString(16).padStart(32, "a");
    let t = nowMs - 40 * 60_000 + q * 60_000;
    for (const [k, service] of ["web", "auth", "checkout", "payments"].entries()) {
      const failed = q % 5 === 0 && service === "payments";
      out.push({
        ts: new Date(t).toISOString(),
        level: failed ? "error" : k === 2 && q % 4 === 0 ? "warn" : "info",
        service,
        host: HOSTS[k % 3],
        msg: failed ? "payment declined" : `${service} handled ${id}`,
        request_id: id,
        trace_id: trace,
        duration_ms: 20 + k * 15,
      });
      t += 25 + k * 10;
    }
  }
  return out;
}

export async function seed(base, nowMs = Date.now(), count = 2000, headers = {}) {
  const records = seedRecords(nowMs, count);
  const body = records.map((r) => JSON.stringify(r)).join("\n");
  const resp = await fetch(`${base}/api/v1/logs`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...headers },
    body,
  });
  const answer = await resp.json();
  if (!resp.ok || answer.accepted !== records.length) throw new Error(`seeding failed: ${resp.status} ${JSON.stringify(answer)}`);
  return records;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const base = process.argv[2] ?? "http://127.0.0.1:7070";
  const records = await seed(base, Date.now(), Number(process.argv[3] ?? 2000));
  console.log(`seeded ${records.length} records into ${base}`);
}
