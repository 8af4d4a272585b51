//! The notification log: every delivery attempt (when, to whom, through what, how it went),
//! kept in the state database's `notifications` space so it survives restarts, bounded to
//! the newest `log_max_entries`. `GET /api/v1/notifications` reads it through
//! [`NotificationLog::list`].

use std::collections::VecDeque;

use parking_lot::Mutex;
use pharos_collector::clock::rfc3339;
use serde::{Deserialize, Serialize};

use crate::storage::{SharedStateDb, StateOp, StorageError};

const SPACE: &str = "notifications";

/// One attempt to deliver one notification through one integration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When the attempt started (Unix ns).
    pub at_ns: i64,
    /// The configured receiver, or "" for a direct e-mail or webhook target.
    pub receiver: String,
    /// Where it went: e-mail addresses, the webhook's origin and path (never its query,
    /// which may hold a token), the Slack channel (never the secret URL).
    pub target: String,
    /// `email`, `webhook` or `slack`.
    pub integration: String,
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub alerts: usize,
    /// 1-based attempt number within this delivery.
    pub attempt: u32,
    pub ok: bool,
    /// The failure, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// The JSON shape of one entry for the HTTP API: the entry plus its time in RFC 3339.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEntryView {
    pub at: String,
    #[serde(flatten)]
    pub entry: LogEntry,
}

/// What [`NotificationLog::list`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct LogFilter {
    /// Only this receiver's attempts.
    #[serde(default)]
    pub receiver: Option<String>,
    /// Only attempts strictly before this time (Unix ns), for paging back.
    #[serde(default)]
    pub before_ns: Option<i64>,
    /// At most this many, newest first; 0 = 100.
    #[serde(default)]
    pub limit: usize,
}

pub struct NotificationLog {
    db: SharedStateDb,
    max_entries: usize,
    /// Every stored entry with its key, oldest first (at most `max_entries`, so the API
    /// reads memory and trimming knows which keys to delete).
    entries: Mutex<Entries>,
}

struct Entries {
    list: VecDeque<(Vec<u8>, LogEntry)>,
    /// Disambiguates entries stamped with the same nanosecond.
    next_seq: u64,
}

impl NotificationLog {
    /// Loads the stored log; entries that no longer decode are dropped (a log is not worth
    /// refusing to start over).
    pub fn open(db: SharedStateDb, max_entries: usize) -> Result<NotificationLog, StorageError> {
        let max_entries = max_entries.max(1);
        let mut list = VecDeque::new();
        let mut next_seq = 0;
        let mut stale = Vec::new();
        for (k, v) in db.scan(SPACE, b"")? {
            match serde_json::from_slice::<LogEntry>(&v) {
                Ok(e) => {
                    if let Some(seq) = k.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                        next_seq = next_seq.max(u64::from_be_bytes(seq) + 1);
                    }
                    list.push_back((k, e));
                }
                Err(_) => stale.push(StateOp::Delete(SPACE, k)),
            }
        }
        while list.len() > max_entries {
            if let Some((k, _)) = list.pop_front() {
                stale.push(StateOp::Delete(SPACE, k));
            }
        }
        if !stale.is_empty() {
            db.write(stale)?;
        }
        Ok(NotificationLog {
            db,
            max_entries,
            entries: Mutex::new(Entries { list, next_seq }),
        })
    }

    /// Records one attempt, dropping the oldest beyond the bound in the same batch.
    pub fn append(&self, entry: LogEntry) -> Result<(), StorageError> {
        let value = serde_json::to_vec(&entry).map_err(|e| StorageError(e.to_string()))?;
        let mut entries = self.entries.lock();
        let mut key = order_preserving(entry.at_ns).to_be_bytes().to_vec();
        key.extend_from_slice(&entries.next_seq.to_be_bytes());
        let mut ops = vec![StateOp::Put(SPACE, key.clone(), value)];
        let excess = (entries.list.len() + 1).saturating_sub(self.max_entries);
        ops.extend(
            entries
                .list
                .iter()
                .take(excess)
                .map(|(k, _)| StateOp::Delete(SPACE, k.clone())),
        );
        self.db.write(ops)?;
        entries.next_seq += 1;
        entries.list.drain(..excess);
        // Attempts finish out of order (integrations run concurrently): keep time order.
        let pos = entries.list.partition_point(|(k, _)| k <= &key);
        entries.list.insert(pos, (key, entry));
        Ok(())
    }

    /// Newest first.
    pub fn list(&self, filter: &LogFilter) -> Vec<LogEntryView> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        self.entries
            .lock()
            .list
            .iter()
            .rev()
            .map(|(_, e)| e)
            .filter(|e| filter.before_ns.is_none_or(|b| e.at_ns < b))
            .filter(|e| filter.receiver.as_ref().is_none_or(|r| &e.receiver == r))
            .take(limit)
            .map(|e| LogEntryView {
                at: rfc3339(e.at_ns),
                entry: e.clone(),
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Maps i64 to u64 so that big-endian bytes sort as the numbers do.
fn order_preserving(ns: i64) -> u64 {
    (ns as u64) ^ (1 << 63)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemStateDb, StateDb};
    use std::sync::Arc;

    fn entry(at_ns: i64, receiver: &str) -> LogEntry {
        LogEntry {
            at_ns,
            receiver: receiver.into(),
            target: "t".into(),
            integration: "webhook".into(),
            group_key: "g".into(),
            status: "firing".into(),
            alerts: 1,
            attempt: 1,
            ok: true,
            error: None,
            duration_ms: 3,
        }
    }

    #[test]
    fn bounded_newest_first_filtered_and_persistent() {
        let db = MemStateDb::default();
        let log = NotificationLog::open(Arc::new(db.clone()), 3).unwrap();
        for (t, r) in [(10, "a"), (30, "b"), (20, "a"), (40, "a"), (50, "b")] {
            log.append(entry(t, r)).unwrap();
        }
        let times = |v: Vec<LogEntryView>| v.into_iter().map(|e| e.entry.at_ns).collect::<Vec<_>>();
        assert_eq!(times(log.list(&LogFilter::default())), vec![50, 40, 30]);
        let only_a = LogFilter {
            receiver: Some("a".into()),
            ..LogFilter::default()
        };
        assert_eq!(times(log.list(&only_a)), vec![40]);
        let page = LogFilter {
            before_ns: Some(50),
            limit: 1,
            ..LogFilter::default()
        };
        assert_eq!(times(log.list(&page)), vec![40]);
        assert_eq!(db.scan(SPACE, b"").unwrap().len(), 3, "old entries deleted");

        let reopened = NotificationLog::open(Arc::new(db), 2).unwrap();
        assert_eq!(times(reopened.list(&LogFilter::default())), vec![50, 40]);
        reopened.append(entry(50, "c")).unwrap();
        assert_eq!(reopened.list(&LogFilter::default())[0].entry.receiver, "c");
        let json = serde_json::to_value(&reopened.list(&LogFilter::default())[0]).unwrap();
        assert_eq!(json["at"], "1970-01-01T00:00:00.00000005Z");
        assert_eq!(json["receiver"], "c");
    }
}
