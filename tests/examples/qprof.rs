//! Where a month-long `query_range` spends its time (development aid): the store's columnar
//! read alone, then the whole query. `cargo run --release -p pharos-tests --example qprof -- DIR`
use std::sync::Arc;
use std::time::Instant;

use pharos_collector::clock::{ManualClock, SharedClock};
use pharos_collector::tsdb::{
    ColumnSet, LabelMatcher, MatchOp, MetricStore, Resolution, SelectRequest, TsdbLimits, TsdbStore,
};
use pharos_query::promql::{range_query, PromOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NOW_MS: i64 = 1_769_817_600_000;

fn main() -> anyhow::Result<()> {
    pharos_collector::allocator::tune();
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/qstore".into());
    let clock = ManualClock::new(NOW_MS * 1_000_000);
    let shared: SharedClock = Arc::new(clock);
    let opened = Instant::now();
    let store = TsdbStore::open(
        std::path::Path::new(&dir),
        TsdbLimits {
            rollup_cache_bytes: std::env::var("QPROF_CACHE_MB")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or_else(pharos_collector::tsdb::default_rollup_cache_mb)
                << 20,
            ..TsdbLimits::default()
        },
        shared,
    )?;
    eprintln!(
        "opened in {:.0} ms",
        opened.elapsed().as_secs_f64() * 1000.0
    );
    let start = NOW_MS - 30 * 86_400_000;
    let req = SelectRequest {
        matchers: vec![LabelMatcher {
            name: "__name__".into(),
            op: MatchOp::Equal,
            value: "bench_http_requests_total".into(),
        }],
        start_ms: start - 600_000,
        end_ms: NOW_MS + 299_999,
        resolution: Resolution::FiveMinute,
    };
    let cols = ColumnSet::FIRST_TS
        .with(ColumnSet::FIRST)
        .with(ColumnSet::LAST_TS)
        .with(ColumnSet::LAST)
        .with(ColumnSet::RESETS);
    for _ in 0..3 {
        let mut t = Vec::new();
        // QPROF_NO_VISIT: queries start on a cold cache (the visits would fill it).
        let visits = if std::env::var_os("QPROF_NO_VISIT").is_some() {
            0
        } else {
            10
        };
        for _ in 0..visits {
            let i = Instant::now();
            store.visit_rollups(&req, cols, &|_, _, c| {
                std::hint::black_box(c.len());
            })?;
            t.push(i.elapsed().as_secs_f64() * 1000.0);
        }
        t.sort_by(f64::total_cmp);
        if let Some(p50) = t.get(t.len() / 2) {
            println!("visit_rollups (rate's columns), no-op visitor: p50 {p50:.1} ms");
        }
        if std::env::args().nth(2).as_deref() == Some("visit") {
            continue;
        }
        for q in [
            "sum(rate(bench_http_requests_total[5m]))",
            "rate(bench_http_requests_total{job=\"bench\"}[5m])",
            "max_over_time(bench_queue_length[1h])",
        ] {
            if let Some(only) = std::env::args().nth(2).filter(|a| a != "all") {
                if !q.starts_with(only.as_str()) {
                    continue;
                }
            }
            let mut t = Vec::new();
            for _ in 0..25 {
                let i = Instant::now();
                let r = range_query(&store, q, start, NOW_MS, 300_000, &PromOptions::default())
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                std::hint::black_box(r.len());
                t.push(i.elapsed().as_secs_f64() * 1000.0);
            }
            let seq: Vec<String> = t.iter().map(|x| format!("{x:.0}")).collect();
            t.sort_by(f64::total_cmp);
            println!("{q}: p50 {:.1} ms; runs {}", t[5], seq.join(" "));
        }
    }
    Ok(())
}
