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
//! again with the union and replaces the entry.
//!
//! **Eviction is scan-resistant.** Past the limit, the least recently used entries are
//! dropped, but only those not used in the last [`PROTECT_NS`] (by the store's clock); when
//! that frees too little, the new entry is not admitted. A query over more blocks than the
//! cache holds would otherwise evict, on every evaluation, the blocks its next evaluation
//! needs first: measured on the 30-day benchmark, a cache a third of the query's size made
//! every evaluation twice as slow as no cache. Now such a query is served partly from the
//! cache and decodes the rest, and a working set that moves on replaces the old one once it
//! has gone unused for that long.
//!
//! [`Tree::FiveMinute`]: super::kv::Tree::FiveMinute

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::clock::SharedClock;

use super::cached_block::CachedBlock;
use super::ColumnSet;

/// Entries used this recently (store clock, ns) are never evicted.
pub const PROTECT_NS: i64 = 30 * 1_000_000_000;

/// After an eviction pass that could not make room, inserts are refused without another
/// pass for this long.
const RETRY_NS: i64 = 1_000_000_000;

/// (series id, block key), or (series id, `None`) for the list of its closed blocks' keys.
type Key = (u64, Option<i64>);

enum Payload {
    Block(Arc<CachedBlock>),
    Keys(Arc<Vec<i64>>),
}

struct Entry {
    payload: Payload,
    bytes: usize,
    /// When it was last used (store clock, ns) and the access count then (the order among
    /// accesses at the same clock reading).
    used: (i64, u64),
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
    /// No eviction pass before this time (ns): the last one found nothing to evict.
    next_pass_ns: i64,
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
    /// The limit of each shard.
    shard_limit: usize,
    clock: SharedClock,
    /// Entries by series id: a month-long read over 1,000 series makes 30,000 lookups from
    /// every core, which one lock serialised (7 % of such a query).
    shards: Vec<Mutex<Inner>>,
}

/// Shards of a cache of at least [`SHARDED_FROM`] bytes (smaller ones have one).
const SHARDS: usize = 16;
const SHARDED_FROM: usize = 64 << 20;

impl BlockCache {
    /// A cache holding at most `limit_bytes` of decoded columns (0: caches nothing); entry
    /// ages are read from `clock`.
    pub fn new(limit_bytes: usize, clock: SharedClock) -> Self {
        let n = if limit_bytes >= SHARDED_FROM {
            SHARDS
        } else {
            1
        };
        BlockCache {
            limit: limit_bytes,
            shard_limit: limit_bytes / n,
            clock,
            shards: (0..n).map(|_| Mutex::new(Inner::default())).collect(),
        }
    }

    /// The shard of a series' entries.
    fn shard(&self, id: u64) -> &Mutex<Inner> {
        // Fibonacci hashing: ids are sequential, the top bits of the product spread them.
        let i = (id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % self.shards.len();
        &self.shards[i]
    }

    /// Whether an insert of series `id` now could be admitted (a cheap test before building
    /// an entry).
    pub fn may_admit(&self, id: u64) -> bool {
        if !self.enabled() {
            return false;
        }
        let g = self.shard(id).lock();
        g.bytes < self.shard_limit || self.clock.now_ns() >= g.next_pass_ns
    }

    /// Marks an access: (clock, access count).
    fn touch(&self, g: &mut Inner) -> (i64, u64) {
        g.tick += 1;
        (self.clock.now_ns(), g.tick)
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
        let mut g = self.shard(id).lock();
        let tick = self.touch(&mut g);
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
        let mut g = self.shard(id).lock();
        let tick = self.touch(&mut g);
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

    /// Inserts, first evicting the least recently used entries older than [`PROTECT_NS`]
    /// when the limit would be passed; not admitted when that frees too little.
    fn put(&self, key: Key, payload: Payload, bytes: usize) {
        if !self.enabled() || bytes > self.shard_limit / 4 {
            return;
        }
        let mut g = self.shard(key.0).lock();
        let used = self.touch(&mut g);
        // A replaced entry's bytes are free for its successor.
        let replaced = g.map.get(&key).map_or(0, |e| e.bytes);
        if g.bytes - replaced + bytes > self.shard_limit && !self.make_room(&mut g, bytes, used.0) {
            return;
        }
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
    }

    /// Evicts unprotected entries, oldest first, down to 90 % of the limit with `bytes` more
    /// (one pass per many inserts, not one per insert); whether `bytes` then fit.
    fn make_room(&self, g: &mut Inner, bytes: usize, now: i64) -> bool {
        if now < g.next_pass_ns {
            return false;
        }
        let target = (self.shard_limit / 10 * 9).saturating_sub(bytes);
        let protect_from = now.saturating_sub(PROTECT_NS);
        let mut by_age: Vec<((i64, u64), Key)> = g
            .map
            .iter()
            .filter(|(_, e)| e.used.0 < protect_from)
            .map(|(k, e)| (e.used, *k))
            .collect();
        by_age.sort_unstable();
        for (_, k) in by_age {
            if g.bytes <= target {
                break;
            }
            if let Some(e) = g.map.remove(&k) {
                g.bytes -= e.bytes;
            }
        }
        let fits = g.bytes + bytes <= self.shard_limit;
        if !fits {
            g.next_pass_ns = now.saturating_add(RETRY_NS);
        }
        fits
    }

    fn drop_entry(&self, key: Key) {
        if !self.enabled() {
            return;
        }
        let mut g = self.shard(key.0).lock();
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
        let mut st = CacheStats {
            limit_bytes: self.limit,
            ..CacheStats::default()
        };
        for shard in &self.shards {
            let g = shard.lock();
            st.entries += g.map.len();
            st.bytes += g.bytes;
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::ManualClock;
    use crate::tsdb::RollupColumns;

    fn new_cache(limit: usize) -> (BlockCache, ManualClock) {
        let clock = ManualClock::new(1_000 * 1_000_000_000);
        (BlockCache::new(limit, Arc::new(clock.clone())), clock)
    }

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
        let (cache, clock) = new_cache(one * 10);
        cache.insert(1, 0, block(288, ColumnSet::MAX));
        assert!(cache.get(1, 0, ColumnSet::MAX).is_ok());
        assert_eq!(
            cache.get(1, 0, ColumnSet::MAX.with(ColumnSet::MIN)).err(),
            Some(Some(ColumnSet::MAX))
        );
        assert_eq!(cache.get(2, 0, ColumnSet::MAX).err(), Some(None));
        for k in 1..40 {
            // Each insert comes after the others have gone unused long enough to be evicted.
            clock.advance(PROTECT_NS + 1);
            assert!(cache.get(1, 0, ColumnSet::MAX).is_ok());
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
        assert!(new_cache(0).0.get(1, 1, ColumnSet::MAX).is_err());
    }

    /// A sharded cache (large enough to have shards) holds its limit over many series.
    #[test]
    fn a_sharded_cache_holds_its_limit() {
        let (cache, clock) = new_cache(SHARDED_FROM);
        assert_eq!(cache.shards.len(), SHARDS);
        let one = block(288, ColumnSet::MAX).heap_bytes();
        let mut admitted = 0;
        for id in 0..(2 * SHARDED_FROM / one) as u64 {
            clock.advance(PROTECT_NS / 1000);
            if cache.may_admit(id) {
                cache.insert(id, 0, block(288, ColumnSet::MAX));
                admitted += usize::from(cache.get(id, 0, ColumnSet::MAX).is_ok());
            }
        }
        let st = cache.stats();
        assert!(st.bytes <= st.limit_bytes, "{st:?}");
        // Most of the limit is used, and old entries made room for new ones.
        assert!(st.bytes > st.limit_bytes / 10 * 7, "{st:?}");
        assert!(admitted > st.entries, "{admitted} {st:?}");
    }

    /// A scan over more blocks than fit does not evict what was used recently: the excess
    /// is not admitted, and old entries make room once they have gone unused long enough.
    #[test]
    fn recently_used_entries_are_not_evicted_by_a_larger_scan() {
        let one = block(288, ColumnSet::MAX).heap_bytes();
        let (cache, clock) = new_cache(one * 10);
        for k in 0..30 {
            if cache.may_admit(1) {
                cache.insert(1, k, block(288, ColumnSet::MAX));
            }
        }
        let held: Vec<i64> = (0..30)
            .filter(|k| cache.get(1, *k, ColumnSet::MAX).is_ok())
            .collect();
        assert_eq!(held, (0..10).collect::<Vec<_>>());
        assert!(!cache.may_admit(1));
        // The same scan again, soon after: the same entries, hits, still held.
        clock.advance(PROTECT_NS / 2);
        cache.insert(1, 20, block(288, ColumnSet::MAX));
        assert!(cache.get(1, 20, ColumnSet::MAX).is_err());
        // Later, blocks 0..5 used again and 5..10 not: a new entry takes an old one's place.
        clock.advance(PROTECT_NS);
        for k in 0..5 {
            assert!(cache.get(1, k, ColumnSet::MAX).is_ok());
        }
        assert!(cache.may_admit(1));
        cache.insert(1, 20, block(288, ColumnSet::MAX));
        assert!(cache.get(1, 20, ColumnSet::MAX).is_ok());
        for k in 0..5 {
            assert!(
                cache.get(1, k, ColumnSet::MAX).is_ok(),
                "recently used {k} evicted"
            );
        }
        let st = cache.stats();
        assert!(st.bytes <= st.limit_bytes, "{st:?}");
    }
}
