//! OTLP ingest: HTTP protobuf (both ports), HTTP JSON, gRPC with gzip, partial success.

use std::io::Write;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{json, Value};
use tonic::codec::CompressionEncoding;

use super::common::{client, one_hit, search, start_wide, wait_total, Server};

const WAIT: Duration = Duration::from_secs(20);
const BASE_NS: u64 = 1_740_830_400_000_000_000; // 2025-03-01T12:00:00Z

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Any {
    Any::StringValue(v.into())
}

/// Ids and times derived from `tag`, so several requests can go to one server.
fn trace_id(tag: u8, n: u8) -> Vec<u8> {
    (0..16)
        .map(|i| tag.wrapping_mul(16) ^ (i * 7 + n))
        .collect()
}

fn span_id(tag: u8, n: u8) -> Vec<u8> {
    (0..8).map(|i| tag ^ (i * 31 + n + 1)).collect()
}

fn record(tag: u8, n: u8, trace: Vec<u8>) -> LogRecord {
    LogRecord {
        time_unix_nano: BASE_NS + u64::from(tag) * 1_000_000_000 + u64::from(n) * 1_000 + 7,
        severity_number: if n == 0 { 17 } else { 9 },
        severity_text: if n == 0 {
            "ERROR".into()
        } else {
            "INFO".into()
        },
        body: Some(AnyValue {
            value: Some(s(&format!("otlp body tag{tag} rec{n}"))),
        }),
        attributes: vec![
            kv("http.status_code", Any::IntValue(400 + i64::from(n))),
            kv("order.id", s(&format!("o-{tag}-{n}"))),
            kv("retry", Any::BoolValue(n == 0)),
        ],
        trace_id: trace,
        span_id: span_id(tag, n),
        ..Default::default()
    }
}

fn request(tag: u8, service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(service)),
                    kv("host.name", s(&format!("node-{tag}"))),
                    kv("deployment.environment", s("prod")),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "e2e".into(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn two_records(tag: u8, service: &str) -> ExportLogsServiceRequest {
    request(
        tag,
        service,
        vec![
            record(tag, 0, trace_id(tag, 0)),
            record(tag, 1, trace_id(tag, 1)),
        ],
    )
}

/// Checks that both records of `two_records(tag, service)` are stored with every field.
async fn check_two_records(server: &Server, tag: u8, service: &str) {
    assert_eq!(
        wait_total(server, &format!("service:{service}"), 2, WAIT).await["total"],
        2
    );
    for n in 0..2u8 {
        let trace = hex::encode(trace_id(tag, n));
        let hit = one_hit(server, &format!("trace_id:{trace}")).await;
        assert_eq!(hit["trace_id"], trace, "{hit}");
        assert_eq!(hit["span_id"], hex::encode(span_id(tag, n)), "{hit}");
        // The original record is shown as OTLP/JSON: its resource, its scope and itself.
        let raw: Value =
            serde_json::from_str(hit["raw"].as_str().expect("raw text")).expect("raw is JSON");
        assert_eq!(
            raw["logRecord"]["traceId"],
            hex::encode(trace_id(tag, n)),
            "{raw}"
        );
        assert_eq!(
            raw["logRecord"]["spanId"],
            hex::encode(span_id(tag, n)),
            "{raw}"
        );
        assert_eq!(
            raw["resource"]["attributes"][0]["key"], "service.name",
            "{raw}"
        );
        assert_eq!(hit["service"], service, "{hit}");
        assert_eq!(hit["host"], format!("node-{tag}"), "{hit}");
        let ts = BASE_NS + u64::from(tag) * 1_000_000_000 + u64::from(n) * 1_000 + 7;
        assert_eq!(hit["timestamp_ns"], ts, "{hit}");
        assert_eq!(
            hit["message"],
            format!("otlp body tag{tag} rec{n}"),
            "{hit}"
        );
        let (level, number, text) = if n == 0 {
            ("error", 17, "ERROR")
        } else {
            ("info", 9, "INFO")
        };
        assert_eq!(hit["level"], level, "{hit}");
        assert_eq!(hit["severity_number"], number, "{hit}");
        assert_eq!(hit["severity_text"], text, "{hit}");
        assert_eq!(
            hit["resource"],
            json!({"service.name": service, "host.name": format!("node-{tag}"), "deployment.environment": "prod"}),
            "{hit}"
        );
        assert_eq!(
            hit["attributes"],
            json!({"http.status_code": 400 + i64::from(n), "order.id": format!("o-{tag}-{n}"), "retry": n == 0}),
            "{hit}"
        );
    }
    let hit = one_hit(
        server,
        &format!("trace_id:{}", hex::encode(trace_id(tag, 1))),
    )
    .await;
    assert_eq!(hit["span_id"], hex::encode(span_id(tag, 1)));
    let q = format!(
        "service:{service} AND host:\"node-{tag}\" AND resource.deployment.environment:prod"
    );
    assert_eq!(search(server, &q, 10).await["total"], 2);
    let q = format!("service:{service} AND attributes.http.status_code:400");
    assert_eq!(search(server, &q, 10).await["total"], 1);
}

async fn post_protobuf(url: &str, req: &ExportLogsServiceRequest) -> ExportLogsServiceResponse {
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
    ExportLogsServiceResponse::decode(&bytes[..]).expect("an ExportLogsServiceResponse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_protobuf_on_both_ports() {
    let server = start_wide();
    let reply = post_protobuf(
        &format!("{}/v1/logs", server.otlp_http),
        &two_records(1, "checkout"),
    )
    .await;
    assert_eq!(reply.partial_success, None);
    let reply = post_protobuf(
        &format!("{}/v1/logs", server.http),
        &two_records(2, "billing"),
    )
    .await;
    assert_eq!(reply.partial_success, None);

    // Exporters usually gzip.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&two_records(6, "gzipped").encode_to_vec())
        .expect("gzip");
    let resp = client()
        .post(format!("{}/v1/logs", server.otlp_http))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(e.finish().expect("gzip"))
        .send()
        .await
        .expect("OTLP request");
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("body");
    let reply = ExportLogsServiceResponse::decode(&bytes[..]).expect("response");
    assert_eq!(reply.partial_success, None);

    check_two_records(&server, 1, "checkout").await;
    check_two_records(&server, 2, "billing").await;
    check_two_records(&server, 6, "gzipped").await;
    assert_eq!(
        search(&server, "resource.deployment.environment:prod", 10).await["total"],
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_json_encoding() {
    let server = start_wide();
    // Written by hand as an OTLP/JSON exporter sends it: lowerCamelCase, hex ids, 64-bit
    // integers as strings, enums as numbers.
    let body = r#"{
      "resourceLogs": [{
        "resource": {"attributes": [
          {"key": "service.name", "value": {"stringValue": "jsonsvc"}},
          {"key": "host.name", "value": {"stringValue": "json-host"}},
          {"key": "deployment.environment", "value": {"stringValue": "staging"}}
        ]},
        "scopeLogs": [{
          "scope": {"name": "e2e-json", "version": "1.0"},
          "logRecords": [
            {
              "timeUnixNano": "1740830402000000007",
              "observedTimeUnixNano": "1740830402000000999",
              "severityNumber": 13,
              "severityText": "WARN",
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "eee19b7ec3c1b174",
              "body": {"stringValue": "cache miss jsonone"},
              "attributes": [
                {"key": "cache.key", "value": {"stringValue": "k1"}},
                {"key": "attempt", "value": {"intValue": "3"}},
                {"key": "ratio", "value": {"doubleValue": 0.25}},
                {"key": "request_id", "value": {"stringValue": "json-req-1"}}
              ]
            },
            {
              "timeUnixNano": "1740830403000000000",
              "severityNumber": 9,
              "severityText": "INFO",
              "traceId": "0af7651916cd43dd8448eb211c80319c",
              "spanId": "b7ad6b7169203331",
              "body": {"stringValue": "cache hit jsontwo"}
            }
          ]
        }]
      }]
    }"#;
    let resp = client()
        .post(format!("{}/v1/logs", server.otlp_http))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("OTLP/JSON request");
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.expect("JSON reply");
    assert!(
        reply.get("partialSuccess").is_none_or(Value::is_null),
        "{reply}"
    );

    let hit = one_hit(&server, "trace_id:5b8efff798038103d269b633813fc60c").await;
    assert_eq!(hit["span_id"], "eee19b7ec3c1b174");
    assert_eq!(hit["service"], "jsonsvc");
    assert_eq!(hit["host"], "json-host");
    assert_eq!(hit["timestamp_ns"], 1_740_830_402_000_000_007_i64);
    assert_eq!(hit["timestamp"], "2025-03-01T12:00:02.000000007Z");
    assert_eq!(hit["level"], "warn");
    assert_eq!(hit["severity_number"], 13);
    assert_eq!(hit["severity_text"], "WARN");
    assert_eq!(hit["message"], "cache miss jsonone");
    assert_eq!(hit["correlation_id"], "json-req-1");
    assert_eq!(
        hit["resource"],
        json!({"service.name": "jsonsvc", "host.name": "json-host", "deployment.environment": "staging"})
    );
    assert_eq!(
        hit["attributes"],
        json!({"cache.key": "k1", "attempt": 3, "ratio": 0.25, "request_id": "json-req-1"})
    );

    let hit = one_hit(&server, "trace_id:0af7651916cd43dd8448eb211c80319c").await;
    assert_eq!(hit["span_id"], "b7ad6b7169203331");
    assert_eq!(hit["message"], "cache hit jsontwo");
    assert_eq!(hit["timestamp_ns"], 1_740_830_403_000_000_000_i64);
    assert_eq!(hit["attributes"], json!({}));
    assert_eq!(
        search(&server, "resource.deployment.environment:staging", 10).await["total"],
        2
    );
    assert_eq!(
        search(&server, "attributes.cache.key:k1", 10).await["total"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_with_gzip() {
    let server = start_wide();
    let mut grpc = LogsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("gRPC connect")
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let reply = grpc
        .export(two_records(3, "grpcsvc"))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(reply.partial_success, None);
    check_two_records(&server, 3, "grpcsvc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_rejects_only_the_bad_record() {
    let server = start_wide();
    let records = vec![
        record(4, 0, trace_id(4, 0)),
        record(4, 1, vec![0xab, 0xcd, 0xef]),
        record(4, 2, trace_id(4, 2)),
    ];
    let reply = post_protobuf(
        &format!("{}/v1/logs", server.otlp_http),
        &request(4, "partial", records),
    )
    .await;
    let partial = reply.partial_success.expect("partial_success set");
    assert_eq!(partial.rejected_log_records, 1);
    assert_eq!(
        partial.error_message,
        "resource_logs[0].scope_logs[0].log_records[1]: trace_id must be 16 bytes, got 3"
    );

    // The same over gRPC.
    let mut grpc = LogsServiceClient::connect(server.otlp_grpc.clone())
        .await
        .expect("gRPC connect");
    let mut bad = record(5, 0, trace_id(5, 0));
    bad.span_id = vec![1, 2, 3, 4];
    let reply = grpc
        .export(request(
            5,
            "partial",
            vec![bad, record(5, 1, trace_id(5, 1))],
        ))
        .await
        .expect("export")
        .into_inner();
    let partial = reply.partial_success.expect("partial_success set");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("span_id"), "{partial:?}");

    let body = wait_total(&server, "service:partial", 3, WAIT).await;
    assert_eq!(body["total"], 3);
    let body = search(&server, "service:partial", 10).await;
    let traces: Vec<&str> = body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["trace_id"].as_str().expect("trace_id"))
        .collect();
    let want = [trace_id(5, 1), trace_id(4, 2), trace_id(4, 0)].map(hex::encode);
    assert_eq!(traces, want);
    assert_eq!(search(&server, "tag4 AND rec1", 10).await["total"], 0);
}
