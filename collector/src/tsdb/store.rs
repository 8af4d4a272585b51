//! [`TsdbStore`]: the time-series store. Writes go to the in-memory head (`apply`, in WAL
//! order); `flush` appends the closed raw chunks to the chunk files (`chunkfile.rs`), then
//! writes the head's other new data, the files' committed lengths and the applied LSN to the
//! kv in one atomic batch; reads (`read.rs`) merge the chunk files, the kv and the head;
//! retention is in `retention.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use super::block::decode_histogram;
use super::cache::{BlockCache, CacheStats};
use super::chunkfile::{self, ChunkFiles};
use super::gorilla::decode_chunk;
use super::head::{decode_tier_block, tier_tree, HeadFamily, HeadSeries, DIST_TREES};
use super::index::{Index, FAMILY_TREES, SERIES_TREES};
use super::ingest::RejectedSeries;
use super::kv::{get_i64, get_u64, id_time_key, put_u64, Kv, Tree, WriteBatch};
use super::sled_kv::SledKv;
use super::tier::open_tree;
use super::{Labels, MetricBatch, MetricKind, Resolution, SeriesSamples, TsdbError};
use crate::clock::SharedClock;

/// Bumped whenever the store's on-disk layout changes incompatibly. 2: the 5-minute rollup
/// tier (a version-1 store has none for its past, and it cannot be rebuilt from 1-minute
/// buckets, whose edges differ, nor from raw samples, which expire after 2 days).
/// 3: closed raw chunks in chunk files (`chunkfile.rs`) and the dense chunk codec
/// (`decimal.rs`); 2: the 5-minute rollup tier.
pub const TSDB_FORMAT_VERSION: u32 = 3;
/// The older format opened and upgraded in place (see `check_format`).
const UPGRADABLE_FORMAT: u32 = 2;
const FORMAT_FILE: &str = "FORMAT";
const APPLIED_LSN_KEY: &[u8] = b"applied_lsn";
pub(crate) const CHUNKS_KEY: &[u8] = b"chunks";
/// The greatest raw cutoff retention has applied: raw reads drop older samples (those in
/// chunk files that are not yet dropped whole).
pub(crate) const RAW_FLOOR_KEY: &[u8] = b"raw_floor";

pub const DAY_MS: i64 = 86_400_000;

/// Cardinality limits and retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsdbLimits {
    pub max_series: usize,
    pub max_series_per_metric: usize,
    pub raw_retention_ms: i64,
    pub minute_retention_ms: i64,
    pub five_minute_retention_ms: i64,
    pub hour_retention_ms: i64,
    /// Memory for decoded closed 5-minute blocks (`metrics.rollup_cache_mb`; 0: no cache).
    pub rollup_cache_bytes: usize,
    /// A sample further than this ahead of the clock is refused (`metrics.max_future_secs`):
    /// stored, it would make every current sample of its series out of order. `None`: no
    /// bound (the default here, for tests on injected clocks; the config's default is 600 s).
    pub max_future_ms: Option<i64>,
    /// New series are refused while the process's resident memory, plus what the new series
    /// of a batch are estimated to take ([`NEW_SERIES_BYTES`] each), would pass this
    /// (`metrics.new_series_memory_percent` of the memory available); `None`: no bound.
    pub new_series_memory_bytes: Option<u64>,
}

/// What one new series is estimated to cost in resident memory: its head and index entries
/// (about 6 KB) and what sled keeps after the flush that first writes it (about 40 KB more):
/// 47-49 KB measured with 100,000 series of 8 labels (BENCHMARKS.md, "Bytes per active
/// series"). An over-estimate errs on the side of refusing early.
pub const NEW_SERIES_BYTES: u64 = 48 * 1024;

/// Default of [`TsdbLimits::rollup_cache_bytes`] (and `metrics.rollup_cache_mb`), MiB: 1/16
/// of the memory available to the process ([`crate::memory::available_bytes`]), at most
/// [`MAX_DEFAULT_ROLLUP_CACHE_MB`]; [`FALLBACK_ROLLUP_CACHE_MB`] when that is unknown.
///
/// Why on: with decoding and sled out of a repeated long-range read, a 30-day `query_range`
/// over 1,000 series took about half the time (BENCHMARKS.md, "2026-11-27 (night)"). A cached
/// month of one series takes about 70 KB per float column its function reads (regular
/// integer columns take nothing), so that query's blocks are about 150 MiB for `rate` and
/// 85 MiB for `max_over_time`. A query over more blocks than fit is served partly from the
/// cache and decodes the rest (eviction is scan-resistant, `cache.rs`).
pub fn default_rollup_cache_mb() -> usize {
    let mb = crate::memory::available_bytes()
        .map(|b| (b / 16) >> 20)
        .unwrap_or(FALLBACK_ROLLUP_CACHE_MB as u64);
    usize::try_from(mb)
        .unwrap_or(MAX_DEFAULT_ROLLUP_CACHE_MB)
        .min(MAX_DEFAULT_ROLLUP_CACHE_MB)
}

/// The most [`default_rollup_cache_mb`] takes on a large machine.
pub const MAX_DEFAULT_ROLLUP_CACHE_MB: usize = 1024;
/// [`default_rollup_cache_mb`] when the machine's memory is unknown.
pub const FALLBACK_ROLLUP_CACHE_MB: usize = 256;

impl TsdbLimits {
    /// Retention of each rollup tier, in [`Resolution::TIERS`] order.
    pub fn tier_retention_ms(&self) -> [i64; 3] {
        [
            self.minute_retention_ms,
            self.five_minute_retention_ms,
            self.hour_retention_ms,
        ]
    }
}

impl Default for TsdbLimits {
    fn default() -> Self {
        TsdbLimits {
            max_series: 1_000_000,
            max_series_per_metric: 100_000,
            raw_retention_ms: 2 * DAY_MS,
            minute_retention_ms: 30 * DAY_MS,
            five_minute_retention_ms: 90 * DAY_MS,
            hour_retention_ms: 400 * DAY_MS,
            rollup_cache_bytes: default_rollup_cache_mb() << 20,
            max_future_ms: None,
            new_series_memory_bytes: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TsdbStats {
    pub series: usize,
    pub distribution_families: usize,
    /// Samples in the open chunks.
    pub head_samples: usize,
    /// Raw chunks, on disk and in the head.
    pub chunks: u64,
    /// sled's size on disk plus the chunk files'.
    pub disk_bytes: u64,
    /// The chunk files' committed bytes (closed raw chunks).
    pub chunk_file_bytes: u64,
    pub applied_lsn: u64,
    pub durable_lsn: u64,
}

/// The index and the head, changed together under one lock.
pub(crate) struct State {
    pub series: Index,
    pub families: Index,
    /// Boxed: a head is about 3 KB, and a map of them inline doubled (and copied) that
    /// much per series each time it grew, a transient of hundreds of MB for a burst of
    /// new series.
    pub heads: HashMap<u64, Box<HeadSeries>>,
    pub fam_heads: HashMap<u64, HeadFamily>,
    /// Raw chunks on disk (persisted in the meta tree with every flush).
    pub stored_chunks: u64,
    /// Closed raw chunks (`chunkfile.rs`).
    pub files: ChunkFiles,
    /// Raw samples older than this are past retention (see [`RAW_FLOOR_KEY`]).
    pub raw_floor: i64,
}

pub struct TsdbStore {
    pub(crate) kv: Box<dyn Kv>,
    pub(crate) limits: TsdbLimits,
    pub(crate) clock: SharedClock,
    pub(crate) state: RwLock<State>,
    /// Serialises apply, flush and retention (readers only take `state`).
    pub(crate) writer: Mutex<()>,
    /// Decoded closed 5-minute blocks (see `cache.rs`).
    pub(crate) cache: BlockCache,
    applied: AtomicU64,
    durable: AtomicU64,
}

fn io(path: &Path, e: std::io::Error) -> TsdbError {
    TsdbError::Storage(format!("{}: {e}", path.display()))
}

/// Checks the store's format, upgrading a format-2 store in place: format 3 only adds the
/// chunk files and the dense chunk codec, and everything a format-2 store holds (closed
/// chunks in the kv, XOR) still reads. The upgrade is what makes an older Pharos refuse the
/// store loudly instead of silently missing the chunks in the files (and reading a dense
/// chunk as an empty one).
fn check_format(dir: &Path) -> Result<(), TsdbError> {
    let path = dir.join(FORMAT_FILE);
    let write_current = || -> Result<(), TsdbError> {
        crate::durable_file::replace_file(&path, format!("{TSDB_FORMAT_VERSION}\n").as_bytes())
            .map_err(|e| io(&path, e))
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim() == TSDB_FORMAT_VERSION.to_string() => Ok(()),
        Ok(s) if s.trim() == UPGRADABLE_FORMAT.to_string() => {
            tracing::info!(path = %path.display(), "metrics store format {UPGRADABLE_FORMAT} upgraded to {TSDB_FORMAT_VERSION} (closed raw chunks now go to chunk files)");
            write_current()
        }
        Ok(s) => Err(TsdbError::Storage(format!(
            "{}: metrics store format {} is not the supported {TSDB_FORMAT_VERSION} (format 2 added the 5-minute rollup tier, which cannot be rebuilt for older data; format 3 the chunk files, which older versions do not read); use the Pharos version that wrote it, or move the metrics store dir away to start a new one",
            path.display(),
            s.trim()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_current(),
        Err(e) => Err(io(&path, e)),
    }
}

/// The first and last entries of one id in a tree.
fn first_key_time(kv: &dyn Kv, tree: Tree, id: u64) -> Result<Option<i64>, TsdbError> {
    match kv
        .range(
            tree,
            &id_time_key(id, i64::MIN),
            &id_time_key(id + 1, i64::MIN),
        )
        .next()
    {
        None => Ok(None),
        Some(e) => Ok(Some(get_i64(&e?.0, 8)?)),
    }
}

fn newest(kv: &dyn Kv, tree: Tree, id: u64) -> Result<Option<(i64, Vec<u8>)>, TsdbError> {
    match kv.last(
        tree,
        &id_time_key(id, i64::MIN),
        &id_time_key(id + 1, i64::MIN),
    )? {
        None => Ok(None),
        Some((k, v)) => Ok(Some((get_i64(&k, 8)?, v))),
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The head of a series as the kv and the chunk files hold it.
pub(crate) fn restore_series(
    kv: &dyn Kv,
    files: &ChunkFiles,
    id: u64,
    kind: MetricKind,
) -> Result<HeadSeries, TsdbError> {
    // The open chunk is the kv's newest, unless a closed one in the files is newer (the
    // kv's newest is then an old closed chunk of a store written before the chunk files).
    let newest_closed = files.newest_first_ts(id);
    let chunk = match newest(kv, Tree::Chunks, id)? {
        Some((first, b)) if newest_closed.is_none_or(|c| first > c) => Some(decode_chunk(&b)?),
        _ => None,
    };
    let open_chunk = chunk.is_some();
    let mut tiers: [(Vec<_>, Vec<i64>); 3] = Default::default();
    for (res, out) in Resolution::TIERS.into_iter().zip(tiers.iter_mut()) {
        match open_tree(res) {
            // The open block is its segments, in key (hour) order.
            Some(otree) => {
                let (s, e) = (id_time_key(id, i64::MIN), id_time_key(id + 1, i64::MIN));
                for entry in kv.range(otree, &s, &e) {
                    let (k, v) = entry?;
                    out.1.push(get_i64(&k, 8)?);
                    out.0.extend(decode_tier_block(res, &v)?);
                }
            }
            None => {
                if let Some((_, b)) = newest(kv, tier_tree(res), id)? {
                    out.0 = decode_tier_block(res, &b)?;
                }
            }
        }
    }
    let mut min_ts = min_opt(first_key_time(kv, Tree::Chunks, id)?, files.first_ts(id));
    for res in Resolution::TIERS {
        min_ts = min_opt(min_ts, first_key_time(kv, tier_tree(res), id)?);
        if let Some(otree) = open_tree(res) {
            min_ts = min_opt(min_ts, first_key_time(kv, otree, id)?);
        }
    }
    let mut h = HeadSeries::restore(kind, chunk, tiers, min_ts);
    if let (false, Some(first)) = (open_chunk, newest_closed) {
        // No open chunk (retention emptied it): the newest samples are in the newest closed.
        let samples = match files.read(id, first)? {
            Some(b) => decode_chunk(&b)?,
            None => Vec::new(),
        };
        if let Some(last) = samples.last() {
            if h.newest.is_none_or(|n| last.ts_ms > n.ts_ms) {
                h.newest = Some(*last);
            }
        }
        if let Some(p) = samples.iter().rev().find(|s| !s.is_stale_marker()) {
            if h.prev.is_none_or(|q| p.ts_ms > q.ts_ms) {
                h.prev = Some(*p);
            }
        }
    }
    Ok(h)
}

pub(crate) fn restore_family(kv: &dyn Kv, id: u64) -> Result<HeadFamily, TsdbError> {
    let mut open = [None, None, None];
    let mut min_ts = None;
    for (i, (_, tree)) in DIST_TREES.iter().enumerate() {
        if let Some((k, b)) = newest(kv, *tree, id)? {
            open[i] = Some((k, decode_histogram(&b)?));
        }
        min_ts = min_opt(min_ts, first_key_time(kv, *tree, id)?);
    }
    Ok(HeadFamily::restore(open, min_ts))
}

impl TsdbStore {
    /// Opens (or creates) the store in `dir`, restoring the head from the last flush.
    pub fn open(
        dir: &Path,
        limits: TsdbLimits,
        clock: SharedClock,
    ) -> Result<TsdbStore, TsdbError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        check_format(dir)?;
        let kv: Box<dyn Kv> = Box::new(SledKv::open(&dir.join("kv"))?);
        Self::open_with_kv(dir, kv, limits, clock)
    }

    /// [`TsdbStore::open`] on a given kv (another engine, or a test's wrapper) instead of
    /// the sled one in `dir/kv`; the chunk files are in `dir/chunks`.
    pub fn open_with_kv(
        dir: &Path,
        kv: Box<dyn Kv>,
        limits: TsdbLimits,
        clock: SharedClock,
    ) -> Result<TsdbStore, TsdbError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        check_format(dir)?;
        let lsn = match kv.get(Tree::Meta, APPLIED_LSN_KEY)? {
            Some(v) => get_u64(&v, 0)?,
            None => 0,
        };
        let stored_chunks = match kv.get(Tree::Meta, CHUNKS_KEY)? {
            Some(v) => get_u64(&v, 0)?,
            None => 0,
        };
        let raw_floor = match kv.get(Tree::Meta, RAW_FLOOR_KEY)? {
            Some(v) => get_i64(&v, 0)?,
            None => i64::MIN,
        };
        let mut committed = BTreeMap::new();
        for e in kv.scan_prefix(Tree::Meta, chunkfile::META_PREFIX) {
            let (k, v) = e?;
            let (slice, len) = chunkfile::parse_meta(&k, &v)?;
            committed.insert(slice, len);
        }
        let mut files = ChunkFiles::open(&dir.join(chunkfile::CHUNKS_DIR), &committed)?;
        let series = Index::open(kv.as_ref(), SERIES_TREES)?;
        let families = Index::open(kv.as_ref(), FAMILY_TREES)?;
        // Chunks of series retention removed wait in their files until those expire whole.
        files.retain_series(|id| series.entry(id).is_some());
        let mut heads = HashMap::with_capacity(series.len());
        for id in series.ids() {
            let kind = series.entry(id).map_or(MetricKind::Unknown, |e| e.kind);
            heads.insert(id, Box::new(restore_series(kv.as_ref(), &files, id, kind)?));
        }
        let mut fam_heads = HashMap::with_capacity(families.len());
        for id in families.ids() {
            fam_heads.insert(id, restore_family(kv.as_ref(), id)?);
        }
        Ok(TsdbStore {
            kv,
            cache: BlockCache::new(limits.rollup_cache_bytes, clock.clone()),
            limits,
            clock,
            state: RwLock::new(State {
                series,
                families,
                heads,
                fam_heads,
                stored_chunks,
                files,
                raw_floor,
            }),
            writer: Mutex::new(()),
            applied: AtomicU64::new(lsn),
            durable: AtomicU64::new(lsn),
        })
    }

    pub fn applied_lsn(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    pub fn durable_lsn(&self) -> u64 {
        self.durable.load(Ordering::SeqCst)
    }

    pub fn limits(&self) -> &TsdbLimits {
        &self.limits
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ns().div_euclid(1_000_000)
    }

    /// Splits `batch` into what may be applied and what is rejected (cardinality limits, out
    /// of order, past raw retention). Writes nothing; safe beside `apply`.
    pub fn admit(&self, batch: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>) {
        let now = self.now_ms();
        let oldest = now.saturating_sub(self.limits.raw_retention_ms);
        let newest_allowed = self
            .limits
            .max_future_ms
            .map_or(i64::MAX, |f| now.saturating_add(f));
        let st = self.state.read();
        let mut out = MetricBatch::default();
        let mut rejected = Vec::new();
        // Series this batch would create, and the newest sample admitted per series.
        let mut new_total = 0usize;
        // How many new series memory allows, read once per batch when it has new series.
        let mut memory_room: Option<Option<usize>> = None;
        let mut new_per_metric: HashMap<String, usize> = HashMap::new();
        let mut newest: HashMap<Labels, (i64, u64)> = HashMap::new();
        for series in batch.series {
            let name = series.labels.to_string();
            let reject = |reason: String,
                          samples: usize,
                          by_limit: bool,
                          rejected: &mut Vec<RejectedSeries>| {
                if samples > 0 {
                    rejected.push(RejectedSeries {
                        series: name.clone(),
                        samples,
                        reason,
                        by_limit,
                    });
                }
            };
            // Future samples first: a series whose samples are all too far ahead is not
            // created, and none of them can become the series' newest.
            let future = series
                .samples
                .iter()
                .filter(|s| s.ts_ms > newest_allowed)
                .count();
            reject(
                format!(
                    "timestamp more than {} s in the future (metrics.max_future_secs)",
                    self.limits.max_future_ms.unwrap_or(0) / 1000
                ),
                future,
                false,
                &mut rejected,
            );
            if future == series.samples.len() {
                continue;
            }
            let id = st.series.id(&series.labels);
            if id.is_none() && !newest.contains_key(&series.labels) {
                let metric = series.labels.metric_name().to_string();
                let per_metric = st.series.metric_count(&metric)
                    + new_per_metric.get(&metric).copied().unwrap_or(0);
                if st.series.len() + new_total >= self.limits.max_series {
                    let reason = format!("series limit {} reached", self.limits.max_series);
                    reject(reason, series.samples.len() - future, true, &mut rejected);
                    continue;
                }
                if per_metric >= self.limits.max_series_per_metric {
                    let reason = format!("metric {metric} has {per_metric} series (limit)");
                    reject(reason, series.samples.len() - future, true, &mut rejected);
                    continue;
                }
                let room = *memory_room.get_or_insert_with(|| self.new_series_room());
                if room.is_some_and(|room| new_total >= room) {
                    let reason = format!(
                        "memory: the process is near metrics.new_series_memory_percent of the memory available ({} MiB), so new series are refused until the next flush frees memory (samples of existing series are stored)",
                        self.limits.new_series_memory_bytes.unwrap_or(0) >> 20
                    );
                    reject(reason, series.samples.len() - future, true, &mut rejected);
                    continue;
                }
                new_total += 1;
                *new_per_metric.entry(metric).or_default() += 1;
            }
            let mut last = newest.get(&series.labels).copied().or_else(|| {
                id.and_then(|id| st.heads.get(&id))
                    .and_then(|h| h.newest)
                    .map(|s| (s.ts_ms, s.value.to_bits()))
            });
            let (mut ooo, mut dup, mut old) = (0usize, 0usize, 0usize);
            let mut ooo_at = None;
            let mut kept = Vec::with_capacity(series.samples.len());
            for s in series.samples.iter().filter(|s| s.ts_ms <= newest_allowed) {
                match last {
                    Some((t, bits)) if s.ts_ms == t && s.value.to_bits() == bits => continue,
                    Some((t, _)) if s.ts_ms == t => dup += 1,
                    Some((t, _)) if s.ts_ms < t => {
                        ooo += 1;
                        ooo_at.get_or_insert(t);
                    }
                    _ if s.ts_ms < oldest => old += 1,
                    _ => {
                        kept.push(*s);
                        last = Some((s.ts_ms, s.value.to_bits()));
                    }
                }
            }
            if let Some(t) = ooo_at {
                reject(
                    format!("out of order: older than the series' newest sample ({t} ms)"),
                    ooo,
                    false,
                    &mut rejected,
                );
            }
            reject(
                "duplicate timestamp with a different value".to_string(),
                dup,
                false,
                &mut rejected,
            );
            reject(
                format!(
                    "older than the raw retention ({} ms)",
                    self.limits.raw_retention_ms
                ),
                old,
                false,
                &mut rejected,
            );
            if let Some(l) = last {
                newest.insert(series.labels.clone(), l);
            }
            if !kept.is_empty() {
                out.series.push(SeriesSamples {
                    labels: series.labels,
                    kind: series.kind,
                    samples: kept,
                });
            }
        }
        let mut fam_newest: HashMap<Labels, i64> = HashMap::new();
        let mut new_families = 0usize;
        for d in batch.distributions {
            let id = st.families.id(&d.labels);
            let name = d.labels.to_string();
            let known = id.is_some() || fam_newest.contains_key(&d.labels);
            if !known && st.families.len() + new_families >= self.limits.max_series {
                rejected.push(RejectedSeries {
                    series: name,
                    samples: 1,
                    reason: format!(
                        "distribution family limit {} reached",
                        self.limits.max_series
                    ),
                    by_limit: true,
                });
                continue;
            }
            let last = fam_newest.get(&d.labels).copied().or_else(|| {
                id.and_then(|id| st.fam_heads.get(&id))
                    .and_then(|h| h.newest_ts)
            });
            let reason = if d.ts_ms > newest_allowed {
                Some(format!(
                    "timestamp more than {} s in the future (metrics.max_future_secs)",
                    self.limits.max_future_ms.unwrap_or(0) / 1000
                ))
            } else if last.is_some_and(|t| d.ts_ms < t) {
                Some("out of order: older than the family's newest distribution".to_string())
            } else if d.ts_ms < oldest {
                Some(format!(
                    "older than the raw retention ({} ms)",
                    self.limits.raw_retention_ms
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                rejected.push(RejectedSeries {
                    series: name,
                    samples: 1,
                    reason,
                    by_limit: false,
                });
                continue;
            }
            if !known {
                new_families += 1;
            }
            fam_newest.insert(d.labels.clone(), d.ts_ms);
            out.distributions.push(d);
        }
        (out, rejected)
    }

    /// How many new series fit under [`TsdbLimits::new_series_memory_bytes`] now (`None`: no
    /// bound, or the resident size cannot be read).
    fn new_series_room(&self) -> Option<usize> {
        let ceiling = self.limits.new_series_memory_bytes?;
        let rss = crate::memory::resident_bytes()?;
        Some(usize::try_from(ceiling.saturating_sub(rss) / NEW_SERIES_BYTES).unwrap_or(usize::MAX))
    }

    /// Applies an admitted batch to the head. Batches come in LSN order from one thread;
    /// those at or below [`TsdbStore::applied_lsn`] were applied already (WAL replay) and
    /// are skipped. What admission could not see (a concurrent batch creating the same new
    /// series, or newer samples) is dropped here the same way, deterministically.
    pub fn apply(&self, lsn: u64, batch: &MetricBatch) -> Result<(), TsdbError> {
        let _w = self.writer.lock();
        if lsn <= self.applied_lsn() {
            return Ok(());
        }
        let mut guard = self.state.write();
        let st = &mut *guard;
        for series in &batch.series {
            let id = match st.series.id(&series.labels) {
                Some(id) => {
                    st.series.learn_kind(id, series.kind);
                    id
                }
                None => {
                    let metric = series.labels.metric_name();
                    if st.series.len() >= self.limits.max_series
                        || st.series.metric_count(metric) >= self.limits.max_series_per_metric
                    {
                        tracing::warn!(series = %series.labels, "series over the cardinality limit dropped at apply");
                        continue;
                    }
                    let id = st.series.create(series.labels.clone(), series.kind);
                    st.heads.insert(id, Box::new(HeadSeries::new(series.kind)));
                    id
                }
            };
            let kind = st.series.entry(id).map_or(series.kind, |e| e.kind);
            let head = st
                .heads
                .entry(id)
                .or_insert_with(|| Box::new(HeadSeries::new(kind)));
            head.kind = kind;
            for s in &series.samples {
                if head.newest.is_none_or(|n| s.ts_ms > n.ts_ms) {
                    head.append(*s);
                }
            }
        }
        for d in &batch.distributions {
            let id = match st.families.id(&d.labels) {
                Some(id) => id,
                None => {
                    if st.families.len() >= self.limits.max_series {
                        continue;
                    }
                    let id = st.families.create(d.labels.clone(), MetricKind::Unknown);
                    st.fam_heads.insert(id, HeadFamily::default());
                    id
                }
            };
            let head = st.fam_heads.entry(id).or_default();
            if head.newest_ts.is_none_or(|n| d.ts_ms >= n) {
                head.add(d)?;
            }
        }
        self.applied.store(lsn, Ordering::SeqCst);
        Ok(())
    }

    /// Writes the head's new and open data, the index changes and the applied LSN in one
    /// atomic batch, makes it durable and returns the new durable LSN.
    pub fn flush(&self) -> Result<u64, TsdbError> {
        let _w = self.writer.lock();
        let lsn = self.applied_lsn();
        let mut guard = self.state.write();
        let st = &mut *guard;
        let mut batch = WriteBatch::default();
        let series_ids = st.series.pending_writes(&mut batch);
        let family_ids = st.families.pending_writes(&mut batch);
        let mut new_chunks = 0;
        let mut closed = Vec::new();
        let dirty: Vec<u64> = st
            .heads
            .iter()
            .filter(|(_, h)| h.dirty)
            .map(|(id, _)| *id)
            .collect();
        for id in &dirty {
            if let Some(h) = st.heads.get(id) {
                new_chunks += h.flush_into(*id, &mut batch, &mut closed);
                // Never cached before they are written, but a cache must not be able to
                // serve anything other than what the kv holds.
                for (first, _) in &h.five.closed {
                    self.cache.remove(*id, *first);
                    self.cache.remove_keys(*id);
                }
            }
        }
        let dirty_fams: Vec<u64> = st
            .fam_heads
            .iter()
            .filter(|(_, h)| h.dirty)
            .map(|(id, _)| *id)
            .collect();
        for id in &dirty_fams {
            if let Some(h) = st.fam_heads.get(id) {
                h.flush_into(*id, &mut batch)?;
            }
        }
        let stored_chunks = st.stored_chunks + new_chunks;
        let mut v = Vec::with_capacity(8);
        put_u64(&mut v, lsn);
        batch.put(Tree::Meta, APPLIED_LSN_KEY.to_vec(), v);
        let mut v = Vec::with_capacity(8);
        put_u64(&mut v, stored_chunks);
        batch.put(Tree::Meta, CHUNKS_KEY.to_vec(), v);
        // Closed chunks first, durably, into the chunk files; the batch then commits their
        // new lengths. A crash in between leaves bytes past the committed lengths, which the
        // next open truncates (WAL replay from the applied LSN cuts the same chunks again).
        let pending = st.files.append(&closed)?;
        for (k, v) in pending.meta_entries() {
            batch.put(Tree::Meta, k, v);
        }
        if let Err(e) = self.kv.write(batch) {
            st.files.abort(pending);
            return Err(e);
        }
        // Applied in the kv: the lengths it now refers to must stay, whatever comes next.
        st.files.commit(pending);
        self.kv.flush()?;
        st.series.flushed(&series_ids);
        st.families.flushed(&family_ids);
        for id in &dirty {
            if let Some(h) = st.heads.get_mut(id) {
                h.flushed();
            }
        }
        for id in &dirty_fams {
            if let Some(h) = st.fam_heads.get_mut(id) {
                h.flushed();
            }
        }
        st.stored_chunks = stored_chunks;
        self.durable.store(lsn, Ordering::SeqCst);
        Ok(lsn)
    }

    /// The decoded-block cache's size.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    pub fn stats(&self) -> TsdbStats {
        let st = self.state.read();
        let head_samples = st.heads.values().map(|h| h.head_samples()).sum();
        let unflushed: u64 = st
            .heads
            .values()
            .map(|h| {
                let open =
                    u64::from(!h.chunk.is_empty() && h.chunk_in_kv != Some(h.chunk.first_ts()));
                let closed = h
                    .closed_chunks
                    .iter()
                    .filter(|(f, _)| h.chunk_in_kv != Some(*f))
                    .count() as u64;
                open + closed
            })
            .sum();
        let chunk_file_bytes = st.files.disk_bytes();
        TsdbStats {
            series: st.series.len(),
            distribution_families: st.families.len(),
            head_samples,
            chunks: st.stored_chunks + unflushed,
            disk_bytes: self.kv.size_on_disk().unwrap_or(0) + chunk_file_bytes,
            chunk_file_bytes,
            applied_lsn: self.applied_lsn(),
            durable_lsn: self.durable_lsn(),
        }
    }
}

/// The write path drives the store through this (see `ingest.rs`).
impl super::ingest::MetricSink for TsdbStore {
    fn admit(&self, batch: MetricBatch) -> (MetricBatch, Vec<RejectedSeries>) {
        TsdbStore::admit(self, batch)
    }
    fn apply(&self, lsn: u64, batch: &MetricBatch) -> Result<(), TsdbError> {
        TsdbStore::apply(self, lsn, batch)
    }
    fn durable_lsn(&self) -> u64 {
        TsdbStore::durable_lsn(self)
    }
    fn flush(&self) -> Result<u64, TsdbError> {
        TsdbStore::flush(self)
    }
    fn run_retention(&self, now_ms: i64) -> Result<(), TsdbError> {
        TsdbStore::run_retention(self, now_ms).map(|_| ())
    }
}
