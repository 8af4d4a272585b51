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

/// Where one message goes: every integration of a configured receiver, or one address the
/// escalation policy or on-call schedule resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A configured receiver by name (its e-mail, webhook and Slack configs).
    Receiver(String),
    /// One e-mail address (`alice@example.com` or `Alice <alice@example.com>`).
    Email(String),
    /// One generic webhook URL (Alertmanager webhook payload).
    Webhook(String),
}

/// What is delivered to a [`Target`]: the notification and, when an escalation policy sends
/// it, the escalation's context (which step, and the signed acknowledgement link).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub notification: Notification,
    pub escalation: Option<EscalationContext>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EscalationContext {
    /// The escalation instance ("incident") being notified about.
    pub incident_id: String,
    pub policy: String,
    /// 0-based step of the policy that is notifying.
    pub step: usize,
    /// 0-based repetition of the whole policy.
    pub round: u32,
    /// One-click, signed and expiring acknowledgement link.
    pub ack_url: String,
    /// Who acknowledged, once someone has.
    pub acked_by: Option<String>,
}

/// Delivers one message to one target (with the deliverer's own retries). `Err` carries the
/// last failure's reason.
pub trait Deliver: Send + Sync + 'static {
    fn deliver<'a>(
        &'a self,
        target: &'a Target,
        msg: &'a Message,
    ) -> BoxFuture<'a, Result<(), String>>;
}
