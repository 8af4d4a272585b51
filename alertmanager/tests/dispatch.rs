//! Dispatcher behaviour at exact times: a ManualClock, the pure core driven tick by tick, and
//! a recording of every notification handed to the sink.

#[path = "dispatch/driver.rs"]
mod driver;
#[path = "dispatch/harness.rs"]
mod harness;
#[path = "dispatch/mutes.rs"]
mod mutes;
#[path = "dispatch/routing.rs"]
mod routing;
#[path = "dispatch/silences.rs"]
mod silences;

use harness::{Harness, S, T0};

const BASIC: &str = r#"
[route]
receiver = "team"
group_by = ["alertname"]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "1h"
"#;

#[test]
fn first_notification_exactly_after_group_wait() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down"), ("job", "api")]);
    h.advance_to(T0 + 30 * S - 1);
    assert!(h.sent.is_empty(), "nothing before group_wait");
    h.advance_to(T0 + 30 * S);
    assert_eq!(h.sent_times(), vec![T0 + 30 * S]);
    let n = &h.sent[0];
    assert_eq!(n.receiver, "team");
    assert_eq!(n.group_key, r#"{}:{alertname="Down"}"#);
    assert_eq!(n.alerts.len(), 1);
}

#[test]
fn new_alert_in_a_flushed_group_waits_for_group_interval() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down"), ("job", "api")]);
    h.advance_to(T0 + 60 * S);
    h.fire(&[("alertname", "Down"), ("job", "web")]);
    h.advance_to(T0 + 330 * S - 1);
    assert_eq!(
        h.sent.len(),
        1,
        "the second alert waits for the group's interval"
    );
    h.advance_to(T0 + 330 * S);
    assert_eq!(h.sent_times(), vec![T0 + 30 * S, T0 + 330 * S]);
    assert_eq!(h.sent[1].alerts.len(), 2, "the whole group is sent");
    // Nothing changed since: no notification on the following ticks.
    h.advance_to(T0 + 30 * 60 * S);
    assert_eq!(h.sent.len(), 2);
}

#[test]
fn repeat_after_repeat_interval_and_not_before() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down")]);
    // Flushes at 30s + k·5m; the one at exactly 30s + 1h is not yet *past* the repeat
    // interval (Alertmanager compares strictly), so the repeat comes at 30s + 65m.
    h.advance_to(T0 + 30 * S + 3600 * S);
    assert_eq!(h.sent_times(), vec![T0 + 30 * S]);
    h.advance_to(T0 + 30 * S + 65 * 60 * S);
    assert_eq!(h.sent_times(), vec![T0 + 30 * S, T0 + 30 * S + 65 * 60 * S]);
}

#[test]
fn resolution_is_notified_once_and_the_group_goes_away() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down")]);
    h.advance_to(T0 + 100 * S);
    h.resolve(&[("alertname", "Down")]);
    h.advance_to(T0 + 330 * S);
    assert_eq!(h.sent.len(), 2);
    let n = &h.sent[1];
    assert_eq!(n.at_ns, T0 + 330 * S);
    assert!(n.all_resolved(n.at_ns), "the resolved notification");
    assert!(
        h.core.groups(h.now()).is_empty(),
        "resolved and notified: group removed"
    );
    h.advance_to(T0 + 5 * 3600 * S);
    assert_eq!(h.sent.len(), 2);
}

#[test]
fn alerts_that_fire_and_resolve_within_group_wait_are_not_notified() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Blip")]);
    h.advance_to(T0 + 10 * S);
    h.resolve(&[("alertname", "Blip")]);
    h.advance_to(T0 + 3600 * S);
    assert!(h.sent.is_empty());
    assert!(h.core.groups(h.now()).is_empty());
}

#[test]
fn a_failed_delivery_is_retried_at_the_next_group_interval() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down")]);
    h.fail = true;
    h.advance_to(T0 + 30 * S);
    assert_eq!(h.attempts, 1);
    assert!(h.sent.is_empty());
    h.fail = false;
    h.advance_to(T0 + 330 * S - 1);
    assert!(h.sent.is_empty());
    h.advance_to(T0 + 330 * S);
    assert_eq!(h.sent_times(), vec![T0 + 330 * S], "retried, then recorded");
    h.advance_to(T0 + 1800 * S);
    assert_eq!(
        h.sent.len(),
        1,
        "recorded: no more until the repeat interval"
    );
}

#[test]
fn restart_does_not_renotify_a_notified_group() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down")]);
    h.advance_to(T0 + 60 * S);
    assert_eq!(h.sent.len(), 1);
    let mut h = h.reopen();
    h.advance_to(T0 + 3600 * S);
    assert!(
        h.sent.is_empty(),
        "the notification log survived the restart"
    );
    // The repeat is still counted from the notification before the restart.
    // 1 h after that notification (T0 + 30 s), at the restarted group's next tick.
    h.advance_to(T0 + 30 * S + 65 * 60 * S);
    assert_eq!(h.sent_times(), vec![T0 + 60 * S + 3600 * S]);
}

#[test]
fn restart_notifies_a_group_that_was_due() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down")]);
    // Down before group_wait passed: the alert is stored, never notified.
    h.clock.set(T0 + 90 * S);
    let mut h = h.reopen();
    h.advance_to(T0 + 90 * S);
    assert_eq!(
        h.sent_times(),
        vec![T0 + 90 * S],
        "at once: it already waited group_wait"
    );

    // A repeat that fell due while the process was down is sent on restart too.
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down")]);
    h.advance_to(T0 + 30 * S);
    h.clock.set(T0 + 3 * 3600 * S);
    let mut h = h.reopen();
    h.advance_to(T0 + 3 * 3600 * S);
    assert_eq!(h.sent_times(), vec![T0 + 3 * 3600 * S]);
}

#[test]
fn group_wait_zero_flushes_at_once() {
    let mut h = Harness::new(
        r#"
[route]
receiver = "pager"
group_wait = "0s"
"#,
    );
    h.fire(&[("alertname", "CheckFailed")]);
    assert_eq!(h.core.next_due(), Some(T0));
    h.advance_to(T0);
    assert_eq!(h.sent_times(), vec![T0]);
}

#[test]
fn a_partial_resolution_is_notified_with_the_rest_still_firing() {
    let mut h = Harness::new(BASIC);
    h.fire(&[("alertname", "Down"), ("job", "api")]);
    h.fire(&[("alertname", "Down"), ("job", "web")]);
    h.advance_to(T0 + 100 * S);
    h.resolve(&[("alertname", "Down"), ("job", "web")]);
    h.advance_to(T0 + 330 * S);
    assert_eq!(h.sent_times(), vec![T0 + 30 * S, T0 + 330 * S]);
    let n = &h.sent[1];
    let resolved: Vec<bool> = n.alerts.iter().map(|a| a.resolved_at(n.at_ns)).collect();
    assert_eq!(resolved.iter().filter(|r| **r).count(), 1);
    assert_eq!(n.alerts.len(), 2);
    // The resolved alert left the group; the firing one is not re-sent until the repeat.
    h.advance_to(T0 + 3600 * S);
    assert_eq!(h.sent.len(), 2);
    assert_eq!(h.core.groups(h.now())[0].alerts.len(), 1);
}
