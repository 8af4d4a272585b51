//! The query API against the real binary: the language over HTTP, aggregations, the
//! histogram, streamed export, live tail, and errors with positions.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::{client, post_ndjson, start, wait_total, Server};

/// Records at fixed times today-ish (relative to now, so retention keeps them).
fn lines(now_s: i64) -> String {
    let mut out = String::new();
    for i in 0..30i64 {
        let level = ["info", "warn", "error"][(i % 3) as usize];
        let service = ["api", "web"][(i % 2) as usize];
        let line = json!({
            "ts": (now_s - 600 + i * 10) * 1000,
            "level": level,
            "service": service,
            "msg": format!("request {i} handled in {} ms", i * 10),
            "duration_ms": i * 10,
            "http": {"status": if i % 5 == 0 { 500 } else { 200 }},
            "user": format!("u-{}", i % 4),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn post_query(server: &Server, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/api/v1/query", server.http))
        .json(&body)
        .send()
        .await
        .expect("query request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn seeded() -> Server {
    let server = start(&[]);
    let (status, body) = post_ndjson(&server, lines(now_s())).await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "*", 30, Duration::from_secs(20)).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_filters_and_aggregates_over_http() {
    let server = seeded().await;
    let (status, body) = post_query(
        &server,
        json!({"query": "service:api AND level:>=warn http.status:500", "start": "now-1h", "limit": 5}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "hits");
    // i even (api), i%3 != 0 (warn/error), i%5 == 0 (500): i in {10, 20}
    assert_eq!(body["total"], 2, "{body}");
    let msgs: Vec<&str> = body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["message"].as_str())
        .collect();
    assert_eq!(
        msgs,
        [
            "request 20 handled in 200 ms",
            "request 10 handled in 100 ms"
        ]
    );

    let (status, body) = post_query(
        &server,
        json!({"query": "duration_ms:>=100 | stats count(), max(duration_ms), count_distinct(user) by service | sort by service"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "table");
    assert_eq!(
        body["columns"],
        json!([
            "service",
            "count",
            "max(duration_ms)",
            "count_distinct(user)"
        ])
    );
    assert_eq!(
        body["rows"],
        json!([["api", 10, 280.0, 2], ["web", 10, 290.0, 2]])
    );
    assert_eq!(body["total"], 20);

    // GET on the foundation's path keeps working, now with the language.
    let resp = client()
        .get(format!("{}/api/v1/search", server.http))
        .query(&[("q", "\"handled in 50\""), ("limit", "10")])
        .send()
        .await
        .expect("search");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["total"], 1, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_position() {
    let server = seeded().await;
    let (status, body) =
        post_query(&server, json!({"query": "service:api AND (level:error"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(body["position"].as_u64().is_some(), "{body}");

    let (status, body) = post_query(&server, json!({"query": "level:loud"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["position"], 6, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("not a level"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_buckets_by_level() {
    let server = seeded().await;
    let resp = client()
        .get(format!("{}/api/v1/histogram", server.http))
        .query(&[
            ("q", "*"),
            ("start", "now-1h"),
            ("end", "now"),
            ("interval", "5m"),
        ])
        .send()
        .await
        .expect("histogram");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["interval_ms"], 300_000, "{body}");
    let buckets = body["buckets"].as_array().expect("buckets");
    assert!(
        (12..=13).contains(&buckets.len()),
        "an hour of 5-minute buckets: {body}"
    );
    let total: u64 = buckets.iter().filter_map(|b| b["total"].as_u64()).sum();
    assert_eq!(total, 30);
    let errors: u64 = buckets
        .iter()
        .filter_map(|b| b["counts"]["error"].as_u64())
        .sum();
    assert_eq!(errors, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_streams_every_record_as_ndjson_and_csv() {
    let server = seeded().await;
    let resp = client()
        .get(format!("{}/api/v1/export", server.http))
        .query(&[("q", "service:web"), ("format", "ndjson")])
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson line"))
        .collect();
    assert_eq!(lines.len(), 15);
    assert!(lines.iter().all(|l| l["service"] == "web"));
    let ts: Vec<i64> = lines
        .iter()
        .filter_map(|l| l["timestamp_ns"].as_i64())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let resp = client()
        .get(format!("{}/api/v1/export", server.http))
        .query(&[
            ("q", "level:error | fields service, duration_ms"),
            ("format", "csv"),
        ])
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    let mut rows = text.lines();
    assert_eq!(rows.next(), Some("record_id,timestamp,service,duration_ms"));
    assert_eq!(rows.count(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_new_matching_records() {
    let server = seeded().await;
    let resp = client()
        .get(format!("{}/api/v1/tail", server.http))
        .query(&[("q", "service:tailed level:error")])
        .send()
        .await
        .expect("tail");
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    // Give the subscription a moment, then send two matching records and one that is not.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = [
        json!({"level": "error", "service": "tailed", "msg": "first"}),
        json!({"level": "info", "service": "tailed", "msg": "not me"}),
        json!({"level": "error", "service": "tailed", "msg": "second"}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    let (status, _) = post_ndjson(&server, body).await;
    assert_eq!(status, 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while text.matches("event: record").count() < 2 {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("tail events in time")
            .expect("stream open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let messages: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["message"].as_str().map(str::to_string))
        .collect();
    assert_eq!(messages, ["first", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_client_that_does_not_read_never_slows_ingest_and_is_told_what_it_missed() {
    let server = start(&[]);
    let resp = reqwest::Client::new() // no overall timeout: the stream outlives 30 s
        .get(format!("{}/api/v1/tail", server.http))
        .query(&[("q", "service:flood")])
        .send()
        .await
        .expect("tail");
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // More batches than the feed keeps, and more bytes than the socket buffers hold, while
    // the tail client reads nothing: every request is still acknowledged.
    let filler = "x".repeat(12_000); // ~66 MB: more than the kernel buffers (32 MB rmem max here)
    let body: String = (0..5)
        .map(|i| json!({"service": "flood", "msg": format!("{i} {filler}")}).to_string() + "\n")
        .collect();
    for _ in 0..1100 {
        let (status, resp) = post_ndjson(&server, body.clone()).await;
        assert_eq!(status, 200, "{resp}");
    }
    // Now read: somewhere in the stream the client is told how many records it missed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while !text.contains("event: dropped") {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("a dropped event in time")
            .expect("stream open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
        if !text.contains("event: dropped") && text.len() > 1_000_000 {
            // Keep only the end of what was read (a marker may straddle two chunks).
            let mut cut = text.len() - 100;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text = text[cut..].to_string();
        }
    }
    let dropped: u64 = text
        .split("event: dropped\ndata: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|v| v["dropped"].as_u64())
        .expect("dropped count");
    assert!(
        dropped > 0 && dropped.is_multiple_of(5),
        "whole batches of 5: {dropped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_live_tail_does_not_hold_shutdown_open() {
    let mut server = seeded().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/tail", server.http))
        .query(&[("q", "*")])
        .send()
        .await
        .expect("tail");
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let (exit, took) = tokio::task::spawn_blocking(move || {
        let r = server.terminate(Duration::from_secs(15)).expect("SIGTERM");
        (r, server)
    })
    .await
    .map(|((exit, took), server)| {
        assert!(
            server.log().contains("WAL flushed and index committed"),
            "{}",
            server.log()
        );
        (exit, took)
    })
    .expect("join");
    assert!(exit.success(), "exit status {exit}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // The tail stream ended rather than being cut.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the tail stream ends at shutdown");
}
