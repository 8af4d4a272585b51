//! Metrics ingest against the real binary: Prometheus remote write (snappy protobuf), OTLP
//! metrics over HTTP (protobuf and JSON, both ports) and gRPC, and the OpenTelemetry Python
//! SDK's metric exporters. Until the metrics store lands, what is checked is the answers and
//! the `/metrics` counters of samples received and rejected per endpoint.

use std::process::Command;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use pharos_collector::ingest::metrics::remote_write::{
    self, Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest,
};
use prost::Message;
use serde_json::Value;
use tonic::codec::CompressionEncoding;

use super::common::{client, start, Server};

/// A fixed time for the whole test run, ten minutes ago on a minute boundary: recent enough
/// for the store's raw retention, old enough that nothing lands in the future.
pub(crate) fn t0_ms() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (now - 600_000) / 60_000 * 60_000
    })
}

fn t0_ns() -> u64 {
    t0_ms() as u64 * 1_000_000
}

/// The value of the sample line `name_and_labels VALUE` in Prometheus text (0 when absent).
fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name_and_labels)?.strip_prefix(' ')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0.0)
}

async fn metrics_text(server: &Server) -> String {
    let resp = client()
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
    resp.text().await.expect("metrics text")
}

fn received(text: &str, endpoint: &str) -> f64 {
    sample(
        text,
        &format!("pharos_metric_samples_received_total{{endpoint=\"{endpoint}\"}}"),
    )
}

fn rejected(text: &str, endpoint: &str, reason: &str) -> f64 {
    sample(
        text,
        &format!(
            "pharos_metric_samples_rejected_total{{endpoint=\"{endpoint}\",reason=\"{reason}\"}}"
        ),
    )
}

pub(crate) fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

/// POSTs a remote write body; returns the status and the body text.
pub(crate) async fn post_remote_write(
    server: &Server,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = client()
        .post(format!("{}/api/v1/write", server.http))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("remote write request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

pub(crate) const RW_HEADERS: &[(&str, &str)] = &[
    ("content-encoding", "snappy"),
    ("content-type", "application/x-protobuf"),
    ("x-prometheus-remote-write-version", "0.1.0"),
    ("user-agent", "pharos-e2e/1.0"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_with_snappy() {
    let server = start(&[]);
    // Metadata alone, as Prometheus sends it: accepted, nothing to store.
    let meta = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: "http_requests_total".into(),
            help: "Requests.".into(),
            unit: String::new(),
        }],
    };
    let (status, body) = post_remote_write(&server, remote_write::encode(&meta), RW_HEADERS).await;
    assert_eq!(status, 204, "{body}");

    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("instance", "a:9100"),
                    ("job", "api"),
                ],
                &[(t0_ms(), 1.0), (t0_ms() + 15_000, 3.0)],
            ),
            series(
                &[("__name__", "up"), ("instance", "a:9100"), ("job", "api")],
                &[(t0_ms(), 1.0), (t0_ms() + 15_000, stale)],
            ),
        ],
        metadata: vec![],
    };
    let (status, body) = post_remote_write(&server, remote_write::encode(&req), RW_HEADERS).await;
    assert_eq!(status, 204, "{body}");
    assert!(body.is_empty(), "{body}");
    let text = metrics_text(&server).await;
    assert_eq!(received(&text, "remote_write"), 4.0, "{text}");
    // Compressed by an independent (literal-only) snappy encoder.
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "hand_made")], &[(t0_ms(), 9.0)])],
        metadata: vec![],
    };
    let (status, body) =
        post_remote_write(&server, snap_block(&req.encode_to_vec()), RW_HEADERS).await;
    assert_eq!(status, 204, "{body}");

    // An invalid series is rejected by name with a 400 (the sender drops the request: the
    // valid series of it were stored).
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "http.requests"), ("job", "x")],
                &[(t0_ms(), 1.0)],
            ),
            series(
                &[("__name__", "ok_metric")],
                &[(t0_ms(), 2.0), (t0_ms() + 1, 3.0)],
            ),
        ],
        metadata: vec![],
    };
    let (status, body) = post_remote_write(&server, remote_write::encode(&req), RW_HEADERS).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#"http.requests{job="x"}"#), "{body}");
    assert!(
        body.contains("metric name `http.requests` is not valid"),
        "{body}"
    );
    assert!(
        body.contains("(2 samples of the other series were)"),
        "{body}"
    );
    let text = metrics_text(&server).await;
    assert_eq!(received(&text, "remote_write"), 8.0, "{text}");
    assert_eq!(rejected(&text, "remote_write", "invalid"), 1.0, "{text}");

    // Bodies that are not snappy, or not a WriteRequest: 400, named.
    let (status, body) = post_remote_write(&server, b"not snappy".to_vec(), RW_HEADERS).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("snappy"), "{body}");
    let body = snap_block(b"\x0a\xff\xff\xff\xff\x0f");
    let (status, text) = post_remote_write(&server, body, RW_HEADERS).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("prometheus.WriteRequest"), "{text}");

    // Snappy is required; Remote-Write 2.0 is not supported.
    let raw = req.encode_to_vec();
    let (status, body) =
        post_remote_write(&server, raw, &[("content-type", "application/x-protobuf")]).await;
    assert_eq!(status, 415, "{body}");
    assert!(body.contains("Content-Encoding: snappy"), "{body}");
    let (status, body) = post_remote_write(
        &server,
        remote_write::encode(&req),
        &[
            ("content-encoding", "snappy"),
            (
                "content-type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            ),
        ],
    )
    .await;
    assert_eq!(status, 415, "{body}");
    // Remote write is on the main port only.
    let resp = client()
        .post(format!("{}/api/v1/write", server.otlp_http))
        .header("content-encoding", "snappy")
        .body(remote_write::encode(&req))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 404);
}

/// Snappy block format written by hand (literals only): the varint length, then literal chunks
/// of up to 60 bytes, each behind its tag byte.
fn snap_block(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = raw.len() as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    for chunk in raw.chunks(60) {
        out.push(((chunk.len() - 1) as u8) << 2);
        out.extend_from_slice(chunk);
    }
    out
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn number(t_ns: u64, v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: t0_ns() - 60_000_000_000,
        time_unix_nano: t_ns,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

/// A gauge (1 sample), a cumulative counter (2 samples), a histogram with 2 bounds (3 buckets,
/// sum and count: 5 samples; no distribution: the series started before the server did, so
/// its first point is a baseline) and target_info (1): 9 samples; `bad` adds a point without a
/// time (rejected).
fn otlp_request(service: &str, bad: bool) -> ExportMetricsServiceRequest {
    let mut gauge_points = vec![number(t0_ns(), 0.5, vec![kv("state", "used")])];
    if bad {
        gauge_points.push(number(0, 1.0, vec![]));
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", service),
                    kv("service.instance.id", "i-1"),
                    kv("host.name", "h1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "system.memory.utilization".into(),
                        unit: "1".into(),
                        data: Some(Data::Gauge(Gauge {
                            data_points: gauge_points,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "http.server.requests".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![
                                number(t0_ns(), 10.0, vec![kv("http.route", "/a")]),
                                number(
                                    t0_ns() + 15_000_000_000,
                                    12.0,
                                    vec![kv("http.route", "/a")],
                                ),
                            ],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "http.server.request.duration".into(),
                        unit: "s".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                start_time_unix_nano: t0_ns() - 60_000_000_000,
                                time_unix_nano: t0_ns(),
                                count: 6,
                                sum: Some(1.5),
                                bucket_counts: vec![3, 2, 1],
                                explicit_bounds: vec![0.1, 0.5],
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post_otlp_protobuf(
    url: &str,
    req: &ExportMetricsServiceRequest,
) -> ExportMetricsServiceResponse {
    let resp = client()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .expect("OTLP request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let bytes = resp.bytes().await.expect("body");
    ExportMetricsServiceResponse::decode(&bytes[..]).expect("an ExportMetricsServiceResponse")
}

async fn post_otlp_json(url: &str, req: &ExportMetricsServiceRequest) -> Value {
    let body = serde_json::to_vec(req).expect("OTLP/JSON");
    let resp = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("OTLP request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("JSON answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_protobuf_and_json_on_both_ports() {
    let server = start(&[]);
    let reply = post_otlp_protobuf(
        &format!("{}/v1/metrics", server.otlp_http),
        &otlp_request("checkout", false),
    )
    .await;
    assert_eq!(reply.partial_success, None);
    let reply = post_otlp_protobuf(
        &format!("{}/v1/metrics", server.http),
        &otlp_request("billing", true),
    )
    .await;
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.contains("time_unix_nano is not set"),
        "{}",
        partial.error_message
    );
    let text = metrics_text(&server).await;
    // 9 samples each, and the rejected point of the second.
    assert_eq!(received(&text, "otlp_http"), 19.0, "{text}");
    assert_eq!(rejected(&text, "otlp_http", "invalid"), 1.0, "{text}");

    // OTLP/JSON, also on both ports; a JSON answer.
    let reply = post_otlp_json(
        &format!("{}/v1/metrics", server.http),
        &otlp_request("json-main", false),
    )
    .await;
    assert!(
        reply.get("partialSuccess").is_none_or(Value::is_null),
        "{reply}"
    );
    let reply = post_otlp_json(
        &format!("{}/v1/metrics", server.otlp_http),
        &otlp_request("json-otlp", true),
    )
    .await;
    assert_eq!(reply["partialSuccess"]["rejectedDataPoints"], 1, "{reply}");
    // A hand-written OTLP/JSON body, the way the spec shows it (64-bit integers as strings).
    let hand = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"curl"}}]},
        "scopeMetrics":[{"metrics":[{"name":"queue.depth","unit":"{item}","gauge":{"dataPoints":[
        {"timeUnixNano":"1740830400000000000","asInt":"7","attributes":[{"key":"queue","value":{"stringValue":"q1"}}]}]}}]}]}]}"#;
    let resp = client()
        .post(format!("{}/v1/metrics", server.otlp_http))
        .header("content-type", "application/json")
        .body(hand)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let text = metrics_text(&server).await;
    // 9 + 10 more, and the hand-written gauge (no target_info: only service.name).
    assert_eq!(
        received(&text, "otlp_http"),
        19.0 + 9.0 + 10.0 + 1.0,
        "{text}"
    );

    // Undecodable bodies: 400 with the reason in a google.rpc.Status.
    let resp = client()
        .post(format!("{}/v1/metrics", server.otlp_http))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let status: Value = resp.json().await.expect("status JSON");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid OTLP JSON"),
        "{status}"
    );
    let resp = client()
        .post(format!("{}/v1/metrics", server.http))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_with_gzip() {
    let server = start(&[]);
    let mut grpc = MetricsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("gRPC connect")
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let reply = grpc
        .export(otlp_request("grpc-svc", false))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(reply.partial_success, None);
    let reply = grpc
        .export(otlp_request("grpc-bad", true))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(
        reply.partial_success.map(|p| p.rejected_data_points),
        Some(1)
    );
    let text = metrics_text(&server).await;
    assert_eq!(received(&text, "otlp_grpc"), 19.0, "{text}");
    assert_eq!(rejected(&text, "otlp_grpc", "invalid"), 1.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_token_and_size_limit_guard_metrics_endpoints() {
    let server = start(&[
        ("PHAROS_AUTH__INGEST_TOKEN", "tok-9"),
        ("PHAROS_INGEST__MAX_BODY_BYTES", "100000"),
        ("PHAROS_INGEST__MAX_LINE_BYTES", "100000"),
    ]);
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(t0_ms(), 1.0)])],
        metadata: vec![],
    };
    let (status, _) = post_remote_write(&server, remote_write::encode(&req), RW_HEADERS).await;
    assert_eq!(status, 401);
    let mut with_token = RW_HEADERS.to_vec();
    with_token.push(("authorization", "Bearer tok-9"));
    let (status, body) = post_remote_write(&server, remote_write::encode(&req), &with_token).await;
    assert_eq!(status, 204, "{body}");

    // Over the limit once decompressed (the snappy header says so): 413.
    let big = WriteRequest {
        timeseries: (0..2_000)
            .map(|i| {
                series(
                    &[("__name__", "big_metric"), ("i", &format!("{i:08}"))],
                    &[(t0_ms(), 1.0)],
                )
            })
            .collect(),
        metadata: vec![],
    };
    let body = remote_write::encode(&big);
    assert!(body.len() < 100_000 && big.encoded_len() > 100_000);
    let (status, text) = post_remote_write(&server, body, &with_token).await;
    assert_eq!(status, 413, "{text}");

    let url = format!("{}/v1/metrics", server.otlp_http);
    let resp = client()
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(otlp_request("t", false).encode_to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let resp = client()
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("authorization", "Bearer tok-9")
        .body(otlp_request("t", false).encode_to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);

    let mut grpc = MetricsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("gRPC connect");
    let err = grpc
        .export(otlp_request("t", false))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(otlp_request("t", false));
    req.metadata_mut()
        .insert("authorization", "Bearer tok-9".parse().expect("metadata"));
    grpc.export(req).await.expect("export with the token");

    let text = metrics_text(&server).await;
    assert_eq!(received(&text, "remote_write"), 1.0, "{text}");
    assert_eq!(received(&text, "otlp_http"), 9.0, "{text}");
    assert_eq!(received(&text, "otlp_grpc"), 9.0, "{text}");
}

const PY_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/otlp_metrics_python.py"
);

fn python_metrics_sdk_available() -> bool {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk.metrics, opentelemetry.exporter.otlp.proto.http.metric_exporter, \
             opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
        ])
        .output();
    let ok = matches!(probe, Ok(ref out) if out.status.success());
    if !ok {
        let hint = "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the OpenTelemetry Python SDK is missing: {hint}"
        );
        eprintln!("skipping: the OpenTelemetry Python SDK is not installed ({hint})");
    }
    ok
}

fn run_python(protocol: &str, endpoint: &str, tag: &str, extra: &[&str]) -> Value {
    let out = Command::new("python3")
        .args([
            PY_SCRIPT,
            "--protocol",
            protocol,
            "--endpoint",
            endpoint,
            "--tag",
            tag,
        ])
        .args(extra)
        .output()
        .expect("run the Python client");
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "client summary JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_metrics_over_http_and_grpc() {
    if !python_metrics_sdk_available() {
        return;
    }
    let server = start(&[]);
    let runs: [(&str, &str, &str, &[&str], &str); 4] = [
        ("http", &server.otlp_http, "h1", &[], "otlp_http"),
        ("http", &server.http, "h2", &["--delta"], "otlp_http"),
        ("grpc", &server.otlp_grpc, "g1", &[], "otlp_grpc"),
        (
            "grpc",
            &server.otlp_grpc,
            "g2",
            &["--exponential"],
            "otlp_grpc",
        ),
    ];
    let mut points = std::collections::HashMap::new();
    for (protocol, endpoint, tag, extra, label) in runs {
        let before = received(&metrics_text(&server).await, label);
        let sent = run_python(protocol, endpoint, tag, extra);
        assert_eq!(sent["all_ok"], true, "{tag}: {sent}\n{}", server.log());
        assert!(sent["exports"].as_u64().unwrap_or(0) >= 2, "{sent}");
        let n = sent["data_points"].as_u64().unwrap_or(0);
        assert!(n >= 8, "{tag}: {sent}");
        let text = metrics_text(&server).await;
        // Every data point became at least one sample; none was rejected.
        let got = received(&text, label) - before;
        assert!(
            got >= n as f64,
            "{tag}: {got} samples for {n} points\n{text}"
        );
        // Even exponential histograms stay at a few dozen series per point (the classic
        // buckets use a coarse scale).
        assert!(
            got <= 40.0 * n as f64,
            "{tag}: {got} samples for {n} points"
        );
        for reason in ["invalid", "unsupported", "limit"] {
            assert_eq!(
                rejected(&text, label, reason),
                0.0,
                "{tag}: {reason}\n{text}"
            );
        }
        *points.entry(label).or_insert(0u64) += n;
    }
    assert!(points["otlp_http"] > 0 && points["otlp_grpc"] > 0);
}
