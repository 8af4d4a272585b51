//! Repeated crashes under mixed load: NDJSON over HTTP and OTLP over gRPC write at once, the
//! server is SIGKILLed three times mid-load, and in the end every acknowledged record of every
//! client is searchable exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::common::{client, search, start, wait_total, Server};

type Acked = Arc<Mutex<Vec<String>>>;

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn otlp_batch(rids: &[String]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "cycles")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: rids
                    .iter()
                    .map(|rid| LogRecord {
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(Any::StringValue("crash cycle probe".into())),
                        }),
                        attributes: vec![kv("rid", rid)],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Sends batches until the server stops answering; records what was acknowledged.
fn spawn_clients(server: &Server, cycle: usize, acked: &Acked) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for c in 0..2 {
        let (acked, url) = (acked.clone(), format!("{}/api/v1/logs", server.http));
        tasks.push(tokio::spawn(async move {
            let http = client();
            for b in 0.. {
                let rids: Vec<String> = (0..25).map(|i| format!("n{cycle}-{c}-{b}-{i}")).collect();
                let body: String = rids
                    .iter()
                    .map(|r| format!("{{\"service\":\"cycles\",\"msg\":\"crash cycle probe\",\"rid\":\"{r}\"}}\n"))
                    .collect();
                match http.post(&url).header("content-type", "application/x-ndjson").body(body).send().await {
                    Ok(r) if r.status() == 200 => acked.lock().expect("lock").extend(rids),
                    _ => return,
                }
            }
        }));
    }
    for c in 0..2 {
        let (acked, endpoint) = (acked.clone(), server.otlp_grpc.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut grpc) = LogsServiceClient::connect(endpoint).await else {
                return;
            };
            for b in 0.. {
                let rids: Vec<String> = (0..25).map(|i| format!("g{cycle}-{c}-{b}-{i}")).collect();
                match grpc.export(otlp_batch(&rids)).await {
                    Ok(r) if r.get_ref().partial_success.is_none() => {
                        acked.lock().expect("lock").extend(rids)
                    }
                    _ => return,
                }
            }
        }));
    }
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_crashes_under_http_and_grpc_load_lose_and_duplicate_nothing() {
    let mut server = start(&[("PHAROS_INDEX__COMMIT_INTERVAL_MS", "300")]);
    let acked: Acked = Arc::new(Mutex::new(Vec::new()));
    for cycle in 0..3 {
        let before = acked.lock().expect("lock").len();
        let tasks = spawn_clients(&server, cycle, &acked);
        for _ in 0..1000 {
            if acked.lock().expect("lock").len() >= before + 1_200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill9().expect("kill -9");
        for t in tasks {
            t.await.expect("client task");
        }
        server.restart().expect("restart");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 3 * 1_200 && acked.len() < 9_000,
        "{} acknowledged",
        acked.len()
    );
    wait_total(
        &server,
        "service:cycles",
        acked.len() as u64,
        Duration::from_secs(60),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let body = search(&server, "service:cycles", 10_000).await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for hit in body["hits"].as_array().expect("hits") {
        if let Some(rid) = hit["attributes"]["rid"].as_str() {
            *counts.entry(rid).or_insert(0) += 1;
        }
    }
    for rid in &acked {
        assert_eq!(
            counts.get(rid.as_str()).copied().unwrap_or(0),
            1,
            "acknowledged {rid}"
        );
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "a record was indexed twice"
    );
}
