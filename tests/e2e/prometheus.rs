//! Pharos against a real Prometheus (Debian's `prometheus` package, installed by `.ci/run`):
//! Prometheus scrapes a local target and remote-writes to Pharos, and a set of PromQL queries
//! must give the same answers from both. `promtool check metrics` must accept Pharos's own
//! `/metrics`. Without the tools these tests fail under `CI=true` and are skipped otherwise.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::{client, start, tool, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_pharos_metrics() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let server = start(&[]);
    // Some traffic first, so every family has samples.
    let _ = crate::common::post_ndjson(&server, "{\"msg\":\"x\"}\n").await;
    let text = client()
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool output");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The scrape target: counters that grow per scrape (with a reset), a gauge, a histogram.
async fn serve_target(scrapes: Arc<AtomicU64>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let scrapes = scrapes.clone();
            async move {
                let n = scrapes.fetch_add(1, Ordering::SeqCst) as f64;
                // The process "restarts" at scrape 12: counters begin again.
                let c = if n < 12.0 { n } else { n - 12.0 };
                let temp = 20.0 + (n * 0.7).sin() * 3.0;
                let (b1, b2, b3) = (c * 2.0, c * 5.0, c * 6.0);
                format!(
                    "# TYPE demo_requests_total counter\n\
                     demo_requests_total{{path=\"/a\",code=\"200\"}} {}\n\
                     demo_requests_total{{path=\"/b\",code=\"500\"}} {}\n\
                     demo_requests_total{{path=\"/c\",code=\"200\"}} {}\n\
                     # TYPE demo_temperature gauge\n\
                     demo_temperature{{room=\"lab\"}} {temp}\n\
                     demo_temperature{{room=\"hall\"}} {}\n\
                     # TYPE demo_latency_seconds histogram\n\
                     demo_latency_seconds_bucket{{le=\"0.1\"}} {b1}\n\
                     demo_latency_seconds_bucket{{le=\"0.5\"}} {b2}\n\
                     demo_latency_seconds_bucket{{le=\"+Inf\"}} {b3}\n\
                     demo_latency_seconds_sum {}\n\
                     demo_latency_seconds_count {b3}\n",
                    c * 3.0,
                    c,
                    c * 7.0 + 1.0,
                    temp - 5.0,
                    c * 1.3,
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(bin: PathBuf, target_port: u16, pharos: &Server) -> Prometheus {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = pharos_tests::harness::free_port().expect("port");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n\
         remote_write:\n  - url: {}/api/v1/write\n    queue_config:\n      batch_send_deadline: 500ms\n      max_samples_per_send: 500\n",
        pharos.http
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).expect("config");
    let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

async fn instant(base: &str, query: &str, time: f64) -> Value {
    let resp = client()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", query), ("time", &time.to_string())])
        .send()
        .await
        .expect("query");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "success", "{base} {query}: {body}");
    body["data"].clone()
}

async fn range(base: &str, query: &str, start: f64, end: f64) -> Value {
    let resp = client()
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", query),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("step", "1"),
        ])
        .send()
        .await
        .expect("query_range");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "success", "{base} {query}: {body}");
    body["data"].clone()
}

/// Series of a vector or matrix keyed by their labels, `__name__` included.
fn by_labels(data: &Value) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = data["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    (
                        s["metric"].to_string(),
                        s.get("value")
                            .or(s.get("values"))
                            .cloned()
                            .unwrap_or(Value::Null),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).all(|(p, q)| close(p, q))
        }
        (Value::String(x), Value::String(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => {
                (p.is_nan() && q.is_nan()) || (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0)
            }
            _ => x == y,
        },
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pharos_answers_promql_like_the_prometheus_that_remote_writes_to_it() {
    let Some(prom_bin) = tool("prometheus") else {
        return;
    };
    let pharos = start(&[]);
    let scrapes = Arc::new(AtomicU64::new(0));
    let target = serve_target(scrapes.clone()).await;
    let prom = start_prometheus(prom_bin, target, &pharos);
    // ~25 scrapes (through the counter reset at 12), then let remote write catch up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while scrapes.load(Ordering::SeqCst) < 25 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "prometheus did not scrape"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    // Evaluate a little in the past, at a time both have all samples for. An even second:
    // the subqueries below step by 2 s over odd ranges, so no inner step sits on a window's
    // edge (Prometheus 2.x closes ranges on the left, 3.x and Pharos leave them open).
    let t = ((now - 3.0) / 2.0).floor() * 2.0;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pharos_api = format!("{}/prometheus", pharos.http);
    let at = |secs_before: f64| format!("{}", t - secs_before);
    let dynamic = [
        // The @ modifier, on instant and range selectors.
        format!("demo_requests_total @ {}", at(6.0)),
        format!("rate(demo_requests_total[5s] @ {})", at(4.0)),
        format!("sum(demo_temperature @ {}) by (room)", at(3.0)),
        "demo_temperature @ end()".to_string(),
    ];
    let fixed = [
        "demo_requests_total",
        "demo_requests_total{code=\"200\"}",
        "demo_requests_total{code!=\"200\"}",
        "demo_requests_total{path=~\"/(a|b)\"}",
        "demo_requests_total{path!~\"/a\"}",
        "demo_requests_total offset 5s",
        "rate(demo_requests_total[10s])",
        "irate(demo_requests_total[10s])",
        "increase(demo_requests_total[20s])",
        "delta(demo_temperature[10s])",
        "avg_over_time(demo_temperature[10s])",
        "min_over_time(demo_temperature[10s])",
        "max_over_time(demo_temperature[10s])",
        "sum_over_time(demo_temperature[10s])",
        "count_over_time(demo_temperature[10s])",
        "sum by (code) (rate(demo_requests_total[10s]))",
        "sum without (path) (demo_requests_total)",
        "avg(demo_temperature)",
        "min(demo_temperature)",
        "max(demo_temperature)",
        "count(demo_requests_total)",
        "topk(2, demo_requests_total)",
        "bottomk(1, demo_requests_total)",
        "demo_requests_total > 10",
        "demo_requests_total > bool 10",
        "demo_requests_total * 2 + 1",
        "demo_requests_total / on(path, code) demo_requests_total",
        "demo_temperature - ignoring(room) group_left avg(demo_temperature)",
        "demo_requests_total / on(code) group_left count by (code) (demo_requests_total)",
        "count by (code) (demo_requests_total) * on(code) group_right demo_requests_total",
        "demo_temperature * on() group_left(code) max by (code) (demo_requests_total{code=\"500\"})",
        // Subqueries (2 s steps over odd ranges, so no step is on an edge) and their offset.
        "max_over_time(rate(demo_requests_total[5s])[9s:2s])",
        "avg_over_time(demo_temperature[9s:2s])",
        "sum_over_time(demo_temperature[7s:2s] offset 2s)",
        "min_over_time(sum by (code) (demo_requests_total)[11s:2s])",
        // label_replace and label_join, as Grafana's dashboards use them.
        "label_replace(demo_requests_total, \"route\", \"r-$1\", \"path\", \"/(.*)\")",
        "label_replace(demo_temperature, \"room\", \"\", \"room\", \"lab\")",
        "label_join(demo_requests_total, \"pc\", \"-\", \"path\", \"code\")",
        "histogram_quantile(0.9, rate(demo_latency_seconds_bucket[10s]))",
        "histogram_quantile(0.5, sum by (le) (rate(demo_latency_seconds_bucket[10s])))",
        "absent(nonexistent_metric)",
        "absent(demo_temperature)",
        "up",
    ];
    let queries: Vec<String> = fixed.iter().map(|q| q.to_string()).chain(dynamic).collect();
    let mut mismatches = Vec::new();
    for q in &queries {
        let q = q.as_str();
        let want = instant(&prom.url, q, t).await;
        let got = match client()
            .get(format!("{pharos_api}/api/v1/query"))
            .query(&[("query", q), ("time", &t.to_string())])
            .send()
            .await
        {
            Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
            Err(e) => Value::String(e.to_string()),
        };
        if got["status"] == "error" {
            mismatches.push(format!("{q}: error {got}"));
            continue;
        }
        let (w, g) = (by_labels(&want), by_labels(&got["data"]));
        let same = want["resultType"] == got["data"]["resultType"]
            && w.len() == g.len()
            && w.iter()
                .zip(&g)
                .all(|(a, b)| a.0 == b.0 && close(&a.1, &b.1));
        if !same {
            mismatches.push(format!(
                "{q}:\n  prometheus {want}\n  pharos     {}",
                got["data"]
            ));
        }
    }
    for q in ["rate(demo_requests_total[5s])", "sum(demo_temperature)"] {
        let want = range(&prom.url, q, t - 15.0, t).await;
        let got = range(&pharos_api, q, t - 15.0, t).await;
        let (w, g) = (by_labels(&want), by_labels(&got));
        if !(w.len() == g.len()
            && w.iter()
                .zip(&g)
                .all(|(a, b)| a.0 == b.0 && close(&a.1, &b.1)))
        {
            mismatches.push(format!(
                "range {q}:\n  prometheus {want}\n  pharos     {got}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} queries differ:\n{}",
        mismatches.len(),
        queries.len() + 2,
        mismatches.join("\n")
    );
}
