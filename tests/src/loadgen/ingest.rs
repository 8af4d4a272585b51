//! HTTP ingest driver: sends generated records to a running server in batches
//! over several concurrent connections — as fast as possible, or paced at a
//! fixed rate — then waits until they are searchable.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::gen::{Generator, Record, MEAN_GAP_NS};
use crate::loadgen::markers::{self, MarkerStats};
use crate::loadgen::pace;
use crate::loadgen::stats::{per_sec, MB};
pub use crate::loadgen::target::{Batch, Sent, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Ndjson,
    Otlp,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ndjson => "ndjson",
            Mode::Otlp => "otlp",
        }
    }
}

#[derive(Clone, Debug)]
pub struct IngestOpts {
    pub server: String,
    pub mode: Mode,
    pub count: usize,
    pub batch: usize,
    pub connections: usize,
    pub seed: u64,
    /// Records per second, paced in slices every [`pace::TICK`]; 0 = unlimited.
    pub rate: u64,
    /// Timestamp of the first record (unix ns); `None` = so that the last
    /// record lands at about "now".
    pub start_ns: Option<i64>,
    pub markers: bool,
    pub marker_interval: Duration,
    /// Send exactly this many markers (sending waits for all of them) instead
    /// of markers until the load is sent.
    pub marker_limit: Option<u64>,
    pub searchable_timeout: Duration,
}

/// Figures of one ingest run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IngestResult {
    pub kind: String,
    pub mode: String,
    pub count: usize,
    pub batch: usize,
    pub connections: usize,
    /// Target rate in records/s (0 = as fast as possible).
    #[serde(default)]
    pub rate: u64,
    /// NDJSON-equivalent bytes of the main records (line + newline).
    pub raw_bytes: u64,
    pub acked: u64,
    pub rejected: u64,
    pub retries: u64,
    pub send_secs: f64,
    pub acked_per_sec: f64,
    pub acked_mb_per_sec: f64,
    /// Seconds from the first send until `total` covered every acked record.
    pub searchable_secs: Option<f64>,
    pub searchable_per_sec: Option<f64>,
    /// `total` for `q=*` before sending, and at the end of the wait.
    pub initial_total: u64,
    pub last_total: u64,
    pub markers: MarkerStats,
}

impl IngestResult {
    pub fn human(&self) -> String {
        let searchable = match (self.searchable_secs, self.searchable_per_sec) {
            (Some(s), Some(r)) => format!("all searchable after {s:.2}s = {r:.0} rec/s"),
            _ => format!("NOT all searchable (last total {})", self.last_total),
        };
        let lat = if self.markers.found > 0 {
            format!(
                "ack→searchable p50 {:.0} ms p99 {:.0} ms max {:.0} ms ({} markers, {} timed out)",
                self.markers.p50_ms,
                self.markers.p99_ms,
                self.markers.max_ms,
                self.markers.found,
                self.markers.timed_out
            )
        } else {
            "no marker latency samples".to_string()
        };
        let paced = if self.rate > 0 {
            format!(" paced at {} rec/s", self.rate)
        } else {
            String::new()
        };
        format!(
            "ingest[{}]{paced}: {} acked ({} rejected, {} retries) in {:.2}s = {:.0} rec/s, {:.1} MB/s; {}; {}",
            self.mode,
            self.acked,
            self.rejected,
            self.retries,
            self.send_secs,
            self.acked_per_sec,
            self.acked_mb_per_sec,
            searchable,
            lat
        )
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Default first timestamp for `count` records: the last one lands at about
/// "now".
pub fn default_start_ns(count: usize) -> i64 {
    now_ns() - (count as f64 * MEAN_GAP_NS) as i64
}

/// The `count` records of `seed` (first stamped at `start_ns`, default
/// [`default_start_ns`]) and their NDJSON-equivalent size.
fn generate(count: usize, seed: u64, start_ns: Option<i64>) -> (Vec<Record>, u64) {
    let start = start_ns.unwrap_or_else(|| default_start_ns(count));
    let records = Generator::with_start(seed, start).records(count);
    let raw_bytes = records.iter().map(|r| r.to_ndjson().len() as u64 + 1).sum();
    (records, raw_bytes)
}

/// Generates and pre-encodes all batches (not timed).
pub fn prepare(
    target: &Target,
    count: usize,
    batch: usize,
    seed: u64,
    start_ns: Option<i64>,
) -> (Vec<Batch>, u64) {
    let (records, raw_bytes) = generate(count, seed, start_ns);
    let batches = records
        .chunks(batch.max(1))
        .map(|c| Batch {
            body: target.encode(c),
            records: c.len(),
        })
        .collect();
    (batches, raw_bytes)
}

/// Like [`prepare`], but grouped per pacer tick: each tick's slice of
/// `rate`·[`pace::TICK`] records is split into requests over the connections.
pub fn prepare_paced(target: &Target, opts: &IngestOpts) -> (Vec<Vec<Batch>>, u64) {
    let (records, raw_bytes) = generate(opts.count, opts.seed, opts.start_ns);
    let mut rest = records.as_slice();
    let ticks = pace::tick_sizes(opts.rate, opts.count)
        .into_iter()
        .map(|n| {
            pace::split(n, opts.connections, opts.batch)
                .into_iter()
                .map(|m| {
                    let (chunk, tail) = rest.split_at(m);
                    rest = tail;
                    Batch {
                        body: target.encode(chunk),
                        records: m,
                    }
                })
                .collect()
        })
        .collect();
    (ticks, raw_bytes)
}

/// Acked / rejected / retried record counts shared by the sender tasks.
#[derive(Clone, Default)]
struct Counters {
    acked: Arc<AtomicU64>,
    rejected: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
}

impl Counters {
    fn add(&self, s: Sent) {
        self.acked.fetch_add(s.accepted, Ordering::Relaxed);
        self.rejected.fetch_add(s.rejected, Ordering::Relaxed);
        self.retries.fetch_add(s.retries, Ordering::Relaxed);
    }
}

/// Sends all batches as fast as possible, each connection taking the next
/// unsent batch. Returns the first error.
async fn send_unpaced(
    target: &Target,
    batches: Vec<Batch>,
    connections: usize,
    counters: &Counters,
) -> Result<()> {
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (target, batches, next) = (target.clone(), batches.clone(), next.clone());
        let counters = counters.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = batches.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                counters.add(target.send(&b.body, b.records).await?);
            }
        }));
    }
    join_senders(tasks).await
}

/// Sends one tick's batches every [`pace::TICK`] (the first one a tick after
/// the start), handing them round-robin to one task per connection. A
/// connection may fall a few ticks behind; beyond that the pacer waits, and
/// later ticks are delayed (not bunched up), so the achieved rate shows it.
async fn send_paced(
    target: &Target,
    ticks: Vec<Vec<Batch>>,
    connections: usize,
    counters: &Counters,
) -> Result<()> {
    let mut txs = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(8);
        let (target, counters) = (target.clone(), counters.clone());
        txs.push(tx);
        tasks.push(tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                counters.add(target.send(&b.body, b.records).await?);
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::now() + pace::TICK, pace::TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rr = 0usize;
    'ticks: for tick in ticks {
        interval.tick().await;
        for b in tick {
            // A closed channel means that sender failed; its error is below.
            if txs[rr % txs.len()].send(b).await.is_err() {
                break 'ticks;
            }
            rr += 1;
        }
    }
    drop(txs);
    join_senders(tasks).await
}

async fn join_senders(tasks: Vec<tokio::task::JoinHandle<Result<()>>>) -> Result<()> {
    let mut first_err = None;
    for t in tasks {
        if let Err(e) = t.await.context("sender task panicked")? {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), |e| Err(e.context("sending batches")))
}

/// Runs one ingest: send everything (paced when `opts.rate` > 0), then wait
/// until it is all searchable.
pub async fn run(opts: &IngestOpts) -> Result<IngestResult> {
    let target = Target::new(&opts.server, opts.mode, opts.connections)?;
    let (unpaced, paced, raw_bytes) = if opts.rate > 0 {
        let (ticks, raw) = prepare_paced(&target, opts);
        (Vec::new(), ticks, raw)
    } else {
        let (batches, raw) = prepare(&target, opts.count, opts.batch, opts.seed, opts.start_ns);
        (batches, Vec::new(), raw)
    };
    let counters = Counters::default();

    // Records already present (e.g. from an earlier run) count toward `total`.
    let initial = target
        .search_total("*")
        .await
        .context("initial search (is the server up?)")?;

    let t0 = Instant::now();
    let marker_run = opts.markers.then(|| {
        markers::start(
            target.clone(),
            opts.seed,
            opts.marker_interval,
            opts.marker_limit,
        )
    });

    let sent = if opts.rate > 0 {
        send_paced(&target, paced, opts.connections, &counters).await
    } else {
        send_unpaced(&target, unpaced, opts.connections, &counters).await
    };
    let send_elapsed = t0.elapsed();
    let marker_run = match marker_run {
        Some(m) if sent.is_ok() && opts.marker_limit.is_some() => Some(m.wait_sent().await?),
        Some(m) => Some(m.stop_sending().await?),
        None => None,
    };
    sent?;

    let acked = counters.acked.load(Ordering::Relaxed);
    let marker_acked = marker_run.as_ref().map_or(0, |m| m.acked);
    let expected = initial + acked + marker_acked;

    // Poll `q=*` until every acked record (markers included) is visible.
    let deadline = Instant::now() + opts.searchable_timeout;
    let mut last_total = 0;
    let mut searchable_elapsed = None;
    let mut last_report = Instant::now();
    loop {
        match target.search_total("*").await {
            Ok(total) => {
                last_total = total;
                if total >= expected {
                    searchable_elapsed = Some(t0.elapsed());
                    break;
                }
            }
            Err(e) => eprintln!("search poll failed: {e:#}"),
        }
        if Instant::now() > deadline {
            eprintln!(
                "timeout: only {last_total} of {expected} records searchable after {:?}",
                opts.searchable_timeout
            );
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("waiting for searchability: {last_total}/{expected}");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let marker_stats = match marker_run {
        Some(m) => m.finish().await?,
        None => MarkerStats::default(),
    };

    Ok(IngestResult {
        kind: "ingest".to_string(),
        mode: opts.mode.name().to_string(),
        count: opts.count,
        batch: opts.batch,
        connections: opts.connections,
        rate: opts.rate,
        raw_bytes,
        acked,
        rejected: counters.rejected.load(Ordering::Relaxed),
        retries: counters.retries.load(Ordering::Relaxed),
        send_secs: send_elapsed.as_secs_f64(),
        acked_per_sec: per_sec(acked as f64, send_elapsed),
        acked_mb_per_sec: per_sec(raw_bytes as f64 / MB, send_elapsed)
            * (acked as f64 / opts.count.max(1) as f64),
        searchable_secs: searchable_elapsed.map(|d| d.as_secs_f64()),
        searchable_per_sec: searchable_elapsed.map(|d| per_sec(acked as f64, d)),
        initial_total: initial,
        last_total,
        markers: marker_stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepares_batches() {
        let t = Target::new("http://127.0.0.1:1", Mode::Ndjson, 1).expect("target");
        let (batches, raw) = prepare(&t, 25, 10, 1, None);
        assert_eq!(
            batches.iter().map(|b| b.records).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        let total: usize = batches.iter().map(|b| b.body.len()).sum();
        assert_eq!(total as u64, raw);
    }

    #[test]
    fn prepares_paced_ticks() {
        let t = Target::new("http://127.0.0.1:1", Mode::Ndjson, 2).expect("target");
        let opts = IngestOpts {
            server: String::new(),
            mode: Mode::Ndjson,
            count: 250,
            batch: 60,
            connections: 2,
            seed: 1,
            rate: 2000,
            start_ns: Some(crate::gen::DEFAULT_START_NS),
            markers: false,
            marker_interval: Duration::from_millis(100),
            marker_limit: None,
            searchable_timeout: Duration::from_secs(1),
        };
        let (ticks, raw) = prepare_paced(&t, &opts);
        let sizes: Vec<Vec<usize>> = ticks
            .iter()
            .map(|b| b.iter().map(|b| b.records).collect())
            .collect();
        assert_eq!(sizes, vec![vec![50, 50], vec![50, 50], vec![25, 25]]);
        let total: usize = ticks.iter().flatten().map(|b| b.body.len()).sum();
        assert_eq!(total as u64, raw);
        // Same records, same bytes as the unpaced preparation.
        let (_, raw2) = prepare(&t, 250, 60, 1, opts.start_ns);
        assert_eq!(raw, raw2);
    }
}
