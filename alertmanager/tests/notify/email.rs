//! E-mail through the test SMTP server: subject, recipients, both bodies, the ack link,
//! AUTH, resolved mail, retries on 451 and none on 550, and secrets kept out of Debug.

use std::sync::Arc;
use std::time::Duration;

use mail_parser::MessageParser;
use pharos_alertmanager::notification::{EscalationContext, Target};
use pharos_alertmanager::notify::{LogFilter, Notifier, NotifyConfig};
use pharos_alertmanager::storage::MemStateDb;
use pharos_alertmanager::testing::{Refusal, TestSmtpServer};
use pharos_collector::clock::ManualClock;

use super::common::*;

fn smtp_config(port: u16, password_file: &std::path::Path) -> NotifyConfig {
    config(&format!(
        r#"
[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "pharos"
password_file = "{}"
from = "Pharos <alerts@pharos.test>"
hello_name = "pharos.test"
timeout = "5s"

[[receivers]]
name = "ops"
[[receivers.email_configs]]
to = ["Alice <alice@example.com>", "bob@example.com"]

[[receivers]]
name = "quiet"
[[receivers.email_configs]]
to = "quiet@example.com"
send_resolved = false

[notify]
external_url = "http://127.0.0.1:7070/"
retry = {{ initial_backoff = "1s", max_backoff = "30s", max_attempts = 4 }}
"#,
        password_file.display()
    ))
}

struct Setup {
    smtp: TestSmtpServer,
    notifier: Notifier,
    waits: Arc<NoWait>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let smtp = TestSmtpServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("smtp-password");
    std::fs::write(&password, "hunter2\n").unwrap();
    let waits = Arc::new(NoWait::default());
    let notifier = Notifier::builder(
        &smtp_config(smtp.port(), &password),
        Arc::new(MemStateDb::default()),
        Arc::new(ManualClock::new(NOW)),
    )
    .sleeper(waits.clone())
    .build()
    .unwrap();
    Setup {
        smtp,
        notifier,
        waits,
        _dir: dir,
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn firing_mail_with_escalation_has_subject_recipients_bodies_and_ack_link() {
    let s = setup().await;
    let mut msg = message("ops", vec![high_error_rate("a"), high_error_rate("b")]);
    msg.escalation = Some(EscalationContext {
        incident_id: "inc-1".into(),
        policy: "api-oncall".into(),
        step: 1,
        round: 0,
        ack_url: "http://127.0.0.1:7070/ack/inc-1?sig=abc&exp=9".into(),
        acked_by: None,
    });
    s.notifier
        .send(&Target::Receiver("ops".into()), &msg)
        .await
        .unwrap();

    let mail = s.smtp.next_message(WAIT).await.expect("a mail");
    assert_eq!(mail.mail_from, "alerts@pharos.test");
    assert_eq!(mail.rcpt_to, vec!["alice@example.com", "bob@example.com"]);
    assert_eq!(mail.auth_user.as_deref(), Some("pharos"));

    let parsed = MessageParser::default()
        .parse(mail.data.as_bytes())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("[FIRING:2] HighErrorRate (api page)")
    );
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    for needle in [
        "2 Firing",
        "pod = a",
        "pod = b",
        "Summary: 5xx ratio above 5%",
        "Value: 0.12",
        "Runbook: https://runbooks.example.com/high-error-rate",
        "Started: 2024-05-01T11:55:00Z",
        "View in Pharos: http://127.0.0.1:7070/#/alerts?receiver=ops",
        "Escalation policy api-oncall, step 2, round 1",
        "Acknowledge: http://127.0.0.1:7070/ack/inc-1?sig=abc&exp=9",
    ] {
        assert!(
            text.contains(needle),
            "plain body lacks {needle:?}:\n{text}"
        );
    }
    assert!(!text.contains("Ended:"), "a firing alert has no end");
    for needle in [
        "<a href=\"https://runbooks.example.com/high-error-rate\">Runbook</a>",
        "<a href=\"http://127.0.0.1:7070/ack/inc-1?sig=abc&amp;exp=9\"",
        "api returns &lt;b&gt;errors&lt;/b&gt; &amp; worse",
        "<td>pod</td><td>b</td>",
    ] {
        assert!(html.contains(needle), "HTML body lacks {needle:?}:\n{html}");
    }
    assert!(
        !html.contains("<b>errors</b>"),
        "annotation HTML is escaped"
    );

    let log = s.notifier.log().list(&LogFilter::default());
    assert_eq!(log.len(), 1);
    let e = &log[0].entry;
    assert_eq!(
        (e.integration.as_str(), e.receiver.as_str(), e.attempt, e.ok),
        ("email", "ops", 1, true)
    );
    assert_eq!(e.target, "alice@example.com, bob@example.com");
    assert_eq!((e.status.as_str(), e.alerts), ("firing", 2));
}

#[tokio::test]
async fn resolved_mail_to_one_address_and_send_resolved_false() {
    let s = setup().await;
    let msg = message("ops", vec![resolved(high_error_rate("a"))]);
    s.notifier
        .send(&Target::Email("carol@example.com".into()), &msg)
        .await
        .unwrap();
    let mail = s.smtp.next_message(WAIT).await.expect("a mail");
    assert_eq!(mail.rcpt_to, vec!["carol@example.com"]);
    let parsed = MessageParser::default()
        .parse(mail.data.as_bytes())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("[RESOLVED] HighErrorRate (api a page)")
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("1 Resolved"), "{text}");
    assert!(text.contains("Ended: 2024-05-01T11:59:50Z"), "{text}");

    // "quiet" does not want resolved notifications: nothing is sent, nothing fails.
    s.notifier
        .send(&Target::Receiver("quiet".into()), &msg)
        .await
        .unwrap();
    assert!(s
        .smtp
        .next_message(Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(s.smtp.received().len(), 1);
}

#[tokio::test]
async fn transient_smtp_refusals_are_retried_and_each_attempt_logged() {
    let s = setup().await;
    s.smtp.refuse_next(Refusal::Transient, 2);
    s.notifier
        .send(
            &Target::Receiver("ops".into()),
            &message("ops", vec![high_error_rate("a")]),
        )
        .await
        .unwrap();
    assert_eq!(s.smtp.refused(), 2);
    assert_eq!(s.smtp.received().len(), 1);
    let waits = s.waits.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_secs(2));
    assert!(waits[1] >= Duration::from_secs(2) && waits[1] <= Duration::from_secs(4));

    let log = s.notifier.log().list(&LogFilter::default());
    let attempts: Vec<(u32, bool)> = log.iter().map(|e| (e.entry.attempt, e.entry.ok)).collect();
    assert_eq!(attempts, vec![(3, true), (2, false), (1, false)]);
    let err = log[2].entry.error.as_deref().unwrap_or("");
    assert!(err.contains("451"), "{err}");
}

#[tokio::test]
async fn permanent_smtp_refusal_is_not_retried() {
    let s = setup().await;
    let shown = format!("{:?}", s.notifier);
    assert!(
        shown.contains("\"ops\"") && !shown.contains("hunter2"),
        "{shown}"
    );
    s.smtp.refuse_next(Refusal::Permanent, 5);
    let err = s
        .notifier
        .send(
            &Target::Receiver("ops".into()),
            &message("ops", vec![high_error_rate("a")]),
        )
        .await
        .unwrap_err();
    assert!(err.contains("550"), "{err}");
    assert_eq!(s.smtp.refused(), 1);
    assert!(s.waits.waits().is_empty());
    assert_eq!(s.notifier.log().len(), 1);
}

#[tokio::test]
async fn the_smtp_password_is_never_printed() {
    let mut cfg = config(
        r#"
[smtp]
host = "smtp.example.com"
username = "pharos"
from = "alerts@example.com"
"#,
    );
    // As figment sets it from PHAROS_ALERTING__SMTP__PASSWORD.
    let smtp: serde_json::Value = serde_json::json!({
        "host": "smtp.example.com", "username": "pharos", "from": "alerts@example.com",
        "password": "hunter2"
    });
    cfg.smtp = Some(serde_json::from_value(smtp).unwrap());
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("<secret>"));
    let shown = serde_json::to_string(&cfg).unwrap();
    assert!(!shown.contains("hunter2"), "{shown}");
    cfg.validate("alerting").unwrap();
}
