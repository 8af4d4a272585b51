//! The in-memory head: per series the open Gorilla chunk, the open 1-minute, 5-minute and
//! 1-hour rollup blocks (closed buckets encoded, the newest bucket open), the newest sample (out-of-order
//! checks) and the previous non-stale sample (counter steps); per distribution family the
//! open histograms. Closed chunks and blocks wait here until the next flush.
//!
//! Flush writes the open chunk and blocks too (the 5-minute tier's open day as hour
//! segments, see `tier.rs`), under keys that do not change until they close, so a reopened
//! store restores exactly this state from the newest entries (see `restore`) and WAL replay
//! continues as if the store had never closed: the encodings are deterministic.

use hdrhistogram::Histogram;

use super::block::encode_histogram;
use super::decimal::{encode_closed_chunk, encode_closed_samples};
use super::gorilla::{decode_chunk, ChunkEncoder};
use super::kv::{id_time_key, Tree, WriteBatch};
use super::rollup::{bucket_start, merge, new_histogram, record};
use super::{Distribution, MetricKind, Resolution, RollupBucket, Sample, TsdbError};

pub use super::tier::{
    block_buckets, block_lookback_ms, decode_tier_block, encode_tier_block, tier_tree, BucketState,
};

/// A chunk is cut at this many samples (Prometheus's 120) ...
pub const CHUNK_MAX_SAMPLES: u32 = 120;
/// ... or when a sample is this far after the chunk's first, so chunks span less than this
/// (reads look this far back for chunks overlapping their range).
pub const CHUNK_MAX_SPAN_MS: i64 = 2 * 3_600_000;

/// Filters a chunk to samples at or after `cutoff`; `None` when none are left. For the
/// open chunk (appended to); a closed one is written by [`closed_chunk_from`].
pub fn chunk_from(samples: Vec<Sample>, cutoff: i64) -> Option<ChunkEncoder> {
    let kept: Vec<Sample> = samples.into_iter().filter(|s| s.ts_ms >= cutoff).collect();
    (!kept.is_empty()).then(|| ChunkEncoder::from_samples(&kept))
}

/// A closed chunk filtered to samples at or after `cutoff`, as (first timestamp, bytes in
/// the closed chunks' encoding); `None` when none are left.
pub fn closed_chunk_from(samples: Vec<Sample>, cutoff: i64) -> Option<(i64, Vec<u8>)> {
    let kept: Vec<Sample> = samples.into_iter().filter(|s| s.ts_ms >= cutoff).collect();
    let first = kept.first()?.ts_ms;
    Some((first, encode_closed_samples(&kept)))
}

/// The head of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadSeries {
    pub kind: MetricKind,
    /// The open chunk (always Gorilla XOR: it is appended to sample by sample).
    pub chunk: ChunkEncoder,
    /// Cut chunks not yet flushed: (first timestamp, bytes), in the dense decimal encoding
    /// where that is exact and smaller (see `decimal.rs`).
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
        tiers: [(Vec<RollupBucket>, Vec<i64>); 3],
        min_ts: Option<i64>,
    ) -> Self {
        let mut h = HeadSeries::new(kind);
        h.min_ts = min_ts;
        let [minute, five, hour] = tiers;
        h.minute = BucketState::restore(Resolution::Minute, minute.0, minute.1);
        h.five = BucketState::restore(Resolution::FiveMinute, five.0, five.1);
        h.hour = BucketState::restore(Resolution::Hour, hour.0, hour.1);
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
                .push((self.chunk.first_ts(), encode_closed_chunk(&self.chunk)));
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

    /// Adds the open chunk and the unflushed and open blocks to `batch`, and the closed
    /// chunks to `closed` (series id, first timestamp, bytes: they go to the chunk files,
    /// see `chunkfile.rs`); a closed chunk that was flushed as the open one leaves the kv in
    /// `batch`. Returns how many chunks are new on disk.
    pub fn flush_into(
        &self,
        id: u64,
        batch: &mut WriteBatch,
        closed: &mut Vec<(u64, i64, Vec<u8>)>,
    ) -> u64 {
        let mut new_chunks = 0;
        for (first, bytes) in &self.closed_chunks {
            if self.chunk_in_kv == Some(*first) {
                batch.delete(Tree::Chunks, id_time_key(id, *first));
            } else {
                new_chunks += 1;
            }
            closed.push((id, *first, bytes.clone()));
        }
        if !self.chunk.is_empty() {
            let first = self.chunk.first_ts();
            new_chunks += u64::from(self.chunk_in_kv != Some(first));
            batch.put(Tree::Chunks, id_time_key(id, first), self.chunk.bytes());
        }
        for state in [&self.minute, &self.five, &self.hour] {
            state.flush_into(id, batch);
        }
        new_chunks
    }

    /// After the batch of [`HeadSeries::flush_into`] is durable.
    pub fn flushed(&mut self) {
        self.closed_chunks.clear();
        self.minute.flushed();
        self.five.flushed();
        self.hour.flushed();
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
            } else if let Some(c) = closed_chunk_from(decode_chunk(&bytes)?, raw_cut) {
                closed.push(c);
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
    fn closed_chunks_are_dense_and_the_open_one_xor() -> Result<(), TsdbError> {
        use crate::tsdb::decimal::DENSE_PREFIX;
        let mut h = HeadSeries::new(MetricKind::Gauge);
        let samples: Vec<Sample> = (0..300i64)
            .map(|i| s(i * 15_000, (i * 7 % 1000) as f64 / 1000.0))
            .collect();
        for x in &samples {
            h.append(*x);
        }
        assert_eq!(h.closed_chunks.len(), 2);
        for (_, b) in &h.closed_chunks {
            assert!(b.starts_with(&DENSE_PREFIX));
        }
        assert!(!h.chunk.bytes().starts_with(&DENSE_PREFIX));
        // Re-cutting the same samples (WAL replay) gives the same bytes.
        let mut again = HeadSeries::new(MetricKind::Gauge);
        samples.iter().for_each(|x| again.append(*x));
        assert_eq!(again.chunks(), h.chunks());
        // Retention rewrites the straddling closed chunk dense, the open one XOR.
        h.expire(100 * 15_000, [i64::MIN; 3])?;
        assert_eq!(h.closed_chunks.len(), 2);
        assert_eq!(h.closed_chunks[0].0, 100 * 15_000);
        assert!(h.closed_chunks[0].1.starts_with(&DENSE_PREFIX));
        h.expire(250 * 15_000, [i64::MIN; 3])?;
        assert!(h.closed_chunks.is_empty());
        assert_eq!(h.chunk.first_ts(), 250 * 15_000);
        let raw: Vec<Sample> = h
            .chunks()
            .iter()
            .flat_map(|(_, b)| decode_chunk(b).unwrap_or_default())
            .collect();
        assert_eq!(raw, samples[250..]);
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
        // What the kv holds after a flush: the newest block of the minute and hour tiers,
        // the open block's hour segments of the 5-minute tier.
        let newest_block = |st: &BucketState| {
            let b = st
                .current()
                .map(|(_, b)| decode_tier_block(st.res, &b).unwrap_or_default())
                .unwrap_or_default();
            (b, Vec::new())
        };
        // Nothing flushed yet: every segment of the open 5-minute block is unflushed.
        let segments = before.five.unflushed_segments();
        assert!(segments.len() >= 2, "{} segments", segments.len());
        whole.flushed();
        before.flushed();
        let five = (
            segments
                .iter()
                .flat_map(|(_, b)| decode_tier_block(Resolution::FiveMinute, b).unwrap_or_default())
                .collect(),
            segments.iter().map(|(k, _)| *k).collect(),
        );
        let mut after = HeadSeries::restore(
            MetricKind::Unknown,
            Some(decode_chunk(&before.chunk.bytes()).unwrap_or_default()),
            [
                newest_block(&before.minute),
                five,
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
        assert_eq!(whole.five, after.five);
        assert_eq!(whole.hour.current(), after.hour.current());
        assert_eq!((whole.newest, whole.prev), (after.newest, after.prev));
    }
}
