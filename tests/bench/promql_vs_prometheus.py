#!/usr/bin/env python3
"""PromQL latency over 30 days: Pharos against a real Prometheus, same data, same run.

Generates a deterministic month of samples (by default 100 counter series
`bench_requests_total{instance,job,code}` with occasional resets and 100 integer random-walk
gauges `bench_queue_length{instance,job}`, one sample a minute per series at a fixed per-series
phase with milliseconds, so no sample sits on a 5-minute or hour edge), then

- Prometheus: writes it as OpenMetrics (seconds), backfills it with
  `promtool tsdb create-blocks-from openmetrics`, starts `prometheus` on the blocks
  (retention 90d, no scrape jobs) and waits for its compactions to settle;
- Pharos: starts `pharos serve` with raw retention raised to 32 days (samples older than
  `metrics.raw_retention_days` are refused at ingest) and sends the same samples by remote
  write (protobuf encoded here; snappy as literal-only blocks, which every decoder accepts),
  each series in time order, then waits for the metrics backlog to drain and for a head flush
  (`metrics.flush_interval_secs`, 60 s) to write the rollups.

It checks that both hold the same data (per-series `count_over_time`, `sum_over_time` over 30d
and `sum` at the end), then times each query: 1 warm-up per server, then N runs alternating
the servers (the order flips every pair), wall clock of the HTTP request including reading the
body. Each query's answers from the two servers are compared point by point (same series,
same timestamps, values within 1e-6 relative). Prints a markdown table and writes the raw runs
as JSON. Stdlib only.

    python3 tests/bench/promql_vs_prometheus.py --pharos target/release/pharos --runs 20
"""
import argparse, array, json, math, os, random, shutil, signal, socket, struct, subprocess, sys
import tempfile, time, urllib.error, urllib.parse, urllib.request

MIN = 60_000
DAY = 86_400_000

# ---------------------------------------------------------------- protobuf + snappy (stdlib)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def snappy_literal(data):
    """Snappy raw block made of literals only (valid snappy; no compression)."""
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        else:
            out.append(61 << 2)
            out += struct.pack("<H", n)
        out += chunk
    return bytes(out)


SAMPLE = struct.Struct("<Bd")  # field 1, wire type 1 (double)


def encode_samples(ts, vals, lo, hi):
    parts = []
    for i in range(lo, hi):
        body = SAMPLE.pack(0x09, vals[i]) + b"\x10" + varint(ts[i])
        parts.append(b"\x12" + varint(len(body)) + body)  # TimeSeries.samples = 2
    return b"".join(parts)


# ---------------------------------------------------------------- data


class Series:
    def __init__(self, name, labels, kind, ts, vals):
        self.name, self.labels, self.kind, self.ts, self.vals = name, labels, kind, ts, vals

    def label_pb(self):
        pairs = sorted([("__name__", self.name)] + list(self.labels.items()))
        return b"".join(ld(1, ld(1, k.encode()) + ld(2, v.encode())) for k, v in pairs)

    def om_labels(self):
        return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items())) + "}"


def generate(n_series, end_ms, days, seed):
    rng = random.Random(seed)
    n = days * 1440
    start = end_ms - days * DAY
    codes = ["200", "201", "404", "500", "503"]
    share = {"200": 1.0, "201": 0.2, "404": 0.05, "500": 0.01, "503": 0.005}
    n_counters = n_series // 2
    n_gauges = n_series - n_counters
    out = []
    for k in range(n_counters):
        inst, code = divmod(k, len(codes))
        job = "api" if inst % 2 == 0 else "web"
        labels = {"instance": f"host-{inst:03d}:9100", "job": job, "code": codes[k % len(codes)]}
        phase = rng.randrange(1_000, 59_000) + rng.randrange(1, 1000)  # ms part never 0
        base = rng.uniform(2, 40) * share[labels["code"]]  # requests per second
        ts = array.array("q", (start + phase + i * MIN for i in range(n)))
        vals = array.array("d", bytes(8 * n))
        v = float(rng.randrange(0, 10_000))
        for i in range(n):
            day_frac = ((start + i * MIN) % DAY) / DAY
            mean = base * 60 * (1.0 + 0.6 * math.sin(2 * math.pi * day_frac))
            inc = max(0, int(rng.gauss(mean, math.sqrt(mean) + 0.5)))
            if rng.random() < 1 / 15_000:  # a process restart: ~3 resets per series a month
                v = 0.0
            v += inc
            vals[i] = v
        out.append(Series("bench_requests_total", labels, "counter", ts, vals))
    for k in range(n_gauges):
        labels = {"instance": f"host-{k // 2:03d}:9100", "job": "api" if k % 2 == 0 else "worker"}
        phase = rng.randrange(1_000, 59_000) + rng.randrange(1, 1000)  # ms part never 0
        ts = array.array("q", (start + phase + i * MIN for i in range(n)))
        vals = array.array("d", bytes(8 * n))
        v = rng.randrange(0, 200)
        hi = rng.choice([50, 200, 1000])
        for i in range(n):
            v = min(hi, max(0, v + rng.randint(-3, 3)))
            vals[i] = float(v)
        out.append(Series("bench_queue_length", labels, "gauge", ts, vals))
    for s in out:
        assert s.ts[0] > start and s.ts[-1] < end_ms
        assert all(t % 1000 for t in s.ts[:5])  # never on a second, so never on an edge
    return out


def fmt(v):
    return str(int(v)) if v == int(v) else repr(v)


def write_openmetrics(series, path):
    with open(path, "w") as f:
        for name, family, kind in (("bench_requests_total", "bench_requests", "counter"),
                                   ("bench_queue_length", "bench_queue_length", "gauge")):
            f.write(f"# TYPE {family} {kind}\n")
            for s in series:
                if s.name != name:
                    continue
                head = name + s.om_labels() + " "
                f.write("".join(f"{head}{fmt(v)} {t // 1000}.{t % 1000:03d}\n" for t, v in zip(s.ts, s.vals)))
        f.write("# EOF\n")


# ---------------------------------------------------------------- servers


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url, timeout=300):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_http(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            get(url, 2)
            return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer")


def post_write(url, body):
    data = snappy_literal(body)
    while True:
        req = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status
        except urllib.error.HTTPError as e:
            if e.code in (429, 503):
                time.sleep(float(e.headers.get("Retry-After") or 1))
                continue
            raise SystemExit(f"remote write {e.code}: {e.read()[:500]!r}")


def load_pharos(url, series, batch):
    n = len(series[0].ts)
    heads = [s.label_pb() for s in series]
    sent = 0
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        body = b"".join(ld(1, h + encode_samples(s.ts, s.vals, lo, hi)) for h, s in zip(heads, series))
        post_write(url, body)
        sent += (hi - lo) * len(series)
    return sent


def pharos_backlog(base):
    try:
        r = json.loads(get(base + "/ready", 10))
    except urllib.error.HTTPError as e:  # 503 while not ready: the body says why
        r = json.loads(e.read())
    m = r.get("components", {}).get("metrics", {})
    return m.get("backlog_records"), r


def prom_metric(base, name):
    total = 0.0
    for line in get(base + "/metrics", 10).decode().splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---------------------------------------------------------------- queries


def query_url(base, q, kind, start, end, step):
    if kind == "range":
        qs = urllib.parse.urlencode({"query": q, "start": start / 1000, "end": end / 1000, "step": step})
        return f"{base}/api/v1/query_range?{qs}"
    return f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": end / 1000})


def timed(url):
    t0 = time.perf_counter()
    body = get(url)
    return (time.perf_counter() - t0) * 1000, body


def parse(body):
    d = json.loads(body)
    if d.get("status") != "success":
        raise RuntimeError(f"query failed: {body[:400]!r}")
    data = d["data"]
    out = {}
    for r in data["result"]:
        key = tuple(sorted(r["metric"].items()))
        pts = r["values"] if "values" in r else [r["value"]]
        out[key] = {round(float(t) * 1000): float(v) for t, v in pts}
    return data["resultType"], out


def close(a, b, rel=1e-6):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= rel * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


def compare(ph, pr, start, end):
    """Point-by-point comparison; says where the differences are."""
    ks_ph, ks_pr = set(ph), set(pr)
    rep = {"series_pharos": len(ph), "series_prometheus": len(pr),
           "series_only_pharos": len(ks_ph - ks_pr), "series_only_prometheus": len(ks_pr - ks_ph),
           "points_pharos": sum(map(len, ph.values())), "points_prometheus": sum(map(len, pr.values())),
           "points_only_pharos": 0, "points_only_prometheus": 0, "values_differ": 0,
           "max_rel_diff": 0.0, "examples": []}
    for k in ks_ph & ks_pr:
        a, b = ph[k], pr[k]
        for t in a.keys() - b.keys():
            rep["points_only_pharos"] += 1
            if len(rep["examples"]) < 5:
                rep["examples"].append({"series": dict(k), "t": t, "pharos": a[t], "prometheus": None})
        for t in b.keys() - a.keys():
            rep["points_only_prometheus"] += 1
            if len(rep["examples"]) < 5:
                rep["examples"].append({"series": dict(k), "t": t, "pharos": None, "prometheus": b[t]})
        for t in a.keys() & b.keys():
            x, y = a[t], b[t]
            if not close(x, y):
                rep["values_differ"] += 1
                if len(rep["examples"]) < 5:
                    rep["examples"].append({"series": dict(k), "t": t, "pharos": x, "prometheus": y})
            if x != y and not (math.isnan(x) or math.isnan(y)):
                rep["max_rel_diff"] = max(rep["max_rel_diff"], abs(x - y) / max(abs(x), abs(y)))
    for e in rep["examples"]:
        e["from_start_min"] = (e["t"] - start) / MIN
        e["to_end_min"] = (end - e["t"]) / MIN
    rep["agree"] = (rep["series_only_pharos"] == rep["series_only_prometheus"] == rep["points_only_pharos"]
                    == rep["points_only_prometheus"] == rep["values_differ"] == 0 and len(ph) > 0)
    return rep


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


# (query, kind, step s, the same query with left-open subquery ranges for Prometheus 2.x or None).
# Prometheus 2.x closes range and subquery windows on the left ([t - r, t]); Pharos, like
# Prometheus 3, leaves them open ((t - r, t]). The samples here are never on an edge, so plain
# range selectors agree either way, but a subquery's inner steps are always on its edges: a
# `[1h:5m]` window holds 13 inner points in Prometheus 2.x and 12 in Pharos. Shortening the
# subquery range by 1 ms gives Prometheus 2.x the left-open window, so those answers are
# compared too (untimed).
QUERIES = [
    ("sum(rate(bench_requests_total[5m]))", "range", 300, None),
    ("sum by (code) (rate(bench_requests_total[5m]))", "range", 300, None),
    ("max_over_time(bench_queue_length[1h])", "range", 300, None),
    ("avg_over_time(bench_queue_length[1h])", "range", 300, None),
    ("max_over_time(rate(bench_requests_total[5m])[1h:5m])", "range", 300,
     "max_over_time(rate(bench_requests_total[5m])[59m59s999ms:5m])"),
    ("avg_over_time(sum(rate(bench_requests_total[5m]))[1d:1h])", "range", 3600,
     "avg_over_time(sum(rate(bench_requests_total[5m]))[23h59m59s999ms:1h])"),
    ("max_over_time(bench_queue_length[30d:1d])", "instant", 0,
     "max_over_time(bench_queue_length[29d23h59m59s999ms:1d])"),
]

CHECKS = [
    "count_over_time(bench_requests_total[30d])",
    "count_over_time(bench_queue_length[30d])",
    "sum_over_time(bench_queue_length[30d])",
    "sum(bench_requests_total)",
    "sum(bench_queue_length)",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pharos", required=True)
    ap.add_argument("--prometheus", default=shutil.which("prometheus"))
    ap.add_argument("--promtool", default=shutil.which("promtool"))
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--batch", type=int, default=60, help="samples per series per remote-write request")
    ap.add_argument("--settle", type=float, default=75.0, help="seconds after the backlog drains (head flush every 60 s)")
    ap.add_argument("--workdir", help="keep the stores here (default: a temp dir, removed)")
    ap.add_argument("--output", default="promql-vs-prometheus.json")
    a = ap.parse_args()

    now = int(time.time() * 1000)
    end = now // 3_600_000 * 3_600_000 - 3_600_000  # an hour boundary, 1-2 h ago
    start = end - a.days * DAY
    tmp = a.workdir or tempfile.mkdtemp(prefix="promql-bench-")
    os.makedirs(tmp, exist_ok=True)
    log = lambda *m: print(f"[{time.strftime('%H:%M:%S')}]", *m, file=sys.stderr, flush=True)

    t0 = time.time()
    series = generate(a.series, end, a.days, a.seed)
    n_samples = sum(len(s.ts) for s in series)
    log(f"generated {len(series)} series, {n_samples} samples, {time.time() - t0:.0f} s")

    om = f"{tmp}/data.om"
    t0 = time.time()
    write_openmetrics(series, om)
    promdir = f"{tmp}/prom"
    subprocess.run([a.promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", om, promdir], check=True,
                   stdout=subprocess.DEVNULL)
    os.remove(om)
    log(f"promtool backfill done, {time.time() - t0:.0f} s")

    pp, hp = free_port(), free_port()
    env = dict(os.environ, PHAROS_SERVER__HTTP_ADDR=f"127.0.0.1:{pp}", PHAROS_SERVER__OTLP_HTTP_ADDR="",
               PHAROS_SERVER__OTLP_GRPC_ADDR="", PHAROS_STORAGE__DATA_DIR=f"{tmp}/pharos",
               PHAROS_LOG__LEVEL="warn", PHAROS_METRICS__RAW_RETENTION_DAYS=str(a.days + 2),
               PHAROS_METRICS__MINUTE_RETENTION_DAYS=str(a.days + 2))
    plog = open(f"{tmp}/pharos.log", "w")
    pharos = subprocess.Popen([a.pharos, "serve"], env=env, stdout=plog, stderr=plog)
    with open(f"{tmp}/prom.yml", "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    mlog = open(f"{tmp}/prometheus.log", "w")
    prom = subprocess.Popen([a.prometheus, f"--config.file={tmp}/prom.yml", f"--storage.tsdb.path={promdir}",
                             f"--web.listen-address=127.0.0.1:{hp}", "--storage.tsdb.retention.time=90d"],
                            stdout=mlog, stderr=mlog)
    P = {"pharos": f"http://127.0.0.1:{pp}/prometheus", "prometheus": f"http://127.0.0.1:{hp}"}
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "series": len(series),
           "samples": n_samples, "days": a.days, "start_ms": start, "end_ms": end, "runs": a.runs,
           "seed": a.seed, "nproc": os.cpu_count(),
           "prometheus_version": subprocess.run([a.prometheus, "--version"], capture_output=True,
                                                text=True).stdout.splitlines()[0]}
    try:
        wait_http(f"http://127.0.0.1:{pp}/health")
        wait_http(f"http://127.0.0.1:{hp}/-/ready", 600)
        prom_started = time.time()
        t0 = time.time()
        sent = load_pharos(f"http://127.0.0.1:{pp}/api/v1/write", series, a.batch)
        res["pharos_write_seconds"] = round(time.time() - t0, 1)
        log(f"pharos: {sent} samples sent in {res['pharos_write_seconds']} s")
        while True:
            b, ready = pharos_backlog(f"http://127.0.0.1:{pp}")
            if b is None:
                raise SystemExit(f"no components.metrics.backlog_records in /ready: {ready}")
            if b == 0:
                break
            time.sleep(0.5)
        res["pharos_drained_seconds"] = round(time.time() - t0, 1)
        log(f"pharos backlog drained at {res['pharos_drained_seconds']} s; settling {a.settle} s")
        time.sleep(a.settle)
        # Prometheus compacts the 2 h backfilled blocks after start: wait until it has stopped.
        last, stable_since = None, time.time()
        while True:
            cur = (prom_metric(P["prometheus"], "prometheus_tsdb_compactions_total"),
                   prom_metric(P["prometheus"], "prometheus_tsdb_blocks_loaded"))
            if cur != last:
                last, stable_since = cur, time.time()
            if time.time() - prom_started > 90 and time.time() - stable_since > 30:
                break
            time.sleep(2)
        res["prometheus_compactions"], res["prometheus_blocks"] = last
        log(f"prometheus settled: {last[0]:.0f} compactions, {last[1]:.0f} blocks")

        # Same data in both?
        res["checks"] = {}
        for q in CHECKS:
            got = {n: parse(get(query_url(P[n], q, "instant", start, end, 0)))[1] for n in P}
            rep = compare(got["pharos"], got["prometheus"], start, end)
            res["checks"][q] = rep
            log(f"check {q}: {'agree' if rep['agree'] else 'DIFFER'} ({rep['series_pharos']} series)")
            if not rep["agree"]:
                log(json.dumps(rep, indent=1))

        res["queries"] = []
        for q, kind, step, left_open in QUERIES:
            urls = {n: query_url(P[n], q, kind, start, end, step) for n in P}
            warm = {}
            for n in P:
                ms, body = timed(urls[n])
                warm[n] = {"ms": ms, "bytes": len(body)}
                warm[n]["type"], warm[n]["result"] = parse(body)
                del body
            rep = compare(warm["pharos"]["result"], warm["prometheus"]["result"], start, end)
            rep_lo = None
            if left_open:
                lo = parse(get(query_url(P["prometheus"], left_open, kind, start, end, step)))[1]
                rep_lo = compare(warm["pharos"]["result"], lo, start, end)
                rep_lo["prometheus_query"] = left_open
                del lo
            for n in P:
                del warm[n]["result"]
            runs = {n: [] for n in P}
            for i in range(a.runs):
                order = list(P) if i % 2 == 0 else list(P)[::-1]
                for n in order:
                    ms, _ = timed(urls[n])
                    runs[n].append(round(ms, 2))
            row = {"query": q, "kind": kind, "step_s": step, "warmup": warm, "runs": runs, "agreement": rep,
                   "agreement_left_open": rep_lo,
                   "loadavg": open("/proc/loadavg").read().split()[:3]}
            for n in P:
                row[f"{n}_p50"] = pct(runs[n], 50)
                row[f"{n}_p90"] = pct(runs[n], 90)
            row["ratio_p50"] = row["pharos_p50"] / row["prometheus_p50"]
            row["ratio_p90"] = row["pharos_p90"] / row["prometheus_p90"]
            res["queries"].append(row)
            log(f"{q}: pharos p50 {row['pharos_p50']:.1f} ms, prometheus p50 {row['prometheus_p50']:.1f} ms, "
                f"ratio {row['ratio_p50']:.2f}, {'agree' if rep['agree'] else 'DIFFER'}")
            if not rep["agree"]:
                log(json.dumps(rep, indent=1))
            if rep_lo:
                log(f"  against Prometheus's left-open form: {'agree' if rep_lo['agree'] else 'DIFFER'}")
                if not rep_lo["agree"]:
                    log(json.dumps(rep_lo, indent=1))
    finally:
        for p in (pharos, prom):
            p.send_signal(signal.SIGTERM)
        for p in (pharos, prom):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        if not a.workdir:
            shutil.rmtree(tmp, ignore_errors=True)

    with open(a.output, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\n{len(series)} series ({a.series // 2} counters, {a.series - a.series // 2} gauges), "
          f"{n_samples:,} samples at 60 s, {a.days} days ending {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime(end / 1000))}; "
          f"{a.runs} timed runs per server after 1 warm-up\n")
    print("| query | step | Pharos p50 ms | Prometheus p50 ms | ratio p50 | Pharos p90 ms | Prometheus p90 ms | ratio p90 | answers |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in res["queries"]:
        ag = r["agreement"]
        verdict = "agree" if ag["agree"] else (f"differ: {ag['values_differ']} values, "
                                               f"{ag['points_only_pharos']}/{ag['points_only_prometheus']} points only in one")
        lo = r.get("agreement_left_open")
        if lo:
            verdict += "; left-open form: " + ("agree" if lo["agree"] else f"differ ({lo['values_differ']} values)")
        step = f"{r['step_s']} s" if r["kind"] == "range" else "instant"
        print(f"| `{r['query']}` | {step} | {r['pharos_p50']:.1f} | {r['prometheus_p50']:.1f} | {r['ratio_p50']:.2f} | "
              f"{r['pharos_p90']:.1f} | {r['prometheus_p90']:.1f} | {r['ratio_p90']:.2f} | {verdict} |")
    print(f"\nraw runs: {a.output}")


if __name__ == "__main__":
    sys.exit(main())
