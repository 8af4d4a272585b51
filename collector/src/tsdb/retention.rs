//! Retention: raw samples older than `raw_retention`, 1-minute, 5-minute and 1-hour buckets
//! that ended before theirs, and distributions likewise. Blocks, and raw chunks in the kv
//! (the open ones, and closed ones of stores written before the chunk files), that straddle a
//! cutoff are rewritten without the expired part. Closed chunks in the chunk files are never
//! rewritten: a slice file is deleted once everything it can hold is past the raw cutoff, and
//! until then raw reads drop samples older than the greatest raw cutoff applied (the store's
//! raw floor, persisted here first). So retention is exact at its boundaries. Series (and
//! families) with no data left leave the index and the cardinality counts.

use super::chunkfile::meta_key;
use super::gorilla::decode_chunk;
use super::head::{
    chunk_from, closed_chunk_from, decode_tier_block, dist_expired, encode_tier_block, tier_tree,
    DIST_TREES,
};
use super::kv::{get_i64, id_time_key, put_i64, put_u64, Tree, WriteBatch};
use super::store::{State, TsdbStore, CHUNKS_KEY, RAW_FLOOR_KEY};
use super::tier::open_tree;
use super::{Resolution, TsdbError};

/// What one retention run removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Raw chunks removed whole (from the kv, and in the chunk files dropped).
    pub chunks_removed: u64,
    /// Raw chunks (in the kv) and rollup blocks rewritten without their expired part.
    pub rewritten: u64,
    /// Chunk files (time slices of closed raw chunks) deleted.
    pub chunk_files_removed: u64,
    /// Rollup blocks removed whole (1-minute, 5-minute and 1-hour).
    pub blocks_removed: u64,
    /// Distribution histograms removed (raw, 1-minute and 1-hour).
    pub histograms_removed: u64,
    pub series_removed: usize,
    pub families_removed: usize,
}

/// Series handled per write batch (and per hold of the state lock).
const GROUP: usize = 256;

struct Cutoffs {
    raw: i64,
    minute: i64,
    hour: i64,
    /// Per rollup tier, in [`Resolution::TIERS`] order.
    tiers: [i64; 3],
}

impl TsdbStore {
    /// Removes what is past retention at `now_ms`.
    pub fn run_retention(&self, now_ms: i64) -> Result<RetentionReport, TsdbError> {
        let _w = self.writer.lock();
        let cut = Cutoffs {
            raw: now_ms.saturating_sub(self.limits.raw_retention_ms),
            minute: now_ms.saturating_sub(self.limits.minute_retention_ms),
            hour: now_ms.saturating_sub(self.limits.hour_retention_ms),
            tiers: self
                .limits
                .tier_retention_ms()
                .map(|r| now_ms.saturating_sub(r)),
        };
        let mut report = RetentionReport::default();
        {
            // Before anything is removed: raw reads stop at the cutoff from now on, also after
            // a reopen (chunks in the files are not rewritten).
            let mut st = self.state.write();
            if cut.raw > st.raw_floor {
                let mut batch = WriteBatch::default();
                let mut v = Vec::with_capacity(8);
                put_i64(&mut v, cut.raw);
                batch.put(Tree::Meta, RAW_FLOOR_KEY.to_vec(), v);
                self.kv.write(batch)?;
                st.raw_floor = cut.raw;
            }
        }
        let (mut series, mut families): (Vec<u64>, Vec<u64>) = {
            let st = self.state.read();
            (st.series.ids().collect(), st.families.ids().collect())
        };
        series.sort_unstable();
        families.sort_unstable();
        for group in series.chunks(GROUP) {
            let mut guard = self.state.write();
            let st = &mut *guard;
            let mut batch = WriteBatch::default();
            for &id in group {
                self.expire_series(st, id, &cut, &mut batch, &mut report)?;
            }
            let mut v = Vec::with_capacity(8);
            put_u64(&mut v, st.stored_chunks);
            batch.put(Tree::Meta, CHUNKS_KEY.to_vec(), v);
            self.kv.write(batch)?;
        }
        self.drop_chunk_files(cut.raw, &mut report)?;
        for group in families.chunks(GROUP) {
            let mut guard = self.state.write();
            let st = &mut *guard;
            let mut batch = WriteBatch::default();
            for &id in group {
                self.expire_family(st, id, &cut, &mut batch, &mut report)?;
            }
            self.kv.write(batch)?;
        }
        self.kv.flush()?;
        Ok(report)
    }

    /// Deletes the chunk files wholly past `raw_cut`: their committed lengths leave the kv
    /// durably first (a file without one is deleted at open, should a crash come between).
    fn drop_chunk_files(
        &self,
        raw_cut: i64,
        report: &mut RetentionReport,
    ) -> Result<(), TsdbError> {
        let mut guard = self.state.write();
        let st = &mut *guard;
        let expired = st.files.expired(raw_cut);
        if expired.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        let mut stored = st.stored_chunks;
        for (slice, records) in &expired {
            batch.delete(Tree::Meta, meta_key(*slice));
            stored = stored.saturating_sub(*records);
        }
        let mut v = Vec::with_capacity(8);
        put_u64(&mut v, stored);
        batch.put(Tree::Meta, CHUNKS_KEY.to_vec(), v);
        self.kv.write(batch)?;
        self.kv.flush()?;
        let slices: Vec<i64> = expired.iter().map(|(s, _)| *s).collect();
        st.files.remove(&slices);
        for (_, records) in &expired {
            report.chunks_removed += records;
        }
        report.chunk_files_removed += expired.len() as u64;
        st.stored_chunks = stored;
        Ok(())
    }

    /// Drops a 5-minute block retention changes or removes from the decoded-block cache.
    fn forget_block(&self, res: Resolution, id: u64, first: i64) {
        if res == Resolution::FiveMinute {
            self.cache.remove(id, first);
            self.cache.remove_keys(id);
        }
    }

    /// Whether `tree` holds an entry of `id` at or after `from`.
    fn any_from(&self, tree: Tree, id: u64, from: i64) -> Result<bool, TsdbError> {
        let end = id_time_key(id.saturating_add(1), i64::MIN);
        match self.kv.range(tree, &id_time_key(id, from), &end).next() {
            None => Ok(false),
            Some(e) => e.map(|_| true),
        }
    }

    /// Entries of `id` in `tree` with key time below `below`.
    fn entries_below(
        &self,
        tree: Tree,
        id: u64,
        below: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, TsdbError> {
        let mut out = Vec::new();
        for e in self
            .kv
            .range(tree, &id_time_key(id, i64::MIN), &id_time_key(id, below))
        {
            let (k, v) = e?;
            out.push((get_i64(&k, 8)?, v));
        }
        Ok(out)
    }

    fn expire_series(
        &self,
        st: &mut State,
        id: u64,
        cut: &Cutoffs,
        batch: &mut WriteBatch,
        report: &mut RetentionReport,
    ) -> Result<(), TsdbError> {
        let mut kept_any = false;
        let mut chunk_in_kv = st.heads.get(&id).and_then(|h| h.chunk_in_kv);
        for (first, bytes) in self.entries_below(Tree::Chunks, id, cut.raw)? {
            batch.delete(Tree::Chunks, id_time_key(id, first));
            let samples = decode_chunk(&bytes)?;
            // The head's open chunk stays XOR (as the head writes it), closed ones get the
            // closed chunks' encoding.
            let rewritten = if chunk_in_kv == Some(first) {
                chunk_from(samples, cut.raw).map(|c| (c.first_ts(), c.bytes()))
            } else {
                closed_chunk_from(samples, cut.raw)
            };
            match rewritten {
                Some((new_first, new_bytes)) => {
                    batch.put(Tree::Chunks, id_time_key(id, new_first), new_bytes);
                    report.rewritten += 1;
                    kept_any = true;
                    if chunk_in_kv == Some(first) {
                        chunk_in_kv = Some(new_first);
                    }
                }
                None => {
                    report.chunks_removed += 1;
                    st.stored_chunks = st.stored_chunks.saturating_sub(1);
                    if chunk_in_kv == Some(first) {
                        chunk_in_kv = None;
                    }
                }
            }
        }
        for (res, cutoff) in Resolution::TIERS.into_iter().zip(cut.tiers) {
            let w = res.bucket_ms();
            let tree = tier_tree(res);
            for (first, bytes) in self.entries_below(tree, id, cutoff)? {
                let kept: Vec<_> = decode_tier_block(res, &bytes)?
                    .into_iter()
                    .filter(|b| b.start_ms.saturating_add(w) > cutoff)
                    .collect();
                match kept.first() {
                    Some(b) if b.start_ms == first => {}
                    Some(b) => {
                        batch.delete(tree, id_time_key(id, first));
                        batch.put(
                            tree,
                            id_time_key(id, b.start_ms),
                            encode_tier_block(res, &kept),
                        );
                        report.rewritten += 1;
                        kept_any = true;
                    }
                    None => {
                        batch.delete(tree, id_time_key(id, first));
                        report.blocks_removed += 1;
                    }
                }
                if kept.first().is_some_and(|b| b.start_ms == first) {
                    // Nothing in this block has expired yet: keep it as it is.
                    kept_any = true;
                } else {
                    self.forget_block(res, id, first);
                }
            }
            // The open block's segments keep their keys (absolute hours): the head's state
            // after its own `expire` is what a restore from them gives.
            if let Some(otree) = open_tree(res) {
                for (key, bytes) in self.entries_below(otree, id, cutoff)? {
                    let all = decode_tier_block(res, &bytes)?;
                    let n = all.len();
                    let kept: Vec<_> = all
                        .into_iter()
                        .filter(|b| b.start_ms.saturating_add(w) > cutoff)
                        .collect();
                    if kept.is_empty() {
                        batch.delete(otree, id_time_key(id, key));
                    } else {
                        kept_any = true;
                        if kept.len() != n {
                            batch.put(otree, id_time_key(id, key), encode_tier_block(res, &kept));
                        }
                    }
                }
            }
        }
        let head_empty = match st.heads.get_mut(&id) {
            Some(h) => {
                h.expire(cut.raw, cut.tiers)?;
                h.chunk_in_kv = chunk_in_kv;
                let floor = cut
                    .tiers
                    .iter()
                    .fold(cut.raw, |a, b| a.min(*b))
                    .saturating_sub(Resolution::Hour.bucket_ms());
                h.min_ts = h.min_ts.map(|m| m.max(floor));
                h.is_empty()
            }
            None => true,
        };
        let mut has_data = kept_any
            || !head_empty
            || self.any_from(Tree::Chunks, id, cut.raw)?
            || st.files.has_samples_from(id, cut.raw)?;
        for (res, cutoff) in Resolution::TIERS.into_iter().zip(cut.tiers) {
            has_data = has_data || self.any_from(tier_tree(res), id, cutoff)?;
            if let Some(otree) = open_tree(res) {
                has_data = has_data || self.any_from(otree, id, cutoff)?;
            }
        }
        if !has_data {
            st.series.remove(id, batch);
            st.heads.remove(&id);
            // Its chunks in the files are all past the cutoff: they go with their files.
            st.files.forget_series(id);
            report.series_removed += 1;
        }
        Ok(())
    }

    fn expire_family(
        &self,
        st: &mut State,
        id: u64,
        cut: &Cutoffs,
        batch: &mut WriteBatch,
        report: &mut RetentionReport,
    ) -> Result<(), TsdbError> {
        let cutoffs = [cut.raw, cut.minute, cut.hour];
        let mut has_data = false;
        for (i, (res, tree)) in DIST_TREES.iter().enumerate() {
            // Entries at or after this key are not expired.
            let live_from = cutoffs[i]
                .saturating_sub(res.bucket_ms().max(1))
                .saturating_add(1);
            for (k, _) in self.entries_below(*tree, id, live_from)? {
                if dist_expired(*res, k, cutoffs[i]) {
                    batch.delete(*tree, id_time_key(id, k));
                    report.histograms_removed += 1;
                }
            }
            has_data = has_data || self.any_from(*tree, id, live_from)?;
        }
        if let Some(h) = st.fam_heads.get_mut(&id) {
            h.expire(cutoffs);
            has_data = has_data || !h.is_empty();
        }
        if !has_data {
            st.families.remove(id, batch);
            st.fam_heads.remove(&id);
            report.families_removed += 1;
        }
        Ok(())
    }
}
