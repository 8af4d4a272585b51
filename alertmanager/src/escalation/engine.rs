//! The escalation engine. Every decision is made under one lock from the clock's "now" and
//! written to the state database before a message leaves; messages are sent after the lock
//! is released. A thin tokio driver ([`Escalator::run`]) calls [`Escalator::tick`] when
//! [`Escalator::next_due`] comes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pharos_collector::clock::SharedClock;

use super::ack::AckKey;
use super::config::{EscalationConfig, TargetConfig};
use super::incident::{incident_id, redact, Incident, IncidentView, Notified, INCIDENTS_SPACE};
use super::{AckError, EscalationError};
use crate::alert::Fingerprint;

/// The longest acknowledgement comment kept (characters); longer ones are cut.
pub const MAX_ACK_COMMENT: usize = 1000;
use crate::notification::{
    BoxFuture, Deliver, EscalationContext, Message, Notification, NotifySink, Target,
};
use crate::oncall::{OnCall, Schedules};
use crate::storage::{SharedStateDb, StateOp};

/// What the escalator needs from the rest of Pharos.
pub struct EscalatorDeps {
    pub db: SharedStateDb,
    pub clock: SharedClock,
    pub deliver: Arc<dyn Deliver>,
    /// Signs acknowledgement links ([`AckKey::load`]).
    pub ack_key: AckKey,
    /// Pharos's externally reachable base URL (links are `{external_url}/api/v1/ack/{token}`).
    pub external_url: String,
}

struct Policy {
    repeat: u32,
    /// (delay in ns, targets) per step.
    steps: Vec<(i64, Vec<TargetConfig>)>,
}

impl Policy {
    /// The step after (step, round), if the policy has one.
    fn after(&self, step: usize, round: u32) -> Option<(usize, u32)> {
        if step + 1 < self.steps.len() {
            Some((step + 1, round))
        } else if round < self.repeat {
            Some((0, round + 1))
        } else {
            None
        }
    }

    fn delay_ns(&self, step: usize) -> i64 {
        self.steps.get(step).map_or(0, |s| s.0)
    }
}

/// Escalates notifications of receivers bound to a policy; delivers those of other
/// receivers straight to `Target::Receiver`. Implements [`NotifySink`].
pub struct Escalator {
    policies: BTreeMap<String, Policy>,
    /// Receiver name → policy name.
    bindings: BTreeMap<String, String>,
    schedules: Schedules,
    link_ttl_ns: i64,
    retention_ns: i64,
    deps: EscalatorDeps,
    /// Every stored incident (open, and resolved within the retention), by id.
    incidents: Mutex<BTreeMap<String, Incident>>,
    wake: tokio::sync::Notify,
}

type Outbox = Vec<(Target, Message)>;

impl Escalator {
    /// Validates the config and loads the stored incidents.
    pub fn open(
        config: &EscalationConfig,
        deps: EscalatorDeps,
    ) -> Result<Escalator, EscalationError> {
        let schedules = config.validate()?;
        let mut policies = BTreeMap::new();
        let mut bindings = BTreeMap::new();
        for p in &config.policies {
            for r in &p.receivers {
                bindings.insert(r.clone(), p.name.clone());
            }
            let steps = p
                .steps
                .iter()
                .map(|s| (s.delay.as_ns(), s.targets.clone()))
                .collect();
            policies.insert(
                p.name.clone(),
                Policy {
                    repeat: p.repeat,
                    steps,
                },
            );
        }
        let mut incidents = BTreeMap::new();
        for (key, value) in deps.db.scan(INCIDENTS_SPACE, b"")? {
            match serde_json::from_slice::<Incident>(&value) {
                Ok(i) => {
                    incidents.insert(i.id.clone(), i);
                }
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(&key),
                    error = %e,
                    "skipping an unreadable stored incident"
                ),
            }
        }
        let escalator = Escalator {
            policies,
            bindings,
            schedules,
            link_ttl_ns: config.ack.link_ttl.as_ns(),
            retention_ns: config.retention.as_ns(),
            deps,
            incidents: Mutex::new(incidents),
            wake: tokio::sync::Notify::new(),
        };
        escalator.load_overrides()?;
        Ok(escalator)
    }

    pub(crate) fn db(&self) -> &crate::storage::SharedStateDb {
        &self.deps.db
    }

    /// The receiver is bound to an escalation policy.
    pub fn handles(&self, receiver: &str) -> bool {
        self.bindings.contains_key(receiver)
    }

    pub fn schedules(&self) -> &Schedules {
        &self.schedules
    }

    /// Every schedule's current and next on-call person (`GET /api/v1/oncall`).
    pub fn on_call_now(&self) -> Vec<OnCall> {
        self.schedules.on_call_now(self.deps.clock.now_ns())
    }

    /// Handles one notification from the dispatcher. `Err` only when the state could not be
    /// stored (nothing was sent; the dispatcher retries) or, for an unbound receiver, when
    /// the direct delivery failed. Failed escalation deliveries are logged: the escalation
    /// clock goes on and the next step is the fallback.
    pub async fn notify(&self, n: Notification) -> Result<(), EscalationError> {
        let Some(policy_name) = self.bindings.get(&n.receiver).cloned() else {
            let target = Target::Receiver(n.receiver.clone());
            let msg = Message {
                notification: n,
                escalation: None,
            };
            return self
                .deps
                .deliver
                .deliver(&target, &msg)
                .await
                .map_err(EscalationError::Delivery);
        };
        let now = self.deps.clock.now_ns();
        let outbox = {
            let mut incidents = self.incidents.lock();
            let open = incidents.values().find(|i| {
                i.is_open()
                    && i.notification.receiver == n.receiver
                    && i.notification.group_key == n.group_key
            });
            let resolved = n.all_resolved(now);
            let (incident, outbox) = match open.cloned() {
                None if resolved => return Ok(()),
                None => self.open_incident(&incidents, &policy_name, n, now),
                Some(mut inc) => {
                    inc.notification = n;
                    if resolved {
                        // Everyone paged hears that it is over, acknowledged or not.
                        inc.resolved_at_ns = Some(now);
                        inc.next_escalation_at_ns = None;
                    }
                    // After an acknowledgement, updates are only recorded: someone owns the
                    // incident, and re-paging on every group change would undo the ack.
                    let outbox = if resolved || inc.acked_by.is_none() {
                        self.messages(&inc, &inc.notified_targets(), now)
                    } else {
                        Vec::new()
                    };
                    (inc, outbox)
                }
            };
            self.deps.db.write(vec![StateOp::Put(
                INCIDENTS_SPACE,
                incident.id.clone().into_bytes(),
                incident.encode(),
            )])?;
            incidents.insert(incident.id.clone(), incident);
            outbox
        };
        self.wake.notify_one();
        self.send(outbox).await;
        Ok(())
    }

    fn open_incident(
        &self,
        existing: &BTreeMap<String, Incident>,
        policy_name: &str,
        n: Notification,
        now: i64,
    ) -> (Incident, Outbox) {
        let mut attempt = 0;
        let id = loop {
            let id = incident_id(&n.receiver, &n.group_key, now, attempt);
            if !existing.contains_key(&id) {
                break id;
            }
            attempt += 1;
        };
        let mut inc = Incident {
            id,
            policy: policy_name.to_string(),
            opened_at_ns: now,
            notification: n,
            step: 0,
            round: 0,
            next_escalation_at_ns: None,
            notified: Vec::new(),
            acked_by: None,
            acked_at_ns: None,
            ack_comment: None,
            resolved_at_ns: None,
            resolved_by: None,
            resolve_comment: None,
        };
        let outbox = self.notify_step(&mut inc, 0, 0, now);
        (inc, outbox)
    }

    /// Records that (step, round) is notified now, schedules the next step, and returns the
    /// messages.
    fn notify_step(&self, inc: &mut Incident, step: usize, round: u32, now: i64) -> Outbox {
        let Some(policy) = self.policies.get(&inc.policy) else {
            // The policy was removed from the config while the incident was open.
            inc.next_escalation_at_ns = None;
            return Vec::new();
        };
        inc.step = step;
        inc.round = round;
        inc.next_escalation_at_ns = policy
            .after(step, round)
            .map(|_| now.saturating_add(policy.delay_ns(step)));
        let mut targets: Vec<Target> = Vec::new();
        for t in policy.steps.get(step).map_or(&[][..], |s| &s.1[..]) {
            let (target, schedule) = match t {
                TargetConfig::Receiver(r) => (Target::Receiver(r.clone()), None),
                TargetConfig::Email(e) => (Target::Email(e.clone()), None),
                TargetConfig::Webhook(w) => (Target::Webhook(w.clone()), None),
                TargetConfig::Schedule(s) => match self.schedules.on_call(s, now) {
                    Ok(on_call) => (Target::Email(on_call.current.mailbox()), Some(s.clone())),
                    Err(e) => {
                        tracing::warn!(incident = %inc.id, schedule = %s, error = %e, "no one on call to page");
                        continue;
                    }
                },
            };
            if targets.contains(&target) {
                continue;
            }
            inc.notified.push(Notified {
                target: target.clone(),
                schedule,
                step,
                round,
                at_ns: now,
            });
            targets.push(target);
        }
        self.messages(inc, &targets, now)
    }

    fn messages(&self, inc: &Incident, targets: &[Target], now: i64) -> Outbox {
        let expires = now.saturating_add(self.link_ttl_ns);
        targets
            .iter()
            .map(|t| {
                let recipient = match t {
                    Target::Email(e) => e.clone(),
                    Target::Receiver(r) => format!("receiver {r}"),
                    Target::Webhook(_) => "webhook".into(),
                };
                let msg = Message {
                    notification: inc.notification.clone(),
                    escalation: Some(EscalationContext {
                        incident_id: inc.id.clone(),
                        policy: inc.policy.clone(),
                        step: inc.step,
                        round: inc.round,
                        ack_url: self.link(&inc.id, expires, &recipient),
                        acked_by: inc.acked_by.clone(),
                    }),
                };
                (t.clone(), msg)
            })
            .collect()
    }

    async fn send(&self, outbox: Outbox) {
        let deliver = &self.deps.deliver;
        let results =
            futures_util::future::join_all(outbox.iter().map(|(target, msg)| async move {
                (target, msg, deliver.deliver(target, msg).await)
            }))
            .await;
        for (target, msg, result) in results {
            if let Err(error) = result {
                let incident = msg
                    .escalation
                    .as_ref()
                    .map_or("", |e| e.incident_id.as_str());
                tracing::warn!(incident, target = ?redact(target), %error, "escalation delivery failed");
            }
        }
    }

    /// Notifies every step that is due at `now_ns` (one step per incident: a step whose
    /// time passed while Pharos was down fires now, and the next waits its full delay),
    /// forgets incidents resolved longer than the retention ago, and returns how many
    /// messages were sent.
    pub async fn tick(&self, now_ns: i64) -> usize {
        let outbox = {
            let mut incidents = self.incidents.lock();
            let mut ops = Vec::new();
            let mut changed = Vec::new();
            let mut outbox = Vec::new();
            for inc in incidents.values() {
                if let Some(resolved) = inc.resolved_at_ns {
                    if resolved.saturating_add(self.retention_ns) <= now_ns {
                        ops.push(StateOp::Delete(
                            INCIDENTS_SPACE,
                            inc.id.clone().into_bytes(),
                        ));
                    }
                    continue;
                }
                if inc.acked_by.is_some() || inc.next_escalation_at_ns.is_none_or(|t| t > now_ns) {
                    continue;
                }
                let mut next = inc.clone();
                match self
                    .policies
                    .get(&inc.policy)
                    .and_then(|p| p.after(inc.step, inc.round))
                {
                    Some((step, round)) => {
                        outbox.extend(self.notify_step(&mut next, step, round, now_ns));
                    }
                    // The config changed under a stored incident (policy removed or
                    // shortened): nothing left to page; stop the clock instead of spinning.
                    None => next.next_escalation_at_ns = None,
                }
                ops.push(StateOp::Put(
                    INCIDENTS_SPACE,
                    next.id.clone().into_bytes(),
                    next.encode(),
                ));
                changed.push(next);
            }
            if ops.is_empty() {
                return 0;
            }
            if let Err(e) = self.deps.db.write(ops.clone()) {
                tracing::error!(error = %e, "cannot store escalation state; retrying at the next tick");
                return 0;
            }
            for op in ops {
                if let StateOp::Delete(_, id) = op {
                    incidents.remove(&String::from_utf8_lossy(&id).into_owned());
                }
            }
            for inc in changed {
                incidents.insert(inc.id.clone(), inc);
            }
            outbox
        };
        let sent = outbox.len();
        self.send(outbox).await;
        sent
    }

    /// The earliest time a step is due (the driver sleeps until then).
    pub fn next_due(&self) -> Option<i64> {
        self.incidents
            .lock()
            .values()
            .filter(|i| i.is_open() && i.acked_by.is_none())
            .filter_map(|i| i.next_escalation_at_ns)
            .min()
    }

    /// Wakes the driver (after a new incident or an ack, or when a test moved the clock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the escalation clock until `shutdown` completes.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        // A wall-clock jump or the retention sweep is never more than this late.
        const MAX_SLEEP: Duration = Duration::from_secs(60);
        tokio::pin!(shutdown);
        loop {
            self.tick(self.deps.clock.now_ns()).await;
            let wait = self.next_due().map_or(MAX_SLEEP, |due| {
                let ns = due.saturating_sub(self.deps.clock.now_ns()).max(0);
                Duration::from_nanos(u64::try_from(ns).unwrap_or(0)).min(MAX_SLEEP)
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = &mut shutdown => return,
            }
        }
    }

    /// Acknowledges an incident: no further steps. Acknowledging again is a success that
    /// keeps the first acknowledgement.
    pub fn ack(&self, incident_id: &str, by: &str, now_ns: i64) -> Result<IncidentView, AckError> {
        self.ack_with_comment(incident_id, by, None, now_ns)
    }

    /// [`Escalator::ack`] with the acknowledger's comment, kept on the incident (at most
    /// [`MAX_ACK_COMMENT`] characters).
    pub fn ack_with_comment(
        &self,
        incident_id: &str,
        by: &str,
        comment: Option<&str>,
        now_ns: i64,
    ) -> Result<IncidentView, AckError> {
        let comment = clean_comment(comment);
        let mut incidents = self.incidents.lock();
        let inc = incidents
            .get(incident_id)
            .ok_or_else(|| AckError::UnknownIncident(incident_id.to_string()))?;
        if let Some(at) = inc.resolved_at_ns {
            return Err(AckError::AlreadyResolved {
                id: inc.id.clone(),
                resolved_at: pharos_collector::clock::rfc3339(at),
            });
        }
        if inc.acked_by.is_some() {
            return Ok(inc.view());
        }
        let mut acked = inc.clone();
        acked.acked_by = Some(by.to_string());
        acked.acked_at_ns = Some(now_ns);
        acked.ack_comment = comment;
        acked.next_escalation_at_ns = None;
        self.deps
            .db
            .put(INCIDENTS_SPACE, acked.id.as_bytes(), acked.encode())?;
        let view = acked.view();
        incidents.insert(acked.id.clone(), acked);
        drop(incidents);
        self.wake.notify_one();
        Ok(view)
    }

    /// Resolves an incident by hand ("fixed; the alert is slow to clear"): no further steps,
    /// and the incident is closed. If its alerts still fire, the group's next notification
    /// opens a new incident, as PagerDuty does. Resolving again keeps the first resolution.
    pub fn resolve(
        &self,
        incident_id: &str,
        by: &str,
        comment: Option<&str>,
        now_ns: i64,
    ) -> Result<IncidentView, AckError> {
        let comment = clean_comment(comment);
        let mut incidents = self.incidents.lock();
        let inc = incidents
            .get(incident_id)
            .ok_or_else(|| AckError::UnknownIncident(incident_id.to_string()))?;
        if inc.resolved_at_ns.is_some() {
            return Ok(inc.view());
        }
        let mut done = inc.clone();
        done.resolved_at_ns = Some(now_ns);
        done.resolved_by = Some(by.to_string());
        done.resolve_comment = comment;
        done.next_escalation_at_ns = None;
        self.deps
            .db
            .put(INCIDENTS_SPACE, done.id.as_bytes(), done.encode())?;
        let view = done.view();
        incidents.insert(done.id.clone(), done);
        drop(incidents);
        self.wake.notify_one();
        Ok(view)
    }

    /// Acknowledges every open incident whose group contains the alert.
    pub fn ack_by_fingerprint(
        &self,
        fingerprint: Fingerprint,
        by: &str,
        now_ns: i64,
    ) -> Result<Vec<IncidentView>, AckError> {
        self.ack_by_fingerprint_with_comment(fingerprint, by, None, now_ns)
    }

    /// [`Escalator::ack_by_fingerprint`] with the acknowledger's comment.
    pub fn ack_by_fingerprint_with_comment(
        &self,
        fingerprint: Fingerprint,
        by: &str,
        comment: Option<&str>,
        now_ns: i64,
    ) -> Result<Vec<IncidentView>, AckError> {
        let ids: Vec<String> = self
            .incidents
            .lock()
            .values()
            .filter(|i| i.is_open())
            .filter(|i| {
                i.notification
                    .alerts
                    .iter()
                    .any(|a| a.fingerprint() == fingerprint)
            })
            .map(|i| i.id.clone())
            .collect();
        if ids.is_empty() {
            return Err(AckError::NoIncidentForAlert(fingerprint.to_string()));
        }
        ids.iter()
            .map(|id| self.ack_with_comment(id, by, comment, now_ns))
            .collect()
    }

    /// A signed link acknowledging `incident_id` until `expires_at_ns`.
    pub fn ack_url(&self, incident_id: &str, expires_at_ns: i64) -> String {
        self.link(incident_id, expires_at_ns, "")
    }

    fn link(&self, incident_id: &str, expires_at_ns: i64, recipient: &str) -> String {
        format!(
            "{}/api/v1/ack/{}",
            self.deps.external_url.trim_end_matches('/'),
            self.deps
                .ack_key
                .sign(incident_id, expires_at_ns, recipient)
        )
    }

    /// Acknowledges through a link's token (the last path segment of an ack URL). The
    /// acknowledger is the person the link was sent to.
    pub fn ack_with_token(&self, token: &str, now_ns: i64) -> Result<IncidentView, AckError> {
        let claims = self
            .deps
            .ack_key
            .verify(token)
            .ok_or(AckError::InvalidToken)?;
        if now_ns >= claims.expires_at_ns {
            return Err(AckError::Expired {
                expired_at: pharos_collector::clock::rfc3339(claims.expires_at_ns),
            });
        }
        let by = if claims.recipient.is_empty() {
            "acknowledgement link"
        } else {
            claims.recipient.as_str()
        };
        self.ack(&claims.incident_id, by, now_ns)
    }

    /// Incidents, newest first; only unresolved ones when `open_only`.
    pub fn incidents(&self, open_only: bool) -> Vec<IncidentView> {
        let mut views: Vec<IncidentView> = self
            .incidents
            .lock()
            .values()
            .filter(|i| !open_only || i.is_open())
            .map(Incident::view)
            .collect();
        views.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(a.id.cmp(&b.id)));
        views
    }

    pub fn incident(&self, incident_id: &str) -> Option<IncidentView> {
        self.incidents.lock().get(incident_id).map(Incident::view)
    }
}

impl NotifySink for Escalator {
    fn deliver(&self, n: Notification) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.notify(n).await.map_err(|e| e.to_string()) })
    }
}

/// A person's comment on an incident, trimmed and cut to [`MAX_ACK_COMMENT`] characters;
/// `None` when there is nothing left.
fn clean_comment(comment: Option<&str>) -> Option<String> {
    comment
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.chars().take(MAX_ACK_COMMENT).collect())
}
