//! Backpressure is an explicit 429 / RESOURCE_EXHAUSTED with Retry-After, and nothing of a
//! refused request is stored.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;

use super::common::{client, post_ndjson, search, start};

fn otlp_request() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    severity_text: "INFO".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_disk_answers_429_with_retry_after_on_every_endpoint() {
    // More free space than any disk has: the disk guard always trips.
    let server = start(&[("PHAROS_INGEST__MIN_FREE_DISK_BYTES", "18000000000000000000")]);
    let resp = client()
        .post(format!("{}/api/v1/logs", server.http))
        .header("content-type", "application/x-ndjson")
        .body("{\"msg\":\"refused\"}\n")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After");
    assert!(retry_after >= 1);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("min_free_disk_bytes"),
        "{body}"
    );

    let resp = client()
        .post(format!("{}/v1/logs", server.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(otlp_request().encode_to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));

    let mut grpc = LogsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("connect");
    let err = grpc
        .export(otlp_request())
        .await
        .expect_err("must be refused");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");

    // Nothing of the refused requests was stored, and the refusals are counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(search(&server, "*", 0).await["total"], 0);
    let metrics = client()
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("pharos_ingest_throttled_requests_total{endpoint=\"ndjson\"} 1"),
        "{text}"
    );
    let ready = client()
        .get(format!("{}/ready", server.http))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503, "low disk makes the server not ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_high_water_refuses_then_recovers() {
    // A high-water mark of one record and a slow commit: the second request in quick
    // succession sees the first one's records still waiting (or just taken) for indexing.
    let server = start(&[("PHAROS_INGEST__BACKLOG_HIGH_WATER_RECORDS", "1")]);
    let big: String = (0..20_000)
        .map(|i| format!("{{\"msg\":\"r{i}\"}}\n"))
        .collect();
    let mut saw_429 = false;
    let mut accepted = 0u64;
    for _ in 0..20 {
        let (status, body) = post_ndjson(&server, big.clone()).await;
        match status {
            200 => accepted += body["accepted"].as_u64().unwrap_or(0),
            429 => saw_429 = true,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        saw_429,
        "a backlog over the high-water mark must answer 429"
    );
    // Once the indexer catches up, ingest works again, and every accepted record is there.
    let mut recovered = false;
    for _ in 0..100 {
        let (status, body) = post_ndjson(&server, "{\"msg\":\"after\"}\n").await;
        if status == 200 {
            accepted += body["accepted"].as_u64().unwrap_or(0);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered);
    super::common::wait_total(&server, "*", accepted, Duration::from_secs(60)).await;
    assert_eq!(search(&server, "*", 0).await["total"], accepted);
}
