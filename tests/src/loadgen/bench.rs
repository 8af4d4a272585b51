//! Orchestrates full benchmark runs: raw-tantivy baseline (in a child
//! `pharos-loadgen baseline` process, so its peak RSS is its own), then one
//! fresh `pharos serve` per ingest mode, and prints a markdown summary.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::loadgen::baseline::{BaselineOpts, BaselineResult};
use crate::loadgen::ingest::{self, IngestOpts, IngestResult, Mode};
use crate::loadgen::proc::{self, Server};
use crate::loadgen::stats::{median, median_of, MIB};

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
}

/// One mode against one fresh server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModeRun {
    pub ingest: IngestResult,
    pub server_peak_rss_mib: Option<f64>,
    pub disk_bytes: u64,
    pub disk_per_raw: f64,
    pub clean_shutdown: bool,
}

/// Everything measured in one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub baseline: BaselineResult,
    pub modes: Vec<ModeRun>,
}

/// Runs the baseline in a child process of this same executable.
fn run_baseline_child(opts: &BaselineOpts) -> Result<BaselineResult> {
    let exe = std::env::current_exe().context("locating pharos-loadgen executable")?;
    let out = Command::new(&exe)
        .arg("baseline")
        .args(["--count", &opts.count.to_string()])
        .args(["--seed", &opts.seed.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .args(["--budget-mb", &opts.budget_mb.to_string()])
        .args(["--compression", &opts.compression])
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

async fn run_mode(opts: &BenchOpts, mode: Mode) -> Result<ModeRun> {
    let mut server = Server::start(&opts.pharos, &opts.server_env)?;
    let client = reqwest::Client::new();
    server
        .wait_healthy(&client, Duration::from_secs(30))
        .await?;
    let ingest_opts = IngestOpts {
        server: server.http.clone(),
        mode,
        count: opts.count,
        batch: opts.batch,
        connections: opts.connections,
        seed: opts.seed,
        markers: true,
        marker_interval: Duration::from_millis(200),
        searchable_timeout: opts.searchable_timeout,
    };
    let result = ingest::run(&ingest_opts).await;
    let result = match result {
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
    let peak = proc::peak_rss_of(server.pid())
        .map(|b| b as f64 / MIB)
        .map_err(|e| eprintln!("warning: server peak RSS unavailable: {e:#}"))
        .ok();
    let disk_bytes = proc::dir_size(&server.data_dir)?;
    let clean_shutdown = server.stop(Duration::from_secs(30))?;
    let disk_per_raw = disk_bytes as f64 / result.raw_bytes.max(1) as f64;
    Ok(ModeRun {
        ingest: result,
        server_peak_rss_mib: peak,
        disk_bytes,
        disk_per_raw,
        clean_shutdown,
    })
}

/// Runs `opts.runs` full runs and prints per-run lines and a median table.
pub async fn run(opts: &BenchOpts) -> Result<Vec<RunResult>> {
    if !opts.pharos.exists() {
        bail!("pharos binary not found at {}", opts.pharos.display());
    }
    let mut runs = Vec::new();
    for i in 0..opts.runs.max(1) {
        eprintln!("== run {}/{} ==", i + 1, opts.runs.max(1));
        let b = opts.baseline.clone();
        let baseline = tokio::task::spawn_blocking(move || run_baseline_child(&b))
            .await
            .context("baseline task panicked")??;
        eprintln!("{}", baseline.human());
        let mut modes = Vec::new();
        for &mode in &opts.modes {
            let m = run_mode(opts, mode).await?;
            eprintln!(
                "{}; server peak RSS {} MiB, disk {:.1} MiB ({:.3} B/raw B){}",
                m.ingest.human(),
                m.server_peak_rss_mib
                    .map_or("?".to_string(), |v| format!("{v:.0}")),
                m.disk_bytes as f64 / MIB,
                m.disk_per_raw,
                if m.clean_shutdown {
                    ""
                } else {
                    ", NO clean shutdown"
                }
            );
            modes.push(m);
        }
        let run = RunResult { baseline, modes };
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

/// Markdown table of medians over runs.
pub fn table(opts: &BenchOpts, runs: &[RunResult]) -> String {
    let mut s = String::new();
    let n = runs.len();
    let b = |f: fn(&BaselineResult) -> f64| {
        median(&runs.iter().map(|r| f(&r.baseline)).collect::<Vec<_>>())
    };
    s.push_str(&format!(
        "pharos bench: {} records, seed {}, batch {}, {} connections, {} run(s) (medians)\n\n",
        opts.count, opts.seed, opts.batch, opts.connections, n
    ));
    s.push_str("| mode | acked rec/s | acked MB/s | searchable rec/s | vs baseline | ack→search p50 ms | p99 ms | peak RSS MiB | disk B / raw B |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    s.push_str(&format!(
        "| baseline (tantivy, {} thr, {} MB, {}) | {} | {} | {} | 1.00 | — | — | {} | {} |\n",
        opts.baseline.threads,
        opts.baseline.budget_mb,
        opts.baseline.compression,
        fmt(b(|r| r.docs_per_sec), 0),
        fmt(b(|r| r.mb_per_sec), 1),
        fmt(b(|r| r.docs_per_sec), 0),
        fmt(b(|r| r.peak_rss_mib), 0),
        fmt(b(|r| r.index_to_raw), 3),
    ));
    for (mi, mode) in opts.modes.iter().enumerate() {
        let ms: Vec<(&RunResult, &ModeRun)> = runs
            .iter()
            .filter_map(|r| r.modes.get(mi).map(|m| (r, m)))
            .collect();
        let med = |f: &dyn Fn(&(&RunResult, &ModeRun)) -> Option<f64>| median_of(&ms, f);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            mode.name(),
            fmt(med(&|(_, m)| Some(m.ingest.acked_per_sec)), 0),
            fmt(med(&|(_, m)| Some(m.ingest.acked_mb_per_sec)), 1),
            fmt(med(&|(_, m)| m.ingest.searchable_per_sec), 0),
            fmt(
                med(&|(r, m)| m
                    .ingest
                    .searchable_per_sec
                    .map(|v| v / r.baseline.docs_per_sec)),
                2
            ),
            fmt(
                med(&|(_, m)| (m.ingest.markers.found > 0).then_some(m.ingest.markers.p50_ms)),
                0
            ),
            fmt(
                med(&|(_, m)| (m.ingest.markers.found > 0).then_some(m.ingest.markers.p99_ms)),
                0
            ),
            fmt(med(&|(_, m)| m.server_peak_rss_mib), 0),
            fmt(med(&|(_, m)| Some(m.disk_per_raw)), 3),
        ));
    }
    let not_searchable: usize = runs
        .iter()
        .flat_map(|r| r.modes.iter())
        .filter(|m| m.ingest.searchable_secs.is_none())
        .count();
    if not_searchable > 0 {
        s.push_str(&format!(
            "\n{not_searchable} mode run(s) never became fully searchable (excluded from searchable medians).\n"
        ));
    }
    s.push_str("\nRaw bytes = NDJSON-equivalent input. Baseline peak RSS includes the in-memory corpus; vs baseline = searchable rec/s ÷ baseline docs/s of the same run.\n");
    s
}
