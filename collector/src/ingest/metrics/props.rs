//! Property tests: whatever bytes or structures arrive, decoding and conversion answer with
//! errors or rejections, never a panic; and what they produce keeps the batch's invariants.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use proptest::prelude::*;
use prost::Message;

use super::otlp::OtlpState;
use super::remote_write::{self, Label, MetadataCache, Sample, TimeSeries, WriteRequest};
use super::Converted;
use crate::tsdb::Labels;

/// Invariants of any converted batch: valid labels (re-validated), samples in time order.
fn check_batch(c: &Converted) {
    for s in &c.batch.series {
        let again = Labels::new(s.labels.pairs().iter().cloned());
        assert_eq!(again.as_ref(), Ok(&s.labels));
        assert!(s.samples.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
        assert!(!s.samples.is_empty());
    }
    for d in &c.batch.distributions {
        assert!(d.labels.get("le").is_none());
        assert!(d.observations.iter().all(|(_, n)| *n > 0));
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,6}",
        "[a-zA-Z0-9._:/ °-]{0,10}",
        Just("__name__".to_string()),
        Just(String::new()),
    ]
}

fn f64_any() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::ANY,
        -10.0f64..10.0,
        Just(f64::from_bits(crate::tsdb::STALE_NAN_BITS)),
    ]
}

fn any_value() -> impl Strategy<Value = Option<AnyValue>> {
    let leaf = prop_oneof![
        "[ -~]{0,8}".prop_map(Any::StringValue),
        any::<bool>().prop_map(Any::BoolValue),
        any::<i64>().prop_map(Any::IntValue),
        f64_any().prop_map(Any::DoubleValue),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Any::BytesValue),
    ];
    prop::option::of(leaf.prop_map(|v| AnyValue { value: Some(v) }))
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (name(), any_value()).prop_map(|(key, value)| KeyValue {
            key,
            value,
            ..Default::default()
        }),
        0..4,
    )
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1_700_000_000_000_000_000u64..1_700_000_100_000_000_000,
        any::<u64>(),
    ]
}

fn number_point() -> impl Strategy<Value = NumberDataPoint> {
    (
        attrs(),
        time(),
        time(),
        f64_any(),
        any::<i64>(),
        0u32..3,
        any::<bool>(),
    )
        .prop_map(
            |(attributes, start, t, d, i, flags, as_int)| NumberDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: t,
                value: Some(if as_int {
                    number_data_point::Value::AsInt(i)
                } else {
                    number_data_point::Value::AsDouble(d)
                }),
                flags,
                ..Default::default()
            },
        )
}

fn histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
    (
        attrs(),
        time(),
        time(),
        prop::collection::vec(0u64..1_000, 0..6),
        prop::collection::vec(f64_any(), 0..5),
        prop::option::of(f64_any()),
        0u32..3,
        any::<bool>(),
    )
        .prop_map(
            |(attributes, start, t, counts, mut bounds, sum, flags, sorted)| {
                if sorted {
                    bounds.retain(|b| b.is_finite());
                    bounds.sort_by(f64::total_cmp);
                    bounds.dedup();
                }
                HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: t,
                    count: counts.iter().sum(),
                    sum,
                    bucket_counts: counts,
                    explicit_bounds: bounds,
                    flags,
                    ..Default::default()
                }
            },
        )
}

fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    prop::option::of(
        (
            prop_oneof![-300i32..300, any::<i32>()],
            prop::collection::vec(0u64..100, 0..8),
        )
            .prop_map(|(offset, bucket_counts)| Buckets {
                offset,
                bucket_counts,
            }),
    )
}

fn exp_point() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
    (
        attrs(),
        time(),
        -12i32..24,
        buckets(),
        buckets(),
        0u64..10,
        prop_oneof![Just(0.0), f64_any()],
        any::<u64>(),
        0u32..3,
    )
        .prop_map(
            |(attributes, t, scale, positive, negative, zero_count, zt, count, flags)| {
                ExponentialHistogramDataPoint {
                    attributes,
                    start_time_unix_nano: 1,
                    time_unix_nano: t,
                    count,
                    sum: Some(1.0),
                    scale,
                    zero_count,
                    positive,
                    negative,
                    flags,
                    zero_threshold: zt,
                    ..Default::default()
                }
            },
        )
}

fn summary_point() -> impl Strategy<Value = SummaryDataPoint> {
    (
        attrs(),
        time(),
        prop::collection::vec((f64_any(), f64_any()), 0..4),
        f64_any(),
        0u32..3,
    )
        .prop_map(|(attributes, t, qs, sum, flags)| SummaryDataPoint {
            attributes,
            time_unix_nano: t,
            count: 3,
            sum,
            quantile_values: qs
                .into_iter()
                .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                .collect(),
            flags,
            ..Default::default()
        })
}

fn points<T: std::fmt::Debug>(s: BoxedStrategy<T>) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(s, 0..4)
}

fn data() -> impl Strategy<Value = Option<Data>> {
    prop::option::of(prop_oneof![
        points(number_point().boxed()).prop_map(|data_points| Data::Gauge(Gauge { data_points })),
        (points(number_point().boxed()), 0i32..4, any::<bool>()).prop_map(|(data_points, t, m)| {
            Data::Sum(Sum {
                data_points,
                aggregation_temporality: t,
                is_monotonic: m,
            })
        }),
        (points(histogram_point().boxed()), 0i32..4).prop_map(|(data_points, t)| {
            Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: t,
            })
        }),
        (points(exp_point().boxed()), 0i32..4).prop_map(|(data_points, t)| {
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: t,
            })
        }),
        points(summary_point().boxed())
            .prop_map(|data_points| Data::Summary(Summary { data_points })),
    ])
}

fn metric() -> impl Strategy<Value = Metric> {
    (
        name(),
        prop_oneof![
            Just(""),
            Just("1"),
            Just("s"),
            Just("ms"),
            Just("By/s"),
            Just("{req}"),
            Just("/"),
            Just("%")
        ],
        data(),
    )
        .prop_map(|(name, unit, data)| Metric {
            name,
            unit: unit.to_string(),
            data,
            ..Default::default()
        })
}

fn otlp_request() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    prop::collection::vec((attrs(), prop::collection::vec(metric(), 0..4)), 0..3).prop_map(
        |resources| ExportMetricsServiceRequest {
            resource_metrics: resources
                .into_iter()
                .map(|(attributes, metrics)| ResourceMetrics {
                    resource: Some(Resource {
                        attributes,
                        ..Default::default()
                    }),
                    scope_metrics: vec![ScopeMetrics {
                        metrics,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        },
    )
}

fn write_request() -> impl Strategy<Value = WriteRequest> {
    let label = (name(), "[ -~]{0,6}").prop_map(|(n, v)| Label::new(n, v));
    let sample =
        (f64_any(), any::<i64>()).prop_map(|(value, timestamp)| Sample { value, timestamp });
    let series = (
        prop::collection::vec(label, 0..4),
        prop::collection::vec(sample, 0..4),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3), 0..2),
    )
        .prop_map(|(labels, samples, histograms)| TimeSeries {
            labels,
            samples,
            histograms,
            ..Default::default()
        });
    prop::collection::vec(series, 0..6).prop_map(|timeseries| WriteRequest {
        timeseries,
        metadata: vec![],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_into_the_remote_write_decoder_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Ok(req) = remote_write::decode(&bytes, 1 << 20) {
            check_batch(&remote_write::to_batch(&req, &MetadataCache::default()));
        }
        // The same bytes as a valid snappy body: only the protobuf decoding can fail.
        let body = snap::raw::Encoder::new().compress_vec(&bytes).unwrap_or_default();
        if let Ok(req) = remote_write::decode(&body, 1 << 20) {
            check_batch(&remote_write::to_batch(&req, &MetadataCache::default()));
        }
    }

    #[test]
    fn arbitrary_bytes_into_the_otlp_decoder_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Ok(req) = ExportMetricsServiceRequest::decode(&bytes[..]) {
            check_batch(&OtlpState::new(0).convert(&req, 0).converted);
        }
    }

    #[test]
    fn mutated_otlp_requests_never_panic(
        req in otlp_request(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = req.encode_to_vec();
        if !bytes.is_empty() {
            for (i, b) in flips {
                let at = i.index(bytes.len());
                bytes[at] ^= b;
            }
        }
        if let Ok(req) = ExportMetricsServiceRequest::decode(&bytes[..]) {
            check_batch(&OtlpState::new(0).convert(&req, 0).converted);
        }
    }

    #[test]
    fn random_otlp_requests_convert_without_panics(req in otlp_request()) {
        let state = OtlpState::new(0);
        let mut out = state.convert(&req, 0);
        check_batch(&out.converted);
        let rejected: usize = out.converted.rejected.iter().map(|r| r.samples).sum();
        let converted_points: std::collections::HashSet<u32> =
            out.origins.iter().flatten().copied().collect();
        // Every data point was either converted or rejected, never both.
        prop_assert_eq!(rejected + converted_points.len(), out.data_points);
        state.commit(std::mem::take(&mut out.pending), 0);
        // Converting again after the commit still never panics.
        check_batch(&state.convert(&req, 1).converted);
    }

    #[test]
    fn random_write_requests_keep_or_reject_every_sample(req in write_request()) {
        let out = remote_write::to_batch(&req, &MetadataCache::default());
        check_batch(&out);
        let sent: usize = req.timeseries.iter().map(|t| t.samples.len() + t.histograms.len()).sum();
        let kept: usize = out.batch.series.iter().map(|s| s.samples.len()).sum();
        let rejected: usize = out.rejected.iter().map(|r| r.samples).sum();
        prop_assert_eq!(sent, kept + rejected);
        // And through the wire format.
        let body = remote_write::encode(&req);
        let again = remote_write::decode(&body, 1 << 20).map(|r| r.encode_to_vec());
        prop_assert_eq!(again, Ok(req.encode_to_vec()));
    }
}
