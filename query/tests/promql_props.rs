//! Property: PromQL of bounded size — well-formed expressions from the grammar, and token soup
//! — never panics and never overflows the stack, in the parser or the evaluator. Each case
//! runs on a thread with tokio's default 2 MiB stack, as a server's blocking thread has; an
//! overflow aborts the whole test binary, so "it finished" is the assertion.

use std::time::Duration;

use pharos_collector::tsdb::MetricKind;
use pharos_query::promql::testing::{labels, MemStore};
use pharos_query::promql::{instant_query, range_query, PromError, PromOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn store() -> MemStore {
    let mut s = MemStore::new();
    for (job, v) in [("a", 1.0), ("b", 2.0)] {
        let samples: Vec<(i64, f64)> = (0..20).map(|i| (i * 15_000, v * i as f64)).collect();
        s.add(
            labels(&[("__name__", "up"), ("job", job)]),
            MetricKind::Gauge,
            &samples,
        );
        s.add(
            labels(&[
                ("__name__", "http_requests_total"),
                ("job", job),
                ("code", "200"),
            ]),
            MetricKind::Counter,
            &samples,
        );
    }
    s
}

/// Expressions from (a generous part of) the grammar, nested up to `depth`.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("up".to_string()),
        Just("http_requests_total{job=\"a\"}".to_string()),
        Just("up{job=~\"a|b\"}".to_string()),
        Just("http_requests_total[1m]".to_string()),
        Just("up offset 30s".to_string()),
        (-5i32..100).prop_map(|n| n.to_string()),
        Just("1.5e3".to_string()),
        Just("\"text\"".to_string()),
        Just("NaN".to_string()),
        Just("-Inf".to_string()),
    ];
    leaf.prop_recursive(40, 400, 4, |inner| {
        let op = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("^"),
            Just("=="),
            Just("!="),
            Just(">"),
            Just("<="),
            Just(" and "),
            Just(" or "),
            Just(" unless "),
            Just(" > bool "),
            Just(" atan2 "),
        ];
        let func = prop_oneof![
            Just("rate"),
            Just("increase"),
            Just("abs"),
            Just("sum"),
            Just("avg"),
            Just("max"),
            Just("min"),
            Just("count"),
            Just("topk"),
            Just("histogram_quantile"),
            Just("clamp_max"),
            Just("label_replace"),
            Just("absent"),
            Just("scalar"),
            Just("vector"),
            Just("sort"),
            Just("delta"),
            Just("max_over_time"),
            Just("time"),
        ];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("{a}{o}{b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (func.clone(), inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (func, inner.clone(), inner.clone()).prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            inner.clone().prop_map(|a| format!("sum by (job) ({a})")),
            inner.clone().prop_map(|a| format!("{a}[5m:1m]")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} + on(job) group_left {b}")),
        ]
    })
}

/// Token soup: PromQL's pieces in any order, up to 800 of them.
fn soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just("sum"),
        Just("by"),
        Just("up"),
        Just("rate"),
        Just("+"),
        Just("-"),
        Just("*"),
        Just("/"),
        Just("1"),
        Just("5m"),
        Just(","),
        Just("=~"),
        Just("\""),
        Just("'"),
        Just("#"),
        Just("\n"),
        Just("or"),
        Just(" "),
        Just("offset"),
        Just("@"),
        Just(":"),
        Just("job"),
        Just("="),
        Just("!"),
        Just("bool"),
        Just("`"),
        Just("\\"),
        Just("e"),
        Just("."),
    ];
    proptest::collection::vec(token, 0..800).prop_map(|t| t.concat())
}

fn check(store: &MemStore, q: &str) {
    let opts = PromOptions {
        timeout: Some(Duration::from_millis(500)),
        ..PromOptions::default()
    };
    // Errors are fine; only a panic or an overflow is not.
    let _ = instant_query(store, q, 200_000, &opts);
    let r = range_query(store, q, 0, 300_000, 15_000, &opts);
    if let Err(PromError::Execution(m)) = &r {
        assert!(!m.is_empty());
    }
}

/// Strategies hold `Rc`s, so each is made on the thread that runs it.
fn run_on_small_stack<S: Strategy<Value = String> + 'static>(make: fn() -> S, cases: u32) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let strategy = make();
            let store = store();
            let mut runner = TestRunner::new(Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            });
            runner
                .run(&strategy, |q| {
                    check(&store, &q);
                    Ok(())
                })
                .expect("no case failed");
        })
        .expect("spawn")
        .join()
        .expect("no panic");
}

#[test]
fn grammar_shaped_promql_never_panics_or_overflows() {
    run_on_small_stack(expr, 300);
}

#[test]
fn token_soup_never_panics_or_overflows() {
    run_on_small_stack(soup, 150);
}

#[test]
fn the_limits_hold_at_their_edges() {
    let store = store();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            for q in [
                format!("{}up{}", "sum(".repeat(127), ")".repeat(127)),
                format!("{}up{}", "sum(".repeat(129), ")".repeat(129)),
                format!("up{}", " or up".repeat(1000)),
                format!("up{}", " or up".repeat(1001)),
                "-".repeat(5000) + "1",
                format!("{}1", "(-".repeat(127)) + &")".repeat(127),
            ] {
                check(&store, &q);
            }
        })
        .expect("spawn")
        .join()
        .expect("no panic");
}
