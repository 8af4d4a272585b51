//! `POST /api/v1/logs`: every alias family normalised exactly, JSON arrays, compressed bodies,
//! and the search API over what was stored (fields, ordering, limit, time range).

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use super::common::{client, one_hit, post_ndjson, search, start, start_wide, wait_total, Server};

const WAIT: Duration = Duration::from_secs(20);

async fn search_with(server: &Server, params: &[(&str, &str)]) -> Value {
    let resp = client()
        .get(format!("{}/api/v1/search", server.http))
        .query(params)
        .send()
        .await
        .expect("search request");
    let status = resp.status();
    let body: Value = resp.json().await.expect("search JSON");
    assert_eq!(status, 200, "search {params:?}: {body}");
    body
}

fn correlation_ids(body: &Value) -> Vec<&str> {
    body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["correlation_id"].as_str().expect("correlation_id"))
        .collect()
}

struct Expected {
    line: &'static str,
    ts_ns: i64,
    level: &'static str,
    severity_number: u64,
    severity_text: &'static str,
    service: &'static str,
    message: &'static str,
    correlation_id: &'static str,
    attributes: Value,
}

fn alias_lines() -> Vec<Expected> {
    vec![
        Expected {
            line: r#"{"ts":"2024-05-01T10:00:00.123456789Z","level":"ERROR","msg":"alias one","service":"svc-a","correlation_id":"corr-1","user":{"id":42,"name":"ann"},"extra":"x1"}"#,
            ts_ns: 1_714_557_600_123_456_789,
            level: "error",
            severity_number: 17,
            severity_text: "ERROR",
            service: "svc-a",
            message: "alias one",
            correlation_id: "corr-1",
            attributes: json!({"user": {"id": 42, "name": "ann"}, "extra": "x1"}),
        },
        Expected {
            line: r#"{"timestamp":1714557601,"severity":"warn","message":"alias two","service.name":"svc-b","request_id":"corr-2","unknown_key":"u2","count":7}"#,
            ts_ns: 1_714_557_601_000_000_000,
            level: "warn",
            severity_number: 13,
            severity_text: "warn",
            service: "svc-b",
            message: "alias two",
            correlation_id: "corr-2",
            attributes: json!({"unknown_key": "u2", "count": 7}),
        },
        Expected {
            line: r#"{"time":1714557602500,"lvl":"info","body":"alias three","app":"svc-c","x-request-id":"corr-3"}"#,
            ts_ns: 1_714_557_602_500_000_000,
            level: "info",
            severity_number: 9,
            severity_text: "info",
            service: "svc-c",
            message: "alias three",
            correlation_id: "corr-3",
            attributes: json!({}),
        },
        Expected {
            line: r#"{"@timestamp":1714557603250000,"levelname":"DEBUG","log":"alias four","service":"svc-d","requestId":"corr-4"}"#,
            ts_ns: 1_714_557_603_250_000_000,
            level: "debug",
            severity_number: 5,
            severity_text: "DEBUG",
            service: "svc-d",
            message: "alias four",
            correlation_id: "corr-4",
            attributes: json!({}),
        },
        Expected {
            line: r#"{"ts":1714557604000000001,"level":"fatal","msg":"alias five","service":"svc-e","correlation_id":"corr-5"}"#,
            ts_ns: 1_714_557_604_000_000_001,
            level: "fatal",
            severity_number: 21,
            severity_text: "fatal",
            service: "svc-e",
            message: "alias five",
            correlation_id: "corr-5",
            attributes: json!({}),
        },
        Expected {
            line: r#"{"time":"2024-05-01T12:00:05.5+02:00","level":50,"message":"alias six","service.name":"svc-f","request_id":"corr-6"}"#,
            ts_ns: 1_714_557_605_500_000_000,
            level: "error",
            severity_number: 17,
            severity_text: "50",
            service: "svc-f",
            message: "alias six",
            correlation_id: "corr-6",
            attributes: json!({}),
        },
        Expected {
            line: r#"{"timestamp":"1714557606.25","severity":"TRACE","body":"alias seven","service":{"name":"svc-g"},"requestId":"corr-7","msg_count":3}"#,
            ts_ns: 1_714_557_606_250_000_000,
            level: "trace",
            severity_number: 1,
            severity_text: "TRACE",
            service: "svc-g",
            message: "alias seven",
            correlation_id: "corr-7",
            attributes: json!({"msg_count": 3}),
        },
    ]
}

fn check_hit(hit: &Value, e: &Expected) {
    let ctx = e.line;
    assert_eq!(hit["timestamp_ns"], e.ts_ns, "{ctx}: {hit}");
    assert_eq!(hit["level"], e.level, "{ctx}: {hit}");
    assert_eq!(hit["severity_number"], e.severity_number, "{ctx}: {hit}");
    assert_eq!(hit["severity_text"], e.severity_text, "{ctx}: {hit}");
    assert_eq!(hit["service"], e.service, "{ctx}: {hit}");
    assert_eq!(hit["message"], e.message, "{ctx}: {hit}");
    assert_eq!(hit["correlation_id"], e.correlation_id, "{ctx}: {hit}");
    assert_eq!(hit["attributes"], e.attributes, "{ctx}: {hit}");
    assert_eq!(hit["raw"], e.line, "{ctx}: {hit}");
    assert_eq!(hit["trace_id"], "", "{ctx}: {hit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_alias_families_are_normalised_exactly() {
    let server = start_wide();
    let expected = alias_lines();
    // CRLF line endings and a blank line are part of NDJSON as clients send it.
    let body = expected
        .iter()
        .map(|e| e.line)
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\n\n";
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({"accepted": 7, "rejected": []}));

    wait_total(&server, "*", 7, WAIT).await;
    for e in &expected {
        let hit = one_hit(&server, &format!("correlation_id:\"{}\"", e.correlation_id)).await;
        check_hit(&hit, e);
    }
    let first = one_hit(&server, "correlation_id:\"corr-1\"").await;
    assert_eq!(first["timestamp"], "2024-05-01T10:00:00.123456789Z");
    let sixth = one_hit(&server, "correlation_id:\"corr-6\"").await;
    assert_eq!(sixth["timestamp"], "2024-05-01T10:00:05.5Z");

    // Nested attributes and unknown keys are searchable by path.
    let hit = one_hit(&server, "attributes.user.id:42").await;
    assert_eq!(hit["correlation_id"], "corr-1");
    let hit = one_hit(&server, "attributes.user.name:ann").await;
    assert_eq!(hit["correlation_id"], "corr-1");
    let hit = one_hit(&server, "attributes.unknown_key:u2").await;
    assert_eq!(hit["correlation_id"], "corr-2");
    // The message is full text; the service a keyword.
    let hit = one_hit(&server, "seven").await;
    assert_eq!(hit["service"], "svc-g");
    let hit = one_hit(&server, "service:svc-c").await;
    assert_eq!(hit["message"], "alias three");
    assert_eq!(search(&server, "service:svc", 10).await["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_array_body_stores_each_element() {
    let server = start_wide();
    let first = r#"{"ts": "2024-05-01T11:00:00Z", "level": "info", "msg": "array one", "service": "arr", "request_id": "arr-1"}"#;
    let second = r#"{
      "ts": 1714561201, "level": "error", "msg": "array two",
      "service": "arr", "request_id": "arr-2", "k": {"v": true}
    }"#;
    let body = format!("[\n  {first},\n  {second}\n]\n");
    let resp = client()
        .post(format!("{}/api/v1/logs", server.http))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("ingest");
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.expect("reply JSON");
    assert_eq!(reply, json!({"accepted": 2, "rejected": []}));

    let body = wait_total(&server, "service:arr", 2, WAIT).await;
    assert_eq!(body["total"], 2);
    let body = search(&server, "service:arr", 10).await;
    assert_eq!(correlation_ids(&body), ["arr-2", "arr-1"]);
    let hits = body["hits"].as_array().expect("hits");
    assert_eq!(hits[0]["raw"], second);
    assert_eq!(hits[0]["timestamp_ns"], 1_714_561_201_000_000_000_i64);
    assert_eq!(hits[0]["level"], "error");
    assert_eq!(hits[0]["attributes"], json!({"k": {"v": true}}));
    assert_eq!(hits[1]["raw"], first);
    assert_eq!(hits[1]["timestamp_ns"], 1_714_561_200_000_000_000_i64);
    assert_eq!(hits[1]["message"], "array one");
    assert_eq!(hits[1]["level"], "info");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

async fn post_encoded(server: &Server, encoding: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/api/v1/logs", server.http))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", encoding)
        .body(body)
        .send()
        .await
        .expect("ingest");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("reply JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_zstd_bodies_are_accepted() {
    let server = start(&[]);
    let gz_lines = "{\"msg\":\"gzipped first\",\"service\":\"gz\",\"request_id\":\"gz-1\"}\n\
                    {\"msg\":\"gzipped second\",\"service\":\"gz\",\"request_id\":\"gz-2\"}\n";
    let (status, reply) = post_encoded(&server, "gzip", gzip(gz_lines.as_bytes())).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({"accepted": 2, "rejected": []}));

    let zs_lines = "{\"msg\":\"zstd first\",\"service\":\"zs\",\"request_id\":\"zs-1\"}\n\
                    {\"msg\":\"zstd second\",\"service\":\"zs\",\"request_id\":\"zs-2\"}\n\
                    {\"msg\":\"zstd third\",\"service\":\"zs\",\"request_id\":\"zs-3\"}\n";
    let compressed = zstd::encode_all(zs_lines.as_bytes(), 3).expect("zstd");
    let (status, reply) = post_encoded(&server, "zstd", compressed).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({"accepted": 3, "rejected": []}));

    assert_eq!(wait_total(&server, "service:gz", 2, WAIT).await["total"], 2);
    assert_eq!(wait_total(&server, "service:zs", 3, WAIT).await["total"], 3);
    let hit = one_hit(&server, "gzipped AND second").await;
    assert_eq!(hit["correlation_id"], "gz-2");
    assert_eq!(
        hit["raw"],
        r#"{"msg":"gzipped second","service":"gz","request_id":"gz-2"}"#
    );
    let hit = one_hit(&server, "zstd AND third").await;
    assert_eq!(hit["correlation_id"], "zs-3");
}

const BASE_S: i64 = 1_740_830_400; // 2025-03-01T12:00:00Z
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Ten records a minute apart: even = api, odd = web; every third is an ERROR; q-4 has a trace.
async fn ingest_query_set(server: &Server) {
    let mut body = String::new();
    for i in 0..10i64 {
        let mut rec = json!({
            "ts": BASE_S + i * 60,
            "level": if i % 3 == 0 { "ERROR" } else { "info" },
            "msg": format!("query record number{i}"),
            "service": if i % 2 == 0 { "api" } else { "web" },
            "request_id": format!("q-{i}"),
            "http": {"status": 500 + i},
        });
        if i == 4 {
            rec["trace_id"] = json!(TRACE.to_uppercase());
            rec["span_id"] = json!("00F067AA0BA902B7");
        }
        body.push_str(&rec.to_string());
        body.push('\n');
    }
    let (status, reply) = post_ndjson(server, body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 10);
    wait_total(server, "*", 10, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_fields_with_exact_totals_newest_first() {
    let server = start_wide();
    ingest_query_set(&server).await;

    let body = search(&server, "service:api AND level:ERROR", 100).await;
    assert_eq!(body["total"], 2, "{body}");
    assert_eq!(correlation_ids(&body), ["q-6", "q-0"]);
    let body = search(&server, "service:api AND level:error", 100).await;
    assert_eq!(body["total"], 2, "{body}");
    let body = search(&server, "level:ERROR", 100).await;
    assert_eq!(correlation_ids(&body), ["q-9", "q-6", "q-3", "q-0"]);
    assert_eq!(body["hits"][0]["severity_number"], 17);

    let hit = one_hit(&server, &format!("trace_id:{TRACE}")).await;
    assert_eq!(hit["correlation_id"], "q-4");
    assert_eq!(hit["trace_id"], TRACE);
    assert_eq!(hit["span_id"], "00f067aa0ba902b7");
    // span_id is not indexed (unique per record; found through its trace), only returned.
    let err = client()
        .get(format!("{}/api/v1/search", server.http))
        .query(&[("q", "span_id:00f067aa0ba902b7")])
        .send()
        .await
        .expect("search");
    assert_eq!(err.status(), 400);

    let hit = one_hit(&server, "correlation_id:\"q-7\"").await;
    assert_eq!(hit["message"], "query record number7");
    assert_eq!(hit["service"], "web");
    assert_eq!(hit["timestamp_ns"], (BASE_S + 7 * 60) * 1_000_000_000);
    assert_eq!(hit["timestamp"], "2025-03-01T12:07:00Z");

    let hit = one_hit(&server, "attributes.http.status:505").await;
    assert_eq!(hit["correlation_id"], "q-5");
    assert_eq!(hit["attributes"], json!({"http": {"status": 505}}));

    let body = search(&server, "service:api", 100).await;
    assert_eq!(body["total"], 5);
    assert_eq!(correlation_ids(&body), ["q-8", "q-6", "q-4", "q-2", "q-0"]);
    let body = search(&server, "*", 100).await;
    let ts: Vec<i64> = body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["timestamp_ns"].as_i64().expect("timestamp_ns"))
        .collect();
    let want: Vec<i64> = (0..10)
        .rev()
        .map(|i| (BASE_S + i * 60) * 1_000_000_000)
        .collect();
    assert_eq!(ts, want);
    assert_eq!(search(&server, "service:nothere", 100).await["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_limit_and_time_range() {
    let server = start_wide();
    ingest_query_set(&server).await;

    let body = search(&server, "*", 3).await;
    assert_eq!(body["total"], 10, "{body}");
    assert_eq!(correlation_ids(&body), ["q-9", "q-8", "q-7"]);
    let body = search(&server, "*", 0).await;
    assert_eq!(body["total"], 10);
    assert_eq!(body["hits"], json!([]));

    // RFC 3339: start inclusive, end exclusive.
    let body = search_with(
        &server,
        &[
            ("q", "*"),
            ("start", "2025-03-01T12:02:00Z"),
            ("end", "2025-03-01T12:05:00Z"),
        ],
    )
    .await;
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!(correlation_ids(&body), ["q-4", "q-3", "q-2"]);
    // RFC 3339 with an offset.
    let body = search_with(
        &server,
        &[
            ("q", "*"),
            ("start", "2025-03-01T13:08:00+01:00"),
            ("limit", "100"),
        ],
    )
    .await;
    assert_eq!(correlation_ids(&body), ["q-9", "q-8"]);
    // Epoch seconds and milliseconds.
    let (start_s, end_ms) = (
        (BASE_S + 300).to_string(),
        ((BASE_S + 480) * 1000).to_string(),
    );
    let body = search_with(
        &server,
        &[("q", "*"), ("start", &start_s), ("end", &end_ms)],
    )
    .await;
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!(correlation_ids(&body), ["q-7", "q-6", "q-5"]);
    // Epoch nanoseconds, combined with a query.
    let end_ns = ((BASE_S + 241) * 1_000_000_000).to_string();
    let body = search_with(&server, &[("q", "service:api"), ("end", &end_ns)]).await;
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!(correlation_ids(&body), ["q-4", "q-2", "q-0"]);

    // A bad parameter is a 400 naming it.
    let resp = client()
        .get(format!("{}/api/v1/search", server.http))
        .query(&[("q", "*"), ("start", "yesterday-ish")])
        .send()
        .await
        .expect("search");
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.expect("JSON");
    assert!(
        err["error"].as_str().unwrap_or("").contains("start"),
        "{err}"
    );
}
