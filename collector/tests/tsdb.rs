//! The time-series store end to end: exact reads at every resolution, rollups against raw
//! data, distributions, matchers, admission, flush/reopen/replay and retention.

use std::path::Path;
use std::sync::Arc;

use pharos_collector::clock::{ManualClock, SharedClock};
use pharos_collector::tsdb::rollup::DISTRIBUTION_SCALE;
use pharos_collector::tsdb::*;
use proptest::prelude::*;

type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// An hour-aligned start time.
const T0: i64 = 472_222 * 3_600_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn s(ts_ms: i64, value: f64) -> Sample {
    Sample { ts_ms, value }
}

fn series(l: &Labels, kind: MetricKind, samples: Vec<Sample>) -> SeriesSamples {
    SeriesSamples {
        labels: l.clone(),
        kind,
        samples,
    }
}

fn batch(series: Vec<SeriesSamples>) -> MetricBatch {
    MetricBatch {
        series,
        distributions: Vec::new(),
    }
}

fn m(name: &str, op: MatchOp, value: &str) -> LabelMatcher {
    LabelMatcher {
        name: name.to_string(),
        op,
        value: value.to_string(),
    }
}

fn name_is(n: &str) -> Vec<LabelMatcher> {
    vec![m("__name__", MatchOp::Equal, n)]
}

fn open_at(dir: &Path, limits: TsdbLimits, now_ms: i64) -> R<(TsdbStore, ManualClock)> {
    let clock = ManualClock::new(now_ms * 1_000_000);
    let shared: SharedClock = Arc::new(clock.clone());
    Ok((TsdbStore::open(dir, limits, shared)?, clock))
}

fn open(dir: &Path) -> R<TsdbStore> {
    Ok(open_at(dir, TsdbLimits::default(), T0 + 24 * HOUR)?.0)
}

fn select(
    store: &TsdbStore,
    ms: Vec<LabelMatcher>,
    start: i64,
    end: i64,
    res: Resolution,
) -> R<Vec<SeriesData>> {
    Ok(store.select(&SelectRequest {
        matchers: ms,
        start_ms: start,
        end_ms: end,
        resolution: res,
    })?)
}

fn raw_of(d: &SeriesData) -> Vec<Sample> {
    match &d.points {
        Points::Raw(s) => s.clone(),
        Points::Rollup(..) => panic!("expected raw samples"),
    }
}

fn buckets_of(d: &SeriesData) -> Vec<RollupBucket> {
    match &d.points {
        Points::Rollup(_, b) => b.clone(),
        Points::Raw(_) => panic!("expected buckets"),
    }
}

/// A bucket, field by field in the struct's order (clearer than struct literals here).
#[allow(clippy::too_many_arguments)]
fn bucket(
    start: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: Sample,
    last: Sample,
    increase: f64,
    resets: u32,
) -> RollupBucket {
    RollupBucket {
        start_ms: start,
        count,
        sum,
        min,
        max,
        first,
        last,
        increase,
        resets,
    }
}

#[test]
fn selects_exact_raw_samples_and_rollups_across_a_flush() -> R {
    let dir = tempfile::tempdir()?;
    let store = open(dir.path())?;
    let c = labels(&[("__name__", "requests_total"), ("job", "api")]);
    let g = labels(&[("__name__", "temperature"), ("room", "a")]);
    let stale = f64::from_bits(STALE_NAN_BITS);
    store.apply(
        1,
        &batch(vec![
            series(
                &c,
                MetricKind::Counter,
                vec![
                    s(T0, 10.0),
                    s(T0 + 20_000, 20.0),
                    s(T0 + 40_000, 30.0),
                    s(T0 + 60_000, 35.0),
                ],
            ),
            series(
                &g,
                MetricKind::Gauge,
                vec![s(T0, 5.0), s(T0 + 30_000, -1.0)],
            ),
        ]),
    )?;
    assert_eq!(store.flush()?, 1);
    store.apply(
        2,
        &batch(vec![
            series(
                &c,
                MetricKind::Counter,
                vec![
                    s(T0 + 80_000, 3.0),
                    s(T0 + 100_000, 8.0),
                    s(T0 + HOUR, 12.0),
                ],
            ),
            series(
                &g,
                MetricKind::Gauge,
                vec![s(T0 + 45_000, stale), s(T0 + 70_000, 2.5)],
            ),
        ]),
    )?;
    let raw = select(
        &store,
        name_is("requests_total"),
        T0 + 20_000,
        T0 + 80_000,
        Resolution::Raw,
    )?;
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].kind, MetricKind::Counter);
    assert_eq!(
        raw_of(&raw[0]),
        vec![
            s(T0 + 20_000, 20.0),
            s(T0 + 40_000, 30.0),
            s(T0 + 60_000, 35.0),
            s(T0 + 80_000, 3.0)
        ]
    );

    // By hand: [T0, +60s) 10, 20, 30 (the first sample has no predecessor: +0, +10, +10);
    // [+60s, +120s) 35 (+5 across the boundary), 3 (a reset: +3), 8 (+5); [+1h] 12 (+4).
    let want_min = vec![
        bucket(
            T0,
            3,
            60.0,
            10.0,
            30.0,
            s(T0, 10.0),
            s(T0 + 40_000, 30.0),
            20.0,
            0,
        ),
        bucket(
            T0 + MIN,
            3,
            46.0,
            3.0,
            35.0,
            s(T0 + 60_000, 35.0),
            s(T0 + 100_000, 8.0),
            13.0,
            1,
        ),
        bucket(
            T0 + HOUR,
            1,
            12.0,
            12.0,
            12.0,
            s(T0 + HOUR, 12.0),
            s(T0 + HOUR, 12.0),
            4.0,
            0,
        ),
    ];
    let all = select(
        &store,
        name_is("requests_total"),
        T0,
        T0 + 2 * HOUR,
        Resolution::Minute,
    )?;
    assert_eq!(buckets_of(&all[0]), want_min);
    // A range overlapping the first two buckets only.
    let part = select(
        &store,
        name_is("requests_total"),
        T0 + 30_000,
        T0 + 60_000,
        Resolution::Minute,
    )?;
    assert_eq!(buckets_of(&part[0]), want_min[..2].to_vec());
    let hours = select(
        &store,
        name_is("requests_total"),
        T0,
        T0 + 2 * HOUR,
        Resolution::Hour,
    )?;
    assert_eq!(
        buckets_of(&hours[0]),
        vec![
            bucket(
                T0,
                6,
                106.0,
                3.0,
                35.0,
                s(T0, 10.0),
                s(T0 + 100_000, 8.0),
                33.0,
                1
            ),
            bucket(
                T0 + HOUR,
                1,
                12.0,
                12.0,
                12.0,
                s(T0 + HOUR, 12.0),
                s(T0 + HOUR, 12.0),
                4.0,
                0
            ),
        ]
    );
    // Gauges: the stale marker is a raw sample (bit-exact) but not a rollup value.
    let graw = raw_of(
        &select(
            &store,
            name_is("temperature"),
            T0,
            T0 + HOUR,
            Resolution::Raw,
        )?[0],
    );
    assert_eq!(graw.len(), 4);
    assert_eq!(graw[2].value.to_bits(), STALE_NAN_BITS);
    let gmin = buckets_of(
        &select(
            &store,
            name_is("temperature"),
            T0,
            T0 + HOUR,
            Resolution::Minute,
        )?[0],
    );
    assert_eq!(
        gmin,
        vec![
            bucket(
                T0,
                2,
                4.0,
                -1.0,
                5.0,
                s(T0, 5.0),
                s(T0 + 30_000, -1.0),
                0.0,
                0
            ),
            bucket(
                T0 + MIN,
                1,
                2.5,
                2.5,
                2.5,
                s(T0 + 70_000, 2.5),
                s(T0 + 70_000, 2.5),
                0.0,
                0
            ),
        ]
    );
    // Results are sorted by labels; no data in range means no series.
    let both = select(
        &store,
        vec![m("__name__", MatchOp::RegexMatch, ".+")],
        T0,
        T0 + HOUR,
        Resolution::Raw,
    )?;
    assert_eq!(
        both.iter().map(|d| d.labels.clone()).collect::<Vec<_>>(),
        vec![c.clone(), g.clone()]
    );
    assert!(select(
        &store,
        name_is("temperature"),
        T0 + 2 * MIN,
        T0 + HOUR,
        Resolution::Raw
    )?
    .is_empty());
    Ok(())
}

/// A random walk of a counter (with resets) or a gauge, at jittered intervals.
fn random_series() -> impl Strategy<Value = (bool, Vec<(i64, f64, bool)>)> {
    (
        any::<bool>(),
        prop::collection::vec(
            (1i64..200_000, 0u32..100, prop::bool::weighted(0.03)),
            1..400,
        ),
    )
        .prop_map(|(counter, steps)| {
            (
                counter,
                steps
                    .into_iter()
                    .map(|(dt, d, reset)| (dt, f64::from(d), reset))
                    .collect(),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Rollup-based aggregates equal raw-based ones: per bucket count/sum/min/max/last, and
    /// the increase over bucket-aligned windows (sum of bucket increases = the raw steps).
    #[test]
    fn rollups_agree_with_raw_samples((counter, steps) in random_series(), flush_at in 0usize..400) {
        let run = || -> R {
            let dir = tempfile::tempdir()?;
            let store = open(dir.path())?;
            let l = labels(&[("__name__", "x")]);
            let kind = if counter { MetricKind::Counter } else { MetricKind::Gauge };
            let (mut ts, mut v) = (T0 + 7_000, 100.0);
            let mut samples = Vec::new();
            for (dt, d, reset) in &steps {
                ts += dt;
                v = if *reset && counter { *d } else if counter { v + d } else { v + d - 50.0 };
                samples.push(s(ts, v));
            }
            let cut = flush_at.min(samples.len());
            store.apply(1, &batch(vec![series(&l, kind, samples[..cut].to_vec())]))?;
            store.flush()?;
            store.apply(2, &batch(vec![series(&l, kind, samples[cut..].to_vec())]))?;
            let end = ts + 1;
            let raw = raw_of(&select(&store, name_is("x"), T0, end, Resolution::Raw)?[0]);
            assert_eq!(raw, samples);
            for res in Resolution::TIERS {
                let w = res.bucket_ms();
                let buckets = buckets_of(&select(&store, name_is("x"), T0, end, res)?[0]);
                // The columnar read hands the same buckets over (and only what is asked).
                let req = SelectRequest { matchers: name_is("x"), start_ms: T0, end_ms: end, resolution: res };
                let visited = std::sync::Mutex::new(Vec::new());
                store.visit_rollups(&req, ColumnSet::ALL, &|_, _, c: &RollupColumns| {
                    if let Ok(mut v) = visited.lock() {
                        v.extend((0..c.len()).map(|i| c.bucket(i)));
                    }
                })?;
                assert_eq!(visited.into_inner().map_err(|e| e.to_string())?, buckets);
                let maxes = std::sync::Mutex::new(Vec::new());
                store.visit_rollups(&req, ColumnSet::MAX, &|_, _, c: &RollupColumns| {
                    assert!(c.first.is_empty() && c.sum.is_empty() && c.resets.is_empty());
                    if let Ok(mut v) = maxes.lock() {
                        v.extend_from_slice(&c.max);
                    }
                })?;
                let want: Vec<f64> = buckets.iter().map(|b| b.max).collect();
                assert_eq!(maxes.into_inner().map_err(|e| e.to_string())?, want);
                let mut i = 0;
                for b in &buckets {
                    let inb: Vec<Sample> = raw.iter().copied().filter(|x| res.bucket_of(x.ts_ms) == b.start_ms).collect();
                    assert!(!inb.is_empty());
                    assert_eq!(b.count, inb.len() as u64);
                    let sum = inb.iter().skip(1).fold(inb[0].value, |a, x| a + x.value);
                    assert_eq!(b.sum, sum);
                    assert_eq!(b.min, inb.iter().map(|x| x.value).fold(f64::INFINITY, f64::min));
                    assert_eq!(b.max, inb.iter().map(|x| x.value).fold(f64::NEG_INFINITY, f64::max));
                    assert_eq!((b.first, b.last), (inb[0], inb[inb.len() - 1]));
                    i += inb.len();
                }
                assert_eq!(i, raw.len());
                if counter {
                    // Windows of 1, 2 and 5 buckets: sum of increases = raw steps in the window.
                    for span in [1i64, 2, 5] {
                        let first = res.bucket_of(raw[0].ts_ms);
                        let mut ws = first;
                        while ws <= end {
                            let we = ws + span * w;
                            let from_rollup: f64 = buckets.iter().filter(|b| b.start_ms >= ws && b.start_ms < we).map(|b| b.increase).sum();
                            let mut from_raw = 0.0;
                            for (k, x) in raw.iter().enumerate() {
                                // Left-open tiers: (ws, we]; the others [ws, we).
                                let inside = if res.left_open() { x.ts_ms > ws && x.ts_ms <= we } else { x.ts_ms >= ws && x.ts_ms < we };
                                if k > 0 && inside {
                                    let p = raw[k - 1].value;
                                    from_raw += if x.value < p { x.value } else { x.value - p };
                                }
                            }
                            assert!((from_rollup - from_raw).abs() <= 1e-9 * from_raw.abs().max(1.0), "{from_rollup} vs {from_raw}");
                            ws = we;
                        }
                    }
                }
            }
            Ok(())
        };
        run().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn distribution_percentiles_match_exact_ones() -> R {
    let dir = tempfile::tempdir()?;
    let store = open(dir.path())?;
    let fam = labels(&[("__name__", "http_latency_seconds"), ("route", "/api")]);
    let other = labels(&[("__name__", "http_latency_seconds"), ("route", "/ui")]);
    let mut all: Vec<(i64, f64)> = Vec::new();
    let mut x: u64 = 12345;
    for lsn in 1..=40u64 {
        let ts = T0 + lsn as i64 * 7_000;
        let mut obs = Vec::new();
        for _ in 0..50 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Latencies from 1 ms to ~10 s, skewed low.
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let v = 0.001 * 10f64.powf(4.0 * u * u);
            obs.push((v, 1 + (x >> 60)));
            for _ in 0..(1 + (x >> 60)) {
                all.push((ts, v));
            }
        }
        let mut b = MetricBatch::default();
        b.distributions.push(Distribution {
            labels: fam.clone(),
            ts_ms: ts,
            observations: obs,
        });
        b.distributions.push(Distribution {
            labels: other.clone(),
            ts_ms: ts,
            observations: vec![(1.0, 1)],
        });
        store.apply(lsn, &b)?;
        if lsn == 17 {
            store.flush()?;
        }
    }
    let sel = vec![m("route", MatchOp::Equal, "/api")];
    for res in [Resolution::Minute, Resolution::Hour, Resolution::Raw] {
        let got = store.select_distributions(&sel, T0, T0 + HOUR, res)?;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, fam);
        let w = res.bucket_ms().max(1);
        for (start, h) in &got[0].1 {
            let mut vals: Vec<f64> = all
                .iter()
                .filter(|(t, _)| t.div_euclid(w) * w == *start)
                .map(|(_, v)| *v)
                .collect();
            vals.sort_by(f64::total_cmp);
            assert_eq!(h.len(), vals.len() as u64);
            for q in [0.5, 0.95, 0.99] {
                let exact = vals[((q * vals.len() as f64).ceil() as usize).max(1) - 1];
                let est = h.value_at_quantile(q) as f64 / DISTRIBUTION_SCALE;
                assert!(
                    (est - exact).abs() <= exact * 2e-3 + 1e-6,
                    "{res:?} q{q}: {est} vs {exact}"
                );
            }
        }
        let total: u64 = got[0].1.iter().map(|(_, h)| h.len()).sum();
        assert_eq!(total, all.len() as u64);
    }
    Ok(())
}

#[test]
fn matchers_label_names_and_values() -> R {
    use MatchOp::*;
    let dir = tempfile::tempdir()?;
    let store = open(dir.path())?;
    let a = labels(&[("__name__", "up"), ("job", "api"), ("env", "prod")]);
    let b = labels(&[("__name__", "up"), ("job", "apiserver")]);
    let c = labels(&[("__name__", "errors_total"), ("job", "db"), ("env", "dev")]);
    store.apply(
        1,
        &batch(vec![
            series(&a, MetricKind::Gauge, vec![s(T0, 1.0)]),
            series(&b, MetricKind::Gauge, vec![s(T0 + HOUR, 1.0)]),
            series(&c, MetricKind::Counter, vec![s(T0, 1.0)]),
        ]),
    )?;
    let range = (T0, T0 + 2 * HOUR);
    let names =
        |ms: Vec<LabelMatcher>| -> R<Vec<Labels>> { Ok(store.series(&ms, range.0, range.1)?) };
    assert_eq!(names(vec![m("job", RegexMatch, "api")])?, vec![a.clone()]);
    assert_eq!(
        names(vec![m("job", RegexMatch, "api.*")])?,
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        names(vec![m("__name__", Equal, "up"), m("env", Equal, "")])?,
        vec![b.clone()]
    );
    assert_eq!(
        names(vec![
            m("job", RegexNoMatch, "api.*"),
            m("env", RegexMatch, "d.*")
        ])?,
        vec![c.clone()]
    );
    assert_eq!(
        names(vec![
            m("__name__", RegexMatch, ".+"),
            m("__name__", NotEqual, "up")
        ])?,
        vec![c.clone()]
    );
    // `__name__!="up"` alone matches the empty string: refused, as Prometheus does.
    assert!(store
        .series(&[m("__name__", NotEqual, "up")], range.0, range.1)
        .is_err());
    assert!(matches!(
        store.series(&[m("env", Equal, "")], range.0, range.1),
        Err(TsdbError::BadMatcher(_))
    ));
    assert!(matches!(
        store.select(&SelectRequest {
            matchers: vec![m("job", RegexMatch, ".*")],
            start_ms: 0,
            end_ms: 1,
            resolution: Resolution::Raw
        }),
        Err(TsdbError::BadMatcher(_))
    ));
    // The range filters: only b has data in the second hour.
    assert_eq!(
        store.series(&[m("__name__", Equal, "up")], T0 + HOUR, T0 + 2 * HOUR)?,
        vec![b.clone()]
    );
    assert_eq!(
        store.label_names(&[], range.0, range.1)?,
        vec!["__name__", "env", "job"]
    );
    assert_eq!(
        store.label_names(&[m("job", Equal, "apiserver")], range.0, range.1)?,
        vec!["__name__", "job"]
    );
    assert_eq!(
        store.label_values("job", &[], range.0, range.1)?,
        vec!["api", "apiserver", "db"]
    );
    assert_eq!(
        store.label_values("env", &[m("__name__", Equal, "up")], range.0, range.1)?,
        vec!["prod"]
    );
    assert_eq!(
        store.label_values("__name__", &[], T0 + HOUR, range.1)?,
        vec!["up"]
    );
    Ok(())
}

#[test]
fn admission_rejects_over_cardinality_out_of_order_and_too_old() -> R {
    let dir = tempfile::tempdir()?;
    let limits = TsdbLimits {
        max_series: 3,
        max_series_per_metric: 2,
        ..TsdbLimits::default()
    };
    let now = T0 + 24 * HOUR;
    let (store, _clock) = open_at(dir.path(), limits, now)?;
    let l = |m: &str, i: &str| labels(&[("__name__", m), ("i", i)]);
    store.apply(
        1,
        &batch(vec![series(
            &l("a", "1"),
            MetricKind::Gauge,
            vec![s(now - 1000, 1.0)],
        )]),
    )?;
    let (ok, rejected) = store.admit(batch(vec![
        series(
            &l("a", "1"),
            MetricKind::Gauge,
            vec![
                s(now - 2000, 9.0),
                s(now - 1000, 1.0),
                s(now - 1000, 2.0),
                s(now, 3.0),
            ],
        ),
        series(&l("a", "2"), MetricKind::Gauge, vec![s(now, 1.0)]),
        series(
            &l("a", "3"),
            MetricKind::Gauge,
            vec![s(now, 1.0), s(now + 1, 1.0)],
        ),
        series(
            &l("b", "1"),
            MetricKind::Gauge,
            vec![s(now - 2 * 24 * HOUR - 1, 1.0), s(now - 2 * 24 * HOUR, 1.0)],
        ),
        series(&l("c", "1"), MetricKind::Gauge, vec![s(now, 1.0)]),
    ]));
    // a{i="1"}: older (rejected), duplicate same value (dropped silently), duplicate other
    // value (rejected), newer (kept). a{i="3"} is the metric's third series; c{i="1"} the
    // fourth series; b{i="1"}'s first sample is past the raw retention.
    let kept: Vec<(String, Vec<Sample>)> = ok
        .series
        .iter()
        .map(|x| (x.labels.to_string(), x.samples.clone()))
        .collect();
    assert_eq!(
        kept,
        vec![
            (r#"a{i="1"}"#.to_string(), vec![s(now, 3.0)]),
            (r#"a{i="2"}"#.to_string(), vec![s(now, 1.0)]),
            (r#"b{i="1"}"#.to_string(), vec![s(now - 2 * 24 * HOUR, 1.0)]),
        ]
    );
    let why: Vec<(String, usize, String)> = rejected
        .iter()
        .map(|r| (r.series.clone(), r.samples, r.reason.clone()))
        .collect();
    assert_eq!(
        why,
        vec![
            (
                r#"a{i="1"}"#.to_string(),
                1,
                format!(
                    "out of order: older than the series' newest sample ({} ms)",
                    now - 1000
                )
            ),
            (
                r#"a{i="1"}"#.to_string(),
                1,
                "duplicate timestamp with a different value".to_string()
            ),
            (
                r#"a{i="3"}"#.to_string(),
                2,
                "metric a has 2 series (limit)".to_string()
            ),
            (
                r#"b{i="1"}"#.to_string(),
                1,
                format!("older than the raw retention ({} ms)", 2 * 24 * HOUR)
            ),
            (
                r#"c{i="1"}"#.to_string(),
                1,
                "series limit 3 reached".to_string()
            ),
        ]
    );
    // Admission wrote nothing; applying what it admitted creates the two new series.
    assert_eq!(store.stats().series, 1);
    store.apply(2, &ok)?;
    assert_eq!(store.stats().series, 3);
    // Apply drops what a concurrent admission could not see, deterministically.
    store.apply(
        3,
        &batch(vec![
            series(&l("d", "1"), MetricKind::Gauge, vec![s(now, 1.0)]),
            series(&l("a", "1"), MetricKind::Gauge, vec![s(now - 5, 7.0)]),
        ]),
    )?;
    assert_eq!(store.stats().series, 3);
    assert_eq!(
        raw_of(
            &select(
                &store,
                vec![
                    m("i", MatchOp::Equal, "1"),
                    m("__name__", MatchOp::Equal, "a")
                ],
                0,
                i64::MAX,
                Resolution::Raw
            )?[0]
        ),
        vec![s(now - 1000, 1.0), s(now, 3.0)]
    );
    Ok(())
}

/// A workload: 12 series (counters with resets, gauges with stale markers) and a distribution
/// family over 5 hours, in 60 batches (LSN 1..=60).
fn workload() -> Vec<MetricBatch> {
    let mut out = Vec::new();
    let mut x: u64 = 99;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut values = [0f64; 12];
    for b in 0..60i64 {
        let mut batch = MetricBatch::default();
        for (i, v) in values.iter_mut().enumerate() {
            let counter = i % 2 == 0;
            let l = labels(&[
                ("__name__", if counter { "c_total" } else { "g" }),
                ("i", &i.to_string()),
            ]);
            let mut samples = Vec::new();
            for k in 0..30 {
                let ts = T0 + b * 5 * MIN + k * 10_000 + i as i64;
                let r = next();
                *v = if counter {
                    if r % 97 == 0 {
                        0.0
                    } else {
                        *v + (r % 10) as f64
                    }
                } else {
                    (r % 1000) as f64 / 8.0
                };
                let val = if !counter && r % 53 == 0 {
                    f64::from_bits(STALE_NAN_BITS)
                } else {
                    *v
                };
                samples.push(s(ts, val));
            }
            batch.series.push(series(
                &l,
                if counter {
                    MetricKind::Counter
                } else {
                    MetricKind::Gauge
                },
                samples,
            ));
        }
        batch.distributions.push(Distribution {
            labels: labels(&[("__name__", "lat")]),
            ts_ms: T0 + b * 5 * MIN,
            observations: vec![((next() % 1000) as f64 / 100.0, 1 + next() % 5)],
        });
        out.push(batch);
    }
    out
}

type Snapshot = Vec<(Resolution, Vec<SeriesData>, Vec<DistributionSeries>)>;

fn snapshot(store: &TsdbStore) -> R<Snapshot> {
    let mut out = Vec::new();
    for res in [
        Resolution::Raw,
        Resolution::Minute,
        Resolution::FiveMinute,
        Resolution::Hour,
    ] {
        let data = select(
            store,
            vec![m("__name__", MatchOp::RegexMatch, ".+")],
            i64::MIN,
            i64::MAX,
            res,
        )?;
        let d = store.select_distributions(&name_is("lat"), i64::MIN, i64::MAX, res)?;
        out.push((res, data, d));
    }
    Ok(out)
}

fn assert_same(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.len(), b.len());
    for ((ra, da, xa), (rb, db, xb)) in a.iter().zip(b) {
        assert_eq!(ra, rb);
        // Bit-exact (NaN stale markers included): compare the debug form of the bits.
        let bits = |d: &Vec<SeriesData>| {
            format!(
                "{:?}",
                d.iter()
                    .map(|s| match &s.points {
                        Points::Raw(v) => (
                            s.labels.to_string(),
                            v.iter()
                                .map(|x| (x.ts_ms, x.value.to_bits()))
                                .collect::<Vec<_>>(),
                            Vec::new()
                        ),
                        Points::Rollup(_, v) => (
                            s.labels.to_string(),
                            Vec::new(),
                            v.iter().map(|b| format!("{b:?}")).collect()
                        ),
                    })
                    .collect::<Vec<_>>()
            )
        };
        assert_eq!(bits(da), bits(db), "{ra:?}");
        assert_eq!(xa, xb, "{ra:?} distributions");
    }
}

#[test]
fn flush_reopen_and_replay_read_exactly_like_never_closing() -> R {
    let work = workload();
    let dir_a = tempfile::tempdir()?;
    let never = open(dir_a.path())?;
    for (i, b) in work.iter().enumerate() {
        never.apply(i as u64 + 1, b)?;
    }
    let want = snapshot(&never)?;
    assert_eq!(want[0].1.len(), 12);

    let dir = tempfile::tempdir()?;
    // (flush after this LSN, then also apply up to this LSN unflushed, then close)
    let plan = [(7u64, 9u64), (8, 8), (23, 31), (40, 41), (60, 60)];
    let mut store = open(dir.path())?;
    for (flush_at, applied_to) in plan {
        // Replay as the lead's WAL does: everything after the durable LSN, in order; what
        // is at or below the applied LSN is ignored.
        let from = store.durable_lsn();
        for lsn in 1..=flush_at {
            store.apply(lsn, &work[lsn as usize - 1])?;
        }
        assert!(store.applied_lsn() >= from);
        assert_eq!(store.flush()?, flush_at);
        for lsn in flush_at + 1..=applied_to {
            store.apply(lsn, &work[lsn as usize - 1])?;
        }
        drop(store);
        store = open(dir.path())?;
        // Without a flush, what was applied after it is gone: only the WAL brings it back.
        assert_eq!(
            (store.durable_lsn(), store.applied_lsn()),
            (flush_at, flush_at)
        );
    }
    assert_same(&snapshot(&store)?, &want);
    assert_eq!(store.stats().series, 12);
    assert_eq!(store.stats().distribution_families, 1);
    assert_eq!(store.stats().chunks, never.stats().chunks);
    Ok(())
}

#[test]
fn reopen_without_flush_loses_exactly_what_was_not_durable() -> R {
    let work = workload();
    let dir = tempfile::tempdir()?;
    let store = open(dir.path())?;
    for lsn in 1..=10u64 {
        store.apply(lsn, &work[lsn as usize - 1])?;
    }
    store.flush()?;
    let at_flush = snapshot(&store)?;
    for lsn in 11..=14u64 {
        store.apply(lsn, &work[lsn as usize - 1])?;
    }
    drop(store);
    let store = open(dir.path())?;
    assert_eq!(store.durable_lsn(), 10);
    assert_same(&snapshot(&store)?, &at_flush);
    Ok(())
}

#[test]
fn retention_is_exact_at_its_boundaries() -> R {
    let dir = tempfile::tempdir()?;
    let limits = TsdbLimits {
        max_series: 10,
        max_series_per_metric: 10,
        raw_retention_ms: HOUR,
        minute_retention_ms: 3 * HOUR,
        five_minute_retention_ms: 6 * HOUR,
        hour_retention_ms: 10 * HOUR,
        ..TsdbLimits::default()
    };
    let (store, clock) = open_at(dir.path(), limits.clone(), T0 + 12 * HOUR)?;
    let l = labels(&[("__name__", "m")]);
    let early = labels(&[("__name__", "early")]);
    let samples: Vec<Sample> = (0..=12 * 60).map(|k| s(T0 + k * MIN, k as f64)).collect();
    let mut b = batch(vec![series(&l, MetricKind::Counter, samples)]);
    b.series
        .push(series(&early, MetricKind::Gauge, vec![s(T0, 1.0)]));
    b.distributions.push(Distribution {
        labels: l.clone(),
        ts_ms: T0 + 11 * HOUR,
        observations: vec![(1.0, 1)],
    });
    b.distributions.push(Distribution {
        labels: early.clone(),
        ts_ms: T0,
        observations: vec![(1.0, 1)],
    });
    store.apply(1, &b)?;
    store.flush()?;
    let firsts = |store: &TsdbStore| -> R<Vec<i64>> {
        let mut out = Vec::new();
        for res in [
            Resolution::Raw,
            Resolution::Minute,
            Resolution::FiveMinute,
            Resolution::Hour,
        ] {
            let d = select(store, name_is("m"), i64::MIN, i64::MAX, res)?;
            out.push(match &d[0].points {
                Points::Raw(s) => s[0].ts_ms,
                Points::Rollup(_, b) => b[0].start_ms,
            });
        }
        Ok(out)
    };
    let now = T0 + 12 * HOUR;
    let report = store.run_retention(now)?;
    // Raw: ts >= now - 1h; minute buckets ending after now - 3h, 5-minute ones (left-open:
    // (6h, 6h5m] is the first to end after) after now - 6h; hour buckets after now - 10h.
    assert_eq!(
        firsts(&store)?,
        vec![T0 + 11 * HOUR, T0 + 9 * HOUR, T0 + 6 * HOUR, T0 + 2 * HOUR]
    );
    assert_eq!(report.series_removed, 1);
    assert_eq!(report.families_removed, 1);
    assert!(store
        .series(&name_is("early"), i64::MIN, i64::MAX)?
        .is_empty());
    assert_eq!(store.stats().series, 1);
    // Half a minute later: the sample at exactly the old cut goes, the bucket stays.
    store.run_retention(now + 30_000)?;
    assert_eq!(
        firsts(&store)?,
        vec![
            T0 + 11 * HOUR + MIN,
            T0 + 9 * HOUR,
            T0 + 6 * HOUR,
            T0 + 2 * HOUR
        ]
    );
    store.run_retention(now + MIN)?;
    assert_eq!(
        firsts(&store)?,
        vec![
            T0 + 11 * HOUR + MIN,
            T0 + 9 * HOUR + MIN,
            T0 + 6 * HOUR,
            T0 + 2 * HOUR
        ]
    );
    // Counter increases of kept buckets are unchanged by retention.
    let hours = buckets_of(&select(&store, name_is("m"), i64::MIN, i64::MAX, Resolution::Hour)?[0]);
    assert_eq!(hours[0].increase, 60.0);
    // Admission at the same clock: raw retention is the limit.
    clock.set((now + MIN) * 1_000_000);
    let (ok, rej) = store.admit(batch(vec![series(
        &early,
        MetricKind::Gauge,
        vec![s(now + MIN - HOUR - 1, 1.0), s(now + MIN - HOUR, 2.0)],
    )]));
    assert_eq!((ok.sample_count(), rej.len()), (1, 1));
    // The same after a flush and a reopen.
    store.flush()?;
    let before = firsts(&store)?;
    let d_before =
        store.select_distributions(&name_is("m"), i64::MIN, i64::MAX, Resolution::Minute)?;
    assert_eq!(d_before.len(), 1);
    // The raw distribution at T0 + 11 h is past the raw retention by now.
    assert!(store
        .select_distributions(&name_is("m"), i64::MIN, i64::MAX, Resolution::Raw)?
        .is_empty());
    let stats = store.stats();
    drop(store);
    let (store, _) = open_at(dir.path(), limits, now + MIN)?;
    assert_eq!(firsts(&store)?, before);
    assert_eq!(
        store.select_distributions(&name_is("m"), i64::MIN, i64::MAX, Resolution::Minute)?,
        d_before
    );
    assert_eq!(store.stats().series, stats.series);
    assert_eq!(store.stats().chunks, stats.chunks);
    // Everything expires eventually; then the series is gone.
    let r = store.run_retention(now + 100 * HOUR)?;
    assert_eq!(r.series_removed, 1);
    assert_eq!(store.stats().series, 0);
    assert_eq!(store.stats().chunks, 0);
    Ok(())
}

/// 1,000 regular series × 1 day at 15 s: bytes on disk per raw sample.
#[test]
fn bytes_on_disk_per_sample() -> R {
    let dir = tempfile::tempdir()?;
    let store = open_at(dir.path(), TsdbLimits::default(), T0 + 24 * HOUR)?.0;
    let n_series = 1000;
    let per_day = 24 * 60 * 4;
    let names: Vec<Labels> = (0..n_series)
        .map(|i| {
            labels(&[
                (
                    "__name__",
                    if i % 2 == 0 {
                        "node_requests_total"
                    } else {
                        "node_memory_bytes"
                    },
                ),
                ("instance", &format!("host-{i}:9100")),
                ("job", "node"),
            ])
        })
        .collect();
    let mut values: Vec<f64> = (0..n_series).map(|i| (i * 1000) as f64).collect();
    let mut x: u64 = 7;
    let mut lsn = 0;
    // One batch per 10 minutes of scrapes (40 per series); a flush every hour.
    for step in (0..per_day).step_by(40) {
        let mut b = MetricBatch::default();
        for (i, l) in names.iter().enumerate() {
            let mut samples = Vec::with_capacity(40);
            for k in step..step + 40 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (x >> 33) % 10;
                // Counters grow by 0–9 per scrape; gauges walk by -2..=2.
                values[i] += if i % 2 == 0 {
                    r as f64
                } else {
                    (r % 5) as f64 - 2.0
                };
                samples.push(s(T0 + k as i64 * 15_000, values[i]));
            }
            b.series.push(series(
                l,
                if i % 2 == 0 {
                    MetricKind::Counter
                } else {
                    MetricKind::Gauge
                },
                samples,
            ));
        }
        lsn += 1;
        store.apply(lsn, &b)?;
        if lsn % 6 == 0 {
            store.flush()?;
        }
    }
    store.flush()?;
    let stats = store.stats();
    let samples = (n_series * per_day) as f64;
    let per_sample = stats.disk_bytes as f64 / samples;
    let dir_bytes = dir_size(dir.path());
    eprintln!(
        "tsdb size: {} samples, {} chunks, sled size_on_disk + chunk files {} B ({per_sample:.2} B/sample), chunk files {} B, files {} B ({:.2} B/sample)",
        samples, stats.chunks, stats.disk_bytes, stats.chunk_file_bytes, dir_bytes, dir_bytes as f64 / samples
    );
    assert_eq!(stats.chunks, (n_series * per_day / 120) as u64);
    drop(store);
    let kv = pharos_collector::tsdb::sled_kv::SledKv::open(&dir.path().join("kv"))?;
    use pharos_collector::tsdb::kv::{Kv, Tree};
    for tree in [
        Tree::Chunks,
        Tree::Minute,
        Tree::Hour,
        Tree::Series,
        Tree::Postings,
    ] {
        let (mut n, mut bytes) = (0u64, 0u64);
        for e in kv.scan_prefix(tree, &[]) {
            let (k, v) = e?;
            n += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        eprintln!(
            "{tree:?}: {n} entries, {bytes} B ({:.3} B/sample)",
            bytes as f64 / samples
        );
        if tree == Tree::Chunks {
            // The issue's target for raw chunks: the closed ones are in the chunk files (file
            // bytes as they are on disk, record headers included), the open ones in the kv
            // (keys included; sled's own space overhead comes on top, see size_on_disk).
            // Closed chunks are in the dense decimal codec where it is exact (XOR alone
            // measured 1.55 here).
            let per = (bytes + stats.chunk_file_bytes) as f64 / samples;
            eprintln!("raw chunks: {per:.3} B/sample (chunk files and open chunks)");
            assert!(per <= 1.0, "{per} B/sample in raw chunks");
            assert!(stats.chunk_file_bytes as f64 / samples > 0.3);
        }
    }
    Ok(())
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_store_of_the_format_before_the_five_minute_tier_is_refused_clearly() -> R {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("FORMAT"), "1\n")?;
    let err = match open(dir.path()) {
        Ok(_) => return Err("a format-1 store opened".into()),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("format 1") && err.contains("5-minute") && err.contains("move"),
        "{err}"
    );
    // Nor is a format newer than this version knows.
    let newer = tempfile::tempdir()?;
    std::fs::write(newer.path().join("FORMAT"), "4\n")?;
    assert!(open(newer.path()).is_err(), "a format-4 store opened");
    // A format-2 store (before the chunk files) is upgraded in place, its data kept.
    let old = tempfile::tempdir()?;
    {
        let store = open(old.path())?;
        let l = labels(&[("__name__", "up")]);
        store.apply(
            1,
            &batch(vec![series(&l, MetricKind::Gauge, vec![s(T0, 1.0)])]),
        )?;
        store.flush()?;
    }
    std::fs::write(old.path().join("FORMAT"), "2\n")?;
    let store = open(old.path())?;
    assert_eq!(store.stats().series, 1);
    drop(store);
    assert_eq!(
        std::fs::read_to_string(old.path().join("FORMAT"))?.trim(),
        "3"
    );
    // A new store is written as the current format.
    let fresh = tempfile::tempdir()?;
    drop(open(fresh.path())?);
    assert_eq!(
        std::fs::read_to_string(fresh.path().join("FORMAT"))?.trim(),
        TSDB_FORMAT_VERSION.to_string()
    );
    Ok(())
}

/// The 5-minute tier over days, through the store: day blocks cut and written whole, the
/// open day as hour segments, reopens (WAL replay of what was not flushed) at arbitrary
/// points, and the decoded-block cache: reads equal the rollup of every sample with the
/// cache on and off, before and after retention rewrites a cached closed block.
#[test]
fn five_minute_days_survive_reopens_and_the_cache_follows_retention() -> R {
    let dir = tempfile::tempdir()?;
    let l = labels(&[("__name__", "c_total")]);
    let samples: Vec<Sample> = (0..3 * 1440 + 500)
        .map(|k| s(T0 + 30_000 + k * MIN, (k * 3 - k % 7) as f64))
        .collect();
    let batches: Vec<MetricBatch> = samples
        .chunks(17)
        .map(|c| batch(vec![series(&l, MetricKind::Counter, c.to_vec())]))
        .collect();
    let end = samples[samples.len() - 1].ts_ms;
    let read = |store: &TsdbStore, from: i64| -> R<Vec<RollupBucket>> {
        let req = SelectRequest {
            matchers: name_is("c_total"),
            start_ms: from,
            end_ms: end,
            resolution: Resolution::FiveMinute,
        };
        let got = std::sync::Mutex::new(Vec::new());
        store.visit_rollups(&req, ColumnSet::ALL, &|_, _, c| {
            if let Ok(mut g) = got.lock() {
                g.extend((0..c.len()).map(|i| c.bucket(i)));
            }
        })?;
        Ok(got.into_inner().map_err(|_| "poisoned")?)
    };
    let cached = TsdbLimits {
        rollup_cache_bytes: 64 << 20,
        ..TsdbLimits::default()
    };
    let mut store = open_at(dir.path(), cached.clone(), end)?.0;
    for (i, b) in batches.iter().enumerate() {
        let lsn = i as u64 + 1;
        store.apply(lsn, b)?;
        if i % 5 == 4 {
            store.flush()?;
        }
        if i % 61 == 60 {
            // Crash: what was not flushed is replayed from the WAL.
            drop(store);
            store = open_at(dir.path(), cached.clone(), end)?.0;
            for (j, b) in batches.iter().enumerate().take(i + 1) {
                store.apply(j as u64 + 1, b)?;
            }
        }
    }
    store.flush()?;
    let all = rollup(&samples, MetricKind::Counter, Resolution::FiveMinute, None);
    assert_eq!(read(&store, T0)?, all);
    // Warm: the closed days now come from the cache.
    assert!(
        store.cache_stats().entries >= 3,
        "{:?}",
        store.cache_stats()
    );
    assert_eq!(read(&store, T0)?, all);
    drop(store);
    let uncached = TsdbLimits {
        rollup_cache_bytes: 0,
        ..TsdbLimits::default()
    };
    let store = open_at(dir.path(), uncached, end)?.0;
    assert_eq!(read(&store, T0)?, all);
    assert_eq!(store.cache_stats().entries, 0);
    drop(store);
    // Retention in the middle of the first (cached) day block rewrites it under a new key.
    let limits = TsdbLimits {
        five_minute_retention_ms: end - (T0 + 7 * HOUR),
        ..cached
    };
    let store = open_at(dir.path(), limits, end)?.0;
    assert_eq!(read(&store, T0)?, all);
    let report = store.run_retention(end)?;
    assert!(report.rewritten > 0, "{report:?}");
    let cut = T0 + 7 * HOUR;
    let kept: Vec<RollupBucket> = all
        .iter()
        .filter(|b| b.start_ms + 5 * MIN > cut)
        .cloned()
        .collect();
    assert_eq!(read(&store, T0)?, kept);
    Ok(())
}

#[test]
fn admission_refuses_new_series_near_the_memory_bound_and_far_future_samples() -> R {
    let dir = tempfile::tempdir()?;
    let now = T0 + 24 * HOUR;
    let l = |m: &str| labels(&[("__name__", m)]);
    // A bound below any process's resident size: no new series fits.
    let limits = TsdbLimits {
        new_series_memory_bytes: Some(1),
        max_future_ms: Some(600_000),
        ..TsdbLimits::default()
    };
    let (store, _clock) = open_at(dir.path(), limits, now)?;
    // An existing series (created before the bound mattered, through apply).
    store.apply(
        1,
        &batch(vec![series(
            &l("known"),
            MetricKind::Gauge,
            vec![s(now - 1000, 1.0)],
        )]),
    )?;
    let (ok, rejected) = store.admit(batch(vec![
        series(
            &l("known"),
            MetricKind::Gauge,
            vec![s(now, 2.0), s(now + 3_600_000, 3.0)],
        ),
        series(&l("fresh"), MetricKind::Gauge, vec![s(now, 1.0)]),
    ]));
    let kept: Vec<(String, usize)> = ok
        .series
        .iter()
        .map(|x| (x.labels.to_string(), x.samples.len()))
        .collect();
    assert_eq!(kept, vec![("known{}".to_string(), 1)]);
    let mut why: Vec<(String, bool, bool)> = rejected
        .iter()
        .map(|r| (r.series.clone(), r.by_limit, r.reason.contains("memory")))
        .collect();
    why.sort();
    assert_eq!(
        why,
        vec![
            ("fresh{}".to_string(), true, true),
            ("known{}".to_string(), false, false)
        ]
    );
    assert!(rejected.iter().any(|r| r.reason.contains("in the future")));
    Ok(())
}
