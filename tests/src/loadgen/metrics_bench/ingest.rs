//! One ingest run: a fresh server (the real `pharos serve`, or the collector in this process
//! with its metrics endpoints on a loopback port), the pre-encoded requests sent over the
//! connections as fast as the server acknowledges them (429/503 retried after `Retry-After`),
//! then a graceful stop and the accounting of what the store holds on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use pharos_collector::clock::{SharedClock, SystemClock};
use pharos_collector::config::CollectorConfig;
use pharos_collector::ingest::metrics::http::{router, MetricsIngestState};
use pharos_collector::Collector;
use prost::Message;
use serde::Serialize;

use super::data::Body;
use super::disk::{self, StoreAccount};
use crate::loadgen::proc;
use crate::loadgen::stats::{per_sec, MIB};

/// How a server may take to exit after SIGTERM (it flushes the metrics head).
const STOP_TIMEOUT: Duration = Duration::from_secs(120);
/// Interval between two checks of what the store has applied.
pub const POLL: Duration = Duration::from_millis(100);

/// How to tell that every sample is queryable.
#[derive(Clone, Debug)]
pub struct Check {
    /// Evaluation time of the count: after the last sample, its 2-day window covering all.
    pub time_ms: i64,
    pub expected: u64,
    pub timeout: Duration,
}

/// The samples of the data set's metrics at `time_ms` (`sum(count_over_time(m[2d])) + …`)
/// through `/prometheus/api/v1/query`.
async fn count_samples(client: &reqwest::Client, base: &str, time_ms: i64) -> Result<u64> {
    let url = format!("{base}/prometheus/api/v1/query");
    // One sum per metric: `count_over_time` drops the name, and series of different metrics
    // with the same other labels would collide in one vector.
    let q = super::data::METRICS
        .iter()
        .map(|m| {
            format!(
                "sum(count_over_time({}{{job=\"{}\"}}[2d]))",
                m.name,
                super::data::JOB
            )
        })
        .collect::<Vec<_>>()
        .join(" + ");
    let resp = client
        .get(&url)
        .query(&[
            ("query", q.as_str()),
            ("time", &format!("{:.3}", time_ms as f64 / 1000.0)),
        ])
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let v: serde_json::Value = resp.json().await.context("query answer is not JSON")?;
    if !status.is_success() {
        bail!("GET {url}?query={q} → {status}: {v}");
    }
    // {"data":{"result":[{"value":[t,"123"]}]}}; no result = nothing applied yet.
    Ok(v["data"]["result"]
        .get(0)
        .and_then(|r| r["value"][1].as_str())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Protocol {
    RemoteWrite,
    Otlp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::RemoteWrite => "remote write",
            Protocol::Otlp => "OTLP/HTTP protobuf",
        }
    }
    fn path(self) -> &'static str {
        match self {
            Protocol::RemoteWrite => "/api/v1/write",
            Protocol::Otlp => "/v1/metrics",
        }
    }
}

/// What serves the requests.
#[derive(Clone, Debug)]
pub enum ServerKind {
    /// `<binary> serve` on free loopback ports, with these extra environment variables.
    Binary {
        path: PathBuf,
        env: Vec<(String, String)>,
    },
    /// The collector opened in this process, its metrics router on a loopback port (no peak
    /// RSS of its own: it shares the process).
    InProcess,
}

enum Running {
    Process(proc::Server),
    InProcess {
        /// Dropped at the stop (closing the store) once the collector has shut down.
        collector: Option<Arc<Collector>>,
        http: String,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
        data_dir: PathBuf,
        _tmp: tempfile::TempDir,
    },
}

impl Running {
    async fn start(kind: &ServerKind) -> Result<Running> {
        match kind {
            ServerKind::Binary { path, env } => {
                if !path.exists() {
                    bail!(
                        "pharos binary not found at {} (build it with `cargo build --release --bin pharos`, or pass --pharos-bin)",
                        path.display()
                    );
                }
                let mut s = proc::Server::start(path, env)?;
                s.wait_healthy(&reqwest::Client::new(), Duration::from_secs(60))
                    .await?;
                Ok(Running::Process(s))
            }
            ServerKind::InProcess => {
                let tmp = tempfile::Builder::new()
                    .prefix("pharos-mbench-")
                    .tempdir()
                    .context("creating a temp dir")?;
                let data_dir = tmp.path().join("data");
                let mut cfg = CollectorConfig::default();
                cfg.storage.data_dir = data_dir.clone();
                cfg.ingest.min_free_disk_bytes = 0;
                let clock: SharedClock = Arc::new(SystemClock);
                let handle = tokio::runtime::Handle::current();
                let collector = Arc::new(
                    tokio::task::spawn_blocking(move || Collector::open(cfg, clock, handle))
                        .await
                        .context("collector open panicked")?
                        .context("opening the collector")?,
                );
                let app = router(MetricsIngestState {
                    ingest: collector.metrics_ingest.clone(),
                    ingest_token: None,
                });
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .context("binding a loopback port")?;
                let http = format!("http://{}", listener.local_addr()?);
                let (stop, rx) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await
                });
                Ok(Running::InProcess {
                    collector: Some(collector),
                    http,
                    stop,
                    task,
                    data_dir,
                    _tmp: tmp,
                })
            }
        }
    }

    fn http(&self) -> &str {
        match self {
            Running::Process(s) => &s.http,
            Running::InProcess { http, .. } => http,
        }
    }

    fn data_dir(&self) -> &Path {
        match self {
            Running::Process(s) => &s.data_dir,
            Running::InProcess { data_dir, .. } => data_dir,
        }
    }

    /// Waits until the store has applied every acknowledged sample: in process, until the
    /// metrics WAL backlog is empty; against the binary, until PromQL `count_over_time` at
    /// `check.time_ms` (over the Prometheus HTTP API) counts `check.expected` samples. Polls every [`POLL`]; `None` after the timeout.
    async fn wait_queryable(&self, check: &Check) -> Result<Option<Instant>> {
        let deadline = Instant::now() + check.timeout;
        let client = reqwest::Client::new();
        loop {
            let done = match self {
                Running::InProcess { collector, .. } => collector
                    .as_ref()
                    .is_some_and(|c| c.metric_ingestor.backlog() == 0),
                Running::Process(s) => {
                    count_samples(&client, &s.http, check.time_ms).await? >= check.expected
                }
            };
            if done {
                return Ok(Some(Instant::now()));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn log_tail(&self) -> String {
        match self {
            Running::Process(s) => s.log_tail(3000),
            Running::InProcess { .. } => String::new(),
        }
    }

    /// Graceful stop: SIGTERM (the server flushes the store), or the collector's shutdown.
    /// Returns (clean, peak RSS). The data dir stays until `self` is dropped.
    async fn stop(&mut self) -> Result<(bool, Option<u64>)> {
        match self {
            Running::Process(s) => {
                tokio::task::block_in_place(|| s.stop_tracking_peak(STOP_TIMEOUT))
            }
            Running::InProcess {
                collector,
                stop,
                task,
                ..
            } => {
                let (tx, _) = tokio::sync::oneshot::channel();
                let _ = std::mem::replace(stop, tx).send(());
                task.await
                    .context("metrics router task panicked")?
                    .context("serving the metrics router")?;
                // The router (and its references to the collector) is gone: ours is the last,
                // and dropping it after the shutdown closes the store.
                if let Some(c) = collector.take() {
                    tokio::task::spawn_blocking(move || c.shutdown())
                        .await
                        .context("collector shutdown panicked")?
                        .context("collector shutdown")?;
                }
                Ok((true, None))
            }
        }
    }
}

/// Figures of one protocol's ingest into one fresh server.
#[derive(Clone, Debug, Serialize)]
pub struct IngestRun {
    pub protocol: Protocol,
    pub samples_sent: u64,
    pub samples_acked: u64,
    /// Samples the server answered were not stored (OTLP `partial_success`).
    pub samples_rejected: u64,
    pub requests: u64,
    /// 429/503 answers (each retried after `Retry-After`).
    pub retries: u64,
    pub wire_bytes: u64,
    /// From the first request to the last acknowledgement.
    pub secs: f64,
    pub samples_per_sec: f64,
    /// From the first request until every sample was queryable (applied to the store), and
    /// samples/s over that time; `None` when that did not happen within the timeout.
    pub queryable_secs: Option<f64>,
    pub queryable_per_sec: Option<f64>,
    pub server_peak_rss_bytes: Option<u64>,
    pub clean_shutdown: bool,
    /// After the graceful stop.
    pub data_dir_bytes: u64,
    pub metrics_wal_bytes: u64,
    pub store: StoreAccount,
}

impl IngestRun {
    pub fn human(&self) -> String {
        format!(
            "{}: {} samples acked ({} rejected) in {:.2} s = {:.0} samples/s, all queryable after {}, {} requests, {} retries, {:.1} MiB sent; peak RSS {}; after stop: store holds {} samples, chunks {:.2} B/sample, sled {:.2} B/sample, data dir {:.1} MiB{}",
            self.protocol.name(),
            self.samples_acked,
            self.samples_rejected,
            self.secs,
            self.samples_per_sec,
            self.queryable_secs
                .map_or("(timed out)".to_string(), |v| format!("{v:.2} s")),
            self.requests,
            self.retries,
            self.wire_bytes as f64 / MIB,
            self.server_peak_rss_bytes
                .map_or("—".to_string(), |b| format!("{:.0} MiB", b as f64 / MIB)),
            self.store.raw_samples,
            self.store.chunk_bytes_per_sample(),
            self.store.sled_size_on_disk as f64 / self.store.raw_samples.max(1) as f64,
            self.data_dir_bytes as f64 / MIB,
            if self.clean_shutdown {
                ""
            } else {
                " (NO clean shutdown)"
            }
        )
    }
}

#[derive(Default, Clone, Copy)]
struct Sent {
    acked: u64,
    rejected: u64,
    requests: u64,
    retries: u64,
    bytes: u64,
}

/// Parses `Retry-After: <seconds>`.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(60.0)))
}

/// POSTs one body until it is answered 2xx; returns (acked, rejected, retries).
async fn post(
    client: &reqwest::Client,
    url: &str,
    protocol: Protocol,
    body: &Body,
) -> Result<(u64, u64, u64)> {
    let mut retries = 0u64;
    let mut conn_errors = 0u32;
    loop {
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf");
        if protocol == Protocol::RemoteWrite {
            req = req
                .header(reqwest::header::CONTENT_ENCODING, "snappy")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        }
        let resp = match req.body(body.bytes.clone()).send().await {
            Ok(r) => r,
            Err(e) if conn_errors < 5 && (e.is_connect() || e.is_request()) => {
                conn_errors += 1;
                tokio::time::sleep(Duration::from_millis(200 << conn_errors)).await;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("POST {url}")),
        };
        let status = resp.status();
        if status.as_u16() == 429 || status.as_u16() == 503 {
            retries += 1;
            if retries > 10_000 {
                bail!("POST {url}: still {status} after {retries} retries");
            }
            let wait = retry_after(resp.headers()).unwrap_or(Duration::from_millis(500));
            tokio::time::sleep(wait).await;
            continue;
        }
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("reading the answer to POST {url}"))?;
        if !status.is_success() {
            bail!(
                "POST {url} → {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        let n = body.samples as u64;
        let rejected = match protocol {
            Protocol::RemoteWrite => 0,
            Protocol::Otlp => ExportMetricsServiceResponse::decode(&bytes[..])
                .ok()
                .and_then(|r| r.partial_success)
                .map_or(0, |p| u64::try_from(p.rejected_data_points).unwrap_or(0)),
        };
        return Ok((n.saturating_sub(rejected), rejected, retries));
    }
}

/// Sends each connection's bodies in order on its own task; returns the totals and the time
/// from the first request to the last answer.
async fn send_all(
    base: &str,
    protocol: Protocol,
    bodies: &Arc<Vec<Vec<Body>>>,
) -> Result<(Sent, Instant, Duration)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(bodies.len() + 2)
        .timeout(Duration::from_secs(300))
        .build()
        .context("building the HTTP client")?;
    let url = format!("{}{}", base.trim_end_matches('/'), protocol.path());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..bodies.len() {
        let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Sent::default();
            for b in &bodies[c] {
                let (acked, rejected, retries) = post(&client, &url, protocol, b).await?;
                s.acked += acked;
                s.rejected += rejected;
                s.retries += retries;
                s.requests += 1;
                s.bytes += b.bytes.len() as u64;
            }
            Ok::<Sent, anyhow::Error>(s)
        }));
    }
    let mut total = Sent::default();
    for t in tasks {
        let s = t.await.context("a sender task panicked")??;
        total.acked += s.acked;
        total.rejected += s.rejected;
        total.retries += s.retries;
        total.requests += s.requests;
        total.bytes += s.bytes;
    }
    Ok((total, start, start.elapsed()))
}

/// One protocol's run against a fresh server. `prelude` bodies (remote-write metadata) are
/// sent first, outside the timed phase.
pub async fn run(
    kind: &ServerKind,
    protocol: Protocol,
    prelude: &[Vec<u8>],
    bodies: &Arc<Vec<Vec<Body>>>,
    check: &Check,
) -> Result<IngestRun> {
    let mut server = Running::start(kind).await?;
    let sent = async {
        for p in prelude {
            let body = Body {
                bytes: p.clone(),
                samples: 0,
            };
            let client = reqwest::Client::new();
            let url = format!("{}{}", server.http(), protocol.path());
            post(&client, &url, protocol, &body)
                .await
                .context("sending the metadata")?;
        }
        let (sent, start, elapsed) = send_all(server.http(), protocol, bodies).await?;
        let queryable = server
            .wait_queryable(check)
            .await?
            .map(|t| t.duration_since(start));
        Ok::<_, anyhow::Error>((sent, elapsed, queryable))
    }
    .await;
    let (sent, elapsed, queryable) = match sent {
        Ok(s) => s,
        Err(e) => {
            let tail = server.log_tail();
            let _ = server.stop().await;
            return Err(e.context(format!(
                "{} ingest failed; server log tail:\n{tail}",
                protocol.name()
            )));
        }
    };
    let (clean_shutdown, peak) = server.stop().await?;
    if !clean_shutdown {
        eprintln!("server log tail:\n{}", server.log_tail());
    }
    // `server` keeps the data dir until it is dropped at the end of this function.
    let data_dir = server.data_dir().to_path_buf();
    let metrics_dir = data_dir.join("metrics");
    let store = tokio::task::block_in_place(|| disk::account(&metrics_dir.join("store")))?;
    let samples_sent: u64 = bodies.iter().flatten().map(|b| b.samples as u64).sum();
    Ok(IngestRun {
        protocol,
        samples_sent,
        samples_acked: sent.acked,
        samples_rejected: sent.rejected,
        requests: sent.requests,
        retries: sent.retries,
        wire_bytes: sent.bytes,
        secs: elapsed.as_secs_f64(),
        samples_per_sec: per_sec(sent.acked as f64, elapsed),
        queryable_secs: queryable.map(|d| d.as_secs_f64()),
        queryable_per_sec: queryable.map(|d| per_sec(sent.acked as f64, d)),
        server_peak_rss_bytes: peak,
        clean_shutdown,
        data_dir_bytes: proc::dir_size(&data_dir)?,
        metrics_wal_bytes: if metrics_dir.join("wal").exists() {
            proc::dir_size(&metrics_dir.join("wal"))?
        } else {
            0
        },
        store,
    })
}
