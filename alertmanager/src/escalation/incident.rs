//! An incident: one escalation of one alert group for one receiver, from the first firing
//! notification until every alert resolved. Stored (JSON, space `incidents`) before any
//! message about it is sent, so a restart continues where it was.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alert::LabelSet;
use crate::notification::{Notification, Target};
use crate::oncall::{ser_ns, ser_opt_ns};

pub(crate) const INCIDENTS_SPACE: &str = "incidents";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Incident {
    pub id: String,
    pub policy: String,
    pub opened_at_ns: i64,
    /// The latest notification for the group (its receiver, group key, alerts).
    pub notification: Notification,
    /// The step and round notified last.
    pub step: usize,
    pub round: u32,
    /// When the next step is due; `None` once acknowledged, resolved or the policy ran out.
    pub next_escalation_at_ns: Option<i64>,
    pub notified: Vec<Notified>,
    pub acked_by: Option<String>,
    pub acked_at_ns: Option<i64>,
    /// What the acknowledger wrote ("rolling back the deploy"); older incidents have none.
    #[serde(default)]
    pub ack_comment: Option<String>,
    pub resolved_at_ns: Option<i64>,
    /// Who resolved it by hand (`None` when its alerts resolved it), and why.
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolve_comment: Option<String>,
}

/// One target paged by one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Notified {
    pub target: Target,
    /// The schedule that resolved to this target, when it came from `{ schedule = … }`.
    pub schedule: Option<String>,
    pub step: usize,
    pub round: u32,
    pub at_ns: i64,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.resolved_at_ns.is_none()
    }

    /// Every distinct target notified so far, in first-notified order.
    pub fn notified_targets(&self) -> Vec<Target> {
        let mut out: Vec<Target> = Vec::new();
        for n in &self.notified {
            if !out.contains(&n.target) {
                out.push(n.target.clone());
            }
        }
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data to JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn view(&self) -> IncidentView {
        let n = &self.notification;
        IncidentView {
            id: self.id.clone(),
            state: if self.resolved_at_ns.is_some() {
                IncidentState::Resolved
            } else if self.acked_by.is_some() {
                IncidentState::Acknowledged
            } else {
                IncidentState::Open
            },
            receiver: n.receiver.clone(),
            group_key: n.group_key.clone(),
            group_labels: n.group_labels.clone(),
            alerts: n
                .alerts
                .iter()
                .map(|a| a.fingerprint().to_string())
                .collect(),
            policy: self.policy.clone(),
            step: self.step,
            round: self.round,
            opened_at: self.opened_at_ns,
            next_escalation_at: self.next_escalation_at_ns,
            notified: self
                .notified
                .iter()
                .map(|x| NotifiedView {
                    target: redact(&x.target),
                    schedule: x.schedule.clone(),
                    step: x.step,
                    round: x.round,
                    at: x.at_ns,
                })
                .collect(),
            acked_by: self.acked_by.clone(),
            acked_at: self.acked_at_ns,
            ack_comment: self.ack_comment.clone(),
            resolved_at: self.resolved_at_ns,
            resolved_by: self.resolved_by.clone(),
            resolve_comment: self.resolve_comment.clone(),
        }
    }
}

/// A short id, stable for a given receiver, group and opening time (12 hex digits of
/// SHA-256; `attempt` varies it in the unlikely case of a collision).
pub(crate) fn incident_id(
    receiver: &str,
    group_key: &str,
    opened_at_ns: i64,
    attempt: u32,
) -> String {
    let mut h = Sha256::new();
    h.update(receiver.as_bytes());
    h.update([0]);
    h.update(group_key.as_bytes());
    h.update([0]);
    h.update(opened_at_ns.to_be_bytes());
    h.update(attempt.to_be_bytes());
    let digest = h.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A webhook URL often carries a token in its path or query: views and logs show only the
/// scheme and host.
pub(crate) fn redact(target: &Target) -> Target {
    match target {
        Target::Webhook(url) => Target::Webhook(match reqwest::Url::parse(url) {
            Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("")),
            Err(_) => "<invalid URL>".into(),
        }),
        other => other.clone(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Escalating (or ran out of steps) with no acknowledgement.
    Open,
    Acknowledged,
    Resolved,
}

/// An incident for the API (`GET /api/v1/incidents`); times serialise as RFC 3339.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentView {
    pub id: String,
    pub state: IncidentState,
    pub receiver: String,
    pub group_key: String,
    pub group_labels: LabelSet,
    /// Fingerprints (16 hex digits) of the group's alerts at the latest notification.
    pub alerts: Vec<String>,
    pub policy: String,
    /// The step and round (both 0-based) notified last.
    pub step: usize,
    pub round: u32,
    #[serde(serialize_with = "ser_ns")]
    pub opened_at: i64,
    #[serde(serialize_with = "ser_opt_ns")]
    pub next_escalation_at: Option<i64>,
    pub notified: Vec<NotifiedView>,
    pub acked_by: Option<String>,
    #[serde(serialize_with = "ser_opt_ns")]
    pub acked_at: Option<i64>,
    pub ack_comment: Option<String>,
    #[serde(serialize_with = "ser_opt_ns")]
    pub resolved_at: Option<i64>,
    /// Set when a person resolved it (`POST /api/v1/incidents/{id}/resolve`).
    pub resolved_by: Option<String>,
    pub resolve_comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotifiedView {
    /// Webhook URLs are shown as `scheme://host/…`.
    pub target: Target,
    pub schedule: Option<String>,
    pub step: usize,
    pub round: u32,
    #[serde(serialize_with = "ser_ns")]
    pub at: i64,
}
