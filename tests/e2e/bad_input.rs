//! Bad input: each is a 4xx naming what was wrong, the good records of the same batch are
//! stored, and the server stays healthy.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use super::common::{client, post_ndjson, search, start, wait_total, Server};

const WAIT: Duration = Duration::from_secs(20);

/// `google.rpc.Status`, the body of an OTLP/HTTP error.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn good(service: &str, n: usize) -> String {
    format!(r#"{{"msg":"good line {n}","service":"{service}","request_id":"{service}-{n}"}}"#)
}

/// The server answers /health, and a fresh record goes in and comes back out.
async fn assert_healthy(server: &Server) {
    let resp = client()
        .get(format!("{}/health", server.http))
        .send()
        .await
        .expect("health request");
    assert_eq!(resp.status(), 200, "server log:\n{}", server.log());
    let (status, reply) = post_ndjson(server, good("after", 1)).await;
    assert_eq!(status, 200, "{reply}");
    let body = wait_total(server, "service:after", 1, WAIT).await;
    assert_eq!(body["total"], 1);
}

/// Correlation ids of the records stored for `service` (exactly `want` of them), sorted.
async fn stored_ids(server: &Server, service: &str, want: u64) -> Vec<String> {
    wait_total(server, &format!("service:{service}"), want, WAIT).await;
    let body = search(server, &format!("service:{service}"), 100).await;
    assert_eq!(body["total"], want, "{body}");
    let mut ids: Vec<String> = body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["correlation_id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn error_text(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_lines_are_rejected_by_line_number() {
    let server = start(&[]);
    let body = [
        good("mix", 1),
        "garbage line here".into(),
        String::new(),
        good("mix", 4),
        r#"{"msg": "#.into(),
        good("mix", 6),
        "[1,2]".into(),
        r#"{"msg":"bad time","ts":"not a time","service":"mix"}"#.into(),
    ]
    .join("\n");
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply,
        json!({
            "accepted": 3,
            "rejected": [
                {"line": 2, "reason": "not JSON: expected value at column 1"},
                {"line": 5, "reason": "not JSON: EOF while parsing a value at column 7"},
                {"line": 7, "reason": "expected a JSON object, found an array"},
                {"line": 8, "reason": "field \"ts\": cannot parse \"not a time\" as a timestamp (RFC 3339 or epoch s/ms/µs/ns)"},
            ]
        })
    );
    assert_eq!(
        stored_ids(&server, "mix", 3).await,
        ["mix-1", "mix-4", "mix-6"]
    );
    assert_healthy(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_gzip_is_a_400_naming_gzip() {
    let server = start(&[]);
    let lines: String = (1..=50).map(|n| good("gz", n) + "\n").collect();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(lines.as_bytes()).expect("gzip");
    let mut compressed = e.finish().expect("gzip");
    compressed.truncate(compressed.len() / 2);
    let resp = client()
        .post(format!("{}/api/v1/logs", server.http))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("JSON");
    assert!(
        error_text(&body).starts_with("invalid gzip body: "),
        "{body}"
    );
    assert_healthy(&server).await;
    // Nothing of the corrupt body was stored.
    assert_eq!(search(&server, "service:gz", 10).await["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_line_is_rejected_alone_and_an_overlarge_body_is_413() {
    let server = start(&[
        ("PHAROS_INGEST__MAX_LINE_BYTES", "1024"),
        ("PHAROS_INGEST__MAX_BODY_BYTES", "16384"),
    ]);
    let long = format!(r#"{{"service":"long","msg":"{}"}}"#, "x".repeat(4973));
    assert_eq!(long.len(), 5000);
    let body = [good("long", 1), long, good("long", 3)].join("\n") + "\n";
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply,
        json!({"accepted": 2, "rejected": [{"line": 2, "reason": "line is 5000 bytes, over the 1024-byte limit"}]})
    );
    assert_eq!(stored_ids(&server, "long", 2).await, ["long-1", "long-3"]);

    // Over max_body_bytes: as sent, and once decompressed.
    let big: String = (0..400).map(|n| good("big", n) + "\n").collect();
    assert!(big.len() > 16384);
    let (status, reply) = post_ndjson(&server, big.clone()).await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(
        error_text(&reply),
        "request body is over the 16384-byte limit"
    );
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(big.as_bytes()).expect("gzip");
    let compressed = e.finish().expect("gzip");
    assert!(compressed.len() < 16384);
    let resp = client()
        .post(format!("{}/api/v1/logs", server.http))
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        error_text(&body),
        "request body is over the 16384-byte limit once decompressed"
    );
    assert_healthy(&server).await;
    assert_eq!(search(&server, "service:big", 10).await["total"], 0);
}

async fn post_typed(url: String, content_type: &str, body: &'static str) -> (u16, Value) {
    let resp = client()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON error body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415_naming_it() {
    let server = start(&[]);
    let (status, body) = post_typed(
        format!("{}/api/v1/logs", server.http),
        "application/xml",
        "<log>hi</log>",
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert!(error_text(&body).contains("\"application/xml\""), "{body}");
    for base in [&server.http, &server.otlp_http] {
        let (status, body) = post_typed(format!("{base}/v1/logs"), "text/plain", "hello").await;
        assert_eq!(status, 415, "{base}: {body}");
        assert!(error_text(&body).contains("\"text/plain\""), "{body}");
    }
    assert_healthy(&server).await;
    assert_eq!(search(&server, "*", 10).await["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_rejects_only_its_line() {
    let server = start(&[]);
    let mut body = Vec::new();
    body.extend_from_slice(good("utf", 1).as_bytes());
    body.extend_from_slice(b"\n{\"msg\":\"bad \xff byte\",\"service\":\"utf\"}\n");
    body.extend_from_slice(good("utf", 3).as_bytes());
    body.extend_from_slice(
        "\n{\"msg\":\"héllo wörld\",\"service\":\"utf\",\"request_id\":\"utf-4\"}\n".as_bytes(),
    );
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply,
        json!({"accepted": 3, "rejected": [{"line": 2, "reason": "invalid UTF-8 at byte 13 of the line"}]})
    );
    assert_eq!(
        stored_ids(&server, "utf", 3).await,
        ["utf-1", "utf-3", "utf-4"]
    );
    let hit = &search(&server, "correlation_id:\"utf-4\"", 1).await["hits"][0];
    assert_eq!(hit["message"], "héllo wörld");
    assert_healthy(&server).await;
}

fn deep(depth: usize) -> String {
    format!(
        r#"{{"msg":"deep","service":"deep","nest":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_10000_deep_is_rejected_cleanly() {
    let server = start(&[]);
    let body = [good("deep", 1), deep(10_000), good("deep", 3)].join("\n");
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["accepted"], 2, "{reply}");
    let rejected = reply["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1, "{reply}");
    assert_eq!(rejected[0]["line"], 2);
    let reason = rejected[0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("nested deeper than 127 levels"),
        "{reason}"
    );
    assert_eq!(stored_ids(&server, "deep", 2).await, ["deep-1", "deep-3"]);

    // The same element inside a JSON array body: rejected on its own.
    let body = format!(
        "[{},{},{}]",
        good("arrdeep", 1),
        deep(10_000),
        good("arrdeep", 3)
    );
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["accepted"], 2, "{reply}");
    assert_eq!(reply["rejected"][0]["line"], 2, "{reply}");
    let reason = reply["rejected"][0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("element 2: nested deeper than 127 levels"),
        "{reason}"
    );
    assert_eq!(
        stored_ids(&server, "arrdeep", 2).await,
        ["arrdeep-1", "arrdeep-3"]
    );
    assert_healthy(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_protobuf_is_a_400() {
    let server = start(&[]);
    for base in [&server.otlp_http, &server.http] {
        let resp = client()
            .post(format!("{base}/v1/logs"))
            .header("content-type", "application/x-protobuf")
            .body(&b"\x0f\xde\xad\xbe\xef this is not protobuf"[..])
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 400, "{base}");
        let bytes = resp.bytes().await.expect("body");
        let status =
            <RpcStatus as prost::Message>::decode(&bytes[..]).expect("a google.rpc.Status");
        assert_eq!(status.code, 3, "INVALID_ARGUMENT: {status:?}");
        assert!(
            status.message.starts_with("invalid OTLP protobuf: "),
            "{status:?}"
        );
    }
    // Garbage OTLP/JSON too.
    let (status, body) = post_typed(
        format!("{}/v1/logs", server.otlp_http),
        "application/json",
        r#"{"resourceLogs": 5}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert!(
        error_text_otlp(&body).starts_with("invalid OTLP JSON: "),
        "{body}"
    );
    assert_healthy(&server).await;
}

fn error_text_otlp(body: &Value) -> &str {
    body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_already_past_retention_are_rejected_not_silently_dropped() {
    let server = start(&[
        ("PHAROS_RETENTION__DAYS", "1"),
        ("PHAROS_RETENTION__KEEP_ERRORS_DAYS", "3"),
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let day = 86_400;
    let body = format!(
        "{{\"ts\":{},\"level\":\"info\",\"service\":\"ret\",\"msg\":\"too old\"}}\n\
         {{\"ts\":{},\"level\":\"error\",\"service\":\"ret\",\"msg\":\"old error kept\"}}\n\
         {{\"ts\":{},\"level\":\"info\",\"service\":\"ret\",\"msg\":\"fresh\"}}\n",
        now - 5 * day,
        now - 2 * day,
        now
    );
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["accepted"], 2, "{reply}");
    let rejected = reply["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1, "{reply}");
    assert_eq!(rejected[0]["line"], 1);
    let reason = rejected[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("older than retention") && reason.contains("retention.days = 1"),
        "{reason}"
    );
    wait_total(
        &server,
        "service:ret",
        2,
        std::time::Duration::from_secs(30),
    )
    .await;
    assert_eq!(search(&server, "service:ret", 0).await["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_too_far_in_the_future_are_rejected() {
    let server = start(&[("PHAROS_INGEST__MAX_FUTURE_SECS", "3600")]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let body = format!(
        "{{\"ts\":{},\"service\":\"fut\",\"msg\":\"fine, a minute ahead\"}}\n\
         {{\"ts\":{},\"service\":\"fut\",\"msg\":\"a broken clock\"}}\n\
         {{\"ts\":\"2200-01-01T00:00:00Z\",\"service\":\"fut\",\"msg\":\"far future\"}}\n",
        now + 60,
        now + 2 * 3600
    );
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["accepted"], 1, "{reply}");
    let rejected = reply["rejected"].as_array().expect("rejected");
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["line"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        [2, 3],
        "{reply}"
    );
    let reason = rejected[1]["reason"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        "timestamp 2200-01-01T00:00:00Z is more than 3600 s in the future (ingest.max_future_secs)"
    );
    wait_total(&server, "service:fut", 1, Duration::from_secs(30)).await;
    assert_eq!(search(&server, "service:fut", 0).await["total"], 1);
    // No partition was created for the year 2200.
    let names: Vec<String> = std::fs::read_dir(server.data_dir.join("index"))
        .expect("index dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("2200")), "{names:?}");
}
