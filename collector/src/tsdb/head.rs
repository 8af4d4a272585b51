//! The in-memory head: per series the open Gorilla chunk, the open 1-minute, 5-minute and
//! 1-hour rollup blocks (closed buckets encoded, the newest bucket open), the newest sample (out-of-order
//! checks) and the previous non-stale sample (counter steps); per distribution family the
//! open histograms. Closed chunks and blocks wait here until the next flush.
//!
//! Flush writes the open chunk and blocks too, under the keys they keep when they close, so
//! a reopened store restores exactly this state from the newest entries (see `restore`) and
//! WAL replay continues as if the store had never closed: the encodings are deterministic.

use hdrhistogram::Histogram;

use super::block::{decode_block, encode_histogram, BlockEncoder};
use super::colblock::{decode_column_block, ColumnEncoder};
use super::gorilla::{decode_chunk, ChunkEncoder};
use super::kv::{id_time_key, Tree, WriteBatch};
use super::rollup::{bucket_start, fold, merge, new_histogram, open_bucket, record};
use super::{Distribution, MetricKind, Resolution, RollupBucket, Sample, TsdbError};

/// A chunk is cut at this many samples (Prometheus's 120) ...
pub const CHUNK_MAX_SAMPLES: u32 = 120;
/// ... or when a sample is this far after the chunk's first, so chunks span less than this
/// (reads look this far back for chunks overlapping their range).
pub const CHUNK_MAX_SPAN_MS: i64 = 2 * 3_600_000;

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

/// The kv tree of a rollup tier.
pub fn tier_tree(res: Resolution) -> Tree {
    match res {
        Resolution::Hour => Tree::Hour,
        Resolution::FiveMinute => Tree::FiveMinute,
        _ => Tree::Minute,
    }
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

/// How far before a read's start a block overlapping it may begin.
pub fn block_lookback_ms(res: Resolution) -> i64 {
    (block_buckets(res) + 1) * res.bucket_ms()
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
}

impl BucketState {
    pub fn new(res: Resolution) -> Self {
        BucketState {
            res,
            block: Encoder::new(res),
            open: None,
            closed: Vec::new(),
        }
    }

    /// Continues from the buckets of the newest stored block (the last one open).
    pub fn restore(res: Resolution, mut buckets: Vec<RollupBucket>) -> Self {
        let open = buckets.pop();
        BucketState {
            res,
            block: Encoder::from_buckets(res, &buckets),
            open,
            closed: Vec::new(),
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
            let span = block_buckets(self.res) * self.width();
            if start.saturating_sub(self.block.first_start()) >= span {
                self.closed
                    .push((self.block.first_start(), self.block.bytes()));
                self.block = Encoder::new(self.res);
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

    pub fn last(&self) -> Option<Sample> {
        self.open.as_ref().map(|b| b.last)
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_none() && self.closed.is_empty()
    }

    /// Drops buckets that end at or before `cutoff`.
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

/// Filters a chunk to samples at or after `cutoff`; `None` when none are left.
pub fn chunk_from(samples: Vec<Sample>, cutoff: i64) -> Option<ChunkEncoder> {
    let kept: Vec<Sample> = samples.into_iter().filter(|s| s.ts_ms >= cutoff).collect();
    (!kept.is_empty()).then(|| ChunkEncoder::from_samples(&kept))
}

/// The head of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadSeries {
    pub kind: MetricKind,
    pub chunk: ChunkEncoder,
    /// Cut chunks not yet flushed: (first timestamp, bytes).
    pub closed_chunks: Vec<(i64, Vec<u8>)>,
    /// The key the open chunk was last flushed under (to count chunks on disk).
    pub chunk_in_kv: Option<i64>,
    pub minute: BucketState,
    pub five: BucketState,
    pub hour: BucketState,
    /// The newest sample, stale markers included.
    pub newest: Option<Sample>,
    /// The newest non-stale sample (a counter's next step starts from it).
    pub prev: Option<Sample>,
    /// The earliest time with data at any resolution.
    pub min_ts: Option<i64>,
    /// Changed since the last flush.
    pub dirty: bool,
}

impl HeadSeries {
    pub fn new(kind: MetricKind) -> Self {
        HeadSeries {
            kind,
            chunk: ChunkEncoder::new(),
            closed_chunks: Vec::new(),
            chunk_in_kv: None,
            minute: BucketState::new(Resolution::Minute),
            five: BucketState::new(Resolution::FiveMinute),
            hour: BucketState::new(Resolution::Hour),
            newest: None,
            prev: None,
            min_ts: None,
            dirty: false,
        }
    }

    /// The head as it was when the newest stored chunk and blocks were flushed.
    pub fn restore(
        kind: MetricKind,
        chunk: Option<Vec<Sample>>,
        tiers: [Vec<RollupBucket>; 3],
        min_ts: Option<i64>,
    ) -> Self {
        let mut h = HeadSeries::new(kind);
        h.min_ts = min_ts;
        let [minute, five, hour] = tiers;
        h.minute = BucketState::restore(Resolution::Minute, minute);
        h.five = BucketState::restore(Resolution::FiveMinute, five);
        h.hour = BucketState::restore(Resolution::Hour, hour);
        let mut candidates = vec![h.minute.last(), h.five.last(), h.hour.last()];
        if let Some(samples) = chunk.filter(|s| !s.is_empty()) {
            h.newest = samples.last().copied();
            candidates.push(samples.iter().rev().find(|s| !s.is_stale_marker()).copied());
            h.chunk = ChunkEncoder::from_samples(&samples);
            h.chunk_in_kv = Some(h.chunk.first_ts());
        }
        h.prev = candidates.into_iter().flatten().max_by_key(|s| s.ts_ms);
        if h.newest
            .is_none_or(|n| h.prev.is_some_and(|p| p.ts_ms > n.ts_ms))
        {
            h.newest = h.prev;
        }
        h
    }

    /// Appends a sample newer than `newest` (the caller checks).
    pub fn append(&mut self, s: Sample) {
        if !self.chunk.is_empty()
            && (self.chunk.count() >= CHUNK_MAX_SAMPLES
                || s.ts_ms.saturating_sub(self.chunk.first_ts()) >= CHUNK_MAX_SPAN_MS)
        {
            self.closed_chunks
                .push((self.chunk.first_ts(), self.chunk.bytes()));
            self.chunk = ChunkEncoder::new();
        }
        self.chunk.append(s);
        self.newest = Some(s);
        self.min_ts = Some(self.min_ts.map_or(s.ts_ms, |m| m.min(s.ts_ms)));
        if !s.is_stale_marker() {
            self.minute.add(s, self.prev, self.kind);
            self.five.add(s, self.prev, self.kind);
            self.hour.add(s, self.prev, self.kind);
            self.prev = Some(s);
        }
        self.dirty = true;
    }

    /// Every chunk held here: (first timestamp, bytes).
    pub fn chunks(&self) -> Vec<(i64, Vec<u8>)> {
        let mut out = self.closed_chunks.clone();
        if !self.chunk.is_empty() {
            out.push((self.chunk.first_ts(), self.chunk.bytes()));
        }
        out
    }

    pub fn buckets(&self, res: Resolution) -> &BucketState {
        match res {
            Resolution::Hour => &self.hour,
            Resolution::FiveMinute => &self.five,
            _ => &self.minute,
        }
    }

    pub fn head_samples(&self) -> usize {
        self.chunk.count() as usize
    }

    /// Adds the unflushed chunks and blocks and the open ones to `batch`; returns how many
    /// chunk keys are new on disk.
    pub fn flush_into(&self, id: u64, batch: &mut WriteBatch) -> u64 {
        let mut new_chunks = 0;
        for (first, bytes) in self.chunks() {
            new_chunks += u64::from(self.chunk_in_kv != Some(first));
            batch.put(Tree::Chunks, id_time_key(id, first), bytes);
        }
        for (tree, state) in [
            (Tree::Minute, &self.minute),
            (Tree::FiveMinute, &self.five),
            (Tree::Hour, &self.hour),
        ] {
            for (first, bytes) in state.blocks() {
                batch.put(tree, id_time_key(id, first), bytes);
            }
        }
        new_chunks
    }

    /// After the batch of [`HeadSeries::flush_into`] is durable.
    pub fn flushed(&mut self) {
        self.closed_chunks.clear();
        self.minute.closed.clear();
        self.five.closed.clear();
        self.hour.closed.clear();
        self.chunk_in_kv = (!self.chunk.is_empty()).then(|| self.chunk.first_ts());
        self.dirty = false;
    }

    /// Drops data past retention (raw samples before `raw_cut`, buckets ending at or before
    /// their tier's cutoff: `tier_cuts` in [`Resolution::TIERS`] order).
    pub fn expire(&mut self, raw_cut: i64, tier_cuts: [i64; 3]) -> Result<(), TsdbError> {
        let [minute_cut, five_cut, hour_cut] = tier_cuts;
        let mut closed = Vec::new();
        for (first, bytes) in std::mem::take(&mut self.closed_chunks) {
            if first >= raw_cut {
                closed.push((first, bytes));
            } else if let Some(c) = chunk_from(decode_chunk(&bytes)?, raw_cut) {
                closed.push((c.first_ts(), c.bytes()));
            }
        }
        self.closed_chunks = closed;
        if !self.chunk.is_empty() && self.chunk.first_ts() < raw_cut {
            self.chunk =
                chunk_from(decode_chunk(&self.chunk.bytes())?, raw_cut).unwrap_or_default();
        }
        self.minute.expire(minute_cut)?;
        self.five.expire(five_cut)?;
        self.hour.expire(hour_cut)?;
        Ok(())
    }

    /// No data left in the head.
    pub fn is_empty(&self) -> bool {
        self.chunk.is_empty()
            && self.closed_chunks.is_empty()
            && self.minute.is_empty()
            && self.five.is_empty()
            && self.hour.is_empty()
    }
}

/// Distribution trees by resolution.
pub const DIST_TREES: [(Resolution, Tree); 3] = [
    (Resolution::Raw, Tree::DistRaw),
    (Resolution::Minute, Tree::DistMinute),
    (Resolution::Hour, Tree::DistHour),
];

/// The bucket key of a distribution at `ts_ms`: its time for `Raw`.
pub fn dist_key(res: Resolution, ts_ms: i64) -> i64 {
    match res {
        Resolution::Raw => ts_ms,
        r => bucket_start(ts_ms, r.bucket_ms()),
    }
}

/// Whether a distribution entry at `key` is past `cutoff` (raw by time, buckets by end).
pub fn dist_expired(res: Resolution, key: i64, cutoff: i64) -> bool {
    key.saturating_add(res.bucket_ms().max(1)) <= cutoff
}

/// The head of one distribution family: per resolution the open histogram and the closed,
/// unflushed ones.
#[derive(Clone, Debug, Default)]
pub struct HeadFamily {
    pub newest_ts: Option<i64>,
    pub min_ts: Option<i64>,
    /// Per [`DIST_TREES`] index: the open (key, histogram).
    pub open: [Option<(i64, Histogram<u64>)>; 3],
    /// (DIST_TREES index, key, bytes).
    pub closed: Vec<(usize, i64, Vec<u8>)>,
    pub dirty: bool,
}

impl HeadFamily {
    pub fn restore(open: [Option<(i64, Histogram<u64>)>; 3], min_ts: Option<i64>) -> Self {
        let newest_ts = open[0].as_ref().map(|(k, _)| *k);
        HeadFamily {
            newest_ts,
            min_ts,
            open,
            closed: Vec::new(),
            dirty: false,
        }
    }

    /// Merges a distribution not older than `newest_ts` (the caller checks).
    pub fn add(&mut self, d: &Distribution) -> Result<(), TsdbError> {
        let mut h = new_histogram()?;
        record(&mut h, &d.observations)?;
        for (i, (res, _)) in DIST_TREES.iter().enumerate() {
            let key = dist_key(*res, d.ts_ms);
            match &mut self.open[i] {
                Some((k, open)) if *k == key => merge(open, &h)?,
                slot => {
                    if let Some((k, old)) = slot.take() {
                        self.closed.push((i, k, encode_histogram(&old)?));
                    }
                    *slot = Some((key, h.clone()));
                }
            }
        }
        self.newest_ts = Some(d.ts_ms);
        self.min_ts = Some(self.min_ts.map_or(d.ts_ms, |m| m.min(d.ts_ms)));
        self.dirty = true;
        Ok(())
    }

    pub fn flush_into(&self, id: u64, batch: &mut WriteBatch) -> Result<(), TsdbError> {
        for (i, key, bytes) in &self.closed {
            batch.put(DIST_TREES[*i].1, id_time_key(id, *key), bytes.clone());
        }
        for (i, open) in self.open.iter().enumerate() {
            if let Some((key, h)) = open {
                batch.put(DIST_TREES[i].1, id_time_key(id, *key), encode_histogram(h)?);
            }
        }
        Ok(())
    }

    pub fn flushed(&mut self) {
        self.closed.clear();
        self.dirty = false;
    }

    /// Drops histograms past their retention (`cutoffs` per [`DIST_TREES`] index).
    pub fn expire(&mut self, cutoffs: [i64; 3]) {
        self.closed
            .retain(|(i, k, _)| !dist_expired(DIST_TREES[*i].0, *k, cutoffs[*i]));
        for (i, slot) in self.open.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|(k, _)| dist_expired(DIST_TREES[i].0, *k, cutoffs[i]))
            {
                *slot = None;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::rollup::rollup;

    fn s(ts_ms: i64, value: f64) -> Sample {
        Sample { ts_ms, value }
    }

    fn all_buckets(state: &BucketState) -> Vec<RollupBucket> {
        state
            .blocks()
            .iter()
            .flat_map(|(_, b)| decode_tier_block(state.res, b).unwrap_or_default())
            .collect()
    }

    #[test]
    fn head_cuts_chunks_and_blocks_and_matches_rollup() -> Result<(), TsdbError> {
        let mut h = HeadSeries::new(MetricKind::Counter);
        let mut samples = Vec::new();
        for i in 0..2000i64 {
            // Every 10 s, with a reset every 700 samples and a gap after 1000.
            let ts = i * 10_000 + if i >= 1000 { 7_200_000 } else { 0 };
            let sample = s(ts, (i % 700) as f64);
            samples.push(sample);
            h.append(sample);
        }
        let chunks = h.chunks();
        assert!(chunks.iter().all(|(first, b)| {
            let d = decode_chunk(b).unwrap_or_default();
            d.len() <= 120
                && d[0].ts_ms == *first
                && d[d.len() - 1].ts_ms - first < CHUNK_MAX_SPAN_MS
        }));
        let raw: Vec<Sample> = chunks
            .iter()
            .flat_map(|(_, b)| decode_chunk(b).unwrap_or_default())
            .collect();
        assert_eq!(raw, samples);
        for res in Resolution::TIERS {
            assert_eq!(
                all_buckets(h.buckets(res)),
                rollup(&samples, MetricKind::Counter, res, None)
            );
        }
        // 0–2 h, 2–2.8 h (then the gap), 4.8–6.8 h closed; 6.8–7.6 h open.
        assert_eq!(h.minute.closed.len(), 3);
        Ok(())
    }

    #[test]
    fn restore_continues_exactly() {
        let samples: Vec<Sample> = (0..500)
            .map(|i| s(i * 15_000, (i * 3 % 101) as f64))
            .collect();
        let mut whole = HeadSeries::new(MetricKind::Unknown);
        let mut before = HeadSeries::new(MetricKind::Unknown);
        for x in &samples[..321] {
            whole.append(*x);
            before.append(*x);
        }
        let newest_block = |st: &BucketState| {
            st.current()
                .map(|(_, b)| decode_tier_block(st.res, &b).unwrap_or_default())
                .unwrap_or_default()
        };
        let mut after = HeadSeries::restore(
            MetricKind::Unknown,
            Some(decode_chunk(&before.chunk.bytes()).unwrap_or_default()),
            [
                newest_block(&before.minute),
                newest_block(&before.five),
                newest_block(&before.hour),
            ],
            before.min_ts,
        );
        for x in &samples[321..] {
            whole.append(*x);
            after.append(*x);
        }
        assert_eq!(whole.chunk, after.chunk);
        assert_eq!(whole.minute.current(), after.minute.current());
        assert_eq!(whole.five.current(), after.five.current());
        assert_eq!(whole.hour.current(), after.hour.current());
        assert_eq!((whole.newest, whole.prev), (after.newest, after.prev));
    }
}
