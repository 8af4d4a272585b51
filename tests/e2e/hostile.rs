//! Hostile and careless input against the real binary (issue 12's probe): each case answers
//! a 4xx (or 503) naming what was wrong, and the process is alive and serving afterwards.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pharos_collector::ingest::metrics::remote_write::{self, WriteRequest};
use serde_json::Value;

use super::common::{bin, client, post_ndjson, start, wait_total, Server};
use super::metrics_ingest::{post_remote_write, series, t0_ms, RW_HEADERS};

/// `/health` answers, and a query and an ingest still work.
async fn assert_alive(server: &Server) {
    let resp = client()
        .get(format!("{}/health", server.http))
        .send()
        .await
        .unwrap_or_else(|e| panic!("/health: {e}\nserver log:\n{}", server.log()));
    assert_eq!(resp.status(), 200);
    let (status, body) = prom_query(server, "1 + 1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][1], "2");
}

async fn prom_query(server: &Server, q: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/prometheus/api/v1/query", server.http))
        .form(&[("query", q)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("PromQL request: {e}\nserver log:\n{}", server.log()));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_and_long_promql_is_refused_and_the_server_lives() {
    let server = start(&[]);
    let cases = [
        (
            format!("{}up{}", "sum(".repeat(2500), ")".repeat(2500)),
            "nested too deeply",
        ),
        (
            format!("{}up{}", "abs(".repeat(3000), ")".repeat(3000)),
            "nested too deeply",
        ),
        (
            format!("{}1{}", "-(".repeat(20_000), ")".repeat(20_000)),
            "nested too deeply",
        ),
        ("(".repeat(100_000), "nested too deeply"),
        (
            format!("{}up{}", "sum by (job) (".repeat(5000), ")".repeat(5000)),
            "nested too deeply",
        ),
        (format!("1{}", "+1".repeat(4000)), "operators"),
        (format!("1{}", "+1".repeat(100_000)), "too long"),
    ];
    for (q, why) in &cases {
        let started = Instant::now();
        let (status, body) = prom_query(&server, q).await;
        assert_eq!(status, 400, "{:.30}…: {body}", q);
        assert_eq!(body["errorType"], "bad_data");
        let msg = body["error"].as_str().unwrap_or("");
        assert!(msg.contains(why), "{:.30}…: {msg}", q);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:.30}… took {:?}",
            q,
            started.elapsed()
        );
    }
    // The deepest query the limits allow is evaluated, not refused.
    let deep_ok = format!("{}1{}", "(1 + ".repeat(127), ")".repeat(127));
    let (status, body) = prom_query(&server, &deep_ok).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][1], "128");
    assert_alive(&server).await;
}

/// 20 series over three hours, every 15 s.
async fn seed_series(server: &Server) {
    let now = t0_ms() + 600_000;
    let timeseries = (0..20)
        .map(|i| {
            let samples: Vec<(i64, f64)> = (0..720)
                .map(|k| (now - 3 * 3_600_000 + k * 15_000, k as f64))
                .collect();
            series(&[("__name__", "load"), ("i", &i.to_string())], &samples)
        })
        .collect();
    let req = WriteRequest {
        timeseries,
        metadata: vec![],
    };
    let (status, body) = post_remote_write(server, remote_write::encode(&req), RW_HEADERS).await;
    assert_eq!(status, 204, "{body}");
}

/// A query heavy enough to run for seconds: a thousand additions over 10,800 steps.
fn heavy_range_query() -> Vec<(String, String)> {
    let now_s = (t0_ms() + 600_000) / 1000;
    vec![
        ("query".into(), format!("load{}", " + load".repeat(999))),
        ("start".into(), (now_s - 10_799).to_string()),
        ("end".into(), now_s.to_string()),
        ("step".into(), "1".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_budget_stops_with_a_timeout_and_one_whose_client_left_is_cancelled() {
    let server = start(&[("PHAROS_QUERY__TIMEOUT_SECS", "1")]);
    seed_series(&server).await;
    let started = Instant::now();
    let resp = client()
        .post(format!("{}/prometheus/api/v1/query_range", server.http))
        .form(&heavy_range_query())
        .send()
        .await
        .expect("query_range");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errorType"], "timeout", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // A client that gives up after 300 ms: the server stops the query instead of finishing it.
    let server = start(&[]);
    seed_series(&server).await;
    let gone = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let sent = gone
        .post(format!("{}/prometheus/api/v1/query_range", server.http))
        .form(&heavy_range_query())
        .send()
        .await;
    assert!(
        sent.is_err(),
        "the heavy query answered within 300 ms; it is not heavy enough"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .log()
        .contains("query cancelled: the client went away")
    {
        assert!(
            Instant::now() < deadline,
            "no cancellation logged:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_alive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_ranges_without_bounds_mean_any_value() {
    let server = start(&[]);
    let lines: String = (0..3)
        .map(|i| format!("{{\"msg\":\"r{i}\",\"service\":\"s{i}\",\"host\":\"h\",\"trace_id\":\"t{i}\",\"correlation_id\":\"c{i}\"}}\n"))
        .collect();
    let (status, body) = post_ndjson(&server, lines).await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "*", 3, Duration::from_secs(20)).await;
    for field in ["service", "host", "trace_id", "correlation_id"] {
        for range in ["[* TO *]", "{* TO *}"] {
            let q = format!("{field}:{range}");
            let resp = client()
                .post(format!("{}/api/v1/query", server.http))
                .json(&serde_json::json!({ "query": q }))
                .send()
                .await
                .expect("query");
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 200, "{q}: {body}");
            assert_eq!(body["total"], 3, "{q}: {body}");
        }
    }
    assert_alive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_refused_while_it_runs_is_a_clean_400() {
    let server = start(&[]);
    let (status, body) = post_ndjson(&server, "{\"msg\":\"one\"}\n").await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "*", 1, Duration::from_secs(20)).await;
    let resp = client()
        .get(format!("{}/api/v1/export", server.http))
        .query(&[("q", "* | timechart span=1ms count()"), ("start", "0")])
        .send()
        .await
        .expect("export");
    let status = resp.status().as_u16();
    let body: Value = resp
        .json()
        .await
        .expect("a JSON error, not a cut-off stream");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("bucket")),
        "{body}"
    );
    // A good export still streams.
    let resp = client()
        .get(format!("{}/api/v1/export", server.http))
        .query(&[("q", "*"), ("start", "0")])
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("body").contains("\"one\""));
    assert_alive(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_future_sample_is_refused_and_does_not_break_its_series() {
    let server = start(&[]);
    let now = t0_ms() + 600_000;
    let ten_years = 10 * 365 * 86_400_000i64;
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "clock"), ("host", "a")],
                &[(now + ten_years, 1.0)],
            ),
            series(&[("__name__", "fine"), ("host", "a")], &[(now - 1000, 1.0)]),
        ],
        metadata: vec![],
    };
    let (status, body) = post_remote_write(&server, remote_write::encode(&req), RW_HEADERS).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("clock{host=\"a\"}") && body.contains("future"),
        "{body}"
    );
    assert!(!body.contains("fine"), "{body}");
    // The series takes current samples afterwards.
    let req = WriteRequest {
        timeseries: vec![series(
            &[("__name__", "clock"), ("host", "a")],
            &[(now - 500, 7.0)],
        )],
        metadata: vec![],
    };
    let (status, body) = post_remote_write(&server, remote_write::encode(&req), RW_HEADERS).await;
    assert_eq!(status, 204, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = prom_query(&server, "clock").await;
        assert_eq!(status, 200, "{body}");
        if body["data"]["result"][0]["value"][1] == "7" {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_alive(&server).await;
}

/// Logging must never break serving: with stderr on a full device, every request is still
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_stderr_does_not_stop_serving() {
    let dir = tempfile::tempdir().expect("tmp");
    let [http] = pharos_tests::harness::free_ports().expect("ports");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    let mut child = Command::new(bin())
        .arg("serve")
        .env("PHAROS_SERVER__HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("PHAROS_SERVER__OTLP_HTTP_ADDR", "")
        .env("PHAROS_SERVER__OTLP_GRPC_ADDR", "")
        .env("PHAROS_STORAGE__DATA_DIR", dir.path().join("data"))
        .env("PHAROS_INGEST__MIN_FREE_DISK_BYTES", "1048576")
        .stdin(Stdio::null())
        .stdout(full())
        .stderr(full())
        .spawn()
        .expect("spawn pharos");
    let base = format!("http://127.0.0.1:{http}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answered = 0;
    while answered < 20 {
        assert!(child.try_wait().expect("wait").is_none(), "pharos exited");
        match client().get(format!("{base}/health")).send().await {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                answered += 1;
            }
            Err(e) => {
                assert!(
                    answered == 0,
                    "a request failed after the server was up: {e}"
                );
                assert!(Instant::now() < deadline, "pharos never answered: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let resp = client()
        .post(format!("{base}/api/v1/logs"))
        .body("{\"msg\":\"logged nowhere\"}\n")
        .send()
        .await
        .expect("ingest");
    assert_eq!(resp.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_attribute_keys_give_a_bounded_fields_answer() {
    let server = start(&[]);
    // 100 records × 200 keys of their own: 20,000 distinct attribute keys.
    let lines: String = (0..100)
        .map(|r| {
            let attrs: Vec<String> = (0..200).map(|k| format!("\"k{r}_{k}\":{k}")).collect();
            format!(
                "{{\"msg\":\"wide {r}\",\"common\":\"x\",{}}}\n",
                attrs.join(",")
            )
        })
        .collect();
    let (status, body) = post_ndjson(&server, lines).await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "wide", 100, Duration::from_secs(30)).await;
    let resp = client()
        .get(format!("{}/api/v1/fields", server.http))
        .query(&[("start", "now-1h")])
        .send()
        .await
        .expect("fields");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert!(text.len() < 1_000_000, "{} bytes", text.len());
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        body["fields"].as_array().map(Vec::len),
        Some(500),
        "{:.300}",
        text
    );
    assert_eq!(body["truncated"], true);
    assert!(
        body["total_fields"].as_u64().is_some_and(|n| n >= 20_000),
        "{}",
        body["total_fields"]
    );
    // The most common field comes first; a smaller limit is honoured.
    assert!(body["fields"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["name"] == "common")));
    let resp = client()
        .get(format!("{}/api/v1/fields", server.http))
        .query(&[("start", "now-1h"), ("limit", "3")])
        .send()
        .await
        .expect("fields");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["fields"].as_array().map(Vec::len), Some(3), "{body}");
    assert_alive(&server).await;
}
