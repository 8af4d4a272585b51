//! `pharos-loadgen`: generate logs, run the raw-tantivy baseline, drive ingest
//! against a running server, or orchestrate a full benchmark.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use pharos_tests::gen::Generator;
use pharos_tests::loadgen::alert_bench::latency::{self, LatencyOpts};
use pharos_tests::loadgen::alert_bench::rule_eval::{self, RuleEvalOpts};
use pharos_tests::loadgen::baseline::{self, BaselineOpts};
use pharos_tests::loadgen::bench::{self, BenchOpts};
use pharos_tests::loadgen::ingest::{self, IngestOpts, Mode};
use pharos_tests::loadgen::metrics_bench::ingest::{Protocol, ServerKind};
use pharos_tests::loadgen::metrics_bench::query::QueryOpts;
use pharos_tests::loadgen::metrics_bench::{self, MetricsBenchOpts};
use pharos_tests::loadgen::query_bench::{self, QueryBenchOpts};

// The allocator the `pharos` binary runs on (src/main.rs): the in-process query benchmark
// and the baselines measure what production would.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pharos-loadgen",
    about = "Load generator and baseline for Pharos"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print generated NDJSON log lines to stdout.
    Generate {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Index the generated lines with raw tantivy in-process.
    Baseline {
        #[arg(long, default_value_t = 200_000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Timestamp of the first record, unix ns (default 2025-01-01).
        #[arg(long, allow_negative_numbers = true)]
        start_ns: Option<i64>,
        #[command(flatten)]
        idx: IndexArgs,
    },
    /// Send generated records to a running server.
    Ingest {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        #[arg(long, value_enum, default_value_t = Mode::Ndjson)]
        mode: Mode,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Records per second, sent as a slice every 50 ms spread over the
        /// connections; 0 = as fast as possible.
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Send latency markers every ~200 ms while loading.
        #[arg(long)]
        markers: bool,
        /// Give up waiting for searchability after this many seconds.
        #[arg(long, default_value_t = 300)]
        searchable_timeout_s: u64,
    },
    /// Baseline + a fresh server per mode; prints a markdown table.
    Bench {
        #[arg(long, default_value = "target/release/pharos")]
        pharos: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1)]
        runs: usize,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Modes to run, in order.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Mode::Ndjson, Mode::Otlp])]
        modes: Vec<Mode>,
        /// Extra KEY=VALUE environment for the server (repeatable).
        #[arg(long = "server-env", value_parser = parse_kv)]
        server_env: Vec<(String, String)>,
        #[arg(long, default_value_t = 300)]
        searchable_timeout_s: u64,
        /// Records per second of the latency phase that follows the
        /// throughput phase on each server (0 = no latency phase).
        #[arg(long, default_value_t = 20_000)]
        latency_rate: u64,
        /// Duration of the latency phase; one marker every 100 ms.
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
        #[command(flatten)]
        idx: IndexArgs,
    },
    /// Query latency of Pharos vs raw tantivy over the same partitions; prints a markdown
    /// table.
    QueryBench {
        /// Records of the corpus, spread evenly over `--days` UTC days from 2026-01-01.
        #[arg(long, default_value_t = 10_000_000)]
        records: usize,
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Timed runs of each query, after one warm-up.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Where the corpus lives; kept, and reused by a later run with the same records,
        /// days and seed (default: a temporary dir, removed at the end).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write a JSON summary to this file.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Metrics: ingest throughput (remote write, OTLP/HTTP) against a raw-sled baseline,
    /// bytes on disk, and query_range latency over 30 days; prints a markdown section.
    MetricsBench(MetricsBenchArgs),
    /// Alerting: a failing health check → the e-mail accepted by a test SMTP server, through
    /// the `pharos` binary; prints a markdown section.
    AlertLatency {
        #[arg(long, default_value = "target/release/pharos")]
        pharos_bin: PathBuf,
        #[arg(long, default_value_t = 100)]
        incidents: usize,
        /// Checks failing independently side by side (incidents are split over them).
        #[arg(long, default_value_t = 4)]
        lanes: usize,
        /// Also write a JSON summary (every incident) to this file.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Alerting: CPU and punctuality of log and PromQL rules evaluated once a minute, in
    /// process; prints a markdown section.
    RuleEval {
        #[arg(long, default_value_t = 10_000)]
        rules: usize,
        #[arg(long, default_value_t = 10)]
        rules_per_group: usize,
        #[arg(long, default_value_t = 10)]
        files: usize,
        /// Minutes measured (after a warm-up minute).
        #[arg(long, default_value_t = 5)]
        minutes: u64,
        /// Log records spread over the data's span (the measured minutes + 62).
        #[arg(long, default_value_t = 400_000)]
        log_records: usize,
        /// Instance × zone combinations of each of the 10 metrics.
        #[arg(long, default_value_t = 200)]
        combos: usize,
        /// `alerting.rules.max_concurrent_evaluations`.
        #[arg(long, default_value_t = 2)]
        max_concurrent: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// metrics-bench's raw-sled baseline alone (run by metrics-bench in a child process);
    /// prints its JSON result.
    #[command(hide = true)]
    MetricsSledBaseline {
        #[arg(long)]
        series: usize,
        #[arg(long)]
        samples_per_series: usize,
        #[arg(long)]
        interval: u64,
        #[arg(long, allow_negative_numbers = true)]
        last_ts_ms: i64,
        #[arg(long)]
        batch: usize,
        #[arg(long)]
        connections: usize,
        #[arg(long)]
        seed: u64,
    },
}

#[derive(Args, Clone)]
struct MetricsBenchArgs {
    /// The `pharos` binary to start (`serve`) for each ingest run.
    #[arg(long, default_value = "target/release/pharos")]
    pharos_bin: PathBuf,
    /// Run the collector inside this process instead of the binary (no server peak RSS).
    #[arg(long)]
    in_process: bool,
    /// Run the raw-sled baseline inside this process instead of a child process.
    #[arg(long)]
    sled_in_process: bool,
    /// Extra KEY=VALUE environment for the server (repeatable).
    #[arg(long = "server-env", value_parser = parse_kv)]
    server_env: Vec<(String, String)>,
    /// Series sent (10 metrics × series/10 label combinations).
    #[arg(long, default_value_t = 1_000)]
    series: usize,
    /// Samples of each series (7,200 at 15 s = 30 h, 7.2 M samples for 1,000 series; the
    /// span must stay inside the server's 2-day raw retention).
    #[arg(long, default_value_t = 7_200)]
    samples_per_series: usize,
    /// Seconds between two samples of a series.
    #[arg(long, default_value_t = 15)]
    interval: u64,
    /// Samples per request (and per sled batch).
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Runs of each ingest (baseline and protocols); medians are quoted.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Protocols to run, in order.
    #[arg(long, value_delimiter = ',', default_values_t = [ProtocolArg::RemoteWrite, ProtocolArg::Otlp], value_enum)]
    protocols: Vec<ProtocolArg>,
    /// After the last acknowledgement, wait this long for every sample to be queryable.
    #[arg(long, default_value_t = 600)]
    queryable_timeout_s: u64,
    /// Skip the ingest part.
    #[arg(long)]
    no_ingest: bool,
    /// Skip the query part.
    #[arg(long)]
    no_query: bool,
    /// Series of the counter (and as many of the gauge) in the query store.
    #[arg(long, default_value_t = 1_000)]
    query_series: usize,
    #[arg(long, default_value_t = 30)]
    query_days: u32,
    /// Seconds between two samples in the query store.
    #[arg(long, default_value_t = 60)]
    query_interval: u64,
    /// Step of the range queries, seconds.
    #[arg(long, default_value_t = 300)]
    query_step: u64,
    /// Timed runs of each query, after one warm-up.
    #[arg(long, default_value_t = 50)]
    query_runs: usize,
    /// Where to build the query store (must be new or empty; kept). Default: a temp dir.
    #[arg(long)]
    query_dir: Option<PathBuf>,
    /// Open the store a previous run built in --query-dir (same query options) instead of
    /// building it again: only the queries run. With --no-ingest, a quick query-only look.
    #[arg(long, requires = "query_dir")]
    query_reuse: bool,
    /// The query store's decoded 5-minute block cache, MiB (`metrics.rollup_cache_mb`).
    #[arg(long, default_value_t = pharos_collector::tsdb::default_rollup_cache_mb())]
    query_cache_mb: usize,
    /// Also write a JSON summary to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ProtocolArg {
    RemoteWrite,
    Otlp,
}

#[derive(Args, Clone)]
struct IndexArgs {
    /// Indexing threads for the baseline writer.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Overall indexing memory budget for the baseline writer.
    #[arg(long, default_value_t = 256)]
    budget_mb: usize,
    /// Baseline doc store compression: zstd | lz4 | none.
    #[arg(long, default_value = "zstd")]
    compression: String,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn baseline_opts(count: usize, seed: u64, start_ns: Option<i64>, idx: IndexArgs) -> BaselineOpts {
    BaselineOpts {
        count,
        seed,
        start_ns,
        threads: idx.threads,
        budget_mb: idx.budget_mb,
        compression: idx.compression,
    }
}

fn main() -> Result<()> {
    pharos_collector::allocator::tune();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Generate { count, seed } => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            for rec in Generator::new(seed).take(count) {
                let res = writeln!(out, "{}", rec.to_ndjson());
                if let Err(e) = res {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(e).context("writing to stdout");
                }
            }
            match out.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("flushing stdout")
                }
                _ => Ok(()),
            }
        }
        Cmd::Baseline {
            count,
            seed,
            start_ns,
            idx,
        } => {
            let r = baseline::run(&baseline_opts(count, seed, start_ns, idx))?;
            println!(
                "{}",
                serde_json::to_string(&r).context("serializing result")?
            );
            println!("{}", r.human());
            Ok(())
        }
        Cmd::Ingest {
            server,
            mode,
            count,
            batch,
            connections,
            seed,
            rate,
            markers,
            searchable_timeout_s,
        } => {
            let opts = IngestOpts {
                server,
                mode,
                count,
                batch,
                connections,
                seed,
                rate,
                start_ns: None,
                markers,
                marker_interval: Duration::from_millis(200),
                marker_limit: None,
                searchable_timeout: Duration::from_secs(searchable_timeout_s),
            };
            let r = runtime()?.block_on(ingest::run(&opts))?;
            println!(
                "{}",
                serde_json::to_string(&r).context("serializing result")?
            );
            println!("{}", r.human());
            Ok(())
        }
        Cmd::Bench {
            pharos,
            count,
            seed,
            runs,
            batch,
            connections,
            modes,
            server_env,
            searchable_timeout_s,
            latency_rate,
            latency_secs,
            idx,
        } => {
            let opts = BenchOpts {
                pharos,
                count,
                seed,
                runs,
                batch,
                connections,
                // The start time is set per run, shared with the server modes.
                baseline: baseline_opts(count, seed, None, idx),
                modes,
                server_env,
                searchable_timeout: Duration::from_secs(searchable_timeout_s),
                latency_rate,
                latency_secs,
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
            };
            runtime()?.block_on(bench::run(&opts))?;
            Ok(())
        }
        Cmd::QueryBench {
            records,
            days,
            runs,
            data_dir,
            seed,
            output,
        } => {
            let opts = QueryBenchOpts {
                records,
                days,
                runs,
                data_dir,
                seed,
                output,
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
            };
            let report = query_bench::run(&opts)?;
            println!("{}", report.markdown());
            if !report.mismatches.is_empty() {
                anyhow::bail!(
                    "Pharos and tantivy disagree on {} queries: {}",
                    report.mismatches.len(),
                    report.mismatches.join(" | ")
                );
            }
            Ok(())
        }
        Cmd::MetricsBench(a) => {
            let opts = MetricsBenchOpts {
                server: if a.in_process {
                    ServerKind::InProcess
                } else {
                    ServerKind::Binary {
                        path: a.pharos_bin,
                        env: a.server_env,
                    }
                },
                series: a.series,
                samples_per_series: a.samples_per_series,
                interval_s: a.interval,
                batch: a.batch,
                connections: a.connections,
                runs: a.runs,
                seed: a.seed,
                protocols: a
                    .protocols
                    .iter()
                    .map(|p| match p {
                        ProtocolArg::RemoteWrite => Protocol::RemoteWrite,
                        ProtocolArg::Otlp => Protocol::Otlp,
                    })
                    .collect(),
                queryable_timeout_s: a.queryable_timeout_s,
                sled_in_child: !a.sled_in_process,
                ingest: !a.no_ingest,
                query: (!a.no_query).then_some(QueryOpts {
                    series: a.query_series,
                    days: a.query_days,
                    interval_s: a.query_interval,
                    step_s: a.query_step,
                    runs: a.query_runs,
                    seed: a.seed,
                    data_dir: a.query_dir,
                    reuse: a.query_reuse,
                    rollup_cache_mb: a.query_cache_mb,
                }),
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
                output: a.output,
            };
            let report = runtime()?.block_on(metrics_bench::run(&opts))?;
            println!("{}", report.markdown());
            Ok(())
        }
        Cmd::AlertLatency {
            pharos_bin,
            incidents,
            lanes,
            output,
        } => {
            let opts = LatencyOpts {
                pharos_bin,
                incidents,
                lanes,
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
            };
            let report = runtime()?.block_on(latency::run(&opts))?;
            write_json(output.as_deref(), &report)?;
            println!("{}", report.markdown());
            Ok(())
        }
        Cmd::RuleEval {
            rules,
            rules_per_group,
            files,
            minutes,
            log_records,
            combos,
            max_concurrent,
            seed,
            output,
        } => {
            let opts = RuleEvalOpts {
                rules,
                rules_per_group,
                files,
                minutes,
                log_records,
                combos,
                max_concurrent,
                seed,
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
            };
            let report = runtime()?.block_on(rule_eval::run(&opts))?;
            write_json(output.as_deref(), &report)?;
            println!("{}", report.markdown());
            Ok(())
        }
        Cmd::MetricsSledBaseline {
            series,
            samples_per_series,
            interval,
            last_ts_ms,
            batch,
            connections,
            seed,
        } => {
            let r = metrics_bench::sled_baseline(
                series,
                samples_per_series,
                interval,
                last_ts_ms,
                batch,
                connections,
                seed,
            )?;
            println!(
                "{}",
                serde_json::to_string(&r).context("serializing result")?
            );
            Ok(())
        }
    }
}

fn write_json(path: Option<&std::path::Path>, value: &impl serde::Serialize) -> Result<()> {
    if let Some(p) = path {
        let text = serde_json::to_string_pretty(value).context("serializing the report")?;
        std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("building tokio runtime")
}
