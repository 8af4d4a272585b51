//! A bounded in-memory cache of decoded *closed* 5-minute blocks (`metrics.rollup_cache_mb`).
//!
//! A long-range query over many series decodes the same day blocks on every evaluation (and
//! copies each out of sled first); a dashboard refreshing a 30-day panel asks again and again.
//! Closed blocks are immutable: a block is written to [`Tree::FiveMinute`] once, when its
//! day is cut, and the head rejects samples older than a series' newest, so no late sample
//! can land in it. Only retention changes them (rewriting a block without its expired
//! buckets under a new key, or deleting it), and it calls [`BlockCache::remove`]; the flush
//! that writes a closed block removes any entry of that key too, so that the cache can never
//! serve anything but what the kv holds. Series ids are never reused.
//!
//! Besides blocks, the cache keeps per series the list of its closed blocks' keys, so that a
//! read served from the cache does not touch sled at all; a flush writing a closed block
//! and retention changing one drop that list ([`BlockCache::remove_keys`]).
//!
//! An entry holds the columns some read asked for; a read wanting more decodes the block
//! again with the union and replaces the entry. Eviction drops the least recently used
//! entries once the decoded bytes pass the limit.
//!
//! [`Tree::FiveMinute`]: super::kv::Tree::FiveMinute

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::cached_block::CachedBlock;
use super::ColumnSet;

/// (series id, block key), or (series id, `None`) for the list of its closed blocks' keys.
type Key = (u64, Option<i64>);

enum Payload {
    Block(Arc<CachedBlock>),
    Keys(Arc<Vec<i64>>),
}

struct Entry {
    payload: Payload,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
}

/// Counters of a [`BlockCache`] (for tests and the benchmark's report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub limit_bytes: usize,
}

pub struct BlockCache {
    limit: usize,
    inner: Mutex<Inner>,
}

impl BlockCache {
    /// A cache holding at most `limit_bytes` of decoded columns (0: caches nothing).
    pub fn new(limit_bytes: usize) -> Self {
        BlockCache {
            limit: limit_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// The cached block if it has every column of `want`; else the columns it has (so that
    /// the caller decodes their union once), `None` when absent.
    pub fn get(
        &self,
        id: u64,
        key: i64,
        want: ColumnSet,
    ) -> Result<Arc<CachedBlock>, Option<ColumnSet>> {
        if !self.enabled() {
            return Err(None);
        }
        let mut g = self.inner.lock();
        g.tick += 1;
        let tick = g.tick;
        match g.map.get_mut(&(id, Some(key))) {
            Some(Entry {
                payload: Payload::Block(block),
                used,
                ..
            }) => {
                if block.cols().has(want) {
                    *used = tick;
                    Ok(block.clone())
                } else {
                    Err(Some(block.cols()))
                }
            }
            _ => Err(None),
        }
    }

    /// The cached keys of a series' closed blocks, all of them, in order.
    pub fn keys(&self, id: u64) -> Option<Arc<Vec<i64>>> {
        if !self.enabled() {
            return None;
        }
        let mut g = self.inner.lock();
        g.tick += 1;
        let tick = g.tick;
        match g.map.get_mut(&(id, None)) {
            Some(Entry {
                payload: Payload::Keys(k),
                used,
                ..
            }) => {
                *used = tick;
                Some(k.clone())
            }
            _ => None,
        }
    }

    /// Caches the decoded block.
    pub fn insert(&self, id: u64, key: i64, block: Arc<CachedBlock>) {
        let bytes = block.heap_bytes();
        self.put((id, Some(key)), Payload::Block(block), bytes);
    }

    /// Caches the keys of a series' closed blocks (every one, in order).
    pub fn insert_keys(&self, id: u64, keys: Arc<Vec<i64>>) {
        let bytes = 8 * keys.len() + 64;
        self.put((id, None), Payload::Keys(keys), bytes);
    }

    /// Inserts, evicting the least recently used entries past the limit.
    fn put(&self, key: Key, payload: Payload, bytes: usize) {
        if !self.enabled() || bytes > self.limit / 4 {
            return;
        }
        let mut g = self.inner.lock();
        g.tick += 1;
        let used = g.tick;
        if let Some(old) = g.map.insert(
            key,
            Entry {
                payload,
                bytes,
                used,
            },
        ) {
            g.bytes -= old.bytes;
        }
        g.bytes += bytes;
        if g.bytes > self.limit {
            // Down to 90 % at once: one sort per many inserts, not one per insert.
            let target = self.limit / 10 * 9;
            let mut by_age: Vec<(u64, Key)> = g.map.iter().map(|(k, e)| (e.used, *k)).collect();
            by_age.sort_unstable();
            for (_, k) in by_age {
                if g.bytes <= target {
                    break;
                }
                if let Some(e) = g.map.remove(&k) {
                    g.bytes -= e.bytes;
                }
            }
        }
    }

    fn drop_entry(&self, key: Key) {
        if !self.enabled() {
            return;
        }
        let mut g = self.inner.lock();
        if let Some(e) = g.map.remove(&key) {
            g.bytes -= e.bytes;
        }
    }

    /// Forgets a block (retention changed or removed it, or a flush wrote it).
    pub fn remove(&self, id: u64, key: i64) {
        self.drop_entry((id, Some(key)));
    }

    /// Forgets the list of a series' closed blocks (one was added, changed or removed).
    pub fn remove_keys(&self, id: u64) {
        self.drop_entry((id, None));
    }

    pub fn stats(&self) -> CacheStats {
        let g = self.inner.lock();
        CacheStats {
            entries: g.map.len(),
            bytes: g.bytes,
            limit_bytes: self.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tsdb::RollupColumns;

    fn block(n: usize, set: ColumnSet) -> Arc<CachedBlock> {
        let mut c = RollupColumns::default();
        for i in 0..n {
            c.start.push(i as i64 * 300_000);
            c.count.push(5);
            if set.has(ColumnSet::MAX) {
                c.max.push(i as f64);
            }
        }
        Arc::new(CachedBlock::new(c, set))
    }

    #[test]
    fn hits_need_every_column_and_the_limit_holds() {
        let one = block(288, ColumnSet::MAX).heap_bytes();
        let cache = BlockCache::new(one * 10);
        cache.insert(1, 0, block(288, ColumnSet::MAX));
        assert!(cache.get(1, 0, ColumnSet::MAX).is_ok());
        assert_eq!(
            cache.get(1, 0, ColumnSet::MAX.with(ColumnSet::MIN)).err(),
            Some(Some(ColumnSet::MAX))
        );
        assert_eq!(cache.get(2, 0, ColumnSet::MAX).err(), Some(None));
        for k in 1..40 {
            cache.insert(1, k, block(288, ColumnSet::MAX));
            // The first entry stays the most recently used: eviction takes the others.
            assert!(cache.get(1, 0, ColumnSet::MAX).is_ok(), "evicted at {k}");
        }
        let st = cache.stats();
        assert!(st.bytes <= st.limit_bytes && st.entries >= 8, "{st:?}");
        cache.remove(1, 0);
        assert_eq!(cache.get(1, 0, ColumnSet::MAX).err(), Some(None));
        cache.insert_keys(7, Arc::new(vec![1, 2]));
        assert_eq!(cache.keys(7).as_deref(), Some(&vec![1, 2]));
        // A key list is not a block, and the other way round.
        assert_eq!(cache.get(7, 1, ColumnSet::default()).err(), Some(None));
        assert!(cache.keys(1).is_none());
        cache.remove_keys(7);
        assert!(cache.keys(7).is_none());
        assert!(BlockCache::new(0).get(1, 1, ColumnSet::MAX).is_err());
    }
}
