//! Ack-to-searchable latency probes: while the main load runs, a marker record
//! carrying a unique word (`mk<16 hex>`) is sent every interval (optionally
//! only a fixed number of them); after its ack a poller searches for the word
//! every 50 ms until it shows up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::gen::Generator;
use crate::loadgen::ingest::Target;

/// How long a poller looks for its marker before giving up.
pub const MARKER_TIMEOUT: Duration = Duration::from_secs(120);
const POLL_EVERY: Duration = Duration::from_millis(50);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MarkerStats {
    pub sent: u64,
    pub acked: u64,
    /// NDJSON-equivalent bytes of the markers sent (line + newline).
    #[serde(default)]
    pub raw_bytes: u64,
    pub found: u64,
    pub timed_out: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A marker sender running in the background.
pub struct MarkerRun {
    stop: Arc<AtomicBool>,
    sender: JoinHandle<Result<Sent>>,
}

/// Markers sent so far, with their pollers still running.
pub struct Sent {
    pub sent: u64,
    pub acked: u64,
    pub raw_bytes: u64,
    pollers: Vec<JoinHandle<Option<Duration>>>,
}

/// Starts sending one marker every `interval` (the first one right away) until
/// [`MarkerRun::stop_sending`], or until `limit` markers have been sent.
pub fn start(target: Target, seed: u64, interval: Duration, limit: Option<u64>) -> MarkerRun {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sender = tokio::spawn(async move {
        // Marker words must be unique per run (not per seed), so that a rerun
        // against the same server cannot find an earlier run's marker.
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut rng = StdRng::seed_from_u64(seed ^ nonce);
        let mut gen = Generator::with_start(seed.wrapping_add(1), 0);
        let mut out = Sent {
            sent: 0,
            acked: 0,
            raw_bytes: 0,
            pollers: Vec::new(),
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if limit.is_some_and(|l| out.sent >= l) {
                return Ok(out);
            }
            tick.tick().await;
            if stop2.load(Ordering::Relaxed) {
                return Ok(out);
            }
            let word = format!("mk{:016x}", rng.gen::<u64>());
            let mut rec = gen.next_record();
            rec.ts_ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0);
            rec.msg = format!("{word} {}", rec.msg);
            let body = target.encode(std::slice::from_ref(&rec));
            out.sent += 1;
            out.raw_bytes += rec.to_ndjson().len() as u64 + 1;
            let s = target.send(&body, 1).await.context("sending marker")?;
            let acked_at = Instant::now();
            if s.accepted == 0 {
                eprintln!("marker {word} was rejected");
                continue;
            }
            out.acked += 1;
            let t = target.clone();
            out.pollers.push(tokio::spawn(async move {
                poll_until_found(&t, &word, acked_at).await
            }));
        }
    });
    MarkerRun { stop, sender }
}

async fn poll_until_found(target: &Target, word: &str, acked_at: Instant) -> Option<Duration> {
    while acked_at.elapsed() < MARKER_TIMEOUT {
        if let Ok(total) = target.search_total(word).await {
            if total >= 1 {
                return Some(acked_at.elapsed());
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    eprintln!("marker {word} not searchable after {MARKER_TIMEOUT:?}");
    None
}

impl MarkerRun {
    /// Stops sending markers; pollers keep running.
    pub async fn stop_sending(self) -> Result<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.sender.await.context("marker task panicked")?
    }

    /// Waits until the sender has sent its `limit` markers (it must have one);
    /// pollers keep running.
    pub async fn wait_sent(self) -> Result<Sent> {
        self.sender.await.context("marker task panicked")?
    }
}

impl Sent {
    /// Waits for all pollers and summarises the latencies.
    pub async fn finish(self) -> Result<MarkerStats> {
        let mut hist =
            Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).context("histogram")?;
        let mut stats = MarkerStats {
            sent: self.sent,
            acked: self.acked,
            raw_bytes: self.raw_bytes,
            ..Default::default()
        };
        for p in self.pollers {
            match p.await.context("marker poller panicked")? {
                Some(d) => {
                    stats.found += 1;
                    hist.saturating_record(d.as_micros().max(1) as u64);
                }
                None => stats.timed_out += 1,
            }
        }
        if stats.found > 0 {
            stats.p50_ms = hist.value_at_quantile(0.50) as f64 / 1000.0;
            stats.p99_ms = hist.value_at_quantile(0.99) as f64 / 1000.0;
            stats.max_ms = hist.max() as f64 / 1000.0;
        }
        Ok(stats)
    }
}
