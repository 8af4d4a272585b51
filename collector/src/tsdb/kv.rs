//! The storage interface under the time-series store: a few ordered key spaces ("trees") with
//! atomic multi-tree batches. The store only talks to this trait, so the engine below it
//! (sled today, see `sled_kv.rs`) can be replaced without touching the TSDB logic.

use super::TsdbError;

/// The key spaces of the store. Keys in each are ordered bytewise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Tree {
    /// Store-wide values (applied LSN, next series id).
    Meta = 0,
    /// Series id → labels and kind.
    Series = 1,
    /// Encoded labels → series id.
    SeriesByLabels = 2,
    /// (label name, value, series id) → empty: postings, sorted by id within a name=value.
    Postings = 3,
    /// (series id, first timestamp) → Gorilla chunk.
    Chunks = 4,
    /// (series id, first bucket start) → block of 1-minute rollup buckets.
    Minute = 5,
    /// (series id, first bucket start) → block of 1-hour rollup buckets.
    Hour = 6,
    /// Distribution family id → labels.
    Families = 7,
    /// Encoded labels → distribution family id.
    FamiliesByLabels = 8,
    /// (label name, value, family id) → empty.
    FamilyPostings = 9,
    /// (family id, observation time) → HdrHistogram (V2 deflate).
    DistRaw = 10,
    /// (family id, bucket start) → HdrHistogram of a 1-minute bucket.
    DistMinute = 11,
    /// (family id, bucket start) → HdrHistogram of a 1-hour bucket.
    DistHour = 12,
    /// (series id, first bucket start) → column block of 5-minute rollup buckets.
    FiveMinute = 13,
    /// (series id, hour) → column block of the 5-minute buckets of that hour of the series'
    /// open (not yet cut) day block: what a reopened store restores the head from.
    FiveMinuteOpen = 14,
}

/// One change in a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put(Tree, Vec<u8>, Vec<u8>),
    Delete(Tree, Vec<u8>),
}

/// Changes applied all or nothing, across trees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<Op>,
}

impl WriteBatch {
    pub fn put(&mut self, tree: Tree, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Put(tree, key, value));
    }
    pub fn delete(&mut self, tree: Tree, key: Vec<u8>) {
        self.ops.push(Op::Delete(tree, key));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What [`Kv::visit_range`] calls with each key and value.
pub type EntryVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), TsdbError> + 'a;

/// Iterator over entries in key order.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<Entry, TsdbError>> + 'a>;

/// The key-value engine the store runs on.
pub trait Kv: Send + Sync + 'static {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TsdbError>;
    /// Applies every op or none, also across a crash.
    fn write(&self, batch: WriteBatch) -> Result<(), TsdbError>;
    /// Entries with `start <= key < end`, in key order.
    fn range<'a>(&'a self, tree: Tree, start: &[u8], end: &[u8]) -> KvIter<'a>;
    /// Keys with `start <= key < end`, in key order (without copying values out).
    fn range_keys(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<Vec<Vec<u8>>, TsdbError> {
        self.range(tree, start, end)
            .map(|e| e.map(|(k, _)| k))
            .collect()
    }
    /// Calls `f` with each entry with `start <= key < end`, in key order, borrowed from the
    /// engine where it can (a month-long read would otherwise copy every block out first).
    fn visit_range(
        &self,
        tree: Tree,
        start: &[u8],
        end: &[u8],
        f: &mut EntryVisitor<'_>,
    ) -> Result<(), TsdbError> {
        for e in self.range(tree, start, end) {
            let (k, v) = e?;
            f(&k, &v)?;
        }
        Ok(())
    }
    /// Entries whose key starts with `prefix`, in key order.
    fn scan_prefix<'a>(&'a self, tree: Tree, prefix: &[u8]) -> KvIter<'a>;
    /// The entry with the greatest key in `start <= key < end`.
    fn last(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<Option<Entry>, TsdbError>;
    /// Removes the entries with `start <= key < end` atomically; returns how many.
    fn remove_range(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<usize, TsdbError>;
    /// Makes every completed write durable (fsync).
    fn flush(&self) -> Result<(), TsdbError>;
    fn size_on_disk(&self) -> Result<u64, TsdbError>;
}

/// Appends a u64 so that byte order is numeric order.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an i64 so that byte order is numeric order (sign bit flipped).
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

/// Reads a u64 written by [`put_u64`] at `at`.
pub fn get_u64(bytes: &[u8], at: usize) -> Result<u64, TsdbError> {
    let b: [u8; 8] = bytes
        .get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| TsdbError::Corrupt(format!("key of {} bytes is too short", bytes.len())))?;
    Ok(u64::from_be_bytes(b))
}

/// Reads an i64 written by [`put_i64`] at `at`.
pub fn get_i64(bytes: &[u8], at: usize) -> Result<i64, TsdbError> {
    Ok((get_u64(bytes, at)? ^ (1 << 63)) as i64)
}

/// Key of one series' (or family's) entry at a time: id then time, both ordered.
pub fn id_time_key(id: u64, ts: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    put_u64(&mut k, id);
    put_i64(&mut k, ts);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_their_numbers() {
        let ts = [i64::MIN, -5, -1, 0, 1, 60_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(id_time_key(7, w[0]) < id_time_key(7, w[1]));
        }
        assert!(id_time_key(1, i64::MAX) < id_time_key(2, i64::MIN));
        let k = id_time_key(42, -7);
        assert_eq!(get_u64(&k, 0).ok(), Some(42));
        assert_eq!(get_i64(&k, 8).ok(), Some(-7));
        assert!(get_u64(&k, 9).is_err());
    }
}
