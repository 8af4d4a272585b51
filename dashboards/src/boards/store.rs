//! User dashboards, stored durably in the alerting state database (`data/alerting/`):
//! the head of each dashboard in the `dashboards` key space (key = uid) and every kept version
//! in `dashboard_versions` (key = uid, a 0 byte, the version as big-endian u32, so a prefix
//! scan lists one dashboard's versions in order). A save writes the head, the new version and
//! the drop of the version that falls out of the last [`MAX_VERSIONS`] in one atomic batch.

use std::sync::Mutex;

use pharos_alertmanager::storage::{SharedStateDb, StateOp, StorageError};
use pharos_collector::clock::SharedClock;
use serde::{Deserialize, Serialize};

use super::model::{Dashboard, MAX_VERSIONS};

const HEADS: &str = "dashboards";
const VERSIONS: &str = "dashboard_versions";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("dashboard {0:?} already exists")]
    Exists(String),
    #[error("no dashboard {0:?}")]
    NotFound(String),
    #[error("dashboard {uid:?} changed since version {expected} (it is now at {current}): reload it and apply your change again")]
    Conflict {
        uid: String,
        expected: u32,
        current: u32,
    },
    #[error("dashboard {uid:?} has no version {version} (only the last {MAX_VERSIONS} are kept)")]
    NoVersion { uid: String, version: u32 },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("dashboard store: a stored entry does not decode: {0}")]
    Corrupt(String),
}

/// One version of a dashboard (the head is its newest version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub dashboard: Dashboard,
    pub version: u32,
    pub updated_at_ns: i64,
    #[serde(default)]
    pub message: String,
}

/// What a save expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No dashboard with this uid yet (create).
    New,
    /// The head is at this version (an editor's update: optimistic concurrency).
    Version(u32),
    /// Whatever is there: a new version, or version 1 (import with overwrite).
    Any,
}

pub struct Store {
    db: SharedStateDb,
    clock: SharedClock,
    /// The database has no compare-and-swap: the version check and the batch that follows it
    /// happen under this lock, so two saves of the same version cannot both succeed.
    write_lock: Mutex<()>,
}

fn version_key(uid: &str, version: u32) -> Vec<u8> {
    let mut k = version_prefix(uid);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// uids never hold a 0 byte, so `a\0` does not also match the versions of `ab`.
fn version_prefix(uid: &str) -> Vec<u8> {
    let mut k = uid.as_bytes().to_vec();
    k.push(0);
    k
}

fn decode(bytes: &[u8]) -> Result<Stored, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode(s: &Stored) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    pub fn new(db: SharedStateDb, clock: SharedClock) -> Store {
        Store {
            db,
            clock,
            write_lock: Mutex::new(()),
        }
    }

    pub fn get(&self, uid: &str) -> Result<Option<Stored>, StoreError> {
        self.db
            .get(HEADS, uid.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Every user dashboard's head.
    pub fn list(&self) -> Result<Vec<Stored>, StoreError> {
        self.db
            .scan(HEADS, b"")?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// The kept versions, newest first.
    pub fn versions(&self, uid: &str) -> Result<Vec<Stored>, StoreError> {
        let mut all = self
            .db
            .scan(VERSIONS, &version_prefix(uid))?
            .iter()
            .map(|(_, v)| decode(v))
            .collect::<Result<Vec<_>, _>>()?;
        all.reverse();
        Ok(all)
    }

    pub fn version(&self, uid: &str, version: u32) -> Result<Stored, StoreError> {
        match self.db.get(VERSIONS, &version_key(uid, version))? {
            Some(b) => decode(&b),
            None => Err(StoreError::NoVersion {
                uid: uid.to_string(),
                version,
            }),
        }
    }

    /// Saves `dashboard` (already validated) as the next version; returns what was stored.
    pub fn save(
        &self,
        dashboard: Dashboard,
        expect: Expect,
        message: String,
    ) -> Result<Stored, StoreError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let uid = dashboard.uid.clone();
        let head = self.get(&uid)?;
        let current = head.as_ref().map(|h| h.version);
        match (expect, current) {
            (Expect::New, Some(_)) => return Err(StoreError::Exists(uid)),
            (Expect::Version(_), None) => return Err(StoreError::NotFound(uid)),
            (Expect::Version(expected), Some(current)) if expected != current => {
                return Err(StoreError::Conflict {
                    uid,
                    expected,
                    current,
                })
            }
            _ => {}
        }
        let version = current.unwrap_or(0).checked_add(1).ok_or_else(|| {
            StoreError::Corrupt(format!("dashboard {uid:?} is at the last version number"))
        })?;
        let stored = Stored {
            dashboard,
            version,
            updated_at_ns: self.clock.now_ns(),
            message,
        };
        let bytes = encode(&stored)?;
        let mut ops = vec![
            StateOp::Put(HEADS, uid.as_bytes().to_vec(), bytes.clone()),
            StateOp::Put(VERSIONS, version_key(&uid, version), bytes),
        ];
        // Each save adds one version, so dropping the one that falls out of the window keeps
        // exactly the last MAX_VERSIONS (without reading the old documents back).
        if let Some(old) = version.checked_sub(MAX_VERSIONS as u32).filter(|v| *v > 0) {
            ops.push(StateOp::Delete(VERSIONS, version_key(&uid, old)));
        }
        self.db.write(ops)?;
        Ok(stored)
    }

    /// A new version whose content is version `n`'s.
    pub fn restore(&self, uid: &str, n: u32) -> Result<Stored, StoreError> {
        if self.get(uid)?.is_none() {
            return Err(StoreError::NotFound(uid.to_string()));
        }
        let old = self.version(uid, n)?;
        self.save(old.dashboard, Expect::Any, format!("restored version {n}"))
    }

    /// Removes the dashboard and all its versions in one batch.
    pub fn delete(&self, uid: &str) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let Some(head) = self.get(uid)? else {
            return Err(StoreError::NotFound(uid.to_string()));
        };
        let mut ops = vec![StateOp::Delete(HEADS, uid.as_bytes().to_vec())];
        let first = head.version.saturating_sub(MAX_VERSIONS as u32 - 1).max(1);
        for v in first..=head.version {
            ops.push(StateOp::Delete(VERSIONS, version_key(uid, v)));
        }
        self.db.write(ops)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use pharos_alertmanager::{MemStateDb, StateDb};
    use pharos_collector::clock::Clock;

    use super::*;
    use crate::boards::model::parse_value;

    struct Tick(AtomicI64);
    impl Clock for Tick {
        fn now_ns(&self) -> i64 {
            self.0.fetch_add(1_000_000_000, Ordering::SeqCst)
        }
    }

    fn store(db: &MemStateDb) -> Store {
        Store::new(
            Arc::new(db.clone()),
            Arc::new(Tick(AtomicI64::new(1_700_000_000_000_000_000))),
        )
    }

    fn doc(uid: &str, title: &str) -> Dashboard {
        parse_value(serde_json::json!({"uid": uid, "title": title, "panels": []})).unwrap()
    }

    #[test]
    fn versions_restore_and_reopen() {
        let db = MemStateDb::default();
        let s = store(&db);
        let v1 = s
            .save(doc("a", "one"), Expect::New, "first".into())
            .unwrap();
        assert_eq!(v1.version, 1);
        let v2 = s
            .save(doc("a", "two"), Expect::Version(1), String::new())
            .unwrap();
        assert_eq!(v2.version, 2);
        assert!(v2.updated_at_ns > v1.updated_at_ns);
        let versions: Vec<u32> = s.versions("a").unwrap().iter().map(|v| v.version).collect();
        assert_eq!(versions, vec![2, 1]);
        let r = s.restore("a", 1).unwrap();
        assert_eq!((r.version, r.message.as_str()), (3, "restored version 1"));
        assert_eq!(r.dashboard, v1.dashboard);
        // A second store over the same database (a restart) sees the same.
        let again = store(&db);
        assert_eq!(again.get("a").unwrap().unwrap().dashboard.title, "one");
        assert_eq!(again.versions("a").unwrap().len(), 3);
        assert_eq!(again.version("a", 2).unwrap().dashboard.title, "two");
        // "a"'s versions are not confused with "ab"'s.
        again
            .save(doc("ab", "x"), Expect::New, String::new())
            .unwrap();
        assert_eq!(again.versions("a").unwrap().len(), 3);
        assert_eq!(again.list().unwrap().len(), 2);
    }

    #[test]
    fn stale_versions_and_duplicates_are_refused() {
        let s = store(&MemStateDb::default());
        s.save(doc("a", "one"), Expect::New, String::new()).unwrap();
        assert!(matches!(
            s.save(doc("a", "one"), Expect::New, String::new()),
            Err(StoreError::Exists(_))
        ));
        s.save(doc("a", "two"), Expect::Version(1), String::new())
            .unwrap();
        match s.save(doc("a", "three"), Expect::Version(1), String::new()) {
            Err(
                e @ StoreError::Conflict {
                    current: 2,
                    expected: 1,
                    ..
                },
            ) => {
                assert!(
                    e.to_string()
                        .contains("changed since version 1 (it is now at 2)"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.save(doc("b", "x"), Expect::Version(1), String::new()),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.restore("a", 9),
            Err(StoreError::NoVersion { .. })
        ));
        assert_eq!(
            s.save(doc("a", "any"), Expect::Any, String::new())
                .unwrap()
                .version,
            3
        );
    }

    #[test]
    fn only_the_last_hundred_versions_are_kept_and_delete_removes_all() {
        let db = MemStateDb::default();
        let s = store(&db);
        s.save(doc("a", "v"), Expect::New, String::new()).unwrap();
        for v in 1..130 {
            s.save(
                doc("a", &format!("v{v}")),
                Expect::Version(v),
                String::new(),
            )
            .unwrap();
        }
        let versions = s.versions("a").unwrap();
        assert_eq!(versions.len(), MAX_VERSIONS);
        assert_eq!(versions[0].version, 130);
        assert_eq!(versions[MAX_VERSIONS - 1].version, 31);
        assert!(matches!(
            s.version("a", 30),
            Err(StoreError::NoVersion { .. })
        ));
        s.delete("a").unwrap();
        assert!(s.get("a").unwrap().is_none());
        assert!(db.scan(VERSIONS, b"").unwrap().is_empty());
        assert!(matches!(s.delete("a"), Err(StoreError::NotFound(_))));
    }
}
