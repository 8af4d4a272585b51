//! PromQL: exact answers computed by hand for every supported function and operator, the
//! errors for what is not supported, rollup reads equal to raw reads (property test), and
//! random query strings never panic.

use pharos_collector::tsdb::{Labels, MetricKind, STALE_NAN_BITS};
use pharos_query::promql::testing::{labels, MemStore};
use pharos_query::promql::{
    instant_query, range_query, PromError, PromOptions, PromValue, RangeSeries,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{Rng, SeedableRng};

/// An hour-aligned base time (ms).
const T0: i64 = 1_699_999_200_000;

fn t(secs: i64) -> i64 {
    T0 + secs * 1000
}

fn stale() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

fn samples(points: &[(i64, f64)]) -> Vec<(i64, f64)> {
    points.iter().map(|&(s, v)| (t(s), v)).collect()
}

type VmSeries = (&'static str, &'static [(&'static str, &'static str)], f64);

fn store() -> MemStore {
    let mut s = MemStore::new();
    use MetricKind::{Counter, Gauge};
    // c1: +10 every 15 s, from 15 s to 300 s.
    let c1: Vec<(i64, f64)> = (1..=20).map(|i| (i * 15, i as f64 * 10.0)).collect();
    s.add(
        labels(&[("__name__", "c1"), ("job", "api")]),
        Counter,
        &samples(&c1),
    );
    // c2: a reset between 90 s and 120 s.
    s.add(
        labels(&[("__name__", "c2"), ("job", "api")]),
        Counter,
        &samples(&[
            (30, 5.0),
            (60, 10.0),
            (90, 15.0),
            (120, 3.0),
            (150, 8.0),
            (180, 13.0),
        ]),
    );
    // c3: would reach zero shortly before its first sample.
    s.add(
        labels(&[("__name__", "c3")]),
        Counter,
        &samples(&[
            (60, 5.0),
            (120, 45.0),
            (180, 85.0),
            (240, 125.0),
            (300, 165.0),
        ]),
    );
    s.add(
        labels(&[("__name__", "g1")]),
        Gauge,
        &samples(&[(60, 10.0), (120, 4.0), (180, 7.0), (240, 1.0)]),
    );
    // g2 ends with a staleness marker at 120 s; g3 has one sample at 0 s.
    s.add(
        labels(&[("__name__", "g2")]),
        Gauge,
        &samples(&[(0, 1.0), (60, 2.0), (120, stale())]),
    );
    s.add(labels(&[("__name__", "g3")]), Gauge, &samples(&[(0, 5.0)]));
    for (env, svc, v) in [
        ("prod", "a", 1.0),
        ("dev", "b", 2.0),
        ("prod", "c", 3.0),
        ("", "d", 4.0),
    ] {
        s.add(
            labels(&[("__name__", "m"), ("env", env), ("svc", svc)]),
            Gauge,
            &samples(&[(0, v), (60, v)]),
        );
    }
    let vm: [VmSeries; 6] = [
        ("a", &[("job", "x"), ("inst", "1")], 10.0),
        ("a", &[("job", "x"), ("inst", "2")], 20.0),
        ("b", &[("job", "x"), ("inst", "1")], 2.0),
        ("b", &[("job", "x"), ("inst", "2")], 5.0),
        ("c", &[("inst", "1"), ("other", "o")], 4.0),
        ("d", &[("job", "x"), ("inst", "1"), ("other", "o")], 1.0),
    ];
    for (name, ls, v) in vm {
        let mut pairs = vec![("__name__", name)];
        pairs.extend_from_slice(ls);
        s.add(labels(&pairs), Gauge, &samples(&[(0, v), (60, v)]));
    }
    // Classic histograms (cumulative bucket counts).
    let hist: [(&str, &[(&str, f64)]); 5] = [
        (
            "hb",
            &[("0.1", 10.0), ("0.5", 30.0), ("1", 40.0), ("+Inf", 50.0)],
        ),
        ("hc", &[("+Inf", 5.0)]),
        (
            "hd",
            &[("1", 10.0), ("2", 8.0), ("4", 20.0), ("+Inf", 20.0)],
        ),
        ("he", &[("1", 5.0), ("2", 10.0)]),
        ("hz", &[("1", 0.0), ("+Inf", 0.0)]),
    ];
    for (name, buckets) in hist {
        let metric = format!("{name}_bucket");
        for &(le, v) in buckets {
            s.add(
                labels(&[("__name__", &metric), ("job", "h"), ("le", le)]),
                Counter,
                &samples(&[(0, v)]),
            );
        }
    }
    // A classic histogram as counters: +1/+3/+4/+5 per minute in le=0.1/0.5/1/+Inf.
    for (le, per_min) in [("0.1", 1.0), ("0.5", 3.0), ("1", 4.0), ("+Inf", 5.0)] {
        let pts: Vec<(i64, f64)> = (0..=5).map(|i| (i * 60, i as f64 * per_min)).collect();
        s.add(
            labels(&[("__name__", "hr_bucket"), ("le", le)]),
            Counter,
            &samples(&pts),
        );
    }
    s
}

fn opts() -> PromOptions {
    PromOptions::default()
}

/// An instant query's vector as (labels as Prometheus prints them, value), in answer order.
fn iq(s: &dyn pharos_collector::tsdb::MetricStore, q: &str, secs: i64) -> Vec<(String, f64)> {
    match instant_query(s, q, t(secs), &opts()) {
        Ok(PromValue::Vector(v)) => v
            .into_iter()
            .map(|x| {
                assert_eq!(x.ts_ms, t(secs));
                (show(&x.labels), x.value)
            })
            .collect(),
        other => panic!("{q}: expected a vector, got {other:?}"),
    }
}

fn one(s: &dyn pharos_collector::tsdb::MetricStore, q: &str, secs: i64) -> f64 {
    let v = iq(s, q, secs);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

fn scalar(s: &MemStore, q: &str) -> f64 {
    match instant_query(s, q, t(0), &opts()) {
        Ok(PromValue::Scalar { value, .. }) => value,
        other => panic!("{q}: expected a scalar, got {other:?}"),
    }
}

fn err(s: &MemStore, q: &str) -> PromError {
    match instant_query(s, q, t(300), &opts()) {
        Err(e) => e,
        Ok(v) => panic!("{q}: expected an error, got {v:?}"),
    }
}

fn show(l: &Labels) -> String {
    let inner: Vec<String> = l
        .iter()
        .filter(|(n, _)| *n != "__name__")
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    format!("{}{{{}}}", l.metric_name(), inner.join(", "))
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[track_caller]
fn assert_close(got: f64, want: f64) {
    assert!(close(got, want), "got {got}, want {want}");
}

#[test]
fn rate_increase_delta_extrapolate_like_prometheus() {
    let s = store();
    // c1 in (0, 300]: 10@15 … 200@300; 15 s to the start (< 1.1 × 15 s) is extrapolated.
    assert_close(one(&s, "increase(c1[5m])", 300), 200.0);
    assert_close(one(&s, "rate(c1[5m])", 300), 2.0 / 3.0);
    // c2: 5@30 … 13@180 with a reset (15 → 3): 8 + 15 = 23; 30 s to the start is kept,
    // 120 s to the end becomes half the 30 s interval: × (150 + 30 + 15) / 150.
    assert_close(one(&s, "increase(c2[5m])", 300), 29.9);
    assert_close(one(&s, "rate(c2[5m])", 300), 29.9 / 300.0);
    // c3: the counter would be 0 at 60 s - 7.5 s: extrapolated only that far.
    assert_close(one(&s, "increase(c3[5m])", 300), 165.0);
    // delta on a gauge: -9 × (180 + 60 + 60) / 180.
    assert_close(one(&s, "delta(g1[5m])", 300), -15.0);
    // The labels lose the metric name.
    assert_eq!(iq(&s, "rate(c1[5m])", 300)[0].0, r#"{job="api"}"#);
    // One sample in the window: no value.
    assert!(iq(&s, "rate(c3[1m])", 300).is_empty());
}

#[test]
fn irate_and_idelta_use_the_last_two_samples() {
    let s = store();
    assert_close(one(&s, "irate(c2[5m])", 300), 5.0 / 30.0);
    // Across the reset the last value is the increase.
    assert_close(one(&s, "irate(c2[5m])", 120), 0.1);
    assert_eq!(one(&s, "idelta(g1[5m])", 300), -6.0);
}

#[test]
fn over_time_functions() {
    let s = store();
    assert_eq!(one(&s, "avg_over_time(g1[5m])", 300), 5.5);
    assert_eq!(one(&s, "min_over_time(g1[5m])", 300), 1.0);
    assert_eq!(one(&s, "max_over_time(g1[5m])", 300), 10.0);
    assert_eq!(one(&s, "sum_over_time(g1[5m])", 300), 22.0);
    assert_eq!(one(&s, "count_over_time(g1[5m])", 300), 4.0);
    assert_eq!(one(&s, "last_over_time(g1[5m])", 300), 1.0);
    assert_eq!(one(&s, "quantile_over_time(0.5, g1[5m])", 300), 5.5);
    assert_close(one(&s, "quantile_over_time(0.9, g1[5m])", 300), 9.1);
    assert_eq!(one(&s, "stdvar_over_time(g1[5m])", 300), 11.25);
    assert_eq!(one(&s, "stddev_over_time(g1[5m])", 300), 11.25f64.sqrt());
    assert_eq!(one(&s, "present_over_time(g1[5m])", 300), 1.0);
    // last_over_time keeps the name; the others drop it.
    assert_eq!(iq(&s, "last_over_time(g1[5m])", 300)[0].0, "g1{}");
    assert_eq!(iq(&s, "max_over_time(g1[5m])", 300)[0].0, "{}");
    // Range windows are left-open: (60 s, 240 s] leaves out the sample at 60 s.
    assert_eq!(one(&s, "count_over_time(g1[3m])", 240), 3.0);
    assert_eq!(one(&s, "count_over_time(g1[3m])", 241), 3.0);
    assert_eq!(one(&s, "count_over_time(g1[3m])", 239), 3.0);
    // Staleness markers are not samples of a range.
    assert_eq!(one(&s, "count_over_time(g2[5m])", 200), 2.0);
}

#[test]
fn instant_selectors_lookback_staleness_and_offset() {
    let s = store();
    assert_eq!(one(&s, "g2", 90), 2.0);
    // The staleness marker at 120 s ends the series.
    assert!(iq(&s, "g2", 120).is_empty());
    assert!(iq(&s, "g2", 200).is_empty());
    // The lookback window (t - 5m, t] is left-open too.
    assert_eq!(one(&s, "g3", 299), 5.0);
    assert!(iq(&s, "g3", 300).is_empty());
    assert_eq!(iq(&s, "g1", 130), vec![("g1{}".to_string(), 4.0)]);
    // offset shifts the evaluation time back.
    assert_eq!(one(&s, "g1 offset 1m", 300), 1.0);
    assert_eq!(one(&s, "g1 offset 2m", 200), 10.0);
    assert_eq!(one(&s, "sum_over_time(g1[2m] offset 1m)", 300), 8.0);
    assert_eq!(one(&s, "g1 offset -1m", 150), 7.0);
}

#[test]
fn matchers_of_every_kind() {
    let s = store();
    let svcs = |q: &str| -> Vec<String> { iq(&s, q, 60).into_iter().map(|(l, _)| l).collect() };
    assert_eq!(
        svcs(r#"m{env="prod"}"#),
        [r#"m{env="prod", svc="a"}"#, r#"m{env="prod", svc="c"}"#]
    );
    assert_eq!(
        svcs(r#"m{env!="prod"}"#),
        [r#"m{env="dev", svc="b"}"#, r#"m{svc="d"}"#]
    );
    assert_eq!(
        svcs(r#"m{svc=~"a|b"}"#),
        [r#"m{env="dev", svc="b"}"#, r#"m{env="prod", svc="a"}"#]
    );
    assert_eq!(
        svcs(r#"m{svc!~"a|b"}"#),
        [r#"m{env="prod", svc="c"}"#, r#"m{svc="d"}"#]
    );
    // Anchored: "a" does not match "ab"-like prefixes; an empty value matches no label.
    assert_eq!(svcs(r#"m{svc=~"."}"#).len(), 4);
    assert_eq!(svcs(r#"m{env=""}"#), [r#"m{svc="d"}"#]);
    assert_eq!(
        svcs(r#"{__name__="m", svc="a"}"#),
        [r#"m{env="prod", svc="a"}"#]
    );
}

#[test]
fn aggregations() {
    let s = store();
    assert_eq!(one(&s, "sum(m)", 60), 10.0);
    assert_eq!(one(&s, "avg(m)", 60), 2.5);
    assert_eq!(one(&s, "min(m)", 60), 1.0);
    assert_eq!(one(&s, "max(m)", 60), 4.0);
    assert_eq!(one(&s, "count(m)", 60), 4.0);
    assert_eq!(one(&s, "group(m)", 60), 1.0);
    // 1, 2, 3, 4: rank 0.5 × 3 = 1.5 → 2.5; rank 0.9 × 3 = 2.7 → 3.7.
    assert_eq!(one(&s, "quantile(0.5, m)", 60), 2.5);
    assert_close(one(&s, "quantile(0.9, m)", 60), 3.7);
    assert_eq!(
        iq(&s, "quantile by (env) (0, m)", 60),
        vec![
            ("{}".to_string(), 4.0),
            (r#"{env="dev"}"#.to_string(), 2.0),
            (r#"{env="prod"}"#.to_string(), 1.0)
        ]
    );
    assert_eq!(
        iq(&s, "sum by (env) (m)", 60),
        vec![
            ("{}".to_string(), 4.0),
            (r#"{env="dev"}"#.to_string(), 2.0),
            (r#"{env="prod"}"#.to_string(), 4.0)
        ]
    );
    assert_eq!(
        iq(&s, "max without (svc) (m)", 60),
        vec![
            ("{}".to_string(), 4.0),
            (r#"{env="dev"}"#.to_string(), 2.0),
            (r#"{env="prod"}"#.to_string(), 3.0)
        ]
    );
    assert_eq!(
        iq(&s, "count by (__name__) (m)", 60),
        vec![("m{}".to_string(), 4.0)]
    );
    // topk / bottomk keep the series' labels; at the top they are ordered by value.
    assert_eq!(
        iq(&s, "topk(2, m)", 60),
        vec![
            (r#"m{svc="d"}"#.to_string(), 4.0),
            (r#"m{env="prod", svc="c"}"#.to_string(), 3.0)
        ]
    );
    assert_eq!(
        iq(&s, "bottomk(1, m)", 60),
        vec![(r#"m{env="prod", svc="a"}"#.to_string(), 1.0)]
    );
    let mut by_env = iq(&s, "topk by (env) (1, m)", 60);
    by_env.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_env,
        vec![
            (r#"m{env="dev", svc="b"}"#.to_string(), 2.0),
            (r#"m{env="prod", svc="c"}"#.to_string(), 3.0),
            (r#"m{svc="d"}"#.to_string(), 4.0)
        ]
    );
    assert!(iq(&s, "topk(0, m)", 60).is_empty());
}

#[test]
fn arithmetic_and_comparisons() {
    let s = store();
    let vals = |q: &str| -> Vec<(String, f64)> { iq(&s, q, 60) };
    assert_eq!(
        vals(r#"m{env="prod"} * 2"#),
        vec![
            (r#"{env="prod", svc="a"}"#.to_string(), 2.0),
            (r#"{env="prod", svc="c"}"#.to_string(), 6.0)
        ]
    );
    assert_eq!(
        vals(r#"2 - m{env="prod"}"#),
        vec![
            (r#"{env="prod", svc="a"}"#.to_string(), 1.0),
            (r#"{env="prod", svc="c"}"#.to_string(), -1.0)
        ]
    );
    // Comparisons filter and keep the name; `bool` gives 0/1 and drops it.
    assert_eq!(
        vals("m > 2"),
        vec![
            (r#"m{env="prod", svc="c"}"#.to_string(), 3.0),
            (r#"m{svc="d"}"#.to_string(), 4.0)
        ]
    );
    assert_eq!(
        vals("m > bool 2"),
        vec![
            (r#"{env="dev", svc="b"}"#.to_string(), 0.0),
            (r#"{env="prod", svc="a"}"#.to_string(), 0.0),
            (r#"{env="prod", svc="c"}"#.to_string(), 1.0),
            (r#"{svc="d"}"#.to_string(), 1.0)
        ]
    );
    // The vector's value is kept when the scalar is on the left.
    assert_eq!(
        vals("2 < m"),
        vec![
            (r#"m{env="prod", svc="c"}"#.to_string(), 3.0),
            (r#"m{svc="d"}"#.to_string(), 4.0)
        ]
    );
    assert_eq!(vals("m == 1").len(), 1);
    assert_eq!(vals("m != 1").len(), 3);
    assert_eq!(vals("m >= 3").len(), 2);
    assert_eq!(vals("m <= 3").len(), 3);
    assert_eq!(vals("m < 1").len(), 0);
    assert_eq!(vals(r#"m{svc="c"} % 2"#)[0].1, 1.0);
    assert_eq!(vals(r#"m{svc="c"} ^ 2"#)[0].1, 9.0);
    assert_eq!(vals(r#"m{svc="c"} / 0"#)[0].1, f64::INFINITY);
    assert_eq!(
        vals(r#"-m{svc="c"}"#),
        vec![(r#"{env="prod", svc="c"}"#.to_string(), -3.0)]
    );
    // Scalars.
    assert_eq!(scalar(&s, "2 ^ 3"), 8.0);
    assert_eq!(scalar(&s, "7 % 3"), 1.0);
    assert_eq!(scalar(&s, "1 > bool 2"), 0.0);
    assert_eq!(scalar(&s, "-(1 + 2) * 4"), -12.0);
    assert_eq!(scalar(&s, "scalar(sum(m))"), 10.0);
    assert!(scalar(&s, "scalar(m)").is_nan());
}

#[test]
fn vector_matching() {
    let s = store();
    let vals = |q: &str| -> Vec<(String, f64)> { iq(&s, q, 60) };
    assert_eq!(
        vals("a / b"),
        vec![
            (r#"{inst="1", job="x"}"#.to_string(), 5.0),
            (r#"{inst="2", job="x"}"#.to_string(), 4.0)
        ]
    );
    assert_eq!(
        vals("a / on (inst) c"),
        vec![(r#"{inst="1"}"#.to_string(), 2.5)]
    );
    assert_eq!(
        vals("a - ignoring (other) d"),
        vec![(r#"{inst="1", job="x"}"#.to_string(), 9.0)]
    );
    // A filtering comparison with on() keeps the left value and the on() labels.
    assert_eq!(
        vals("a > on (inst) c"),
        vec![(r#"{inst="1"}"#.to_string(), 10.0)]
    );
    assert_eq!(vals("a < on (inst) c"), vec![]);
    assert_eq!(
        vals("a < bool on (inst) c"),
        vec![(r#"{inst="1"}"#.to_string(), 0.0)]
    );
    // Set operators.
    assert_eq!(
        vals("a and on (inst) c"),
        vec![(r#"a{inst="1", job="x"}"#.to_string(), 10.0)]
    );
    assert_eq!(
        vals("a unless on (inst) c"),
        vec![(r#"a{inst="2", job="x"}"#.to_string(), 20.0)]
    );
    assert_eq!(vals("a or c").len(), 3);
    assert_eq!(vals("a or b").len(), 2);
    // Errors Prometheus gives.
    let e = err(&s, "a / on (job) b");
    assert!(matches!(e, PromError::Execution(_)), "{e}");
    assert!(e.to_string().contains("found duplicate series for the match group {job=\"x\"} on the right hand-side of the operation"), "{e}");
    let e = err(&s, "a / on (job) sum by (job) (b)");
    assert_eq!(
        e.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
}

#[test]
fn math_functions_and_absent() {
    let s = store();
    assert_eq!(one(&s, r#"abs(-m{svc="c"})"#, 60), 3.0);
    assert_eq!(one(&s, r#"sqrt(m{svc="d"})"#, 60), 2.0);
    assert_eq!(one(&s, r#"ln(m{svc="a"})"#, 60), 0.0);
    assert_eq!(one(&s, r#"log2(m{svc="d"})"#, 60), 2.0);
    assert_eq!(one(&s, r#"log10(m{svc="a"} * 100)"#, 60), 2.0);
    assert_eq!(one(&s, r#"exp(m{svc="a"} - 1)"#, 60), 1.0);
    assert_eq!(one(&s, r#"ceil(m{svc="c"} / 2)"#, 60), 2.0);
    assert_eq!(one(&s, r#"floor(m{svc="c"} / 2)"#, 60), 1.0);
    assert_eq!(one(&s, r#"round(m{svc="c"} / 2)"#, 60), 2.0);
    assert_eq!(one(&s, r#"round(m{svc="c"} / 4, 0.5)"#, 60), 1.0);
    assert_eq!(one(&s, r#"clamp(m{svc="d"}, 0, 3)"#, 60), 3.0);
    assert_eq!(one(&s, r#"clamp_min(m{svc="a"}, 2)"#, 60), 2.0);
    assert_eq!(one(&s, r#"clamp_max(m{svc="a"}, 0.5)"#, 60), 0.5);
    assert!(iq(&s, r#"clamp(m{svc="a"}, 3, 0)"#, 60).is_empty());
    assert_eq!(one(&s, r#"sgn(-m{svc="a"})"#, 60), -1.0);
    assert_eq!(iq(&s, "vector(3)", 60), vec![("{}".to_string(), 3.0)]);
    assert_eq!(scalar(&s, "time()"), (t(0) / 1000) as f64);
    // absent: the equality matchers' labels.
    assert_eq!(
        iq(
            &s,
            r#"absent(nope{job="x", env=~"a", svc="1", svc="2"})"#,
            60
        ),
        vec![(r#"{job="x"}"#.to_string(), 1.0)]
    );
    assert_eq!(
        iq(&s, "absent(sum(nope))", 60),
        vec![("{}".to_string(), 1.0)]
    );
    assert!(iq(&s, "absent(m)", 60).is_empty());
}

#[test]
fn histogram_quantile_over_classic_buckets() {
    let s = store();
    let hq = |q: &str| one(&s, q, 60);
    assert_close(hq("histogram_quantile(0.5, hb_bucket)"), 0.4);
    assert_eq!(
        iq(&s, "histogram_quantile(0.5, hb_bucket)", 60)[0].0,
        r#"{job="h"}"#
    );
    // In the +Inf bucket: the highest finite upper bound.
    assert_eq!(hq("histogram_quantile(0.99, hb_bucket)"), 1.0);
    // In the lowest bucket: interpolated from 0.
    assert_close(hq("histogram_quantile(0.1, hb_bucket)"), 0.05);
    assert_eq!(hq("histogram_quantile(1.5, hb_bucket)"), f64::INFINITY);
    assert_eq!(hq("histogram_quantile(-1, hb_bucket)"), f64::NEG_INFINITY);
    // Only a +Inf bucket, no +Inf bucket, no observations: NaN.
    assert!(hq("histogram_quantile(0.5, hc_bucket)").is_nan());
    assert!(hq("histogram_quantile(0.5, he_bucket)").is_nan());
    assert!(hq("histogram_quantile(0.5, hz_bucket)").is_nan());
    // Counts that decrease (8 after 10) are flattened before interpolating: 2 + 2 × 5/10.
    assert_eq!(hq("histogram_quantile(0.75, hd_bucket)"), 3.0);
    // Over rates, as dashboards use it.
    assert_close(
        one(&s, "histogram_quantile(0.5, rate(hr_bucket[5m]))", 300),
        0.4,
    );
    assert_close(
        one(
            &s,
            "histogram_quantile(0.5, sum by (le) (rate(hr_bucket[5m])))",
            300,
        ),
        0.4,
    );
}

fn dist_store(with_buckets: bool) -> MemStore {
    let mut s = MemStore::new();
    let api: Vec<(f64, u64)> = (1..=100).map(|v| (v as f64, 1)).collect();
    let web: Vec<(f64, u64)> = (101..=200).map(|v| (v as f64, 1)).collect();
    s.add_distribution(labels(&[("__name__", "lat"), ("svc", "api")]), t(100), &api);
    s.add_distribution(labels(&[("__name__", "lat"), ("svc", "web")]), t(100), &web);
    if with_buckets {
        s.add(
            labels(&[("__name__", "lat_bucket"), ("svc", "api"), ("le", "+Inf")]),
            MetricKind::Counter,
            &samples(&[(50, 0.0), (100, 10.0)]),
        );
    }
    s
}

/// HdrHistogram quantiles are the highest value equivalent to the true one at 3
/// significant digits (0.1 %).
#[track_caller]
fn assert_hdr(got: f64, want: f64) {
    assert!(
        got >= want && got <= want * 1.001,
        "got {got}, want {want} (+0.1 %)"
    );
}

#[test]
fn histogram_quantile_over_distributions() {
    let s = dist_store(false);
    let v = iq(&s, "histogram_quantile(0.5, rate(lat_bucket[5m]))", 300);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].0, r#"{svc="api"}"#);
    assert_hdr(v[0].1, 50.0);
    assert_eq!(v[1].0, r#"{svc="web"}"#);
    assert_hdr(v[1].1, 150.0);
    let v = iq(
        &s,
        r#"histogram_quantile(0.9, rate(lat_bucket{svc="web"}[5m]))"#,
        300,
    );
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, r#"{svc="web"}"#);
    assert_hdr(v[0].1, 190.0);
    // Merged by the aggregation's grouping.
    assert_hdr(
        one(
            &s,
            "histogram_quantile(0.5, sum by (le) (rate(lat_bucket[5m])))",
            300,
        ),
        100.0,
    );
    assert_hdr(
        one(&s, "histogram_quantile(0.9, sum(increase(lat[5m])))", 300),
        180.0,
    );
    // With the store's scale 1 (values recorded as they are) the answer is exact.
    let mut exact = dist_store(false);
    exact.distribution_scale = 1.0;
    exact.add_distribution(
        labels(&[("__name__", "small"), ("svc", "x")]),
        t(100),
        &[(1.0, 10), (2.0, 10), (3.0, 80)],
    );
    let one_opts = PromOptions {
        distribution_scale: 1.0,
        ..opts()
    };
    for (phi, want) in [(0.1, 1.0), (0.2, 2.0), (0.21, 3.0), (1.0, 3.0)] {
        match instant_query(
            &exact,
            &format!("histogram_quantile({phi}, rate(small_bucket[5m]))"),
            t(300),
            &one_opts,
        ) {
            Ok(PromValue::Vector(v)) => assert_eq!(v[0].value, want, "φ {phi}"),
            other => panic!("{other:?}"),
        }
    }
    // The window (t - 5m, t] no longer holds the observations.
    assert!(iq(&s, "histogram_quantile(0.5, rate(lat_bucket[5m]))", 400).is_empty());
    assert!(one(&s, "histogram_quantile(2, sum(rate(lat_bucket[5m])))", 300).is_infinite());
    // Classic buckets win when they exist.
    let s = dist_store(true);
    let v = iq(&s, "histogram_quantile(0.5, rate(lat_bucket[5m]))", 300);
    assert_eq!(v.len(), 1);
    assert!(v[0].1.is_nan(), "{v:?}");
}

#[test]
fn the_test_store_folds_rollups_like_the_metrics_store() {
    use pharos_collector::tsdb::{rollup, Resolution, Sample};
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let strategy = prop::collection::vec((1i64..90_000, -5i64..20, 0u8..20), 0..200);
    let result = runner.run(&strategy, |steps| {
        let mut ts = T0;
        let mut v = 0.0;
        let mut samples = Vec::new();
        for (gap, inc, r) in steps {
            ts += gap;
            v = if r == 0 { 0.0 } else { v + inc as f64 };
            let value = if r == 1 { stale() } else { v };
            samples.push(Sample { ts_ms: ts, value });
        }
        for res in Resolution::TIERS {
            let theirs = rollup(&samples, MetricKind::Counter, res, None);
            let ours = pharos_query::promql::testing::fold_buckets(&samples, res);
            prop_assert_eq!(theirs, ours);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn range_queries() {
    let s = store();
    let q = |e: &str, from: i64, to: i64, step: i64| -> Vec<RangeSeries> {
        match range_query(&s, e, t(from), t(to), step * 1000, &opts()) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    };
    let m = q("rate(c1[1m])", 60, 300, 60);
    assert_eq!(m.len(), 1);
    assert_eq!(show(&m[0].labels), r#"{job="api"}"#);
    let times: Vec<i64> = m[0].points.iter().map(|p| p.0).collect();
    assert_eq!(times, vec![t(60), t(120), t(180), t(240), t(300)]);
    for p in &m[0].points {
        assert_close(p.1, 2.0 / 3.0);
    }
    assert_eq!(
        q("g2", 0, 200, 60)[0].points,
        vec![(t(0), 1.0), (t(60), 2.0)]
    );
    let m = q("1 + 1", 0, 120, 60);
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(m[0].points, vec![(t(0), 2.0), (t(60), 2.0), (t(120), 2.0)]);
    // Series that exist at some steps only.
    let m = q("g1 > 5", 60, 240, 60);
    assert_eq!(m[0].points, vec![(t(60), 10.0), (t(180), 7.0)]);
    let m = q("absent(g2)", 0, 180, 60);
    assert_eq!(m[0].points, vec![(t(120), 1.0), (t(180), 1.0)]);
    assert!(matches!(
        range_query(&s, "c1[5m]", t(0), t(60), 60_000, &opts()),
        Err(PromError::BadData(_))
    ));
    assert!(matches!(
        range_query(&s, "c1", t(60), t(0), 60_000, &opts()),
        Err(PromError::BadData(_))
    ));
    assert!(matches!(
        range_query(&s, "c1", t(0), t(100_000), 1, &opts()),
        Err(PromError::BadData(_))
    ));
}

#[test]
fn top_level_range_selector_in_an_instant_query() {
    let s = store();
    match instant_query(&s, "g1[2m]", t(240), &opts()) {
        Ok(PromValue::Matrix(m)) => {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].points, vec![(t(180), 7.0), (t(240), 1.0)]);
        }
        other => panic!("{other:?}"),
    }
    match instant_query(&s, r#""hello""#, t(240), &opts()) {
        Ok(PromValue::String { value, .. }) => assert_eq!(value, "hello"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_constructs_and_parse_errors_say_what() {
    let s = store();
    for (q, what) in [
        (
            "double_exponential_smoothing(g1[5m], 0.5, 0.5)",
            "function double_exponential_smoothing()",
        ),
        (r#"sort_by_label(m, "svc")"#, "function sort_by_label()"),
    ] {
        let e = err(&s, q);
        assert!(matches!(e, PromError::Unsupported(_)), "{q}: {e:?}");
        assert_eq!(e.error_type(), "bad_data");
        assert!(e.to_string().starts_with("unsupported: "), "{q}: {e}");
        assert!(e.to_string().contains(what), "{q}: {e}");
    }
    for q in ["sum(", "rate(c1)", "1 > 2", "m{", "", "foo bar"] {
        let e = err(&s, q);
        assert!(matches!(e, PromError::BadData(_)), "{q}: {e:?}");
    }
}

/// A store that counts rollup reads (to check the property test exercises them).
struct Counting<'a> {
    inner: &'a MemStore,
    rollup_reads: std::sync::atomic::AtomicUsize,
    five_minute_reads: std::sync::atomic::AtomicUsize,
    raw_reads: std::sync::atomic::AtomicUsize,
}

impl pharos_collector::tsdb::MetricStore for Counting<'static> {
    fn select(
        &self,
        req: &pharos_collector::tsdb::SelectRequest,
    ) -> Result<Vec<pharos_collector::tsdb::SeriesData>, pharos_collector::tsdb::TsdbError> {
        if req.resolution == pharos_collector::tsdb::Resolution::FiveMinute {
            self.five_minute_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if req.resolution != pharos_collector::tsdb::Resolution::Raw {
            self.rollup_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            self.raw_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.select(req)
    }
    fn select_distributions(
        &self,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
        r: pharos_collector::tsdb::Resolution,
    ) -> Result<Vec<pharos_collector::tsdb::DistributionSeries>, pharos_collector::tsdb::TsdbError>
    {
        self.inner.select_distributions(m, s, e, r)
    }
    fn series(
        &self,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<Labels>, pharos_collector::tsdb::TsdbError> {
        self.inner.series(m, s, e)
    }
    fn label_names(
        &self,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<String>, pharos_collector::tsdb::TsdbError> {
        self.inner.label_names(m, s, e)
    }
    fn label_values(
        &self,
        n: &str,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<String>, pharos_collector::tsdb::TsdbError> {
        self.inner.label_values(n, m, s, e)
    }
}

/// Random counters (with resets) and gauges over 3 hours, some samples exactly on minute
/// boundaries, a few staleness markers.
fn random_store(seed: u64) -> MemStore {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut s = MemStore::new();
    for i in 0..6 {
        let counter = i % 2 == 0;
        let float = i == 5;
        let kind = if counter {
            MetricKind::Counter
        } else if i == 3 {
            MetricKind::Unknown
        } else {
            MetricKind::Gauge
        };
        let interval = [7_000, 15_000, 60_000, 90_000][rng.gen_range(0..4)];
        let mut ts = T0 - 3_600_000 + rng.gen_range(0..interval);
        let mut v: f64 = 0.0;
        let mut pts = Vec::new();
        while ts < T0 + 3 * 3_600_000 {
            if rng.gen_bool(0.3) {
                ts = (ts / 60_000 + 1) * 60_000; // on the next minute boundary
            }
            if counter {
                v = if rng.gen_bool(0.02) {
                    0.0
                } else {
                    v + rng.gen_range(0..50) as f64
                };
            } else if float {
                v = rng.gen_range(-1000.0..1000.0);
            } else {
                v = rng.gen_range(-100..100) as f64;
            }
            if rng.gen_bool(0.01) {
                pts.push((ts, stale()));
            } else if !rng.gen_bool(0.05) {
                pts.push((ts, v));
            }
            let gap = if rng.gen_bool(0.03) {
                20 * interval
            } else {
                interval
            };
            let next = ts + gap + rng.gen_range(-(interval / 10)..=interval / 10);
            ts = next.max(ts + 1);
        }
        s.add(
            labels(&[("__name__", "r"), ("i", &i.to_string())]),
            kind,
            &pts,
        );
    }
    s
}

#[test]
fn rollup_reads_equal_raw_reads() {
    const FUNCS: [&str; 9] = [
        "count_over_time",
        "last_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "avg_over_time",
        "delta",
        "increase",
        "rate",
    ];
    let rollup_queries = std::cell::Cell::new(0usize);
    let five_minute_queries = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let strategy = (
        any::<u64>(),
        0..FUNCS.len(),
        prop::sample::select(vec!["1m", "2m", "5m", "10m", "1h", "2h"]),
        prop::sample::select(vec!["", " offset 1m", " offset 1h", " offset -5m"]),
        0i64..120,
        prop::sample::select(vec![60i64, 120, 300, 3600]),
        1i64..40,
    );
    let store_cache = std::cell::RefCell::new(std::collections::HashMap::new());
    let result = runner.run(
        &strategy,
        |(seed, f, range, offset, start_min, step_s, steps)| {
            let mut cache = store_cache.borrow_mut();
            let s: &'static MemStore = cache
                .entry(seed % 8)
                .or_insert_with(|| &*Box::leak(Box::new(random_store(seed % 8))));
            let counting = Counting {
                inner: s,
                rollup_reads: Default::default(),
                five_minute_reads: Default::default(),
                raw_reads: Default::default(),
            };
            let q = format!("{}(r[{range}]{offset})", FUNCS[f]);
            let start = T0 + start_min * 60_000;
            let end = start + (steps - 1) * step_s * 1000;
            let raw_opts = PromOptions {
                use_rollups: false,
                ..opts()
            };
            let raw = range_query(s, &q, start, end, step_s * 1000, &raw_opts);
            let rolled = range_query(&counting, &q, start, end, step_s * 1000, &opts());
            let (raw, rolled) = match (raw, rolled) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => panic!("{q}: {a:?} / {b:?}"),
            };
            // Answered from rollups alone (no series fell back to raw).
            if counting
                .rollup_reads
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
                && counting
                    .raw_reads
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == 0
            {
                rollup_queries.set(rollup_queries.get() + 1);
                if counting
                    .five_minute_reads
                    .load(std::sync::atomic::Ordering::Relaxed)
                    > 0
                {
                    five_minute_queries.set(five_minute_queries.get() + 1);
                }
            }
            prop_assert_eq!(raw.len(), rolled.len(), "{}", q);
            for (a, b) in raw.iter().zip(&rolled) {
                prop_assert_eq!(&a.labels, &b.labels, "{}", q);
                prop_assert_eq!(a.points.len(), b.points.len(), "{} {:?}", q, a.labels);
                for (x, y) in a.points.iter().zip(&b.points) {
                    prop_assert_eq!(x.0, y.0);
                    let float_sum = b.labels.get("i") == Some("5")
                        && (FUNCS[f] == "sum_over_time" || FUNCS[f] == "avg_over_time");
                    let same = x.1.to_bits() == y.1.to_bits()
                        || (x.1.is_nan() && y.1.is_nan())
                        || (float_sum && (x.1 - y.1).abs() <= 1e-9 * x.1.abs().max(1.0));
                    prop_assert!(
                        same,
                        "{} {:?} at {}: raw {} rollup {}",
                        q,
                        a.labels,
                        x.0,
                        x.1,
                        y.1
                    );
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let n = rollup_queries.get();
    assert!(n > 10, "only {n} queries read rollups");
    let n = five_minute_queries.get();
    assert!(
        n > 5,
        "only {n} queries answered from 5-minute rollups alone"
    );
}

fn token_soup() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "sum",
        "(",
        ")",
        "rate",
        "[5m]",
        "[1h]",
        "{",
        "}",
        "m",
        "a",
        "=",
        "=~",
        "!=",
        "\"x\"",
        "by",
        "without",
        "on",
        "ignoring",
        "bool",
        ">",
        "+",
        "/",
        "offset",
        "1m",
        "topk",
        ",",
        "1",
        "-",
        "histogram_quantile",
        "0.5",
        "absent",
        "or",
        "and",
        "unless",
        "^",
        "%",
        "c1",
        "g1",
        "le",
        "@",
        ":",
        "group_left",
        " ",
        "hb_bucket",
        "lat_bucket",
        "1e308",
        "NaN",
        "Inf",
        "count_over_time",
        "quantile_over_time",
        "increase",
        "[0s]",
        "[5m:1m]",
        "'",
        "\\",
        "#",
        "\n",
        "scalar",
        "vector",
        "time",
        "clamp",
        "round",
        "bottomk",
        "avg",
    ]);
    prop::collection::vec(tokens, 1..14).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(Config { cases: 400, ..Config::default() })]

    #[test]
    fn random_token_queries_never_panic(q in token_soup(), step in 1i64..600) {
        let s = store();
        let _ = instant_query(&s, &q, t(300), &opts());
        let _ = range_query(&s, &q, t(0), t(600), step * 1000, &opts());
    }

    #[test]
    fn random_strings_never_panic(q in "\\PC{0,40}") {
        let s = store();
        let _ = instant_query(&s, &q, t(300), &opts());
        let _ = range_query(&s, &q, t(0), t(600), 60_000, &opts());
    }
}

/// A store whose raw distributions are gone (past raw retention); rollups remain.
struct RollupsOnly(MemStore);

impl pharos_collector::tsdb::MetricStore for RollupsOnly {
    fn select(
        &self,
        req: &pharos_collector::tsdb::SelectRequest,
    ) -> Result<Vec<pharos_collector::tsdb::SeriesData>, pharos_collector::tsdb::TsdbError> {
        self.0.select(req)
    }
    fn select_distributions(
        &self,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
        r: pharos_collector::tsdb::Resolution,
    ) -> Result<Vec<pharos_collector::tsdb::DistributionSeries>, pharos_collector::tsdb::TsdbError>
    {
        if r == pharos_collector::tsdb::Resolution::Raw {
            return Ok(Vec::new());
        }
        self.0.select_distributions(m, s, e, r)
    }
    fn series(
        &self,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<Labels>, pharos_collector::tsdb::TsdbError> {
        self.0.series(m, s, e)
    }
    fn label_names(
        &self,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<String>, pharos_collector::tsdb::TsdbError> {
        self.0.label_names(m, s, e)
    }
    fn label_values(
        &self,
        n: &str,
        m: &[pharos_collector::tsdb::LabelMatcher],
        s: i64,
        e: i64,
    ) -> Result<Vec<String>, pharos_collector::tsdb::TsdbError> {
        self.0.label_values(n, m, s, e)
    }
}

#[test]
fn long_window_quantiles_merge_rollup_buckets_once_raw_data_is_gone() {
    let s = RollupsOnly(dist_store(false));
    // [0, 1 h): the hour bucket holding the observations at 100 s.
    let v = iq(&s, "histogram_quantile(0.5, rate(lat_bucket[1h]))", 3600);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_hdr(v[0].1, 50.0);
    assert_hdr(v[1].1, 150.0);
    // 90 minutes: minute buckets, same observations.
    assert_hdr(
        one(
            &s,
            "histogram_quantile(0.9, sum(rate(lat_bucket[90m])))",
            5400,
        ),
        180.0,
    );
    // A window that starts after the bucket holds nothing.
    assert!(iq(&s, "histogram_quantile(0.5, rate(lat_bucket[1h]))", 7200).is_empty());
}

/// The production store's columnar read (series split over threads, left-open 5-minute
/// column blocks, head and flushed blocks merged) gives the raw answers: counters with
/// resets, a gauge, samples on and off the bucket edges, flushes in between.
#[test]
fn the_metrics_store_answers_5_minute_windows_like_raw() {
    use pharos_collector::clock::{ManualClock, SharedClock};
    use pharos_collector::tsdb::{MetricBatch, Sample, SeriesSamples, TsdbLimits, TsdbStore};
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new((T0 + 12 * 3_600_000) * 1_000_000);
    let shared: SharedClock = std::sync::Arc::new(clock);
    let store = TsdbStore::open(dir.path(), TsdbLimits::default(), shared).expect("open");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut all: Vec<SeriesSamples> = Vec::new();
    for i in 0..12 {
        let kind = if i % 3 == 2 {
            MetricKind::Gauge
        } else {
            MetricKind::Counter
        };
        // Some series on minute edges (every bucket's last sample on its right edge), some
        // jittered; counters reset now and then (series 1 often).
        let on_edges = i % 2 == 0;
        let mut ts = T0
            + if on_edges {
                60_000
            } else {
                rng.gen_range(1..60_000)
            };
        let mut v = 0.0f64;
        let mut samples = Vec::new();
        while ts < T0 + 10 * 3_600_000 {
            v = match kind {
                MetricKind::Gauge => rng.gen_range(-50..50) as f64,
                _ if rng.gen_bool(if i == 1 { 0.05 } else { 0.002 }) => 0.0,
                _ => v + rng.gen_range(0..20) as f64,
            };
            samples.push(Sample {
                ts_ms: ts,
                value: v,
            });
            ts += if on_edges {
                60_000
            } else {
                rng.gen_range(20_000..100_000)
            };
        }
        all.push(SeriesSamples {
            labels: labels(&[("__name__", "m"), ("i", &i.to_string())]),
            kind,
            samples,
        });
    }
    // Applied in three parts with flushes in between.
    for (lsn, part) in [(1u64, 0..200usize), (2, 200..420), (3, 420..usize::MAX)] {
        let mut b = MetricBatch::default();
        for s in &all {
            let end = part.end.min(s.samples.len());
            let start = part.start.min(end);
            b.series.push(SeriesSamples {
                labels: s.labels.clone(),
                kind: s.kind,
                samples: s.samples[start..end].to_vec(),
            });
        }
        store.apply(lsn, &b).expect("apply");
        if lsn < 3 {
            store.flush().expect("flush");
        }
    }
    let raw_opts = PromOptions {
        use_rollups: false,
        ..opts()
    };
    for q in [
        "rate(m[5m])",
        "increase(m[10m])",
        "delta(m[5m])",
        "max_over_time(m[1h])",
        "min_over_time(m[15m])",
        "count_over_time(m[5m])",
        "last_over_time(m[5m])",
        "sum(rate(m[5m]))",
    ] {
        let (start, end) = (T0 + 3_600_000, T0 + 10 * 3_600_000);
        let raw = range_query(&store, q, start, end, 300_000, &raw_opts).expect("raw");
        let rolled = range_query(&store, q, start, end, 300_000, &opts()).expect("rollups");
        assert_eq!(raw.len(), rolled.len(), "{q}");
        assert!(!raw.is_empty(), "{q}");
        for (a, b) in raw.iter().zip(&rolled) {
            assert_eq!(a.labels, b.labels, "{q}");
            let bits = |s: &RangeSeries| -> Vec<(i64, u64)> {
                s.points.iter().map(|(t, v)| (*t, v.to_bits())).collect()
            };
            assert_eq!(bits(a), bits(b), "{q} {:?}", a.labels);
        }
    }
}
