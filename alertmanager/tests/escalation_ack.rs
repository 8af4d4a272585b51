//! Acknowledgement: signed links (tampering, expiry, wrong key, unknown incident,
//! idempotence), acknowledging by alert fingerprint, and config validation.

mod escalation_support;

use std::sync::Arc;

use escalation_support::*;
use pharos_alertmanager::escalation::{
    AckError, AckKey, EscalationConfig, Escalator, EscalatorDeps,
};
use pharos_alertmanager::storage::MemStateDb;

fn token_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[tokio::test]
async fn signed_links_acknowledge_once_and_reject_tampering_expiry_and_other_keys() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    let url = h.recorder.take()[0].1.escalation.clone().unwrap().ack_url;
    let token = token_of(&url).to_string();
    let id = h.escalator.incidents(true)[0].id.clone();

    // Any changed character fails.
    for i in 0..token.len() {
        let mut chars: Vec<char> = token.chars().collect();
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        assert!(
            matches!(
                h.escalator.ack_with_token(&altered, t0 + MIN),
                Err(AckError::InvalidToken)
            ),
            "position {i}"
        );
    }
    assert!(matches!(
        h.escalator.ack_with_token("garbage", t0),
        Err(AckError::InvalidToken)
    ));

    // Expired exactly at t0 + link_ttl (24h by default).
    let expired = h.escalator.ack_with_token(&token, t0 + 24 * 60 * MIN);
    assert!(
        matches!(expired, Err(AckError::Expired { .. })),
        "{expired:?}"
    );
    assert!(expired
        .unwrap_err()
        .to_string()
        .contains("2025-03-21T10:00:00Z"));

    // Another installation's key: refused.
    let other = open(MemStateDb::default(), h.clock.clone(), CONFIG);
    assert!(matches!(
        other.escalator.ack_with_token(&token, t0 + MIN),
        Err(AckError::InvalidToken)
    ));

    // A valid link for an incident that does not exist.
    let ghost = h.escalator.ack_url("000000000000", t0 + 60 * MIN);
    assert!(matches!(
        h.escalator.ack_with_token(token_of(&ghost), t0 + MIN),
        Err(AckError::UnknownIncident(_))
    ));

    // Valid until the last nanosecond; the acknowledger is the person it was sent to.
    let view = h
        .escalator
        .ack_with_token(&token, t0 + 24 * 60 * MIN - 1)
        .unwrap();
    assert_eq!(view.id, id);
    assert_eq!(view.acked_by.as_deref(), Some("Alice <alice@example.com>"));
    assert_eq!(
        h.escalator.tick(t0 + 5 * MIN).await,
        0,
        "escalation stopped"
    );

    // Clicking again, or someone else's generic link: success showing the first ack.
    let generic = h.escalator.ack_url(&id, t0 + 60 * MIN);
    let again = h
        .escalator
        .ack_with_token(token_of(&generic), t0 + 2 * MIN)
        .unwrap();
    assert_eq!(again.acked_by.as_deref(), Some("Alice <alice@example.com>"));
    assert_eq!(again.acked_at, Some(t0 + 24 * 60 * MIN - 1));
}

#[tokio::test]
async fn ack_by_fingerprint_acknowledges_the_open_incidents_holding_the_alert() {
    let h = harness();
    let t0 = t0();
    let down = alert("Down", t0);
    h.escalator
        .notify(notification(vec![down.clone()], t0))
        .await
        .unwrap();
    let mut other_group = notification(vec![down.clone()], t0);
    other_group.group_key = "{}:{service=\"other\"}".into();
    h.escalator.notify(other_group).await.unwrap();
    let unrelated = alert("Unrelated", t0);
    let mut third = notification(vec![unrelated.clone()], t0);
    third.group_key = "{}:{service=\"third\"}".into();
    h.escalator.notify(third).await.unwrap();

    let acked = h
        .escalator
        .ack_by_fingerprint(down.fingerprint(), "cli:bob", t0 + MIN)
        .unwrap();
    assert_eq!(acked.len(), 2);
    assert!(acked
        .iter()
        .all(|v| v.acked_by.as_deref() == Some("cli:bob")));
    assert_eq!(
        h.escalator.next_due(),
        Some(t0 + 5 * MIN),
        "the third still escalates"
    );

    let missing = pharos_alertmanager::alert::Fingerprint(42);
    assert!(matches!(
        h.escalator.ack_by_fingerprint(missing, "x", t0),
        Err(AckError::NoIncidentForAlert(_))
    ));
    assert!(matches!(
        h.escalator.ack("nope", "x", t0),
        Err(AckError::UnknownIncident(_))
    ));
}

fn error_of(text: &str) -> String {
    let config: EscalationConfig = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    config
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn config_errors_name_the_key() {
    assert_eq!(error_of(CONFIG), "", "the example is valid");
    let cases = [
        (
            CONFIG.replace("{ schedule = \"primary\" }", "{ schedule = \"secondary\" }"),
            "alerting.escalation.policies[0].steps[0].targets[0].schedule: no schedule named \"secondary\"",
        ),
        (CONFIG.replace("[{ email = \"lead@example.com\" }, ", "[{ email = \"lead\" }, "), "policies[0].steps[1].targets[0].email"),
        (CONFIG.replace("https://hooks", "ftp://hooks"), "policies[0].steps[1].targets[1].webhook"),
        (CONFIG.replace("delay = \"10m\"", "delay = \"0s\""), "policies[0].steps[1].delay"),
        (CONFIG.replace("targets = [{ schedule = \"primary\" }]", "targets = []"), "policies[0].steps[0].targets"),
        (CONFIG.replace("receivers = [\"api-pager\"]", "receivers = []"), "policies[0].receivers"),
        (
            format!("{CONFIG}\n[[policies]]\nname = \"b\"\nreceivers = [\"api-pager\"]\nsteps = []\n"),
            "policies[1].receivers[0]: \"api-pager\" is already bound to policies[0]",
        ),
        (
            format!("{CONFIG}\n[[policies]]\nname = \"b\"\nreceivers = [\"b\"]\nsteps = []\n"),
            "alerting.escalation.policies[1].steps: needs at least one step",
        ),
        (CONFIG.replace("Europe/Berlin", "Mars/Olympus"), "alerting.escalation.schedules[0].time_zone"),
        (format!("[ack]\nlink_ttl = \"10s\"\n{CONFIG}"), "alerting.escalation.ack.link_ttl"),
        (format!("[ack]\nsecret = \"hunter2\"\n{CONFIG}"), "unknown field `secret`"),
        (CONFIG.replace("{ receiver = \"management\" }", "{ pager = \"management\" }"), "unknown variant `pager`"),
    ];
    for (text, expected) in cases {
        let err = error_of(&text);
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    }

    let config: EscalationConfig = toml::from_str(CONFIG).unwrap();
    let known = |r: &str| ["api-pager", "management"].contains(&r);
    assert!(config.check_receivers(&known).is_ok());
    let err = config
        .check_receivers(&|r: &str| r == "api-pager")
        .unwrap_err();
    assert_eq!(
        err.key,
        "alerting.escalation.policies[0].steps[2].targets[0].receiver"
    );
    assert_eq!(config.policy_for_receiver("api-pager").unwrap().name, "api");

    // Escalator::open refuses an invalid config too.
    let db = MemStateDb::default();
    let invalid: EscalationConfig =
        toml::from_str(&CONFIG.replace("repeat = 1", "repeat = 1000")).unwrap();
    let opened = Escalator::open(
        &invalid,
        EscalatorDeps {
            db: Arc::new(db.clone()),
            clock: Arc::new(pharos_collector::clock::ManualClock::new(0)),
            deliver: Arc::new(Recorder::default()),
            ack_key: AckKey::from_secret(&[1; 32], "test").unwrap(),
            external_url: String::new(),
        },
    );
    assert!(opened
        .err()
        .unwrap()
        .to_string()
        .contains("policies[0].repeat"));
}
