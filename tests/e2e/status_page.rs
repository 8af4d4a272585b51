//! The status page and badges with the real binary: a check going down shows on `/status`
//! (overall state, current incident, its 90 bars) and in its badges; they are open to
//! everyone only with `status_page.public = true`; probe results land in the metrics store
//! as `probe_success` / `probe_duration_seconds`; check-config names a bad component.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, client, serve_health, Server};
use crate::config::check_config;

const TOKEN: &str = "status-test-token";

fn start(dir: &std::path::Path, port: u16, public: bool) -> Server {
    let config = format!(
        "[[checks]]\nid = \"web\"\nkind = \"http\"\ntarget = \"http://127.0.0.1:{port}/health\"\n\
         interval_secs = 1\ntimeout_secs = 1\nfail_after = 1\nrecover_after = 1\n\n\
         [status_page]\npublic = {public}\ntitle = \"Acme <status>\"\n\
         components = [{{ name = \"Website\", checks = [\"web\"] }}]\n"
    );
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).expect("config");
    let path = path.display().to_string();
    Server::start_in(
        bin(),
        &dir.join("data"),
        &[
            ("PHAROS_CONFIG", path.as_str()),
            ("PHAROS_AUTH__API_TOKEN", TOKEN),
        ],
    )
    .expect("start pharos")
}

async fn get(server: &Server, path: &str, token: bool) -> (u16, String, String) {
    let mut req = client().get(format!("{}{path}", server.http));
    if token {
        req = req.bearer_auth(TOKEN);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ctype, resp.text().await.expect("body"))
}

async fn until(server: &Server, what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 20 s; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_going_down_shows_on_the_public_page_and_badges() {
    let healthy = Arc::new(AtomicBool::new(true));
    let port = serve_health(healthy.clone(), 503, "maintenance").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), port, true);

    until(&server, "the page says all is well", async || {
        get(&server, "/status", false)
            .await
            .2
            .contains("All systems operational")
    })
    .await;
    let (status, ctype, page) = get(&server, "/status", false).await;
    assert_eq!(status, 200, "public: no token needed");
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(
        page.contains("<title>Acme &lt;status&gt;</title>"),
        "the title, escaped"
    );
    assert!(page.contains("aria-label=\"Website\""), "{page}");
    assert!(!page.contains("<script"), "no script on the status page");
    assert_eq!(
        page.matches("<span style=\"background:").count(),
        90,
        "90 daily bars"
    );
    assert!(page.len() < 64 * 1024, "a light page: {} bytes", page.len());

    let (status, ctype, svg) = get(&server, "/badge/web/status", false).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("image/svg+xml"), "{ctype}");
    assert!(svg.contains("aria-label=\"web: up\""), "{svg}");
    let (_, _, svg) = get(&server, "/badge/web/uptime/30d", false).await;
    assert!(svg.contains("uptime 30d: 100%"), "{svg}");
    let (_, _, svg) = get(&server, "/badge/web/latency", false).await;
    assert!(svg.contains("latency: ") && svg.contains(" ms"), "{svg}");
    assert_eq!(get(&server, "/badge/nope/status", false).await.0, 404);
    assert_eq!(get(&server, "/badge/web/uptime/1y", false).await.0, 400);
    // Only the page and the badges are public: the API still needs the token.
    assert_eq!(get(&server, "/api/v1/checks", false).await.0, 401);

    healthy.store(false, Ordering::SeqCst);
    until(&server, "the page shows the outage", async || {
        get(&server, "/status", false)
            .await
            .2
            .contains("Major outage")
    })
    .await;
    let page = get(&server, "/status", false).await.2;
    assert!(page.contains("Current incidents"), "{page}");
    assert!(page.contains("status 503"), "the cause is shown: {page}");
    assert!(page.contains("incident"), "{page}");
    let (_, _, svg) = get(&server, "/badge/web/status", false).await;
    assert!(svg.contains("web: down"), "{svg}");

    // The checks API: uptime windows and the day bars agree that today had downtime.
    let (status, _, body) = get(&server, "/api/v1/checks", true).await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).expect("json");
    let web = &list["checks"][0];
    assert_eq!(web["state"], "down");
    let day = web["uptime_percent"]["24h"].as_f64().expect("24h uptime");
    assert!(day < 100.0 && day > 0.0, "{web}");
    let (_, _, body) = get(&server, "/api/v1/checks/web/daily?days=90", true).await;
    let daily: Value = serde_json::from_str(&body).expect("json");
    let days = daily["days"].as_array().expect("days");
    assert_eq!(days.len(), 90);
    assert_eq!(days[89]["incidents"], 1, "{}", days[89]);
    assert!(days[0]["uptime_percent"].is_null(), "no data 89 days ago");
    assert_eq!(
        get(&server, "/api/v1/checks/web/daily?days=0", true)
            .await
            .0,
        400
    );

    // Every probe is in the metrics store: the response-time history is a PromQL query.
    until(&server, "probe_success is 0", async || {
        let (_, _, body) = get(
            &server,
            "/prometheus/api/v1/query?query=probe_success%7Bcheck%3D%22web%22%7D",
            true,
        )
        .await;
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"][0]["value"][1] == "0"
    })
    .await;
    let (_, _, body) = get(
        &server,
        "/prometheus/api/v1/query?query=count_over_time(probe_duration_seconds%7Bcheck%3D%22web%22%2Ckind%3D%22http%22%7D%5B5m%5D)",
        true,
    )
    .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    let n: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // At least the probe that was up and the one that failed.
    assert!(n >= 2.0, "one latency sample per probe: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_status_page_needs_the_token() {
    let port = serve_health(Arc::new(AtomicBool::new(true)), 503, "maintenance").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), port, false);
    let (status, _, text) = get(&server, "/status", false).await;
    assert_eq!(status, 401);
    assert!(
        text.contains("status_page.public = true"),
        "says how to open it: {text}"
    );
    assert_eq!(get(&server, "/badge/web/status", false).await.0, 401);
    let (status, _, page) = get(&server, "/status", true).await;
    assert_eq!(status, 200);
    assert!(page.contains("Website"), "{page}");
}

#[test]
fn check_config_names_a_component_with_an_unknown_check() {
    let (ok, out) = check_config(
        Some("[status_page]\ncomponents = [{ name = \"Website\", checks = [\"nope\"] }]\n"),
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("status_page.components[0].checks") && out.contains("nope"),
        "{out}"
    );
    let (ok, out) = check_config(Some("[status_page]\nobjective_percent = 120\n"), &[]);
    assert!(!ok);
    assert!(out.contains("status_page.objective_percent"), "{out}");
}

/// `pharos notice ARGS… --server URL` with the API token.
fn notice_cli(server: &Server, args: &[&str]) -> crate::cli::Ran {
    let mut cmd = crate::cli::pharos(&[&["notice"], args].concat());
    cmd.args(["--server", &server.http]);
    cmd.env("PHAROS_API_TOKEN", TOKEN);
    crate::cli::run(&mut cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_and_maintenance_windows_show_on_the_status_page() {
    let healthy = Arc::new(AtomicBool::new(false));
    let port = serve_health(healthy.clone(), 503, "maintenance").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), port, true);
    until(&server, "the outage shows", async || {
        get(&server, "/status", false)
            .await
            .2
            .contains("Major outage")
    })
    .await;

    // A maintenance window over the down component: not an outage while it lasts.
    let r = notice_cli(
        &server,
        &[
            "add",
            "Database upgrade",
            "--maintenance",
            "--start",
            "now-1m",
            "--end",
            "now+1h",
            "--component",
            "Website",
            "--body",
            "Writes pause for a few minutes.",
        ],
    );
    assert_eq!(r.code, Some(0), "{} {}", r.stderr, r.stdout);
    let maintenance_id = r.stdout.trim().to_string();
    let r = notice_cli(
        &server,
        &["add", "Slow <searches>", "--body", "We are on it."],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = notice_cli(
        &server,
        &[
            "add",
            "Network work",
            "--maintenance",
            "--start",
            "now+2d",
            "--end",
            "now+50h",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);

    let page = get(&server, "/status", false).await.2;
    assert!(page.contains("Under maintenance"), "{page}");
    assert!(
        !page.contains("Major outage") && !page.contains("Current incidents"),
        "{page}"
    );
    for want in [
        "<h2>Announcements</h2>",
        "Slow &lt;searches&gt;",
        "We are on it.",
        "<h2>Maintenance in progress</h2>",
        "Database upgrade",
        "Writes pause for a few minutes.",
        "<h2>Scheduled maintenance</h2>",
        "Network work",
    ] {
        assert!(page.contains(want), "{want}: {page}");
    }

    let r = notice_cli(&server, &["list", "-o", "json"]);
    let listed: Value = serde_json::from_str(&r.stdout).expect("json list");
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|n| {
            (
                n["title"].as_str().unwrap_or(""),
                n["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        states.contains(&("Database upgrade", "active")),
        "{states:?}"
    );
    assert!(
        states.contains(&("Network work", "scheduled")),
        "{states:?}"
    );

    // Bad input is refused, naming the field; the API needs the token.
    let r = notice_cli(&server, &["add", "x", "--maintenance", "--start", "now"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("starts_at and ends_at"), "{}", r.stderr);
    let r = notice_cli(&server, &["add", "x", "--component", "Nope"]);
    assert!(r.stderr.contains("no component \"Nope\""), "{}", r.stderr);
    assert_eq!(get(&server, "/api/v1/status/notices", false).await.0, 401);

    // Removed: the outage shows again.
    let r = notice_cli(&server, &["rm", &maintenance_id]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let page = get(&server, "/status", false).await.2;
    assert!(
        page.contains("Major outage") && !page.contains("Database upgrade"),
        "{page}"
    );
    assert!(page.contains("Slow &lt;searches&gt;"), "{page}");
}
