//! The alert lifecycle of one rule, exactly as Prometheus's alerting rule runs it
//! (rules/alerting.go): per label set, inactive → pending (condition true, `for` not yet
//! elapsed) → firing → inactive/resolved when the condition stops holding (after
//! `keep_firing_for`). Resolved alerts stay 15 minutes so the resolution is re-sent. Pure:
//! no clock, no I/O; the engine passes `now` and stores what changed.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, Fingerprint, LabelSet};

/// How long a resolved alert is kept (and re-sent), as Prometheus's `resolvedRetention`.
pub const RESOLVED_RETENTION_NS: i64 = 15 * 60 * 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance of a rule. Times are Unix ns; 0 = not set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub state: AlertState,
    /// The value at the last evaluation that held (persisted at each state change).
    pub value: f64,
    pub active_at_ns: i64,
    #[serde(default)]
    pub fired_at_ns: i64,
    #[serde(default)]
    pub resolved_at_ns: i64,
    #[serde(default)]
    pub keep_firing_since_ns: i64,
    /// Not persisted: after a restart every active alert is sent again at once.
    #[serde(skip)]
    pub last_sent_at_ns: i64,
}

/// An instance produced by an evaluation: final labels (with `alertname` and the rule's
/// labels), rendered annotations and the sample value.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub value: f64,
}

/// A rule's timing, in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub for_ns: i64,
    pub keep_firing_for_ns: i64,
    pub interval_ns: i64,
    pub resend_delay_ns: i64,
}

/// Every active alert of a rule, by fingerprint of its labels.
#[derive(Debug, Clone, Default)]
pub struct RuleAlerts {
    pub active: HashMap<Fingerprint, ActiveAlert>,
}

/// What an evaluation changed, for persistence.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Alerts whose persisted fields changed (new, state, times).
    pub upserted: BTreeSet<Fingerprint>,
    pub removed: BTreeSet<Fingerprint>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.removed.is_empty()
    }
}

impl RuleAlerts {
    /// Applies one successful evaluation at `now`.
    pub fn apply(&mut self, now: i64, instances: Vec<Instance>, t: &Timing) -> Changes {
        let mut changes = Changes::default();
        let mut seen = BTreeSet::new();
        for inst in instances {
            let fp = Fingerprint::of(&inst.labels);
            seen.insert(fp);
            match self.active.get_mut(&fp) {
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = inst.value;
                    a.annotations = inst.annotations;
                }
                // New, or resolved and back: a new alert (Prometheus replaces it).
                _ => {
                    self.active.insert(
                        fp,
                        ActiveAlert {
                            labels: inst.labels,
                            annotations: inst.annotations,
                            state: AlertState::Pending,
                            value: inst.value,
                            active_at_ns: now,
                            fired_at_ns: 0,
                            resolved_at_ns: 0,
                            keep_firing_since_ns: 0,
                            last_sent_at_ns: 0,
                        },
                    );
                    changes.upserted.insert(fp);
                }
            }
        }
        let mut remove = Vec::new();
        for (fp, a) in self.active.iter_mut() {
            if !seen.contains(fp) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && t.keep_firing_for_ns > 0 {
                    if a.keep_firing_since_ns == 0 {
                        a.keep_firing_since_ns = now;
                        changes.upserted.insert(*fp);
                    }
                    keep_firing = now.saturating_sub(a.keep_firing_since_ns) < t.keep_firing_for_ns;
                }
                if a.state == AlertState::Pending
                    || (a.resolved_at_ns != 0
                        && now.saturating_sub(a.resolved_at_ns) > RESOLVED_RETENTION_NS)
                {
                    remove.push(*fp);
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ns = now;
                    changes.upserted.insert(*fp);
                }
                if !keep_firing {
                    continue;
                }
            } else if a.keep_firing_since_ns != 0 {
                a.keep_firing_since_ns = 0;
                changes.upserted.insert(*fp);
            }
            if a.state == AlertState::Pending && now.saturating_sub(a.active_at_ns) >= t.for_ns {
                a.state = AlertState::Firing;
                a.fired_at_ns = now;
                changes.upserted.insert(*fp);
            }
        }
        for fp in remove {
            self.active.remove(&fp);
            changes.upserted.remove(&fp);
            changes.removed.insert(fp);
        }
        changes
    }

    /// The alerts due to the alert store at `now` (Prometheus's needsSending/sendAlerts):
    /// firing and resolved ones, each again after `resend_delay`, a resolution at once. A
    /// firing alert's end is `now + 4 × max(interval, resend_delay)`, so it stays firing
    /// in the store across a few missed evaluations; a resolved one ends when it resolved.
    pub fn due(&mut self, now: i64, t: &Timing) -> Vec<Alert> {
        let delta = t.interval_ns.max(t.resend_delay_ns);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.state == AlertState::Pending {
                continue;
            }
            let resolved_since_sent = a.resolved_at_ns > a.last_sent_at_ns;
            // Inclusive (Prometheus compares strictly): with the default interval equal
            // to the resend delay, a firing alert is re-sent at every evaluation.
            let resend_due = a.last_sent_at_ns.saturating_add(t.resend_delay_ns) <= now
                || a.last_sent_at_ns == 0;
            if !(resolved_since_sent || resend_due) {
                continue;
            }
            a.last_sent_at_ns = now;
            let ends_at_ns = if a.state == AlertState::Inactive {
                a.resolved_at_ns
            } else {
                now.saturating_add(delta.saturating_mul(4))
            };
            out.push(Alert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at_ns: a.fired_at_ns,
                ends_at_ns,
                generator_url: String::new(),
                updated_at_ns: 0,
                timeout: false,
            });
        }
        out.sort_by_key(Alert::fingerprint);
        out
    }

    /// The rule's state as Prometheus reports it: the "highest" of its alerts.
    pub fn state(&self) -> AlertState {
        let mut s = AlertState::Inactive;
        for a in self.active.values() {
            match a.state {
                AlertState::Firing => return AlertState::Firing,
                AlertState::Pending => s = AlertState::Pending,
                AlertState::Inactive => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests;
