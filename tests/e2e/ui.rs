//! The web UI: the embedded bundle as the server sends it (compression, caching, client-side
//! routes, JSON 404s for server paths), and the browser tests in `tests/ui/` (playwright-core
//! driving Debian's chromium) against the real binary. Those need `node`, `tests/ui/
//! node_modules` (`npm ci` there) and `/usr/bin/chromium`; without them the test is skipped
//! with the reason, except under `CI=true`, where it fails (`.ci/run` installs all three).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Duration;

use pharos_alertmanager::testing::smtp::TestSmtpServer;

use super::common::{bin, start, tool_from, Server};

fn raw_client() -> reqwest::Client {
    // No automatic decompression: the test looks at the bytes as sent.
    reqwest::Client::builder()
        .no_gzip()
        .no_zstd()
        .build()
        .expect("client")
}

async fn get(url: &str, accept_encoding: &str) -> reqwest::Response {
    raw_client()
        .get(url)
        .header("accept-encoding", accept_encoding)
        .send()
        .await
        .expect("request")
}

/// The hashed files `index.html` names (`/assets/index-AbC123.js`).
fn assets_named_in(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_sent_precompressed_with_cache_headers() {
    let server = start(&[]);
    let resp = get(&format!("{}/", server.http), "identity").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    let assets = assets_named_in(&html);
    assert!(
        assets.iter().any(|a| a.ends_with(".js")),
        "index.html names its script: {html}"
    );
    for asset in &assets {
        let url = format!("{}{asset}", server.http);
        let plain = get(&url, "identity").await;
        assert_eq!(plain.status(), 200, "{asset}");
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        let plain = plain.bytes().await.unwrap();
        if plain.len() < 4096 {
            continue;
        }
        let br = get(&url, "gzip, deflate, br").await;
        assert_eq!(br.headers()["content-encoding"], "br", "{asset}");
        assert_eq!(br.headers()["vary"], "accept-encoding");
        assert!(br.bytes().await.unwrap().len() < plain.len());
        let gz = get(&url, "gzip").await;
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{asset}");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain, "{asset}: the gzip form is the same file");
    }
    // A page that is open across a deploy asks for old hashes: a 404, not HTML as JavaScript.
    let stale = get(&format!("{}/assets/index-gone.js", server.http), "gzip").await;
    assert_eq!(stale.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_routes_serve_the_app_and_server_paths_keep_json_404s() {
    let server = start(&[]);
    for path in [
        "/explore?q=level:error",
        "/request/req-1",
        "/alerts",
        "/no/such/page",
    ] {
        let resp = get(&format!("{}{path}", server.http), "identity").await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-cache");
        assert!(
            resp.text().await.unwrap().contains("<div id=\"app\">"),
            "{path}"
        );
    }
    for path in [
        "/api/v1/nope",
        "/api/v2/nope",
        "/prometheus/api/v1/nope",
        "/loki/api/v1/push",
        "/v1/nope",
    ] {
        let resp = get(&format!("{}{path}", server.http), "identity").await;
        assert_eq!(resp.status(), 404, "{path}");
        let body: serde_json::Value = resp.json().await.expect("a JSON 404");
        assert!(
            body["error"].as_str().unwrap().contains(path),
            "{path}: {body}"
        );
    }
    let info: serde_json::Value = raw_client()
        .get(format!("{}/api/v1/buildinfo", server.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
}

/// `tests/ui/` with its packages, or `None` (skip) — a failure under `CI=true`.
fn browser_test_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !dir.join("node_modules/playwright-core").is_dir()
        || !dir.join("node_modules/axe-core").is_dir()
    {
        Some("tests/ui/node_modules (run `npm ci` in tests/ui)".to_string())
    } else if !Path::new(&chromium).exists() {
        Some(format!("{chromium} (apt-get install chromium)"))
    } else {
        None
    };
    if let Some(what) = missing {
        assert!(!ci, "browser tests: {what} is missing; .ci/run installs it");
        eprintln!("skipping the browser tests: {what} is missing");
        return None;
    }
    Some(dir)
}

/// The Alerts area's server: a log rule that fires, one that stays pending, an escalation
/// policy paging the on-call schedule by e-mail (to `smtp`), then carol 45 s later.
/// It also probes `127.0.0.1:{check_port}` (TCP, every second), which the checks test opens
/// and closes, and shows it on a public status page.
fn start_alerting(dir: &Path, smtp_port: u16, check_port: u16) -> Server {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: checkout\n    interval: 1s\n    rules:\n\
         \x20     - alert: CheckoutErrors\n\
         \x20       logs: { query: 'level:error service:checkout', window: 10m, condition: '> 2' }\n\
         \x20       labels: { severity: page, service: checkout }\n\
         \x20       annotations:\n\
         \x20         summary: '{{ $value }} checkout errors in 10m'\n\
         \x20         runbook_url: 'https://runbooks.example.com/checkout'\n\
         \x20     - alert: CheckoutSlow\n\
         \x20       for: 1h\n\
         \x20       logs: { query: 'level:warn service:checkout', window: 10m, condition: '> 0' }\n",
    )
    .expect("rules");
    let config = format!(
        r#"
[[checks]]
id = "web"
kind = "tcp"
target = "127.0.0.1:{check_port}"
interval_secs = 1
timeout_secs = 1
fail_after = 1
recover_after = 1

[status_page]
public = true
title = "Acme status"

[[alerting.slos]]
name = "web-availability"
description = "The web front door answers"
objective = 99.9
window = "30d"
sli = {{ check = "web" }}

[alerting.rules]
files = ["{rules}"]

[alerting.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Pharos <pharos@example.com>"

[[alerting.receivers]]
name = "checkout-oncall"

[alerting.route]
receiver = "checkout-oncall"
group_by = ["alertname"]
group_wait = "0s"
group_interval = "1s"
repeat_interval = "1h"

# The SLO's burn-rate alerts (the checks test takes its check down) go to a receiver of
# their own, not to the pager the incidents test follows.
[[alerting.route.routes]]
matchers = ['slo=~".+"']
receiver = "slo-tickets"

[[alerting.receivers]]
name = "slo-tickets"

[[alerting.escalation.schedules]]
name = "primary"
time_zone = "UTC"
rotation = {{ participants = ["Alice <alice@example.com>", "Bob <bob@example.com>"], handoff = "monday 09:00", start = "2026-01-05" }}

[[alerting.escalation.policies]]
name = "checkout"
receivers = ["checkout-oncall"]

[[alerting.escalation.policies.steps]]
delay = "45s"
targets = [{{ schedule = "primary" }}]

[[alerting.escalation.policies.steps]]
targets = [{{ email = "carol@example.com" }}]
"#,
        rules = rules.display()
    );
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).expect("config");
    let path = path.display().to_string();
    Server::start_in(
        bin(),
        &dir.join("data"),
        &[
            ("PHAROS_CONFIG", path.as_str()),
            ("PHAROS_INDEX__COMMIT_INTERVAL_MS", "100"),
        ],
    )
    .expect("start the alerting server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_tests_pass_against_the_real_binary() {
    let Some(node) = tool_from("node", "nodejs") else {
        return;
    };
    let Some(dir) = browser_test_dir() else {
        return;
    };
    let server = start(&[]);
    let token = "ui-test-token";
    let with_token = start(&[("PHAROS_AUTH__API_TOKEN", token)]);
    let smtp = TestSmtpServer::start().await.expect("smtp");
    let alerting_dir = tempfile::tempdir().expect("tempdir");
    let check_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let alerting = start_alerting(alerting_dir.path(), smtp.port(), check_port);
    let mut cmd = Command::new(&node);
    cmd.current_dir(&dir)
        // A stuck test fails after ten minutes instead of holding CI (the limit also bounds
        // the whole file, which takes about two).
        .args([
            "--test",
            "--test-reporter=spec",
            "--test-timeout=600000",
            "ui.test.mjs",
        ])
        .env("PHAROS_URL", &server.http)
        .env("PHAROS_TOKEN_URL", &with_token.http)
        .env("PHAROS_TOKEN", token)
        .env("PHAROS_ALERTS_URL", &alerting.http)
        .env("PHAROS_CHECK_PORT", check_port.to_string());
    // Blocking for minutes: off the runtime, which serves the SMTP server meanwhile.
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("running node"))
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser tests failed:\n{stdout}\n{stderr}\nserver log:\n{}\nalerting server log:\n{}",
        server.log(),
        alerting.log()
    );

    // The incident acknowledged in the browser: its first step paged the on-call person, and
    // nothing was sent after, not even when the second step would have been due.
    let next_due = stdout
        .lines()
        .find_map(|l| l.split_once("INCIDENT ").map(|(_, rest)| rest.to_string()))
        .and_then(|rest| rest.split_whitespace().nth(1).map(str::to_string))
        .expect("the incidents test prints the incident");
    let due: jiff::Timestamp = next_due.parse().expect("an RFC 3339 time");
    let wait = (due.as_millisecond() - jiff::Timestamp::now().as_millisecond()).max(0) + 3000;
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    let mut sent = Vec::new();
    while let Some(m) = smtp.next_message(Duration::from_millis(200)).await {
        sent.push(m.rcpt_to.join(","));
    }
    assert!(
        sent.iter()
            .any(|r| r == "alice@example.com" || r == "bob@example.com"),
        "the on-call person was paged: {sent:?}"
    );
    assert!(
        !sent.iter().any(|r| r.contains("carol")),
        "the second step (carol) never ran after the acknowledgement: {sent:?}"
    );
    // `PHAROS_UI_SCREENSHOTS=docs/ui cargo test --test e2e ui::` refreshes docs/ui.md's pictures.
    if let Ok(out) = std::env::var("PHAROS_UI_SCREENSHOTS") {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join(out);
        let shots = Command::new(&node)
            .current_dir(&dir)
            .arg("screenshots.mjs")
            .arg(&out)
            .env("PHAROS_URL", &server.http)
            .env("PHAROS_ALERTS_URL", &alerting.http)
            .output()
            .expect("running node");
        assert!(
            shots.status.success(),
            "screenshots failed:\n{}",
            String::from_utf8_lossy(&shots.stderr)
        );
    }
}
