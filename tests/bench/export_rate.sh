#!/usr/bin/env bash
# Export rate: records/s and MB/s of GET /api/v1/export (NDJSON) from a release server, the
# server's CPU time per wall second during it (≈1.0: one core busy, CPU-bound; well under:
# bound by something else), and, same run, a cold sequential read of the index files as the
# disk baseline. Needs root for drop_caches (the cold runs); warm runs need nothing.
#   tests/bench/export_rate.sh target/release/pharos 543000
set -euo pipefail
PHAROS=${1:-target/release/pharos}
COUNT=${2:-543000}
DIR=$(mktemp -d /var/tmp/export-rate.XXXXXX)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
PHAROS_SERVER__HTTP_ADDR=127.0.0.1:$PORT PHAROS_SERVER__OTLP_HTTP_ADDR= PHAROS_SERVER__OTLP_GRPC_ADDR= \
  PHAROS_STORAGE__DATA_DIR=$DIR/data PHAROS_LOG__LEVEL=warn PHAROS_RETENTION__DAYS=36500 \
  PHAROS_RETENTION__KEEP_ERRORS_DAYS=36500 "$PHAROS" serve >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.2; done
# Records like an API's access and error logs (about 300 bytes each), 2,000 per request.
python3 - "$PORT" "$COUNT" <<'PY'
import http.client, json, random, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(1)
now = time.time_ns() - 3600 * 10**9
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
sent = 0
while sent < count:
    lines = []
    for i in range(min(2000, count - sent)):
        n = sent + i
        lines.append(json.dumps({
            "timestamp": now + n * 1000, "service": f"svc-{n % 12}", "host": f"host-{n % 40}",
            "level": rnd.choice(["info", "info", "info", "warn", "error", "debug"]),
            "msg": f"GET /api/v1/items/{rnd.randrange(10**6)} answered {rnd.choice([200, 200, 404, 500])} in {rnd.randrange(1, 900)} ms",
            "trace_id": f"{rnd.getrandbits(128):032x}", "http": {"method": "GET", "status": rnd.choice([200, 404, 500])},
            "duration_ms": rnd.randrange(1, 900), "user_id": rnd.randrange(10**5)}))
    conn.request("POST", "/api/v1/logs", "\n".join(lines) + "\n", {"content-type": "application/x-ndjson"})
    r = conn.getresponse(); r.read()
    if r.status == 429:
        time.sleep(1); continue
    assert r.status == 200, r.status
    sent += len(lines)
PY
until [ "$(curl -s "http://127.0.0.1:$PORT/api/v1/search?q=*&limit=0&start=0" | python3 -c 'import json,sys;print(json.load(sys.stdin)["total"])')" -ge "$COUNT" ]; do sleep 1; done
sleep 3
cpu() { awk '{print $14+$15}' "/proc/$PID/stat"; }
TICK=$(getconf CLK_TCK)
for run in 1 2 3; do
  [ "$(id -u)" = 0 ] && sync && echo 3 >/proc/sys/vm/drop_caches
  c0=$(cpu); t0=$(date +%s.%N)
  BYTES=$(curl -s "http://127.0.0.1:$PORT/api/v1/export?q=*&start=0" | tee >(wc -l >"$DIR/lines") | wc -c)
  t1=$(date +%s.%N); c1=$(cpu)
  LINES=$(cat "$DIR/lines")
  python3 - "$LINES" "$BYTES" "$t0" "$t1" "$c0" "$c1" "$TICK" <<'PY'
import sys
lines, b, t0, t1, c0, c1, tick = sys.argv[1:]
wall = float(t1) - float(t0)
cpu = (int(c1) - int(c0)) / int(tick)
print(f"export: {int(lines)} records, {int(b)/2**20:.0f} MiB in {wall:.2f} s: {int(lines)/wall:,.0f} records/s, {int(b)/2**20/wall:.0f} MiB/s, server CPU {cpu/wall:.2f} s per s")
PY
  [ "$(id -u)" = 0 ] && sync && echo 3 >/proc/sys/vm/drop_caches
  t0=$(date +%s.%N); IB=$(find "$DIR/data/index" -type f -exec cat {} + | wc -c); t1=$(date +%s.%N)
  python3 -c "import sys; b=int(sys.argv[1]); w=float(sys.argv[3])-float(sys.argv[2]); print(f'disk baseline: read {b/2**20:.0f} MiB of index files in {w:.2f} s: {b/2**20/w:.0f} MiB/s')" "$IB" "$t0" "$t1"
done
