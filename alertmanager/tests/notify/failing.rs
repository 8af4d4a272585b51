//! `PharosNotificationsFailing`: after `failing_after` failed deliveries in a row it reaches
//! the fallback receiver directly and the alert store; a success resolves it both ways.

use std::sync::Arc;

use pharos_alertmanager::alert::{labels, Fingerprint};
use pharos_alertmanager::notification::Target;
use pharos_alertmanager::notify::{Notifier, FAILING_ALERT_NAME};
use pharos_alertmanager::storage::MemStateDb;
use pharos_alertmanager::store::AlertStore;
use pharos_collector::clock::{Clock, ManualClock};

use super::common::*;

#[tokio::test]
async fn failing_receiver_alerts_the_fallback_and_resolves_after_a_success() {
    let broken = HttpReceiver::start().await;
    broken.answer_otherwise(502);
    let oncall = HttpReceiver::start().await;
    let cfg = config(&format!(
        r#"
[[receivers]]
name = "team"
[[receivers.webhook_configs]]
url = "{}"

[[receivers]]
name = "oncall"
[[receivers.webhook_configs]]
url = "{}"

[notify]
fallback_receiver = "oncall"
failing_after = 2
retry = {{ max_attempts = 2 }}
"#,
        broken.url("/team"),
        oncall.url("/oncall"),
    ));
    let db = Arc::new(MemStateDb::default());
    let clock = ManualClock::new(NOW);
    let store = Arc::new(AlertStore::open(db.clone(), Arc::new(clock.clone()), 300 * S).unwrap());
    let notifier = Notifier::builder(&cfg, db, Arc::new(clock.clone()))
        .alert_store(store.clone())
        .sleeper(Arc::new(NoWait::default()))
        .build()
        .unwrap();
    let team = Target::Receiver("team".into());
    let msg = message("team", vec![high_error_rate("a")]);
    let meta_fp = Fingerprint::of(&labels([
        ("alertname", FAILING_ALERT_NAME),
        ("receiver", "team"),
        ("severity", "critical"),
    ]));

    assert!(notifier.send(&team, &msg).await.is_err());
    assert!(
        oncall.received().is_empty(),
        "one failure is not yet an alert"
    );
    assert!(store.get(meta_fp).is_none());

    clock.advance(60 * S);
    let err = notifier.send(&team, &msg).await.unwrap_err();
    assert!(err.contains("HTTP 502"), "{err}");
    let got = oncall.received();
    assert_eq!(got.len(), 1, "the fallback is told directly");
    let body = &got[0].body;
    assert_eq!(body["receiver"], "oncall");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], FAILING_ALERT_NAME);
    assert_eq!(body["alerts"][0]["labels"]["receiver"], "team");
    assert_eq!(body["alerts"][0]["labels"]["severity"], "critical");
    let description = body["alerts"][0]["annotations"]["description"]
        .as_str()
        .unwrap();
    assert!(description.contains("HTTP 502"), "{description}");
    let stored = store.get(meta_fp).expect("in the alert store");
    assert!(!stored.resolved_at(clock.now_ns()));
    let fired_at = stored.starts_at_ns;

    // Still failing: no second page to the fallback.
    clock.advance(60 * S);
    assert!(notifier.send(&team, &msg).await.is_err());
    assert_eq!(oncall.received().len(), 1);

    clock.advance(60 * S);
    broken.answer_otherwise(200);
    notifier.send(&team, &msg).await.unwrap();
    let got = oncall.received();
    assert_eq!(got.len(), 2, "the fallback hears the resolution");
    assert_eq!(got[1].body["status"], "resolved");
    let stored = store.get(meta_fp).unwrap();
    assert!(stored.resolved_at(clock.now_ns()));
    assert_eq!(stored.starts_at_ns, fired_at);

    // The log has every attempt, the meta-alert's deliveries included.
    let log = notifier.log();
    assert_eq!(log.len(), 2 + 2 + 1 + 2 + 1 + 1);
}
