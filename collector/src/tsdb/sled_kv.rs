//! [`Kv`] on sled 0.34. The only file that uses sled.
//!
//! All trees live in sled's default tree under a one-byte tree prefix: a sled `Batch` on one
//! tree is atomic (also across a crash), which gives atomic multi-tree writes without sled's
//! multi-tree transactions (slower, and retried on conflict).

use std::path::Path;

use super::kv::{Entry, EntryVisitor, Kv, KvIter, Op, Tree, WriteBatch};
use super::TsdbError;

pub struct SledKv {
    db: sled::Db,
}

fn storage(e: sled::Error) -> TsdbError {
    match e {
        sled::Error::Corruption { .. } => TsdbError::Corrupt(e.to_string()),
        other => TsdbError::Storage(other.to_string()),
    }
}

fn prefixed(tree: Tree, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(tree as u8);
    k.extend_from_slice(key);
    k
}

/// The first key after every key of `tree`.
fn tree_end(tree: Tree) -> Vec<u8> {
    vec![tree as u8 + 1]
}

impl SledKv {
    pub fn open(dir: &Path) -> Result<SledKv, TsdbError> {
        let config = sled::Config::new()
            .path(dir)
            // The head keeps recent data in memory; sled's cache serves index loads and reads.
            .cache_capacity(64 * 1024 * 1024)
            // Durability is explicit: the store calls `flush` after each checkpoint batch.
            .flush_every_ms(None);
        // sled's background threads release a dropped database's file lock a moment after
        // the drop: a reopen right after a close retries for up to 5 s.
        let mut tries = 0;
        loop {
            match config.open() {
                Ok(db) => return Ok(SledKv { db }),
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock") && tries < 500 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(storage(e)),
            }
        }
    }

    fn iter<'a>(&'a self, iter: sled::Iter) -> KvIter<'a> {
        Box::new(iter.map(|r| {
            r.map_err(storage).and_then(|(k, v)| {
                let key = k.get(1..).map(<[u8]>::to_vec).ok_or_else(|| {
                    TsdbError::Corrupt("empty key in the metrics store".to_string())
                })?;
                Ok::<Entry, TsdbError>((key, v.to_vec()))
            })
        }))
    }
}

impl SledKv {
    fn iter_rev_first(&self, mut iter: sled::Iter) -> Result<Option<Entry>, TsdbError> {
        match iter.next_back() {
            None => Ok(None),
            Some(r) => {
                let (k, v) = r.map_err(storage)?;
                let key = k.get(1..).map(<[u8]>::to_vec).ok_or_else(|| {
                    TsdbError::Corrupt("empty key in the metrics store".to_string())
                })?;
                Ok(Some((key, v.to_vec())))
            }
        }
    }
}

impl Kv for SledKv {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TsdbError> {
        Ok(self
            .db
            .get(prefixed(tree, key))
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), TsdbError> {
        let mut b = sled::Batch::default();
        for op in batch.ops {
            match op {
                Op::Put(t, k, v) => b.insert(prefixed(t, &k), v),
                Op::Delete(t, k) => b.remove(prefixed(t, &k)),
            }
        }
        self.db.apply_batch(b).map_err(storage)
    }

    fn range<'a>(&'a self, tree: Tree, start: &[u8], end: &[u8]) -> KvIter<'a> {
        let (s, e) = (prefixed(tree, start), prefixed(tree, end));
        if s >= e {
            return Box::new(std::iter::empty());
        }
        self.iter(self.db.range(s..e))
    }

    fn visit_range(
        &self,
        tree: Tree,
        start: &[u8],
        end: &[u8],
        f: &mut EntryVisitor<'_>,
    ) -> Result<(), TsdbError> {
        let (s, e) = (prefixed(tree, start), prefixed(tree, end));
        if s >= e {
            return Ok(());
        }
        for entry in self.db.range(s..e) {
            let (k, v) = entry.map_err(storage)?;
            let key = k
                .get(1..)
                .ok_or_else(|| TsdbError::Corrupt("empty key in the metrics store".to_string()))?;
            f(key, &v)?;
        }
        Ok(())
    }

    fn range_keys(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<Vec<Vec<u8>>, TsdbError> {
        let (s, e) = (prefixed(tree, start), prefixed(tree, end));
        if s >= e {
            return Ok(Vec::new());
        }
        self.db
            .range(s..e)
            .keys()
            .map(|k| {
                let k = k.map_err(storage)?;
                k.get(1..)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| TsdbError::Corrupt("empty key in the metrics store".to_string()))
            })
            .collect()
    }

    fn scan_prefix<'a>(&'a self, tree: Tree, prefix: &[u8]) -> KvIter<'a> {
        if prefix.is_empty() {
            return self.iter(self.db.range(vec![tree as u8]..tree_end(tree)));
        }
        self.iter(self.db.scan_prefix(prefixed(tree, prefix)))
    }

    fn last(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<Option<Entry>, TsdbError> {
        let (s, e) = (prefixed(tree, start), prefixed(tree, end));
        if s >= e {
            return Ok(None);
        }
        self.iter_rev_first(self.db.range(s..e))
    }

    fn remove_range(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<usize, TsdbError> {
        let mut batch = WriteBatch::default();
        for entry in self.range(tree, start, end) {
            let (k, _) = entry?;
            batch.delete(tree, k);
        }
        let n = batch.len();
        self.write(batch)?;
        Ok(n)
    }

    fn flush(&self) -> Result<(), TsdbError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    fn size_on_disk(&self) -> Result<u64, TsdbError> {
        self.db.size_on_disk().map_err(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_separate_and_batches_span_them() -> Result<(), TsdbError> {
        let dir = tempfile::tempdir().map_err(|e| TsdbError::Storage(e.to_string()))?;
        let kv = SledKv::open(dir.path())?;
        let mut b = WriteBatch::default();
        b.put(Tree::Chunks, b"a1".to_vec(), b"x".to_vec());
        b.put(Tree::Chunks, b"a2".to_vec(), b"y".to_vec());
        b.put(Tree::Chunks, b"b1".to_vec(), b"z".to_vec());
        b.put(Tree::Minute, b"a1".to_vec(), b"m".to_vec());
        kv.write(b)?;
        assert_eq!(kv.get(Tree::Chunks, b"a2")?, Some(b"y".to_vec()));
        assert_eq!(kv.get(Tree::Hour, b"a2")?, None);
        let keys = |it: KvIter<'_>| -> Result<Vec<Vec<u8>>, TsdbError> {
            it.map(|r| r.map(|(k, _)| k)).collect()
        };
        assert_eq!(
            keys(kv.scan_prefix(Tree::Chunks, b"a"))?,
            vec![b"a1".to_vec(), b"a2".to_vec()]
        );
        assert_eq!(keys(kv.scan_prefix(Tree::Chunks, b""))?.len(), 3);
        let mut seen = Vec::new();
        kv.visit_range(Tree::Chunks, b"a2", b"b2", &mut |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        assert_eq!(
            seen,
            vec![
                (b"a2".to_vec(), b"y".to_vec()),
                (b"b1".to_vec(), b"z".to_vec())
            ]
        );
        assert_eq!(keys(kv.range(Tree::Chunks, b"a2", b"b2"))?.len(), 2);
        assert_eq!(
            kv.range_keys(Tree::Chunks, b"a2", b"b2")?,
            vec![b"a2".to_vec(), b"b1".to_vec()]
        );
        assert_eq!(
            kv.last(Tree::Chunks, b"a", b"b")?,
            Some((b"a2".to_vec(), b"y".to_vec()))
        );
        assert_eq!(kv.last(Tree::Chunks, b"c", b"d")?, None);
        assert_eq!(kv.remove_range(Tree::Chunks, b"a", b"b")?, 2);
        assert_eq!(
            keys(kv.scan_prefix(Tree::Chunks, b""))?,
            vec![b"b1".to_vec()]
        );
        assert_eq!(
            keys(kv.scan_prefix(Tree::Minute, b""))?,
            vec![b"a1".to_vec()]
        );
        kv.flush()?;
        assert!(kv.size_on_disk()? > 0);
        Ok(())
    }
}
