//! The tokio driver: evaluates each group on its interval (off the async runtime, a bounded
//! number at once) and the `check:` rules of a check the moment its state changes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, Semaphore};
use tokio::task::JoinHandle;

use crate::checks::StateChange;
use crate::rules::manager::{GroupKey, RuleManager};

/// How often the driver looks for due groups. Evaluation times are aligned to each
/// group's interval, so this only bounds how late (at most this) an evaluation starts.
const TICK: Duration = Duration::from_millis(250);

/// The group's evaluation slot: a fixed offset within its interval, taken from a hash of
/// its key, so many groups with the same interval spread over it instead of all running at
/// once (Prometheus does the same).
fn slot_offset(key: &GroupKey, interval_ns: i64) -> i64 {
    let fp = crate::alert::Fingerprint::of(
        &[
            ("f".to_string(), key.0.clone()),
            ("n".to_string(), key.1.clone()),
        ]
        .into(),
    );
    (fp.0 % interval_ns.max(1) as u64) as i64
}

/// The first slot strictly after `now`.
fn next_slot(now: i64, interval: i64, offset: i64) -> i64 {
    let base = now - (now - offset).rem_euclid(interval);
    base + interval
}

impl RuleManager {
    /// The groups due at `now` (each is then scheduled for its next slot). A group seen for
    /// the first time is scheduled, not run (its first evaluation is at its first slot).
    pub fn due_groups(&self, now: i64) -> Vec<GroupKey> {
        let groups = self.groups.read();
        let mut due = Vec::new();
        for (key, g) in groups.iter() {
            let next = g.next_due_ns.load(Ordering::Relaxed);
            let following = next_slot(now, g.interval_ns, slot_offset(key, g.interval_ns));
            if next == 0 {
                g.next_due_ns.store(following, Ordering::Relaxed);
            } else if now >= next {
                g.next_due_ns.store(following, Ordering::Relaxed);
                due.push(key.clone());
            }
        }
        due
    }
}

/// Runs the manager until the returned task is aborted. `checks` is the checker's
/// [`crate::Checker::subscribe`] (or `None` without checks).
pub fn spawn(
    manager: Arc<RuleManager>,
    checks: Option<broadcast::Receiver<StateChange>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(
            manager.config.max_concurrent_evaluations.max(1),
        ));
        let mut checks = checks;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = manager.clock().now_ns();
                    for key in manager.due_groups(now) {
                        let m = manager.clone();
                        let permits = permits.clone();
                        // Waiting for a permit happens in its own task, so the loop keeps
                        // serving check changes while every permit is busy.
                        tokio::spawn(async move {
                            let Ok(permit) = permits.acquire_owned().await else { return };
                            let _ = tokio::task::spawn_blocking(move || {
                                let _permit = permit;
                                if let Err(e) = m.evaluate_group(&key, now) {
                                    tracing::error!(group = %key.1, source = %key.0, error = %e, "rule group evaluation failed");
                                }
                            })
                            .await;
                        });
                    }
                }
                change = recv(&mut checks) => match change {
                    Some(Ok(change)) => {
                        let m = manager.clone();
                        // Not behind the group permits: a check failure must not wait
                        // for slow queries to reach the alert store.
                        tokio::task::spawn_blocking(move || {
                            let now = m.clock().now_ns();
                            if let Err(e) = m.evaluate_check(&change.check, now) {
                                tracing::error!(check = %change.check, error = %e, "check rule evaluation failed");
                            }
                        });
                    }
                    Some(Err(broadcast::error::RecvError::Lagged(n))) => {
                        tracing::warn!(missed = n, "check changes missed: check rules wait for their interval");
                    }
                    Some(Err(broadcast::error::RecvError::Closed)) | None => checks = None,
                },
            }
        }
    })
}

async fn recv(
    rx: &mut Option<broadcast::Receiver<StateChange>>,
) -> Option<Result<StateChange, broadcast::error::RecvError>> {
    match rx {
        Some(rx) => Some(rx.recv().await),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_to_the_interval_at_a_stable_offset() {
        let m = 60_000_000_000;
        let key: GroupKey = ("rules/api.yml".into(), "api".into());
        let off = slot_offset(&key, m);
        assert!((0..m).contains(&off));
        assert_eq!(
            off,
            slot_offset(&key, m),
            "stable across calls (and restarts)"
        );
        let now = 10 * m + 5;
        let next = next_slot(now, m, off);
        assert!(next > now && next - now <= m);
        assert_eq!((next - off).rem_euclid(m), 0);
        // Exactly on a slot: the next one is a whole interval later.
        assert_eq!(next_slot(next, m, off), next + m);
    }
}
