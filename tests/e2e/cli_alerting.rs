//! `pharos alerts`, `pharos silence` and `pharos ack` run as real processes against a real
//! server that alerts were POSTed to: a CLI silence mutes the alert in the v2 API and in the
//! CLI's own listing, expiring it un-mutes it, bad matchers and unknown ids exit 2 with a
//! clear message, the API token comes from `PHAROS_API_TOKEN`, and acknowledging by alert
//! fingerprint stops a real escalation (whose page reaches a webhook served by the test).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cli::{pharos, run, Ran};
use super::common::{client, start, Server};

const WAIT: Duration = Duration::from_secs(20);

/// `pharos ARGS… --server URL`, with extra environment.
fn cli(server: &Server, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = pharos(args);
    cmd.args(["--server", &server.http]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn ok(r: &Ran, what: &str) {
    assert_eq!(
        r.code,
        Some(0),
        "{what}: stderr {}\nstdout {}",
        r.stderr,
        r.stdout
    );
}

fn json_out(r: &Ran) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", r.stdout))
}

async fn post_alerts(server: &Server, alerts: Value) {
    let resp = client()
        .post(format!("{}/api/v2/alerts", server.http))
        .json(&alerts)
        .send()
        .await
        .expect("POST /api/v2/alerts");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

async fn get_json(server: &Server, path: &str, token: Option<&str>) -> Value {
    let mut req = client().get(format!("{}{path}", server.http));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("GET");
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("JSON")
}

/// The alert named `name` in `GET /api/v2/alerts`.
fn find<'a>(alerts: &'a Value, name: &str) -> &'a Value {
    alerts
        .as_array()
        .and_then(|a| a.iter().find(|a| a["labels"]["alertname"] == name))
        .unwrap_or_else(|| panic!("no {name} in {alerts}"))
}

/// Waits until the dispatcher has seen every posted alert (none `unprocessed`).
async fn wait_processed(server: &Server, want: usize, token: Option<&str>) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let alerts = get_json(server, "/api/v2/alerts", token).await;
        let list = alerts.as_array().cloned().unwrap_or_default();
        if list.len() >= want && list.iter().all(|a| a["status"]["state"] != "unprocessed") {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "alerts: {alerts}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn two_alerts() -> Value {
    json!([
        {"labels": {"alertname": "DiskFull", "team": "db", "env": "prod"},
         "annotations": {"summary": "disk at 97%"}},
        {"labels": {"alertname": "CpuHigh", "team": "web"}}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_mute_and_unmute_alerts() {
    let server = start(&[]);
    post_alerts(&server, two_alerts()).await;
    let alerts = wait_processed(&server, 2, None).await;
    assert_eq!(find(&alerts, "DiskFull")["status"]["state"], "active");

    // Both listed, oldest first, in the table and as JSON.
    let r = cli(&server, &["alerts"], &[]);
    ok(&r, "alerts");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[0].starts_with("ALERTNAME  STATE "), "{}", lines[0]);
    assert!(
        lines[0].ends_with("LABELS                         FINGERPRINT")
            || lines[0].contains("FINGERPRINT")
    );
    let disk = lines
        .iter()
        .find(|l| l.starts_with("DiskFull"))
        .expect("DiskFull row");
    assert!(
        disk.contains(" active ") && disk.contains("env=\"prod\" team=\"db\""),
        "{disk}"
    );
    let fp = find(&alerts, "DiskFull")["fingerprint"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(disk.ends_with(&fp), "{disk} / {fp}");
    let r = cli(&server, &["alerts", "team=db", "-o", "json"], &[]);
    ok(&r, "alerts team=db");
    let listed = json_out(&r);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["fingerprint"], fp.as_str());

    // Silence DiskFull (a regex matcher too): only the id on stdout.
    let r = cli(
        &server,
        &[
            "silence",
            "add",
            "alertname=DiskFull",
            "team=~\"db|infra\"",
            "--duration",
            "2h",
            "--comment",
            "disk swap",
            "--author",
            "alice",
        ],
        &[],
    );
    ok(&r, "silence add");
    let id = r.stdout.trim().to_string();
    assert_eq!(id.len(), 36, "a UUID: {:?}", r.stdout);

    // The v2 API: suppressed by that silence; the other alert untouched.
    let alerts = get_json(&server, "/api/v2/alerts", None).await;
    let d = find(&alerts, "DiskFull");
    assert_eq!(d["status"]["state"], "suppressed", "{d}");
    assert_eq!(d["status"]["silencedBy"], json!([id]), "{d}");
    assert_eq!(find(&alerts, "CpuHigh")["status"]["state"], "active");
    let s = get_json(&server, &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(s["createdBy"], "alice");
    let ends = pharos_tests::gen::parse_rfc3339_ns(s["endsAt"].as_str().unwrap_or(""));
    let starts = pharos_tests::gen::parse_rfc3339_ns(s["startsAt"].as_str().unwrap_or(""));
    // Two hours from the CLI's now; the server moves a start in the past to its own now,
    // which is a few milliseconds later.
    let secs = ends
        .zip(starts)
        .map(|(e, s)| (e - s) as f64 / 1e9)
        .unwrap_or(0.0);
    assert!((7190.0..=7200.0).contains(&secs), "{secs} s: {s}");

    // The CLI hides it by default and shows it, suppressed, with --silenced.
    let r = cli(&server, &["alerts"], &[]);
    ok(&r, "alerts");
    assert!(
        !r.stdout.contains("DiskFull") && r.stdout.contains("CpuHigh"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("--silenced"), "{}", r.stderr);
    let r = cli(&server, &["alerts", "--silenced"], &[]);
    ok(&r, "alerts --silenced");
    let disk = r
        .stdout
        .lines()
        .find(|l| l.starts_with("DiskFull"))
        .unwrap_or_default();
    assert!(disk.contains("suppressed (silenced)"), "{}", r.stdout);
    let r = cli(
        &server,
        &["alerts", "DiskFull", "--silenced", "-o", "json"],
        &[],
    );
    ok(&r, "alerts DiskFull --silenced -o json");
    assert_eq!(json_out(&r)[0]["status"]["silencedBy"], json!([id]));

    // Listed with its matchers, state, author and comment.
    let r = cli(&server, &["silence", "list"], &[]);
    ok(&r, "silence list");
    // Fitted to COLUMNS=100 without cutting the id (it is what `expire` takes).
    assert!(
        r.stdout.lines().all(|l| l.chars().count() <= 100),
        "fits COLUMNS=100: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&format!("{id}  "))),
        "{}",
        r.stdout
    );
    let r = cli(&server, &["silence", "list"], &[("COLUMNS", "300")]);
    ok(&r, "silence list");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("ID ") && lines[0].contains("MATCHERS"),
        "{}",
        lines[0]
    );
    for want in [
        id.as_str(),
        "alertname=\"DiskFull\" team=~\"db|infra\"",
        " active ",
        "alice",
        "disk swap",
    ] {
        assert!(lines[1].contains(want), "{want} not in {}", lines[1]);
    }
    let r = cli(
        &server,
        &["silence", "list", "alertname=DiskFull", "-o", "json"],
        &[],
    );
    ok(&r, "silence list filtered");
    let listed = json_out(&r);
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed[0]["comment"], "disk swap");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let r = cli(
        &server,
        &["silence", "list", "alertname=Other", "-o", "json"],
        &[],
    );
    assert_eq!(json_out(&r), json!([]));

    // Expire: active again, in the API and the CLI.
    let r = cli(&server, &["silence", "expire", &id], &[]);
    ok(&r, "silence expire");
    assert_eq!(r.stdout, format!("expired {id}\n"));
    let alerts = get_json(&server, "/api/v2/alerts", None).await;
    let d = find(&alerts, "DiskFull");
    assert_eq!(d["status"]["state"], "active", "{d}");
    let r = cli(&server, &["alerts"], &[]);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("DiskFull") && l.contains(" active ")),
        "{}",
        r.stdout
    );
    let r = cli(&server, &["silence", "list"], &[]);
    ok(&r, "silence list after expiry");
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.contains("no active or pending silences"),
        "{}",
        r.stderr
    );
    let r = cli(
        &server,
        &["silence", "list", "--expired", "-o", "json"],
        &[],
    );
    assert_eq!(
        json_out(&r)[0]["status"]["state"],
        "expired",
        "{}",
        r.stdout
    );

    // Refusals: already expired, and an id that never existed (exit 2, the server's reason).
    let r = cli(&server, &["silence", "expire", &id], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("already expired"), "{}", r.stderr);
    let r = cli(
        &server,
        &["silence", "expire", "00000000-0000-0000-0000-000000000000"],
        &[],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("not found") && r.stderr.contains("404"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_matchers_and_unknown_ids_are_refused_clearly() {
    let server = start(&[]);
    post_alerts(&server, two_alerts()).await;

    // A bad regex: refused before any request, naming the position, with a caret.
    let r = cli(
        &server,
        &[
            "silence",
            "add",
            "alertname=DiskFull",
            "team=~\"db|(\"",
            "--comment",
            "x",
        ],
        &[],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(
        lines[0].starts_with("pharos: bad matcher")
            && lines[0].contains("(argument 2) at position 6"),
        "{}",
        r.stderr
    );
    assert_eq!(
        lines[1..],
        ["  team=~\"db|(\"", "        ^"],
        "{}",
        r.stderr
    );
    assert_eq!(get_json(&server, "/api/v2/silences", None).await, json!([]));
    let r = cli(&server, &["alerts", "team<>db"], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("at position 4: expected one of"),
        "{}",
        r.stderr
    );
    // clap's own usage error (also 2): --duration and --end together.
    let r = cli(
        &server,
        &[
            "silence",
            "add",
            "a=b",
            "--comment",
            "x",
            "-d",
            "1h",
            "--end",
            "2099-01-01T00:00:00Z",
        ],
        &[],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);

    // Nothing to acknowledge: exit 2 with what was asked and the server's reason.
    let r = cli(&server, &["ack", "0123456789abcdef"], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("nothing open to acknowledge with id 0123456789abcdef")
            && r.stderr
                .contains("no open incident contains alert 0123456789abcdef"),
        "{}",
        r.stderr
    );
    let r = cli(&server, &["ack", "nosuchincident"], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("no incident \"nosuchincident\""),
        "{}",
        r.stderr
    );
    let r = cli(&server, &["ack", "../silences"], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("not an incident id"), "{}", r.stderr);

    // No server there: exit 1, saying so.
    let r = run(&mut pharos(&["alerts", "--server", "http://127.0.0.1:9"]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach the Pharos server"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_token_comes_from_the_environment() {
    let server = start(&[("PHAROS_AUTH__API_TOKEN", "s3cret-token")]);
    post_alerts(&server, two_alerts()).await;
    wait_processed(&server, 2, Some("s3cret-token")).await;

    let r = cli(&server, &["alerts"], &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("requires an API token: set PHAROS_API_TOKEN"),
        "{}",
        r.stderr
    );
    let r = cli(
        &server,
        &["silence", "list"],
        &[("PHAROS_API_TOKEN", "wrong")],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("refused the API token from PHAROS_API_TOKEN"),
        "{}",
        r.stderr
    );

    let token = [("PHAROS_API_TOKEN", "s3cret-token")];
    // No --author: $USER is the author.
    let r = cli(
        &server,
        &["silence", "add", "CpuHigh", "--comment", "deploy"],
        &[token[0], ("USER", "carol")],
    );
    ok(&r, "silence add with token");
    let id = r.stdout.trim().to_string();
    let r = cli(&server, &["silence", "list", "-o", "json"], &token);
    ok(&r, "silence list with token");
    assert_eq!(json_out(&r)[0]["createdBy"], "carol", "{}", r.stdout);
    let r = cli(&server, &["alerts", "--silenced", "-o", "json"], &token);
    ok(&r, "alerts with token");
    let alerts = json_out(&r);
    assert_eq!(
        find(&alerts, "CpuHigh")["status"]["silencedBy"],
        json!([id])
    );
    assert_eq!(find(&alerts, "DiskFull")["status"]["state"], "active");

    // --token-file as well.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret-token\n").expect("write token");
    let file = file.to_string_lossy().into_owned();
    let r = cli(
        &server,
        &["silence", "expire", &id, "--token-file", &file],
        &[],
    );
    ok(&r, "silence expire --token-file");
}

/// A webhook receiver: records every payload it is sent.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(v): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_by_fingerprint_stops_an_escalation() {
    let (hook, pages) = webhook().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("pharos.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[alerting.route]
receiver = "pager"
group_by = ["alertname"]
group_wait = "0s"

[[alerting.receivers]]
name = "pager"

[[alerting.escalation.policies]]
name = "db-oncall"
receivers = ["pager"]

[[alerting.escalation.policies.steps]]
delay = "1h"
targets = [{{ webhook = "{hook}" }}]
"#
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let server = start(&[("PHAROS_CONFIG", &config)]);
    post_alerts(
        &server,
        json!([{"labels": {"alertname": "DiskFull", "team": "db"}}]),
    )
    .await;

    // The incident opens and its first step pages the webhook.
    let deadline = Instant::now() + WAIT;
    let incident = loop {
        let list = get_json(&server, "/api/v1/incidents", None).await;
        if let Some(i) = list["incidents"].as_array().and_then(|l| l.first()) {
            break i.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no incident: {list}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let incident_id = incident["id"].as_str().unwrap_or("").to_string();
    assert_eq!(incident["state"], "open", "{incident}");
    while pages.lock().expect("lock").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the webhook was not paged\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = pages.lock().expect("lock")[0].clone();
    assert_eq!(
        page["alerts"][0]["labels"]["alertname"], "DiskFull",
        "{page}"
    );

    let r = cli(&server, &["alerts", "incidents"], &[]);
    ok(&r, "alerts incidents");
    let row = r.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(&incident_id)
            && row.contains(" open ")
            && row.contains("alertname=\"DiskFull\""),
        "{}",
        r.stdout
    );

    let alerts = get_json(&server, "/api/v2/alerts", None).await;
    let fp = find(&alerts, "DiskFull")["fingerprint"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(incident["alerts"], json!([fp]), "{incident}");

    let r = cli(&server, &["ack", &fp, "--by", "alice"], &[]);
    ok(&r, "ack");
    assert_eq!(
        r.stdout,
        format!(
            "acknowledged incident {incident_id} {{alertname=\"DiskFull\"}} (1 alert) by alice\n"
        )
    );
    let list = get_json(&server, "/api/v1/incidents", None).await;
    assert_eq!(list["incidents"][0]["acked_by"], "alice", "{list}");
    assert_eq!(list["incidents"][0]["state"], "acknowledged", "{list}");
    let r = cli(&server, &["alerts", "incidents", "-o", "json"], &[]);
    ok(&r, "alerts incidents -o json");
    assert_eq!(json_out(&r)[0]["acked_by"], "alice");

    // Acknowledging again by the incident id succeeds and keeps the first acknowledger,
    // which the output says rather than claiming the new name.
    let r = cli(&server, &["ack", &incident_id, "--by", "bob"], &[]);
    ok(&r, "second ack");
    assert!(r.stdout.ends_with("by alice\n"), "{}", r.stdout);
}
