//! Prometheus remote write 1.0: the `prompb` messages (field tags exactly as in Prometheus's
//! `prompb/remote.proto` and `types.proto`), snappy block decompression with a size limit, and
//! the conversion of a `WriteRequest` into a [`MetricBatch`].
//!
//! Series are validated as Prometheus validates them (metric and label names, no duplicate
//! label names, a `__name__`): an invalid series is rejected with its name and the reason, the
//! rest are kept. Empty label values are dropped (an empty label is no label). Samples pass
//! through as sent, the staleness marker NaN included, sorted by time within a series.
//!
//! Kinds come from `MetricMetadata`, which Prometheus sends in requests of its own (every
//! minute by default): the family types seen are remembered in a bounded in-memory table
//! ([`MetadataCache`], [`MAX_METADATA_FAMILIES`] families) and applied to later samples. A
//! series whose family has no metadata yet is a counter when its name ends in `_total`, or in
//! `_bucket` with an `le` label (the Prometheus naming conventions); otherwise its kind is
//! unknown. Exemplars are ignored; native histograms are not supported and are reported as
//! rejected (with the series named).

use std::collections::HashMap;

use parking_lot::Mutex;

use super::{Converted, RejectKind, Rejected};
use crate::tsdb::{Labels, MetricKind, SeriesSamples, METRIC_NAME};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    // Tag 2 is reserved (Cortex's `source`).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Sorted by name, unique names (Pharos sorts them anyway).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// `prometheus.Exemplar`s, still encoded: Pharos does not store exemplars.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub exemplars: Vec<Vec<u8>>,
    /// `prometheus.Histogram`s (native histograms), still encoded: not supported, counted as
    /// rejected.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a float and Unix milliseconds.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `prometheus.MetricMetadata.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Unknown = 0,
    Counter = 1,
    Gauge = 2,
    Histogram = 3,
    GaugeHistogram = 4,
    Summary = 5,
    Info = 6,
    StateSet = 7,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Why a remote-write body could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("remote write body is over the {limit}-byte limit once decompressed ({len} bytes)")]
    TooLarge { limit: usize, len: usize },
    #[error("invalid snappy (block format) body: {0}")]
    Snappy(String),
    #[error("invalid remote write protobuf (prometheus.WriteRequest): {0}")]
    Protobuf(String),
}

/// Decompresses a snappy block-format body (refusing more than `limit` bytes decompressed,
/// read from the snappy header before anything is allocated) and decodes the `WriteRequest`.
pub fn decode(body: &[u8], limit: usize) -> Result<WriteRequest, DecodeError> {
    let len = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > limit {
        return Err(DecodeError::TooLarge { limit, len });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    <WriteRequest as prost::Message>::decode(&raw[..])
        .map_err(|e| DecodeError::Protobuf(e.to_string()))
}

/// Encodes and snappy-compresses a request, as a remote-write sender does.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(req);
    // Compressing a byte slice into a fresh Vec cannot fail (the buffer is sized for it).
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// Families whose metadata is remembered; past this, new families are not added (their series
/// keep the kind the name suggests) and existing ones are still updated.
pub const MAX_METADATA_FAMILIES: usize = 100_000;

/// Metric family name → type, from the metadata Prometheus sends.
#[derive(Default)]
pub struct MetadataCache {
    families: Mutex<HashMap<String, MetricType>>,
}

impl MetadataCache {
    pub fn update(&self, metadata: &[MetricMetadata]) {
        if metadata.is_empty() {
            return;
        }
        let mut families = self.families.lock();
        for m in metadata {
            let t = MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown);
            if m.metric_family_name.is_empty() {
                continue;
            }
            if let Some(v) = families.get_mut(&m.metric_family_name) {
                *v = t;
            } else if families.len() < MAX_METADATA_FAMILIES {
                families.insert(m.metric_family_name.clone(), t);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.families.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, family: &str) -> Option<MetricType> {
        self.families.lock().get(family).copied()
    }

    /// The kind of a series named `name` (`has_le`: it carries an `le` label).
    pub fn kind_of(&self, name: &str, has_le: bool) -> MetricKind {
        if let Some(t) = self.get(name) {
            return match t {
                MetricType::Counter => MetricKind::Counter,
                // A summary's quantile series carry the family name itself.
                MetricType::Gauge
                | MetricType::Info
                | MetricType::StateSet
                | MetricType::Summary
                | MetricType::GaugeHistogram => MetricKind::Gauge,
                MetricType::Histogram | MetricType::Unknown => MetricKind::Unknown,
            };
        }
        for suffix in ["_total", "_bucket", "_sum", "_count", "_gcount", "_gsum"] {
            let Some(family) = name.strip_suffix(suffix) else {
                continue;
            };
            match (self.get(family), suffix) {
                // OpenMetrics family names leave `_total` off.
                (Some(MetricType::Counter), "_total") => return MetricKind::Counter,
                (Some(MetricType::Histogram), "_bucket" | "_sum" | "_count")
                | (Some(MetricType::Summary), "_sum" | "_count") => return MetricKind::Counter,
                (Some(MetricType::GaugeHistogram), "_bucket" | "_gcount" | "_gsum") => {
                    return MetricKind::Gauge
                }
                _ => {}
            }
        }
        if name.ends_with("_total") || (has_le && name.ends_with("_bucket")) {
            MetricKind::Counter
        } else {
            MetricKind::Unknown
        }
    }
}

/// A series as Prometheus prints it, from the labels as sent (for rejections).
fn printable(labels: &[Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == METRIC_NAME)
        .map(|l| l.value.as_str())
        .unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != METRIC_NAME)
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// `WriteRequest` → batch. The request's metadata is remembered in `cache` first.
pub fn to_batch(req: &WriteRequest, cache: &MetadataCache) -> Converted {
    cache.update(&req.metadata);
    let mut out = Converted::default();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for ts in &req.timeseries {
        let labels = Labels::new(ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())));
        let labels = match labels {
            Ok(l) => l,
            Err(e) => {
                out.rejected.push(Rejected {
                    series: printable(&ts.labels),
                    samples: ts.samples.len() + ts.histograms.len(),
                    reason: e.to_string(),
                    kind: RejectKind::Invalid,
                });
                continue;
            }
        };
        if !ts.histograms.is_empty() {
            out.rejected.push(Rejected {
                series: labels.to_string(),
                samples: ts.histograms.len(),
                reason: "native histograms are not supported (send classic histograms: \
                         `send_native_histograms: false`, or scrape the classic buckets)"
                    .into(),
                kind: RejectKind::Unsupported,
            });
        }
        if ts.samples.is_empty() {
            continue;
        }
        let samples = ts.samples.iter().map(|s| crate::tsdb::Sample {
            ts_ms: s.timestamp,
            value: s.value,
        });
        match index.get(&labels) {
            Some(&i) => out.batch.series[i].samples.extend(samples),
            None => {
                let kind = cache.kind_of(labels.metric_name(), labels.get("le").is_some());
                index.insert(labels.clone(), out.batch.series.len());
                out.batch.series.push(SeriesSamples {
                    labels,
                    kind,
                    samples: samples.collect(),
                });
            }
        }
    }
    for s in &mut out.batch.series {
        sort_samples(&mut s.samples);
    }
    out
}

pub(crate) fn sort_samples(samples: &mut [crate::tsdb::Sample]) {
    if !samples.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms) {
        samples.sort_by_key(|s| s.ts_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::STALE_NAN_BITS;

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples
                .iter()
                .map(|&(t, v)| Sample {
                    value: v,
                    timestamp: t,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string()))).expect("labels")
    }

    #[test]
    fn round_trips_through_snappy_and_protobuf() {
        let req = WriteRequest {
            timeseries: vec![ts(
                &[("__name__", "up"), ("job", "api"), ("instance", "a:9090")],
                &[(1_000, 1.0), (2_000, 0.0)],
            )],
            metadata: vec![MetricMetadata {
                r#type: MetricType::Gauge as i32,
                metric_family_name: "up".into(),
                help: "target up".into(),
                unit: String::new(),
            }],
        };
        let body = encode(&req);
        assert_eq!(decode(&body, 1 << 20), Ok(req.clone()));
        let cache = MetadataCache::default();
        let out = to_batch(&req, &cache);
        assert!(out.rejected.is_empty());
        assert_eq!(
            out.batch.series,
            vec![SeriesSamples {
                labels: labels(&[("__name__", "up"), ("instance", "a:9090"), ("job", "api")]),
                kind: MetricKind::Gauge,
                samples: vec![
                    crate::tsdb::Sample {
                        ts_ms: 1_000,
                        value: 1.0
                    },
                    crate::tsdb::Sample {
                        ts_ms: 2_000,
                        value: 0.0
                    },
                ],
            }]
        );
        assert!(out.batch.distributions.is_empty());
    }

    #[test]
    fn field_tags_match_prompb() {
        // Hand-encoded bytes of prompb: WriteRequest{timeseries: [{labels: [{name: "a",
        // value: "b"}], samples: [{value: 1.0, timestamp: 5}]}], metadata: [{type: COUNTER,
        // metric_family_name: "m", help: "h", unit: "u"}]}.
        let bytes: Vec<u8> = vec![
            0x0a, 0x15, // timeseries (1), 21 bytes
            0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', // labels (1): name (1), value (2)
            0x12, 0x0b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x05, // samples (2)
            0x1a, 0x0b, 0x08, 0x01, 0x12, 0x01, b'm', 0x22, 0x01, b'h', 0x2a, 0x01,
            b'u', // metadata (3): type (1), family (2), help (4), unit (5)
        ];
        let req = <WriteRequest as prost::Message>::decode(&bytes[..]).expect("decode");
        assert_eq!(req.timeseries[0].labels, vec![Label::new("a", "b")]);
        assert_eq!(
            req.timeseries[0].samples,
            vec![Sample {
                value: 1.0,
                timestamp: 5
            }]
        );
        assert_eq!(req.metadata[0].r#type, MetricType::Counter as i32);
        assert_eq!(req.metadata[0].metric_family_name, "m");
        assert_eq!(req.metadata[0].help, "h");
        assert_eq!(req.metadata[0].unit, "u");
        assert_eq!(prost::Message::encode_to_vec(&req), bytes);
    }

    #[test]
    fn invalid_series_are_rejected_by_name_and_the_rest_kept() {
        let req = WriteRequest {
            timeseries: vec![
                ts(&[("__name__", "http.requests"), ("job", "x")], &[(1, 1.0)]),
                ts(&[("__name__", "ok"), ("1bad", "x")], &[(1, 1.0), (2, 2.0)]),
                ts(&[("job", "x")], &[(1, 1.0)]),
                ts(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(1, 1.0)]),
                ts(&[("__name__", "fine"), ("empty", "")], &[(1, 3.0)]),
            ],
            metadata: vec![],
        };
        let out = to_batch(&req, &MetadataCache::default());
        let reasons: Vec<(&str, usize)> = out
            .rejected
            .iter()
            .map(|r| (r.series.as_str(), r.samples))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (r#"http.requests{job="x"}"#, 1),
                (r#"ok{1bad="x"}"#, 2),
                (r#"{job="x"}"#, 1),
                (r#"dup{a="1", a="2"}"#, 1)
            ]
        );
        assert!(out.rejected[0]
            .reason
            .contains("metric name `http.requests`"));
        assert!(out.rejected[1].reason.contains("label name `1bad`"));
        assert!(out.rejected[2].reason.contains("no metric name"));
        assert!(out.rejected[3].reason.contains("appears twice"));
        assert!(out.rejected.iter().all(|r| r.kind == RejectKind::Invalid));
        assert_eq!(out.batch.series.len(), 1);
        assert_eq!(out.batch.series[0].labels, labels(&[("__name__", "fine")]));
    }

    #[test]
    fn stale_markers_pass_through_and_samples_are_sorted_and_merged() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let req = WriteRequest {
            timeseries: vec![
                ts(&[("__name__", "g"), ("x", "1")], &[(30, 3.0), (10, 1.0)]),
                ts(&[("x", "1"), ("__name__", "g")], &[(20, 2.0), (40, stale)]),
            ],
            metadata: vec![],
        };
        let out = to_batch(&req, &MetadataCache::default());
        assert_eq!(out.batch.series.len(), 1);
        let s = &out.batch.series[0].samples;
        assert_eq!(
            s.iter().map(|s| s.ts_ms).collect::<Vec<_>>(),
            vec![10, 20, 30, 40]
        );
        assert!(s[3].is_stale_marker());
        assert_eq!(s[3].value.to_bits(), STALE_NAN_BITS);
    }

    #[test]
    fn metadata_types_become_kinds_across_requests() {
        let cache = MetadataCache::default();
        let meta = |name: &str, t: MetricType| MetricMetadata {
            r#type: t as i32,
            metric_family_name: name.into(),
            ..Default::default()
        };
        // Prometheus sends metadata in requests of its own.
        let only_meta = WriteRequest {
            timeseries: vec![],
            metadata: vec![
                meta("http_requests_total", MetricType::Counter),
                meta("rpc", MetricType::Counter),
                meta("mem_bytes", MetricType::Gauge),
                meta("latency_seconds", MetricType::Histogram),
                meta("rpc_duration", MetricType::Summary),
                meta("build", MetricType::Info),
                meta("queue", MetricType::GaugeHistogram),
            ],
        };
        assert!(to_batch(&only_meta, &cache).batch.series.is_empty());
        assert_eq!(cache.len(), 7);
        let kind = |name: &str, le: bool| cache.kind_of(name, le);
        assert_eq!(kind("http_requests_total", false), MetricKind::Counter);
        assert_eq!(kind("rpc_total", false), MetricKind::Counter);
        assert_eq!(kind("mem_bytes", false), MetricKind::Gauge);
        assert_eq!(kind("latency_seconds_bucket", true), MetricKind::Counter);
        assert_eq!(kind("latency_seconds_sum", false), MetricKind::Counter);
        assert_eq!(kind("latency_seconds_count", false), MetricKind::Counter);
        assert_eq!(kind("rpc_duration", false), MetricKind::Gauge);
        assert_eq!(kind("rpc_duration_sum", false), MetricKind::Counter);
        assert_eq!(kind("rpc_duration_count", false), MetricKind::Counter);
        assert_eq!(kind("build", false), MetricKind::Gauge);
        assert_eq!(kind("queue_bucket", true), MetricKind::Gauge);
        assert_eq!(kind("queue_gcount", false), MetricKind::Gauge);
        // No metadata: the naming conventions.
        assert_eq!(kind("jobs_done_total", false), MetricKind::Counter);
        assert_eq!(kind("other_bucket", true), MetricKind::Counter);
        assert_eq!(kind("other_bucket", false), MetricKind::Unknown);
        assert_eq!(kind("temperature", false), MetricKind::Unknown);
        assert_eq!(kind("other_count", false), MetricKind::Unknown);

        let req = WriteRequest {
            timeseries: vec![ts(&[("__name__", "mem_bytes")], &[(1, 5.0)])],
            metadata: vec![],
        };
        assert_eq!(
            to_batch(&req, &cache).batch.series[0].kind,
            MetricKind::Gauge
        );
    }

    #[test]
    fn native_histograms_are_reported_not_stored() {
        let mut series = ts(&[("__name__", "h")], &[]);
        series.histograms = vec![vec![0x08, 0x01]];
        let mut with_samples = ts(&[("__name__", "i")], &[(1, 1.0)]);
        with_samples.histograms = vec![vec![]];
        with_samples.exemplars = vec![vec![]];
        let req = WriteRequest {
            timeseries: vec![series, with_samples],
            metadata: vec![],
        };
        let body = encode(&req);
        let decoded = decode(&body, 1 << 20).expect("decode");
        let out = to_batch(&decoded, &MetadataCache::default());
        assert_eq!(out.rejected.len(), 2);
        assert!(out.rejected[0].reason.contains("native histograms"));
        assert_eq!(out.rejected[0].kind, RejectKind::Unsupported);
        assert_eq!(out.batch.series.len(), 1);
        assert_eq!(out.batch.series[0].labels.metric_name(), "i");
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(matches!(decode(b"", 100), Err(DecodeError::Snappy(_))));
        assert!(matches!(
            decode(b"\xff\xff\xff\xff\xff\xff", 100),
            Err(DecodeError::Snappy(_))
        ));
        // Valid snappy, not a WriteRequest.
        let junk = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\xff\xff\xff\x0f")
            .expect("compress");
        assert!(matches!(decode(&junk, 100), Err(DecodeError::Protobuf(_))));
        // The decompressed size is checked from the header, before decompressing.
        let big = snap::raw::Encoder::new()
            .compress_vec(&vec![0u8; 10_000])
            .expect("compress");
        assert_eq!(
            decode(&big, 9_999),
            Err(DecodeError::TooLarge {
                limit: 9_999,
                len: 10_000
            })
        );
        assert!(!matches!(
            decode(&big, 10_000),
            Err(DecodeError::TooLarge { .. })
        ));
    }
}
