//! `rule-eval`'s data and rules: a log store filled through the collector (generated
//! records, evenly spread over the span), a metrics store built directly (counters and
//! gauges every 15 s), and rule files of log and PromQL rules over both.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use pharos_collector::clock::{ManualClock, SharedClock};
use pharos_collector::config::CollectorConfig;
use pharos_collector::ingest::IngestError;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::record::LogRecord;
use pharos_collector::tsdb::{
    Labels, MetricBatch, MetricKind, Sample, SeriesSamples, TsdbLimits, TsdbStore,
};
use pharos_collector::Collector;

use crate::gen::{Generator, SERVICES};
use crate::loadgen::metrics_bench::data::{ValueClass, ValueGen, METRICS, ZONES};

/// Records per append (one WAL write each).
const LOG_BATCH: usize = 5_000;
/// Seconds between two samples of a series.
pub const SCRAPE_S: i64 = 15;
/// Samples of each series per `apply`.
const SAMPLES_PER_APPLY: usize = 40;

/// The collector's data dir config: nothing expires the data, which lies in the past.
pub fn collector_config(data_dir: &Path) -> CollectorConfig {
    let mut cfg = CollectorConfig::default();
    cfg.storage.data_dir = data_dir.to_path_buf();
    cfg.retention.days = 36_500;
    cfg.retention.keep_errors_days = 0;
    cfg.ingest.min_free_disk_bytes = 0;
    cfg.ingest.max_future_secs = 0;
    cfg
}

/// Appends `records` generated records stamped evenly over `[from_ns, to_ns)` and waits
/// until all are searchable.
pub async fn fill_logs(
    collector: &Collector,
    clock: &ManualClock,
    records: usize,
    from_ns: i64,
    to_ns: i64,
    seed: u64,
) -> Result<()> {
    let gap = (to_ns - from_ns) / records.max(1) as i64;
    let mut gen = Generator::with_start(seed, from_ns);
    let mut batch: Vec<LogRecord> = Vec::with_capacity(LOG_BATCH);
    let mut bytes = 0;
    for i in 0..records {
        let mut r = gen.next_record();
        r.ts_ns = from_ns + i as i64 * gap;
        let line = r.to_ndjson();
        bytes += line.len() + 1;
        batch.push(normalize_json_object(&line, r.ts_ns).map_err(|e| anyhow::anyhow!("{e}"))?);
        if batch.len() == LOG_BATCH || i + 1 == records {
            clock.set(r.ts_ns + 1);
            append(collector, &batch, bytes).await?;
            batch.clear();
            bytes = 0;
        }
    }
    let want = collector.wal.durable_lsn();
    let deadline = Instant::now() + Duration::from_secs(600);
    while collector.progress().committed_lsn.load(Ordering::SeqCst) < want {
        ensure!(
            !collector.progress().failed.load(Ordering::SeqCst),
            "the indexer stopped on an error"
        );
        ensure!(
            Instant::now() < deadline,
            "indexing did not catch up in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn append(collector: &Collector, records: &[LogRecord], bytes: usize) -> Result<()> {
    loop {
        match collector.ingestor.append(records, "bench", bytes).await {
            Ok(()) => return Ok(()),
            Err(IngestError::Backpressure { .. }) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => return Err(anyhow::anyhow!("append: {e}")),
        }
    }
}

/// `host-NNN` / zone of combination `combo`.
fn instance(combo: usize) -> String {
    format!("host-{:03}", combo / ZONES.len())
}

/// Builds a store of `10 × combos` series (every metric for every instance and zone), one
/// sample every [`SCRAPE_S`] over `[from_ms, to_ms]`.
pub fn fill_metrics(
    dir: &Path,
    combos: usize,
    from_ms: i64,
    to_ms: i64,
    seed: u64,
) -> Result<(Arc<TsdbStore>, u64)> {
    let clock = ManualClock::new(from_ms * 1_000_000);
    let shared: SharedClock = Arc::new(clock.clone());
    let store = Arc::new(TsdbStore::open(dir, TsdbLimits::default(), shared)?);
    let mut series = Vec::with_capacity(METRICS.len() * combos);
    for def in &METRICS {
        let kind = match def.class {
            ValueClass::Counter => MetricKind::Counter,
            _ => MetricKind::Gauge,
        };
        for combo in 0..combos {
            let labels = Labels::new([
                ("__name__".to_string(), def.name.to_string()),
                ("instance".to_string(), instance(combo)),
                ("job".to_string(), "bench".to_string()),
                ("zone".to_string(), ZONES[combo % ZONES.len()].to_string()),
            ])
            .context("series labels")?;
            series.push((labels, kind, ValueGen::new(def, combo, seed)));
        }
    }
    let total = ((to_ms - from_ms) / (SCRAPE_S * 1000) + 1) as usize;
    let (mut lsn, mut applied, mut from) = (0u64, 0u64, 0usize);
    while from < total {
        let to = (from + SAMPLES_PER_APPLY).min(total);
        let mut batch = MetricBatch::default();
        for (labels, kind, gen) in &mut series {
            batch.series.push(SeriesSamples {
                labels: labels.clone(),
                kind: *kind,
                samples: (from..to)
                    .map(|i| Sample {
                        ts_ms: from_ms + i as i64 * SCRAPE_S * 1000,
                        value: gen.next_value(),
                    })
                    .collect(),
            });
        }
        applied += batch.sample_count() as u64;
        clock.set((from_ms + (to as i64 - 1) * SCRAPE_S * 1000) * 1_000_000);
        lsn += 1;
        store.apply(lsn, &batch)?;
        from = to;
    }
    store.flush()?;
    Ok((store, applied))
}

/// One log rule's `logs:` mapping, by variant.
fn log_rule(k: usize) -> String {
    let svc = SERVICES[k % SERVICES.len()];
    match k % 5 {
        0 => format!("{{ query: 'level:error service:{svc}', window: 5m, condition: '> 20' }}"),
        1 => format!("{{ query: 'level:>=warn service:{svc}', window: 10m, condition: '> 500' }}"),
        2 => format!(
            "{{ query: 'service:{svc} | stats count() by host', window: 5m, condition: '> 50' }}"
        ),
        3 => format!(
            "{{ query: 'service:{svc} | stats p99(duration_ms) as p99', window: 15m, condition: '> 900' }}"
        ),
        _ => format!(
            "{{ query: 'service:{svc} host:{} level:>=warn', window: 5m, condition: '> 0' }}",
            format_args!("{}-{:02}", &svc[..3.min(svc.len())], k % 12 + 1)
        ),
    }
}

/// One PromQL rule's `expr:`, by variant.
fn promql_rule(k: usize, combos: usize) -> String {
    let inst = instance(k % combos.max(1));
    let zone = ZONES[k % ZONES.len()];
    match k % 5 {
        0 => format!("rate(bench_http_requests_total{{instance=\"{inst}\"}}[5m]) > 10"),
        1 => format!("sum by (zone) (rate(bench_http_errors_total{{zone=\"{zone}\"}}[5m])) > 5"),
        2 => format!("avg_over_time(bench_queue_length{{instance=\"{inst}\"}}[10m]) > 60"),
        3 => format!("max by (instance) (bench_memory_bytes{{zone=\"{zone}\"}}) > 1e9"),
        _ => format!("increase(bench_jobs_processed_total{{instance=\"{inst}\"}}[15m]) > 500"),
    }
}

/// Writes `rules` rules (half `logs:`, half `expr:`) in groups of `per_group`, over
/// `files` files; returns the paths. Rule names say their kind (`Logs…` / `Prom…`).
pub fn write_rules(
    dir: &Path,
    rules: usize,
    per_group: usize,
    files: usize,
    combos: usize,
) -> Result<Vec<PathBuf>> {
    ensure!(
        per_group > 0 && files > 0,
        "rules per group and files must be at least 1"
    );
    let groups = rules.div_ceil(per_group);
    let mut texts = vec![String::from("groups:\n"); files];
    let mut n = 0;
    for g in 0..groups {
        let text = &mut texts[g % files];
        text.push_str(&format!("  - name: g{g:05}\n    rules:\n"));
        for _ in 0..per_group.min(rules - n) {
            // Alternate, so every group has both kinds.
            if n % 2 == 0 {
                text.push_str(&format!(
                    "      - alert: Logs{n}\n        logs: {}\n",
                    log_rule(n / 2)
                ));
            } else {
                text.push_str(&format!(
                    "      - alert: Prom{n}\n        expr: '{}'\n",
                    promql_rule(n / 2, combos)
                ));
            }
            n += 1;
        }
    }
    let mut paths = Vec::with_capacity(files);
    for (i, t) in texts.iter().enumerate() {
        let p = dir.join(format!("rules-{i:02}.yml"));
        std::fs::write(&p, t).with_context(|| format!("writing {}", p.display()))?;
        paths.push(p);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use pharos_alertmanager::rules::{RuleManager, RulesConfig};
    use pharos_alertmanager::sources::Sources;
    use pharos_alertmanager::{AlertStore, MemStateDb, SharedStateDb};

    use super::*;

    /// Every rule variant the bench writes loads and evaluates without an error over a
    /// small version of its data (the bench itself is too long for `cargo test`).
    #[test]
    fn every_generated_rule_evaluates_over_small_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (end, minute) = (20_484 * 86_400 * 1_000_000_000i64, 60_000_000_000i64);
        let from = end - 70 * minute;
        let log_clock = ManualClock::new(from);
        let shared: SharedClock = Arc::new(log_clock.clone());
        let collector = Collector::open(
            collector_config(&dir.path().join("logs")),
            shared,
            rt.handle().clone(),
        )
        .expect("collector");
        rt.block_on(fill_logs(&collector, &log_clock, 3_000, from, end, 1))
            .expect("logs");
        let (tsdb, samples) = fill_metrics(
            &dir.path().join("metrics"),
            8,
            from / 1_000_000,
            end / 1_000_000,
            1,
        )
        .expect("metrics");
        assert_eq!(samples, 80 * (70 * 4 + 1));
        // 40 rules: every variant of both kinds, several times.
        let files = write_rules(dir.path(), 40, 10, 2, 8).expect("rules");
        let db: SharedStateDb = Arc::new(MemStateDb::default());
        let clock: SharedClock = Arc::new(ManualClock::new(end));
        let store = Arc::new(AlertStore::open(db.clone(), clock.clone(), minute).expect("store"));
        let config = RulesConfig {
            files: files.iter().map(|p| p.display().to_string()).collect(),
            ..RulesConfig::default()
        };
        let sources = Sources {
            logs: Some(collector.store.clone()),
            metrics: Some(tsdb),
            checker: None,
        };
        let manager = RuleManager::new(config, sources, store, db, clock).expect("rules load");
        let view = manager.view();
        assert_eq!(view.groups.len(), 4);
        for g in &view.groups {
            manager
                .evaluate_group(&(g.file.clone(), g.name.clone()), end)
                .expect("evaluate");
        }
        let view = manager.view();
        let rules: Vec<_> = view.groups.iter().flat_map(|g| &g.rules).collect();
        assert_eq!(rules.len(), 40);
        for r in rules {
            assert!(r.last_error.is_none(), "{}: {:?}", r.query, r.last_error);
            assert!(r.last_evaluation.is_some(), "{}", r.name);
        }
        collector.shutdown().expect("shutdown");
    }
}
