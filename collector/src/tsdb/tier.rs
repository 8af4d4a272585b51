//! One rollup tier of a series in the head ([`BucketState`]): the closed buckets of the
//! current block, the open bucket, and cut blocks waiting for the next flush.
//!
//! How a tier reaches the kv depends on its block length. The 1-minute (2 h) and 1-hour
//! (1 day of 24 buckets) tiers write the current block whole at every flush, under the key it
//! keeps when it closes. The 5-minute tier's block is a day of 288 buckets: rewriting it at
//! every flush (every 60 s) wrote each series' open day again and again, and sled keeps the
//! old versions until it compacts. So the 5-minute tier's *open* block goes to the kv as hour
//! **segments** ([`open_tree`], keyed by the absolute hour of their buckets, at most 12
//! buckets): a flush rewrites only the segments that changed since the last one (normally
//! one). When the block is cut, it is written whole to the tier's tree once and its segments
//! are deleted in the same atomic batch. Reads never look at the segments: the head holds
//! the whole open block; the segments are what a reopened store restores it from.

use super::block::{decode_block, BlockEncoder};
use super::colblock::{decode_column_block, ColumnEncoder};
use super::kv::{id_time_key, Tree, WriteBatch};
use super::rollup::{fold, open_bucket};
use super::{MetricKind, Resolution, RollupBucket, Sample, TsdbError};

/// Buckets per block: a block holds buckets starting within this many widths of its first,
/// so 2 h of minutes, 1 day of 5 minutes and 1 day of hours. The 5-minute tier serves long
/// ranges: a day per block makes a 30-day read 30 kv reads per series.
pub fn block_buckets(res: Resolution) -> i64 {
    match res {
        Resolution::Hour => 24,
        Resolution::FiveMinute => 288,
        _ => 120,
    }
}

/// The kv tree of a rollup tier (its closed blocks, and for unsegmented tiers the open one).
pub fn tier_tree(res: Resolution) -> Tree {
    match res {
        Resolution::Hour => Tree::Hour,
        Resolution::FiveMinute => Tree::FiveMinute,
        _ => Tree::Minute,
    }
}

/// The tree of a tier's open-block segments; `None` for tiers written as whole blocks.
pub fn open_tree(res: Resolution) -> Option<Tree> {
    (res == Resolution::FiveMinute).then_some(Tree::FiveMinuteOpen)
}

/// Span of one segment of an open block (12 five-minute buckets).
pub const SEGMENT_MS: i64 = 3_600_000;

/// The key of the segment holding the bucket starting at `start`: its hour. Absolute, not
/// relative to the block's first bucket, so that retention can drop a block's early buckets
/// without moving the segments that remain.
pub fn segment_key(start: i64) -> i64 {
    start - start.rem_euclid(SEGMENT_MS)
}

/// Decodes a stored block of `res` (column blocks for the 5-minute tier, bit-packed blocks
/// for the others).
pub fn decode_tier_block(res: Resolution, bytes: &[u8]) -> Result<Vec<RollupBucket>, TsdbError> {
    if res == Resolution::FiveMinute {
        decode_column_block(bytes)
    } else {
        decode_block(bytes)
    }
}

/// Encodes buckets as a stored block of `res`.
pub fn encode_tier_block(res: Resolution, buckets: &[RollupBucket]) -> Vec<u8> {
    Encoder::from_buckets(res, buckets).bytes()
}

/// How far before a read's start a block overlapping it may begin.
pub fn block_lookback_ms(res: Resolution) -> i64 {
    (block_buckets(res) + 1) * res.bucket_ms()
}

/// A tier's block encoder.
#[derive(Clone, Debug, PartialEq)]
enum Encoder {
    Bits(BlockEncoder),
    Columns(ColumnEncoder),
}

impl Encoder {
    fn new(res: Resolution) -> Self {
        Self::from_buckets(res, &[])
    }
    fn from_buckets(res: Resolution, b: &[RollupBucket]) -> Self {
        if res == Resolution::FiveMinute {
            Encoder::Columns(ColumnEncoder::from_buckets(b))
        } else {
            Encoder::Bits(BlockEncoder::from_buckets(b))
        }
    }
    fn append(&mut self, b: &RollupBucket) {
        match self {
            Encoder::Bits(e) => e.append(b),
            Encoder::Columns(e) => e.append(b),
        }
    }
    fn is_empty(&self) -> bool {
        self.count() == 0
    }
    fn count(&self) -> u32 {
        match self {
            Encoder::Bits(e) => e.count(),
            Encoder::Columns(e) => e.count(),
        }
    }
    fn first_start(&self) -> i64 {
        match self {
            Encoder::Bits(e) => e.first_start(),
            Encoder::Columns(e) => e.first_start(),
        }
    }
    fn bytes(&self) -> Vec<u8> {
        match self {
            Encoder::Bits(e) => e.bytes(),
            Encoder::Columns(e) => e.bytes(),
        }
    }
    fn bytes_with(&self, open: Option<&RollupBucket>) -> Vec<u8> {
        match self {
            Encoder::Bits(e) => e.bytes_with(open),
            Encoder::Columns(e) => e.bytes_with(open),
        }
    }
}

/// The open block of a segmented tier as the kv holds it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Segments {
    /// Closed buckets of the newest segment of the current block.
    cur: ColumnEncoder,
    /// Earlier segments of the current block, complete but not yet flushed: (key, bytes).
    pending: Vec<(i64, Vec<u8>)>,
    /// Keys of the current block's segments in the kv.
    on_disk: Vec<i64>,
    /// Keys of cut blocks' segments, deleted by the flush that writes those blocks.
    stale: Vec<i64>,
}

impl Segments {
    /// Rebuilds the segment state of a block from its closed buckets (`on_disk`: the keys
    /// stored for it).
    fn from_closed(closed: &[RollupBucket], on_disk: Vec<i64>) -> Self {
        let tail = closed.last().map_or(0, |l| {
            let k = segment_key(l.start_ms);
            closed
                .iter()
                .rev()
                .take_while(|b| segment_key(b.start_ms) == k)
                .count()
        });
        Segments {
            cur: ColumnEncoder::from_buckets(&closed[closed.len() - tail..]),
            pending: Vec::new(),
            on_disk,
            stale: Vec::new(),
        }
    }

    fn push_closed(&mut self, b: &RollupBucket) {
        if !self.cur.is_empty() && segment_key(self.cur.first_start()) != segment_key(b.start_ms) {
            let done = std::mem::take(&mut self.cur);
            self.pending
                .push((segment_key(done.first_start()), done.bytes()));
        }
        self.cur.append(b);
    }

    /// The block was cut (and will be written whole): its segments go.
    fn cut(&mut self) {
        self.stale.append(&mut self.on_disk);
        self.pending.clear();
        self.cur = ColumnEncoder::new();
    }

    /// The newest segment(s): the closed buckets of `cur` and the open bucket (two entries
    /// when the open bucket starts a new hour).
    fn current(&self, open: Option<&RollupBucket>) -> Vec<(i64, Vec<u8>)> {
        let cur_key = (!self.cur.is_empty()).then(|| segment_key(self.cur.first_start()));
        match (cur_key, open) {
            (None, None) => Vec::new(),
            (None, Some(o)) => vec![(
                segment_key(o.start_ms),
                ColumnEncoder::from_buckets(std::slice::from_ref(o)).bytes(),
            )],
            (Some(k), Some(o)) if k == segment_key(o.start_ms) => {
                vec![(k, self.cur.bytes_with(Some(o)))]
            }
            (Some(k), open) => {
                let mut out = vec![(k, self.cur.bytes())];
                if let Some(o) = open {
                    out.push((
                        segment_key(o.start_ms),
                        ColumnEncoder::from_buckets(std::slice::from_ref(o)).bytes(),
                    ));
                }
                out
            }
        }
    }
}

/// One resolution's rollup state of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketState {
    pub res: Resolution,
    /// Closed buckets of the current block.
    block: Encoder,
    /// The newest bucket, still folding samples.
    open: Option<RollupBucket>,
    /// Cut blocks not yet flushed: (first bucket start, bytes).
    pub closed: Vec<(i64, Vec<u8>)>,
    /// For segmented tiers ([`open_tree`]): how the current block is stored.
    seg: Option<Segments>,
}

impl BucketState {
    pub fn new(res: Resolution) -> Self {
        BucketState {
            res,
            block: Encoder::new(res),
            open: None,
            closed: Vec::new(),
            seg: open_tree(res).map(|_| Segments::default()),
        }
    }

    /// Continues from the buckets of the current block as stored (the last one open): for
    /// unsegmented tiers the newest stored block, for segmented ones the concatenated
    /// segments, whose keys are `segment_keys`.
    pub fn restore(
        res: Resolution,
        mut buckets: Vec<RollupBucket>,
        segment_keys: Vec<i64>,
    ) -> Self {
        let open = buckets.pop();
        BucketState {
            res,
            block: Encoder::from_buckets(res, &buckets),
            open,
            closed: Vec::new(),
            seg: open_tree(res).map(|_| Segments::from_closed(&buckets, segment_keys)),
        }
    }

    fn width(&self) -> i64 {
        self.res.bucket_ms()
    }

    pub fn add(&mut self, s: Sample, prev: Option<Sample>, kind: MetricKind) {
        let start = self.res.bucket_of(s.ts_ms);
        if let Some(b) = &mut self.open {
            if b.start_ms == start {
                fold(b, s, kind);
                return;
            }
        }
        if let Some(b) = self.open.take() {
            self.block.append(&b);
            if let Some(seg) = &mut self.seg {
                seg.push_closed(&b);
            }
            let span = block_buckets(self.res) * self.width();
            if start.saturating_sub(self.block.first_start()) >= span {
                self.closed
                    .push((self.block.first_start(), self.block.bytes()));
                self.block = Encoder::new(self.res);
                if let Some(seg) = &mut self.seg {
                    seg.cut();
                }
            }
        }
        self.open = Some(open_bucket(start, s, prev, kind));
    }

    /// Key (first bucket start) and bytes of the current block, open bucket included.
    pub fn current(&self) -> Option<(i64, Vec<u8>)> {
        let first = if self.block.is_empty() {
            self.open.as_ref()?.start_ms
        } else {
            self.block.first_start()
        };
        Some((first, self.block.bytes_with(self.open.as_ref())))
    }

    /// Every block held here: the unflushed closed ones and the current one.
    pub fn blocks(&self) -> Vec<(i64, Vec<u8>)> {
        let mut out = self.closed.clone();
        out.extend(self.current());
        out
    }

    /// The current block's segments a flush writes (segmented tiers; empty otherwise).
    pub fn unflushed_segments(&self) -> Vec<(i64, Vec<u8>)> {
        match &self.seg {
            None => Vec::new(),
            Some(seg) => {
                let mut out = seg.pending.clone();
                out.extend(seg.current(self.open.as_ref()));
                out
            }
        }
    }

    /// Adds what changed since the last flush to `batch`, `id`'s entries: cut blocks whole;
    /// the current block whole (unsegmented) or its changed segments (segmented), after
    /// deleting the segments of the blocks cut.
    pub fn flush_into(&self, id: u64, batch: &mut WriteBatch) {
        let tree = tier_tree(self.res);
        match (&self.seg, open_tree(self.res)) {
            (Some(seg), Some(otree)) => {
                // Deletes first: a new block's first segment may share an hour (a key) with
                // the last segment of the block cut before it.
                for k in &seg.stale {
                    batch.delete(otree, id_time_key(id, *k));
                }
                for (first, bytes) in &self.closed {
                    batch.put(tree, id_time_key(id, *first), bytes.clone());
                }
                for (k, bytes) in self.unflushed_segments() {
                    batch.put(otree, id_time_key(id, k), bytes);
                }
            }
            _ => {
                for (first, bytes) in self.blocks() {
                    batch.put(tree, id_time_key(id, first), bytes);
                }
            }
        }
    }

    /// After the batch of [`BucketState::flush_into`] is durable.
    pub fn flushed(&mut self) {
        let written: Vec<i64> = self
            .unflushed_segments()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        if let Some(seg) = &mut self.seg {
            for k in written {
                if !seg.on_disk.contains(&k) {
                    seg.on_disk.push(k);
                }
            }
            seg.pending.clear();
            seg.stale.clear();
        }
        self.closed.clear();
    }

    pub fn last(&self) -> Option<Sample> {
        self.open.as_ref().map(|b| b.last)
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_none() && self.closed.is_empty()
    }

    /// Drops buckets that end at or before `cutoff`. Segment keys on disk stay as they are:
    /// retention rewrites the stored segments under the same keys (see `retention.rs`).
    pub fn expire(&mut self, cutoff: i64) -> Result<(), TsdbError> {
        let w = self.width();
        let res = self.res;
        let keep = |b: &RollupBucket| b.start_ms.saturating_add(w) > cutoff;
        let mut closed = Vec::new();
        for (_, bytes) in std::mem::take(&mut self.closed) {
            let kept: Vec<RollupBucket> = decode_tier_block(res, &bytes)?
                .into_iter()
                .filter(keep)
                .collect();
            if let Some(first) = kept.first() {
                closed.push((first.start_ms, Encoder::from_buckets(res, &kept).bytes()));
            }
        }
        self.closed = closed;
        if !self.block.is_empty() {
            let kept: Vec<RollupBucket> = decode_tier_block(res, &self.block.bytes())?
                .into_iter()
                .filter(keep)
                .collect();
            self.block = Encoder::from_buckets(res, &kept);
            if let Some(seg) = &mut self.seg {
                let mut rebuilt = Segments::from_closed(&kept, std::mem::take(&mut seg.on_disk));
                rebuilt.stale = std::mem::take(&mut seg.stale);
                // Unflushed complete segments: those of the kept buckets before `cur`.
                let cur_key =
                    (!rebuilt.cur.is_empty()).then(|| segment_key(rebuilt.cur.first_start()));
                let mut pending: Vec<(i64, ColumnEncoder)> = Vec::new();
                let unflushed: Vec<i64> = seg.pending.iter().map(|(k, _)| *k).collect();
                for b in kept.iter().filter(|b| {
                    let k = segment_key(b.start_ms);
                    unflushed.contains(&k) && Some(k) != cur_key
                }) {
                    match pending.last_mut() {
                        Some((k, e)) if *k == segment_key(b.start_ms) => e.append(b),
                        _ => pending.push((
                            segment_key(b.start_ms),
                            ColumnEncoder::from_buckets(std::slice::from_ref(b)),
                        )),
                    }
                }
                rebuilt.pending = pending.into_iter().map(|(k, e)| (k, e.bytes())).collect();
                *seg = rebuilt;
            }
        }
        if self.open.as_ref().is_some_and(|b| !keep(b)) {
            self.open = None;
        }
        Ok(())
    }

    pub fn bucket_count(&self) -> usize {
        self.block.count() as usize + usize::from(self.open.is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::tsdb::kv::{get_i64, Op};
    use crate::tsdb::rollup::rollup;

    type Map = BTreeMap<(Tree, i64), Vec<u8>>;

    /// Applies a batch to an in-memory kv of one series; returns the bytes it put.
    fn apply(map: &mut Map, batch: WriteBatch) -> usize {
        let mut put = 0;
        for op in batch.ops {
            match op {
                Op::Put(t, k, v) => {
                    put += v.len();
                    map.insert((t, get_i64(&k, 8).unwrap_or(i64::MIN)), v);
                }
                Op::Delete(t, k) => {
                    map.remove(&(t, get_i64(&k, 8).unwrap_or(i64::MIN)));
                }
            }
        }
        put
    }

    fn tree_buckets(map: &Map, tree: Tree) -> Vec<RollupBucket> {
        map.iter()
            .filter(|((t, _), _)| *t == tree)
            .flat_map(|(_, v)| decode_tier_block(Resolution::FiveMinute, v).unwrap_or_default())
            .collect()
    }

    /// The head restored from the kv, as `store.rs` does it.
    fn restore(map: &Map) -> BucketState {
        let keys: Vec<i64> = map
            .keys()
            .filter(|(t, _)| *t == Tree::FiveMinuteOpen)
            .map(|(_, k)| *k)
            .collect();
        BucketState::restore(
            Resolution::FiveMinute,
            tree_buckets(map, Tree::FiveMinuteOpen),
            keys,
        )
    }

    #[test]
    fn five_minute_flushes_write_segments_and_restore_exactly() {
        // Four days at 1 min, with a gap of 3 h (segments skipped) on the second day.
        let samples: Vec<Sample> = (0..4 * 1440i64)
            .filter(|i| !(1800..1980).contains(i))
            .map(|i| Sample {
                ts_ms: 1_700_000_000_000 + i * 60_000,
                value: (i * 7 % 13) as f64,
            })
            .collect();
        for flush_every in [1usize, 7, 60, 360] {
            let mut map = Map::new();
            let mut whole = BucketState::new(Resolution::FiveMinute);
            let mut head = BucketState::new(Resolution::FiveMinute);
            let (mut prev, mut max_put) = (None, 0usize);
            // Bytes put by the segmented flushes, and by flushes writing the open day whole.
            let (mut put_total, mut whole_day_total) = (0usize, 0usize);
            for (i, s) in samples.iter().enumerate() {
                whole.add(*s, prev, MetricKind::Gauge);
                head.add(*s, prev, MetricKind::Gauge);
                prev = Some(*s);
                if (i + 1) % flush_every != 0 {
                    continue;
                }
                let mut batch = WriteBatch::default();
                let cut = !head.closed.is_empty();
                head.flush_into(1, &mut batch);
                let put = apply(&mut map, batch);
                put_total += put;
                whole_day_total += head.blocks().iter().map(|(_, b)| b.len()).sum::<usize>();
                if !cut {
                    max_put = max_put.max(put);
                }
                head.flushed();
                whole.flushed();
                // What is stored is every bucket so far, once: cut blocks whole, the open
                // block as segments (of that block only).
                let mut stored = tree_buckets(&map, Tree::FiveMinute);
                stored.extend(tree_buckets(&map, Tree::FiveMinuteOpen));
                let expect = rollup(
                    &samples[..=i],
                    MetricKind::Gauge,
                    Resolution::FiveMinute,
                    None,
                );
                assert_eq!(stored, expect, "flush every {flush_every}, at {i}");
                let open = map
                    .keys()
                    .filter(|(t, _)| *t == Tree::FiveMinuteOpen)
                    .count();
                assert!(open <= 25, "{open} segments");
                // A reopened store continues exactly where this one is.
                if i % (3 * flush_every + 11) == 0 {
                    head = restore(&map);
                    assert_eq!(head, whole, "flush every {flush_every}, restored at {i}");
                }
            }
            // Between cuts a flush writes the changed segments, not the open day: at most
            // the hours flushed since the last flush, plus the one open.
            if flush_every == 1 {
                // A flush a minute (production's `flush_interval_secs`): the open day whole
                // is on average half a day rewritten each time; a segment is at most an hour
                // (measured: ~11× fewer bytes, a segment carries ~35 B of column headers).
                assert!(
                    put_total * 8 < whole_day_total,
                    "{put_total} bytes segmented vs {whole_day_total} whole-day"
                );
            }
            let hours = flush_every.div_ceil(60) + 1;
            assert!(
                max_put <= hours * 400,
                "flush every {flush_every}: {max_put} bytes in one flush"
            );
        }
    }

    #[test]
    fn expire_keeps_segments_and_head_in_step() -> Result<(), TsdbError> {
        let mut head = BucketState::new(Resolution::FiveMinute);
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % SEGMENT_MS;
        for i in 0..200i64 {
            let s = Sample {
                ts_ms: t0 + i * 60_000,
                value: i as f64,
            };
            head.add(s, None, MetricKind::Gauge);
        }
        let mut map = Map::new();
        let mut batch = WriteBatch::default();
        head.flush_into(1, &mut batch);
        apply(&mut map, batch);
        head.flushed();
        // Retention at 90 min in: as `retention.rs` does it on the kv, and on the head.
        let cutoff = t0 + 90 * 60_000;
        let keep = |b: &RollupBucket| b.start_ms + 300_000 > cutoff;
        for ((t, k), v) in map.clone() {
            let kept: Vec<_> = decode_tier_block(Resolution::FiveMinute, &v)?
                .into_iter()
                .filter(keep)
                .collect();
            if kept.is_empty() {
                map.remove(&(t, k));
            } else {
                map.insert((t, k), encode_tier_block(Resolution::FiveMinute, &kept));
            }
        }
        head.expire(cutoff)?;
        assert_eq!(restore(&map).current(), head.current());
        // And the next flushes stay consistent with the kv.
        for i in 200..400i64 {
            let s = Sample {
                ts_ms: t0 + i * 60_000,
                value: i as f64,
            };
            head.add(s, None, MetricKind::Gauge);
        }
        let mut batch = WriteBatch::default();
        head.flush_into(1, &mut batch);
        apply(&mut map, batch);
        head.flushed();
        let restored = restore(&map);
        assert_eq!(restored.current(), head.current());
        // Nothing expired came back; nothing kept was lost.
        let first = tree_buckets(&map, Tree::FiveMinuteOpen)
            .first()
            .map(|b| b.start_ms);
        assert_eq!(first, Some(cutoff));
        Ok(())
    }
}
