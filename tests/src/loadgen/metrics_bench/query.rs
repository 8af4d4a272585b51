//! `query_range` over a month of data, in process: a store built directly (`TsdbStore::open`,
//! `apply`, `flush`; its clock a [`ManualClock`] that follows the data), `days` days ending at
//! the fixed [`NOW_MS`], then retention at that "now" as production runs it (raw samples kept
//! 2 days, 1-minute rollups 30 days, 1-hour rollups 400 days). Then each query runs once to
//! warm up and `runs` times timed through `pharos_query::promql::range_query` with a step of
//! `step_s`. A wrapper around the store records what each evaluation read (resolution,
//! series, points): that is the planner's choice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use parking_lot::Mutex;
use pharos_collector::clock::{rfc3339, Clock, ManualClock, SharedClock};
use pharos_collector::tsdb::{
    ColumnSet, DistributionSeries, LabelMatcher, Labels, MetricBatch, MetricKind, MetricStore,
    Points, Resolution, RollupColumns, RollupVisitor, Sample, SelectRequest, SeriesData,
    SeriesSamples, SortedRollupVisitor, TsdbError, TsdbLimits, TsdbStore,
};
use pharos_query::promql::{range_query, PromOptions};
use serde::Serialize;

use super::data::{MetricDef, ValueGen, JOB, METRICS};
use crate::loadgen::stats::{per_sec, percentile, MIB};

/// The benchmark's "now": 2026-01-31T00:00:00Z (hour aligned, so 5-minute steps are aligned).
pub const NOW_MS: i64 = 20_484 * 86_400_000;
/// The counter and the gauge the queries read (from the ingest data set's metrics).
const COUNTER: usize = 0;
const GAUGE: usize = 5;
/// Samples of each series per `apply` (one WAL record's worth), and `apply`s per `flush`.
const SAMPLES_PER_APPLY: usize = 60;
const APPLIES_PER_FLUSH: usize = 6;

#[derive(Clone, Debug, Serialize)]
pub struct QueryOpts {
    /// Series of the counter and, as many again, of the gauge.
    pub series: usize,
    pub days: u32,
    pub interval_s: u64,
    pub step_s: u64,
    pub runs: usize,
    pub seed: u64,
    /// Where the store is built (default: a temp dir, removed at the end).
    pub data_dir: Option<PathBuf>,
    /// With `data_dir` holding a store this benchmark built before (same options): open it
    /// instead of building again (only the queries run).
    #[serde(default)]
    pub reuse: bool,
    /// The store's decoded-block cache (`metrics.rollup_cache_mb`), MiB.
    pub rollup_cache_mb: usize,
}

/// One query's timings.
#[derive(Clone, Debug, Serialize)]
pub struct QueryRow {
    pub query: String,
    /// The warm-up: the query's first run in this process (cold decoding paths; after a
    /// reused store's open, nothing of it is in the store's caches).
    pub first_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub result_series: usize,
    pub result_points: usize,
    /// Median over the timed runs of the time spent inside the store's `select` (the rest is
    /// the engine's evaluation).
    pub store_p50_ms: f64,
    /// What the store was asked for in one evaluation: resolution, series and points read.
    pub reads: Vec<Read>,
    /// Every timed run in order (where a tail comes from: periodic, or right after the
    /// warm-up).
    pub runs_ms: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Read {
    pub resolution: String,
    pub series: usize,
    pub points: usize,
    pub ms: f64,
    /// When it ran (reads of one evaluation may run side by side: a `sum`'s parts).
    #[serde(skip)]
    pub span: (Instant, Instant),
}

/// Wall time covered by reads (overlapping ones counted once), ms.
fn reads_wall_ms(reads: &[Read]) -> f64 {
    let mut spans: Vec<(Instant, Instant)> = reads.iter().map(|r| r.span).collect();
    spans.sort();
    let mut total = 0.0;
    let mut current: Option<(Instant, Instant)> = None;
    for (from, to) in spans {
        current = match current {
            Some((f, t)) if from <= t => Some((f, t.max(to))),
            Some((f, t)) => {
                total += (t - f).as_secs_f64();
                Some((from, to))
            }
            None => Some((from, to)),
        };
    }
    if let Some((f, t)) = current {
        total += (t - f).as_secs_f64();
    }
    total * 1000.0
}

#[derive(Clone, Debug, Serialize)]
pub struct QueryReport {
    pub opts: QueryOpts,
    pub now: String,
    pub samples_applied: u64,
    /// `apply` + `flush` of every sample, then retention.
    pub build_secs: f64,
    pub build_samples_per_sec: f64,
    pub retention_secs: f64,
    /// After retention: sled's size and the raw chunks left.
    pub disk_bytes: u64,
    pub chunks_left: u64,
    /// The decoded-block cache after the last query.
    pub cache_entries: usize,
    pub cache_bytes: usize,
    pub rows: Vec<QueryRow>,
}

/// The store, recording each `select`'s resolution and size.
struct Recording {
    inner: Arc<TsdbStore>,
    reads: Mutex<Vec<Read>>,
}

fn res_name(r: Resolution) -> &'static str {
    match r {
        Resolution::Raw => "raw",
        Resolution::Minute => "1-minute rollups",
        Resolution::FiveMinute => "5-minute rollups",
        Resolution::Hour => "1-hour rollups",
    }
}

impl MetricStore for Recording {
    fn select(&self, req: &SelectRequest) -> Result<Vec<SeriesData>, TsdbError> {
        let t = Instant::now();
        let out = self.inner.select(req)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let points = out
            .iter()
            .map(|s| match &s.points {
                Points::Raw(v) => v.len(),
                Points::Rollup(_, v) => v.len(),
            })
            .sum();
        self.reads.lock().push(Read {
            resolution: res_name(req.resolution).to_string(),
            series: out.len(),
            points,
            ms,
            span: (t, Instant::now()),
        });
        Ok(out)
    }
    fn visit_rollups(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &RollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        // The visitor evaluates while the store decodes: "in the store" here is the whole
        // columnar read, evaluation of the series included.
        let t = Instant::now();
        let series = AtomicUsize::new(0);
        let points = AtomicUsize::new(0);
        let counting = |l: &Labels, k: MetricKind, c: &RollupColumns| {
            series.fetch_add(1, Ordering::Relaxed);
            points.fetch_add(c.len(), Ordering::Relaxed);
            visit(l, k, c);
        };
        self.inner.visit_rollups(req, cols, &counting)?;
        self.reads.lock().push(Read {
            resolution: format!("{} (columnar)", res_name(req.resolution)),
            series: series.into_inner(),
            points: points.into_inner(),
            ms: t.elapsed().as_secs_f64() * 1000.0,
            span: (t, Instant::now()),
        });
        Ok(())
    }
    fn visit_rollups_sorted(
        &self,
        req: &SelectRequest,
        cols: ColumnSet,
        visit: &mut SortedRollupVisitor<'_>,
    ) -> Result<(), TsdbError> {
        // Called from several threads at once (one per part of the steps): one read each.
        let t = Instant::now();
        let (mut series, mut points) = (0usize, 0usize);
        let mut counting = |l: &Labels, k: MetricKind, c: &RollupColumns| {
            series += 1;
            points += c.len();
            visit(l, k, c);
        };
        self.inner.visit_rollups_sorted(req, cols, &mut counting)?;
        self.reads.lock().push(Read {
            resolution: format!("{} (columnar, in label order)", res_name(req.resolution)),
            series,
            points,
            ms: t.elapsed().as_secs_f64() * 1000.0,
            span: (t, Instant::now()),
        });
        Ok(())
    }
    fn select_distributions(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        resolution: Resolution,
    ) -> Result<Vec<DistributionSeries>, TsdbError> {
        self.inner
            .select_distributions(matchers, start_ms, end_ms, resolution)
    }
    fn series(&self, m: &[LabelMatcher], s: i64, e: i64) -> Result<Vec<Labels>, TsdbError> {
        self.inner.series(m, s, e)
    }
    fn label_names(&self, m: &[LabelMatcher], s: i64, e: i64) -> Result<Vec<String>, TsdbError> {
        self.inner.label_names(m, s, e)
    }
    fn label_values(
        &self,
        name: &str,
        m: &[LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<String>, TsdbError> {
        self.inner.label_values(name, m, s, e)
    }
}

fn labels(def: &MetricDef, combo: usize) -> Result<Labels> {
    Labels::new([
        ("__name__".to_string(), def.name.to_string()),
        (
            "instance".to_string(),
            format!("host-{:03}", combo / super::data::ZONES.len()),
        ),
        ("job".to_string(), JOB.to_string()),
        (
            "zone".to_string(),
            super::data::ZONES[combo % super::data::ZONES.len()].to_string(),
        ),
    ])
    .context("series labels")
}

/// The queries, with the counter's and gauge's names.
pub fn queries() -> Vec<String> {
    let c = METRICS[COUNTER].name;
    let g = METRICS[GAUGE].name;
    vec![
        format!("sum(rate({c}[5m]))"),
        format!("rate({c}{{job=\"{JOB}\"}}[5m])"),
        format!("max_over_time({g}[1h])"),
    ]
}

/// Builds the store in `dir`; returns (samples applied, build seconds, retention seconds).
fn build(store: &TsdbStore, clock: &ManualClock, o: &QueryOpts) -> Result<(u64, f64, f64)> {
    let interval_ms = i64::try_from(o.interval_s * 1000).context("interval")?;
    let total = (i64::from(o.days) * 86_400_000 / interval_ms) as usize;
    // Samples at NOW - (total - 1 - i) * interval: the last one at "now".
    let first = NOW_MS - (total as i64 - 1) * interval_ms;
    let mut series: Vec<(Labels, MetricKind, ValueGen)> = Vec::with_capacity(2 * o.series);
    for (m, kind) in [(COUNTER, MetricKind::Counter), (GAUGE, MetricKind::Gauge)] {
        for combo in 0..o.series {
            series.push((
                labels(&METRICS[m], combo)?,
                kind,
                ValueGen::new(&METRICS[m], combo, o.seed),
            ));
        }
    }
    let start = Instant::now();
    let mut lsn = 0u64;
    let mut applied = 0u64;
    let mut from = 0usize;
    while from < total {
        let to = (from + SAMPLES_PER_APPLY).min(total);
        let mut batch = MetricBatch::default();
        for (l, kind, g) in &mut series {
            batch.series.push(SeriesSamples {
                labels: l.clone(),
                kind: *kind,
                samples: (from..to)
                    .map(|i| Sample {
                        ts_ms: first + i as i64 * interval_ms,
                        value: g.next_value(),
                    })
                    .collect(),
            });
        }
        applied += batch.sample_count() as u64;
        clock.set((first + (to as i64 - 1) * interval_ms) * 1_000_000);
        lsn += 1;
        store.apply(lsn, &batch)?;
        if lsn.is_multiple_of(APPLIES_PER_FLUSH as u64) {
            store.flush()?;
        }
        from = to;
    }
    store.flush()?;
    let build_secs = start.elapsed().as_secs_f64();
    clock.set(NOW_MS * 1_000_000);
    let start = Instant::now();
    store.run_retention(NOW_MS)?;
    store.flush()?;
    Ok((applied, build_secs, start.elapsed().as_secs_f64()))
}

fn time_query(store: &Recording, q: &str, o: &QueryOpts) -> Result<QueryRow> {
    let step_ms = i64::try_from(o.step_s * 1000).context("step")?;
    let start_ms = NOW_MS - i64::from(o.days) * 86_400_000;
    let opts = PromOptions::default();
    store.reads.lock().clear();
    let t = Instant::now();
    let warm = range_query(store, q, start_ms, NOW_MS, step_ms, &opts)
        .with_context(|| format!("query_range {q}"))?;
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let reads = std::mem::take(&mut *store.reads.lock());
    // Dropped before the timed runs, as a server drops a result once it is sent: held, it
    // made the first timed run allocate (and fault in) a second result's memory.
    let (result_series, result_points) = (
        warm.len(),
        warm.iter().map(|s| s.points.len()).sum::<usize>(),
    );
    drop(warm);
    let mut ms = Vec::with_capacity(o.runs);
    let mut store_ms = Vec::with_capacity(o.runs);
    for _ in 0..o.runs {
        let t = Instant::now();
        let r = range_query(store, q, start_ms, NOW_MS, step_ms, &opts)
            .with_context(|| format!("query_range {q}"))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(r);
        store_ms.push(reads_wall_ms(&std::mem::take(&mut *store.reads.lock())));
    }
    Ok(QueryRow {
        query: q.to_string(),
        first_ms,
        p50_ms: percentile(&ms, 50.0),
        p99_ms: percentile(&ms, 99.0),
        max_ms: percentile(&ms, 100.0),
        result_series,
        result_points,
        store_p50_ms: percentile(&store_ms, 50.0),
        reads,
        runs_ms: ms,
    })
}

pub fn run(o: &QueryOpts) -> Result<QueryReport> {
    ensure!(o.series > 0 && o.days > 0 && o.interval_s > 0 && o.step_s > 0 && o.runs > 0);
    let temp;
    let dir = match &o.data_dir {
        Some(d) => {
            ensure!(
                o.reuse || !d.join("kv").exists(),
                "{} already holds a store: pass an empty or new directory (or reuse it)",
                d.display()
            );
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("pharos-mbench-query-")
                .tempdir()
                .context("creating a temp dir")?;
            temp.path().join("store")
        }
    };
    let clock = ManualClock::new(0);
    let shared: SharedClock = Arc::new(clock.clone());
    let limits = TsdbLimits {
        rollup_cache_bytes: o.rollup_cache_mb.saturating_mul(1 << 20),
        ..TsdbLimits::default()
    };
    let store = Arc::new(TsdbStore::open(&dir, limits, shared)?);
    eprintln!(
        "metrics-bench: building a store of 2 × {} series × {} days at {} s…",
        o.series, o.days, o.interval_s
    );
    let (applied, build_secs, retention_secs) = if o.reuse && store.stats().series > 0 {
        eprintln!("metrics-bench: reusing the store in {}", dir.display());
        clock.set(NOW_MS * 1_000_000);
        (0, 0.0, 0.0)
    } else {
        build(&store, &clock, o)?
    };
    let stats = store.stats();
    eprintln!(
        "metrics-bench: {applied} samples applied in {build_secs:.1} s, retention {retention_secs:.1} s; store {:.1} MiB, {} chunks left; now {}",
        stats.disk_bytes as f64 / MIB,
        stats.chunks,
        rfc3339(clock.now_ns())
    );
    let rec = Recording {
        inner: store,
        reads: Mutex::new(Vec::new()),
    };
    let mut rows = Vec::new();
    for q in queries() {
        let row = time_query(&rec, &q, o)?;
        eprintln!(
            "metrics-bench: {q}: first run {:.1} ms, p50 {:.1} ms, p99 {:.1} ms; {} series, {} points; read {:?}",
            row.first_ms, row.p50_ms, row.p99_ms, row.result_series, row.result_points, row.reads
        );
        rows.push(row);
    }
    let cache = rec.inner.cache_stats();
    eprintln!(
        "metrics-bench: rollup cache {} blocks, {:.1} MiB of {} MiB",
        cache.entries,
        cache.bytes as f64 / MIB,
        o.rollup_cache_mb
    );
    Ok(QueryReport {
        cache_entries: cache.entries,
        cache_bytes: cache.bytes,
        opts: o.clone(),
        now: rfc3339(NOW_MS * 1_000_000),
        samples_applied: applied,
        build_secs,
        build_samples_per_sec: per_sec(
            applied as f64,
            std::time::Duration::from_secs_f64(build_secs),
        ),
        retention_secs,
        disk_bytes: stats.disk_bytes,
        chunks_left: stats.chunks,
        rows,
    })
}
