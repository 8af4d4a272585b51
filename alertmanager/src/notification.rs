//! The seam between routing and delivery. The dispatcher decides *that* a group of alerts is
//! due to a receiver (group_wait, group_interval, repeat_interval, silences, inhibition and
//! mute intervals already applied) and hands a [`Notification`] to a [`NotifySink`]; the sink
//! delivers it — directly through a receiver's e-mail, webhook and Slack configs, or through
//! an escalation policy that notifies step by step until someone acknowledges.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, LabelSet};

/// One group of alerts due to one receiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The route's receiver (a receiver name, which may be bound to an escalation policy).
    pub receiver: String,
    /// Identifies the aggregation group: the route's path and the group labels, stable
    /// across restarts (Alertmanager's group key, e.g. `{}/{team="api"}:{alertname="Down"}`).
    pub group_key: String,
    /// The values of the route's `group_by` labels.
    pub group_labels: LabelSet,
    /// The group's alerts at flush time, firing and resolved, ordered by fingerprint.
    pub alerts: Vec<Alert>,
    /// When the dispatcher flushed the group (Unix ns).
    pub at_ns: i64,
}

impl Notification {
    /// Every alert in the group is resolved at `now_ns`.
    pub fn all_resolved(&self, now_ns: i64) -> bool {
        self.alerts.iter().all(|a| a.resolved_at(now_ns))
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the dispatcher hands notifications. `Err` means the notification was not delivered
/// (after the sink's own retries); the dispatcher then does not record it as sent, so the
/// next flush tries again.
pub trait NotifySink: Send + Sync + 'static {
    fn deliver(&self, n: Notification) -> BoxFuture<'_, Result<(), String>>;
}
