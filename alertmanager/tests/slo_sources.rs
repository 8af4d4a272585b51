//! SLIs read through the real `Sources`: PromQL rate expressions with `$window` over an
//! in-memory metrics store, and a health check's availability from its uptime ledger.

use std::sync::Arc;

use pharos_alertmanager::checks::state::Outcome;
use pharos_alertmanager::config::{CheckConfig, CheckKind};
use pharos_alertmanager::slo::{SliSource, SloConfig, SloEngine, SloStatus};
use pharos_alertmanager::sources::Sources;
use pharos_alertmanager::Checker;
use pharos_collector::clock::{ManualClock, NANOS_PER_SEC as S};
use pharos_collector::tsdb::MetricKind;
use pharos_query::promql::testing::{labels, MemStore};

const T: i64 = 1_700_000_000 * S;

fn slo(body: &str) -> Result<SloConfig, String> {
    toml::from_str(&format!("name = \"api\"\nobjective = 99.9\n{body}")).map_err(|e| e.to_string())
}

fn one_status(engine: &SloEngine, now_ns: i64) -> Result<SloStatus, String> {
    engine.status(now_ns).pop().ok_or("no status".into())
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6 * b.abs().max(1.0))
}

/// Two days of counters scraped every 15 s: 980 good and 20 failed requests per scrape.
fn metrics() -> MemStore {
    let mut store = MemStore::new();
    let start_ms = (T - 2 * 86_400 * S) / 1_000_000;
    let end_ms = T / 1_000_000;
    for (code, per_scrape) in [("200", 980.0), ("500", 20.0)] {
        let samples: Vec<(i64, f64)> = (start_ms..=end_ms)
            .step_by(15_000)
            .enumerate()
            .map(|(i, ts)| (ts, i as f64 * per_scrape))
            .collect();
        store.add(
            labels(&[("__name__", "http_requests_total"), ("code", code)]),
            MetricKind::Counter,
            &samples,
        );
    }
    store
}

#[test]
fn promql_rates_over_each_window_give_the_burn_rate() -> Result<(), String> {
    let sources = Sources {
        metrics: Some(Arc::new(metrics())),
        ..Sources::default()
    };
    let config = slo(r#"
[sli.promql]
good = 'sum(rate(http_requests_total{code!~"5.."}[$window]))'
total = 'sum(rate(http_requests_total[$window]))'
"#)?;
    let bad_form = slo(r#"
[sli.promql]
bad = 'rate(http_requests_total{code="500"}[$window])'
total = 'rate(http_requests_total[$window])'
"#)?;
    for config in [config, bad_form] {
        let source: Arc<dyn SliSource> = Arc::new(sources.clone());
        let engine = SloEngine::new(&[config], source, |_| false).map_err(|e| e.to_string())?;
        let status = one_status(&engine, T)?;
        assert!(status.errors.is_empty(), "{:?}", status.errors);
        // 2 % errors: burn 20 over every window.
        for b in &status.burn_rates {
            assert!(close(b.burn_rate, 20.0), "{b:?}");
        }
        assert!(close(status.error_ratio, 0.02), "{status:?}");
        assert!(status.alerts.iter().all(|a| a.met));
        let groups = engine.rule_groups();
        let fast = &groups[0].rules[0];
        let samples = fast.expr.eval(T)?;
        assert_eq!(samples.len(), 1);
        assert!(close(Some(samples[0].value), 20.0));
    }
    Ok(())
}

#[test]
fn promql_without_series_is_no_data_and_without_a_store_an_error() -> Result<(), String> {
    let config = slo(r#"
[sli.promql]
bad = 'sum(rate(missing_total[$window]))'
total = 'sum(rate(missing_total[$window]))'
"#)?;
    let with_store: Arc<dyn SliSource> = Arc::new(Sources {
        metrics: Some(Arc::new(metrics())),
        ..Sources::default()
    });
    let engine = SloEngine::new(std::slice::from_ref(&config), with_store, |_| false)
        .map_err(|e| e.to_string())?;
    let status = one_status(&engine, T)?;
    assert!(status.errors.is_empty(), "{:?}", status.errors);
    assert!(status.burn_rates.iter().all(|b| b.burn_rate.is_none()));
    assert_eq!(status.error_budget.consumed_secs, None);
    for r in &engine.rule_groups()[0].rules {
        assert_eq!(r.expr.eval(T)?, vec![]);
    }

    let no_store: Arc<dyn SliSource> = Arc::new(Sources::default());
    let engine = SloEngine::new(&[config], no_store, |_| false).map_err(|e| e.to_string())?;
    let status = one_status(&engine, T)?;
    assert!(
        status.errors.iter().any(|e| e.contains("not available")),
        "{:?}",
        status.errors
    );
    assert!(status.burn_rates.iter().all(|b| b.burn_rate.is_none()));
    // The rule engine sees the failure (and can report it), not a silent "all is well".
    assert!(engine.rule_groups()[0].rules[0].expr.eval(T).is_err());
    Ok(())
}

#[test]
fn a_check_slo_spends_its_downtime() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let clock = ManualClock::new(T);
    let mut homepage = CheckConfig::new("homepage", CheckKind::Heartbeat, "");
    homepage.period_secs = Some(60);
    let checker = Arc::new(Checker::open(
        &[homepage],
        dir.path(),
        Arc::new(clock.clone()),
    )?);
    let check = checker.get("homepage").ok_or("no check")?.clone();
    // Up at T, down for 5 minutes from T + 1000 s, up again at T + 1300 s.
    checker.record_at(&check, Outcome::ok("ping"), T);
    checker.record_at(&check, Outcome::fail("missed"), T + 1000 * S);
    checker.record_at(&check, Outcome::ok("ping"), T + 1300 * S);

    let source: Arc<dyn SliSource> = Arc::new(Sources {
        checker: Some(checker.clone()),
        ..Sources::default()
    });
    let config = slo(r#"sli = { check = "homepage" }"#)?;
    let engine = SloEngine::new(&[config], source, |id| checker.get(id).is_some())
        .map_err(|e| e.to_string())?;
    let fast = engine.rule_groups()[0].rules[0].clone();

    // During the outage, at T + 1200 s: the 5m window is 200 s down of 300 s known, the 1h
    // window 200 s down of 1200 s known (the time before T is unknown and left out).
    let now = T + 1200 * S;
    clock.set(now);
    let status = one_status(&engine, now)?;
    let burn = |w: &str| {
        status
            .burn_rates
            .iter()
            .find(|b| b.window == w)
            .and_then(|b| b.burn_rate)
    };
    assert!(close(burn("5m"), 200.0 / 300.0 / 0.001));
    assert!(close(burn("1h"), 200.0 / 1200.0 / 0.001));
    let samples = fast.expr.eval(now)?;
    assert_eq!(samples.len(), 1);
    assert!(close(Some(samples[0].value), 200.0 / 1200.0 / 0.001));
    // Of a 43.2-minute budget, the 200 s of downtime so far are spent.
    assert!(
        close(status.error_budget.consumed_secs, 200.0),
        "{status:?}"
    );

    // An hour after T: the outage (300 s) is over; the 5m and 30m windows are clean, so no
    // page, but 5 minutes down in 1 hour is still burning the budget over 3d and 6h: ticket.
    let now = T + 3600 * S;
    clock.set(now);
    let status = one_status(&engine, now)?;
    assert!(
        close(status.error_budget.consumed_secs, 300.0),
        "{status:?}"
    );
    assert!(close(status.error_budget.remaining_secs, 2592.0 - 300.0));
    assert!(close(status.sli_percent, 100.0 * 3300.0 / 3600.0));
    let met: Vec<(&str, bool)> = status
        .alerts
        .iter()
        .map(|a| (a.long_window.as_str(), a.met))
        .collect();
    assert_eq!(met, [("1h", false), ("6h", false), ("3d", true)]);
    assert_eq!(fast.expr.eval(now)?, vec![]);
    Ok(())
}

/// A real collector (WAL + indexer) with one hour of checkout request logs: 1000 lines, 3.6 s
/// apart, the last 20 of them errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_query_counts_over_each_window_give_the_burn_rate() -> Result<(), String> {
    use pharos_collector::config::CollectorConfig;
    use pharos_collector::normalize::normalize_json_object;
    use pharos_collector::Collector;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    const NOW: i64 = (20_400 * 86_400 + 2 * 86_400 + 23 * 3600) * S;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cfg = CollectorConfig::default();
    cfg.storage.data_dir = dir.path().to_path_buf();
    cfg.index.commit_interval_ms = 20;
    cfg.index.writer_memory_mb = 32;
    cfg.index.writer_threads = 1;
    cfg.ingest.min_free_disk_bytes = 0;
    cfg.retention.days = 3650;
    let collector = Collector::open(
        cfg,
        Arc::new(ManualClock::new(NOW)),
        tokio::runtime::Handle::current(),
    )
    .map_err(|e| e.to_string())?;
    let records = (0..1000i64)
        .map(|i| {
            let ts = NOW - 3600 * S + i * 3600 * S / 1000;
            let level = if i >= 980 { "ERROR" } else { "INFO" };
            let line = serde_json::json!({
                "ts": ts, "service": "checkout", "level": level, "msg": format!("request {i}"),
            });
            normalize_json_object(&line.to_string(), NOW)
        })
        .collect::<Result<Vec<_>, String>>()?;
    collector
        .ingestor
        .append(&records, "test", 0)
        .await
        .map_err(|e| e.to_string())?;
    let want = collector.wal.durable_lsn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while collector.progress().committed_lsn.load(Ordering::SeqCst) < want {
        assert!(Instant::now() < deadline, "indexing timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let source: Arc<dyn SliSource> = Arc::new(Sources {
        logs: Some(collector.store.clone()),
        ..Sources::default()
    });
    let config = slo(r#"
[sli.logs]
bad = 'service:checkout AND level:ERROR'
total = 'service:checkout'
"#)?;
    let engine = SloEngine::new(&[config], source, |_| false).map_err(|e| e.to_string())?;
    let (status, fast) = tokio::task::spawn_blocking(move || {
        let fast = engine.rule_groups()[0].rules[0].expr.eval(NOW);
        (one_status(&engine, NOW), fast)
    })
    .await
    .map_err(|e| e.to_string())?;
    let status = status?;
    assert!(status.errors.is_empty(), "{:?}", status.errors);
    let burn = |w: &str| {
        status
            .burn_rates
            .iter()
            .find(|b| b.window == w)
            .and_then(|b| b.burn_rate)
    };
    // 1h: 20 of 1000. 5m: the 83 lines from NOW − 300 s (i ≥ 917), 20 of them errors.
    assert_eq!(burn("1h"), Some(20.0));
    assert!(close(burn("5m"), 20.0 / 83.0 / 0.001), "{:?}", burn("5m"));
    let samples = fast?;
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].value, 20.0);

    tokio::task::spawn_blocking(move || collector.shutdown())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(())
}
