//! The alert store (Alertmanager's "provider"): every active or recently resolved alert by
//! fingerprint, whoever sent it. A received alert is merged with the stored copy, written to
//! the state database, and only then published to subscribers (the dispatcher), so a restart
//! neither forgets a firing alert nor re-pages for one already handled.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use pharos_collector::clock::SharedClock;
use tokio::sync::broadcast;

use crate::alert::{Alert, Fingerprint};
use crate::storage::{SharedStateDb, StateOp, StorageError};

const SPACE: &str = "alerts";

/// How many published alerts a slow subscriber may fall behind before it must re-read
/// [`AlertStore::list`].
const CHANNEL_CAPACITY: usize = 16_384;

pub struct AlertStore {
    db: SharedStateDb,
    clock: SharedClock,
    resolve_timeout_ns: i64,
    alerts: Mutex<HashMap<Fingerprint, Alert>>,
    tx: broadcast::Sender<Alert>,
}

impl AlertStore {
    /// Loads the stored alerts. `resolve_timeout_ns` is the end given to an alert received
    /// without one (Alertmanager's `resolve_timeout`, default 5 m).
    pub fn open(
        db: SharedStateDb,
        clock: SharedClock,
        resolve_timeout_ns: i64,
    ) -> Result<AlertStore, StorageError> {
        let mut alerts = HashMap::new();
        for (_, v) in db.scan(SPACE, b"")? {
            let alert: Alert = serde_json::from_slice(&v)
                .map_err(|e| StorageError(format!("stored alert: {e}")))?;
            alerts.insert(alert.fingerprint(), alert);
        }
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Ok(AlertStore {
            db,
            clock,
            resolve_timeout_ns,
            alerts: Mutex::new(alerts),
            tx,
        })
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Receives alerts: each is stamped (`updated_at`, the resolve timeout when no end was
    /// given), merged with the stored copy, stored durably, then published. Callers validate
    /// first ([`Alert::validate`]).
    pub fn put(&self, incoming: Vec<Alert>) -> Result<Vec<Alert>, StorageError> {
        let now = self.clock.now_ns();
        let mut alerts = self.alerts.lock();
        let mut merged = Vec::with_capacity(incoming.len());
        let mut ops = Vec::with_capacity(incoming.len());
        for mut a in incoming {
            a.updated_at_ns = now;
            if a.ends_at_ns == 0 {
                a.ends_at_ns = now.saturating_add(self.resolve_timeout_ns);
                a.timeout = true;
            } else {
                a.timeout = false;
            }
            let fp = a.fingerprint();
            let m = match alerts.get(&fp) {
                // A resolved alert that fires again starts a new alert.
                Some(old) if !old.resolved_at(now) => old.merge(&a, now),
                _ => a,
            };
            ops.push(StateOp::Put(SPACE, key(fp), encode(&m)?));
            merged.push(m);
        }
        self.db.write(ops)?;
        for m in &merged {
            alerts.insert(m.fingerprint(), m.clone());
        }
        drop(alerts);
        for m in &merged {
            // No subscriber is fine: nothing to dispatch yet.
            let _ = self.tx.send(m.clone());
        }
        Ok(merged)
    }

    pub fn get(&self, fp: Fingerprint) -> Option<Alert> {
        self.alerts.lock().get(&fp).cloned()
    }

    /// Every stored alert, firing or resolved, ordered by fingerprint.
    pub fn list(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.alerts.lock().values().cloned().collect();
        v.sort_by_key(Alert::fingerprint);
        v
    }

    /// A receiver of every alert stored from now on. Subscribe first, then read
    /// [`AlertStore::list`], so nothing falls between the two; on `Lagged`, re-read the list.
    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.tx.subscribe()
    }

    /// Forgets alerts resolved more than `retention_ns` ago (Alertmanager keeps them 120 h).
    pub fn gc(&self, retention_ns: i64) -> Result<usize, StorageError> {
        let cutoff = self.clock.now_ns().saturating_sub(retention_ns);
        let mut alerts = self.alerts.lock();
        let old: Vec<Fingerprint> = alerts
            .iter()
            .filter(|(_, a)| a.resolved_at(cutoff))
            .map(|(fp, _)| *fp)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        self.db
            .write(old.iter().map(|fp| StateOp::Delete(SPACE, key(*fp))).collect())?;
        for fp in &old {
            alerts.remove(fp);
        }
        Ok(old.len())
    }
}

fn key(fp: Fingerprint) -> Vec<u8> {
    fp.0.to_be_bytes().to_vec()
}

fn encode(a: &Alert) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(a).map_err(|e| StorageError(e.to_string()))
}

/// Shared handle.
pub type SharedAlertStore = Arc<AlertStore>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;
    use crate::storage::MemStateDb;
    use pharos_collector::clock::{Clock, ManualClock};

    const S: i64 = 1_000_000_000;

    #[test]
    fn stores_merges_publishes_and_survives_reopen() {
        let db = MemStateDb::default();
        let clock = ManualClock::new(1_000 * S);
        let store = AlertStore::open(Arc::new(db.clone()), Arc::new(clock.clone()), 300 * S)
            .unwrap();
        let mut rx = store.subscribe();
        let a = Alert::firing(labels([("alertname", "Down"), ("job", "api")]), 990 * S);
        store.put(vec![a.clone()]).unwrap();
        let got = rx.try_recv().unwrap();
        assert_eq!(got.ends_at_ns, 1_300 * S, "resolve timeout applied");
        assert!(got.timeout);

        clock.advance(60 * S);
        let mut again = a.clone();
        again.starts_at_ns = 1_050 * S;
        store.put(vec![again]).unwrap();
        let got = store.get(a.fingerprint()).unwrap();
        assert_eq!(got.starts_at_ns, 990 * S, "earliest start kept");
        assert_eq!(got.ends_at_ns, 1_360 * S);

        let reopened =
            AlertStore::open(Arc::new(db), Arc::new(clock.clone()), 300 * S).unwrap();
        assert_eq!(reopened.list(), vec![got]);

        clock.advance(1_000 * S);
        assert_eq!(reopened.gc(100 * S).unwrap(), 1);
        assert!(reopened.list().is_empty());
    }

    #[test]
    fn a_resolved_alert_that_fires_again_starts_fresh() {
        let clock = ManualClock::new(1_000 * S);
        let store = AlertStore::open(
            Arc::new(MemStateDb::default()),
            Arc::new(clock.clone()),
            300 * S,
        )
        .unwrap();
        let mut a = Alert::firing(labels([("alertname", "X")]), 900 * S);
        a.ends_at_ns = 950 * S;
        store.put(vec![a.clone()]).unwrap();
        clock.advance(10 * S);
        let mut b = a.clone();
        b.starts_at_ns = 1_005 * S;
        b.ends_at_ns = 0;
        store.put(vec![b]).unwrap();
        let got = store.get(a.fingerprint()).unwrap();
        assert_eq!(got.starts_at_ns, 1_005 * S);
        assert!(!got.resolved_at(clock.now_ns()));
    }
}
