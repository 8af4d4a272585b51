//! Alert rules through the real binary: a log rule fires on ingested records, rule files are
//! reloaded by SIGHUP and `POST /-/reload` (a bad file keeps the old rules and names its
//! line), and the SLO and on-call views answer.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, client, post_ndjson, Server};

const RULES_V1: &str = "groups:\n  - name: api\n    interval: 1s\n    rules:\n      - alert: ApiErrors\n        logs: { query: 'level:error service:api', window: 5m, condition: '> 2' }\n        labels:\n          severity: ticket\n        annotations:\n          summary: '{{ $value }} errors in 5m'\n";

const RULES_V2: &str = "groups:\n  - name: api\n    interval: 1s\n    rules:\n      - alert: ApiErrors\n        logs: { query: 'level:error service:api', window: 5m, condition: '> 2' }\n      - alert: ApiSlow\n        logs:\n          query: 'service:api | stats max(duration_ms) as worst by service'\n          window: 5m\n          condition: '> 1000'\n";

fn config(dir: &std::path::Path) -> String {
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES_V1).expect("rules");
    format!(
        "[[checks]]\nid = \"web\"\nkind = \"heartbeat\"\nperiod_secs = 3600\n\n\
         [alerting.rules]\nfiles = [\"{}\"]\n\n\
         [[alerting.slos]]\nname = \"web-availability\"\nobjective = 99.9\nwindow = \"30d\"\nsli = {{ check = \"web\" }}\n\n\
         [[alerting.escalation.schedules]]\nname = \"primary\"\ntime_zone = \"UTC\"\n\
         rotation = {{ participants = [\"Alice <alice@example.com>\", \"bob@example.com\"], handoff = \"monday 09:00\", start = \"2026-01-05\" }}\n",
        rules.display()
    )
}

async fn get(server: &Server, path: &str) -> Value {
    let resp = client()
        .get(format!("{}{path}", server.http))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.expect("json")
}

async fn rule_names(server: &Server) -> Vec<String> {
    let v = get(server, "/api/v1/rules").await;
    let mut names: Vec<String> = v["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["name"].as_str().map(String::from))
        // The SLO's generated burn-rate rules are listed too; these tests follow the files.
        .filter(|n| !n.starts_with("SLO"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_rule_fires_rules_reload_and_views_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pharos.toml");
    std::fs::write(&path, config(dir.path())).expect("config");
    let path_env = path.display().to_string();
    let mut server = Server::start_in(
        bin(),
        &dir.path().join("data"),
        &[
            ("PHAROS_CONFIG", path_env.as_str()),
            ("PHAROS_INDEX__COMMIT_INTERVAL_MS", "100"),
        ],
    )
    .expect("start");

    // Two errors: below the threshold; a third: the rule fires.
    let line = |svc: &str, level: &str| {
        format!(
            "{{\"level\":\"{level}\",\"service\":\"{svc}\",\"msg\":\"x\",\"duration_ms\":1500}}\n"
        )
    };
    let body = format!(
        "{}{}{}",
        line("api", "error"),
        line("api", "error"),
        line("web", "error")
    );
    assert_eq!(post_ndjson(&server, body).await.0, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let alerts = get(&server, "/api/v2/alerts").await;
    assert_eq!(alerts.as_array().map(Vec::len), Some(0), "{alerts}");
    assert_eq!(post_ndjson(&server, line("api", "error")).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let alert = loop {
        let alerts = get(&server, "/api/v2/alerts").await;
        if let Some(a) = alerts.as_array().and_then(|a| a.first()).cloned() {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no alert; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(alert["labels"]["alertname"], "ApiErrors");
    assert_eq!(alert["labels"]["severity"], "ticket");
    assert_eq!(alert["annotations"]["summary"], "3 errors in 5m");

    // A new rule file, reloaded by SIGHUP.
    assert_eq!(rule_names(&server).await, vec!["ApiErrors"]);
    std::fs::write(dir.path().join("rules.yml"), RULES_V2).expect("rules v2");
    let pid = server.pid().expect("pid");
    pharos_tests::harness::signal(pid, "HUP").expect("SIGHUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rule_names(&server).await != vec!["ApiErrors", "ApiSlow"] {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The per-row stats rule fires with the `by` column as a label.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alerts = get(&server, "/api/v2/alerts?filter=alertname%3D%22ApiSlow%22").await;
        if let Some(a) = alerts.as_array().and_then(|a| a.first()) {
            assert_eq!(a["labels"]["service"], "api", "{a}");
            break;
        }
        assert!(Instant::now() < deadline, "ApiSlow did not fire");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A broken file: POST /-/reload names the line, and the old rules keep running.
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: api\n    rules:\n      - alert: Bad\n        expr: rate(x[5m]\n",
    )
    .expect("bad rules");
    let resp = client()
        .post(format!("{}/-/reload", server.http))
        .send()
        .await
        .expect("reload");
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.expect("body");
    assert!(text.contains("rules.yml:5"), "{text}");
    assert_eq!(rule_names(&server).await, vec!["ApiErrors", "ApiSlow"]);

    // SLOs and on-call answer.
    let slos = get(&server, "/api/v1/slos").await;
    assert_eq!(slos["slos"][0]["name"], "web-availability", "{slos}");
    let oncall = get(&server, "/api/v1/oncall").await;
    assert_eq!(oncall["schedules"][0]["schedule"], "primary", "{oncall}");
    assert!(oncall["schedules"][0]["current"]["email"]
        .as_str()
        .is_some_and(|e| e.ends_with("@example.com")));

    // Firing alerts survive a restart (not re-fired as new: the same start). A bad rule file
    // stops start-up, as in Prometheus, so the good one goes back first.
    std::fs::write(dir.path().join("rules.yml"), RULES_V2).expect("rules v2");
    let before = get(&server, "/api/v2/alerts?filter=alertname%3D%22ApiErrors%22").await;
    server.terminate(Duration::from_secs(20)).expect("stop");
    server.restart().expect("restart");
    let after = get(&server, "/api/v2/alerts?filter=alertname%3D%22ApiErrors%22").await;
    assert_eq!(
        before[0]["startsAt"], after[0]["startsAt"],
        "{before} vs {after}"
    );
}

/// `pharos ARGS… --server URL`.
fn cli(server: &Server, args: &[&str]) -> crate::cli::Ran {
    let mut cmd = crate::cli::pharos(args);
    cmd.args(["--server", &server.http]);
    crate::cli::run(&mut cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_who_is_on_call_and_an_override_changes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pharos.toml");
    std::fs::write(&path, config(dir.path())).expect("config");
    let path_env = path.display().to_string();
    let server = Server::start_in(
        bin(),
        &dir.path().join("data"),
        &[("PHAROS_CONFIG", path_env.as_str())],
    )
    .expect("start pharos");

    let now = cli(&server, &["oncall", "now", "-o", "json"]);
    assert_eq!(now.code, Some(0), "{}", now.stderr);
    let v: Value = serde_json::from_str(&now.stdout).expect("json");
    let before = v[0]["current"]["email"]
        .as_str()
        .expect("someone")
        .to_string();
    assert!(before.ends_with("@example.com"), "{v}");

    let add = cli(
        &server,
        &[
            "oncall",
            "override",
            "add",
            "primary",
            "Carol <carol@example.com>",
            "--start",
            "now-1m",
            "--end",
            "now+2h",
            "--comment",
            "swap",
            "--author",
            "dana",
        ],
    );
    assert_eq!(add.code, Some(0), "{} {}", add.stderr, add.stdout);
    let id = add.stdout.trim().to_string();
    let table = cli(&server, &["oncall", "now"]);
    assert!(
        table.stdout.contains("Carol (override)"),
        "{}",
        table.stdout
    );
    let list = cli(
        &server,
        &["oncall", "override", "list", "primary", "-o", "json"],
    );
    let v: Value = serde_json::from_str(&list.stdout).expect("json");
    assert_eq!(v[0]["id"], id.as_str(), "{v}");
    assert_eq!(
        (v[0]["created_by"].as_str(), v[0]["comment"].as_str()),
        (Some("dana"), Some("swap"))
    );

    // Overlapping the first: refused (exit 2) with the server's reason.
    let clash = cli(
        &server,
        &[
            "oncall",
            "override",
            "add",
            "primary",
            "eve@example.com",
            "--start",
            "now",
            "--end",
            "now+1h",
        ],
    );
    assert_eq!(clash.code, Some(2), "{}", clash.stderr);
    assert!(clash.stderr.contains("overlap"), "{}", clash.stderr);
    let bad = cli(&server, &["oncall", "override", "list", "../x"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);

    let rm = cli(&server, &["oncall", "override", "rm", "primary", &id]);
    assert_eq!(rm.code, Some(0), "{}", rm.stderr);
    let now = cli(&server, &["oncall", "now", "-o", "json"]);
    let v: Value = serde_json::from_str(&now.stdout).expect("json");
    assert_eq!(v[0]["current"]["email"], before.as_str(), "{v}");
}
