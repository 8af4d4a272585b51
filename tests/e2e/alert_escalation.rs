//! From a failing health check to the on-call person's inbox, with the real binary: the
//! check crosses `fail_after`, a `check:` rule fires, the route (group_wait 0s) hands the
//! group to an escalation policy, and e-mail goes to an SMTP server on loopback. Escalation
//! moves step by step until someone clicks the signed link in the e-mail; a restart in the
//! middle continues where it was (nobody is paged twice); recovery sends the resolved notice
//! to everyone who was paged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_alertmanager::testing::smtp::{ReceivedMail, TestSmtpServer};
use serde_json::Value;

use crate::common::{bin, client, serve_health, Server};

fn write_config(dir: &std::path::Path, target_port: u16, smtp_port: u16) -> std::path::PathBuf {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: uptime\n    interval: 1h\n    rules:\n      - alert: WebDown\n        check: web\n        labels:\n          severity: page\n        annotations:\n          summary: 'web is down'\n          runbook_url: 'https://runbooks.example.com/web'\n",
    )
    .expect("rules");
    let config = format!(
        r#"
[[checks]]
id = "web"
kind = "http"
target = "http://127.0.0.1:{target_port}/health"
interval_secs = 1
timeout_secs = 1
fail_after = 2
recover_after = 1

[alerting.rules]
files = ["{rules}"]

[alerting.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Pharos <pharos@example.com>"

[[alerting.receivers]]
name = "web-oncall"

[alerting.route]
receiver = "web-oncall"
group_by = ["alertname"]
group_wait = "0s"
group_interval = "1s"
repeat_interval = "1h"

[[alerting.escalation.policies]]
name = "web"
receivers = ["web-oncall"]

[[alerting.escalation.policies.steps]]
delay = "4s"
targets = [{{ email = "alice@example.com" }}]

[[alerting.escalation.policies.steps]]
delay = "4s"
targets = [{{ email = "bob@example.com" }}]

[[alerting.escalation.policies.steps]]
delay = "4s"
targets = [{{ email = "carol@example.com" }}]

[[alerting.escalation.policies.steps]]
targets = [{{ email = "dave@example.com" }}]
"#,
        rules = rules.display()
    );
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).expect("config");
    path
}

struct Mail {
    to: Vec<String>,
    subject: String,
    text: String,
    html: String,
    at: Instant,
}

fn parse(m: &ReceivedMail) -> Mail {
    let msg = mail_parser::MessageParser::default()
        .parse(m.data.as_bytes())
        .expect("a MIME message");
    Mail {
        to: m.rcpt_to.clone(),
        subject: msg.subject().unwrap_or_default().to_string(),
        text: msg.body_text(0).map(|s| s.to_string()).unwrap_or_default(),
        html: msg.body_html(0).map(|s| s.to_string()).unwrap_or_default(),
        at: Instant::now(),
    }
}

async fn next_mail(smtp: &TestSmtpServer, within: Duration, server: &Server) -> Mail {
    match smtp.next_message(within).await {
        Some(m) => parse(&m),
        None => panic!("no e-mail within {within:?}; pharos log:\n{}", server.log()),
    }
}

/// No e-mail arrives for `quiet`.
async fn no_mail(smtp: &TestSmtpServer, quiet: Duration) {
    if let Some(m) = smtp.next_message(quiet).await {
        let m = parse(&m);
        panic!("unexpected e-mail to {:?}: {}", m.to, m.subject);
    }
}

/// The acknowledgement link in the plain-text body, re-pointed at the server's current
/// address (a restart moves it to a new port; the token is what matters).
fn ack_path(mail: &Mail) -> String {
    let line = mail
        .text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Acknowledge: "))
        .unwrap_or_else(|| panic!("no ack link in:\n{}", mail.text));
    let at = line.find("/api/v1/ack/").expect("ack path");
    line[at..].trim().to_string()
}

async fn incidents(server: &Server, open: bool) -> Vec<Value> {
    let v: Value = client()
        .get(format!("{}/api/v1/incidents?open={open}", server.http))
        .send()
        .await
        .expect("incidents")
        .json()
        .await
        .expect("json");
    v["incidents"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_failure_pages_escalates_survives_restart_acks_and_resolves() {
    let smtp = TestSmtpServer::start().await.expect("smtp");
    let healthy = Arc::new(AtomicBool::new(true));
    let target = serve_health(healthy.clone(), 500, "boom").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), target, smtp.port());
    let config_env = config.display().to_string();
    let mut server = Server::start_in(
        bin(),
        &dir.path().join("data"),
        &[("PHAROS_CONFIG", config_env.as_str())],
    )
    .expect("start pharos");

    // Healthy: nobody is paged.
    no_mail(&smtp, Duration::from_secs(3)).await;

    // Down: the second failing probe (fail_after = 2) decides it; alice is paged at once.
    healthy.store(false, Ordering::SeqCst);
    let broke = Instant::now();
    let alice = next_mail(&smtp, Duration::from_secs(10), &server).await;
    assert_eq!(alice.to, vec!["alice@example.com"]);
    assert!(
        alice.subject.contains("[FIRING:1] WebDown"),
        "{}",
        alice.subject
    );
    assert!(alice.at.duration_since(broke) < Duration::from_secs(5));
    for body in [&alice.text, &alice.html] {
        assert!(body.contains("web is down"), "{body}");
        assert!(body.contains("https://runbooks.example.com/web"), "{body}");
        assert!(body.contains("/api/v1/ack/"), "{body}");
    }
    assert!(
        alice.text.contains("severity") && alice.text.contains("page"),
        "{}",
        alice.text
    );
    let open = incidents(&server, true).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["policy"], "web");

    // Not acknowledged within the step's 4 s: bob, not before.
    let bob = next_mail(&smtp, Duration::from_secs(10), &server).await;
    assert_eq!(bob.to, vec!["bob@example.com"]);
    let gap = bob.at.duration_since(alice.at);
    assert!(
        gap >= Duration::from_millis(3_500) && gap < Duration::from_secs(7),
        "{gap:?}"
    );

    // Restart in the middle of the escalation: nobody is paged again, carol is next.
    server
        .terminate(Duration::from_secs(20))
        .expect("graceful stop");
    server.restart().expect("restart");
    let carol = next_mail(&smtp, Duration::from_secs(15), &server).await;
    assert_eq!(carol.to, vec!["carol@example.com"], "{}", carol.subject);
    let after_bob = carol.at.duration_since(bob.at);
    assert!(after_bob >= Duration::from_millis(3_500), "{after_bob:?}");

    // Carol clicks the signed link: acknowledged, dave is never paged.
    let link = format!("{}{}", server.http, ack_path(&carol));
    let resp = client().get(&link).send().await.expect("ack link");
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("page");
    assert!(
        page.contains("Acknowledged") && page.contains("carol@example.com"),
        "{page}"
    );
    let open = incidents(&server, true).await;
    assert_eq!(open[0]["acked_by"], "carol@example.com", "{open:?}");
    // A forged link does nothing.
    let mut forged = link.clone();
    let last = forged.pop().unwrap_or('A');
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let resp = client().get(&forged).send().await.expect("forged");
    assert_eq!(resp.status(), 403);
    no_mail(&smtp, Duration::from_secs(6)).await;

    // Recovery: alice, bob and carol each get the resolved notice; the incident closes.
    healthy.store(true, Ordering::SeqCst);
    let mut resolved = Vec::new();
    for _ in 0..3 {
        let m = next_mail(&smtp, Duration::from_secs(15), &server).await;
        assert!(m.subject.starts_with("[RESOLVED]"), "{}", m.subject);
        resolved.extend(m.to);
    }
    resolved.sort();
    assert_eq!(
        resolved,
        vec!["alice@example.com", "bob@example.com", "carol@example.com"]
    );
    no_mail(&smtp, Duration::from_secs(3)).await;
    assert!(incidents(&server, true).await.is_empty());
    let log: Value = client()
        .get(format!("{}/api/v1/notifications", server.http))
        .send()
        .await
        .expect("notifications")
        .json()
        .await
        .expect("json");
    let entries = log["notifications"].as_array().cloned().unwrap_or_default();
    assert!(entries.len() >= 6, "{log}");
    assert!(entries.iter().all(|e| e["ok"] == true), "{log}");
}
