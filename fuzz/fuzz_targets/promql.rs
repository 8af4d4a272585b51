//! PromQL text → `promql::parse` and, when it parses, an instant query, a short range query
//! and the series-selector parse, over an in-memory store with a few series. Errors are
//! answers; a panic, an abort (stack overflow), or a slow input is a bug.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pharos_collector::tsdb::MetricKind;
use pharos_query::promql::testing::{labels, MemStore};
use pharos_query::promql::{self, PromOptions};

/// The evaluation time: ten minutes after the first sample.
const T_MS: i64 = 1_740_830_400_000 + 600_000;

fn store() -> &'static MemStore {
    static STORE: OnceLock<MemStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let t0 = T_MS - 600_000;
        let every_15s = |f: &dyn Fn(i64) -> f64| -> Vec<(i64, f64)> {
            (0..=40).map(|i| (t0 + i * 15_000, f(i))).collect()
        };
        let mut s = MemStore::new();
        for (job, inst, k) in [
            ("api", "a:9090", 1.0),
            ("api", "b:9090", 2.0),
            ("db", "c:9100", 5.0),
        ] {
            s.add(
                labels(&[("__name__", "up"), ("job", job), ("instance", inst)]),
                MetricKind::Gauge,
                &every_15s(&|i| if i == 20 { 0.0 } else { 1.0 }),
            );
            s.add(
                labels(&[
                    ("__name__", "http_requests_total"),
                    ("job", job),
                    ("instance", inst),
                    ("code", "200"),
                ]),
                MetricKind::Counter,
                // A reset half-way.
                &every_15s(&|i| {
                    if i < 25 {
                        k * i as f64
                    } else {
                        k * (i - 25) as f64
                    }
                }),
            );
            s.add(
                labels(&[
                    ("__name__", "process_resident_memory_bytes"),
                    ("job", job),
                    ("instance", inst),
                ]),
                MetricKind::Gauge,
                &every_15s(&|i| 1e8 + k * 1e6 * (i % 7) as f64),
            );
        }
        for (le, n) in [("0.1", 3.0), ("0.5", 7.0), ("1", 9.0), ("+Inf", 10.0)] {
            s.add(
                labels(&[
                    ("__name__", "rpc_duration_seconds_bucket"),
                    ("job", "api"),
                    ("le", le),
                ]),
                MetricKind::Counter,
                &every_15s(&|i| n * i as f64),
            );
        }
        s.add(
            labels(&[("__name__", "temperature"), ("room", "lab")]),
            MetricKind::Gauge,
            &every_15s(&|i| {
                if i == 30 {
                    f64::NAN
                } else {
                    -3.5 + i as f64 / 3.0
                }
            }),
        );
        s.add_distribution(
            labels(&[("__name__", "latency_seconds"), ("job", "api")]),
            T_MS - 30_000,
            &[(0.01, 5), (0.2, 3), (1.5, 1)],
        );
        s
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if promql::parse(text).is_err() {
        return;
    }
    let opts = PromOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let store = store();
    let _ = promql::instant_query(store, text, T_MS, &opts);
    let _ = promql::range_query(store, text, T_MS - 120_000, T_MS, 30_000, &opts);
    let _ = promql::parse_selector(text);
});
