//! The dispatcher's pure, clock-driven core: alerts in ([`DispatchCore::on_alert`]), due
//! notifications out ([`DispatchCore::tick`]), delivery results back
//! ([`DispatchCore::on_delivered`]). It never sleeps or reads a clock; the driver in
//! `dispatch/mod.rs` passes "now" and sleeps until [`DispatchCore::next_due`].
//!
//! Aggregation groups follow Alertmanager: a group is created when its first alert arrives
//! and flushes after `group_wait` (at once when that alert started more than `group_wait`
//! ago), then every `group_interval`. A flush drops muted alerts (time intervals, silences,
//! inhibition), asks the notification log whether anything changed (the dedup stage), and
//! hands the group to the sink only if it did. Resolved alerts leave the group after a
//! successful flush; an empty group is removed.

use std::collections::{BTreeMap, BTreeSet};

use pharos_collector::clock::rfc3339;

use crate::alert::{Alert, Fingerprint, LabelSet};
use crate::inhibit::Inhibitor;
use crate::notification::Notification;
use crate::silence::SharedSilences;
use crate::storage::{SharedStateDb, StorageError};
use crate::timeinterval::TimeIntervals;

use super::api::{AlertGroupView, AlertState, AlertStatus, GettableAlert, ReceiverRef};
use super::config::CompiledRouting;
use super::nflog::{NflogEntry, NotificationLog};
use super::route::{labels_string, RouteTree};

/// Identifies an aggregation group: its route and its group key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId {
    pub route: usize,
    pub key: String,
}

struct AggrGroup {
    labels: LabelSet,
    receiver: String,
    alerts: BTreeMap<Fingerprint, Alert>,
    next_flush_ns: i64,
    has_flushed: bool,
    /// A notification of this group is with the sink; the group waits for the result
    /// before flushing again (Alertmanager flushes a group synchronously).
    in_flight: bool,
}

/// A notification due now, with what [`DispatchCore::on_delivered`] needs to record it.
#[derive(Debug)]
pub struct Flush {
    pub notification: Notification,
    pub token: FlushToken,
}

#[derive(Debug)]
pub struct FlushToken {
    group: GroupId,
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    /// Resolved alerts of the group at flush time, by version (`updated_at`, `ends_at`):
    /// removed after success unless they changed meanwhile.
    resolved_versions: Vec<(Fingerprint, i64, i64)>,
}

pub struct DispatchCore {
    tree: RouteTree,
    intervals: TimeIntervals,
    inhibitor: Inhibitor,
    silences: SharedSilences,
    nflog: NotificationLog,
    groups: BTreeMap<GroupId, AggrGroup>,
}

impl DispatchCore {
    /// A core with the notification log read from `db` (space `nflog`); nflog entries older
    /// than `nflog_retention_ns` are dropped by [`DispatchCore::gc`].
    pub fn new(
        routing: CompiledRouting,
        silences: SharedSilences,
        db: SharedStateDb,
        nflog_retention_ns: i64,
    ) -> Result<DispatchCore, StorageError> {
        Ok(DispatchCore {
            tree: routing.tree,
            intervals: routing.intervals,
            inhibitor: Inhibitor::new(routing.inhibit_rules),
            silences,
            nflog: NotificationLog::open(db, nflog_retention_ns)?,
            groups: BTreeMap::new(),
        })
    }

    /// Takes in the latest copy of an alert (firing or resolved).
    pub fn on_alert(&mut self, alert: Alert, now_ns: i64) {
        self.inhibitor.observe(&alert);
        let fp = alert.fingerprint();
        for route in self.tree.match_labels(&alert.labels) {
            let Some(node) = self.tree.node(route) else {
                continue;
            };
            let labels = node.group_labels(&alert.labels);
            let id = GroupId {
                route,
                key: format!("{}:{}", node.key, labels_string(&labels)),
            };
            let group = self.groups.entry(id).or_insert_with(|| AggrGroup {
                labels,
                receiver: node.receiver.clone(),
                alerts: BTreeMap::new(),
                next_flush_ns: now_ns.saturating_add(node.group_wait_ns),
                has_flushed: false,
                in_flight: false,
            });
            // An alert that has already waited out group_wait (it started long ago, e.g. it
            // was re-read after a restart) need not wait again.
            if !group.has_flushed && alert.starts_at_ns.saturating_add(node.group_wait_ns) < now_ns
            {
                group.next_flush_ns = group.next_flush_ns.min(now_ns);
            }
            group.alerts.insert(fp, alert.clone());
        }
    }

    /// When the next group is due (Unix ns); `None` when no group waits.
    pub fn next_due(&self) -> Option<i64> {
        self.groups
            .values()
            .filter(|g| !g.in_flight)
            .map(|g| g.next_flush_ns)
            .min()
    }

    /// Flushes every group due at `now_ns`; returns the notifications to deliver. Each must
    /// be answered with [`DispatchCore::on_delivered`].
    pub fn tick(&mut self, now_ns: i64) -> Vec<Flush> {
        let due: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.in_flight && g.next_flush_ns <= now_ns)
            .map(|(id, _)| id.clone())
            .collect();
        due.into_iter()
            .filter_map(|id| self.flush(id, now_ns))
            .collect()
    }

    fn flush(&mut self, id: GroupId, now_ns: i64) -> Option<Flush> {
        let node = self.tree.node(id.route)?;
        let group = self.groups.get(&id)?;
        let resolved_versions: Vec<(Fingerprint, i64, i64)> = group
            .alerts
            .iter()
            .filter(|(_, a)| a.resolved_at(now_ns))
            .map(|(fp, a)| (*fp, a.updated_at_ns, a.ends_at_ns))
            .collect();
        let time_muted = !node.muted_by(&self.intervals, now_ns).is_empty();
        let to_send: Vec<Alert> = if time_muted {
            Vec::new()
        } else {
            group
                .alerts
                .values()
                .filter(|a| !self.is_muted(&a.labels, now_ns))
                .cloned()
                .collect()
        };
        let (resolved, firing): (Vec<&Alert>, Vec<&Alert>) =
            to_send.iter().partition(|a| a.resolved_at(now_ns));
        let firing: BTreeSet<u64> = firing.iter().map(|a| a.fingerprint().0).collect();
        let resolved: BTreeSet<u64> = resolved.iter().map(|a| a.fingerprint().0).collect();
        let entry = self.nflog.get(&group.receiver, &id.key);
        let notify = !to_send.is_empty()
            && NflogEntry::needs_update(entry, &firing, &resolved, node.repeat_interval_ns, now_ns);
        let next = now_ns.saturating_add(node.group_interval_ns);
        let group = self.groups.get_mut(&id)?;
        group.next_flush_ns = next;
        group.has_flushed = true;
        if !notify {
            // Nothing to say is a successful flush: resolved alerts are done with.
            self.drop_notified(&id, &resolved_versions);
            return None;
        }
        group.in_flight = true;
        let notification = Notification {
            receiver: group.receiver.clone(),
            group_key: id.key.clone(),
            group_labels: group.labels.clone(),
            alerts: to_send,
            at_ns: now_ns,
        };
        Some(Flush {
            notification,
            token: FlushToken {
                group: id,
                firing,
                resolved,
                resolved_versions,
            },
        })
    }

    /// Records the outcome of a [`Flush`]. On success the notification log is written
    /// (durably, before the resolved alerts are forgotten); on failure nothing is recorded,
    /// so the group's next flush (after `group_interval`) tries again.
    pub fn on_delivered(
        &mut self,
        flush: &Flush,
        result: Result<(), String>,
    ) -> Result<(), StorageError> {
        let token = &flush.token;
        if let Some(g) = self.groups.get_mut(&token.group) {
            g.in_flight = false;
        }
        if let Err(e) = result {
            tracing::warn!(
                receiver = %flush.notification.receiver,
                group_key = %token.group.key,
                error = %e,
                "notification not delivered; retrying at the next group_interval"
            );
            return Ok(());
        }
        self.nflog.record(NflogEntry {
            receiver: flush.notification.receiver.clone(),
            group_key: token.group.key.clone(),
            firing: token.firing.clone(),
            resolved: token.resolved.clone(),
            // The flush time, not the delivery's end: repeat_interval counts from when the
            // group was evaluated, so repeats land on group_interval ticks deterministically.
            sent_at_ns: flush.notification.at_ns,
        })?;
        self.drop_notified(&token.group, &token.resolved_versions);
        Ok(())
    }

    fn drop_notified(&mut self, id: &GroupId, resolved: &[(Fingerprint, i64, i64)]) {
        let Some(group) = self.groups.get_mut(id) else {
            return;
        };
        for (fp, updated, ends) in resolved {
            // An alert that changed since the flush (it fired again) stays.
            if group
                .alerts
                .get(fp)
                .is_some_and(|a| a.updated_at_ns == *updated && a.ends_at_ns == *ends)
            {
                group.alerts.remove(fp);
            }
        }
        if group.alerts.is_empty() && !group.in_flight {
            self.groups.remove(id);
        }
    }

    fn is_muted(&self, labels: &LabelSet, now_ns: i64) -> bool {
        !self.silences.silenced_by(labels, now_ns).is_empty()
            || !self.inhibitor.inhibited_by(labels, now_ns).is_empty()
    }

    /// Forgets resolved inhibition sources and old notification log entries.
    pub fn gc(&mut self, now_ns: i64) -> Result<usize, StorageError> {
        self.inhibitor.gc(now_ns);
        self.nflog.gc(now_ns)
    }

    /// The receivers an alert with these labels routes to, in route order, without repeats.
    pub fn receivers(&self, labels: &LabelSet) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.tree.match_labels(labels) {
            if let Some(node) = self.tree.node(r) {
                if !out.contains(&node.receiver) {
                    out.push(node.receiver.clone());
                }
            }
        }
        out
    }

    /// The v2 API status of an alert at `now_ns`.
    pub fn alert_status(&self, alert: &Alert, now_ns: i64) -> AlertStatus {
        let silenced_by = self.silences.silenced_by(&alert.labels, now_ns);
        let inhibited_by: Vec<String> = self
            .inhibitor
            .inhibited_by(&alert.labels, now_ns)
            .into_iter()
            .map(|fp| fp.to_string())
            .collect();
        let mut muted_by: Vec<String> = Vec::new();
        for r in self.tree.match_labels(&alert.labels) {
            if let Some(node) = self.tree.node(r) {
                for name in node.muted_by(&self.intervals, now_ns) {
                    if !muted_by.contains(&name) {
                        muted_by.push(name);
                    }
                }
            }
        }
        let fp = alert.fingerprint();
        let seen =
            alert.resolved_at(now_ns) || self.groups.values().any(|g| g.alerts.contains_key(&fp));
        let state = if !silenced_by.is_empty() || !inhibited_by.is_empty() {
            AlertState::Suppressed
        } else if seen {
            AlertState::Active
        } else {
            AlertState::Unprocessed
        };
        AlertStatus {
            state,
            silenced_by,
            inhibited_by,
            muted_by,
        }
    }

    /// An alert as `GET /api/v2/alerts` shows it.
    pub fn gettable_alert(&self, alert: &Alert, now_ns: i64) -> GettableAlert {
        GettableAlert {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: rfc3339(alert.starts_at_ns),
            ends_at: rfc3339(alert.ends_at_ns),
            updated_at: rfc3339(alert.updated_at_ns),
            generator_url: alert.generator_url.clone(),
            fingerprint: alert.fingerprint().to_string(),
            receivers: self
                .receivers(&alert.labels)
                .into_iter()
                .map(|name| ReceiverRef { name })
                .collect(),
            status: self.alert_status(alert, now_ns),
        }
    }

    /// The aggregation groups, as `GET /api/v2/alerts/groups` shows them.
    pub fn groups(&self, now_ns: i64) -> Vec<AlertGroupView> {
        self.groups
            .iter()
            .map(|(id, g)| AlertGroupView {
                labels: g.labels.clone(),
                receiver: ReceiverRef {
                    name: g.receiver.clone(),
                },
                alerts: g
                    .alerts
                    .values()
                    .map(|a| self.gettable_alert(a, now_ns))
                    .collect(),
                group_key: id.key.clone(),
            })
            .collect()
    }
}
