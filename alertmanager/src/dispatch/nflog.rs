//! The notification log (Alertmanager's nflog): per (receiver, group key), which alerts were
//! firing and which resolved in the last successful notification, and when it was sent. The
//! dedup decision reads it; it is written durably (space `nflog`) only after the sink
//! accepted a notification, so a restart neither re-pages for a notified group nor forgets
//! one, and a failed delivery is retried.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::storage::{SharedStateDb, StorageError};

const SPACE: &str = "nflog";

/// Alertmanager's default `--data.retention`.
pub const DEFAULT_NFLOG_RETENTION_NS: i64 = 120 * 3_600 * 1_000_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NflogEntry {
    pub receiver: String,
    pub group_key: String,
    /// Fingerprints of the firing alerts notified.
    pub firing: BTreeSet<u64>,
    /// Fingerprints of the resolved alerts notified.
    pub resolved: BTreeSet<u64>,
    pub sent_at_ns: i64,
}

impl NflogEntry {
    /// Alertmanager's dedup decision: notify when firing alerts appeared that were not
    /// notified, when everything resolved after firing alerts were notified, when newly
    /// resolved alerts appeared, or when `repeat_interval` has passed.
    pub fn needs_update(
        entry: Option<&NflogEntry>,
        firing: &BTreeSet<u64>,
        resolved: &BTreeSet<u64>,
        repeat_interval_ns: i64,
        now_ns: i64,
    ) -> bool {
        let Some(e) = entry else {
            // Never notified: only firing alerts are worth a first notification.
            return !firing.is_empty();
        };
        if !firing.is_subset(&e.firing) {
            return true;
        }
        if firing.is_empty() {
            // Alerts that fired and resolved between two flushes were never announced.
            return !e.firing.is_empty();
        }
        if !resolved.is_subset(&e.resolved) {
            return true;
        }
        e.sent_at_ns < now_ns.saturating_sub(repeat_interval_ns)
    }
}

pub struct NotificationLog {
    db: SharedStateDb,
    retention_ns: i64,
    entries: HashMap<(String, String), NflogEntry>,
}

fn key(receiver: &str, group_key: &str) -> Vec<u8> {
    // Receiver names cannot contain NUL, so the split is unambiguous.
    let mut k = Vec::with_capacity(receiver.len() + group_key.len() + 1);
    k.extend_from_slice(receiver.as_bytes());
    k.push(0);
    k.extend_from_slice(group_key.as_bytes());
    k
}

impl NotificationLog {
    /// Loads the log; unreadable entries are skipped with a warning (at worst a group is
    /// notified once more).
    pub fn open(db: SharedStateDb, retention_ns: i64) -> Result<NotificationLog, StorageError> {
        let mut entries = HashMap::new();
        for (k, v) in db.scan(SPACE, b"")? {
            match serde_json::from_slice::<NflogEntry>(&v) {
                Ok(e) => {
                    entries.insert((e.receiver.clone(), e.group_key.clone()), e);
                }
                Err(err) => tracing::warn!(
                    key = %String::from_utf8_lossy(&k),
                    error = %err,
                    "skipping unreadable notification log entry"
                ),
            }
        }
        Ok(NotificationLog {
            db,
            retention_ns,
            entries,
        })
    }

    pub fn get(&self, receiver: &str, group_key: &str) -> Option<&NflogEntry> {
        self.entries
            .get(&(receiver.to_string(), group_key.to_string()))
    }

    /// Records a delivered notification durably.
    pub fn record(&mut self, entry: NflogEntry) -> Result<(), StorageError> {
        let value = serde_json::to_vec(&entry).map_err(|e| StorageError(e.to_string()))?;
        self.db
            .put(SPACE, &key(&entry.receiver, &entry.group_key), value)?;
        self.entries
            .insert((entry.receiver.clone(), entry.group_key.clone()), entry);
        Ok(())
    }

    /// Forgets entries older than the retention.
    pub fn gc(&mut self, now_ns: i64) -> Result<usize, StorageError> {
        let cutoff = now_ns.saturating_sub(self.retention_ns);
        let old: Vec<(String, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.sent_at_ns < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        self.db.write(
            old.iter()
                .map(|(r, g)| crate::storage::StateOp::Delete(SPACE, key(r, g)))
                .collect(),
        )?;
        for k in &old {
            self.entries.remove(k);
        }
        Ok(old.len())
    }
}
