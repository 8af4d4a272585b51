//! Closed raw chunks in the chunk files (`tsdb/chunkfile.rs`) through the store: reads
//! across slices and reopens, a crash between the file append and the kv batch, retention
//! dropping whole slice files while reads stay exact, and a store written before the chunk
//! files (closed chunks in the kv).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use pharos_collector::clock::{ManualClock, SharedClock};
use pharos_collector::tsdb::chunkfile::{self, CHUNKS_DIR, META_PREFIX};
use pharos_collector::tsdb::kv::{
    get_i64, get_u64, id_time_key, Entry, Kv, KvIter, Tree, WriteBatch,
};
use pharos_collector::tsdb::sled_kv::SledKv;
use pharos_collector::tsdb::*;

type R<T = ()> = Result<T, Box<dyn std::error::Error>>;
/// Per series (by labels): (timestamp, value bits) of its raw samples.
type Raw = Vec<(String, Vec<(i64, u64)>)>;
/// (series id, first timestamp) of chunks.
type Places = Vec<(u64, i64)>;

/// An hour-aligned start time, 4 h into a 6-hour slice.
const T0: i64 = 472_222 * 3_600_000;
const HOUR: i64 = 3_600_000;
const STEP: i64 = 15_000;

fn labels(name: &str, i: usize) -> Labels {
    Labels::new([
        ("__name__".to_string(), name.to_string()),
        ("i".to_string(), i.to_string()),
    ])
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `n` series scraped every 15 s over `[from, to)`: counters, and gauges with stale markers.
fn samples(n: usize, from: i64, to: i64) -> Vec<(Labels, MetricKind, Vec<Sample>)> {
    (0..n)
        .map(|i| {
            let mut x = 7 + i as u64;
            let mut v = 0.0;
            let samples = (0..)
                .map(|k| from + k * STEP + i as i64)
                .take_while(|ts| *ts < to)
                .map(|ts| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    v += ((x >> 33) % 10) as f64;
                    let value = if i % 2 == 1 && (x >> 40).is_multiple_of(97) {
                        f64::from_bits(STALE_NAN_BITS)
                    } else {
                        v
                    };
                    Sample { ts_ms: ts, value }
                })
                .collect();
            let kind = if i % 2 == 0 {
                MetricKind::Counter
            } else {
                MetricKind::Gauge
            };
            (labels("m", i), kind, samples)
        })
        .collect()
}

/// The series in batches of 10 minutes of scrapes (LSN = index + 1).
fn batches(series: &[(Labels, MetricKind, Vec<Sample>)]) -> Vec<MetricBatch> {
    let (Some(from), Some(to)) = (
        series
            .iter()
            .filter_map(|s| s.2.first())
            .map(|s| s.ts_ms)
            .min(),
        series
            .iter()
            .filter_map(|s| s.2.last())
            .map(|s| s.ts_ms)
            .max(),
    ) else {
        return Vec::new();
    };
    let step = 10 * 60_000;
    (0..=(to - from) / step)
        .map(|b| {
            let (lo, hi) = (from + b * step, from + (b + 1) * step);
            MetricBatch {
                series: series
                    .iter()
                    .map(|(l, kind, s)| SeriesSamples {
                        labels: l.clone(),
                        kind: *kind,
                        samples: s
                            .iter()
                            .filter(|x| (lo..hi).contains(&x.ts_ms))
                            .copied()
                            .collect(),
                    })
                    .filter(|s| !s.samples.is_empty())
                    .collect(),
                distributions: Vec::new(),
            }
        })
        .collect()
}

fn clock_at(now_ms: i64) -> SharedClock {
    Arc::new(ManualClock::new(now_ms * 1_000_000))
}

fn open(dir: &Path, limits: &TsdbLimits, now_ms: i64) -> R<TsdbStore> {
    Ok(TsdbStore::open(dir, limits.clone(), clock_at(now_ms))?)
}

/// Every series' raw samples in `[start, end]`, bit-exact, by labels.
fn raw(store: &TsdbStore, start: i64, end: i64) -> R<Raw> {
    let data = store.select(&SelectRequest {
        matchers: vec![LabelMatcher {
            name: "__name__".to_string(),
            op: MatchOp::RegexMatch,
            value: ".+".to_string(),
        }],
        start_ms: start,
        end_ms: end,
        resolution: Resolution::Raw,
    })?;
    let mut out = Vec::new();
    for d in data {
        let Points::Raw(s) = d.points else {
            return Err("raw select returned buckets".into());
        };
        out.push((
            d.labels.to_string(),
            s.iter().map(|x| (x.ts_ms, x.value.to_bits())).collect(),
        ));
    }
    out.sort();
    Ok(out)
}

/// What `raw` should return for `series` in `[start, end]`.
fn want(series: &[(Labels, MetricKind, Vec<Sample>)], start: i64, end: i64) -> Raw {
    let mut out: Raw = series
        .iter()
        .map(|(l, _, s)| {
            (
                l.to_string(),
                s.iter()
                    .filter(|x| x.ts_ms >= start && x.ts_ms <= end)
                    .map(|x| (x.ts_ms, x.value.to_bits()))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    out.sort();
    out
}

/// The (series, first timestamp) of every record in the chunk files, and of every chunk in
/// the kv: each chunk once, in one place.
fn chunk_places(dir: &Path) -> R<(Places, Places)> {
    let mut files = Vec::new();
    for c in chunkfile::scan(&dir.join(CHUNKS_DIR))? {
        let c = c?;
        files.push((c.series, c.first_ts));
    }
    let kv = SledKv::open(&dir.join("kv"))?;
    let mut in_kv = Vec::new();
    for e in kv.scan_prefix(Tree::Chunks, &[]) {
        let (k, _) = e?;
        in_kv.push((get_u64(&k, 0)?, get_i64(&k, 8)?));
    }
    Ok((files, in_kv))
}

fn assert_each_chunk_once(dir: &Path) -> R {
    let (files, in_kv) = chunk_places(dir)?;
    let set: BTreeSet<(u64, i64)> = files.iter().copied().collect();
    assert_eq!(set.len(), files.len(), "a chunk is twice in the files");
    assert!(
        in_kv.iter().all(|c| !set.contains(c)),
        "a chunk is in the files and the kv"
    );
    Ok(())
}

fn chunk_file_count(dir: &Path) -> R<usize> {
    Ok(std::fs::read_dir(dir.join(CHUNKS_DIR))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".chk"))
        .count())
}

fn dir_bytes(dir: &Path) -> R<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        n += e?.metadata()?.len();
    }
    Ok(n)
}

/// Applies every batch of `series` in LSN order, flushing after every `flush_every`-th one
/// and at the end.
fn apply_all(
    store: &TsdbStore,
    series: &[(Labels, MetricKind, Vec<Sample>)],
    flush_every: usize,
) -> R {
    for (i, b) in batches(series).iter().enumerate() {
        store.apply(i as u64 + 1, b)?;
        if i % flush_every == flush_every - 1 {
            store.flush()?;
        }
    }
    store.flush()?;
    Ok(())
}

#[test]
fn closed_chunks_live_in_slice_files_and_read_the_same_after_a_reopen() -> R {
    let dir = tempfile::tempdir()?;
    let limits = TsdbLimits::default();
    let end = T0 + 30 * HOUR;
    let series = samples(6, T0, end);
    let store = open(dir.path(), &limits, end)?;
    apply_all(&store, &series, 7)?;
    let all = want(&series, i64::MIN, i64::MAX);
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    // A range inside one chunk, one across a slice boundary (T0 + 2 h), one at the end.
    let ranges = [
        (T0 + 5 * 60_000, T0 + 6 * 60_000),
        (T0 + HOUR + 7, T0 + 3 * HOUR - 7),
        (end - HOUR, end),
    ];
    let before: Vec<_> = ranges
        .iter()
        .map(|(a, b)| raw(&store, *a, *b))
        .collect::<R<_>>()?;
    for ((a, b), got) in ranges.iter().zip(&before) {
        assert_eq!(*got, want(&series, *a, *b));
    }
    let stats = store.stats();
    assert!(stats.chunk_file_bytes > 0 && stats.disk_bytes > stats.chunk_file_bytes);
    drop(store);
    // 30 h from 4 h into a slice: 6 slice files; the kv holds only the open chunks.
    assert_eq!(chunk_file_count(dir.path())?, 6);
    let (files, in_kv) = chunk_places(dir.path())?;
    assert_eq!(in_kv.len(), 6, "one open chunk per series in the kv");
    assert_eq!(files.len() + in_kv.len(), stats.chunks as usize);
    assert_eq!(
        dir_bytes(&dir.path().join(CHUNKS_DIR))?,
        stats.chunk_file_bytes
    );
    assert_each_chunk_once(dir.path())?;
    let store = open(dir.path(), &limits, end)?;
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    for ((a, b), got) in ranges.iter().zip(&before) {
        assert_eq!(raw(&store, *a, *b)?, *got);
    }
    assert_eq!(store.stats().chunks, stats.chunks);
    assert_eq!(store.stats().chunk_file_bytes, stats.chunk_file_bytes);
    Ok(())
}

/// A kv whose `write` can be made to fail (an error) or to crash (a panic: nothing after it
/// runs, as if the process died between the chunk files' fsync and the kv batch).
struct FaultyKv {
    inner: SledKv,
    /// 0: fine, 1: fail, 2: crash.
    mode: Arc<AtomicU8>,
}

impl Kv for FaultyKv {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TsdbError> {
        self.inner.get(tree, key)
    }
    fn write(&self, batch: WriteBatch) -> Result<(), TsdbError> {
        match self.mode.load(Ordering::SeqCst) {
            0 => self.inner.write(batch),
            1 => Err(TsdbError::Storage("injected write failure".to_string())),
            _ => panic!("injected crash before the kv batch"),
        }
    }
    fn range<'a>(&'a self, tree: Tree, start: &[u8], end: &[u8]) -> KvIter<'a> {
        self.inner.range(tree, start, end)
    }
    fn scan_prefix<'a>(&'a self, tree: Tree, prefix: &[u8]) -> KvIter<'a> {
        self.inner.scan_prefix(tree, prefix)
    }
    fn last(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<Option<Entry>, TsdbError> {
        self.inner.last(tree, start, end)
    }
    fn remove_range(&self, tree: Tree, start: &[u8], end: &[u8]) -> Result<usize, TsdbError> {
        self.inner.remove_range(tree, start, end)
    }
    fn flush(&self) -> Result<(), TsdbError> {
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64, TsdbError> {
        self.inner.size_on_disk()
    }
}

fn open_faulty(dir: &Path, now: i64) -> R<(TsdbStore, Arc<AtomicU8>)> {
    let mode = Arc::new(AtomicU8::new(0));
    let kv = FaultyKv {
        inner: SledKv::open(&dir.join("kv"))?,
        mode: mode.clone(),
    };
    let store = TsdbStore::open_with_kv(dir, Box::new(kv), TsdbLimits::default(), clock_at(now))?;
    Ok((store, mode))
}

#[test]
fn a_crash_between_the_chunk_append_and_the_kv_batch_replays_exactly() -> R {
    let dir = tempfile::tempdir()?;
    let end = T0 + 20 * HOUR;
    let series = samples(4, T0, end);
    let work = batches(&series);
    let (store, mode) = open_faulty(dir.path(), end)?;
    let k = 40;
    for (i, b) in work.iter().enumerate().take(k) {
        store.apply(i as u64 + 1, b)?;
    }
    store.flush()?;
    let committed = store.stats().chunk_file_bytes;
    // Past a slice boundary (T0 + 8 h): the crashed append writes to a new file too.
    let m = 70;
    for (i, b) in work.iter().enumerate().take(m).skip(k) {
        store.apply(i as u64 + 1, b)?;
    }
    mode.store(2, Ordering::SeqCst);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.flush()));
    assert!(crashed.is_err(), "the injected crash did not happen");
    drop(store);
    let files_before = chunk_file_count(dir.path())?;
    assert!(
        dir_bytes(&dir.path().join(CHUNKS_DIR))? > committed,
        "the crashed flush appended nothing: the test tests nothing"
    );
    // Reopen: the uncommitted appends are gone; replay from the durable LSN.
    let limits = TsdbLimits::default();
    let store = open(dir.path(), &limits, end)?;
    assert_eq!(store.durable_lsn(), k as u64);
    assert_eq!(store.stats().chunk_file_bytes, committed);
    assert!(chunk_file_count(dir.path())? < files_before);
    assert_eq!(
        dir_bytes(&dir.path().join(CHUNKS_DIR))?,
        committed,
        "bytes past the committed lengths were truncated"
    );
    for (i, b) in work.iter().enumerate() {
        store.apply(i as u64 + 1, b)?;
        if i % 9 == 0 {
            store.flush()?;
        }
    }
    store.flush()?;
    let all = want(&series, i64::MIN, i64::MAX);
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    let chunks = store.stats().chunks;
    drop(store);
    assert_each_chunk_once(dir.path())?;
    let store = open(dir.path(), &limits, end)?;
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    assert_eq!(store.stats().chunks, chunks);

    // A never-closed store counts the same chunks.
    let other = tempfile::tempdir()?;
    let never = open(other.path(), &limits, end)?;
    for (i, b) in work.iter().enumerate() {
        never.apply(i as u64 + 1, b)?;
    }
    assert_eq!(never.stats().chunks, chunks);
    Ok(())
}

#[test]
fn a_failed_kv_batch_undoes_the_append_and_the_next_flush_lands_once() -> R {
    let dir = tempfile::tempdir()?;
    let end = T0 + 20 * HOUR;
    let series = samples(3, T0, end);
    let work = batches(&series);
    let (store, mode) = open_faulty(dir.path(), end)?;
    for (i, b) in work.iter().enumerate() {
        store.apply(i as u64 + 1, b)?;
        if i % 10 == 9 {
            mode.store(1, Ordering::SeqCst);
            assert!(store.flush().is_err());
            assert_eq!(
                dir_bytes(&dir.path().join(CHUNKS_DIR))?,
                store.stats().chunk_file_bytes,
                "the failed append was not undone"
            );
            mode.store(0, Ordering::SeqCst);
            store.flush()?;
        }
    }
    store.flush()?;
    let all = want(&series, i64::MIN, i64::MAX);
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    drop(store);
    assert_each_chunk_once(dir.path())?;
    let store = open(dir.path(), &TsdbLimits::default(), end)?;
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    Ok(())
}

#[test]
fn retention_drops_whole_slice_files_and_reads_stop_exactly_at_the_cutoff() -> R {
    let dir = tempfile::tempdir()?;
    // Rollups expire with the raw data, so that a series with raw data only before the cut
    // has nothing left.
    let limits = TsdbLimits {
        raw_retention_ms: 10 * HOUR,
        minute_retention_ms: 10 * HOUR,
        five_minute_retention_ms: 10 * HOUR,
        hour_retention_ms: 10 * HOUR,
        ..TsdbLimits::default()
    };
    let now = T0 + 30 * HOUR;
    let cut = now - limits.raw_retention_ms;
    let mut series = samples(4, T0, now);
    // A series whose samples are all before the cutoff, in a slice file that stays (the
    // slice from T0 + 14 h holds samples until T0 + 22 h): one closed chunk, one open.
    let old_from = T0 + 17 * HOUR;
    series.push((
        labels("old", 0),
        MetricKind::Gauge,
        (0..130)
            .map(|k| Sample {
                ts_ms: old_from + k * STEP,
                value: k as f64,
            })
            .collect(),
    ));
    let store = open(dir.path(), &limits, now)?;
    apply_all(&store, &series, 5)?;
    assert_eq!(
        raw(&store, i64::MIN, i64::MAX)?,
        want(&series, i64::MIN, i64::MAX)
    );
    let files_before = chunk_file_count(dir.path())?;
    let chunks_before = store.stats().chunks;
    let report = store.run_retention(now)?;
    // Slices from T0 - 4 h, T0 + 2 h and T0 + 8 h end (with a chunk span) by T0 + 16 h <= cut.
    assert_eq!(report.chunk_files_removed, 3, "{report:?}");
    assert_eq!(chunk_file_count(dir.path())?, files_before - 3);
    assert!(report.chunks_removed > 0);
    assert_eq!(report.series_removed, 1, "{report:?}");
    assert_eq!(store.stats().chunks, chunks_before - report.chunks_removed);
    let check = |store: &TsdbStore| -> R {
        assert_eq!(
            raw(store, i64::MIN, i64::MAX)?,
            want(&series, cut, i64::MAX)
        );
        // At the boundary: a range ending just before the cut is empty, one starting there
        // begins with the first sample at or after it.
        assert_eq!(raw(store, cut - HOUR, cut - 1)?, vec![]);
        assert_eq!(
            raw(store, cut - HOUR, cut + HOUR)?,
            want(&series, cut, cut + HOUR)
        );
        assert_eq!(raw(store, cut, cut)?, want(&series, cut, cut));
        assert!(store
            .series(
                &[LabelMatcher {
                    name: "__name__".to_string(),
                    op: MatchOp::Equal,
                    value: "old".to_string(),
                }],
                i64::MIN,
                i64::MAX
            )?
            .is_empty());
        Ok(())
    };
    check(&store)?;
    let (series_n, chunks) = (store.stats().series, store.stats().chunks);
    assert_eq!(series_n, 4);
    drop(store);
    let store = open(dir.path(), &limits, now)?;
    check(&store)?;
    assert_eq!(
        (store.stats().series, store.stats().chunks),
        (series_n, chunks)
    );
    // Everything expires eventually: no file, no chunk, no series left.
    let r = store.run_retention(now + 100 * HOUR)?;
    assert_eq!(r.series_removed, 4);
    assert_eq!(store.stats().chunks, 0);
    assert_eq!(chunk_file_count(dir.path())?, 0);
    Ok(())
}

#[test]
fn a_store_with_closed_chunks_in_the_kv_still_reads_and_expires() -> R {
    let dir = tempfile::tempdir()?;
    // The cut (T0 + 10 h 7 min) falls inside chunks still in the kv.
    let limits = TsdbLimits {
        raw_retention_ms: 20 * HOUR - 7 * 60_000,
        ..TsdbLimits::default()
    };
    let end = T0 + 30 * HOUR;
    let series = samples(3, T0, end);
    let work = batches(&series);
    let half = work.len() / 2;
    let store = open(dir.path(), &limits, end)?;
    for (i, b) in work.iter().enumerate().take(half) {
        store.apply(i as u64 + 1, b)?;
    }
    store.flush()?;
    drop(store);
    // Rewrite it as the store was before the chunk files: every closed chunk in the kv.
    {
        let kv = SledKv::open(&dir.path().join("kv"))?;
        let mut batch = WriteBatch::default();
        let mut n = 0;
        for c in chunkfile::scan(&dir.path().join(CHUNKS_DIR))? {
            let c = c?;
            batch.put(Tree::Chunks, id_time_key(c.series, c.first_ts), c.bytes);
            n += 1;
        }
        assert!(n > 10);
        for e in kv.scan_prefix(Tree::Meta, META_PREFIX) {
            batch.delete(Tree::Meta, e?.0);
        }
        kv.write(batch)?;
        kv.flush()?;
    }
    std::fs::remove_dir_all(dir.path().join(CHUNKS_DIR))?;
    let halfway = want(&series, i64::MIN, i64::MAX)
        .into_iter()
        .map(|(l, s)| {
            let last = work[half - 1]
                .series
                .iter()
                .flat_map(|x| x.samples.last())
                .map(|x| x.ts_ms)
                .max()
                .unwrap_or(i64::MIN);
            (l, s.into_iter().filter(|x| x.0 <= last).collect::<Vec<_>>())
        })
        .collect::<Vec<_>>();
    let store = open(dir.path(), &limits, end)?;
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, halfway);
    // It goes on: new closed chunks go to the files, the old ones stay in the kv.
    for (i, b) in work.iter().enumerate().skip(half) {
        store.apply(i as u64 + 1, b)?;
        if i % 6 == 0 {
            store.flush()?;
        }
    }
    store.flush()?;
    let all = want(&series, i64::MIN, i64::MAX);
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    drop(store);
    assert_each_chunk_once(dir.path())?;
    let store = open(dir.path(), &limits, end)?;
    assert_eq!(raw(&store, i64::MIN, i64::MAX)?, all);
    // Retention rewrites the straddling chunk in the kv and drops the rest; reads are exact.
    let report = store.run_retention(end)?;
    assert!(
        report.rewritten > 0 && report.chunks_removed > 0,
        "{report:?}"
    );
    let cut = end - limits.raw_retention_ms;
    assert_eq!(
        raw(&store, i64::MIN, i64::MAX)?,
        want(&series, cut, i64::MAX)
    );
    drop(store);
    let store = open(dir.path(), &limits, end)?;
    assert_eq!(
        raw(&store, i64::MIN, i64::MAX)?,
        want(&series, cut, i64::MAX)
    );
    Ok(())
}
