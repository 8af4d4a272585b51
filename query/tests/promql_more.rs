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
