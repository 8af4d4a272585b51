#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (fuzz/seeds/<target>/; docs/fuzzing.md).

Small valid (and a few nearly valid) inputs per target; the binary ones (OTLP protobuf,
remote-write protobuf and snappy) are encoded by hand here, field numbers as in the .proto
files. Run from anywhere: `python3 fuzz/seeds/generate.py`.
"""
import json
import os
import struct

os.chdir(os.path.dirname(os.path.abspath(__file__)))


def write(target, items, ext=""):
    os.makedirs(target, exist_ok=True)
    for n, body in enumerate(items):
        data = body if isinstance(body, bytes) else body.encode()
        with open(f"{target}/{n:02d}{ext}", "wb") as f:
            f.write(data)


write("promql", [
    'up',
    'up{job="api",instance=~"a:.*"} == 1',
    'sum by (job) (rate(http_requests_total{code!="500"}[5m]))',
    'histogram_quantile(0.9, sum by (le) (rate(rpc_duration_seconds_bucket[5m])))',
    'avg_over_time(temperature[2m] offset 1m) > bool 0',
    'topk(2, process_resident_memory_bytes) / on(job, instance) group_left up',
    'increase(http_requests_total[10m]) - ignoring(code) delta(temperature[10m])',
    'count(up) by (job) or vector(0)',
    'abs(-(1 + 2 * 3 ^ 2 % 5)) and scalar(sum(up))',
    'quantile_over_time(0.5, latency_seconds[5m])',
    'label_replace(up, "host", "$1", "instance", "(.*):.*")',
    'rate(http_requests_total[5m:1m])',
    # Near the limits (query/src/promql/limits.rs: 128 levels of nesting, 1,000 operators),
    # and over them; these also raise libFuzzer's input length limit to a few KiB.
    'abs(' * 127 + 'up' + ')' * 127,
    '1' + ' + up' * 999,
    '-(' * 129 + '1' + ')' * 129,
    'sum by (job) (' * 40 + 'rate(http_requests_total[5m])' + ')' * 40,
])

write("query_language", [
    'service:checkout level:>=warn "payment declined" | stats count() by host',
    'timeout OR "timed out"',
    'attributes.user.id:u-42 -trace_id:* _time:>now-15m',
    'service:/api-.*/ host:/h\\d+/ http.route:/\\/api\\/.*/',
    'status:[400 TO 599] duration_ms:{100 TO *] service:(api OR web OR /batch-.*/)',
    'tags:(urgent -archived) NOT level:debug error AND time*',
    '| stats count(), avg(duration_ms) as avg_ms, p99(duration_ms), count_distinct(user.id) '
    'by service, level | sort by count desc | limit 10',
    'level:error | timechart span=5m count() by service',
    'level:error | sort by duration_ms desc | fields _time, service, message | limit 5',
    'level:error | top 5 service',
    '_time:[2025-03-01T00:00:00Z TO now] foo\\ bar a\\:b \\-debug',
    'service:[* TO *] host:{a TO *} correlation_id:* | timechart span=1h p95(duration_ms) as p95',
    # Nesting at and over the limit (64 levels, query/src/lang/lexer.rs).
    '(' * 63 + 'error' + ')' * 63,
    '(' * 65 + 'error' + ')' * 65,
])

write("ndjson", [
    '{"ts":"2025-03-01T11:00:00Z","level":"info","service":"api","host":"h1","msg":"GET /checkout 200",'
    '"status":200,"duration_ms":12.5}\n'
    '{"timestamp":1740826800123456789,"severity":"ERROR","message":"payment refused","user":{"id":"u-42"},'
    '"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","request_id":"r-1"}\r\n'
    '\n{"time":"2025-03-01T11:59:59.5+01:00","level":"warn","msg":"x","tags":["a","b"],"ok":true,"none":null}\n',
    '[{"ts":1740826800,"msg":"seconds"},{"ts":"1740826800123","msg":"millis"},'
    '{"@timestamp":"2025-03-01T11:00:00.000Z","log.level":"warning","service.name":"web","message":"ecs"}]',
    '\ufeff{"level":30,"time":1740826800000,"msg":"pino","pid":1,"hostname":"h","correlation_id":"c-1",'
    '"x-request-id":"xr"}\n{"lvl":"fatal","body":"nested","a":{"b":{"c":{"d":[1,2,{"e":1.5e300}]}}}}',
    '{"msg": "bad ts", "ts": "yesterday"}\nnot json\n{"msg":"\\u00e9\\ud83d\\ude00 unicode \\n escapes"}\n',
])
def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def key(f, wt): return varint((f << 3) | wt)
def ld(f, payload):
    if isinstance(payload, str): payload = payload.encode()
    return key(f, 2) + varint(len(payload)) + payload
def vi(f, n): return key(f, 0) + varint(n)
def f64(f, n): return key(f, 1) + struct.pack("<Q", n)
def dbl(f, x): return key(f, 1) + struct.pack("<d", x)
def f32(f, n): return key(f, 5) + struct.pack("<I", n)

# AnyValue
def s(v): return ld(1, v)
def b(v): return vi(2, 1 if v else 0)
def i(v): return vi(3, v)
def d(v): return dbl(4, v)
def arr(*vals): return ld(5, b"".join(ld(1, v) for v in vals))
def kvl(*kvs): return ld(6, b"".join(ld(1, kv) for kv in kvs))
def byt(v): return ld(7, v)
def kv(k, v): return ld(1, k) + ld(2, v)

def record(t=None, obs=None, sev=None, sevtext=None, body=None, attrs=(), trace=None, span=None, flags=None, event=None):
    r = b""
    if t is not None: r += f64(1, t)
    if sev is not None: r += vi(2, sev)
    if sevtext is not None: r += ld(3, sevtext)
    if body is not None: r += ld(5, body)
    for a in attrs: r += ld(6, a)
    if flags is not None: r += f32(8, flags)
    if trace is not None: r += ld(9, trace)
    if span is not None: r += ld(10, span)
    if obs is not None: r += f64(11, obs)
    if event is not None: r += ld(12, event)
    return r

def resource_logs(res_attrs, scopes, schema=None):
    res = b"".join(ld(1, a) for a in res_attrs)
    out = ld(1, res)
    for scope, recs in scopes:
        sl = ld(1, scope) if scope is not None else b""
        for r in recs: sl += ld(2, r)
        out += ld(2, sl)
    if schema: out += ld(3, schema)
    return out

def request(*rls): return b"".join(ld(1, rl) for rl in rls)

T = 1740830402000000007
otlp = [
    request(resource_logs(
        [kv("service.name", s("api")), kv("host.name", s("h1")), kv("deployment.environment", s("prod"))],
        [(ld(1, "e2e") + ld(2, "1.0"), [
            record(t=T, obs=T + 992, sev=13, sevtext="WARN", body=s("cache miss"),
                   attrs=[kv("cache.key", s("k1")), kv("attempt", i(3)), kv("ratio", d(0.25)), kv("request_id", s("r-1"))],
                   trace=bytes.fromhex("5b8efff798038103d269b633813fc60c"), span=bytes.fromhex("eee19b7ec3c1b174"), flags=1),
            record(sev=9, body=kvl(kv("a", arr(s("x"), i(-1), b(True), d(float("nan")))), kv("b", byt(b"\x00\xff"))), event="ev"),
        ])], schema="https://opentelemetry.io/schemas/1.21.0")),
    request(resource_logs([], [(None, [record(t=0, body=s(""), trace=b"\x01\x02\x03")])]),
            resource_logs([kv("service.name", i(5))], [(None, [record(sev=99, sevtext="fatal", body=arr(arr(arr(s("deep")))))])])),
    request(resource_logs([kv("k", kvl(kv("n", kvl(kv("m", s("v"))))))],
            [(ld(3, kv("scope.attr", b(False))), [record(t=(1 << 64) - 1, obs=1, body=d(float("inf")), attrs=[kv("", s("empty key")), kv("x", b"")])])])),
]
os.makedirs("otlp_logs", exist_ok=True)
for n, body in enumerate(otlp):
    open(f"otlp_logs/{n:02d}.pb", "wb").write(body)
json_bodies = [
 {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "jsonsvc"}}, {"key": "host.name", "value": {"stringValue": "json-host"}}]},
   "scopeLogs": [{"scope": {"name": "e2e-json", "version": "1.0"}, "logRecords": [
     {"timeUnixNano": "1740830402000000007", "observedTimeUnixNano": "1740830402000000999", "severityNumber": 13, "severityText": "WARN",
      "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174", "body": {"stringValue": "cache miss jsonone"},
      "attributes": [{"key": "attempt", "value": {"intValue": "3"}}, {"key": "ratio", "value": {"doubleValue": 0.25}},
                     {"key": "list", "value": {"arrayValue": {"values": [{"boolValue": True}, {"bytesValue": "AAE="}]}}},
                     {"key": "obj", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": 1}}]}}}]},
     {"timeUnixNano": 1740830403000000000, "severityNumber": 9, "body": {"stringValue": "cache hit"}}]}]}]},
 {"resourceLogs": [{"scopeLogs": [{"logRecords": [{}]}]}]},
]
for n, body in enumerate(json_bodies):
    open(f"otlp_logs/{n + len(otlp):02d}.json", "w").write(json.dumps(body))

# Remote write.
def label(n, v): return ld(1, n) + ld(2, v)
def sample(v, ts): return dbl(1, v) + vi(2, ts)
def series(labels, samples, hist=False):
    out = b"".join(ld(1, label(n, v)) for n, v in labels) + b"".join(ld(2, sample(v, t)) for v, t in samples)
    if hist: out += ld(4, b"\x08\x01")
    return out
def meta(typ, name, help="", unit=""):
    return vi(1, typ) + ld(2, name) + (ld(4, help) if help else b"") + (ld(5, unit) if unit else b"")
STALE = struct.unpack("<d", struct.pack("<Q", 0x7ff0000000000002))[0]
ms = 1740830400000
rw = [
    ld(1, series([("__name__", "up"), ("job", "api"), ("instance", "a:9090")], [(1.0, ms), (0.0, ms + 15000)])) +
    ld(1, series([("__name__", "http_requests_total"), ("code", "200"), ("job", "api")], [(10.0, ms + 15000), (5.0, ms)])) +
    ld(1, series([("__name__", "rpc_duration_seconds_bucket"), ("le", "+Inf")], [(3.0, ms)])) +
    ld(3, meta(1, "http_requests_total", "Requests.", "")) + ld(3, meta(2, "up")),
    ld(1, series([("__name__", "x"), ("job", "")], [(STALE, ms), (float("nan"), -1)])) +
    ld(1, series([("__name__", "1bad"), ("a", "b"), ("a", "c")], [(1.0, ms)])) +
    ld(1, series([("job", "no-name")], [(1.0, ms)])) +
    ld(1, series([("__name__", "native")], [], hist=True)) +
    ld(1, series([("__name__", "up"), ("job", "api"), ("instance", "a:9090")], [(1.0, ms + 30000)])),
    ld(3, meta(3, "rpc_duration_seconds")) + ld(3, meta(42, "weird_type")) + ld(3, meta(5, "")),
]
def snappy_literal(raw):
    out = varint(len(raw))
    for k in range(0, len(raw), 60):
        chunk = raw[k:k + 60]
        out += bytes([(len(chunk) - 1) << 2]) + chunk
    return out
os.makedirs("remote_write", exist_ok=True)
for n, raw in enumerate(rw):
    open(f"remote_write/{n:02d}.snappy", "wb").write(snappy_literal(raw))
    open(f"remote_write/{n:02d}.pb", "wb").write(raw)

# Alertmanager API bodies.
am = [
 [{"labels": {"alertname": "HighLatency", "service": "api", "severity": "page"}, "annotations": {"summary": "p99 over 1s"},
   "startsAt": "2025-03-01T11:55:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=x"},
  {"labels": {"alertname": "Resolved"}, "startsAt": "2025-03-01T11:00:00.123456789+01:00", "endsAt": "2025-03-01T11:30:00Z"},
  {"labels": {"alertname": "OnlyEnd"}, "endsAt": "2025-03-01T12:30:00Z"}],
 [{"labels": {}}, {"labels": {"bad name": "x"}}, {"labels": {"a": ""}}, {"labels": {"a": "b"}, "startsAt": "yesterday"},
  {"labels": {"a": "b"}, "startsAt": "2025-03-01T12:00:00Z", "endsAt": "2025-03-01T11:00:00Z"}],
 {"matchers": [{"name": "alertname", "value": "HighLatency", "isRegex": False, "isEqual": True},
               {"name": "service", "value": "api|web", "isRegex": True}],
  "startsAt": "2025-03-01T11:00:00Z", "endsAt": "2025-03-01T14:00:00Z", "createdBy": "amtool", "comment": "deploy"},
 {"id": "", "matchers": [{"name": "instance", "value": "h.*", "isRegex": True, "isEqual": False}],
  "startsAt": "2025-03-02T00:00:00Z", "endsAt": "2025-03-03T00:00:00.5Z", "createdBy": "ci", "comment": "pending"},
]
os.makedirs("alertmanager_api", exist_ok=True)
for n, body in enumerate(am):
    open(f"alertmanager_api/{n:02d}.json", "w").write(json.dumps(body))
for n, text in enumerate(['{alertname="HighLatency", service=~"api|web", severity!="info", instance!~"h.*"}',
                          'alertname=Foo,job=~"x.+"']):
    open(f"alertmanager_api/{n + len(am):02d}.txt", "w").write(text)
