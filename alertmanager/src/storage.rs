//! The alerting state's storage interface: named key spaces of ordered bytes with atomic
//! batches, so alert state, silences, escalations and the notification log survive restarts.
//! sled is the engine today ([`SledStateDb`], `data/alerting/`); [`MemStateDb`] is for tests.
//! Nothing in the alerting logic names sled.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("alerting state storage: {0}")]
pub struct StorageError(pub String);

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

/// One change in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateOp {
    Put(&'static str, Vec<u8>, Vec<u8>),
    Delete(&'static str, Vec<u8>),
}

/// Named, ordered key spaces with all-or-nothing batches that are on disk when `write`
/// returns.
pub trait StateDb: Send + Sync + 'static {
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Applies every op or none, durably (flushed before returning).
    fn write(&self, ops: Vec<StateOp>) -> Result<(), StorageError>;
    /// Every entry of `space` whose key starts with `prefix`, in key order.
    fn scan(
        &self,
        space: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError>;

    fn put(&self, space: &'static str, key: &[u8], value: Vec<u8>) -> Result<(), StorageError> {
        self.write(vec![StateOp::Put(space, key.to_vec(), value)])
    }
    fn delete(&self, space: &'static str, key: &[u8]) -> Result<(), StorageError> {
        self.write(vec![StateOp::Delete(space, key.to_vec())])
    }
}

pub type SharedStateDb = Arc<dyn StateDb>;

/// sled, one tree per key space.
pub struct SledStateDb {
    db: sled::Db,
}

impl SledStateDb {
    pub fn open(dir: &Path) -> Result<SledStateDb, StorageError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let db = sled::Config::new().path(dir).open().map_err(err)?;
        Ok(SledStateDb { db })
    }
}

impl StateDb for SledStateDb {
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let tree = self.db.open_tree(space).map_err(err)?;
        Ok(tree.get(key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn write(&self, ops: Vec<StateOp>) -> Result<(), StorageError> {
        use sled::Transactional;
        let mut names: Vec<&'static str> = ops
            .iter()
            .map(|op| match op {
                StateOp::Put(s, ..) | StateOp::Delete(s, ..) => *s,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        let trees = names
            .iter()
            .map(|n| self.db.open_tree(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        trees
            .as_slice()
            .transaction(|tx| {
                for op in &ops {
                    let (space, key) = match op {
                        StateOp::Put(s, k, _) | StateOp::Delete(s, k) => (*s, k),
                    };
                    let i = names.iter().position(|n| *n == space).unwrap_or(0);
                    match op {
                        StateOp::Put(_, _, v) => {
                            tx[i].insert(key.as_slice(), v.as_slice())?;
                        }
                        StateOp::Delete(..) => {
                            tx[i].remove(key.as_slice())?;
                        }
                    }
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| err(format!("{e:?}")))?;
        self.db.flush().map_err(err)?;
        Ok(())
    }

    fn scan(
        &self,
        space: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let tree = self.db.open_tree(space).map_err(err)?;
        tree.scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(err))
            .collect()
    }
}

/// In memory; for tests (a clone shares the same data, like reopening a database).
#[derive(Clone, Default)]
pub struct MemStateDb {
    spaces: Arc<Mutex<BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>>>,
}

impl StateDb for MemStateDb {
    fn get(&self, space: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .spaces
            .lock()
            .get(space)
            .and_then(|s| s.get(key).cloned()))
    }

    fn write(&self, ops: Vec<StateOp>) -> Result<(), StorageError> {
        let mut spaces = self.spaces.lock();
        for op in ops {
            match op {
                StateOp::Put(s, k, v) => {
                    spaces.entry(s).or_default().insert(k, v);
                }
                StateOp::Delete(s, k) => {
                    if let Some(space) = spaces.get_mut(s) {
                        space.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        space: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        Ok(self
            .spaces
            .lock()
            .get(space)
            .map(|s| {
                s.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(db: &dyn StateDb) {
        db.write(vec![
            StateOp::Put("a", b"k1".to_vec(), b"v1".to_vec()),
            StateOp::Put("a", b"k2".to_vec(), b"v2".to_vec()),
            StateOp::Put("b", b"k1".to_vec(), b"w1".to_vec()),
            StateOp::Put("a", b"x".to_vec(), b"v3".to_vec()),
        ])
        .unwrap();
        assert_eq!(db.get("a", b"k1").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(db.get("b", b"k1").unwrap().as_deref(), Some(&b"w1"[..]));
        let keys: Vec<_> = db.scan("a", b"k").unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(keys, vec![b"k1".to_vec(), b"k2".to_vec()]);
        db.delete("a", b"k1").unwrap();
        assert_eq!(db.get("a", b"k1").unwrap(), None);
        assert_eq!(db.scan("c", b"").unwrap(), vec![]);
    }

    #[test]
    fn sled_and_memory_behave_alike_and_sled_persists() {
        exercise(&MemStateDb::default());
        let dir = tempfile::tempdir().unwrap();
        {
            let db = SledStateDb::open(dir.path()).unwrap();
            exercise(&db);
        }
        let db = SledStateDb::open(dir.path()).unwrap();
        assert_eq!(db.get("a", b"k2").unwrap().as_deref(), Some(&b"v2"[..]));
        assert_eq!(db.get("a", b"k1").unwrap(), None);
    }
}
