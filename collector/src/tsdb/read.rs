//! Reads of [`TsdbStore`]: the chunk files' and the kv's chunks and blocks merged with the
//! head's (the head's version of an entry wins: it is the same entry with more data), under
//! the state's read lock so that a flush or retention never shows a half-moved entry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rayon::prelude::*;

use hdrhistogram::Histogram;

use super::block::{decode_block, decode_histogram};
use super::cached_block::CachedBlock;
use super::colblock::decode_columns;
use super::gorilla::decode_chunk;
use super::head::{
    block_lookback_ms, decode_tier_block, dist_key, tier_tree, CHUNK_MAX_SPAN_MS, DIST_TREES,
};
use super::index::compile;
use super::kv::{get_i64, id_time_key, Tree};
use super::store::{State, TsdbStore};
use super::{
    ColumnSet, DistributionSeries, LabelMatcher, Labels, MetricKind, MetricStore, Points,
    Resolution, RollupBucket, RollupColumns, RollupVisitor, Sample, SelectRequest, SeriesData,
    SortedRollupVisitor, TsdbError,
};

/// The head's 5-minute blocks of `id` (key, bytes) with key in `[from, to]`, in key order.
fn head_five_minute_blocks(st: &State, id: u64, from: i64, to: i64) -> Vec<(i64, Vec<u8>)> {
    st.heads
        .get(&id)
        .map(|h| {
            h.five
                .blocks()
                .into_iter()
                .filter(|(k, _)| (from..=to).contains(k))
                .collect()
        })
        .unwrap_or_default()
}

/// Keys of `id` with time in `[from, to]`.
fn key_range(id: u64, from: i64, to: i64) -> (Vec<u8>, Vec<u8>) {
    let end = match to.checked_add(1) {
        Some(t) => id_time_key(id, t),
        None => id_time_key(id.saturating_add(1), i64::MIN),
    };
    (id_time_key(id, from), end)
}

impl TsdbStore {
    /// Stored entries of `id` in `tree` with key time in `[from, to]`, by key time.
    fn stored(
        &self,
        tree: Tree,
        id: u64,
        from: i64,
        to: i64,
    ) -> Result<BTreeMap<i64, Vec<u8>>, TsdbError> {
        let (s, e) = key_range(id, from, to);
        let mut out = BTreeMap::new();
        for entry in self.kv.range(tree, &s, &e) {
            let (k, v) = entry?;
            out.insert(get_i64(&k, 8)?, v);
        }
        Ok(out)
    }

    pub(crate) fn raw_samples(
        &self,
        st: &State,
        id: u64,
        start: i64,
        end: i64,
    ) -> Result<Vec<Sample>, TsdbError> {
        // Closed chunks in the files are not rewritten by retention: drop what it has cut.
        let start = start.max(st.raw_floor);
        if start > end {
            return Ok(Vec::new());
        }
        let from = start.saturating_sub(CHUNK_MAX_SPAN_MS - 1);
        // Closed chunks from the files, the open one (and, in a store written before the
        // chunk files, closed ones too) from the kv, then the head's, which win.
        let mut chunks: BTreeMap<i64, Vec<u8>> =
            st.files.chunks(id, from, end)?.into_iter().collect();
        chunks.extend(self.stored(Tree::Chunks, id, from, end)?);
        if let Some(h) = st.heads.get(&id) {
            chunks.extend(
                h.chunks()
                    .into_iter()
                    .filter(|(k, _)| (from..=end).contains(k)),
            );
        }
        let mut out: Vec<Sample> = Vec::new();
        for bytes in chunks.values() {
            for s in decode_chunk(bytes)? {
                if s.ts_ms >= start
                    && s.ts_ms <= end
                    && out.last().is_none_or(|l| s.ts_ms > l.ts_ms)
                {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn rollup_buckets(
        &self,
        st: &State,
        id: u64,
        res: Resolution,
        start: i64,
        end: i64,
    ) -> Result<Vec<RollupBucket>, TsdbError> {
        let res = if res == Resolution::Raw {
            Resolution::Minute
        } else {
            res
        };
        let w = res.bucket_ms();
        let blocks = self.tier_blocks(st, id, res, start, end)?;
        let mut out: Vec<RollupBucket> = Vec::new();
        for bytes in blocks.values() {
            for b in decode_tier_block(res, bytes)? {
                let overlaps = b.start_ms <= end && b.start_ms.saturating_add(w) > start;
                if overlaps && out.last().is_none_or(|l| b.start_ms > l.start_ms) {
                    out.push(b);
                }
            }
        }
        Ok(out)
    }

    /// The stored and head blocks of `id` at `res` that may overlap `[start, end]`, by key
    /// (the head's version of a key wins).
    fn tier_blocks(
        &self,
        st: &State,
        id: u64,
        res: Resolution,
        start: i64,
        end: i64,
    ) -> Result<BTreeMap<i64, Vec<u8>>, TsdbError> {
        let from = start.saturating_sub(block_lookback_ms(res));
        let mut blocks = self.stored(tier_tree(res), id, from, end)?;
        if let Some(h) = st.heads.get(&id) {
            blocks.extend(
                h.buckets(res)
                    .blocks()
                    .into_iter()
                    .filter(|(k, _)| (from..=end).contains(k)),
            );
        }
        Ok(blocks)
    }

    /// [`TsdbStore::rollup_buckets`] column by column into `out` (cleared first); `scratch`
    /// is reused between calls. Closed 5-minute blocks come from the decoded-block cache
    /// when it is on (`cache.rs`).
    #[allow(clippy::too_many_arguments)]
    fn rollup_columns(
        &self,
        st: &State,
        id: u64,
        res: Resolution,
        (start, end): (i64, i64),
        cols: ColumnSet,
        out: &mut RollupColumns,
        scratch: &mut RollupColumns,
    ) -> Result<(), TsdbError> {
        out.clear();
        let w = res.bucket_ms();
        // Starts increase within a block and from block to block: keep the rows that
        // overlap the range and follow what is already out.
        let append = |out: &mut RollupColumns, block: &RollupColumns| {
            let after = out.start.last().copied();
            let lo = block.start.partition_point(|s| {
                s.saturating_add(w) <= start || after.is_some_and(|a| *s <= a)
            });
            let hi = block.start.partition_point(|s| *s <= end).max(lo);
            out.extend_cols(block, lo, hi, cols);
        };
        if res == Resolution::FiveMinute && self.cache.enabled() {
            let from = start.saturating_sub(block_lookback_ms(res));
            let head: BTreeMap<i64, Vec<u8>> = head_five_minute_blocks(st, id, from, end)
                .into_iter()
                .collect();
            let keys = self.closed_block_keys(id)?;
            let lo = keys.partition_point(|k| *k < from);
            let hi = keys.partition_point(|k| *k <= end);
            let mut head_iter = head.iter().peekable();
            for &k in keys.get(lo..hi).unwrap_or_default() {
                // Blocks in key order; the head's version of a key wins.
                while let Some((_, bytes)) = head_iter.next_if(|(hk, _)| **hk < k) {
                    scratch.clear();
                    decode_columns(bytes, cols, scratch)?;
                    append(out, scratch);
                }
                if head.contains_key(&k) {
                    continue;
                }
                match self.cached_block(id, k, cols, scratch)? {
                    Some(block) => {
                        let after = out.start.last().copied();
                        let lo = block.partition_start(|s| {
                            s.saturating_add(w) <= start || after.is_some_and(|a| s <= a)
                        });
                        let hi = block.partition_start(|s| s <= end).max(lo);
                        block.append_rows(lo, hi, cols, out);
                    }
                    None => append(out, scratch),
                }
            }
            for (_, bytes) in head_iter {
                scratch.clear();
                decode_columns(bytes, cols, scratch)?;
                append(out, scratch);
            }
            return Ok(());
        }
        if res == Resolution::FiveMinute {
            return self.five_minute_columns(st, id, (start, end), cols, out);
        }
        for bytes in self.tier_blocks(st, id, res, start, end)?.values() {
            scratch.clear();
            for b in decode_block(bytes)? {
                scratch.push(&b, cols);
            }
            append(out, scratch);
        }
        Ok(())
    }

    /// The 5-minute column blocks of `id` overlapping `[start, end]` decoded straight from
    /// the kv's buffers into `out` (no copy of the blocks, no map of them), the head's
    /// version of a key winning as in [`TsdbStore::tier_blocks`].
    fn five_minute_columns(
        &self,
        st: &State,
        id: u64,
        (start, end): (i64, i64),
        cols: ColumnSet,
        out: &mut RollupColumns,
    ) -> Result<(), TsdbError> {
        let res = Resolution::FiveMinute;
        let w = res.bucket_ms();
        let from = start.saturating_sub(block_lookback_ms(res));
        // Decoded at the end of `out`, then the rows outside the range or not after what was
        // there dropped: only at the range's ends.
        let mut add = |bytes: &[u8]| -> Result<(), TsdbError> {
            let base = out.len();
            decode_columns(bytes, cols, out)?;
            let after = base.checked_sub(1).and_then(|i| out.start.get(i).copied());
            let rows = out.start.get(base..).unwrap_or_default();
            let lo = rows.partition_point(|s| {
                s.saturating_add(w) <= start || after.is_some_and(|a| *s <= a)
            });
            let hi = rows.partition_point(|s| *s <= end).max(lo);
            let n = rows.len();
            out.remove_rows(base + hi, base + n);
            out.remove_rows(base, base + lo);
            Ok(())
        };
        let head = head_five_minute_blocks(st, id, from, end);
        let mut head_iter = head.iter().peekable();
        let (s, e) = key_range(id, from, end);
        self.kv.visit_range(tier_tree(res), &s, &e, &mut |k, v| {
            let key = get_i64(k, 8)?;
            while let Some((_, bytes)) = head_iter.next_if(|(hk, _)| *hk < key) {
                add(bytes)?;
            }
            if head_iter.peek().is_some_and(|(hk, _)| *hk == key) {
                return Ok(()); // the head's version comes next
            }
            add(v)
        })?;
        for (_, bytes) in head_iter {
            add(bytes)?;
        }
        Ok(())
    }

    /// Keys of every closed 5-minute block of `id` (cached; read from the kv's keys once).
    fn closed_block_keys(&self, id: u64) -> Result<Arc<Vec<i64>>, TsdbError> {
        if let Some(k) = self.cache.keys(id) {
            return Ok(k);
        }
        let (s, e) = (
            id_time_key(id, i64::MIN),
            id_time_key(id.saturating_add(1), i64::MIN),
        );
        let keys: Vec<i64> = self
            .kv
            .range_keys(Tree::FiveMinute, &s, &e)?
            .iter()
            .map(|k| get_i64(k, 8))
            .collect::<Result<_, _>>()?;
        let keys = Arc::new(keys);
        self.cache.insert_keys(id, keys.clone());
        Ok(keys)
    }

    /// A closed 5-minute block's columns (at least `cols`) from the cache; on a miss the
    /// block is decoded into `scratch` (empty if the block is gone) and cached when the
    /// cache admits it, else `None` (read `scratch`).
    fn cached_block(
        &self,
        id: u64,
        key: i64,
        cols: ColumnSet,
        scratch: &mut RollupColumns,
    ) -> Result<Option<Arc<CachedBlock>>, TsdbError> {
        let want = match self.cache.get(id, key, cols) {
            Ok(c) => return Ok(Some(c)),
            // Decode what the entry had too: a query mix does not thrash one block.
            Err(had) => cols.with(had.unwrap_or_default()),
        };
        scratch.clear();
        if let Some(bytes) = self.kv.get(Tree::FiveMinute, &id_time_key(id, key))? {
            decode_columns(&bytes, want, scratch)?;
        }
        if !self.cache.may_admit(id) {
            return Ok(None);
        }
        let block = Arc::new(CachedBlock::new(scratch.clone(), want));
        self.cache.insert(id, key, block.clone());
        Ok(Some(block))
    }

    fn family_histograms(
        &self,
        st: &State,
        id: u64,
        res: Resolution,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, Histogram<u64>)>, TsdbError> {
        let Some((i, (_, tree))) = DIST_TREES.iter().enumerate().find(|(_, (r, _))| *r == res)
        else {
            return Ok(Vec::new());
        };
        let w = res.bucket_ms();
        let from = dist_key(res, start);
        let mut out: BTreeMap<i64, Histogram<u64>> = BTreeMap::new();
        for (k, bytes) in self.stored(*tree, id, from, end)? {
            out.insert(k, decode_histogram(&bytes)?);
        }
        if let Some(h) = st.fam_heads.get(&id) {
            for (j, k, bytes) in &h.closed {
                if *j == i && (from..=end).contains(k) {
                    out.insert(*k, decode_histogram(bytes)?);
                }
            }
            if let Some((k, hist)) = &h.open[i] {
                if (from..=end).contains(k) {
                    out.insert(*k, hist.clone());
                }
            }
        }
        // Raw entries are points in time; buckets overlap the range when they end after start.
        out.retain(|k, _| *k <= end && k.saturating_add(w.max(1)) > start);
        Ok(out.into_iter().collect())
    }

    /// Series of `index` whose data may overlap the range (by their head's time bounds).
    fn in_range(st: &State, id: u64, start: i64, end: i64) -> bool {
        st.heads.get(&id).is_some_and(|h| {
            h.min_ts.is_some_and(|m| m <= end)
                && h.newest
                    .is_some_and(|n| n.ts_ms >= start.saturating_sub(Resolution::Hour.bucket_ms()))
        })
    }

    /// The series of a columnar rollup read: those matching whose data may overlap the range.
    fn rollup_read_ids(st: &State, req: &SelectRequest) -> Result<Vec<u64>, TsdbError> {
        if req.resolution == Resolution::Raw {
            return Err(TsdbError::Storage(
                "a columnar rollup read needs a rollup resolution".into(),
            ));
        }
        let compiled = compile(&req.matchers, false)?;
        Ok(st
            .series
            .matching(&compiled)
            .into_iter()
            .filter(|id| Self::in_range(st, *id, req.start_ms, req.end_ms))
            .collect())
    }

    /// Matching series (by the index) that have data in the range.
    fn matching_series(
        &self,
        st: &State,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
        allow_all: bool,
    ) -> Result<Vec<(u64, Labels)>, TsdbError> {
        let compiled = compile(matchers, allow_all)?;
        let mut out = Vec::new();
        for id in st.series.matching(&compiled) {
            if !Self::in_range(st, id, start, end) {
                continue;
            }
            // Confirm with the data: any raw sample or bucket in the range.
            let mut has = !self.raw_samples(st, id, start, end)?.is_empty();
            for res in Resolution::TIERS {
                has = has || !self.rollup_buckets(st, id, res, start, end)?.is_empty();
            }
            if has {
                if let Some(e) = st.series.entry(id) {
                    out.push((id, e.labels.clone()));
                }
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}

fn names_of(ids: &[(u64, Labels)]) -> Vec<String> {
    let set: BTreeSet<&str> = ids
        .iter()
        .flat_map(|(_, l)| l.iter().map(|(n, _)| n))
        .collect();
    set.into_iter().map(str::to_string).collect()
}

impl MetricStore for TsdbStore {
    fn select(&self, req: &SelectRequest) -> Result<Vec<SeriesData>, TsdbError> {
        let st = self.state.read();
        let compiled = compile(&req.matchers, false)?;
        let mut out = Vec::new();
        for id in st.series.matching(&compiled) {
            if !Self::in_range(&st, id, req.start_ms, req.end_ms) {
                continue;
            }
            let Some(e) = st.series.entry(id) else {
                continue;
            };
            let points = match req.resolution {
                Resolution::Raw => {
                    let s = self.raw_samples(&st, id, req.start_ms, req.end_ms)?;
                    if s.is_empty() {
                        continue;
                    }
                    Points::Raw(s)
                }
                res => {
                    let b = self.rollup_buckets(&st, id, res, req.start_ms, req.end_ms)?;
                    if b.is_empty() {
                        continue;
                    }
                    Points::Rollup(res, b)
                }
            };
            out.push(SeriesData {
                labels: e.labels.clone(),
                kind: e.kind,
                points,
            });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn visit_rollups(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &RollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        let st = self.state.read();
        let ids = Self::rollup_read_ids(&st, req)?;
        // Series are independent: split them over rayon's pool (decoding dominates). Its
        // threads live on, so their allocator caches do too: threads spawned per query left
        // every query to fault in fresh pages for a month of values per series.
        let failed = AtomicBool::new(false);
        let error: Mutex<Option<TsdbError>> = Mutex::new(None);
        ids.par_iter().for_each_init(
            || (RollupColumns::default(), RollupColumns::default()),
            |(out, scratch), &id| {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let Some(e) = st.series.entry(id) else {
                    return;
                };
                let range = (req.start_ms, req.end_ms);
                match self.rollup_columns(&st, id, req.resolution, range, cols, out, scratch) {
                    Ok(()) if out.is_empty() => {}
                    Ok(()) => visit(&e.labels, e.kind, out),
                    Err(err) => {
                        failed.store(true, Ordering::Relaxed);
                        error.lock().get_or_insert(err);
                    }
                }
            },
        );
        match error.into_inner() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn visit_rollups_sorted(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &mut SortedRollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        let st = self.state.read();
        let mut series: Vec<(&Labels, MetricKind, u64)> = Self::rollup_read_ids(&st, req)?
            .into_iter()
            .filter_map(|id| st.series.entry(id).map(|e| (&e.labels, e.kind, id)))
            .collect();
        series.sort_by(|a, b| a.0.cmp(b.0));
        let (mut out, mut scratch) = (RollupColumns::default(), RollupColumns::default());
        let range = (req.start_ms, req.end_ms);
        for (labels, kind, id) in series {
            self.rollup_columns(&st, id, req.resolution, range, cols, &mut out, &mut scratch)?;
            if !out.is_empty() {
                visit(labels, kind, &out);
            }
        }
        Ok(())
    }

    fn select_distributions(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        resolution: Resolution,
    ) -> Result<Vec<DistributionSeries>, TsdbError> {
        let st = self.state.read();
        let compiled = compile(matchers, false)?;
        let mut out = Vec::new();
        for id in st.families.matching(&compiled) {
            let Some(e) = st.families.entry(id) else {
                continue;
            };
            let hists = self.family_histograms(&st, id, resolution, start_ms, end_ms)?;
            if !hists.is_empty() {
                out.push((e.labels.clone(), hists));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn series(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, TsdbError> {
        let st = self.state.read();
        let ids = self.matching_series(&st, matchers, start_ms, end_ms, false)?;
        Ok(ids.into_iter().map(|(_, l)| l).collect())
    }

    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let st = self.state.read();
        let ids = self.matching_series(&st, matchers, start_ms, end_ms, true)?;
        Ok(names_of(&ids))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let st = self.state.read();
        let ids = self.matching_series(&st, matchers, start_ms, end_ms, true)?;
        let set: BTreeSet<&str> = ids.iter().filter_map(|(_, l)| l.get(name)).collect();
        Ok(set.into_iter().map(str::to_string).collect())
    }
}
