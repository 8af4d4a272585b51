use super::*;
use crate::tsdb::MetricBatch;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum, Summary,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// 2023-11-14T22:13:20Z in ns and ms.
const T0: u64 = 1_700_000_000_000_000_000;
const T0_MS: i64 = 1_700_000_000_000;
const MIN: u64 = 60_000_000_000;
const START: u64 = T0 - 10 * MIN;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

fn kv(k: &str, v: Any) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Any {
    Any::StringValue(v.into())
}

fn resource() -> Vec<KeyValue> {
    vec![
        kv("service.name", s("checkout")),
        kv("service.namespace", s("shop")),
        kv("service.instance.id", s("i-1")),
        kv("host.name", s("h1")),
    ]
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn number(attrs: Vec<KeyValue>, start: u64, time: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string()))).expect("labels")
}

/// Labels with the test resource's job and instance.
fn rl(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut all = vec![
        ("__name__", name),
        ("job", "shop/checkout"),
        ("instance", "i-1"),
    ];
    all.extend_from_slice(pairs);
    labels(&all)
}

fn sample(ts_ms: i64, value: f64) -> Sample {
    Sample { ts_ms, value }
}

fn series(labels: Labels, kind: MetricKind, samples: Vec<Sample>) -> SeriesSamples {
    SeriesSamples {
        labels,
        kind,
        samples,
    }
}

fn target_info(ts_ms: i64) -> SeriesSamples {
    series(
        rl("target_info", &[("host_name", "h1")]),
        MetricKind::Gauge,
        vec![sample(ts_ms, 1.0)],
    )
}

fn state() -> OtlpState {
    OtlpState::new(0)
}

fn convert(st: &OtlpState, req: &ExportMetricsServiceRequest) -> OtlpConverted {
    let out = st.convert(req, 1);
    assert!(
        out.converted.rejected.is_empty(),
        "{:?}",
        out.converted.rejected
    );
    out
}

/// Converts and commits (as after a successful append); returns the batch.
fn convert_commit(st: &OtlpState, req: &ExportMetricsServiceRequest) -> MetricBatch {
    let mut out = convert(st, req);
    st.commit(std::mem::take(&mut out.pending), 1);
    out.converted.batch
}

#[test]
fn gauge_becomes_a_gauge_with_job_instance_and_target_info() {
    let req = request(
        resource(),
        vec![metric(
            "system.memory.utilization",
            "1",
            Data::Gauge(Gauge {
                data_points: vec![
                    number(vec![kv("state", s("used"))], 0, T0, 0.5),
                    NumberDataPoint {
                        attributes: vec![kv("state", s("free"))],
                        time_unix_nano: T0 + 1_500_000,
                        value: Some(number_data_point::Value::AsInt(2)),
                        ..Default::default()
                    },
                ],
            }),
        )],
    );
    let out = convert(&state(), &req);
    assert_eq!(
        out.converted.batch,
        MetricBatch {
            series: vec![
                series(
                    rl("system_memory_utilization_ratio", &[("state", "used")]),
                    MetricKind::Gauge,
                    vec![sample(T0_MS, 0.5)]
                ),
                series(
                    rl("system_memory_utilization_ratio", &[("state", "free")]),
                    MetricKind::Gauge,
                    vec![sample(T0_MS + 1, 2.0)]
                ),
                target_info(T0_MS + 1),
            ],
            distributions: vec![],
        }
    );
    assert_eq!(out.data_points, 2);
    assert_eq!(out.origins, vec![vec![0], vec![1], vec![]]);
}

#[test]
fn gauge_marked_unknown_by_metadata_is_unknown() {
    let mut m = metric(
        "queue.depth",
        "{item}",
        Data::Gauge(Gauge {
            data_points: vec![number(vec![], 0, T0, 3.0)],
        }),
    );
    m.metadata = vec![kv("prometheus.type", s("unknown"))];
    let out = convert(&state(), &request(vec![], vec![m]));
    assert_eq!(
        out.converted.batch.series,
        vec![series(
            labels(&[("__name__", "queue_depth")]),
            MetricKind::Unknown,
            vec![sample(T0_MS, 3.0)]
        )]
    );
}

#[test]
fn cumulative_sums_are_counters_or_gauges() {
    let req = request(
        resource(),
        vec![
            metric(
                "http.server.requests",
                "{request}",
                Data::Sum(Sum {
                    data_points: vec![
                        number(vec![kv("http.route", s("/a"))], START, T0, 10.0),
                        number(vec![kv("http.route", s("/a"))], START, T0 + MIN, 12.0),
                    ],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                }),
            ),
            metric(
                "process.cpu.time",
                "s",
                Data::Sum(Sum {
                    data_points: vec![number(vec![], START, T0, 1.25)],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                }),
            ),
            metric(
                "db.client.connections.usage",
                "{connection}",
                Data::Sum(Sum {
                    data_points: vec![number(vec![kv("state", s("idle"))], START, T0, 4.0)],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: false,
                }),
            ),
        ],
    );
    let out = convert(&state(), &req);
    assert_eq!(
        out.converted.batch,
        MetricBatch {
            series: vec![
                series(
                    rl("http_server_requests_total", &[("http_route", "/a")]),
                    MetricKind::Counter,
                    vec![sample(T0_MS, 10.0), sample(T0_MS + 60_000, 12.0)]
                ),
                series(
                    rl("process_cpu_time_seconds_total", &[]),
                    MetricKind::Counter,
                    vec![sample(T0_MS, 1.25)]
                ),
                series(
                    rl("db_client_connections_usage", &[("state", "idle")]),
                    MetricKind::Gauge,
                    vec![sample(T0_MS, 4.0)]
                ),
                target_info(T0_MS + 60_000),
            ],
            distributions: vec![],
        }
    );
    assert_eq!(out.origins[0], vec![0, 1]);
}

fn delta_sum(points: Vec<NumberDataPoint>) -> ExportMetricsServiceRequest {
    request(
        vec![kv("service.name", s("worker"))],
        vec![metric(
            "jobs.processed",
            "",
            Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: DELTA,
                is_monotonic: true,
            }),
        )],
    )
}

#[test]
fn delta_monotonic_sums_accumulate_into_a_counter() {
    let st = state();
    let l = labels(&[("__name__", "jobs_processed_total"), ("job", "worker")]);
    // Two consecutive deltas in one request.
    let b = convert_commit(
        &st,
        &delta_sum(vec![
            number(vec![], T0, T0 + MIN, 3.0),
            number(vec![], T0 + MIN, T0 + 2 * MIN, 4.0),
        ]),
    );
    assert_eq!(
        b.series,
        vec![series(
            l.clone(),
            MetricKind::Counter,
            vec![sample(T0_MS + 60_000, 3.0), sample(T0_MS + 120_000, 7.0)]
        )]
    );
    // The next request continues the total; a gap (start after the previous end) is fine.
    let next = delta_sum(vec![number(vec![], T0 + 3 * MIN, T0 + 4 * MIN, 5.0)]);
    // Converted but not committed (e.g. the append answered 429): a retry counts it once.
    let first_try = convert(&st, &next);
    let retry = convert_commit(&st, &next);
    assert_eq!(first_try.converted.batch, retry);
    assert_eq!(
        retry.series,
        vec![series(
            l.clone(),
            MetricKind::Counter,
            vec![sample(T0_MS + 240_000, 12.0)]
        )]
    );
    assert_eq!(st.tracked(), (1, 0));

    // A repeat of a committed point, and an overlapping one, are rejected, not counted.
    for p in [
        number(vec![], T0 + 3 * MIN, T0 + 4 * MIN, 5.0),
        number(vec![], T0 + 3 * MIN + 1, T0 + 5 * MIN, 1.0),
    ] {
        let out = st.convert(&delta_sum(vec![p]), 1);
        assert!(out.converted.batch.series.is_empty());
        assert_eq!(out.converted.rejected.len(), 1);
        let r = &out.converted.rejected[0];
        assert_eq!(r.kind, RejectKind::Invalid);
        assert_eq!(r.samples, 1);
        assert!(
            r.reason.contains("repeated or out of order") || r.reason.contains("overlaps"),
            "{}",
            r.reason
        );
        assert!(r.reason.starts_with(
            "resource_metrics[0].scope_metrics[0].metrics[0] (jobs.processed) data_points[0]: "
        ));
    }
    // Negative and NaN deltas on a monotonic sum are invalid.
    let out = st.convert(
        &delta_sum(vec![
            number(vec![], T0 + 4 * MIN, T0 + 5 * MIN, -1.0),
            number(vec![], T0 + 4 * MIN, T0 + 5 * MIN, f64::NAN),
        ]),
        1,
    );
    assert_eq!(out.converted.rejected.len(), 2);
}

#[test]
fn delta_non_monotonic_and_unspecified_temporality_are_rejected_with_reasons() {
    let sum = |temporality, monotonic| {
        metric(
            "queue.size",
            "",
            Data::Sum(Sum {
                data_points: vec![number(vec![], T0, T0 + MIN, 1.0); 2],
                aggregation_temporality: temporality,
                is_monotonic: monotonic,
            }),
        )
    };
    let req = request(
        vec![],
        vec![sum(DELTA, false), sum(0, true), sum(CUMULATIVE, false)],
    );
    let out = state().convert(&req, 1);
    let rejected = &out.converted.rejected;
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].kind, RejectKind::Unsupported);
    assert_eq!(rejected[0].samples, 2);
    assert!(rejected[0].reason.contains("cumulative temporality"));
    assert_eq!(rejected[1].kind, RejectKind::Invalid);
    assert!(rejected[1].reason.contains("unspecified"));
    assert_eq!(out.data_points, 6);
    assert_eq!(out.converted.batch.series.len(), 1);
}

fn histogram_point(
    start: u64,
    time: u64,
    counts: &[u64],
    bounds: &[f64],
    sum: f64,
) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: vec![kv("http.route", s("/pay"))],
        start_time_unix_nano: start,
        time_unix_nano: time,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts.to_vec(),
        explicit_bounds: bounds.to_vec(),
        ..Default::default()
    }
}

fn histogram(temporality: i32, points: Vec<HistogramDataPoint>) -> ExportMetricsServiceRequest {
    request(
        resource(),
        vec![metric(
            "http.server.request.duration",
            "s",
            Data::Histogram(Histogram {
                data_points: points,
                aggregation_temporality: temporality,
            }),
        )],
    )
}

/// The classic series of the test histogram: `le` values, then sum and count.
fn classic(ts_ms: i64, buckets: &[(&str, f64)], sum: f64, count: f64) -> Vec<SeriesSamples> {
    let name = "http_server_request_duration_seconds";
    let mut out: Vec<SeriesSamples> = buckets
        .iter()
        .map(|(le, v)| {
            series(
                rl(
                    &format!("{name}_bucket"),
                    &[("http_route", "/pay"), ("le", le)],
                ),
                MetricKind::Counter,
                vec![sample(ts_ms, *v)],
            )
        })
        .collect();
    out.push(series(
        rl(&format!("{name}_sum"), &[("http_route", "/pay")]),
        MetricKind::Counter,
        vec![sample(ts_ms, sum)],
    ));
    out.push(series(
        rl(&format!("{name}_count"), &[("http_route", "/pay")]),
        MetricKind::Counter,
        vec![sample(ts_ms, count)],
    ));
    out
}

fn dist(ts_ms: i64, observations: Vec<(f64, u64)>) -> Distribution {
    Distribution {
        labels: rl(
            "http_server_request_duration_seconds",
            &[("http_route", "/pay")],
        ),
        ts_ms,
        observations,
    }
}

#[test]
fn cumulative_histogram_gives_classic_series_and_the_distribution_since_the_last_point() {
    let st = state();
    let bounds = [0.1, 0.5];
    let b1 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(START, T0, &[2, 1, 1], &bounds, 1.7)],
        ),
    );
    let mut want = classic(
        T0_MS,
        &[("0.1", 2.0), ("0.5", 3.0), ("+Inf", 4.0)],
        1.7,
        4.0,
    );
    want.push(target_info(T0_MS));
    // The series started after this state began: its whole counts are new observations, each
    // at its bucket's upper bound, the +Inf bucket at its lower bound.
    assert_eq!(
        b1,
        MetricBatch {
            series: want,
            distributions: vec![dist(T0_MS, vec![(0.1, 2), (0.5, 1), (0.5, 1)])],
        }
    );
    assert_eq!(st.tracked(), (0, 1));

    let b2 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(START, T0 + MIN, &[3, 1, 4], &bounds, 10.0)],
        ),
    );
    let mut want = classic(
        T0_MS + 60_000,
        &[("0.1", 3.0), ("0.5", 4.0), ("+Inf", 8.0)],
        10.0,
        8.0,
    );
    want.push(target_info(T0_MS + 60_000));
    // Only what was observed since the previous point.
    assert_eq!(
        b2,
        MetricBatch {
            series: want,
            distributions: vec![dist(T0_MS + 60_000, vec![(0.1, 1), (0.5, 3)])],
        }
    );

    // A restart (new start time, counts lower) counts the point in full.
    let b3 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(
                T0 + MIN,
                T0 + 2 * MIN,
                &[1, 0, 0],
                &bounds,
                0.05,
            )],
        ),
    );
    assert_eq!(
        b3.distributions,
        vec![dist(T0_MS + 120_000, vec![(0.1, 1)])]
    );
    // A point not after the previous one adds no observations.
    let b4 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(
                T0 + MIN,
                T0 + 2 * MIN,
                &[1, 0, 0],
                &bounds,
                0.05,
            )],
        ),
    );
    assert!(b4.distributions.is_empty());
    assert_eq!(b4.series.len(), 6);
}

#[test]
fn a_histogram_older_than_the_state_is_a_baseline_first() {
    // The state began at T0: a series that started before may have been counted already.
    let st = OtlpState::new(T0 as i64);
    let bounds = [1.0];
    let b1 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(START, T0, &[5, 5], &bounds, 20.0)],
        ),
    );
    assert!(b1.distributions.is_empty());
    assert_eq!(b1.series.len(), 5);
    let b2 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(START, T0 + MIN, &[6, 5], &bounds, 21.0)],
        ),
    );
    assert_eq!(b2.distributions, vec![dist(T0_MS + 60_000, vec![(1.0, 1)])]);
    // A series started after the state began counts in full at once.
    let b3 = convert_commit(
        &st,
        &histogram(
            CUMULATIVE,
            vec![{
                let mut p = histogram_point(T0 + 1, T0 + MIN, &[1, 0], &bounds, 0.5);
                p.attributes = vec![kv("http.route", s("/new"))];
                p
            }],
        ),
    );
    assert_eq!(b3.distributions.len(), 1);
    assert_eq!(b3.distributions[0].observations, vec![(1.0, 1)]);
}

#[test]
fn delta_histograms_accumulate_classic_series_and_observe_the_point() {
    let st = state();
    let bounds = [1.0];
    let b1 = convert_commit(
        &st,
        &histogram(
            DELTA,
            vec![
                histogram_point(T0, T0 + MIN, &[1, 2], &bounds, 4.0),
                histogram_point(T0 + MIN, T0 + 2 * MIN, &[0, 1], &bounds, 5.0),
            ],
        ),
    );
    let name = "http_server_request_duration_seconds";
    let route = ("http_route", "/pay");
    let at = |a: f64, b: f64| vec![sample(T0_MS + 60_000, a), sample(T0_MS + 120_000, b)];
    assert_eq!(
        b1,
        MetricBatch {
            series: vec![
                series(
                    rl(&format!("{name}_bucket"), &[route, ("le", "1")]),
                    MetricKind::Counter,
                    at(1.0, 1.0)
                ),
                series(
                    rl(&format!("{name}_bucket"), &[route, ("le", "+Inf")]),
                    MetricKind::Counter,
                    at(3.0, 4.0)
                ),
                series(
                    rl(&format!("{name}_sum"), &[route]),
                    MetricKind::Counter,
                    at(4.0, 9.0)
                ),
                series(
                    rl(&format!("{name}_count"), &[route]),
                    MetricKind::Counter,
                    at(3.0, 4.0)
                ),
                target_info(T0_MS + 120_000),
            ],
            distributions: vec![
                dist(T0_MS + 60_000, vec![(1.0, 1), (1.0, 2)]),
                dist(T0_MS + 120_000, vec![(1.0, 1)]),
            ],
        }
    );
    assert_eq!(st.tracked(), (4, 0));
}

#[test]
fn histogram_without_buckets_has_only_inf_sum_and_count() {
    let mut p = histogram_point(START, T0, &[], &[], 3.0);
    p.count = 2;
    let b = convert(&state(), &histogram(CUMULATIVE, vec![p]))
        .converted
        .batch;
    let mut want = classic(T0_MS, &[("+Inf", 2.0)], 3.0, 2.0);
    want.push(target_info(T0_MS));
    assert_eq!(b.series, want);
    assert!(b.distributions.is_empty());
}

#[test]
fn bad_histogram_points_are_rejected_and_the_rest_kept() {
    let bounds = [1.0, 2.0];
    let req = histogram(
        CUMULATIVE,
        vec![
            histogram_point(START, T0, &[1, 1], &bounds, 1.0),
            histogram_point(START, T0, &[1, 1, 1], &[2.0, 1.0], 1.0),
            histogram_point(START, T0, &[1, 1, 1], &[1.0, f64::NAN], 1.0),
            histogram_point(START, 0, &[1, 1, 1], &bounds, 1.0),
            histogram_point(START, T0, &[1, 1, 1], &bounds, 1.0),
        ],
    );
    let out = state().convert(&req, 1);
    let reasons: Vec<&str> = out
        .converted
        .rejected
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].ends_with("data_points[0]: 2 bucket counts for 2 explicit bounds (there must be one more count than bounds)"), "{}", reasons[0]);
    assert!(reasons[1].contains("strictly increasing"));
    assert!(reasons[2].contains("strictly increasing"));
    assert!(reasons[3].ends_with("data_points[3]: time_unix_nano is not set"));
    assert_eq!(
        out.converted.rejected[0].series,
        r#"http.server.request.duration{http.route="/pay"}"#
    );
    // The valid point: 3 buckets + sum + count, and target_info.
    assert_eq!(out.converted.batch.series.len(), 6);
    assert_eq!(out.origins[0], vec![4]);
}

fn exp_point(
    scale: i32,
    zero_count: u64,
    positive: (i32, &[u64]),
    negative: (i32, &[u64]),
) -> ExponentialHistogramDataPoint {
    let count = zero_count + positive.1.iter().sum::<u64>() + negative.1.iter().sum::<u64>();
    ExponentialHistogramDataPoint {
        start_time_unix_nano: START,
        time_unix_nano: T0,
        count,
        sum: Some(3.0),
        scale,
        zero_count,
        positive: Some(Buckets {
            offset: positive.0,
            bucket_counts: positive.1.to_vec(),
        }),
        negative: Some(Buckets {
            offset: negative.0,
            bucket_counts: negative.1.to_vec(),
        }),
        ..Default::default()
    }
}

#[test]
fn exponential_histogram_becomes_classic_buckets_at_its_boundaries() {
    // Scale 0: base 2. Positive buckets 0 and 1: (1, 2] and (2, 4]; negative bucket 0:
    // [-2, -1); one zero.
    let p = exp_point(0, 1, (0, &[1, 2]), (0, &[1]));
    let req = request(
        vec![kv("service.name", s("api"))],
        vec![metric(
            "rpc.duration",
            "ms",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![p],
                aggregation_temporality: CUMULATIVE,
            }),
        )],
    );
    let b = convert(&state(), &req).converted.batch;
    let l = |name: &str, le: Option<&str>| {
        let mut pairs = vec![("__name__", name), ("job", "api")];
        if let Some(le) = le {
            pairs.push(("le", le));
        }
        labels(&pairs)
    };
    let c = |labels, v| series(labels, MetricKind::Counter, vec![sample(T0_MS, v)]);
    let bucket = "rpc_duration_milliseconds_bucket";
    assert_eq!(
        b,
        MetricBatch {
            series: vec![
                c(l(bucket, Some("-1")), 1.0),
                c(l(bucket, Some("0")), 2.0),
                c(l(bucket, Some("2")), 3.0),
                c(l(bucket, Some("4")), 5.0),
                c(l(bucket, Some("+Inf")), 5.0),
                c(l("rpc_duration_milliseconds_sum", None), 3.0),
                c(l("rpc_duration_milliseconds_count", None), 5.0),
            ],
            distributions: vec![Distribution {
                labels: l("rpc_duration_milliseconds", None),
                ts_ms: T0_MS,
                observations: vec![(-1.0, 1), (0.0, 1), (2.0, 1), (4.0, 2)],
            }],
        }
    );
}

fn exponential_buckets_max(p: &ExponentialHistogramDataPoint) -> Result<Vec<(f64, u64)>, String> {
    exponential_buckets(p, MAX_EXP_SCALE)
}

#[test]
fn exponential_buckets_are_downscaled_and_validated() {
    // Scale 9 → 8: indices 0,1 merge into 0; 2,3 into 1.
    let p = exp_point(9, 0, (0, &[1, 2, 3, 4]), (0, &[]));
    let b = exponential_buckets(&p, MAX_EXP_SCALE).expect("buckets");
    // Bounds 2^(1/256) and 2^(2/256).
    assert_eq!(b.len(), 3);
    assert_eq!(b[0], ((1.0f64 / 256.0).exp2(), 3));
    assert_eq!(b[1], ((2.0f64 / 256.0).exp2(), 7));
    assert!((b[1].0 - 2f64.powf(2.0 / 256.0)).abs() < 1e-15);
    assert_eq!(b[2], (f64::INFINITY, 0));
    // Negative scale: base 4 at scale -1.
    let p = exp_point(-1, 0, (1, &[1]), (0, &[]));
    assert_eq!(
        exponential_buckets(&p, MAX_EXP_SCALE).expect("buckets"),
        vec![(16.0, 1), (f64::INFINITY, 0)]
    );
    // Count beyond the buckets lands in +Inf.
    let mut p = exp_point(0, 0, (0, &[1]), (0, &[]));
    p.count = 3;
    assert_eq!(
        exponential_buckets(&p, MAX_EXP_SCALE).expect("buckets"),
        vec![(2.0, 1), (f64::INFINITY, 2)]
    );
    assert!(exponential_buckets_max(&exp_point(21, 0, (0, &[1]), (0, &[]))).is_err());
    assert!(exponential_buckets_max(&exp_point(0, 0, (i32::MAX, &[1]), (0, &[]))).is_err());
    assert!(exponential_buckets_max(&exp_point(0, 0, (0, &[]), (i32::MIN, &[1]))).is_err());
    let mut p = exp_point(0, 0, (0, &[1]), (0, &[]));
    p.zero_threshold = f64::NAN;
    assert!(exponential_buckets(&p, MAX_EXP_SCALE).is_err());
    let p = exp_point(0, 0, (0, &vec![1; MAX_BUCKETS]), (0, &[]));
    assert!(exponential_buckets(&p, MAX_EXP_SCALE).is_err());
}

#[test]
fn exponential_classic_series_are_coarser_than_the_distribution() {
    // Scale 4 (base 2^(1/16)): positive indices 16..=19 cover (2, 2^(20/16)]. At scale 2 they
    // are all index 4, (2, 2^(5/4)]: one classic bucket.
    let p = exp_point(4, 0, (16, &[1, 1, 1, 1]), (0, &[]));
    let req = request(
        vec![],
        vec![metric(
            "size",
            "By",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![p],
                aggregation_temporality: CUMULATIVE,
            }),
        )],
    );
    let b = convert(&state(), &req).converted.batch;
    let les: Vec<&str> = b.series.iter().filter_map(|s| s.labels.get("le")).collect();
    let le = naming::format_float((5.0f64 / 4.0).exp2());
    assert_eq!(les, vec![le.as_str(), "+Inf"]);
    assert_eq!(b.series[0].labels.metric_name(), "size_bytes_bucket");
    assert_eq!(b.series[0].samples[0].value, 4.0);
    // The distribution keeps the four buckets of scale 4.
    let fine: Vec<(f64, u64)> = (17..=20)
        .map(|i| ((f64::from(i) / 16.0).exp2(), 1))
        .collect();
    assert_eq!(b.distributions.len(), 1);
    assert_eq!(b.distributions[0].observations, fine);
}

#[test]
fn delta_exponential_histograms_are_rejected() {
    let req = request(
        vec![],
        vec![metric(
            "rpc.duration",
            "ms",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![exp_point(0, 1, (0, &[1]), (0, &[]))],
                aggregation_temporality: DELTA,
            }),
        )],
    );
    let out = state().convert(&req, 1);
    assert!(out.converted.batch.series.is_empty());
    assert_eq!(out.converted.rejected.len(), 1);
    assert_eq!(out.converted.rejected[0].kind, RejectKind::Unsupported);
}

#[test]
fn summary_becomes_quantile_gauges_sum_and_count() {
    let p = SummaryDataPoint {
        attributes: vec![kv("method", s("GET"))],
        start_time_unix_nano: START,
        time_unix_nano: T0,
        count: 10,
        sum: 2.5,
        quantile_values: vec![
            ValueAtQuantile {
                quantile: 0.5,
                value: 0.2,
            },
            ValueAtQuantile {
                quantile: 0.99,
                value: 0.9,
            },
        ],
        flags: 0,
    };
    let req = request(
        resource(),
        vec![metric(
            "rpc.latency",
            "s",
            Data::Summary(Summary {
                data_points: vec![p],
            }),
        )],
    );
    let b = convert(&state(), &req).converted.batch;
    let m = ("method", "GET");
    assert_eq!(
        b,
        MetricBatch {
            series: vec![
                series(
                    rl("rpc_latency_seconds", &[m, ("quantile", "0.5")]),
                    MetricKind::Gauge,
                    vec![sample(T0_MS, 0.2)]
                ),
                series(
                    rl("rpc_latency_seconds", &[m, ("quantile", "0.99")]),
                    MetricKind::Gauge,
                    vec![sample(T0_MS, 0.9)]
                ),
                series(
                    rl("rpc_latency_seconds_sum", &[m]),
                    MetricKind::Counter,
                    vec![sample(T0_MS, 2.5)]
                ),
                series(
                    rl("rpc_latency_seconds_count", &[m]),
                    MetricKind::Counter,
                    vec![sample(T0_MS, 10.0)]
                ),
                target_info(T0_MS),
            ],
            distributions: vec![],
        }
    );
}

#[test]
fn no_recorded_value_is_a_staleness_marker() {
    let mut g = number(vec![], 0, T0, 1.0);
    g.flags = NO_RECORDED_VALUE;
    let mut h = histogram_point(START, T0, &[1, 1], &[1.0], 1.0);
    h.flags = NO_RECORDED_VALUE;
    let req = request(
        vec![],
        vec![
            metric(
                "g",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![g],
                }),
            ),
            metric(
                "h",
                "",
                Data::Histogram(Histogram {
                    data_points: vec![h],
                    aggregation_temporality: CUMULATIVE,
                }),
            ),
        ],
    );
    let st = state();
    let out = convert(&st, &req);
    let b = &out.converted.batch;
    // g, h_bucket{le=1}, h_bucket{le=+Inf}, h_sum, h_count
    assert_eq!(b.series.len(), 5);
    assert!(b
        .series
        .iter()
        .all(|s| s.samples.len() == 1 && s.samples[0].is_stale_marker()));
    assert!(b.distributions.is_empty());
    assert!(out.pending.is_empty());
}

#[test]
fn attributes_are_sanitised_and_resource_labels_win() {
    let req = request(
        vec![
            kv("service.name", s("svc")),
            kv("service.instance.id", s("pod-7")),
        ],
        vec![metric(
            "m",
            "",
            Data::Gauge(Gauge {
                data_points: vec![number(
                    vec![
                        kv("http_method", s("POST")),
                        kv("http.method", s("GET")),
                        kv("__name__", s("evil")),
                        kv("2xx", Any::BoolValue(true)),
                        kv("job", s("from-attribute")),
                        kv("count", Any::IntValue(3)),
                        kv("ratio", Any::DoubleValue(0.5)),
                        kv("empty", s("")),
                    ],
                    0,
                    T0,
                    1.0,
                )],
            }),
        )],
    );
    let b = convert(&state(), &req).converted.batch;
    // Only service.* resource attributes: no target_info.
    assert_eq!(
        b.series,
        vec![series(
            labels(&[
                ("__name__", "m"),
                ("count", "3"),
                ("http_method", "GET;POST"),
                ("instance", "pod-7"),
                ("job", "svc"),
                ("key_2xx", "true"),
                ("key_name_", "evil"),
                ("ratio", "0.5"),
            ]),
            MetricKind::Gauge,
            vec![sample(T0_MS, 1.0)]
        )]
    );
    // Without service.name, an attribute `job` stays.
    let req = request(
        vec![],
        vec![metric(
            "m",
            "",
            Data::Gauge(Gauge {
                data_points: vec![number(vec![kv("job", s("batch"))], 0, T0, 1.0)],
            }),
        )],
    );
    let b = convert(&state(), &req).converted.batch;
    assert_eq!(b.series[0].labels.get("job"), Some("batch"));
}

#[test]
fn invalid_metrics_and_points_are_rejected_by_name() {
    let req = request(
        vec![],
        vec![
            metric(
                "...",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![number(vec![], 0, T0, 1.0)],
                }),
            ),
            Metric {
                name: "nodata".into(),
                ..Default::default()
            },
            metric(
                "ok",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![
                        NumberDataPoint {
                            time_unix_nano: T0,
                            ..Default::default()
                        },
                        number(vec![kv("", s("x"))], 0, T0, 1.0),
                        number(vec![], 0, T0, 2.0),
                    ],
                }),
            ),
        ],
    );
    let out = state().convert(&req, 1);
    let r = &out.converted.rejected;
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(r[0].reason.contains("no ASCII letter or digit"));
    assert_eq!((r[1].samples, r[1].reason.contains("no data")), (0, true));
    assert!(r[2]
        .reason
        .ends_with("data_points[0]: the data point has no value (as_double or as_int)"));
    assert!(r[3].reason.contains("empty key"));
    assert_eq!(out.data_points, 4);
    assert_eq!(
        out.converted.batch.series,
        vec![series(
            labels(&[("__name__", "ok")]),
            MetricKind::Gauge,
            vec![sample(T0_MS, 2.0)]
        )]
    );
    assert_eq!(out.origins, vec![vec![3]]);
    assert_eq!(out.points_of([r#"ok{}"#]), 1);
    assert_eq!(out.points_of(["other{}"]), 0);
}

#[test]
fn bucket_differences_compare_layouts_by_cumulative_counts() {
    let inf = f64::INFINITY;
    // Same layout.
    assert_eq!(
        bucket_differences(&[(1.0, 1), (inf, 1)], &[(1.0, 3), (inf, 1)]),
        Some(vec![(1.0, 2), (inf, 0)])
    );
    // The current layout grew a bucket.
    assert_eq!(
        bucket_differences(&[(2.0, 1), (inf, 0)], &[(2.0, 1), (4.0, 2), (inf, 0)]),
        Some(vec![(2.0, 0), (4.0, 2), (inf, 0)])
    );
    // The previous layout was finer (a downscaled exponential histogram).
    assert_eq!(
        bucket_differences(
            &[(1.0, 1), (2.0, 1), (4.0, 1), (inf, 0)],
            &[(2.0, 3), (4.0, 1), (inf, 0)]
        ),
        Some(vec![(2.0, 1), (4.0, 0), (inf, 0)])
    );
    // A count went down: a reset.
    assert_eq!(
        bucket_differences(&[(1.0, 2), (inf, 0)], &[(1.0, 1), (inf, 5)]),
        None
    );
}

#[test]
fn full_state_tables_refuse_new_delta_series_and_skip_distributions() {
    let st = state();
    {
        let mut t = st.tables.lock();
        for i in 0..MAX_DELTA_SERIES {
            t.deltas.insert(
                labels(&[("__name__", "x"), ("i", &i.to_string())]),
                DeltaTotal {
                    total: 0.0,
                    end_ns: 1,
                    updated_ns: 0,
                },
            );
        }
        for i in 0..MAX_HISTOGRAM_STATE {
            t.hists.insert(
                labels(&[("__name__", "y"), ("i", &i.to_string())]),
                PrevHist {
                    start_ns: 1,
                    time_ns: 1,
                    count: 0,
                    buckets: vec![],
                    updated_ns: 0,
                },
            );
        }
    }
    let out = st.convert(&delta_sum(vec![number(vec![], T0, T0 + MIN, 1.0)]), 1);
    assert_eq!(out.converted.rejected.len(), 1);
    assert!(out.converted.rejected[0]
        .reason
        .contains("already being accumulated"));
    let out = convert(
        &st,
        &histogram(
            CUMULATIVE,
            vec![histogram_point(START, T0, &[1, 1], &[1.0], 1.0)],
        ),
    );
    assert!(out.converted.batch.distributions.is_empty());
    assert_eq!(out.converted.batch.series.len(), 5);
    // After an hour idle, a commit forgets the idle series (and raises the watermark past
    // their start, so they are a baseline if they come back).
    let mut out = st.convert(
        &delta_sum(vec![number(vec![], T0, T0 + MIN, 1.0)]),
        IDLE_EVICT_NS,
    );
    assert!(out.converted.rejected.is_empty());
    st.commit(std::mem::take(&mut out.pending), IDLE_EVICT_NS);
    assert_eq!(st.tracked(), (1, 0));
    assert_eq!(st.tables.lock().watermark_ns, 2);
}
