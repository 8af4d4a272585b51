//! `pharos-loadgen metrics-bench`: metrics ingest throughput, bytes on disk, and `query_range`
//! latency over a month, against the targets (≥ 500k samples/s ingested; ≤ 2 bytes
//! per raw sample; a 30-day query at a 5-minute step over 1,000 series in ≤ 100 ms p99).
//!
//! 1. **Ingest** (`data`, `ingest`, `sled_raw`, `disk`): `series` regular series (10 metrics
//!    × label combinations), `samples_per_series` samples each at `interval_s`, ending now.
//!    Per run: the raw-sled baseline (the same samples, same batches, one thread per
//!    connection), then each protocol into a fresh server: requests of about `batch`
//!    samples, series sharded over `connections` (each series' samples in order on one
//!    connection, as a remote-write sender does), pre-encoded before the timed phase;
//!    samples/s acknowledged (2xx: durable in the metrics WAL). Then SIGTERM (the server
//!    flushes), peak RSS, and the store's files read back (`disk`): samples stored, bytes per
//!    raw sample and per rollup bucket.
//! 2. **Query** (`query`): in process, over a store built directly.
//! 3. A markdown report on stdout ([`Report::markdown`]); `--output` also writes JSON.

pub mod data;
pub mod disk;
pub mod ingest;
pub mod query;
pub mod sled_raw;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use serde::Serialize;

use data::{Body, Dataset, ValueClass, METRICS};
use ingest::{IngestRun, Protocol, ServerKind};
use query::{QueryOpts, QueryReport};
use sled_raw::SledResult;

use crate::loadgen::query_bench::Machine;
use crate::loadgen::stats::{median, MIB};

/// The targets.
pub const TARGET_SAMPLES_PER_SEC: f64 = 500_000.0;
pub const TARGET_QUERY_P99_MS: f64 = 100.0;
pub const TARGET_BYTES_PER_SAMPLE: f64 = 2.0;
/// The raw retention the server applies at admission: the data must be newer.
const RAW_RETENTION_MS: i64 = 2 * 86_400_000;

#[derive(Clone, Debug)]
pub struct MetricsBenchOpts {
    pub server: ServerKind,
    pub series: usize,
    pub samples_per_series: usize,
    pub interval_s: u64,
    pub batch: usize,
    pub connections: usize,
    pub runs: usize,
    pub seed: u64,
    pub protocols: Vec<Protocol>,
    /// Run the raw-sled baseline in a child `pharos-loadgen metrics-sled-baseline` process
    /// (its memory — sled 0.34 takes ~2.6 KB per tiny entry, 19 GB for 7.2 M — is its own and
    /// returned at exit); otherwise in this process.
    pub sled_in_child: bool,
    /// How long to wait, after the last acknowledgement, for every sample to be queryable.
    pub queryable_timeout_s: u64,
    /// Whether to run the ingest part.
    pub ingest: bool,
    /// `None`: no query part.
    pub query: Option<QueryOpts>,
    pub command_line: String,
    pub output: Option<PathBuf>,
}

/// One run: the baseline and each protocol.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub run: usize,
    pub sled: SledResult,
    pub protocols: Vec<IngestRun>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub command_line: String,
    pub machine: Machine,
    pub series: usize,
    pub samples_per_series: usize,
    pub interval_s: u64,
    pub batch: usize,
    pub connections: usize,
    pub server: String,
    pub in_process: bool,
    pub sled_in_child: bool,
    pub first_ts: String,
    pub runs: Vec<Run>,
    pub query: Option<QueryReport>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn encode(ds: &Dataset, plan: &[Vec<data::Slice>], p: Protocol) -> Arc<Vec<Vec<Body>>> {
    Arc::new(
        plan.iter()
            .map(|slices| {
                slices
                    .iter()
                    .map(|s| match p {
                        Protocol::RemoteWrite => data::remote_write_body(ds, s),
                        Protocol::Otlp => data::otlp_body(ds, s),
                    })
                    .collect()
            })
            .collect(),
    )
}

/// The raw-sled baseline in a child process of this executable (the hidden subcommand
/// `metrics-sled-baseline`, which regenerates the same data set from the same parameters).
fn sled_child(o: &MetricsBenchOpts, last_ts_ms: i64) -> Result<SledResult> {
    let exe = std::env::current_exe().context("locating the pharos-loadgen executable")?;
    let out = std::process::Command::new(&exe)
        .arg("metrics-sled-baseline")
        .args(["--series", &o.series.to_string()])
        .args(["--samples-per-series", &o.samples_per_series.to_string()])
        .args(["--interval", &o.interval_s.to_string()])
        .arg(format!("--last-ts-ms={last_ts_ms}"))
        .args(["--batch", &o.batch.to_string()])
        .args(["--connections", &o.connections.to_string()])
        .args(["--seed", &o.seed.to_string()])
        .output()
        .with_context(|| format!("running {} metrics-sled-baseline", exe.display()))?;
    ensure!(
        out.status.success(),
        "metrics-sled-baseline exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .context("metrics-sled-baseline printed no JSON")?;
    serde_json::from_str(line).context("parsing the metrics-sled-baseline JSON")
}

/// The baseline alone (what `metrics-sled-baseline` runs): the data set of these parameters.
pub fn sled_baseline(
    series: usize,
    samples_per_series: usize,
    interval_s: u64,
    last_ts_ms: i64,
    batch: usize,
    connections: usize,
    seed: u64,
) -> Result<SledResult> {
    let interval_ms = i64::try_from(interval_s * 1000).context("--interval")?;
    let ds = Dataset::new(series, samples_per_series, interval_ms, last_ts_ms, seed);
    let plan = data::plan(series, samples_per_series, batch, connections);
    sled_raw::run(&ds, &plan)
}

/// Runs the benchmark; the caller prints [`Report::markdown`].
pub async fn run(o: &MetricsBenchOpts) -> Result<Report> {
    ensure!(o.runs > 0, "--runs must be at least 1");
    let interval_ms = i64::try_from(o.interval_s * 1000).context("--interval")?;
    ensure!(interval_ms > 0, "--interval must be at least 1 s");
    let span_ms = interval_ms * (o.samples_per_series as i64);
    // Everything must still be inside the raw retention when the last run sends it.
    ensure!(
        span_ms < RAW_RETENTION_MS - 6 * 3_600_000,
        "{} samples at {} s span {:.1} h: the server keeps raw samples 2 days (and rejects older ones); keep the span under 42 h",
        o.samples_per_series,
        o.interval_s,
        span_ms as f64 / 3_600_000.0
    );
    let mut runs = Vec::new();
    let mut first_ts = String::new();
    if o.ingest {
        // Aligned to the interval; ends a little before now.
        let last = (now_ms() - 60_000).div_euclid(interval_ms) * interval_ms;
        eprintln!(
            "metrics-bench: generating {} series × {} samples…",
            o.series, o.samples_per_series
        );
        let ds = Dataset::new(o.series, o.samples_per_series, interval_ms, last, o.seed);
        first_ts = pharos_collector::clock::rfc3339(ds.first_ts_ms * 1_000_000);
        let plan = data::plan(o.series, o.samples_per_series, o.batch, o.connections);
        let mut bodies = Vec::new();
        for &p in &o.protocols {
            bodies.push((p, encode(&ds, &plan, p)));
        }
        let metadata = vec![data::remote_write_metadata()];
        let hour = 3_600_000;
        let check = ingest::Check {
            // The next full hour after the last sample: the window (t - 2d, t] covers the data
            // (under 42 h), and the count can be answered from rollups.
            time_ms: (last + 1).div_euclid(hour) * hour + hour,
            expected: ds.total_samples(),
            timeout: std::time::Duration::from_secs(o.queryable_timeout_s),
        };
        for i in 0..o.runs {
            eprintln!("== metrics-bench run {}/{} ==", i + 1, o.runs);
            let sled = if o.sled_in_child {
                tokio::task::block_in_place(|| sled_child(o, last))?
            } else {
                tokio::task::block_in_place(|| sled_raw::run(&ds, &plan))?
            };
            eprintln!("{}", sled.human());
            let mut protocols = Vec::new();
            for (p, b) in &bodies {
                let prelude: &[Vec<u8>] = match p {
                    Protocol::RemoteWrite => &metadata,
                    Protocol::Otlp => &[],
                };
                let r = ingest::run(&o.server, *p, prelude, b, &check).await?;
                eprintln!("{}", r.human());
                protocols.push(r);
            }
            runs.push(Run {
                run: i + 1,
                sled,
                protocols,
            });
        }
    }
    let query = match &o.query {
        Some(q) => {
            let q = q.clone();
            Some(tokio::task::block_in_place(|| query::run(&q))?)
        }
        None => None,
    };
    let report = Report {
        command_line: o.command_line.clone(),
        machine: Machine::detect(),
        series: o.series,
        samples_per_series: o.samples_per_series,
        interval_s: o.interval_s,
        batch: o.batch,
        connections: o.connections,
        server: match &o.server {
            ServerKind::Binary { path, .. } => format!("`{} serve`", path.display()),
            ServerKind::InProcess => "the collector in the load generator's process".to_string(),
        },
        in_process: matches!(o.server, ServerKind::InProcess),
        sled_in_child: o.sled_in_child,
        first_ts,
        runs,
        query,
    };
    if let Some(path) = &o.output {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

fn fmt(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        "—".to_string()
    } else {
        format!("{v:.decimals$}")
    }
}

fn thousands(v: f64) -> String {
    if v.is_nan() {
        return "—".to_string();
    }
    let s = format!("{:.0}", v);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

impl Report {
    fn protocol_runs(&self, p: Protocol) -> Vec<&IngestRun> {
        self.runs
            .iter()
            .flat_map(|r| r.protocols.iter())
            .filter(|r| r.protocol == p)
            .collect()
    }

    fn protocols(&self) -> Vec<Protocol> {
        self.runs
            .first()
            .map(|r| r.protocols.iter().map(|p| p.protocol).collect())
            .unwrap_or_default()
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("## Metrics benchmark\n\n");
        s.push_str(&format!("`{}`\n\n", self.command_line));
        s.push_str(&format!(
            "- machine: {} cores, {}\n",
            self.machine.nproc, self.machine.cpu_model
        ));
        if !self.runs.is_empty() {
            self.ingest_markdown(&mut s);
        }
        if let Some(q) = &self.query {
            query_markdown(q, &mut s);
        }
        s
    }

    fn ingest_markdown(&self, s: &mut String) {
        let n = self.runs.len();
        let total = (self.series * self.samples_per_series) as f64;
        let counters = METRICS
            .iter()
            .filter(|m| m.class == ValueClass::Counter)
            .count();
        s.push_str(&format!(
            "- data: {} series ({} metrics × {} label combinations of `instance`, `zone`, `job`: {counters} counters, {} integer gauges, 1 float gauge), {} samples each at {} s from {} ({:.1} h, ending about a minute before the start): {} samples per ingest\n",
            thousands(self.series as f64),
            METRICS.len(),
            self.series.div_ceil(METRICS.len()),
            METRICS.len() - counters - 1,
            thousands(self.samples_per_series as f64),
            self.interval_s,
            self.first_ts,
            (self.samples_per_series as u64 * self.interval_s) as f64 / 3600.0,
            thousands(total),
        ));
        s.push_str(&format!(
            "- requests of ~{} samples over {} connections, series sharded over the connections (each series in time order on one); bodies encoded before the timed phase; remote write snappy protobuf with the metadata sent first (untimed), OTLP uncompressed protobuf to `/v1/metrics`\n",
            self.batch, self.connections
        ));
        s.push_str(&format!(
            "- server: {}, a fresh data dir per protocol and run; samples/s acknowledged = samples answered 2xx (durable in the metrics WAL) ÷ time from the first request to the last answer; 429/503 retried after Retry-After; until all queryable = ÷ time from the first request until the store has applied them all ({}, polled every {} ms)\n",
            self.server,
            if self.in_process {
                "the metrics WAL backlog is empty"
            } else {
                "PromQL `sum(count_over_time(<metric>{job=\"bench\"}[2d])) + …` over the HTTP API counts every sample"
            },
            ingest::POLL.as_millis()
        ));
        s.push_str(&format!(
            "- raw sled: sled 0.34 with its default config (1 GiB cache, a background flush every 500 ms) in a temp dir, {}; key = series (8 B BE) + ts (8 B BE), value = f64; one `apply_batch` per request of the same plan, one thread per connection, then `flush` (timed); peak RSS {} MiB (sled 0.34 holds a lot of memory per tiny entry)\n- every figure is the median of {n} run(s); ratios are per run, then the median\n\n",
            if self.sled_in_child {
                "in a child process"
            } else {
                "in the load generator's process"
            },
            fmt(
                median(
                    &self
                        .runs
                        .iter()
                        .map(|r| r.sled.peak_rss_bytes as f64 / MIB)
                        .collect::<Vec<_>>()
                ),
                0
            )
        ));
        s.push_str("### Ingest\n\n| path | samples/s acknowledged | vs raw sled | target ≥ 500,000 samples/s | samples/s until all queryable | 429/503 retries | MB sent | server peak RSS | stored ÷ sent |\n|---|---:|---:|---|---:|---:|---:|---:|---:|\n");
        let sled_rate = median(
            &self
                .runs
                .iter()
                .map(|r| r.sled.samples_per_sec)
                .collect::<Vec<_>>(),
        );
        s.push_str(&format!(
            "| raw sled (baseline) | {} | 1.00 | — | — | — | — | — | — |\n",
            thousands(sled_rate),
        ));
        for p in self.protocols() {
            let rs = self.protocol_runs(p);
            let med = |f: &dyn Fn(&IngestRun) -> Option<f64>| {
                median(&rs.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
            };
            let ratio = median(
                &self
                    .runs
                    .iter()
                    .filter_map(|r| {
                        r.protocols
                            .iter()
                            .find(|x| x.protocol == p)
                            .map(|x| x.samples_per_sec / r.sled.samples_per_sec)
                    })
                    .collect::<Vec<_>>(),
            );
            let rate = med(&|r| Some(r.samples_per_sec));
            let stored = med(&|r| Some(r.store.raw_samples as f64 / r.samples_sent.max(1) as f64));
            s.push_str(&format!(
                "| {} | {} | {} | {} ({:.2}× target) | {} | {} | {} | {} | {} |\n",
                p.name(),
                thousands(rate),
                fmt(ratio, 2),
                verdict(rate >= TARGET_SAMPLES_PER_SEC),
                rate / TARGET_SAMPLES_PER_SEC,
                thousands(med(&|r| r.queryable_per_sec)),
                fmt(med(&|r| Some(r.retries as f64)), 0),
                fmt(med(&|r| Some(r.wire_bytes as f64 / 1e6)), 1),
                {
                    let v = med(&|r| r.server_peak_rss_bytes.map(|b| b as f64 / MIB));
                    if v.is_nan() {
                        "—".to_string()
                    } else {
                        format!("{v:.0} MiB")
                    }
                },
                fmt(stored, 4),
            ));
        }
        let unclean = self
            .runs
            .iter()
            .flat_map(|r| &r.protocols)
            .filter(|r| !r.clean_shutdown)
            .count();
        let lost = self
            .runs
            .iter()
            .flat_map(|r| &r.protocols)
            .filter(|r| r.store.raw_samples != r.samples_sent || r.samples_rejected > 0)
            .count();
        if unclean > 0 {
            s.push_str(&format!(
                "\n**{unclean} server(s) did not exit cleanly after SIGTERM.**\n"
            ));
        }
        if lost > 0 {
            s.push_str(&format!(
                "\n**{lost} ingest run(s) stored a different number of samples than were sent (or had some rejected).**\n"
            ));
        }
        s.push_str(&format!(
            "\n### Disk, after SIGTERM (the server flushes)\n\nPer raw sample = ÷ the {} samples stored; per bucket = ÷ the buckets stored (counted by decoding the blocks). Encoded = the store's keys + values in that tree; sled = sled's `size_on_disk()`; files = the files under the directory.\n\n",
            thousands(total)
        ));
        s.push_str("| figure | ");
        let protocols = self.protocols();
        for p in &protocols {
            s.push_str(&format!("{} | ", p.name()));
        }
        s.push_str("target |\n|---|");
        for _ in &protocols {
            s.push_str("---:|");
        }
        s.push_str("---|\n");
        type Fig = fn(&IngestRun) -> f64;
        let rows: [(&str, Fig, Option<f64>); 12] = [
            (
                "raw chunks on disk (chunk files + open chunks in sled), B per raw sample",
                |r| r.store.chunk_bytes_per_sample(),
                Some(TARGET_BYTES_PER_SAMPLE),
            ),
            (
                "whole store, encoded (chunks, rollups, index), B per raw sample",
                |r| r.store.encoded_bytes as f64 / r.store.raw_samples.max(1) as f64,
                None,
            ),
            (
                // Not the raw chunks' figure any more: sled holds the open chunks, the
                // rollups and the index (the closed chunks are in the chunk files).
                "sled size_on_disk (open chunks, rollups, index), B per raw sample",
                |r| r.store.sled_size_on_disk as f64 / r.store.raw_samples.max(1) as f64,
                None,
            ),
            (
                "store files, B per raw sample",
                |r| r.store.files_bytes as f64 / r.store.raw_samples.max(1) as f64,
                None,
            ),
            (
                "data dir (with WALs, log index), B per raw sample",
                |r| r.data_dir_bytes as f64 / r.store.raw_samples.max(1) as f64,
                None,
            ),
            (
                "1-minute rollups, encoded, B per bucket",
                |r| r.store.minute_bytes_per_bucket(),
                None,
            ),
            (
                "1-hour rollups, encoded, B per bucket",
                |r| r.store.hour_bytes_per_bucket(),
                None,
            ),
            (
                "index (series, labels, postings), encoded, B per series",
                |r| r.store.index_bytes as f64 / r.store.series.max(1) as f64,
                None,
            ),
            (
                "sled size_on_disk, MiB",
                |r| r.store.sled_size_on_disk as f64 / MIB,
                None,
            ),
            (
                "store encoded, MiB",
                |r| r.store.encoded_bytes as f64 / MIB,
                None,
            ),
            ("data dir, MiB", |r| r.data_dir_bytes as f64 / MIB, None),
            (
                "metrics WAL left, MiB",
                |r| r.metrics_wal_bytes as f64 / MIB,
                None,
            ),
        ];
        for (name, f, target) in rows {
            s.push_str(&format!("| {name} | "));
            let mut vals = Vec::new();
            for p in &protocols {
                let v = median(
                    &self
                        .protocol_runs(*p)
                        .iter()
                        .map(|r| f(r))
                        .collect::<Vec<_>>(),
                );
                vals.push(v);
                s.push_str(&format!("{} | ", fmt(v, 2)));
            }
            match target {
                Some(t) => s.push_str(&format!(
                    "≤ {t} B (Prometheus ~1.3): {} |\n",
                    verdict(vals.iter().all(|v| *v <= t))
                )),
                None => s.push_str("— |\n"),
            }
        }
        let classes: Vec<ValueClass> = self
            .runs
            .first()
            .and_then(|r| r.protocols.first())
            .map(|r| r.store.chunks_by_class.keys().copied().collect())
            .unwrap_or_default();
        for c in classes {
            s.push_str(&format!(
                "| raw chunks of the {}, B per sample | ",
                c.name()
            ));
            for p in &protocols {
                let v = median(
                    &self
                        .protocol_runs(*p)
                        .iter()
                        .filter_map(|r| r.store.chunks_by_class.get(&c))
                        .map(|t| t.bytes as f64 / t.entries.max(1) as f64)
                        .collect::<Vec<_>>(),
                );
                s.push_str(&format!("{} | ", fmt(v, 2)));
            }
            s.push_str("— |\n");
        }
        let sled_sz = median(
            &self
                .runs
                .iter()
                .map(|r| r.sled.size_on_disk as f64 / r.sled.samples.max(1) as f64)
                .collect::<Vec<_>>(),
        );
        let sled_files = median(
            &self
                .runs
                .iter()
                .map(|r| r.sled.files_bytes as f64 / r.sled.samples.max(1) as f64)
                .collect::<Vec<_>>(),
        );
        s.push_str(&format!(
            "\nRaw sled baseline (24 B of key + value per sample, no compression): size_on_disk {} B per sample, files {} B per sample.\n",
            fmt(sled_sz, 1),
            fmt(sled_files, 1)
        ));
    }
}

fn query_markdown(q: &QueryReport, s: &mut String) {
    let o = &q.opts;
    s.push_str(&format!(
        "\n### query_range over {} days at a {}-minute step\n\n",
        o.days,
        o.step_s as f64 / 60.0
    ));
    s.push_str(&format!(
        "- in process: a store built with `TsdbStore::open` + `apply` + `flush` (a `ManualClock` following the data): {} series of the counter `{}` and {} of the gauge `{}`, a sample every {} s (not the ingest's 15 s, to keep the build quick) for {} days ending at {}: {} samples applied in {:.1} s ({} samples/s in process); then retention at that time as production runs it (raw 2 days, 1-minute rollups 30 days, 5-minute 90 days, 1-hour 400 days) in {:.1} s; store {:.1} MiB on disk after it{}\n",
        thousands(o.series as f64),
        METRICS[0].name,
        thousands(o.series as f64),
        METRICS[5].name,
        o.interval_s,
        o.days,
        q.now,
        thousands(q.samples_applied as f64),
        q.build_secs,
        thousands(q.build_samples_per_sec),
        q.retention_secs,
        q.disk_bytes as f64 / MIB,
        if o.reuse && q.samples_applied == 0 {
            " (this run reused a store an earlier run built: build figures not measured)"
        } else {
            ""
        },
    ));
    s.push_str(&format!(
        "- `pharos_query::promql::range_query` from now − {} days to now, step {} s, default options (rollups allowed); 1 warm-up (\"first run\": the cold figure), then {} timed runs; p99 nearest-rank{}\n- decoded 5-minute block cache (`metrics.rollup_cache_mb`) {} MiB; after the last query it held {} entries, {:.1} MiB\n- read = what the store was asked for in one evaluation (recorded by a wrapper around the store): the planner's choice; \"in the store's read\" = the wall time of the reads, the per-series evaluation done while reading included (reads side by side, a `sum`'s parts, counted once)\n\n",
        o.days,
        o.step_s,
        o.runs,
        if o.runs < 100 { " (below 100 runs: the slowest run)" } else { "" },
        o.rollup_cache_mb,
        thousands(q.cache_entries as f64),
        q.cache_bytes as f64 / MIB,
    ));
    s.push_str("| query | first run | p50 | p99 | target p99 ≤ 100 ms | of p50: in the store's read | result | read |\n|---|---:|---:|---:|---|---:|---|---|\n");
    for r in &q.rows {
        let reads: Vec<String> = r
            .reads
            .iter()
            .map(|x| {
                format!(
                    "{}: {} series, {} points",
                    x.resolution,
                    thousands(x.series as f64),
                    thousands(x.points as f64)
                )
            })
            .collect();
        s.push_str(&format!(
            "| `{}` | {:.1} ms | {:.1} ms | {:.1} ms | {} ({:.2}× target) | {:.1} ms | {} series, {} points | {} |\n",
            r.query.replace('|', "\\|"),
            r.first_ms,
            r.p50_ms,
            r.p99_ms,
            verdict(r.p99_ms <= TARGET_QUERY_P99_MS),
            r.p99_ms / TARGET_QUERY_P99_MS,
            r.store_p50_ms,
            thousands(r.result_series as f64),
            thousands(r.result_points as f64),
            if reads.is_empty() {
                "nothing".to_string()
            } else {
                reads.join("; ")
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole benchmark at a tiny size, the collector in process (the CLI starts the real
    /// binary): every sample sent is acknowledged and stored, the disk and query figures are
    /// there, and the range queries read 5-minute rollups.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tiny_metrics_bench_runs_end_to_end() {
        let opts = MetricsBenchOpts {
            server: ServerKind::InProcess,
            series: 40,
            samples_per_series: 240,
            interval_s: 15,
            batch: 500,
            connections: 2,
            runs: 1,
            seed: 1,
            protocols: vec![Protocol::RemoteWrite, Protocol::Otlp],
            queryable_timeout_s: 60,
            sled_in_child: false,
            ingest: true,
            query: Some(QueryOpts {
                series: 20,
                days: 2,
                interval_s: 60,
                step_s: 300,
                runs: 3,
                seed: 1,
                data_dir: None,
                reuse: false,
                rollup_cache_mb: 16,
            }),
            command_line: "pharos-loadgen metrics-bench (test)".to_string(),
            output: None,
        };
        let report = run(&opts).await.expect("metrics bench");
        let md = report.markdown();
        assert_eq!(report.runs.len(), 1, "{md}");
        let run = &report.runs[0];
        assert_eq!(run.sled.samples, 9_600, "{md}");
        assert_eq!(run.protocols.len(), 2, "{md}");
        for p in &run.protocols {
            assert_eq!(p.samples_sent, 9_600, "{md}");
            assert_eq!(p.samples_acked, 9_600, "{md}");
            assert_eq!(p.store.raw_samples, 9_600, "{:?}: {md}", p.protocol);
            assert_eq!(p.store.series, 40, "{:?}: {md}", p.protocol);
            assert!(
                p.store.minute_buckets > 0 && p.store.hour_buckets > 0,
                "{md}"
            );
            assert_eq!(p.store.chunks_by_class.len(), 3, "{md}");
            assert!(p.samples_per_sec > 0.0 && p.clean_shutdown, "{md}");
        }
        let q = report.query.as_ref().expect("query part");
        assert_eq!(q.rows.len(), 3, "{md}");
        let series: Vec<usize> = q.rows.iter().map(|r| r.result_series).collect();
        assert_eq!(series, vec![1, 20, 20], "{md}");
        for r in &q.rows {
            assert!(r.result_points > 0 && r.p99_ms > 0.0, "{md}");
            // Every window is whole 5-minute buckets: nothing falls back to raw (`sum` reads
            // in label order, one read per part of the steps).
            assert!(
                !r.reads.is_empty()
                    && r.reads
                        .iter()
                        .all(|x| x.resolution.starts_with("5-minute rollups (columnar")),
                "{}: {:?}",
                r.query,
                r.reads
            );
        }
        for needle in [
            "## Metrics benchmark",
            "| remote write |",
            "| OTLP/HTTP protobuf |",
            "raw chunks on disk (chunk files + open chunks in sled), B per raw sample",
            "1-minute rollups, encoded, B per bucket",
            "`sum(rate(bench_http_requests_total[5m]))`",
        ] {
            assert!(md.contains(needle), "{needle} missing from:\n{md}");
        }
    }
}
