//! The webhook (Alertmanager's payload, field by field), Slack, HTTP retries and
//! `send_resolved`.

use std::sync::Arc;
use std::time::Duration;

use pharos_alertmanager::notification::{Deliver, EscalationContext, NotifySink, Target};
use pharos_alertmanager::notify::{LogFilter, Notifier, ReceiverSink};
use pharos_alertmanager::storage::MemStateDb;
use pharos_collector::clock::ManualClock;
use serde_json::json;

use super::common::*;

struct Setup {
    http: HttpReceiver,
    notifier: Notifier,
    waits: Arc<NoWait>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let http = HttpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let slack_url = dir.path().join("slack-url");
    std::fs::write(&slack_url, http.url("/services/T000/B000/XXXX")).unwrap();
    let cfg = config(&format!(
        r##"
[[receivers]]
name = "hooks"
[[receivers.webhook_configs]]
url = "{hook}"
bearer_token_file = "{token}"
[[receivers.webhook_configs]]
url = "{first}"
max_alerts = 1
send_resolved = false

[[receivers]]
name = "chat"
[[receivers.slack_configs]]
api_url_file = "{slack}"
channel = "#alerts"
username = "pharos"
send_resolved = true

[notify]
external_url = "http://pharos.example.com:7070"
retry = {{ initial_backoff = "2s", max_backoff = "20s", max_attempts = 3 }}
"##,
        hook = http.url("/hook"),
        token = token.display(),
        first = http.url("/first"),
        slack = slack_url.display(),
    ));
    let waits = Arc::new(NoWait::default());
    let notifier = Notifier::builder(
        &cfg,
        Arc::new(MemStateDb::default()),
        Arc::new(ManualClock::new(NOW)),
    )
    .sleeper(waits.clone())
    .build()
    .unwrap();
    Setup {
        http,
        notifier,
        waits,
        _dir: dir,
    }
}

fn by_path(s: &Setup, path: &str) -> Vec<Received> {
    s.http
        .received()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

#[tokio::test]
async fn webhook_payload_is_alertmanagers_field_by_field() {
    let s = setup().await;
    let a = high_error_rate("a");
    let b = resolved(high_error_rate("b"));
    let (fa, fb) = (a.fingerprint().to_string(), b.fingerprint().to_string());
    // Through the dispatcher's sink: no escalation context.
    ReceiverSink(s.notifier.clone())
        .deliver(message("hooks", vec![a, b]).notification)
        .await
        .unwrap();

    let got = by_path(&s, "/hook");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].authorization.as_deref(), Some("Bearer t0ken"));
    assert_eq!(got[0].content_type.as_deref(), Some("application/json"));
    let annotations = json!({
        "summary": "5xx ratio above 5%",
        "description": "api returns <b>errors</b> & worse",
        "runbook_url": "https://runbooks.example.com/high-error-rate",
        "value": "0.12",
    });
    let expected = json!({
        "receiver": "hooks",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "job": "api", "pod": "a", "severity": "page"},
                "annotations": annotations,
                "startsAt": "2024-05-01T11:55:00Z",
                // Alertmanager does not expose an end that has not been reached.
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": fa,
            },
            {
                "status": "resolved",
                "labels": {"alertname": "HighErrorRate", "job": "api", "pod": "b", "severity": "page"},
                "annotations": annotations,
                "startsAt": "2024-05-01T11:55:00Z",
                "endsAt": "2024-05-01T11:59:50Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": fb,
            }
        ],
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "job": "api", "severity": "page"},
        "commonAnnotations": annotations,
        "externalURL": "http://pharos.example.com:7070",
        "version": "4",
        "groupKey": "{}:{alertname=\"HighErrorRate\"}",
        "truncatedAlerts": 0,
    });
    assert_eq!(got[0].body, expected);

    // max_alerts = 1 and send_resolved = false: only the firing alert, none truncated
    // (resolved ones are dropped before truncation, as Alertmanager does).
    let first = by_path(&s, "/first");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].authorization, None);
    let alerts = first[0].body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["labels"]["pod"], "a");
    assert_eq!(first[0].body["truncatedAlerts"], 0);
    assert_eq!(
        first[0].body["commonLabels"]["pod"], "a",
        "common labels of what is sent"
    );
}

#[tokio::test]
async fn max_alerts_truncates_and_escalation_adds_pharos_fields() {
    let s = setup().await;
    let mut msg = message(
        "hooks",
        vec![
            high_error_rate("a"),
            high_error_rate("b"),
            high_error_rate("c"),
        ],
    );
    msg.escalation = Some(EscalationContext {
        incident_id: "inc-7".into(),
        policy: "api".into(),
        step: 0,
        round: 2,
        ack_url: "http://pharos.example.com:7070/ack/inc-7?sig=x".into(),
        acked_by: None,
    });
    s.notifier
        .deliver(&Target::Receiver("hooks".into()), &msg)
        .await
        .unwrap();
    let first = &by_path(&s, "/first")[0].body;
    assert_eq!(first["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(first["truncatedAlerts"], 2);
    assert_eq!(
        first["ackURL"],
        "http://pharos.example.com:7070/ack/inc-7?sig=x"
    );
    assert_eq!(first["escalation"]["incident_id"], "inc-7");
    assert_eq!(first["escalation"]["round"], 2);

    // A direct webhook target gets the same payload shape.
    s.notifier
        .send(&Target::Webhook(s.http.url("/direct")), &msg)
        .await
        .unwrap();
    let direct = &by_path(&s, "/direct")[0].body;
    assert_eq!(direct["version"], "4");
    assert_eq!(direct["alerts"].as_array().unwrap().len(), 3);
    assert_eq!(direct["ackURL"], first["ackURL"]);
}

#[tokio::test]
async fn slack_payload() {
    let s = setup().await;
    s.notifier
        .send(
            &Target::Receiver("chat".into()),
            &message("chat", vec![high_error_rate("a"), high_error_rate("b")]),
        )
        .await
        .unwrap();
    let got = by_path(&s, "/services/T000/B000/XXXX");
    assert_eq!(got.len(), 1);
    let body = &got[0].body;
    assert_eq!(body["channel"], "#alerts");
    assert_eq!(body["username"], "pharos");
    let att = &body["attachments"][0];
    assert_eq!(att["title"], "[FIRING:2] HighErrorRate (api page)");
    assert_eq!(
        att["title_link"],
        "http://pharos.example.com:7070/#/alerts?receiver=chat"
    );
    assert_eq!(att["color"], "danger");
    assert_eq!(
        att["fallback"],
        "[FIRING:2] HighErrorRate (api page) | http://pharos.example.com:7070/#/alerts?receiver=chat"
    );
    let text = att["text"].as_str().unwrap();
    assert!(
        text.contains("*HighErrorRate* (firing): 5xx ratio above 5% — value 0.12"),
        "{text}"
    );
    assert!(text.contains("<https://runbooks.example.com/high-error-rate|runbook>"));
    assert_eq!(
        att["fields"],
        json!([
            {"title": "job", "value": "api", "short": true},
            {"title": "severity", "value": "page", "short": true},
        ])
    );
    // The log names the channel, never the secret URL.
    let log = s.notifier.log().list(&LogFilter::default());
    assert_eq!(log[0].entry.target, "#alerts");
    assert_eq!(log[0].entry.integration, "slack");

    s.notifier
        .send(
            &Target::Receiver("chat".into()),
            &message("chat", vec![resolved(high_error_rate("a"))]),
        )
        .await
        .unwrap();
    let got = by_path(&s, "/services/T000/B000/XXXX");
    assert_eq!(got[1].body["attachments"][0]["color"], "good");
}

#[tokio::test]
async fn http_5xx_and_429_are_retried_honouring_retry_after() {
    let s = setup().await;
    s.http.script(vec![
        Answer(503, None),
        Answer(429, Some("7")),
        Answer(200, None),
    ]);
    s.notifier
        .send(
            &Target::Webhook(s.http.url("/direct")),
            &message("", vec![high_error_rate("a")]),
        )
        .await
        .unwrap();
    assert_eq!(by_path(&s, "/direct").len(), 3);
    let waits = s.waits.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] >= Duration::from_secs(2) && waits[0] <= Duration::from_secs(4));
    assert_eq!(waits[1], Duration::from_secs(7), "Retry-After honoured");
    let log = s.notifier.log().list(&LogFilter::default());
    let seen: Vec<(u32, bool, Option<String>)> = log
        .iter()
        .rev()
        .map(|e| (e.entry.attempt, e.entry.ok, e.entry.error.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, false, Some("HTTP 503: answer".into())),
            (2, false, Some("HTTP 429: slow down".into())),
            (3, true, None),
        ]
    );
    assert_eq!(log[0].entry.receiver, "");
    assert_eq!(log[0].entry.target, s.http.url("/direct"));
}

#[tokio::test]
async fn http_4xx_is_not_retried_and_exhausted_retries_fail() {
    let s = setup().await;
    s.http.script(vec![Answer(400, None)]);
    let err = s
        .notifier
        .send(
            &Target::Webhook(s.http.url("/direct")),
            &message("", vec![high_error_rate("a")]),
        )
        .await
        .unwrap_err();
    assert!(err.contains("HTTP 400"), "{err}");
    assert_eq!(by_path(&s, "/direct").len(), 1);
    assert!(s.waits.waits().is_empty());

    s.http.answer_otherwise(500);
    let err = s
        .notifier
        .send(
            &Target::Webhook(s.http.url("/direct")),
            &message("", vec![high_error_rate("a")]),
        )
        .await
        .unwrap_err();
    assert!(err.contains("HTTP 500"), "{err}");
    assert_eq!(by_path(&s, "/direct").len(), 1 + 3, "max_attempts = 3");
}

#[tokio::test]
async fn an_unreachable_slack_url_does_not_leak_into_errors_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let secret_url = dir.path().join("url");
    // Nothing listens on port 9 of loopback (discard): the connection is refused.
    std::fs::write(&secret_url, "http://127.0.0.1:9/services/SECRET-TOKEN").unwrap();
    let cfg = config(&format!(
        r#"
[[receivers]]
name = "chat"
[[receivers.slack_configs]]
api_url_file = "{}"
[notify]
retry = {{ max_attempts = 2 }}
"#,
        secret_url.display()
    ));
    let notifier = Notifier::builder(
        &cfg,
        Arc::new(MemStateDb::default()),
        Arc::new(ManualClock::new(NOW)),
    )
    .sleeper(Arc::new(NoWait::default()))
    .build()
    .unwrap();
    let err = notifier
        .send(
            &Target::Receiver("chat".into()),
            &message("chat", vec![high_error_rate("a")]),
        )
        .await
        .unwrap_err();
    assert!(!err.contains("SECRET-TOKEN"), "{err}");
    let log = serde_json::to_string(&notifier.log().list(&LogFilter::default())).unwrap();
    assert!(!log.contains("SECRET-TOKEN"), "{log}");
    assert_eq!(notifier.log().len(), 2, "a refused connection is retried");
}
