//! `PharosNotificationsFailing`: after `failing_after` failed deliveries in a row to one
//! receiver, an alert goes into the alert store (so it shows in the UI and routes like any
//! other) AND straight to the fallback receiver — straight, because the normal path is what
//! is failing. The first success resolves it, again both ways.

use crate::alert::{labels, Alert};
use crate::notification::{Message, Notification};
use crate::notify::Notifier;

pub const FAILING_ALERT_NAME: &str = "PharosNotificationsFailing";

#[derive(Debug, Default)]
pub(crate) struct FailureState {
    consecutive: u32,
    /// The meta-alert is firing since this time (Unix ns).
    firing_since_ns: Option<i64>,
}

enum Change {
    Fire,
    /// Still failing: refresh the stored alert so the resolve timeout does not end it.
    StillFiring,
    Resolve {
        since_ns: i64,
    },
}

impl Notifier {
    /// Counts a delivery's outcome; returns the message for the fallback receiver when the
    /// meta-alert fires or resolves (the caller delivers it).
    pub(crate) fn track_outcome(
        &self,
        receiver: &str,
        result: &Result<(), String>,
    ) -> Option<Message> {
        let now = self.inner.clock.now_ns();
        let change = {
            let mut failures = self.inner.failures.lock();
            let state = failures.entry(receiver.to_string()).or_default();
            match result {
                Ok(()) => {
                    state.consecutive = 0;
                    state
                        .firing_since_ns
                        .take()
                        .map(|since_ns| Change::Resolve { since_ns })
                }
                Err(_) => {
                    state.consecutive = state.consecutive.saturating_add(1);
                    if state.firing_since_ns.is_some() {
                        Some(Change::StillFiring)
                    } else if state.consecutive >= self.inner.settings.failing_after {
                        state.firing_since_ns = Some(now);
                        Some(Change::Fire)
                    } else {
                        None
                    }
                }
            }
        };
        let change = change?;
        let mut alert = Alert::firing(
            labels([
                ("alertname", FAILING_ALERT_NAME),
                ("receiver", receiver),
                ("severity", "critical"),
            ]),
            now,
        );
        alert.annotations = labels([
            (
                "summary",
                format!("Notifications to receiver {receiver} are failing").as_str(),
            ),
            (
                "description",
                format!(
                    "{} deliveries in a row failed; the last: {}",
                    self.inner.settings.failing_after,
                    result.as_ref().err().map_or("", String::as_str)
                )
                .as_str(),
            ),
        ]);
        if let Change::Resolve { since_ns } = change {
            alert.starts_at_ns = since_ns;
            alert.ends_at_ns = now;
            alert
                .annotations
                .insert("description".into(), "Deliveries succeed again.".into());
        }
        if let Some(store) = &self.inner.store {
            if let Err(e) = store.put(vec![alert.clone()]) {
                tracing::warn!(error = %e, receiver, "cannot store the notifications-failing alert");
            }
        }
        if matches!(change, Change::StillFiring) {
            return None;
        }
        let fallback = self.inner.settings.fallback_receiver.as_str();
        if fallback.is_empty() || fallback == receiver {
            return None;
        }
        Some(Message {
            notification: Notification {
                receiver: fallback.to_string(),
                group_key: format!(
                    "{{}}/pharos:{{alertname=\"{FAILING_ALERT_NAME}\", receiver={receiver:?}}}"
                ),
                group_labels: labels([("alertname", FAILING_ALERT_NAME), ("receiver", receiver)]),
                alerts: vec![alert],
                at_ns: now,
            },
            escalation: None,
        })
    }
}
