// Seeds metrics through Prometheus remote write 1.0 (`POST /api/v1/write`): a WriteRequest
// protobuf encoded by hand, snappy block-compressed, as Prometheus sends it. Over the last 60
// minutes at 15 s: request counters for two services and two codes, and a latency histogram.

import SnappyJS from "snappyjs";

function varint(n) {
  const out = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const enc = new TextEncoder();
const tag = (field, wire) => varint((field << 3) | wire);
const lenDelim = (field, bytes) => [...tag(field, 2), ...varint(bytes.length), ...bytes];

function label(name, value) {
  return [...lenDelim(1, enc.encode(name)), ...lenDelim(2, enc.encode(value))];
}

function sample(value, tsMs) {
  const d = new Uint8Array(8);
  new DataView(d.buffer).setFloat64(0, value, true);
  return [...tag(1, 1), ...d, ...tag(2, 0), ...varint(tsMs)];
}

/** labels: an object; sent sorted by name with __name__ first. */
function timeSeries(labels, samples) {
  const names = Object.keys(labels).sort((a, b) => (a === "__name__" ? -1 : b === "__name__" ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const out = [];
  for (const n of names) out.push(...lenDelim(1, label(n, labels[n])));
  for (const [v, t] of samples) out.push(...lenDelim(2, sample(v, t)));
  return out;
}

export function writeRequest(series) {
  const out = [];
  for (const s of series) out.push(...lenDelim(1, timeSeries(s.labels, s.samples)));
  return new Uint8Array(out);
}

/** The seeded series: every one is a counter growing at a steady per-second rate. */
export function metricSeries(nowMs) {
  const end = Math.floor(nowMs / 15_000) * 15_000;
  const times = [];
  for (let t = end - 60 * 60_000; t <= end; t += 15_000) times.push(t);
  const counter = (labels, perSec) => ({ labels, samples: times.map((t, i) => [i * 15 * perSec, t]) });
  const series = [];
  const rates = { checkout: { 200: 10, 500: 1 }, web: { 200: 20, 500: 0.5 } };
  for (const service of ["checkout", "web"])
    for (const code of ["200", "500"])
      series.push(counter({ __name__: "http_requests_total", service, method: "GET", code }, rates[service][code]));
  const buckets = { "0.1": 6, "0.5": 9, "1": 10.5, "+Inf": 11 };
  for (const [le, perSec] of Object.entries(buckets))
    series.push(counter({ __name__: "http_request_duration_seconds_bucket", service: "checkout", le }, perSec));
  series.push(counter({ __name__: "http_request_duration_seconds_sum", service: "checkout" }, 2.2));
  series.push(counter({ __name__: "http_request_duration_seconds_count", service: "checkout" }, 11));
  return series;
}

export async function seedMetrics(base, nowMs) {
  const series = metricSeries(nowMs);
  const body = SnappyJS.compress(writeRequest(series));
  const resp = await fetch(`${base}/api/v1/write`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy", "x-prometheus-remote-write-version": "0.1.0" },
    body,
  });
  if (!resp.ok) throw new Error(`remote write: ${resp.status} ${await resp.text()}`);
  return series;
}

/** Polls until `count(http_requests_total)` answers 4. */
export async function waitMetrics(base) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await fetch(`${base}/prometheus/api/v1/query?query=${encodeURIComponent("count(http_requests_total)")}`);
    const j = r.ok ? await r.json() : null;
    if (j?.data?.result?.[0]?.value?.[1] === "4") return;
    if (Date.now() > deadline) throw new Error(`metrics not queryable after 20 s: ${JSON.stringify(j)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
