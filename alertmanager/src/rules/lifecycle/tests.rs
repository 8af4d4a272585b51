use super::*;
use crate::alert::labels;

const S: i64 = 1_000_000_000;

fn inst(job: &str, value: f64) -> Instance {
    Instance {
        labels: labels([("alertname", "High"), ("job", job)]),
        annotations: LabelSet::new(),
        value,
    }
}

fn timing(for_s: i64, keep_s: i64) -> Timing {
    Timing {
        for_ns: for_s * S,
        keep_firing_for_ns: keep_s * S,
        interval_ns: 60 * S,
        resend_delay_ns: 60 * S,
    }
}

fn state_of(r: &RuleAlerts, job: &str) -> Option<AlertState> {
    r.active
        .get(&Fingerprint::of(&inst(job, 0.0).labels))
        .map(|a| a.state)
}

#[test]
fn pending_until_for_has_elapsed_then_firing_exactly_at_for() {
    let t = timing(300, 0);
    let mut r = RuleAlerts::default();
    let t0 = 1_000 * S;
    r.apply(t0, vec![inst("api", 1.0)], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Pending));
    assert!(r.due(t0, &t).is_empty(), "pending alerts are not sent");
    r.apply(t0 + 299 * S, vec![inst("api", 1.0)], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Pending));
    let changes = r.apply(t0 + 300 * S, vec![inst("api", 2.0)], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Firing));
    assert_eq!(changes.upserted.len(), 1);
    let sent = r.due(t0 + 300 * S, &t);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at_ns, t0 + 300 * S, "starts when it fired");
    assert_eq!(sent[0].ends_at_ns, t0 + 300 * S + 4 * 60 * S);
}

#[test]
fn a_pending_alert_that_stops_holding_is_forgotten_without_a_message() {
    let t = timing(300, 0);
    let mut r = RuleAlerts::default();
    r.apply(0, vec![inst("api", 1.0)], &t);
    let changes = r.apply(60 * S, vec![], &t);
    assert!(r.active.is_empty());
    assert_eq!(changes.removed.len(), 1);
    assert!(changes.upserted.is_empty());
    assert!(r.due(60 * S, &t).is_empty());
}

#[test]
fn resolution_is_sent_at_once_with_its_time_and_kept_for_retention() {
    let t = timing(0, 0);
    let mut r = RuleAlerts::default();
    r.apply(10 * S, vec![inst("api", 1.0)], &t);
    assert_eq!(r.due(10 * S, &t).len(), 1);
    // Within the resend delay, nothing is re-sent; once it has passed, it is.
    r.apply(40 * S, vec![inst("api", 1.0)], &t);
    assert!(r.due(40 * S, &t).is_empty());
    let mut later = r.clone();
    later.apply(70 * S, vec![inst("api", 1.0)], &t);
    assert_eq!(later.due(70 * S, &t).len(), 1);
    // ... but a resolution is sent at once, ending when it resolved.
    r.apply(50 * S, vec![], &t);
    let sent = r.due(50 * S, &t);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at_ns, 50 * S);
    assert_eq!(sent[0].starts_at_ns, 10 * S);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Inactive));
    // Kept (and re-sent) for 15 minutes, then dropped.
    r.apply(50 * S + RESOLVED_RETENTION_NS, vec![], &t);
    assert!(!r.active.is_empty());
    let changes = r.apply(51 * S + RESOLVED_RETENTION_NS, vec![], &t);
    assert!(r.active.is_empty());
    assert_eq!(changes.removed.len(), 1);
}

#[test]
fn keep_firing_for_holds_the_alert_then_resolves() {
    let t = timing(0, 120);
    let mut r = RuleAlerts::default();
    r.apply(0, vec![inst("api", 1.0)], &t);
    r.apply(60 * S, vec![], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Firing));
    r.apply(179 * S, vec![], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Firing));
    r.apply(180 * S, vec![], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Inactive));
    let a = r.active.values().next().unwrap();
    assert_eq!(a.resolved_at_ns, 180 * S);
}

#[test]
fn condition_returning_during_keep_firing_resets_it() {
    let t = timing(0, 120);
    let mut r = RuleAlerts::default();
    r.apply(0, vec![inst("api", 1.0)], &t);
    r.apply(60 * S, vec![], &t);
    r.apply(100 * S, vec![inst("api", 1.0)], &t);
    r.apply(200 * S, vec![], &t);
    // keep_firing restarted at 200 s: still firing at 300 s.
    r.apply(300 * S, vec![], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Firing));
    r.apply(320 * S, vec![], &t);
    assert_eq!(state_of(&r, "api"), Some(AlertState::Inactive));
}

#[test]
fn a_resolved_alert_that_holds_again_is_a_new_pending_alert() {
    let t = timing(60, 0);
    let mut r = RuleAlerts::default();
    r.apply(0, vec![inst("api", 1.0)], &t);
    r.apply(60 * S, vec![inst("api", 1.0)], &t);
    r.apply(120 * S, vec![], &t);
    r.apply(180 * S, vec![inst("api", 1.0)], &t);
    let a = r.active.values().next().unwrap();
    assert_eq!(
        (a.state, a.active_at_ns, a.fired_at_ns),
        (AlertState::Pending, 180 * S, 0)
    );
}
