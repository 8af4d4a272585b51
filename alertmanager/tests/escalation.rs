//! The escalation clock with exact times: steps, repeat rounds, acknowledgement, forwarding,
//! resolution, failed deliveries, restart in the middle, and the tokio driver.

mod escalation_support;

use escalation_support::*;
use pharos_alertmanager::escalation::IncidentState;
use pharos_alertmanager::notification::{NotifySink, Target};
use pharos_collector::clock::ManualClock;

#[tokio::test]
async fn steps_fire_exactly_on_time_then_the_policy_repeats_once_and_stops() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    let sent = h.recorder.take();
    // The schedule target resolves to whoever is on call at t0.
    assert_eq!(targets(&sent), vec![email("Alice <alice@example.com>")]);
    let ctx = sent[0].1.escalation.clone().unwrap();
    assert_eq!((ctx.policy.as_str(), ctx.step, ctx.round), ("api", 0, 0));
    assert!(
        ctx.ack_url
            .starts_with("https://pharos.example.com/api/v1/ack/"),
        "{}",
        ctx.ack_url
    );
    assert_eq!(ctx.acked_by, None);
    assert_eq!(h.escalator.next_due(), Some(t0 + 5 * MIN));

    assert_eq!(
        h.escalator.tick(t0 + 5 * MIN - 1).await,
        0,
        "not a nanosecond early"
    );
    assert_eq!(h.escalator.tick(t0 + 5 * MIN).await, 2);
    let sent = h.recorder.take();
    assert_eq!(
        targets(&sent),
        vec![email("lead@example.com"), Target::Webhook(WEBHOOK.into())]
    );
    assert!(sent
        .iter()
        .all(|(_, m)| m.escalation.as_ref().unwrap().step == 1));
    assert_eq!(h.escalator.tick(t0 + 5 * MIN).await, 0, "a step fires once");

    assert_eq!(h.escalator.tick(t0 + 15 * MIN - 1).await, 0);
    assert_eq!(h.escalator.tick(t0 + 15 * MIN).await, 2);
    assert_eq!(
        targets(&h.recorder.take()),
        vec![
            Target::Receiver("management".into()),
            email("lead@example.com")
        ]
    );

    // The last step's delay, then round 1 from step 0.
    assert_eq!(h.escalator.next_due(), Some(t0 + 30 * MIN));
    assert_eq!(h.escalator.tick(t0 + 30 * MIN - 1).await, 0);
    assert_eq!(h.escalator.tick(t0 + 30 * MIN).await, 1);
    let sent = h.recorder.take();
    let ctx = sent[0].1.escalation.clone().unwrap();
    assert_eq!((ctx.step, ctx.round), (0, 1));
    assert_eq!(h.escalator.tick(t0 + 35 * MIN).await, 2);
    assert_eq!(h.escalator.tick(t0 + 45 * MIN).await, 2);
    // repeat = 1: the second round was the last.
    assert_eq!(h.escalator.next_due(), None);
    assert_eq!(h.escalator.tick(t0 + 1000 * MIN).await, 0);

    let view = &h.escalator.incidents(true)[0];
    assert_eq!(
        (view.step, view.round, view.state),
        (2, 1, IncidentState::Open)
    );
    assert_eq!(view.notified.len(), 1 + 2 + 2 + 1 + 2 + 2);
    assert_eq!(view.notified[0].schedule.as_deref(), Some("primary"));
    assert_eq!(view.notified[1].at, t0 + 5 * MIN);
    // The webhook's secret path never reaches a view.
    let json = serde_json::to_string(&h.escalator.incidents(false)).unwrap();
    assert!(!json.contains("s3cr3t"), "{json}");
    assert!(json.contains("https://hooks.example.com/…"));
}

#[tokio::test]
async fn a_manual_resolve_closes_the_incident_and_a_still_firing_group_opens_a_new_one() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    let id = h.escalator.incidents(true)[0].id.clone();
    h.recorder.take();

    let view = h
        .escalator
        .resolve(&id, "carol", Some(" fixed the disk "), t0 + 2 * MIN)
        .unwrap();
    assert_eq!(view.state, IncidentState::Resolved);
    assert_eq!(view.resolved_at, Some(t0 + 2 * MIN));
    assert_eq!(view.resolved_by.as_deref(), Some("carol"));
    assert_eq!(view.resolve_comment.as_deref(), Some("fixed the disk"));
    assert_eq!(view.next_escalation_at, None);
    // No step fires after it, and it is no longer open.
    assert_eq!(h.escalator.tick(t0 + 100 * MIN).await, 0);
    assert!(h.recorder.take().is_empty());
    assert!(h.escalator.incidents(true).is_empty());
    // Again: a success that keeps the first resolution; an ack now is refused.
    let again = h
        .escalator
        .resolve(&id, "dave", None, t0 + 3 * MIN)
        .unwrap();
    assert_eq!(again.resolved_by.as_deref(), Some("carol"));
    assert!(h.escalator.ack(&id, "dave", t0 + 3 * MIN).is_err());
    assert!(h.escalator.resolve("nope", "dave", None, t0).is_err());

    // The alert still fires: the group's next notification opens a new incident and pages.
    h.clock.set(t0 + 10 * MIN);
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0 + 10 * MIN))
        .await
        .unwrap();
    let open = h.escalator.incidents(true);
    assert_eq!(open.len(), 1);
    assert_ne!(open[0].id, id);
    assert!(!h.recorder.take().is_empty());
}

#[tokio::test]
async fn an_ack_stops_the_escalation_and_later_updates_only_record() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    let id = h.escalator.incidents(true)[0].id.clone();
    h.recorder.take();

    let view = h
        .escalator
        .ack_with_comment(&id, "alice", Some("  rolling back  "), t0 + 3 * MIN)
        .unwrap();
    assert_eq!(view.state, IncidentState::Acknowledged);
    assert_eq!(view.ack_comment.as_deref(), Some("rolling back"));
    assert_eq!(
        (view.acked_by.as_deref(), view.acked_at),
        (Some("alice"), Some(t0 + 3 * MIN))
    );
    assert_eq!(view.next_escalation_at, None);
    assert_eq!(h.escalator.next_due(), None);
    assert_eq!(h.escalator.tick(t0 + 5 * MIN).await, 0);
    assert_eq!(h.escalator.tick(t0 + 100 * MIN).await, 0);
    // Acknowledging again is a success that keeps the first acknowledgement.
    let again = h.escalator.ack(&id, "bob", t0 + 4 * MIN).unwrap();
    assert_eq!(again.acked_by.as_deref(), Some("alice"));
    assert_eq!(again.ack_comment.as_deref(), Some("rolling back"));

    // A new alert joins the group: recorded, nobody re-paged.
    h.clock.set(t0 + 6 * MIN);
    let second = alert("Slow", t0 + 6 * MIN);
    h.escalator
        .notify(notification(
            vec![alert("Down", t0), second.clone()],
            t0 + 6 * MIN,
        ))
        .await
        .unwrap();
    assert!(h.recorder.take().is_empty());
    let view = h.escalator.incident(&id).unwrap();
    assert_eq!(view.alerts.len(), 2);
    assert!(view.alerts.contains(&second.fingerprint().to_string()));

    // Resolution reaches the acknowledged people too, and says who acknowledged.
    h.clock.set(t0 + 20 * MIN);
    h.escalator
        .notify(notification(
            vec![
                resolved(alert("Down", t0), t0 + 19 * MIN),
                resolved(second, t0 + 19 * MIN),
            ],
            t0 + 20 * MIN,
        ))
        .await
        .unwrap();
    let sent = h.recorder.take();
    assert_eq!(targets(&sent), vec![email("Alice <alice@example.com>")]);
    assert_eq!(
        sent[0].1.escalation.as_ref().unwrap().acked_by.as_deref(),
        Some("alice")
    );
    assert!(sent[0].1.notification.all_resolved(t0 + 20 * MIN));
}

#[tokio::test]
async fn unacknowledged_updates_go_to_everyone_paged_and_resolution_closes_the_incident() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    h.escalator.tick(t0 + 5 * MIN).await;
    h.recorder.take();

    // The dispatcher's repeat: forwarded to everyone already paged, without advancing.
    h.clock.set(t0 + 7 * MIN);
    h.escalator
        .notify(notification(
            vec![alert("Down", t0), alert("Slow", t0 + 7 * MIN)],
            t0 + 7 * MIN,
        ))
        .await
        .unwrap();
    let sent = h.recorder.take();
    assert_eq!(
        targets(&sent),
        vec![
            email("Alice <alice@example.com>"),
            email("lead@example.com"),
            Target::Webhook(WEBHOOK.into())
        ]
    );
    assert!(sent.iter().all(|(_, m)| m.notification.alerts.len() == 2));
    assert_eq!(
        h.escalator.next_due(),
        Some(t0 + 15 * MIN),
        "the clock is unchanged"
    );

    // Everything resolves: the notice reaches every target paged (including the person the
    // schedule resolved to), and the incident closes.
    h.clock.set(t0 + 9 * MIN);
    let done = t0 + 8 * MIN;
    h.escalator
        .notify(notification(
            vec![
                resolved(alert("Down", t0), done),
                resolved(alert("Slow", t0 + 7 * MIN), done),
            ],
            t0 + 9 * MIN,
        ))
        .await
        .unwrap();
    let sent = h.recorder.take();
    assert_eq!(targets(&sent).len(), 3);
    assert!(targets(&sent).contains(&email("Alice <alice@example.com>")));
    assert!(sent
        .iter()
        .all(|(_, m)| m.notification.all_resolved(t0 + 9 * MIN)));
    assert!(h.escalator.incidents(true).is_empty());
    let closed = &h.escalator.incidents(false)[0];
    assert_eq!(
        (closed.state, closed.resolved_at),
        (IncidentState::Resolved, Some(t0 + 9 * MIN))
    );
    assert_eq!(
        h.escalator.tick(t0 + 15 * MIN).await,
        0,
        "no steps after resolution"
    );
    assert!(h.escalator.ack(&closed.id, "x", t0 + 10 * MIN).is_err());

    // A resolved notification for a group with no open incident pages nobody.
    h.escalator
        .notify(notification(
            vec![resolved(alert("Down", t0), done)],
            t0 + 10 * MIN,
        ))
        .await
        .unwrap();
    assert!(h.recorder.take().is_empty());

    // Firing again opens a new incident with a new id.
    h.clock.set(t0 + 60 * MIN);
    h.escalator
        .notify(notification(
            vec![alert("Down", t0 + 60 * MIN)],
            t0 + 60 * MIN,
        ))
        .await
        .unwrap();
    assert_eq!(h.recorder.take().len(), 1);
    let open = h.escalator.incidents(true);
    assert_eq!(open.len(), 1);
    assert_ne!(open[0].id, closed.id);

    // Resolved incidents are forgotten after the retention (7 days by default).
    h.escalator.tick(t0 + 9 * MIN + 7 * 24 * 60 * MIN).await;
    assert!(h.escalator.incident(&closed.id).is_none());
}

#[tokio::test]
async fn a_failed_delivery_does_not_hold_the_clock() {
    let h = harness();
    let t0 = t0();
    h.recorder
        .failing
        .lock()
        .push(email("Alice <alice@example.com>"));
    // The sink still succeeds: the incident is stored, and the next step is the fallback.
    NotifySink::deliver(&*h.escalator, notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    assert_eq!(h.recorder.take().len(), 1);
    assert_eq!(h.escalator.tick(t0 + 5 * MIN).await, 2);
}

#[tokio::test]
async fn the_person_on_call_when_the_step_fires_is_paged() {
    let db = pharos_alertmanager::storage::MemStateDb::default();
    // Sunday evening of Alice's week; round 1's step 0 (due 00:20Z) is ticked only after
    // Monday's 09:00 handoff (08:00Z), so it pages Bob.
    let start = ns("2025-03-23T23:50:00Z");
    let h = open(db, ManualClock::new(start), CONFIG);
    h.escalator
        .notify(notification(vec![alert("Down", start)], start))
        .await
        .unwrap();
    assert_eq!(
        targets(&h.recorder.take()),
        vec![email("Alice <alice@example.com>")]
    );
    h.escalator.tick(start + 5 * MIN).await;
    h.escalator.tick(start + 15 * MIN).await;
    h.escalator.tick(ns("2025-03-24T08:00:00Z")).await;
    let sent = h.recorder.take();
    assert_eq!(sent.last().unwrap().0, email("Bob <bob@example.com>"));
}

#[tokio::test]
async fn a_restart_in_the_middle_continues_without_resending() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    h.escalator.tick(t0 + 5 * MIN).await;
    let before = h.escalator.incidents(true);
    // Alice's step-0 link, sent before the restart.
    let first_link = h.recorder.take()[0].1.escalation.clone().unwrap().ack_url;
    let (db, clock) = (h.db.clone(), h.clock.clone());
    drop(h);

    // Down from t0+6m to t0+20m: step 2 (due at t0+15m) passed meanwhile.
    clock.set(t0 + 20 * MIN);
    let h = open(db, clock, CONFIG);
    assert_eq!(
        h.escalator.incidents(true),
        before,
        "state reloaded as it was"
    );
    assert_eq!(h.escalator.next_due(), Some(t0 + 15 * MIN));
    assert_eq!(
        h.escalator.tick(t0 + 20 * MIN).await,
        2,
        "the overdue step fires at once"
    );
    let sent = h.recorder.take();
    assert_eq!(
        targets(&sent),
        vec![
            Target::Receiver("management".into()),
            email("lead@example.com")
        ]
    );
    assert!(sent
        .iter()
        .all(|(_, m)| m.escalation.as_ref().unwrap().step == 2));
    // The next step waits its full delay from when step 2 was actually notified.
    assert_eq!(h.escalator.next_due(), Some(t0 + 35 * MIN));
    assert_eq!(h.escalator.tick(t0 + 35 * MIN - 1).await, 0);

    // Links sent before the restart still work (the generated key is kept in the db).
    let token = first_link.rsplit('/').next().unwrap();
    let view = h.escalator.ack_with_token(token, t0 + 21 * MIN).unwrap();
    assert_eq!(view.acked_by.as_deref(), Some("Alice <alice@example.com>"));
}

#[tokio::test]
async fn the_driver_fires_due_steps_and_stops_on_shutdown() {
    let h = harness();
    let t0 = t0();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = tokio::spawn(h.escalator.clone().run(async move {
        let _ = stopped.await;
    }));
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    assert_eq!(h.recorder.take().len(), 1);
    // Time "passes" on the manual clock; the driver is woken to look at it.
    h.clock.set(t0 + 5 * MIN);
    h.escalator.wake();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.recorder.sent.lock().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        targets(&h.recorder.take()).len(),
        2,
        "step 1 fired by the driver"
    );
    stop.send(()).unwrap();
    driver.await.unwrap();
}

#[tokio::test]
async fn receivers_without_a_policy_are_delivered_directly() {
    let h = harness();
    let mut n = notification(vec![alert("Down", t0())], t0());
    n.receiver = "team-chat".into();
    assert!(!h.escalator.handles("team-chat"));
    assert!(h.escalator.handles("api-pager"));
    h.escalator.notify(n.clone()).await.unwrap();
    let sent = h.recorder.take();
    assert_eq!(targets(&sent), vec![Target::Receiver("team-chat".into())]);
    assert_eq!(sent[0].1.escalation, None);
    assert!(h.escalator.incidents(false).is_empty());
    h.recorder
        .failing
        .lock()
        .push(Target::Receiver("team-chat".into()));
    assert!(
        h.escalator.notify(n).await.is_err(),
        "the dispatcher retries a failed direct delivery"
    );
}

#[tokio::test]
async fn a_config_change_under_a_stored_incident_stops_its_clock() {
    let h = harness();
    let t0 = t0();
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    let (db, clock) = (h.db.clone(), h.clock.clone());
    drop(h);
    // Restarted with a one-step policy and no repeat: step 0 was the last.
    let one_step = CONFIG
        .replace("repeat = 1", "repeat = 0")
        .split("[[policies.steps]]\ndelay = \"10m\"")
        .next()
        .unwrap()
        .to_string();
    let h = open(db, clock, &one_step);
    assert_eq!(h.escalator.next_due(), Some(t0 + 5 * MIN));
    assert_eq!(h.escalator.tick(t0 + 5 * MIN).await, 0);
    assert_eq!(
        h.escalator.next_due(),
        None,
        "no busy loop on a step that no longer exists"
    );
}
