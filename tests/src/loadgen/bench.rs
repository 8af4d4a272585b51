//! Orchestrates full benchmark runs: raw-tantivy baseline (in a child
//! `pharos-loadgen baseline` process, so its peak RSS is its own), then one
//! fresh `pharos serve` per ingest mode, and prints one JSON line per run and
//! a markdown table of medians over runs.
//!
//! Per mode and run, on one fresh server:
//! 1. throughput phase: the same `count` records as the baseline (same seed
//!    and first timestamp, so identical documents) sent as fast as possible;
//!    acked rec/s, and searchable rec/s once `q=*` covers all of them;
//! 2. latency phase: records sent at a fixed `latency_rate` for
//!    `latency_secs`, with a marker record every 100 ms whose ack→searchable
//!    latency is measured (the server is not overloaded, so this is the
//!    latency of the pipeline, not of a backlog);
//! 3. once everything is searchable, graceful stop (SIGTERM, wait for exit),
//!    then `data/index` and `data/wal` sizes relative to the raw input.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::loadgen::baseline::{BaselineOpts, BaselineResult};
use crate::loadgen::ingest::{self, IngestOpts, IngestResult, Mode};
use crate::loadgen::proc::{self, Server};
use crate::loadgen::stats::{median, median_of, MIB};

/// Interval between two latency markers in the latency phase.
pub const MARKER_INTERVAL: Duration = Duration::from_millis(100);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct BenchOpts {
    pub pharos: PathBuf,
    pub count: usize,
    pub seed: u64,
    pub runs: usize,
    pub batch: usize,
    pub connections: usize,
    pub baseline: BaselineOpts,
    pub modes: Vec<Mode>,
    pub server_env: Vec<(String, String)>,
    pub searchable_timeout: Duration,
    /// Records/s of the latency phase (0 disables the phase).
    pub latency_rate: u64,
    /// Duration of the latency phase (0 disables the phase).
    pub latency_secs: u64,
    /// The command line, printed above the table.
    pub command_line: String,
}

impl BenchOpts {
    fn latency_enabled(&self) -> bool {
        self.latency_rate > 0 && self.latency_secs > 0
    }
}

/// One mode against one fresh server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModeRun {
    pub mode: String,
    /// As fast as possible, the baseline's documents.
    pub throughput: IngestResult,
    /// Fixed rate with markers (`None` when disabled).
    pub latency: Option<IngestResult>,
    /// Searchable rec/s of the throughput phase ÷ baseline docs/s of this run.
    pub searchable_vs_baseline: Option<f64>,
    /// Whether the throughput phase sent exactly the baseline's documents.
    pub same_documents_as_baseline: bool,
    /// VmHWM of the server, up to its exit.
    pub server_peak_rss_mib: Option<f64>,
    /// NDJSON-equivalent bytes of every record sent (throughput phase,
    /// latency phase and its markers).
    pub raw_input_bytes: u64,
    /// Sizes after the graceful stop.
    pub index_bytes: u64,
    pub wal_bytes: u64,
    pub data_dir_bytes: u64,
    pub index_per_raw: f64,
    pub wal_per_raw: f64,
    pub clean_shutdown: bool,
}

impl ModeRun {
    pub fn human(&self) -> String {
        // The phases' own lines are printed as they finish.
        format!(
            "{}: server peak RSS {} MiB; after stop: index {:.1} MiB ({:.3} B/raw B), WAL {:.1} MiB ({:.3} B/raw B), raw input {:.1} MiB{}",
            self.mode,
            self.server_peak_rss_mib
                .map_or("?".to_string(), |v| format!("{v:.0}")),
            self.index_bytes as f64 / MIB,
            self.index_per_raw,
            self.wal_bytes as f64 / MIB,
            self.wal_per_raw,
            self.raw_input_bytes as f64 / MIB,
            if self.clean_shutdown {
                ""
            } else {
                ", NO clean shutdown"
            }
        )
    }
}

/// Everything measured in one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub kind: String,
    /// 1-based run number.
    pub run: usize,
    pub baseline: BaselineResult,
    pub modes: Vec<ModeRun>,
}

/// Runs the baseline in a child process of this same executable.
fn run_baseline_child(opts: &BaselineOpts) -> Result<BaselineResult> {
    let exe = std::env::current_exe().context("locating pharos-loadgen executable")?;
    let mut cmd = Command::new(&exe);
    cmd.arg("baseline")
        .args(["--count", &opts.count.to_string()])
        .args(["--seed", &opts.seed.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .args(["--budget-mb", &opts.budget_mb.to_string()])
        .args(["--compression", &opts.compression]);
    if let Some(start) = opts.start_ns {
        cmd.arg(format!("--start-ns={start}"));
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {} baseline", exe.display()))?;
    if !out.status.success() {
        bail!(
            "baseline exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .context("baseline printed no JSON summary")?;
    serde_json::from_str(line).context("parsing baseline JSON summary")
}

/// Size of `data_dir/sub`, 0 if it does not exist.
fn subdir_size(server: &Server, sub: &str) -> Result<u64> {
    let dir = server.data_dir.join(sub);
    if !dir.exists() {
        eprintln!("warning: {} does not exist", dir.display());
        return Ok(0);
    }
    proc::dir_size(&dir)
}

/// Throughput then latency phase; both wait until all is searchable.
async fn phases(
    opts: &BenchOpts,
    mode: Mode,
    server: &Server,
    start_ns: i64,
) -> Result<(IngestResult, Option<IngestResult>)> {
    let base = IngestOpts {
        server: server.http.clone(),
        mode,
        count: opts.count,
        batch: opts.batch,
        connections: opts.connections,
        seed: opts.seed,
        rate: 0,
        start_ns: Some(start_ns),
        markers: false,
        marker_interval: MARKER_INTERVAL,
        marker_limit: None,
        searchable_timeout: opts.searchable_timeout,
    };
    let throughput = ingest::run(&base).await.context("throughput phase")?;
    eprintln!("{}", throughput.human());
    if !opts.latency_enabled() {
        return Ok((throughput, None));
    }
    let markers = (opts.latency_secs as u128 * 1000 / MARKER_INTERVAL.as_millis()) as u64;
    let lat_opts = IngestOpts {
        count: usize::try_from(opts.latency_rate.saturating_mul(opts.latency_secs))
            .context("latency phase record count")?,
        // Other records than the throughput phase (the markers use seed + 1).
        seed: opts.seed.wrapping_add(2),
        rate: opts.latency_rate,
        start_ns: None,
        markers: true,
        marker_limit: Some(markers),
        ..base
    };
    let latency = ingest::run(&lat_opts).await.context("latency phase")?;
    eprintln!("{}", latency.human());
    Ok((throughput, Some(latency)))
}

async fn run_mode(opts: &BenchOpts, mode: Mode, start_ns: i64) -> Result<ModeRun> {
    let mut server = Server::start(&opts.pharos, &opts.server_env)?;
    let client = reqwest::Client::new();
    server
        .wait_healthy(&client, Duration::from_secs(30))
        .await?;
    let (throughput, latency) = match phases(opts, mode, &server, start_ns).await {
        Ok(r) => r,
        Err(e) => {
            let tail = server.log_tail(3000);
            server.stop(Duration::from_secs(10)).ok();
            return Err(e.context(format!(
                "ingest {} failed; server log tail:\n{tail}",
                mode.name()
            )));
        }
    };
    let (clean_shutdown, peak) =
        tokio::task::block_in_place(|| server.stop_tracking_peak(STOP_TIMEOUT))?;
    if peak.is_none() {
        eprintln!("warning: server peak RSS unavailable");
    }
    if !clean_shutdown {
        eprintln!("server log tail:\n{}", server.log_tail(3000));
    }
    let index_bytes = subdir_size(&server, "index")?;
    let wal_bytes = subdir_size(&server, "wal")?;
    let data_dir_bytes = proc::dir_size(&server.data_dir)?;
    let raw_input_bytes = throughput.raw_bytes
        + latency
            .as_ref()
            .map_or(0, |l| l.raw_bytes + l.markers.raw_bytes);
    let raw = raw_input_bytes.max(1) as f64;
    Ok(ModeRun {
        mode: mode.name().to_string(),
        throughput,
        latency,
        searchable_vs_baseline: None,
        same_documents_as_baseline: false,
        server_peak_rss_mib: peak.map(|b| b as f64 / MIB),
        raw_input_bytes,
        index_bytes,
        wal_bytes,
        data_dir_bytes,
        index_per_raw: index_bytes as f64 / raw,
        wal_per_raw: wal_bytes as f64 / raw,
        clean_shutdown,
    })
}

/// Runs `opts.runs` full runs and prints per-run JSON lines and a median table.
pub async fn run(opts: &BenchOpts) -> Result<Vec<RunResult>> {
    if !opts.pharos.exists() {
        bail!("pharos binary not found at {}", opts.pharos.display());
    }
    let n = opts.runs.max(1);
    let mut runs = Vec::new();
    for i in 0..n {
        eprintln!("== run {}/{n} ==", i + 1);
        // One first timestamp per run for the baseline and every mode, so
        // that they all index byte-identical documents.
        let start_ns = ingest::default_start_ns(opts.count);
        let b = BaselineOpts {
            count: opts.count,
            seed: opts.seed,
            start_ns: Some(start_ns),
            ..opts.baseline.clone()
        };
        let baseline = tokio::task::spawn_blocking(move || run_baseline_child(&b))
            .await
            .context("baseline task panicked")??;
        eprintln!("{}", baseline.human());
        let mut modes = Vec::new();
        for &mode in &opts.modes {
            let mut m = run_mode(opts, mode, start_ns).await?;
            m.searchable_vs_baseline = m
                .throughput
                .searchable_per_sec
                .map(|v| v / baseline.docs_per_sec);
            m.same_documents_as_baseline = baseline.start_ns == start_ns
                && baseline.count == m.throughput.count
                && baseline.raw_bytes == m.throughput.raw_bytes;
            if !m.same_documents_as_baseline {
                eprintln!("warning: {} sent other documents than the baseline", m.mode);
            }
            eprintln!("{}", m.human());
            modes.push(m);
        }
        let run = RunResult {
            kind: "bench_run".to_string(),
            run: i + 1,
            baseline,
            modes,
        };
        println!(
            "{}",
            serde_json::to_string(&run).context("serializing run")?
        );
        runs.push(run);
    }
    println!();
    println!("{}", table(opts, &runs));
    Ok(runs)
}

fn fmt(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        "—".to_string()
    } else {
        format!("{v:.decimals$}")
    }
}

/// Markdown table; every figure is the median over runs of the per-run figure.
pub fn table(opts: &BenchOpts, runs: &[RunResult]) -> String {
    let mut s = String::new();
    let n = runs.len();
    let b = |f: fn(&BaselineResult) -> f64| {
        median(&runs.iter().map(|r| f(&r.baseline)).collect::<Vec<_>>())
    };
    s.push_str(&format!("command: `{}`\n\n", opts.command_line));
    let latency = if opts.latency_enabled() {
        format!(
            "latency phase {} rec/s for {} s with a marker every {} ms",
            opts.latency_rate,
            opts.latency_secs,
            MARKER_INTERVAL.as_millis()
        )
    } else {
        "no latency phase".to_string()
    };
    s.push_str(&format!(
        "pharos bench: {} records as fast as possible (seed {}, batch {}, {} connections), then {}; median of {} run(s)\n\n",
        opts.count, opts.seed, opts.batch, opts.connections, latency, n
    ));
    let rate = opts.latency_rate;
    s.push_str(&format!(
        "| mode | acked rec/s | acked MB/s | searchable rec/s | searchable ÷ baseline | latency-phase acked rec/s (target {rate}) | markers found | ack→searchable p50 ms @ {rate} rec/s | p99 ms | max ms | peak RSS MiB | index B / raw B | WAL B / raw B |\n"
    ));
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    s.push_str(&format!(
        "| baseline (tantivy, {} thr, {} MB, {}) | {} | {} | {} | {} | — | — | — | — | — | {} | {} | — |\n",
        opts.baseline.threads,
        opts.baseline.budget_mb,
        opts.baseline.compression,
        fmt(b(|r| r.docs_per_sec), 0),
        fmt(b(|r| r.mb_per_sec), 1),
        fmt(b(|r| r.docs_per_sec), 0),
        // Each run against its own baseline.
        if n > 0 { "1.00" } else { "—" },
        fmt(b(|r| r.peak_rss_mib), 0),
        fmt(b(|r| r.index_to_raw), 3),
    ));
    for (mi, mode) in opts.modes.iter().enumerate() {
        let ms: Vec<&ModeRun> = runs.iter().filter_map(|r| r.modes.get(mi)).collect();
        let med = |f: &dyn Fn(&ModeRun) -> Option<f64>| median_of(&ms, |m| f(m));
        // Marker figures of runs that have latency samples.
        let lat = |f: fn(&crate::loadgen::markers::MarkerStats) -> f64| {
            med(&|m| {
                m.latency
                    .as_ref()
                    .filter(|l| l.markers.found > 0)
                    .map(|l| f(&l.markers))
            })
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            mode.name(),
            fmt(med(&|m| Some(m.throughput.acked_per_sec)), 0),
            fmt(med(&|m| Some(m.throughput.acked_mb_per_sec)), 1),
            fmt(med(&|m| m.throughput.searchable_per_sec), 0),
            fmt(med(&|m| m.searchable_vs_baseline), 2),
            fmt(med(&|m| m.latency.as_ref().map(|l| l.acked_per_sec)), 0),
            fmt(
                med(&|m| m.latency.as_ref().map(|l| l.markers.found as f64)),
                0
            ),
            fmt(lat(|k| k.p50_ms), 0),
            fmt(lat(|k| k.p99_ms), 0),
            fmt(lat(|k| k.max_ms), 0),
            fmt(med(&|m| m.server_peak_rss_mib), 0),
            fmt(med(&|m| Some(m.index_per_raw)), 3),
            fmt(med(&|m| Some(m.wal_per_raw)), 3),
        ));
    }
    let all_modes = || runs.iter().flat_map(|r| r.modes.iter());
    let not_searchable = all_modes()
        .filter(|m| {
            m.throughput.searchable_secs.is_none()
                || m.latency
                    .as_ref()
                    .is_some_and(|l| l.searchable_secs.is_none())
        })
        .count();
    if not_searchable > 0 {
        s.push_str(&format!(
            "\n{not_searchable} mode run(s) never became fully searchable (excluded from searchable medians).\n"
        ));
    }
    let timed_out: u64 = all_modes()
        .filter_map(|m| m.latency.as_ref())
        .map(|l| l.markers.timed_out)
        .sum();
    if timed_out > 0 {
        s.push_str(&format!(
            "\n{timed_out} marker(s) never became searchable (not in the percentiles).\n"
        ));
    }
    let unclean = all_modes().filter(|m| !m.clean_shutdown).count();
    if unclean > 0 {
        s.push_str(&format!(
            "\n{unclean} server(s) did not exit within {STOP_TIMEOUT:?} of SIGTERM.\n"
        ));
    }
    let other_docs = all_modes()
        .filter(|m| !m.same_documents_as_baseline)
        .count();
    if other_docs > 0 {
        s.push_str(&format!(
            "\n{other_docs} mode run(s) did not send the baseline's exact documents.\n"
        ));
    }
    s.push_str(
        "\nEach figure is the median over runs of the per-run figure (ratios are computed per run). \
         Throughput columns: the baseline's documents (same seed, count and timestamps), sent as fast as possible; \
         MB = 10⁶ bytes of NDJSON-equivalent input; searchable ÷ baseline = searchable rec/s ÷ baseline docs/s of the same run. \
         Latency columns: the fixed-rate phase that follows on the same server; ack→searchable = from a marker's ack until a search finds it (polled every 50 ms). \
         Peak RSS = server VmHWM up to its exit; the baseline's includes its in-memory corpus. \
         index / WAL B per raw B: `data/index` and `data/wal` after a graceful stop, per NDJSON-equivalent byte of everything sent in both phases \
         (the baseline: its index per byte of its documents).\n",
    );
    s
}
