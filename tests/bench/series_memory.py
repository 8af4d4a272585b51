#!/usr/bin/env python3
"""Bytes of resident memory per active series: Pharos against a real Prometheus, same run.

Starts `pharos serve` and `prometheus --web.enable-remote-write-receiver` on free loopback
ports with fresh data dirs, sends both the same remote-write requests (N new series of one
metric with 8 labels each, 10,000 series per request, then a second sample for every series
15 s later, as a scrape would), waits for the servers to settle, and reports the growth of
each process's RSS divided by N. Needs python-snappy (pip) and Debian's prometheus.

    python3 tests/bench/series_memory.py --pharos target/release/pharos --series 100000
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

import snappy


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


def field(num, wire, payload):
    return varint((num << 3) | wire) + payload


def ld(num, data):
    return field(num, 2, varint(len(data)) + data)


def label(name, value):
    return ld(1, name.encode()) + ld(2, value.encode())


def sample(value, ts_ms):
    import struct
    return field(1, 1, struct.pack("<d", value)) + field(2, 0, varint(ts_ms))


def series(i, ts_ms, value):
    labels = [("__name__", "bench_series_memory"), ("cluster", "c1"), ("env", "prod"),
              ("instance", f"host-{i // 100:05d}:9100"), ("job", "node"),
              ("path", f"/api/v{i % 7}/items"), ("pod", f"pod-{i:07d}"), ("zone", f"z{i % 3}")]
    body = b"".join(ld(1, label(n, v)) for n, v in labels) + ld(2, sample(value, ts_ms))
    return ld(1, body)


def post(url, series_bytes):
    body = snappy.compress(series_bytes)
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pharos", required=True)
    ap.add_argument("--prometheus", default=shutil.which("prometheus"))
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--settle", type=float, default=70.0, help="seconds to wait after the writes (Pharos flushes every 60 s)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="series-mem-")
    pp, gp, hp = free_port(), free_port(), free_port()
    env = dict(os.environ, PHAROS_SERVER__HTTP_ADDR=f"127.0.0.1:{pp}", PHAROS_SERVER__OTLP_HTTP_ADDR="",
               PHAROS_SERVER__OTLP_GRPC_ADDR="", PHAROS_STORAGE__DATA_DIR=f"{tmp}/pharos",
               PHAROS_LOG__LEVEL="warn", PHAROS_METRICS__MAX_SERIES="1000000",
               PHAROS_METRICS__MAX_SERIES_PER_METRIC="1000000")
    pharos = subprocess.Popen([a.pharos, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f"{tmp}/prom.yml", "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    prom = subprocess.Popen([a.prometheus, f"--config.file={tmp}/prom.yml", f"--storage.tsdb.path={tmp}/prom",
                             f"--web.listen-address=127.0.0.1:{hp}", "--web.enable-remote-write-receiver"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{pp}/health")
        wait_http(f"http://127.0.0.1:{hp}/-/ready")
        time.sleep(3)
        before = {"pharos": rss(pharos.pid), "prometheus": rss(prom.pid)}
        now = int(time.time() * 1000) - 60_000
        urls = {"pharos": f"http://127.0.0.1:{pp}/api/v1/write", "prometheus": f"http://127.0.0.1:{hp}/api/v1/write"}
        peak = dict(before)
        started = time.time()
        for round_, ts in enumerate([now, now + 15_000]):
            for lo in range(0, a.series, 10_000):
                body = b"".join(series(i, ts, float(round_ + i % 10)) for i in range(lo, min(lo + 10_000, a.series)))
                for name, url in urls.items():
                    status = post(url, body)
                    assert status in (200, 204), (name, status)
                    peak[name] = max(peak[name], rss(pharos.pid if name == "pharos" else prom.pid))
        wrote = time.time() - started
        deadline = time.time() + a.settle
        while time.time() < deadline:
            for name, pid in (("pharos", pharos.pid), ("prometheus", prom.pid)):
                peak[name] = max(peak[name], rss(pid))
            time.sleep(1)
        after = {"pharos": rss(pharos.pid), "prometheus": rss(prom.pid)}
        out = {"series": a.series, "write_seconds": round(wrote, 1), "settle_seconds": a.settle}
        for name in ("pharos", "prometheus"):
            out[name] = {"rss_before_mb": round(before[name] / 2**20, 1), "rss_after_mb": round(after[name] / 2**20, 1),
                         "peak_mb": round(peak[name] / 2**20, 1),
                         "bytes_per_series": round((after[name] - before[name]) / a.series),
                         "peak_bytes_per_series": round((peak[name] - before[name]) / a.series)}
        out["ratio_pharos_to_prometheus"] = round(out["pharos"]["bytes_per_series"] / max(1, out["prometheus"]["bytes_per_series"]), 2)
        print(json.dumps(out, indent=1))
    finally:
        for p in (pharos, prom):
            p.send_signal(signal.SIGTERM)
        for p in (pharos, prom):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
