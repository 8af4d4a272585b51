//! Muting at flush time: silences, inhibition, mute and active time intervals.

use pharos_alertmanager::dispatch::AlertState;
use pharos_alertmanager::silence::{ApiMatcher, PostableSilence};
use pharos_collector::clock::rfc3339;

use super::harness::{Harness, S, T0};

const BASIC: &str = r#"
[route]
receiver = "team"
group_by = ["alertname", "cluster"]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "4h"

[[inhibit_rules]]
source_matchers = ['alertname="ClusterDown"']
target_matchers = ['alertname="ServiceDown"']
equal = ["cluster"]
"#;

fn silence(h: &Harness, name: &str, start: i64, end: i64) -> String {
    h.silences
        .set(PostableSilence {
            id: None,
            matchers: vec![ApiMatcher {
                name: "alertname".into(),
                value: name.into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: rfc3339(start),
            ends_at: rfc3339(end),
            created_by: "ops".into(),
            comment: "maintenance".into(),
        })
        .unwrap()
}

#[test]
fn a_silence_mutes_while_active_and_unmutes_when_it_expires() {
    let mut h = Harness::new(BASIC);
    let id = silence(&h, "Down", T0, T0 + 10 * 60 * S);
    let a = h.fire(&[("alertname", "Down")]);
    let status = h.core.alert_status(&a, h.now());
    assert_eq!(status.state, AlertState::Suppressed);
    assert_eq!(status.silenced_by, vec![id]);
    h.advance_to(T0 + 10 * 60 * S);
    assert!(h.sent.is_empty(), "silenced");
    // Expired at 10 m; the group's next tick is at 30 s + 10 m.
    h.advance_to(T0 + 630 * S);
    assert_eq!(h.sent_times(), vec![T0 + 630 * S]);
    assert_eq!(h.core.alert_status(&a, h.now()).state, AlertState::Active);
}

#[test]
fn a_pending_silence_mutes_once_it_starts_and_expiring_it_unmutes_at_once() {
    let mut h = Harness::new(BASIC);
    let id = silence(&h, "Down", T0 + 60 * S, T0 + 3600 * S);
    h.fire(&[("alertname", "Down")]);
    h.advance_to(T0 + 30 * S);
    assert_eq!(h.sent.len(), 1, "not yet silenced at 30 s");
    h.fire(&[("alertname", "Down"), ("job", "x")]);
    h.advance_to(T0 + 330 * S);
    assert_eq!(h.sent.len(), 1, "the new alert is silenced at 5 m 30 s");
    h.clock.set(T0 + 400 * S);
    h.silences.expire(&id).unwrap();
    h.advance_to(T0 + 630 * S);
    assert_eq!(h.sent_times(), vec![T0 + 30 * S, T0 + 630 * S]);
    assert_eq!(h.sent[1].alerts.len(), 2);
}

#[test]
fn a_firing_cluster_down_inhibits_service_down_of_that_cluster_only() {
    let mut h = Harness::new(BASIC);
    let source = h.fire(&[("alertname", "ClusterDown"), ("cluster", "a")]);
    let in_a = h.fire(&[("alertname", "ServiceDown"), ("cluster", "a")]);
    h.fire(&[("alertname", "ServiceDown"), ("cluster", "b")]);
    h.advance_to(T0 + 30 * S);
    let mut groups: Vec<String> = h.sent.iter().map(|n| n.group_key.clone()).collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            r#"{}:{alertname="ClusterDown", cluster="a"}"#.to_string(),
            r#"{}:{alertname="ServiceDown", cluster="b"}"#.to_string(),
        ]
    );
    let status = h.core.alert_status(&in_a, h.now());
    assert_eq!(status.state, AlertState::Suppressed);
    assert_eq!(status.inhibited_by, vec![source.fingerprint().to_string()]);

    // The source resolves: cluster a's ServiceDown is notified at its group's next tick.
    h.advance_to(T0 + 100 * S);
    h.resolve(&[("alertname", "ClusterDown"), ("cluster", "a")]);
    h.advance_to(T0 + 330 * S);
    let last: Vec<&str> = h.sent[2..].iter().map(|n| n.group_key.as_str()).collect();
    assert!(
        last.contains(&r#"{}:{alertname="ServiceDown", cluster="a"}"#),
        "{last:?}"
    );
    assert_eq!(
        h.core.alert_status(&in_a, h.now()).state,
        AlertState::Active
    );
}

const WINDOW: &str = r#"
[route]
receiver = "team"
group_wait = "30s"
group_interval = "5m"

[[route.routes]]
matchers = ['service="db"']
mute_time_intervals = ["saturday-maintenance"]

[[route.routes]]
matchers = ['service="batch"']
active_time_intervals = ["saturday-maintenance"]

[[time_intervals]]
name = "saturday-maintenance"
[[time_intervals.time_intervals]]
weekdays = ["saturday"]
times = [{ start_time = "02:00", end_time = "04:00" }]
location = "UTC"
"#;

#[test]
fn the_saturday_maintenance_window_mutes_its_route() {
    let mut h = Harness::new(WINDOW);
    // T0 is Saturday 00:00 UTC.
    h.clock.set(T0 + 2 * 3600 * S);
    let a = h.fire(&[("alertname", "Down"), ("service", "db")]);
    assert_eq!(
        h.core.alert_status(&a, h.now()).muted_by,
        vec!["saturday-maintenance"]
    );
    h.advance_to(T0 + 4 * 3600 * S);
    assert!(h.sent.is_empty(), "muted from 02:00 to 04:00");
    // First tick after the window: 02:00:30 + 24 × 5 m = 04:00:30.
    h.advance_to(T0 + 4 * 3600 * S + 30 * S);
    assert_eq!(h.sent_times(), vec![T0 + 4 * 3600 * S + 30 * S]);
}

#[test]
fn active_time_intervals_mute_outside_the_window() {
    let mut h = Harness::new(WINDOW);
    h.fire(&[("alertname", "Report"), ("service", "batch")]);
    h.advance_to(T0 + 2 * 3600 * S - 1);
    assert!(h.sent.is_empty(), "outside its active interval");
    h.advance_to(T0 + 2 * 3600 * S + 30 * S);
    assert_eq!(h.sent_times(), vec![T0 + 2 * 3600 * S + 30 * S]);
}
