//! Pharos as Prometheus's Alertmanager: a real Prometheus (Debian's `prometheus`) evaluates a
//! rule and sends the alert to `POST /api/v2/alerts`; `amtool` (Debian's
//! `prometheus-alertmanager`) lists it, silences it, and expires the silence through the
//! v2 API. Both tools are installed by `.ci/run`; without them the tests fail under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{client, start, tool, tool_from, Server};

struct Prometheus {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

/// A Prometheus that evaluates one always-true rule every second and sends its alerts to
/// Pharos (API v2, the only version Prometheus 2.x/3.x speaks).
fn prometheus_alerting_to(bin: PathBuf, pharos: &Server) -> Prometheus {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = pharos_tests::harness::free_port().expect("port");
    let am = pharos.http.trim_start_matches("http://");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: demo\n    rules:\n      - alert: DiskAlmostFull\n        expr: vector(93)\n        labels:\n          severity: page\n          team: storage\n        annotations:\n          summary: 'disk at {{ $value }}%'\n",
    )
    .expect("rules");
    let config = format!(
        "global:\n  evaluation_interval: 1s\n\
         rule_files: ['{}']\n\
         alerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets: ['{am}']\n",
        dir.path().join("rules.yml").display()
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
        // The first send can happen before the Alertmanager list is discovered (it is then
        // dropped); re-send every second instead of every minute.
        .arg("--rules.alert.resend-delay=1s")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prometheus { child, dir }
}

/// Runs amtool: (success, stdout). stderr (amtool warns that Pharos's version is not an
/// Alertmanager version) is appended to the output only on failure.
fn amtool(bin: &Path, pharos: &Server, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin)
        .arg(format!("--alertmanager.url={}", pharos.http))
        .args(args)
        .output()
        .expect("run amtool");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    (out.status.success(), text)
}

async fn v2_alerts(pharos: &Server) -> Vec<Value> {
    let resp = client()
        .get(format!("{}/api/v2/alerts", pharos.http))
        .send()
        .await
        .expect("GET /api/v2/alerts");
    assert_eq!(resp.status(), 200);
    resp.json::<Vec<Value>>().await.expect("alerts JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sends_alerts_and_amtool_lists_and_silences_them() {
    let Some(prom_bin) = tool("prometheus") else {
        return;
    };
    let Some(amtool_bin) = tool_from("amtool", "prometheus-alertmanager") else {
        return;
    };
    let pharos = start(&[]);
    let prom = prometheus_alerting_to(prom_bin, &pharos);

    // Prometheus evaluates every second and sends at once; allow for its start-up.
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let alerts = v2_alerts(&pharos).await;
        if let Some(a) = alerts
            .into_iter()
            .find(|a| a["labels"]["alertname"] == "DiskAlmostFull")
        {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no alert from Prometheus within 60 s; prometheus log:\n{}\npharos log:\n{}",
            prom.log(),
            pharos.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["labels"]["team"], "storage");
    assert_eq!(alert["annotations"]["summary"], "disk at 93%");
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(alert["fingerprint"].as_str().map(str::len), Some(16));
    assert!(alert["generatorURL"]
        .as_str()
        .is_some_and(|u| u.contains("/graph?g0.expr=")));
    assert!(alert["receivers"].as_array().is_some_and(|r| !r.is_empty()));

    // amtool reads the same alert through the v2 API.
    let (ok, out) = amtool(&amtool_bin, &pharos, &["alert", "query", "-o", "extended"]);
    assert!(ok, "amtool alert query: {out}");
    assert!(out.contains("DiskAlmostFull"), "{out}");
    assert!(
        out.contains("team=\"storage\"") || out.contains("team=storage"),
        "{out}"
    );

    // amtool adds a silence: the alert turns suppressed and amtool lists the silence.
    let (ok, id) = amtool(
        &amtool_bin,
        &pharos,
        &[
            "silence",
            "add",
            "alertname=DiskAlmostFull",
            "team=~stor.*",
            "--duration=1h",
            "--author=oncall@example.com",
            "--comment=disk replacement",
        ],
    );
    assert!(ok, "amtool silence add: {id}");
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let (ok, out) = amtool(
        &amtool_bin,
        &pharos,
        &["silence", "query", "-o", "extended"],
    );
    assert!(ok, "amtool silence query: {out}");
    assert!(
        out.contains(&id) && out.contains("disk replacement"),
        "{out}"
    );
    let alerts = v2_alerts(&pharos).await;
    let a = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "DiskAlmostFull")
        .expect("alert still there");
    assert_eq!(a["status"]["state"], "suppressed", "{a}");
    assert_eq!(a["status"]["silencedBy"][0], id.as_str());
    let (ok, out) = amtool(&amtool_bin, &pharos, &["alert", "query", "--silenced"]);
    assert!(ok && out.contains("DiskAlmostFull"), "{out}");

    // Expire it: active again, and the silence shows expired.
    let (ok, out) = amtool(&amtool_bin, &pharos, &["silence", "expire", &id]);
    assert!(ok, "amtool silence expire: {out}");
    let alerts = v2_alerts(&pharos).await;
    let a = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "DiskAlmostFull")
        .expect("alert still there");
    assert_eq!(a["status"]["state"], "active", "{a}");
    let s: Value = client()
        .get(format!("{}/api/v2/silence/{id}", pharos.http))
        .send()
        .await
        .expect("get silence")
        .json()
        .await
        .expect("silence JSON");
    assert_eq!(s["status"]["state"], "expired", "{s}");

    // The status endpoint answers in the shape amtool's `config show` reads.
    let (ok, out) = amtool(&amtool_bin, &pharos, &["config", "show"]);
    assert!(ok, "amtool config show: {out}");
    drop(prom);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_alerts_validates_and_keeps_the_valid_ones() {
    let pharos = start(&[]);
    let body = serde_json::json!([
        {"labels": {"alertname": "Good", "job": "api"}, "annotations": {"summary": "ok"}},
        {"labels": {}},
        {"labels": {"alertname": "Bad", "bad-name": "x"}}
    ]);
    let resp = client()
        .post(format!("{}/api/v2/alerts", pharos.http))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.expect("body");
    assert!(
        text.contains("label pair") && text.contains("bad-name"),
        "{text}"
    );
    let alerts = v2_alerts(&pharos).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["labels"]["alertname"], "Good");
    // No end given: Alertmanager's resolve timeout (5 m) applies.
    let starts = pharos_tests::gen::parse_rfc3339_ns(alerts[0]["startsAt"].as_str().unwrap_or(""));
    let ends = pharos_tests::gen::parse_rfc3339_ns(alerts[0]["endsAt"].as_str().unwrap_or(""));
    match (starts, ends) {
        (Some(s), Some(e)) => assert!(
            (e - s - 300_000_000_000).abs() < 5_000_000_000,
            "{alerts:?}"
        ),
        _ => panic!("times: {alerts:?}"),
    }
    // Not JSON at all: a clear 400.
    let resp = client()
        .post(format!("{}/api/v2/alerts", pharos.http))
        .header("content-type", "application/json")
        .body("[{")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
}
