//! PromQL, continued from `promql.rs`: exact answers computed by hand for the constructs
//! added while measuring Pharos against Prometheus's test corpus (see docs/promql.md).

use pharos_collector::tsdb::{Labels, MetricKind};
use pharos_query::promql::testing::{labels, MemStore};
use pharos_query::promql::{instant_query, range_query, PromError, PromOptions, PromValue};

/// An hour-aligned base time (ms).
const T0: i64 = 1_699_999_200_000;

fn t(secs: i64) -> i64 {
    T0 + secs * 1000
}

fn add(s: &mut MemStore, pairs: &[(&str, &str)], points: &[(i64, f64)]) {
    let pts: Vec<(i64, f64)> = points.iter().map(|&(x, v)| (t(x), v)).collect();
    s.add(labels(pairs), MetricKind::Gauge, &pts);
}

fn show(l: &Labels) -> String {
    let inner: Vec<String> = l
        .iter()
        .filter(|(n, _)| *n != "__name__")
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    format!("{}{{{}}}", l.metric_name(), inner.join(", "))
}

/// An instant query's vector as (labels as Prometheus prints them, value), in answer order.
#[track_caller]
fn iq(s: &MemStore, q: &str, secs: i64) -> Vec<(String, f64)> {
    match instant_query(s, q, t(secs), &PromOptions::default()) {
        Ok(PromValue::Vector(v)) => v.into_iter().map(|x| (show(&x.labels), x.value)).collect(),
        other => panic!("{q}: expected a vector, got {other:?}"),
    }
}

#[track_caller]
fn one(s: &MemStore, q: &str, secs: i64) -> f64 {
    let v = iq(s, q, secs);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

#[track_caller]
fn err(s: &MemStore, q: &str, secs: i64) -> PromError {
    match instant_query(s, q, t(secs), &PromOptions::default()) {
        Err(e) => e,
        Ok(v) => panic!("{q}: expected an error, got {v:?}"),
    }
}

/// A range query's series as (labels, [(seconds after T0, value)]).
#[track_caller]
fn rq(s: &MemStore, q: &str, from: i64, to: i64, step: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    match range_query(s, q, t(from), t(to), step * 1000, &PromOptions::default()) {
        Ok(m) => m
            .into_iter()
            .map(|r| {
                let pts = r
                    .points
                    .iter()
                    .map(|&(ts, v)| ((ts - T0) / 1000, v))
                    .collect();
                (show(&r.labels), pts)
            })
            .collect(),
        Err(e) => panic!("{q}: {e}"),
    }
}

fn v(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(l, x)| (l.to_string(), *x)).collect()
}

#[test]
fn sums_over_time_are_compensated_even_where_rollups_could_answer() {
    let mut s = MemStore::new();
    add(
        &mut s,
        &[("__name__", "big")],
        &[(0, 1.0), (10, 1e100), (20, 1.0), (30, -1e100)],
    );
    // Kahan–Neumaier: 1 + 1e100 + 1 − 1e100 = 2 (a plain sum says 0). The window and the
    // time are minute-aligned, so the minute rollups would be eligible: their plain sums
    // cannot be trusted here and the series is read raw.
    assert_eq!(one(&s, "sum_over_time(big[2m])", 60), 2.0);
    assert_eq!(one(&s, "avg_over_time(big[2m])", 60), 0.5);
    // 5-minute-aligned steps (the left-open tier): at 600 s the sample at 0 s is out, and
    // 1e100 + 1 − 1e100 = 1.
    let got = rq(&s, "sum_over_time(big[10m])", 300, 600, 300);
    assert_eq!(got, vec![("{}".to_string(), vec![(300, 2.0), (600, 1.0)])]);
    let got = rq(&s, "avg_over_time(big[10m])", 300, 600, 300);
    assert_eq!(
        got,
        vec![("{}".to_string(), vec![(300, 0.5), (600, 1.0 / 3.0)])]
    );
    // Without cancellation, rollups still answer (and equal the raw sum here): (0, 120]
    // leaves the sample at 0 s out.
    add(
        &mut s,
        &[("__name__", "small")],
        &[(0, 1.5), (10, 2.5), (70, 3.0)],
    );
    assert_eq!(iq(&s, "sum_over_time(small[2m])", 120), v(&[("{}", 5.5)]));
}

fn matching_store() -> MemStore {
    let mut s = MemStore::new();
    for (i, x) in [("1", 1.0), ("2", 2.0)] {
        add(
            &mut s,
            &[("__name__", "many"), ("job", "a"), ("i", i)],
            &[(0, x)],
        );
    }
    add(
        &mut s,
        &[("__name__", "one"), ("job", "a"), ("tier", "gold")],
        &[(0, 10.0)],
    );
    add(&mut s, &[("__name__", "one"), ("job", "b")], &[(0, 20.0)]);
    s
}

#[test]
fn many_to_one_without_group_modifier_fails_even_where_the_comparison_is_false() {
    let s = matching_store();
    for q in [
        "many > on(job) one",
        "many >= on(job) one",
        "many + on(job) one",
        "many > bool on(job) one",
    ] {
        match err(&s, q, 0) {
            PromError::Execution(m) => assert_eq!(
                m,
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                "{q}"
            ),
            e => panic!("{q}: {e:?}"),
        }
    }
    // The many side on the right: duplicate series for the match group.
    match err(&s, "one < on(job) many", 0) {
        PromError::Execution(m) => assert_eq!(
            m,
            "found duplicate series for the match group {job=\"a\"} on the right hand-side of the operation: [many{i=\"1\", job=\"a\"}, many{i=\"2\", job=\"a\"}];many-to-many matching not allowed: matching labels must be unique on one side"
        ),
        e => panic!("{e:?}"),
    }
}

fn label_store() -> MemStore {
    let mut s = MemStore::new();
    add(
        &mut s,
        &[("__name__", "lm"), ("src", "host-10.a"), ("dst", "orig")],
        &[(0, 1.0)],
    );
    add(
        &mut s,
        &[("__name__", "lm"), ("src", "db-7"), ("dst", "orig")],
        &[(0, 2.0)],
    );
    s
}

#[test]
fn label_replace_is_anchored_and_expands_groups() {
    let s = label_store();
    // Anchored: "(.*)-(\d+)" must match the whole value; `$1`, `${2}` and named groups.
    assert_eq!(
        iq(
            &s,
            r#"label_replace(lm, "dst", "$1:${2}", "src", "([a-z]+)-(\\d+)")"#,
            0
        ),
        v(&[
            ("lm{dst=\"db:7\", src=\"db-7\"}", 2.0),
            ("lm{dst=\"orig\", src=\"host-10.a\"}", 1.0),
        ])
    );
    assert_eq!(
        iq(
            &s,
            r#"label_replace(lm, "kind", "${k}", "src", "(?P<k>[a-z]+)-.*")"#,
            0
        ),
        v(&[
            ("lm{dst=\"orig\", kind=\"db\", src=\"db-7\"}", 2.0),
            ("lm{dst=\"orig\", kind=\"host\", src=\"host-10.a\"}", 1.0),
        ])
    );
    // Not a substring match: "10" alone does not match "host-10.a".
    assert_eq!(
        iq(&s, r#"label_replace(lm, "dst", "x", "src", "10")"#, 0).len(),
        2
    );
    assert!(iq(&s, r#"label_replace(lm, "dst", "x", "src", "10")"#, 0)
        .iter()
        .all(|(l, _)| l.contains("dst=\"orig\"")));
    // An absent source label is "", which "(.*)" matches; an empty result removes the label.
    assert_eq!(
        iq(&s, r#"label_replace(lm, "dst", "$1", "nope", "(.*)")"#, 0),
        v(&[("lm{src=\"db-7\"}", 2.0), ("lm{src=\"host-10.a\"}", 1.0)])
    );
    for (q, want) in [
        (
            r#"label_replace(lm, "dst", "x", "src", "(.*")"#,
            "invalid regular expression in label_replace(): (.*",
        ),
        (
            r#"label_replace(lm, "1dst", "x", "src", ".*")"#,
            "invalid destination label name in label_replace(): 1dst",
        ),
        // Both series end up as lm{dst="orig"} at the same time.
        (
            r#"label_replace(lm, "src", "", "src", ".*")"#,
            "vector cannot contain metrics with the same labelset",
        ),
    ] {
        match err(&s, q, 0) {
            PromError::Execution(m) => assert_eq!(m, want, "{q}"),
            e => panic!("{q}: {e:?}"),
        }
    }
}

#[test]
fn label_join_joins_in_argument_order() {
    let s = label_store();
    assert_eq!(
        iq(
            &s,
            r#"label_join(lm, "j", "/", "dst", "missing", "src")"#,
            0
        ),
        v(&[
            ("lm{dst=\"orig\", j=\"orig//db-7\", src=\"db-7\"}", 2.0),
            (
                "lm{dst=\"orig\", j=\"orig//host-10.a\", src=\"host-10.a\"}",
                1.0
            ),
        ])
    );
    // No sources: the destination is set to "" (removed).
    assert_eq!(
        iq(&s, r#"label_join(lm, "dst", ",")"#, 0),
        v(&[("lm{src=\"db-7\"}", 2.0), ("lm{src=\"host-10.a\"}", 1.0)])
    );
    match err(&s, r#"label_join(lm, "src", "", "dst")"#, 0) {
        PromError::Execution(m) => {
            assert_eq!(m, "vector cannot contain metrics with the same labelset")
        }
        e => panic!("{e:?}"),
    }
    match err(&s, r#"label_join(lm, "a-b", "", "dst")"#, 0) {
        PromError::Execution(m) => {
            assert_eq!(m, "invalid destination label name in label_join(): a-b")
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn group_left_and_group_right_copy_labels_from_the_one_side() {
    let mut s = matching_store();
    let both = v(&[
        ("{i=\"1\", job=\"a\", tier=\"gold\"}", 10.0),
        ("{i=\"2\", job=\"a\", tier=\"gold\"}", 20.0),
    ]);
    assert_eq!(iq(&s, "many * on(job) group_left(tier) one", 0), both);
    // The sides swapped: the result still has the many side's labels.
    assert_eq!(iq(&s, "one * on(job) group_right(tier) many", 0), both);
    // Without a label list nothing is copied; 10 - 1 and 10 - 2 (the left value first).
    assert_eq!(
        iq(&s, "one - on(job) group_right many", 0),
        v(&[("{i=\"1\", job=\"a\"}", 9.0), ("{i=\"2\", job=\"a\"}", 8.0)])
    );
    // A filtering comparison keeps the left value and the many side's name.
    assert_eq!(
        iq(&s, "one > on(job) group_right many", 0),
        v(&[
            ("many{i=\"1\", job=\"a\"}", 10.0),
            ("many{i=\"2\", job=\"a\"}", 10.0)
        ])
    );
    assert_eq!(iq(&s, "many > on(job) group_left one", 0), v(&[]));
    assert_eq!(
        iq(&s, "many > bool on(job) group_left one", 0),
        v(&[("{i=\"1\", job=\"a\"}", 0.0), ("{i=\"2\", job=\"a\"}", 0.0)])
    );
    // ignoring(i): the signatures {job="a"} and {job="a", tier="gold"} differ.
    assert_eq!(iq(&s, "many * ignoring(i) group_left one", 0), v(&[]));
    // The one side must be unique per match group.
    match err(&s, "one * on(job) group_left many", 0) {
        PromError::Execution(m) => assert!(
            m.starts_with(
                "found duplicate series for the match group {job=\"a\"} on the right hand-side"
            ),
            "{m}"
        ),
        e => panic!("{e:?}"),
    }
    match err(&s, "many * on(job) group_right one", 0) {
        PromError::Execution(m) => assert!(m.contains("on the left hand-side"), "{m}"),
        e => panic!("{e:?}"),
    }
    // Two many-side series that become one result series in the same match group.
    add(
        &mut s,
        &[("__name__", "many2"), ("job", "a"), ("i", "1")],
        &[(0, 5.0)],
    );
    match err(
        &s,
        r#"{__name__=~"many|many2"} * on(job) group_left one"#,
        0,
    ) {
        PromError::Execution(m) => assert_eq!(
            m,
            "multiple matches for labels: grouping labels must ensure unique matches"
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn trigonometric_and_angle_functions() {
    let s = MemStore::new();
    for (q, want) in [
        ("deg(vector(pi()))", 180.0),
        ("rad(vector(180))", std::f64::consts::PI),
        ("sin(vector(0))", 0.0),
        ("cos(vector(0))", 1.0),
        ("tan(vector(0))", 0.0),
        ("asin(vector(1))", std::f64::consts::FRAC_PI_2),
        ("acos(vector(1))", 0.0),
        ("atan(vector(1))", std::f64::consts::FRAC_PI_4),
        ("sinh(vector(0))", 0.0),
        ("cosh(vector(0))", 1.0),
        ("tanh(vector(0))", 0.0),
        ("asinh(vector(0))", 0.0),
        ("acosh(vector(1))", 0.0),
        ("atanh(vector(0))", 0.0),
    ] {
        assert_eq!(one(&s, q, 0), want, "{q}");
    }
    assert!(one(&s, "acos(vector(2))", 0).is_nan());
}

#[test]
fn date_functions_read_unix_seconds_in_utc() {
    let s = MemStore::new();
    // 1700000000 is 2023-11-14T22:13:20Z, a Tuesday, the 318th day of the year.
    for (f, want) in [
        ("year", 2023.0),
        ("month", 11.0),
        ("day_of_month", 14.0),
        ("day_of_week", 2.0),
        ("day_of_year", 318.0),
        ("days_in_month", 30.0),
        ("hour", 22.0),
        ("minute", 13.0),
    ] {
        assert_eq!(one(&s, &format!("{f}(vector(1700000000))"), 0), want, "{f}");
    }
    // 2024 is a leap year; fractions of a second are dropped.
    assert_eq!(one(&s, "days_in_month(vector(1709164800.9))", 0), 29.0);
    // No argument: the evaluation time (T0 is 2023-11-14T22:00:00Z).
    assert_eq!(iq(&s, "hour()", 0), v(&[("{}", 22.0)]));
    assert_eq!(one(&s, "minute()", 150), 2.0);
}

#[test]
fn timestamp_sort_and_absent_over_time() {
    let mut s = MemStore::new();
    add(
        &mut s,
        &[("__name__", "g"), ("k", "a")],
        &[(0, 3.0), (60, 1.0)],
    );
    add(&mut s, &[("__name__", "g"), ("k", "b")], &[(0, 2.0)]);
    let base = T0 as f64 / 1000.0;
    // The selected samples' own times.
    assert_eq!(
        iq(&s, "timestamp(g)", 90),
        v(&[("{k=\"a\"}", base + 60.0), ("{k=\"b\"}", base)])
    );
    assert_eq!(one(&s, "timestamp(g{k=\"a\"} offset 1m)", 90), base);
    // Of a computed vector: the evaluation time.
    assert_eq!(one(&s, "timestamp(g{k=\"a\"} + 1)", 90), base + 90.0);
    assert_eq!(
        iq(&s, "sort(g)", 90),
        v(&[("g{k=\"a\"}", 1.0), ("g{k=\"b\"}", 2.0)])
    );
    assert_eq!(
        iq(&s, "sort_desc(g)", 90),
        v(&[("g{k=\"b\"}", 2.0), ("g{k=\"a\"}", 1.0)])
    );
    assert_eq!(
        iq(&s, "absent_over_time(nope{job=\"x\", k=~\"y\"}[1m])", 90),
        v(&[("{job=\"x\"}", 1.0)])
    );
    assert_eq!(iq(&s, "absent_over_time(g[1m])", 90), v(&[]));
    // In parentheses or through a subquery the selector's labels are not read.
    assert_eq!(
        iq(&s, "absent_over_time((nope{job=\"x\"}[1m]))", 90),
        v(&[("{}", 1.0)])
    );
    assert_eq!(
        iq(&s, "absent_over_time(nope{job=\"x\"}[1m:10s])", 90),
        v(&[("{}", 1.0)])
    );
    // (60, 120] holds no sample of g at 150 s... but (90, 150] does not either.
    assert_eq!(iq(&s, "absent_over_time(g[1m])", 150), v(&[("{}", 1.0)]));
}

#[test]
fn changes_resets_deriv_and_predict_linear() {
    let mut s = MemStore::new();
    let nan = f64::NAN;
    let pts: Vec<(i64, f64)> = [1.0, 1.0, 2.0, 2.0, 1.0, nan, nan, 3.0]
        .iter()
        .enumerate()
        .map(|(i, &x)| (i as i64 * 10, x))
        .collect();
    add(&mut s, &[("__name__", "c")], &pts);
    // 1→2, 2→1, 1→NaN, NaN→3 (NaN→NaN is no change); only 2→1 is a reset.
    assert_eq!(one(&s, "changes(c[80s])", 70), 4.0);
    assert_eq!(one(&s, "resets(c[80s])", 70), 1.0);
    add(
        &mut s,
        &[("__name__", "lin")],
        &[(0, 0.0), (10, 20.0), (20, 40.0)],
    );
    assert_eq!(one(&s, "deriv(lin[30s])", 20), 2.0);
    assert_eq!(one(&s, "deriv(c[25s])", 20), 0.05);
    // y = 2·t: 40 at the evaluation time, + 2 × 60.
    assert_eq!(one(&s, "predict_linear(lin[30s], 60)", 20), 160.0);
    // With offset the regression is still anchored at the evaluation time (30 s): 60 + 120.
    assert_eq!(
        one(&s, "predict_linear(lin[30s] offset 10s, 60)", 30),
        180.0
    );
    // One sample: no answer; a constant: slope 0.
    assert_eq!(iq(&s, "deriv(lin[5s])", 20), v(&[]));
    assert_eq!(one(&s, "deriv(c[15s])", 10), 0.0);
}

#[test]
fn stddev_stdvar_and_count_values() {
    let mut s = MemStore::new();
    for (i, x) in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].iter().enumerate() {
        let i = i.to_string();
        let job = if i.as_str() < "4" { "a" } else { "b" };
        add(
            &mut s,
            &[("__name__", "w"), ("i", &i), ("job", job)],
            &[(0, *x)],
        );
    }
    // Mean 5, squared deviations 9 1 1 1 0 0 4 16: variance 4.
    assert_eq!(one(&s, "stdvar(w)", 0), 4.0);
    assert_eq!(one(&s, "stddev(w)", 0), 2.0);
    // a: 2 4 4 4 (mean 3.5, variance 0.75); b: 5 5 7 9 (mean 6.5, variance 2.75).
    // (Welford's running mean, as Prometheus: 2.75 up to the last bit.)
    let got = iq(&s, "stdvar by (job) (w)", 0);
    assert_eq!(got[0], ("{job=\"a\"}".to_string(), 0.75));
    assert_eq!(got[1].0, "{job=\"b\"}");
    assert!((got[1].1 - 2.75).abs() < 1e-15, "{got:?}");
    assert_eq!(
        iq(&s, "count_values(\"value\", w)", 0),
        v(&[
            ("{value=\"2\"}", 1.0),
            ("{value=\"4\"}", 3.0),
            ("{value=\"5\"}", 2.0),
            ("{value=\"7\"}", 1.0),
            ("{value=\"9\"}", 1.0),
        ])
    );
    assert_eq!(
        iq(&s, "count_values by (job) (\"value\", w > 4.5)", 0),
        v(&[
            ("{job=\"b\", value=\"5\"}", 2.0),
            ("{job=\"b\", value=\"7\"}", 1.0),
            ("{job=\"b\", value=\"9\"}", 1.0),
        ])
    );
    assert_eq!(
        iq(&s, "count_values(\"v\", w / 8 < 0.5)", 0),
        v(&[("{v=\"0.25\"}", 1.0)])
    );
    match err(&s, "count_values(\"1x\", w)", 0) {
        PromError::Execution(m) => assert!(m.contains("invalid label name"), "{m}"),
        e => panic!("{e:?}"),
    }
    // Over a range the groups follow the values step by step.
    let mut r = MemStore::new();
    add(
        &mut r,
        &[("__name__", "x"), ("k", "1")],
        &[(0, 1.0), (60, 2.0)],
    );
    add(
        &mut r,
        &[("__name__", "x"), ("k", "2")],
        &[(0, 1.0), (60, 1.0)],
    );
    assert_eq!(
        rq(&r, "count_values(\"v\", x)", 0, 60, 60),
        vec![
            ("{v=\"1\"}".to_string(), vec![(0, 2.0), (60, 1.0)]),
            ("{v=\"2\"}".to_string(), vec![(60, 1.0)]),
        ]
    );
}

#[test]
fn histogram_fraction_over_classic_buckets() {
    let mut s = MemStore::new();
    for (le, c) in [("1", 10.0), ("2", 30.0), ("+Inf", 40.0)] {
        add(
            &mut s,
            &[("__name__", "h_bucket"), ("job", "j"), ("le", le)],
            &[(0, c)],
        );
    }
    for (le, c) in [("1", 1.0), ("2", 2.0)] {
        add(
            &mut s,
            &[("__name__", "noinf_bucket"), ("le", le)],
            &[(0, c)],
        );
    }
    for (q, want) in [
        // 10 of 40 observations are ≤ 1.
        ("histogram_fraction(0, 1, h_bucket)", 0.25),
        // Halfway through (1, 2]: 10 + 20 / 2 = 20.
        ("histogram_fraction(0, 1.5, h_bucket)", 0.5),
        ("histogram_fraction(1.5, +Inf, h_bucket)", 0.5),
        ("histogram_fraction(-Inf, 2, h_bucket)", 0.75),
        // Nothing is interpolated inside the +Inf bucket.
        ("histogram_fraction(3, 4, h_bucket)", 0.0),
        ("histogram_fraction(1, 1, h_bucket)", 0.0),
    ] {
        assert_eq!(iq(&s, q, 0), v(&[("{job=\"j\"}", want)]), "{q}");
    }
    assert!(one(&s, "histogram_fraction(0, 1, noinf_bucket)", 0).is_nan());
    // Native-histogram functions ignore float series.
    assert_eq!(iq(&s, "histogram_count(h_bucket)", 0), v(&[]));
    assert_eq!(iq(&s, "histogram_sum(h_bucket)", 0), v(&[]));
}

#[test]
fn the_at_modifier_fixes_the_reference_time() {
    let mut s = MemStore::new();
    add(
        &mut s,
        &[("__name__", "g")],
        &[(0, 1.0), (60, 2.0), (120, 3.0)],
    );
    let base = T0 / 1000;
    // At 300 s the newest sample is 3; `@` reads as of 60 s.
    assert_eq!(one(&s, &format!("g @ {}", base + 60), 300), 2.0);
    assert_eq!(one(&s, &format!("g @ {} offset 1m", base + 60), 300), 1.0);
    // Every step of a range query sees the same value.
    let at_start = rq(&s, "g @ start()", 0, 120, 60);
    assert_eq!(
        at_start,
        vec![("g{}".to_string(), vec![(0, 1.0), (60, 1.0), (120, 1.0)])]
    );
    let at_end = rq(&s, "g @ end() offset 1m", 0, 120, 60);
    assert_eq!(
        at_end,
        vec![("g{}".to_string(), vec![(0, 2.0), (60, 2.0), (120, 2.0)])]
    );
    // Range selectors: (0, 120] as of end() at every step.
    let sums = rq(&s, "sum_over_time(g[2m] @ end())", 0, 120, 60);
    assert_eq!(
        sums,
        vec![("{}".to_string(), vec![(0, 5.0), (60, 5.0), (120, 5.0)])]
    );
    assert_eq!(
        one(&s, "timestamp(g @ start())", 100),
        (T0 / 1000 + 60) as f64
    );
    // Before any sample: nothing.
    assert_eq!(iq(&s, &format!("g @ {}", base - 10), 300), v(&[]));
    // Not in the API's series selectors.
    assert!(pharos_query::promql::parse_selector("g @ 100").is_err());
}

#[test]
fn subqueries_evaluate_at_aligned_inner_steps() {
    let mut s = MemStore::new();
    add(
        &mut s,
        &[("__name__", "g")],
        &[(0, 1.0), (60, 2.0), (120, 3.0), (180, 4.0)],
    );
    // (0, 180] at 1 m steps: 60, 120, 180 s (the minute multiples after the window's start).
    assert_eq!(one(&s, "max_over_time(g[3m:1m])", 180), 4.0);
    assert_eq!(one(&s, "min_over_time(g[3m:1m])", 180), 2.0);
    assert_eq!(one(&s, "count_over_time(g[3m:1m])", 180), 3.0);
    // The default step is a minute.
    assert_eq!(one(&s, "count_over_time(g[3m:])", 180), 3.0);
    // Steps are aligned to multiples of the step, not to the evaluation time: (130, 190]
    // at 30 s steps is 150 (g = 3) and 180 (g = 4).
    assert_eq!(one(&s, "sum_over_time(g[1m:30s])", 190), 7.0);
    // offset and @ move the window: (0, 120] → 60, 120.
    assert_eq!(one(&s, "sum_over_time(g[2m:1m] offset 1m)", 180), 5.0);
    let at = T0 / 1000 + 120;
    assert_eq!(
        one(&s, &format!("sum_over_time(g[2m:1m] @ {at})"), 300),
        5.0
    );
    // Nested: the outer steps 120 and 180 s see 2 + 3 and 3 + 4.
    assert_eq!(
        one(&s, "sum_over_time(sum_over_time(g[2m:1m])[2m:1m])", 180),
        12.0
    );
    // rate/increase extrapolate over the subquery's points (3 at 120 s, 4 at 180 s in
    // (60, 180]): to the window's start, 1 × 120 / 60.
    assert_eq!(one(&s, "increase(g[2m:1m])", 180), 2.0);
    // A range query: each step's window over the points 0, 60, …, 180 s.
    assert_eq!(
        rq(&s, "max_over_time(g[2m:1m])", 60, 180, 60),
        vec![("{}".to_string(), vec![(60, 2.0), (120, 3.0), (180, 4.0)])]
    );
    // At the top of an instant query: the points themselves.
    match instant_query(&s, "g[2m:1m]", t(180), &PromOptions::default()) {
        Ok(PromValue::Matrix(m)) => {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].points, vec![(t(120), 3.0), (t(180), 4.0)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn subquery_steps_count_against_the_point_limit() {
    let mut s = MemStore::new();
    add(&mut s, &[("__name__", "g")], &[(0, 1.0)]);
    // 1000 days at 1 ms: refused before anything is evaluated.
    match err(&s, "count_over_time(g[1000d:1ms])", 0) {
        PromError::Execution(m) => assert!(m.contains("too many samples"), "{m}"),
        e => panic!("{e:?}"),
    }
    // The inner steps × series are bounded like a range query's.
    let opts = PromOptions {
        max_points: 100,
        ..PromOptions::default()
    };
    assert!(instant_query(&s, "count_over_time(g[1m:1s])", t(60), &opts).is_ok());
    match instant_query(&s, "count_over_time(g[5m:1s])", t(60), &opts) {
        Err(PromError::Execution(m)) => assert!(m.contains("too many samples"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn first_over_time_keeps_the_name() {
    let mut s = MemStore::new();
    add(
        &mut s,
        &[("__name__", "g"), ("k", "a")],
        &[(0, 1.0), (60, 2.0), (120, 3.0)],
    );
    // (0, 120]: the sample at 0 s is out.
    assert_eq!(
        iq(&s, "first_over_time(g[2m])", 120),
        v(&[("g{k=\"a\"}", 2.0)])
    );
    assert_eq!(
        rq(&s, "first_over_time(g[1m])", 60, 180, 60),
        vec![("g{k=\"a\"}".to_string(), vec![(60, 2.0), (120, 3.0)])]
    );
}

#[test]
fn a_cancelled_query_with_a_subquery_stops() {
    let mut s = MemStore::new();
    add(&mut s, &[("__name__", "g")], &[(0, 1.0)]);
    let budget = pharos_query::budget::Budget::unlimited();
    budget.cancel();
    let opts = PromOptions {
        budget,
        ..PromOptions::default()
    };
    // A cancelled query with a subquery answers `canceled` (the subquery's inner
    // evaluation holds a clone of the same budget, sharing its flag and deadline).
    match instant_query(&s, "vector(1) + count_over_time(g[1h:1s])", t(60), &opts) {
        Err(e) => assert_eq!(e.error_type(), "canceled", "{e}"),
        Ok(v) => panic!("{v:?}"),
    }
}
