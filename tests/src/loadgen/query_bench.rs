//! `pharos-loadgen query-bench`: the latency of Pharos's log queries against raw tantivy on
//! the same partitions.
//!
//! 1. A corpus of `records` generated records, their timestamps spread evenly over `days`
//!    consecutive UTC days from [`EPOCH_DAY`] (2026-01-01), is ingested through a real
//!    collector (normaliser, WAL, indexer; one partition per day) in batches of
//!    [`BATCH`]. The collector's clock follows the records, as if they arrived live, so each
//!    day is written by the full-size writer of the newest partition. A finished corpus is
//!    marked with [`MARKER_FILE`] (records, days, seed, index format) and reused by later
//!    runs over the same `--data-dir`.
//! 2. Each query runs once to warm up, then `runs` times, alternating Pharos
//!    (`pharos_query::exec::run`, or correlate) and a hand-written tantivy equivalent over
//!    the same partitions (`store.overlapping`): term/regex/phrase queries with
//!    `TopDocs::order_by_fast_field("ts")` + `Count` per partition, tantivy's aggregation
//!    framework for `stats` and `timechart`. Both sides skip the time filter on partitions
//!    that lie inside the range, and both stop collecting top hits (and only count) on a
//!    partition that cannot beat the hits in hand.
//! 3. The warm-up results of both sides are compared (totals, returned timestamps, groups);
//!    a difference is a mismatch, printed loudly and reported.
//!
//! "now" is the end of the last day, so "the last 24 h" is the newest partition.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use pharos_collector::clock::{rfc3339, Clock, ManualClock, NANOS_PER_DAY};
use pharos_collector::config::CollectorConfig;
use pharos_collector::index::store::dir_bytes;
use pharos_collector::index::{LogStore, PartitionHandle, INDEX_FORMAT_VERSION};
use pharos_collector::ingest::IngestError;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::record::LogRecord;
use pharos_collector::Collector;
use pharos_query::exec::{QueryRequest, QueryResult};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults;
use tantivy::aggregation::{
    AggContextParams, AggregationLimitsGuard, DistributedAggregationCollector,
};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Schema, Value as _};
use tantivy::tokenizer::TokenizerManager;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use crate::gen::{parse_rfc3339_ns, Generator, Record, SERVICES};
use crate::loadgen::stats::{median, per_sec, percentile, MIB};

/// First day of the corpus: 2026-01-01 (days since the Unix epoch).
pub const EPOCH_DAY: i64 = 20_454;
/// Records per append (one WAL write and fsync each).
pub const BATCH: usize = 5_000;
/// Written into the data dir once the corpus is complete.
pub const MARKER_FILE: &str = "query-bench.json";
/// Present while a corpus is being generated: its data dir may be wiped and regenerated.
const GENERATING_FILE: &str = "query-bench.generating";
/// Records the choice of words and ids is made from (the first ones of the corpus).
const SAMPLE: usize = 50_000;
/// Hits returned by the search queries.
const HITS: usize = 100;
/// Most records correlate returns.
const CORRELATE_LIMIT: usize = 1_000;
/// Appends wait while more records than this wait to be indexed.
const MAX_BACKLOG: u64 = 200_000;
/// Records hashed into [`CorpusSpec::generator`].
const FINGERPRINT_RECORDS: usize = 1_000;
const HOUR_NS: i64 = NANOS_PER_DAY / 24;

#[derive(Clone, Debug)]
pub struct QueryBenchOpts {
    pub records: usize,
    pub days: u32,
    pub runs: usize,
    /// Kept after the run and reused when it holds this corpus; `None` = a temporary dir.
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
    /// JSON summary file (the markdown goes to stdout).
    pub output: Option<PathBuf>,
    /// The command line, printed above the table.
    pub command_line: String,
}

/// What identifies a corpus (and its marker file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorpusSpec {
    pub records: usize,
    pub days: u32,
    pub seed: u64,
    pub start_ns: i64,
    pub index_format: u32,
    /// Hash of the first generated lines: a corpus made by a generator that has changed
    /// since is not reused.
    pub generator: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Marker {
    #[serde(flatten)]
    pub spec: CorpusSpec,
    pub ingest_secs: f64,
    pub shutdown_secs: f64,
}

impl CorpusSpec {
    pub fn new(records: usize, days: u32, seed: u64) -> CorpusSpec {
        let mut spec = CorpusSpec {
            records,
            days,
            seed,
            start_ns: EPOCH_DAY * NANOS_PER_DAY,
            index_format: INDEX_FORMAT_VERSION,
            generator: String::new(),
        };
        // FNV-1a over the first lines (stable across builds, unlike std's hasher).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for r in spec.records().take(FINGERPRINT_RECORDS) {
            for b in r.to_ndjson().bytes().chain(std::iter::once(b'\n')) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        spec.generator = format!("{h:016x}");
        spec
    }

    /// Exclusive end of the data, and the benchmark's "now".
    pub fn end_ns(&self) -> i64 {
        self.start_ns + i64::from(self.days) * NANOS_PER_DAY
    }

    /// Timestamp of record `i`: the middle of its slot of an even split of the days, cut to
    /// milliseconds (the NDJSON line carries milliseconds).
    pub fn ts(&self, i: usize) -> i64 {
        let span = i128::from(self.end_ns() - self.start_ns);
        let n = self.records.max(1) as i128;
        let off = ((2 * i as i128 + 1) * span / (2 * n)) as i64;
        let ts = self.start_ns + off;
        ts - ts.rem_euclid(1_000_000)
    }

    /// The generator's records, restamped.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        Generator::with_start(self.seed, self.start_ns)
            .take(self.records)
            .enumerate()
            .map(|(i, mut r)| {
                r.ts_ns = self.ts(i);
                r
            })
    }
}

// ---------------------------------------------------------------------------------------
// Corpus generation
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize)]
pub struct CorpusInfo {
    pub reused: bool,
    /// Generation + normalisation + WAL + indexing until everything was searchable.
    pub ingest_secs: f64,
    pub ingest_records_per_sec: f64,
    /// Final commit and merges at shutdown.
    pub shutdown_secs: f64,
}

fn collector_config(data_dir: &Path) -> CollectorConfig {
    let mut cfg = CollectorConfig::default();
    cfg.storage.data_dir = data_dir.to_path_buf();
    // The corpus lies in the past of the wall clock; nothing may expire it.
    cfg.retention.days = 36_500;
    cfg.retention.keep_errors_days = 0;
    cfg.ingest.min_free_disk_bytes = 0;
    cfg.ingest.max_future_secs = 0;
    cfg
}

/// Makes sure `data_dir` holds the corpus: reuses a finished one, else (re)generates it.
pub fn ensure_corpus(data_dir: &Path, spec: &CorpusSpec) -> Result<CorpusInfo> {
    let marker_path = data_dir.join(MARKER_FILE);
    if marker_path.exists() {
        let text = std::fs::read_to_string(&marker_path)
            .with_context(|| format!("reading {}", marker_path.display()))?;
        let marker: Marker = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is from another version of query-bench: remove {} or pass another --data-dir",
                marker_path.display(),
                data_dir.display()
            )
        })?;
        if marker.spec != *spec {
            bail!(
                "{} holds another corpus ({:?}, this run wants {:?}): remove it or pass another --data-dir",
                data_dir.display(),
                marker.spec,
                spec
            );
        }
        eprintln!(
            "query-bench: reusing the corpus in {} ({} records, {} days, seed {})",
            data_dir.display(),
            spec.records,
            spec.days,
            spec.seed
        );
        return Ok(CorpusInfo {
            reused: true,
            ingest_secs: marker.ingest_secs,
            ingest_records_per_sec: per_sec(
                spec.records as f64,
                Duration::from_secs_f64(marker.ingest_secs),
            ),
            shutdown_secs: marker.shutdown_secs,
        });
    }
    let generating = data_dir.join(GENERATING_FILE);
    if generating.exists() {
        eprintln!(
            "query-bench: {} holds an unfinished corpus: starting over",
            data_dir.display()
        );
        for sub in ["wal", "index", "LOCK"] {
            let p = data_dir.join(sub);
            if p.is_dir() {
                std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
            } else if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    } else if std::fs::read_dir(data_dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty and holds no query-bench corpus: pass an empty or new --data-dir",
            data_dir.display()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    std::fs::write(&generating, serde_json::to_string(spec)?)
        .with_context(|| format!("writing {}", generating.display()))?;
    let info = generate(data_dir, spec)?;
    let marker = Marker {
        spec: spec.clone(),
        ingest_secs: info.ingest_secs,
        shutdown_secs: info.shutdown_secs,
    };
    std::fs::write(&marker_path, serde_json::to_string_pretty(&marker)? + "\n")
        .with_context(|| format!("writing {}", marker_path.display()))?;
    std::fs::remove_file(&generating)
        .with_context(|| format!("removing {}", generating.display()))?;
    Ok(info)
}

fn generate(data_dir: &Path, spec: &CorpusSpec) -> Result<CorpusInfo> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("building tokio runtime")?;
    let clock = Arc::new(ManualClock::new(spec.start_ns));
    let collector = Collector::open(
        collector_config(data_dir),
        clock.clone(),
        runtime.handle().clone(),
    )
    .context("opening the collector")?;
    eprintln!(
        "query-bench: generating {} records over {} days from {} into {}",
        spec.records,
        spec.days,
        rfc3339(spec.start_ns),
        data_dir.display()
    );
    let started = Instant::now();
    let ingested = runtime.block_on(ingest_all(&collector, &clock, spec, started));
    let ingest = started.elapsed();
    // Queries see the corpus from the end of its last day.
    clock.set(spec.end_ns());
    let stopping = Instant::now();
    let shutdown = collector.shutdown();
    let shutdown_secs = stopping.elapsed().as_secs_f64();
    ingested?;
    shutdown.context("shutting the collector down")?;
    drop(collector);
    eprintln!(
        "query-bench: ingested {} records in {:.1}s ({:.0} rec/s, until searchable); final commit and merges {:.1}s",
        spec.records,
        ingest.as_secs_f64(),
        per_sec(spec.records as f64, ingest),
        shutdown_secs
    );
    Ok(CorpusInfo {
        reused: false,
        ingest_secs: ingest.as_secs_f64(),
        ingest_records_per_sec: per_sec(spec.records as f64, ingest),
        shutdown_secs,
    })
}

/// Normalised records of one batch, with their NDJSON bytes.
type Batch = (Vec<LogRecord>, usize);

async fn ingest_all(
    collector: &Collector,
    clock: &ManualClock,
    spec: &CorpusSpec,
    started: Instant,
) -> Result<()> {
    // Generation and normalisation run on a blocking thread, a few batches ahead of the
    // appends (which wait for fsync).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Batch>>(4);
    let producer_spec = spec.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let mut bytes = 0usize;
        for r in producer_spec.records() {
            let line = r.to_ndjson();
            bytes += line.len() + 1;
            match normalize_json_object(&line, r.ts_ns) {
                Ok(rec) => batch.push(rec),
                Err(e) => {
                    let _ = tx.blocking_send(Err(anyhow::anyhow!("normalising {line}: {e}")));
                    return;
                }
            }
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.blocking_send(Ok((full, bytes))).is_err() {
                    return;
                }
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok((batch, bytes)));
        }
    });

    let mut sent = 0usize;
    let mut last_print = Instant::now();
    let mut next_pct = 10usize;
    while let Some(batch) = rx.recv().await {
        let (records, bytes) = batch?;
        // The clock follows the records, as in live ingest: the partition of the day being
        // written is the newest one, with the full-size writer.
        if let Some(last) = records.last() {
            clock.set(clock.now_ns().max(last.timestamp_ns + 1));
        }
        while collector.ingestor.backlog() > MAX_BACKLOG {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        append_with_retry(collector, &records, bytes).await?;
        sent += records.len();
        let pct = sent * 100 / spec.records.max(1);
        if pct >= next_pct || last_print.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "query-bench:   {sent}/{} records appended ({pct}%), {} indexed, {:.0} rec/s",
                spec.records,
                collector
                    .progress()
                    .committed_lsn
                    .load(AtomicOrdering::SeqCst),
                per_sec(sent as f64, started.elapsed())
            );
            last_print = Instant::now();
            while next_pct <= pct {
                next_pct += 10;
            }
        }
    }
    producer.await.context("generator thread")?;
    ensure!(
        sent == spec.records,
        "generated {sent} records, expected {}",
        spec.records
    );

    let want = collector.wal.durable_lsn();
    let deadline = Instant::now() + Duration::from_secs(600);
    while collector
        .progress()
        .committed_lsn
        .load(AtomicOrdering::SeqCst)
        < want
    {
        ensure!(
            !collector.progress().failed.load(AtomicOrdering::SeqCst),
            "the indexer stopped on an error (see the log)"
        );
        ensure!(
            Instant::now() < deadline,
            "indexing did not catch up in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn append_with_retry(
    collector: &Collector,
    records: &[LogRecord],
    bytes: usize,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match collector.ingestor.append(records, "bench", bytes).await {
            Ok(()) => return Ok(()),
            Err(IngestError::Backpressure { reason, .. }) if Instant::now() < deadline => {
                static ONCE: std::sync::Once = std::sync::Once::new();
                ONCE.call_once(|| eprintln!("query-bench:   throttled ({reason}), retrying"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("append: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the queries look for
// ---------------------------------------------------------------------------------------

/// Words, ids and names the queries use, chosen from the first records of the corpus.
#[derive(Clone, Debug, Serialize)]
pub struct Params {
    /// Service of the `service:X AND level:error` filter.
    pub service: String,
    /// A message word in about 3% of the messages.
    pub word: String,
    pub word_share: f64,
    /// Two consecutive message words in about 1% of the messages.
    pub phrase: [String; 2],
    pub phrase_share: f64,
    /// Regex over the service names.
    pub service_regex: String,
    /// The trace with the most records among the sample.
    pub trace_id: String,
    pub trace_records_in_sample: usize,
}

/// Picks the query parameters from the corpus's first [`SAMPLE`] records (deterministic for
/// a seed).
pub fn choose_params(spec: &CorpusSpec) -> Params {
    let sample: Vec<Record> = spec.records().take(SAMPLE).collect();
    let n = sample.len().max(1) as f64;
    let mut word_df: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pair_df: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut traces: HashMap<[u8; 16], (usize, usize)> = HashMap::new();
    for (i, r) in sample.iter().enumerate() {
        let words: Vec<&str> = r.msg.split(' ').filter(|w| !w.is_empty()).collect();
        let mut seen: Vec<&str> = words.clone();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *word_df.entry(w).or_default() += 1;
        }
        let mut pairs: Vec<(&str, &str)> = words
            .windows(2)
            .filter(|p| p[0] != p[1])
            .map(|p| (p[0], p[1]))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        for p in pairs {
            *pair_df.entry(p).or_default() += 1;
        }
        traces.entry(r.trace_id).or_insert((0, i)).0 += 1;
    }
    let closest = |df: usize, want: f64| ((df as f64 / n) - want).abs();
    let (word, word_count) = word_df
        .iter()
        .min_by(|a, b| closest(*a.1, 0.03).total_cmp(&closest(*b.1, 0.03)))
        .map(|(w, c)| (w.to_string(), *c))
        .unwrap_or_else(|| ("request".to_string(), 0));
    let (phrase, phrase_count) = pair_df
        .iter()
        .min_by(|a, b| closest(*a.1, 0.01).total_cmp(&closest(*b.1, 0.01)))
        .map(|((a, b), c)| ([a.to_string(), b.to_string()], *c))
        .unwrap_or_else(|| (["request".to_string(), "completed".to_string()], 0));
    let (trace, (trace_count, _)) = traces
        .iter()
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
        .map(|(t, c)| (*t, *c))
        .unwrap_or(([0; 16], (0, 0)));
    Params {
        service: SERVICES[1].to_string(),
        word,
        word_share: word_count as f64 / n,
        phrase,
        phrase_share: phrase_count as f64 / n,
        service_regex: "pay.*".to_string(),
        trace_id: hex::encode(trace),
        trace_records_in_sample: trace_count,
    }
}

// ---------------------------------------------------------------------------------------
// The queries, on both sides
// ---------------------------------------------------------------------------------------

/// Fields of the partitions' schema, looked up by name as any tantivy program would.
struct RawFields {
    ts: Field,
    level: Field,
    service: Field,
    trace_id: Field,
    correlation_id: Field,
    message: Field,
    raw: Field,
}

impl RawFields {
    fn new(schema: &Schema) -> Result<RawFields> {
        let f = |name: &str| {
            schema
                .get_field(name)
                .with_context(|| format!("the partition schema has no field {name}"))
        };
        Ok(RawFields {
            ts: f("ts")?,
            level: f("level")?,
            service: f("service")?,
            trace_id: f("trace_id")?,
            correlation_id: f("correlation_id")?,
            message: f("message")?,
            raw: f("raw")?,
        })
    }
}

/// The raw-tantivy side of a query.
enum RawQuery {
    /// Newest hits first, `limit` of them, plus the total.
    Top {
        query: Box<dyn Query>,
        limit: usize,
        order: Order,
    },
    /// An aggregation over the range, plus the total.
    Agg(Aggregations),
}

/// How the Pharos side runs.
enum PharosCall {
    /// `pharos_query::exec::run` with this query text and limit.
    Query { text: String, limit: usize },
    /// `pharos_query::correlate` (the request view) of this id.
    Correlate { id: String, limit: usize },
}

/// How results are compared.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Hits in the order returned (newest first, or oldest first for correlate).
    Hits,
    /// `stats count() by service`.
    Stats,
    /// `timechart count() by level`.
    Chart,
}

struct QuerySpec {
    key: &'static str,
    title: String,
    start: i64,
    end: i64,
    /// p99 target for Pharos, ms.
    target_ms: f64,
    pharos: PharosCall,
    raw: RawQuery,
    shape: Shape,
}

impl QuerySpec {
    fn pharos_text(&self) -> String {
        match &self.pharos {
            PharosCall::Query { text, .. } => text.clone(),
            PharosCall::Correlate { id, limit } => format!("correlate({id}, limit {limit})"),
        }
    }
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn build_queries(spec: &CorpusSpec, p: &Params, f: &RawFields) -> Result<Vec<QuerySpec>> {
    let end = spec.end_ns();
    let day_start = end - 24 * HOUR_NS;
    let all_start = spec.start_ns;
    let days = spec.days;
    let top = |query: Box<dyn Query>| RawQuery::Top {
        query,
        limit: HITS,
        order: Order::Desc,
    };
    let hits = |text: String| PharosCall::Query { text, limit: HITS };
    let agg = |v: Value| -> Result<RawQuery> {
        Ok(RawQuery::Agg(
            serde_json::from_value(v).context("aggregation request")?,
        ))
    };

    let a_text = format!("service:{} AND level:error", p.service);
    let b_text = p.word.clone();
    let c_text = format!("\"{} {}\"", p.phrase[0], p.phrase[1]);
    let d_text = format!("service:/{}/", p.service_regex);
    let e_text = "* | stats count() by service".to_string();
    let f_text = "* | timechart span=1m count() by level".to_string();
    Ok(vec![
        QuerySpec {
            key: "a",
            title: format!("a. `{a_text}`, last 24 h, newest {HITS}"),
            start: day_start,
            end,
            target_ms: 50.0,
            pharos: hits(a_text),
            raw: top(Box::new(BooleanQuery::new(vec![
                (Occur::Must, term(f.service, &p.service)),
                (Occur::Must, term(f.level, "error")),
            ]))),
            shape: Shape::Hits,
        },
        QuerySpec {
            key: "b",
            title: format!(
                "b. word `{b_text}` ({:.1}% of messages), {days} days, newest {HITS}",
                p.word_share * 100.0
            ),
            start: all_start,
            end,
            target_ms: 50.0,
            pharos: hits(b_text),
            raw: top(term(f.message, &p.word)),
            shape: Shape::Hits,
        },
        QuerySpec {
            key: "c",
            title: format!(
                "c. phrase `{c_text}` ({:.1}% of messages), {days} days, newest {HITS}",
                p.phrase_share * 100.0
            ),
            start: all_start,
            end,
            target_ms: 100.0,
            pharos: hits(c_text),
            raw: top(Box::new(PhraseQuery::new(vec![
                Term::from_field_text(f.message, &p.phrase[0]),
                Term::from_field_text(f.message, &p.phrase[1]),
            ]))),
            shape: Shape::Hits,
        },
        QuerySpec {
            key: "d",
            title: format!("d. regex `{d_text}`, {days} days, newest {HITS}"),
            start: all_start,
            end,
            target_ms: 50.0,
            pharos: hits(d_text),
            raw: top(Box::new(
                RegexQuery::from_pattern(&p.service_regex, f.service).context("regex")?,
            )),
            shape: Shape::Hits,
        },
        QuerySpec {
            key: "e",
            title: format!("e. `{e_text}`, last 24 h"),
            start: day_start,
            end,
            target_ms: 300.0,
            pharos: PharosCall::Query {
                text: e_text,
                limit: HITS,
            },
            raw: agg(json!({
                "by_service": {"terms": {"field": "service", "size": 10_000}}
            }))?,
            shape: Shape::Stats,
        },
        QuerySpec {
            key: "f",
            title: format!("f. `{f_text}`, last 24 h"),
            start: day_start,
            end,
            target_ms: 300.0,
            pharos: PharosCall::Query {
                text: f_text,
                limit: HITS,
            },
            raw: agg(json!({
                "chart": {
                    "histogram": {
                        "field": "ts",
                        "interval": 60e9,
                        "min_doc_count": 0,
                        "extended_bounds": {"min": day_start as f64, "max": (end - 1) as f64}
                    },
                    "aggs": {"by_level": {"terms": {"field": "level", "size": 100}}}
                }
            }))?,
            shape: Shape::Chart,
        },
        QuerySpec {
            key: "g",
            title: format!(
                "g. correlate trace `{}` ({} records in the sample), {days} days",
                p.trace_id, p.trace_records_in_sample
            ),
            start: all_start,
            end,
            target_ms: 50.0,
            pharos: PharosCall::Correlate {
                id: p.trace_id.clone(),
                limit: CORRELATE_LIMIT,
            },
            raw: RawQuery::Top {
                query: Box::new(BooleanQuery::new(vec![
                    (Occur::Should, term(f.trace_id, &p.trace_id)),
                    (Occur::Should, term(f.correlation_id, &p.trace_id)),
                ])),
                limit: CORRELATE_LIMIT,
                order: Order::Asc,
            },
            shape: Shape::Hits,
        },
    ])
}

/// What Pharos returned.
enum PharosOut {
    Query(pharos_query::exec::QueryResponse),
    Correlate(pharos_query::CorrelateResponse),
}

fn run_pharos(store: &LogStore, q: &QuerySpec) -> Result<PharosOut> {
    match &q.pharos {
        PharosCall::Query { text, limit } => {
            let req = QueryRequest {
                start_ns: Some(q.start),
                end_ns: Some(q.end),
                limit: *limit,
                now_ns: q.end,
                budget: Default::default(),
            };
            let resp = pharos_query::exec::run(store, text, &req)
                .map_err(|e| anyhow::anyhow!("pharos query {text:?}: {e}"))?;
            Ok(PharosOut::Query(resp))
        }
        PharosCall::Correlate { id, limit } => {
            let resp = pharos_query::correlate(store, id, Some(q.start), Some(q.end), Some(*limit))
                .map_err(|e| anyhow::anyhow!("pharos correlate {id:?}: {e}"))?;
            Ok(PharosOut::Correlate(resp))
        }
    }
}

/// What raw tantivy returned: hits (sort value and stored original) or an aggregation.
enum RawOut {
    Hits {
        total: u64,
        docs: Vec<(i64, Vec<u8>)>,
    },
    Agg {
        total: u64,
        result: tantivy::aggregation::agg_result::AggregationResults,
    },
}

/// The query for one partition: the time range is added unless the partition lies inside.
fn with_range(
    query: &dyn Query,
    p: &PartitionHandle,
    ts: Field,
    start: i64,
    end: i64,
) -> Box<dyn Query> {
    let (p_start, p_end) = p.range_ns();
    if start <= p_start && end >= p_end {
        return query.box_clone();
    }
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, query.box_clone()),
        (
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(ts, start)),
                Bound::Excluded(Term::from_field_i64(ts, end)),
            )),
        ),
    ]))
}

fn run_raw(store: &LogStore, f: &RawFields, q: &QuerySpec) -> tantivy::Result<RawOut> {
    let parts = store.overlapping(q.start, q.end);
    match &q.raw {
        RawQuery::Top {
            query,
            limit,
            order,
        } => raw_top(&parts, f, query.as_ref(), q.start, q.end, *limit, *order),
        RawQuery::Agg(aggs) => raw_agg(&parts, f, aggs, q.start, q.end),
    }
}

/// Top `limit` hits by `ts` over the partitions, with the total: `TopDocs` ordered by the
/// `ts` fast field and `Count` per partition, merged, then the stored documents loaded.
/// Partitions are visited from the side of the order (newest first for descending); once
/// `limit` hits are in hand, a partition whose whole range cannot beat them is only counted.
fn raw_top(
    parts: &[Arc<PartitionHandle>],
    f: &RawFields,
    query: &dyn Query,
    start: i64,
    end: i64,
    limit: usize,
    order: Order,
) -> tantivy::Result<RawOut> {
    let mut visit: Vec<&Arc<PartitionHandle>> = parts.iter().collect();
    match order {
        Order::Desc => visit.sort_by_key(|p| std::cmp::Reverse(p.range_ns().0)),
        Order::Asc => visit.sort_by_key(|p| p.range_ns().0),
    }
    let mut total = 0u64;
    // (ts, searcher index, address), best first.
    let mut best: Vec<(i64, usize, DocAddress)> = Vec::with_capacity(limit);
    let mut searchers: Vec<Searcher> = Vec::with_capacity(visit.len());
    for p in visit {
        let searcher = p.reader.searcher();
        let q = with_range(query, p, f.ts, start, end);
        let (p_start, p_end) = p.range_ns();
        let cannot_improve = best.len() >= limit
            && match (order, best.last()) {
                (Order::Desc, Some(worst)) => worst.0 >= p_end - 1,
                (Order::Asc, Some(worst)) => worst.0 <= p_start,
                _ => false,
            };
        if cannot_improve {
            total += searcher.search(&*q, &Count)? as u64;
            continue;
        }
        let collector = (
            TopDocs::with_limit(limit).order_by_fast_field::<i64>("ts", order),
            Count,
        );
        let (top, n) = searcher.search(&*q, &collector)?;
        total += n as u64;
        let si = searchers.len();
        best.extend(
            top.into_iter()
                .map(|(ts, addr)| (ts.unwrap_or(i64::MIN), si, addr)),
        );
        match order {
            Order::Desc => best.sort_by_key(|b| std::cmp::Reverse(b.0)),
            Order::Asc => best.sort_by_key(|a| a.0),
        }
        best.truncate(limit);
        searchers.push(searcher);
    }
    let mut docs = Vec::with_capacity(best.len());
    for (ts, si, addr) in best {
        let doc: TantivyDocument = searchers[si].doc(addr)?;
        let raw = doc
            .get_first(f.raw)
            .and_then(|v| v.as_bytes())
            .unwrap_or_default()
            .to_vec();
        docs.push((ts, raw));
    }
    Ok(RawOut::Hits { total, docs })
}

/// tantivy's aggregation framework, one intermediate result per partition, merged, then
/// made final.
fn raw_agg(
    parts: &[Arc<PartitionHandle>],
    f: &RawFields,
    aggs: &Aggregations,
    start: i64,
    end: i64,
) -> tantivy::Result<RawOut> {
    let context = AggContextParams::new(
        AggregationLimitsGuard::default(),
        TokenizerManager::default(),
    );
    let collector = (
        DistributedAggregationCollector::from_aggs(aggs.clone(), context),
        Count,
    );
    let mut merged: Option<IntermediateAggregationResults> = None;
    let mut total = 0u64;
    for p in parts {
        let q = with_range(&AllQuery, p, f.ts, start, end);
        let (fruit, n) = p.reader.searcher().search(&*q, &collector)?;
        total += n as u64;
        match &mut merged {
            Some(m) => m.merge_fruits(fruit)?,
            None => merged = Some(fruit),
        }
    }
    let result = merged
        .unwrap_or_default()
        .into_final_result(aggs.clone(), AggregationLimitsGuard::default())?;
    Ok(RawOut::Agg { total, result })
}

// ---------------------------------------------------------------------------------------
// Comparing the two sides
// ---------------------------------------------------------------------------------------

/// A result reduced to what both sides must agree on.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Total matches, and the timestamps of the returned hits.
    Hits { total: u64, ts: Vec<i64> },
    /// Total matches, and the non-zero counts per (time bucket or 0, label).
    Groups {
        total: u64,
        groups: BTreeMap<(i64, String), u64>,
    },
}

impl Outcome {
    fn total(&self) -> u64 {
        match self {
            Outcome::Hits { total, .. } | Outcome::Groups { total, .. } => *total,
        }
    }

    fn returned(&self) -> usize {
        match self {
            Outcome::Hits { ts, .. } => ts.len(),
            Outcome::Groups { groups, .. } => groups.len(),
        }
    }
}

fn hit_times(hits: &[Value]) -> Result<Vec<i64>> {
    hits.iter()
        .map(|h| {
            h["timestamp_ns"]
                .as_i64()
                .with_context(|| format!("a Pharos hit without timestamp_ns: {h}"))
        })
        .collect()
}

fn pharos_outcome(out: &PharosOut, shape: Shape) -> Result<Outcome> {
    let resp = match out {
        PharosOut::Query(resp) => resp,
        PharosOut::Correlate(c) => {
            return Ok(Outcome::Hits {
                total: c.total,
                ts: hit_times(&c.records)?,
            })
        }
    };
    match (&resp.result, shape) {
        (QueryResult::Hits { total, hits }, Shape::Hits) => Ok(Outcome::Hits {
            total: *total,
            ts: hit_times(hits)?,
        }),
        (
            QueryResult::Table {
                total,
                columns,
                rows,
                ..
            },
            Shape::Stats | Shape::Chart,
        ) => {
            let col = |name: &str| {
                columns
                    .iter()
                    .position(|c| c == name)
                    .with_context(|| format!("no column {name} in {columns:?}"))
            };
            let count = col("count")?;
            let label = col(if shape == Shape::Stats {
                "service"
            } else {
                "level"
            })?;
            let time = if shape == Shape::Chart {
                Some(col("_time")?)
            } else {
                None
            };
            let mut groups = BTreeMap::new();
            for row in rows {
                let n = row[count]
                    .as_u64()
                    .context("a count that is not a number")?;
                if n == 0 {
                    continue; // timechart fills empty buckets
                }
                let t = match time {
                    Some(i) => row[i]
                        .as_str()
                        .and_then(parse_rfc3339_ns)
                        .with_context(|| format!("bad _time {}", row[i]))?,
                    None => 0,
                };
                let l = match &row[label] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                groups.insert((t, l), n);
            }
            Ok(Outcome::Groups {
                total: *total,
                groups,
            })
        }
        (QueryResult::Hits { total, .. }, _) => {
            bail!("Pharos returned a list of hits (total {total}) where a table was expected")
        }
        (QueryResult::Table { total, .. }, _) => {
            bail!("Pharos returned a table (total {total}) where a list of hits was expected")
        }
    }
}

fn raw_outcome(out: &RawOut, shape: Shape) -> Result<Outcome> {
    match out {
        RawOut::Hits { total, docs } => Ok(Outcome::Hits {
            total: *total,
            ts: docs.iter().map(|(t, _)| *t).collect(),
        }),
        RawOut::Agg { total, result } => {
            let v = serde_json::to_value(result).context("aggregation result to JSON")?;
            let mut groups = BTreeMap::new();
            let count = |b: &Value| b["doc_count"].as_u64().unwrap_or(0);
            let key = |b: &Value| match &b["key"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if shape == Shape::Stats {
                for b in v["by_service"]["buckets"].as_array().into_iter().flatten() {
                    if count(b) > 0 {
                        groups.insert((0, key(b)), count(b));
                    }
                }
            } else {
                for b in v["chart"]["buckets"].as_array().into_iter().flatten() {
                    let t = b["key"].as_f64().context("a histogram key")? as i64;
                    for l in b["by_level"]["buckets"].as_array().into_iter().flatten() {
                        if count(l) > 0 {
                            groups.insert((t, key(l)), count(l));
                        }
                    }
                }
            }
            Ok(Outcome::Groups {
                total: *total,
                groups,
            })
        }
    }
}

/// Describes how two outcomes differ (None when they agree).
fn difference(pharos: &Outcome, raw: &Outcome) -> Option<String> {
    if pharos == raw {
        return None;
    }
    let mut parts = Vec::new();
    if pharos.total() != raw.total() {
        parts.push(format!(
            "total: Pharos {} vs tantivy {}",
            pharos.total(),
            raw.total()
        ));
    }
    match (pharos, raw) {
        (Outcome::Hits { ts: a, .. }, Outcome::Hits { ts: b, .. }) => {
            if a.len() != b.len() {
                parts.push(format!(
                    "returned: Pharos {} hits vs tantivy {}",
                    a.len(),
                    b.len()
                ));
            }
            if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
                parts.push(format!(
                    "hit #{i}: Pharos {} vs tantivy {}",
                    rfc3339(a[i]),
                    rfc3339(b[i])
                ));
            }
        }
        (Outcome::Groups { groups: a, .. }, Outcome::Groups { groups: b, .. }) => {
            let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
            let diffs: Vec<String> = keys
                .into_iter()
                .filter(|k| a.get(k) != b.get(k))
                .take(5)
                .map(|k| {
                    format!(
                        "{}{}: Pharos {:?} vs tantivy {:?}",
                        if k.0 != 0 {
                            format!("{} ", rfc3339(k.0))
                        } else {
                            String::new()
                        },
                        k.1,
                        a.get(k),
                        b.get(k)
                    )
                })
                .collect();
            parts.extend(diffs);
        }
        _ => parts.push("different kinds of result".to_string()),
    }
    Some(parts.join("; "))
}

// ---------------------------------------------------------------------------------------
// Measuring and reporting
// ---------------------------------------------------------------------------------------

/// One row of the result table.
#[derive(Clone, Debug, Serialize)]
pub struct QueryRow {
    pub key: String,
    pub title: String,
    pub pharos_query: String,
    pub pharos_p50_ms: f64,
    pub pharos_p99_ms: f64,
    pub tantivy_p50_ms: f64,
    pub tantivy_p99_ms: f64,
    /// Pharos p50 ÷ tantivy p50.
    pub ratio_p50: f64,
    /// Target for Pharos's p99, ms.
    pub target_p99_ms: f64,
    pub target_met: bool,
    /// Records matching (both sides agree when `agree`).
    pub matched: u64,
    /// Hits or non-empty groups returned.
    pub returned: usize,
    pub agree: bool,
    /// How the two sides differ, when they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<String>,
}

fn time_ms<T>(f: impl FnOnce() -> Result<T>) -> Result<f64> {
    let started = Instant::now();
    let out = f()?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(out);
    Ok(ms)
}

fn bench_query(store: &LogStore, f: &RawFields, q: &QuerySpec, runs: usize) -> Result<QueryRow> {
    // Warm-up, whose results are compared.
    let pharos_out = run_pharos(store, q)?;
    let raw_out = run_raw(store, f, q).with_context(|| format!("tantivy side of {}", q.key))?;
    let raw = raw_outcome(&raw_out, q.shape)?;
    drop(raw_out);
    let (matched, returned, mismatch) = match pharos_outcome(&pharos_out, q.shape) {
        Ok(pharos) => (pharos.total(), pharos.returned(), difference(&pharos, &raw)),
        Err(e) => (0, 0, Some(format!("{e:#}"))),
    };
    drop(pharos_out);
    if let Some(m) = &mismatch {
        eprintln!(
            "query-bench: !!!!!! MISMATCH in query {}: {m} !!!!!!",
            q.key
        );
    }
    let mut p_ms = Vec::with_capacity(runs);
    let mut t_ms = Vec::with_capacity(runs);
    let raw_run = || run_raw(store, f, q).map_err(anyhow::Error::from);
    for i in 0..runs {
        // Alternate which side goes first, so neither always runs on the other's cache.
        if i % 2 == 0 {
            p_ms.push(time_ms(|| run_pharos(store, q))?);
            t_ms.push(time_ms(raw_run)?);
        } else {
            t_ms.push(time_ms(raw_run)?);
            p_ms.push(time_ms(|| run_pharos(store, q))?);
        }
    }
    let (pp50, pp99) = (median(&p_ms), percentile(&p_ms, 99.0));
    let (tp50, tp99) = (median(&t_ms), percentile(&t_ms, 99.0));
    eprintln!(
        "query-bench:   {}: Pharos p50 {pp50:.2} ms p99 {pp99:.2} ms, tantivy p50 {tp50:.2} ms p99 {tp99:.2} ms, {} matched{}",
        q.key,
        matched,
        if mismatch.is_some() { ", MISMATCH" } else { "" }
    );
    Ok(QueryRow {
        key: q.key.to_string(),
        title: q.title.clone(),
        pharos_query: q.pharos_text(),
        pharos_p50_ms: pp50,
        pharos_p99_ms: pp99,
        tantivy_p50_ms: tp50,
        tantivy_p99_ms: tp99,
        ratio_p50: pp50 / tp50,
        target_p99_ms: q.target_ms,
        target_met: pp99 <= q.target_ms,
        matched,
        returned,
        agree: mismatch.is_none(),
        mismatch,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
        }
    }
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct QueryBenchReport {
    pub kind: String,
    pub command_line: String,
    pub records: usize,
    pub days: u32,
    pub seed: u64,
    pub runs: usize,
    pub first_day: String,
    pub now: String,
    pub data_dir: String,
    pub corpus: CorpusInfo,
    pub partitions: usize,
    pub segments: usize,
    pub records_last_24h: u64,
    pub index_bytes: u64,
    pub wal_bytes: u64,
    pub machine: Machine,
    pub params: Params,
    /// How correlate was measured on the Pharos side.
    pub correlate_via: String,
    pub rows: Vec<QueryRow>,
    /// One line per query whose two sides disagree.
    pub mismatches: Vec<String>,
}

impl QueryBenchReport {
    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("## Query benchmark: Pharos vs raw tantivy\n\n");
        s.push_str(&format!("`{}`\n\n", self.command_line));
        s.push_str(&format!(
            "- records: {} over {} UTC days from {} (seed {}); now = {}\n",
            thousands(self.records as u64),
            self.days,
            self.first_day,
            self.seed,
            self.now
        ));
        s.push_str(&format!(
            "- partitions: {} ({} segments); records in the last 24 h: {}\n",
            self.partitions,
            self.segments,
            thousands(self.records_last_24h)
        ));
        s.push_str(&format!(
            "- index size on disk: {:.1} MiB ({:.1} B/record); WAL {:.1} MiB\n",
            self.index_bytes as f64 / MIB,
            self.index_bytes as f64 / self.records.max(1) as f64,
            self.wal_bytes as f64 / MIB
        ));
        s.push_str(&format!(
            "- ingest through the collector: {:.1} s ({:.0} rec/s until searchable; then {:.1} s final commit and merges){}\n",
            self.corpus.ingest_secs,
            self.corpus.ingest_records_per_sec,
            self.corpus.shutdown_secs,
            if self.corpus.reused {
                ", measured when the corpus was made (reused now)"
            } else {
                ""
            }
        ));
        s.push_str(&format!(
            "- machine: {} cores, {}\n",
            self.machine.nproc, self.machine.cpu_model
        ));
        s.push_str(&format!(
            "- each query: 1 warm-up, then {} runs alternating Pharos and tantivy; p99 is nearest-rank{}; targets are on Pharos's p99\n",
            self.runs,
            if self.runs < 100 {
                " (below 100 runs: the slowest run)"
            } else {
                ""
            }
        ));
        s.push_str(&format!("- correlate: {}\n\n", self.correlate_via));
        s.push_str(
            "| query | Pharos p50 | Pharos p99 | tantivy p50 | tantivy p99 | ratio (p50) | target |\n",
        );
        s.push_str("|---|---:|---:|---:|---:|---:|---|\n");
        for r in &self.rows {
            s.push_str(&format!(
                "| {}{} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2}× | p99 ≤ {:.0} ms: {} |\n",
                cell(&r.title),
                if r.agree { "" } else { " **(MISMATCH)**" },
                r.pharos_p50_ms,
                r.pharos_p99_ms,
                r.tantivy_p50_ms,
                r.tantivy_p99_ms,
                r.ratio_p50,
                r.target_p99_ms,
                if r.target_met { "met" } else { "**missed**" }
            ));
        }
        s.push_str("\n| query | Pharos query text | matched | returned | both sides agree |\n");
        s.push_str("|---|---|---:|---:|---|\n");
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                r.key,
                cell(&r.pharos_query),
                thousands(r.matched),
                r.returned,
                match &r.mismatch {
                    None => "yes".to_string(),
                    Some(m) => format!("**NO**: {}", cell(m)),
                }
            ));
        }
        if !self.mismatches.is_empty() {
            s.push_str(&format!(
                "\n**{} of {} queries disagree between Pharos and tantivy: their timings do not compare like with like.**\n",
                self.mismatches.len(),
                self.rows.len()
            ));
        }
        s
    }
}

/// Text for a markdown table cell: `|` would end the cell, even inside backticks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs the whole benchmark; the caller prints the report.
pub fn run(opts: &QueryBenchOpts) -> Result<QueryBenchReport> {
    ensure!(opts.records > 0, "--records must be at least 1");
    ensure!(opts.days > 0, "--days must be at least 1");
    ensure!(opts.runs > 0, "--runs must be at least 1");
    let spec = CorpusSpec::new(opts.records, opts.days, opts.seed);
    let temp;
    let data_dir = match &opts.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("pharos-query-bench-")
                .tempdir()
                .context("creating a temporary data dir")?;
            temp.path().to_path_buf()
        }
    };
    let corpus = ensure_corpus(&data_dir, &spec)?;

    let cfg = collector_config(&data_dir);
    let store = LogStore::open(
        &cfg.index_dir(),
        cfg.index.docstore_zstd_level,
        cfg.index.partition_hours,
    )
    .context("opening the partitions")?;
    let partitions = store.all();
    let mut segments = 0usize;
    let mut docs = 0u64;
    for p in &partitions {
        let searcher = p.reader.searcher();
        segments += searcher.segment_readers().len();
        docs += searcher.num_docs();
    }
    ensure!(
        docs == spec.records as u64,
        "the partitions in {} hold {docs} records, expected {}: remove the data dir to regenerate it",
        data_dir.display(),
        spec.records
    );
    let f = RawFields::new(&store.schema().schema)?;
    let end = spec.end_ns();
    let mut records_last_24h = 0u64;
    for p in store.overlapping(end - 24 * HOUR_NS, end) {
        let q = with_range(&AllQuery, &p, f.ts, end - 24 * HOUR_NS, end);
        records_last_24h += p.reader.searcher().search(&*q, &Count)? as u64;
    }

    let params = choose_params(&spec);
    let queries = build_queries(&spec, &params, &f)?;
    eprintln!(
        "query-bench: {} queries, {} runs each after a warm-up",
        queries.len(),
        opts.runs
    );
    let mut rows = Vec::with_capacity(queries.len());
    for q in &queries {
        rows.push(bench_query(&store, &f, q, opts.runs)?);
    }
    let mismatches = rows
        .iter()
        .filter_map(|r| r.mismatch.as_ref().map(|m| format!("{}: {m}", r.key)))
        .collect();
    let report = QueryBenchReport {
        kind: "query-bench".to_string(),
        command_line: opts.command_line.clone(),
        records: spec.records,
        days: spec.days,
        seed: spec.seed,
        runs: opts.runs,
        first_day: rfc3339(spec.start_ns),
        now: rfc3339(end),
        data_dir: data_dir.display().to_string(),
        corpus,
        partitions: partitions.len(),
        segments,
        records_last_24h,
        index_bytes: dir_bytes(&cfg.index_dir()),
        wal_bytes: dir_bytes(&cfg.wal_dir()),
        machine: Machine::detect(),
        params,
        correlate_via: format!(
            "Pharos: `pharos_query::correlate` (the request view: records oldest first, plus per-service statistics over all matches), limit {CORRELATE_LIMIT}; tantivy: `trace_id` OR `correlation_id` term, oldest {CORRELATE_LIMIT} by ts, documents loaded"
        ),
        rows,
        mismatches,
    };
    if let Some(path) = &opts.output {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_spread_evenly_over_the_days() {
        let spec = CorpusSpec::new(7_000, 7, 1);
        assert_eq!(rfc3339(spec.start_ns), "2026-01-01T00:00:00Z");
        assert_eq!(spec.generator, CorpusSpec::new(7_000, 7, 1).generator);
        assert_ne!(spec.generator, CorpusSpec::new(7_000, 7, 2).generator);
        let ts: Vec<i64> = (0..spec.records).map(|i| spec.ts(i)).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
        assert!(ts[0] >= spec.start_ns && *ts.last().unwrap() < spec.end_ns());
        for d in 0..7 {
            let lo = spec.start_ns + d * NANOS_PER_DAY;
            let n = ts
                .iter()
                .filter(|t| (lo..lo + NANOS_PER_DAY).contains(*t))
                .count();
            assert_eq!(n, 1_000, "day {d}");
        }
        assert!(ts.iter().all(|t| t % 1_000_000 == 0));
    }

    #[test]
    fn params_come_from_the_generated_records() {
        let spec = CorpusSpec::new(20_000, 2, 1);
        let p = choose_params(&spec);
        assert!((0.01..0.06).contains(&p.word_share), "{p:?}");
        assert!((0.003..0.03).contains(&p.phrase_share), "{p:?}");
        assert!(p.trace_records_in_sample >= 5, "{p:?}");
        assert_eq!(p.trace_id.len(), 32);
        assert!(SERVICES.contains(&p.service.as_str()));
        assert_eq!(choose_params(&spec).word, p.word);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(cell("`* | stats`"), "`* \\| stats`");
    }

    /// The whole benchmark at a tiny size: it completes, both sides agree on every query, and
    /// a second run over the same data dir reuses the corpus.
    #[test]
    fn tiny_query_bench_runs_and_both_sides_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let json = dir.path().join("summary.json");
        let opts = QueryBenchOpts {
            records: 20_000,
            days: 2,
            runs: 2,
            data_dir: Some(data_dir.clone()),
            seed: 1,
            output: Some(json.clone()),
            command_line: "pharos-loadgen query-bench (test)".to_string(),
        };
        let report = run(&opts).expect("query bench");
        let md = report.markdown();
        assert!(report.mismatches.is_empty(), "{md}");
        assert_eq!(report.rows.len(), 7, "{md}");
        assert_eq!(report.partitions, 2);
        assert_eq!(report.records_last_24h, 10_000);
        assert!(!report.corpus.reused);
        for r in &report.rows {
            assert!(r.matched > 0, "query {} matched nothing: {md}", r.key);
            assert!(r.pharos_p50_ms > 0.0 && r.tantivy_p50_ms > 0.0, "{md}");
        }
        assert!(md.contains("| query | Pharos p50 |"), "{md}");
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("summary")).expect("json");
        assert_eq!(summary["rows"].as_array().map(Vec::len), Some(7));

        let again = run(&QueryBenchOpts {
            runs: 1,
            output: None,
            ..opts.clone()
        })
        .expect("second run");
        assert!(again.corpus.reused);
        assert!(again.mismatches.is_empty(), "{}", again.markdown());

        let other = run(&QueryBenchOpts {
            records: 30_000,
            ..opts
        });
        assert!(
            other.is_err(),
            "a data dir holding another corpus is refused"
        );
    }
}
