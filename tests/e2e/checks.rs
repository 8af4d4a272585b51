//! Health checks end to end: an HTTP check against a local target the test switches between
//! 200 and 500, and a heartbeat; states, heartbeat pings behind the ingest token, the uptime
//! ledger's incidents (also after a restart), `/metrics`, and the `[[checks]]` config keys.

use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use serde_json::Value;

use super::common::{bin, client, start, Server};

const INGEST: &str = "ingest-secret";
const API: &str = "api-secret";

async fn checks(server: &Server) -> Value {
    let resp = client()
        .get(format!("{}/api/v1/checks", server.http))
        .bearer_auth(API)
        .send()
        .await
        .expect("checks request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("checks JSON")
}

fn find<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {body}"))
}

async fn wait_state(server: &Server, id: &str, want: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let body = checks(server).await;
        let check = find(&body, id).clone();
        if check["state"] == want {
            return check;
        }
        if Instant::now() > deadline {
            panic!(
                "{id} is {check} after {timeout:?}, wanted {want}\nserver log:\n{}",
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ping(server: &Server, id: &str, token: &str, post: bool) -> (u16, Value) {
    let url = format!("{}/api/v1/heartbeat/{id}", server.http);
    let req = if post {
        client().post(url)
    } else {
        client().get(url)
    };
    let resp = req.bearer_auth(token).send().await.expect("ping");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_and_heartbeat_go_down_and_up_with_incidents_in_the_ledger() {
    let status = Arc::new(AtomicU16::new(200));
    let s = status.clone();
    let app = axum::Router::new().route(
        "/health",
        get(move || {
            let s = s.clone();
            async move {
                StatusCode::from_u16(s.load(Ordering::SeqCst))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("pharos.toml");
    std::fs::write(
        &config,
        format!(
            "[[checks]]\nid = \"web\"\nkind = \"http\"\ntarget = \"http://{target}/health\"\n\
             interval_secs = 1\ntimeout_secs = 1\nfail_after = 2\nrecover_after = 2\n\n\
             [[checks]]\nid = \"cron\"\nkind = \"heartbeat\"\nperiod_secs = 2\ngrace_secs = 1\n"
        ),
    )
    .expect("write config");
    let config = config.to_str().expect("utf8").to_string();
    let mut server = start(&[
        ("PHAROS_CONFIG", &config),
        ("PHAROS_AUTH__INGEST_TOKEN", INGEST),
        ("PHAROS_AUTH__API_TOKEN", API),
    ]);

    // The read API is behind the API token.
    let resp = client()
        .get(format!("{}/api/v1/checks", server.http))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);

    let web = wait_state(&server, "web", "up", Duration::from_secs(15)).await;
    assert_eq!(web["kind"], "http");
    assert_eq!(web["last_result"]["status"], 200);
    assert!(web["last_latency_ms"].as_f64().is_some(), "{web}");
    assert!(web["since"].is_string(), "{web}");

    status.store(500, Ordering::SeqCst);
    let web = wait_state(&server, "web", "down", Duration::from_secs(15)).await;
    assert_eq!(web["last_result"]["reason"], "status 500 (expected 2xx)");
    status.store(200, Ordering::SeqCst);
    wait_state(&server, "web", "up", Duration::from_secs(15)).await;

    // No ping since start: down after period + grace = 3 s.
    let cron = wait_state(&server, "cron", "down", Duration::from_secs(15)).await;
    assert_eq!(cron["kind"], "heartbeat");
    // The ping needs the ingest token, not the API token.
    assert_eq!(ping(&server, "cron", API, true).await.0, 401);
    let (code, body) = ping(&server, "cron", INGEST, true).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "up");
    wait_state(&server, "cron", "up", Duration::from_secs(1)).await;
    let (code, _) = ping(&server, "cron", INGEST, false).await;
    assert_eq!(code, 200, "GET pings too");
    let (code, body) = ping(&server, "nope", INGEST, true).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(ping(&server, "web", INGEST, true).await.0, 404);

    let uptime = |server: &Server| {
        let url = format!("{}/api/v1/checks/web/uptime?from=now-1h", server.http);
        async move {
            let resp = client()
                .get(url)
                .bearer_auth(API)
                .send()
                .await
                .expect("uptime");
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.expect("uptime JSON")
        }
    };
    let check_incident = |u: &Value| {
        let incidents = u["incidents"].as_array().expect("incidents");
        assert_eq!(incidents.len(), 1, "{u}");
        let i = &incidents[0];
        assert_eq!(i["reason"], "status 500 (expected 2xx)", "{u}");
        assert_eq!(i["status"], 500);
        assert_eq!(i["open"], false);
        assert!(i["end"].is_string(), "{u}");
        let d = i["duration_secs"].as_f64().expect("duration");
        assert!((1.0..15.0).contains(&d), "{u}");
        let pct = u["uptime_percent"].as_f64().expect("percent");
        assert!(pct > 0.0 && pct < 100.0, "{u}");
        assert!(u["downtime_secs"].as_f64().unwrap_or(0.0) >= 1.0, "{u}");
        assert!(u["unknown_secs"].as_f64().unwrap_or(0.0) > 0.0, "{u}");
    };
    check_incident(&uptime(&server).await);
    let resp = client()
        .get(format!("{}/api/v1/checks/nope/uptime", server.http))
        .bearer_auth(API)
        .send()
        .await
        .expect("uptime");
    assert_eq!(resp.status(), 404);

    let metrics = client()
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("pharos_check_up{check=\"web\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pharos_check_up{check=\"cron\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pharos_check_duration_seconds_count{check=\"web\"}"),
        "{metrics}"
    );

    // The ledger survives a restart: the incident is still there, the state continues.
    server
        .terminate(Duration::from_secs(15))
        .expect("graceful stop");
    server.restart().expect("restart");
    check_incident(&uptime(&server).await);
    let body = checks(&server).await;
    assert_eq!(find(&body, "web")["state"], "up", "{body}");
}

#[test]
fn every_checks_key_is_documented_and_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pharos.toml");
    std::fs::write(
        &path,
        "[[checks]]\nid = \"api\"\nkind = \"http\"\ntarget = \"https://example.com/health\"\n\
         method = \"HEAD\"\nheaders = { X-Probe = \"1\" }\nexpect_status = [200, 204]\n\
         body_contains = \"ok\"\nbody_regex = \"o+k\"\njson_path = \"data.ok\"\njson_equals = true\n\
         max_latency_ms = 500\n\n\
         [[checks]]\nid = \"db\"\nkind = \"tcp\"\ntarget = \"db:5432\"\n\n\
         [[checks]]\nid = \"cert\"\nkind = \"tls\"\ntarget = \"example.com\"\nmin_days_left = 7\n\n\
         [[checks]]\nid = \"backup\"\nkind = \"heartbeat\"\nperiod_secs = 86400\ngrace_secs = 600\n",
    )
    .expect("write");
    let out = Command::new(bin())
        .args(["check-config", "--print", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value =
        serde_json::from_str(stdout.trim_end().trim_end_matches("config OK")).expect("json");
    assert_eq!(
        printed["checks"].as_array().map(Vec::len),
        Some(4),
        "{printed}"
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/configuration.md")).expect("docs");
    super::config::assert_documented(&docs, &printed);

    let (ok, out) = super::config::check_config(
        Some("[[checks]]\nid = \"a\"\nkind = \"tcp\"\ntarget = \"db:5432\"\n\n[[checks]]\nid = \"b\"\nkind = \"tcp\"\ntarget = \"nowhere\"\n"),
        &[],
    );
    assert!(!ok);
    assert!(out.contains("checks[1].target"), "{out}");
    let (ok, out) = super::config::check_config(
        Some(
            "[[checks]]\nid = \"a\"\nkind = \"http\"\ntarget = \"http://x/\"\nmin_days_left = 3\n",
        ),
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("checks[0].min_days_left: only for kind = \"tls\""),
        "{out}"
    );
}
