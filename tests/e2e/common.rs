//! Helpers shared by the end-to-end tests.

use std::path::Path;
use std::time::{Duration, Instant};

pub use pharos_tests::harness::Server;
use serde_json::Value;

pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pharos"))
}

/// A server on a fresh temp dir; commits every 100 ms so tests wait little.
pub fn start(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("PHAROS_INDEX__COMMIT_INTERVAL_MS", "100"),
        ("PHAROS_INDEX__WRITER_MEMORY_MB", "32"),
        ("PHAROS_INDEX__WRITER_THREADS", "1"),
    ];
    env.extend_from_slice(extra);
    Server::start(bin(), &env).expect("start pharos")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET /api/v1/search`, returning the JSON body (panics on a non-200).
pub async fn search(server: &Server, q: &str, limit: usize) -> Value {
    let resp = client()
        .get(format!("{}/api/v1/search", server.http))
        .query(&[("q", q), ("limit", &limit.to_string())])
        .send()
        .await
        .expect("search request");
    let status = resp.status();
    let body: Value = resp.json().await.expect("search JSON");
    assert_eq!(status, 200, "search {q:?}: {body}");
    body
}

/// Polls a search until its total reaches `want` (or fails after `timeout`).
pub async fn wait_total(server: &Server, q: &str, want: u64, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let body = search(server, q, 0).await;
        let total = body["total"].as_u64().unwrap_or(0);
        if total >= want {
            return body;
        }
        if Instant::now() > deadline {
            panic!(
                "search {q:?}: total {total} after {timeout:?}, wanted {want}\nserver log:\n{}",
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs NDJSON to `/api/v1/logs`; returns status and JSON body.
pub async fn post_ndjson(server: &Server, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/api/v1/logs", server.http))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("ingest request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A server that keeps records of any age: the tests use fixed dates in the past.
pub fn start_wide() -> Server {
    start(&[
        ("PHAROS_RETENTION__DAYS", "36500"),
        ("PHAROS_RETENTION__KEEP_ERRORS_DAYS", "36500"),
    ])
}

/// The only hit of `q` (waits for it to be searchable; fails if there are more).
pub async fn one_hit(server: &Server, q: &str) -> Value {
    wait_total(server, q, 1, Duration::from_secs(20)).await;
    let body = search(server, q, 10).await;
    assert_eq!(body["total"], 1, "{q}: {body}");
    body["hits"][0].clone()
}

/// A tool on `PATH`, or `None` to skip; a missing tool fails the test when `CI=true`
/// (`.ci/run` installs the Debian package named by `package`).
pub fn tool_from(name: &str, package: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{name}` is missing; .ci/run installs the Debian package `{package}`"
        );
        eprintln!("skipping: `{name}` is not installed (apt-get install {package})");
    }
    found
}

/// A tool from Debian's `prometheus` package.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    tool_from(name, "prometheus")
}

/// A health-check target on loopback: `GET /health` answers 200 `ok` while `healthy` is
/// true, else `down_status` with `down_body`. Returns its port.
pub async fn serve_health(
    healthy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    down_status: u16,
    down_body: &'static str,
) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let down = axum::http::StatusCode::from_u16(down_status).expect("a status code");
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let healthy = healthy.clone();
            async move {
                if healthy.load(std::sync::atomic::Ordering::SeqCst) {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    (down, down_body)
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}
