//! Service endpoints (`/health`, `/ready`, `/metrics`), request ids and bearer-token auth.

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::Value;

use super::common::{client, post_ndjson, start, wait_total, Server};

const WAIT: Duration = Duration::from_secs(20);

fn otlp_request(service: &str, bodies: &[&str]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Any::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .map(|b| LogRecord {
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(Any::StringValue((*b).into())),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_ready() {
    let server = start(&[]);
    let resp = client()
        .get(format!("{}/health", server.http))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.status(), 200);
    let resp = client()
        .get(format!("{}/ready", server.http))
        .send()
        .await
        .expect("ready");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("ready JSON");
    assert_eq!(body["status"], "ready", "{body}");
    for component in ["wal", "index", "disk"] {
        assert_eq!(
            body["components"][component]["ok"], true,
            "{component}: {body}"
        );
    }
    assert_eq!(
        body["components"]["index"]["indexer_failed"], false,
        "{body}"
    );
    assert!(
        body["components"]["disk"]["free_bytes"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{body}"
    );
}

/// The value of the sample line `name_and_labels VALUE` in Prometheus text.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name_and_labels)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

async fn metrics(server: &Server) -> String {
    let resp = client()
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    resp.text().await.expect("metrics text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_ingest_by_endpoint() {
    let server = start(&[]);
    let ndjson = "{\"msg\":\"m1\",\"service\":\"met\"}\n{\"msg\":\"m2\",\"service\":\"met\"}\n{\"msg\":\"m3\",\"service\":\"met\"}\n";
    let (status, reply) = post_ndjson(&server, ndjson).await;
    assert_eq!(status, 200, "{reply}");
    let resp = client()
        .post(format!("{}/v1/logs", server.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(otlp_request("met", &["o1", "o2"]).encode_to_vec())
        .send()
        .await
        .expect("OTLP");
    assert_eq!(resp.status(), 200);
    let mut grpc = LogsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("gRPC connect");
    grpc.export(otlp_request("met", &["g1"]))
        .await
        .expect("export");
    wait_total(&server, "service:met", 6, WAIT).await;

    let text = metrics(&server).await;
    let ingested = |endpoint: &str| {
        sample(
            &text,
            &format!("pharos_ingest_records_total{{endpoint=\"{endpoint}\"}}"),
        )
    };
    assert_eq!(ingested("ndjson"), Some(3.0), "{text}");
    assert_eq!(ingested("otlp_http"), Some(2.0), "{text}");
    assert_eq!(ingested("otlp_grpc"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "pharos_ingest_bytes_total{endpoint=\"ndjson\"}"),
        Some(ndjson.len() as f64),
        "{text}"
    );
    let fsyncs = sample(&text, "pharos_wal_fsync_seconds_count").expect("fsync histogram");
    assert!(fsyncs >= 1.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "pharos_ingest_rejected_records_total{endpoint=\"ndjson\"}"
        ),
        None,
        "{text}"
    );

    // One good and two bad lines.
    let mixed = "{\"msg\":\"m4\",\"service\":\"met\"}\nnot json\n[]\n";
    let (status, reply) = post_ndjson(&server, mixed).await;
    assert_eq!(status, 400, "{reply}");
    let text = metrics(&server).await;
    assert_eq!(
        sample(
            &text,
            "pharos_ingest_rejected_records_total{endpoint=\"ndjson\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "pharos_ingest_records_total{endpoint=\"ndjson\"}"),
        Some(4.0),
        "{text}"
    );
    assert!(sample(&text, "pharos_wal_fsync_seconds_count").expect("fsyncs") > fsyncs);

    // Once indexed: one partition (today), records counted, disk used reported.
    wait_total(
        &server,
        "service:met",
        4,
        std::time::Duration::from_secs(30),
    )
    .await;
    let text = metrics(&server).await;
    assert_eq!(
        sample(&text, "pharos_index_partitions"),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "pharos_index_records_total").unwrap_or(0.0) >= 4.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "pharos_index_backlog_records"),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(&text, "pharos_disk_used_bytes").unwrap_or(0.0) > 1000.0,
        "{text}"
    );
    assert!(
        sample(&text, "pharos_index_commit_seconds_count").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let server = start(&[]);
    let c = client();
    let requests = [
        c.get(format!("{}/health", server.http)),
        c.get(format!("{}/ready", server.http)),
        c.get(format!("{}/metrics", server.http)),
        c.get(format!("{}/api/v1/search?q=*", server.http)),
        c.get(format!("{}/api/v1/search?q=a:(", server.http)),
        c.get(format!("{}/no/such/path", server.http)),
        c.post(format!("{}/api/v1/logs", server.http))
            .body("{\"msg\":\"x\"}"),
        c.post(format!("{}/api/v1/logs", server.http))
            .body("garbage"),
        c.post(format!("{}/v1/logs", server.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(Vec::new()),
        c.post(format!("{}/v1/logs", server.otlp_http))
            .body("wrong type"),
    ];
    let mut seen = HashSet::new();
    for req in requests {
        let resp = req.send().await.expect("request");
        let id = resp
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {} {}", resp.url(), resp.status()))
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert!(seen.insert(id.clone()), "request id {id} repeated");
    }

    for base in [&server.http, &server.otlp_http] {
        let resp = c
            .post(format!("{base}/v1/logs"))
            .header("content-type", "application/x-protobuf")
            .header("x-request-id", "e2e-req-123")
            .body(otlp_request("rid", &["r"]).encode_to_vec())
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-request-id"], "e2e-req-123", "{base}");
    }
    let resp = c
        .get(format!("{}/health", server.http))
        .header("x-request-id", "client-chosen-7")
        .send()
        .await
        .expect("health");
    assert_eq!(resp.headers()["x-request-id"], "client-chosen-7");

    // Pharos's own log: one structured JSON line per request, carrying its request id.
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("client-chosen-7"))
        .unwrap_or_else(|| panic!("no log line with the request id:\n{log}"));
    let entry: Value = serde_json::from_str(line).expect("log lines are JSON");
    assert_eq!(entry["span"]["request_id"], "client-chosen-7", "{entry}");
    assert_eq!(entry["span"]["path"], "/health", "{entry}");
    assert_eq!(entry["status"], 200, "{entry}");
}

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.expect("request").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_guard_ingest_and_search() {
    let server = start(&[
        ("PHAROS_AUTH__INGEST_TOKEN", "s3cret"),
        ("PHAROS_AUTH__API_TOKEN", "r34d"),
    ]);
    let c = client();
    let ingest = || {
        c.post(format!("{}/api/v1/logs", server.http))
            .body("{\"msg\":\"authed\",\"service\":\"auth\"}")
    };
    assert_eq!(status_of(ingest()).await, 401);
    assert_eq!(status_of(ingest().bearer_auth("wrong")).await, 401);
    assert_eq!(status_of(ingest().bearer_auth("r34d")).await, 401);
    assert_eq!(
        status_of(ingest().header("authorization", "s3cret")).await,
        401
    );
    let resp = ingest().bearer_auth("s3cret").send().await.expect("ingest");
    assert_eq!(resp.status(), 200);

    let otlp = |base: &str| {
        c.post(format!("{base}/v1/logs"))
            .header("content-type", "application/x-protobuf")
            .body(otlp_request("auth", &["otlp authed"]).encode_to_vec())
    };
    for base in [&server.http, &server.otlp_http] {
        assert_eq!(status_of(otlp(base)).await, 401, "{base}");
        assert_eq!(
            status_of(otlp(base).bearer_auth("s3cret")).await,
            200,
            "{base}"
        );
    }

    let mut grpc = LogsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("gRPC connect");
    let err = grpc
        .export(otlp_request("auth", &["grpc"]))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    let mut req = tonic::Request::new(otlp_request("auth", &["grpc authed"]));
    req.metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().expect("metadata"));
    grpc.export(req).await.expect("export with token");

    let search = || {
        c.get(format!("{}/api/v1/search", server.http))
            .query(&[("q", "service:auth"), ("limit", "10")])
    };
    assert_eq!(status_of(search()).await, 401);
    assert_eq!(status_of(search().bearer_auth("s3cret")).await, 401);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let resp = search().bearer_auth("r34d").send().await.expect("search");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("JSON");
        if body["total"] == 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Liveness stays open for probes.
    assert_eq!(
        status_of(c.get(format!("{}/health", server.http))).await,
        200
    );

    let log = server.log();
    assert!(!log.is_empty());
    assert!(!log.contains("s3cret"), "ingest token in the log:\n{log}");
    assert!(!log.contains("r34d"), "API token in the log:\n{log}");
}

/// The value of an instant PromQL query's first series, once it has one.
async fn prom_value(server: &Server, q: &str) -> Option<f64> {
    let body: Value = client()
        .get(format!("{}/prometheus/api/v1/query", server.http))
        .query(&[("query", q)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pharos_writes_its_own_metrics_to_its_store_with_query_latency() {
    let server = start(&[("PHAROS_SERVER__SELF_METRICS_INTERVAL_SECS", "1")]);
    let (status, _) = post_ndjson(&server, "{\"message\":\"one\"}\n{\"message\":\"two\"}\n").await;
    assert_eq!(status, 200);
    wait_total(&server, "*", 2, WAIT).await;
    // The records ingested, as Pharos's own counter read back through PromQL.
    let q = r#"max(pharos_ingest_records_total{job="pharos",endpoint="ndjson"})"#;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if prom_value(&server, q).await == Some(2.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{q} never reached 2: {:?}",
            prom_value(&server, q).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // wait_total ran log queries; their latency is recorded by kind, and the PromQL queries
    // above are recorded too.
    for kind in ["logs", "promql"] {
        let q =
            format!(r#"max(pharos_query_duration_seconds_count{{job="pharos",kind="{kind}"}})"#);
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if prom_value(&server, &q).await.is_some_and(|v| v >= 1.0) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{q}: none");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let text = client()
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("# TYPE pharos_query_duration_seconds histogram"),
        "{text}"
    );
}
