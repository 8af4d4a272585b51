//! The metrics benchmark's data: regular series (10 metrics × label combinations), their
//! values, and the plan of requests that carries them (series sharded over the connections as
//! a remote-write sender shards them, so that every series' samples arrive in time order),
//! encoded as Prometheus remote write (snappy protobuf) or OTLP/HTTP protobuf.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use pharos_collector::ingest::metrics::remote_write::{
    self, Label, MetricMetadata, MetricType, TimeSeries, WriteRequest,
};
use prost::Message;

/// How a metric's values move; bytes on disk per sample are reported per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum ValueClass {
    /// A counter growing by a random integer step in `0..=max_step` per sample.
    Counter,
    /// A gauge doing an integer random walk of ±`max_step` per sample (never below 0).
    IntGauge,
    /// A gauge in [0, 1] doing a random walk of ±0.001 steps, 3 decimals (not exact in
    /// binary: the hard case for XOR compression).
    FloatGauge,
}

impl ValueClass {
    pub fn name(self) -> &'static str {
        match self {
            ValueClass::Counter => "counters (integer steps)",
            ValueClass::IntGauge => "gauges (integer walk)",
            ValueClass::FloatGauge => "gauge (3-decimal walk)",
        }
    }
}

/// A metric of the data set.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// The Prometheus name (counters end in `_total`).
    pub name: &'static str,
    pub class: ValueClass,
    pub max_step: u64,
    /// Value of the first sample for combination 0 (others are offset).
    pub base: f64,
}

/// The ten metrics: five counters, five gauges (one of them float-valued).
pub const METRICS: [MetricDef; 10] = [
    MetricDef {
        name: "bench_http_requests_total",
        class: ValueClass::Counter,
        max_step: 20,
        base: 1_000_000.0,
    },
    MetricDef {
        name: "bench_http_errors_total",
        class: ValueClass::Counter,
        max_step: 1,
        base: 100.0,
    },
    MetricDef {
        name: "bench_bytes_sent_total",
        class: ValueClass::Counter,
        max_step: 50_000,
        base: 1e9,
    },
    MetricDef {
        name: "bench_jobs_processed_total",
        class: ValueClass::Counter,
        max_step: 9,
        base: 5_000.0,
    },
    MetricDef {
        name: "bench_gc_runs_total",
        class: ValueClass::Counter,
        max_step: 2,
        base: 10.0,
    },
    MetricDef {
        name: "bench_queue_length",
        class: ValueClass::IntGauge,
        max_step: 2,
        base: 50.0,
    },
    MetricDef {
        name: "bench_open_connections",
        class: ValueClass::IntGauge,
        max_step: 3,
        base: 200.0,
    },
    MetricDef {
        name: "bench_memory_bytes",
        class: ValueClass::IntGauge,
        max_step: 4096,
        base: 512.0 * 1024.0 * 1024.0,
    },
    MetricDef {
        name: "bench_threads",
        class: ValueClass::IntGauge,
        max_step: 1,
        base: 64.0,
    },
    MetricDef {
        name: "bench_load_ratio",
        class: ValueClass::FloatGauge,
        max_step: 1,
        base: 0.5,
    },
];

pub const ZONES: [&str; 4] = ["eu-1", "eu-2", "us-1", "us-2"];
pub const JOB: &str = "bench";

/// One series: metric `metric` (index into [`METRICS`]), label combination `combo`.
#[derive(Clone, Debug)]
pub struct SeriesDef {
    pub metric: usize,
    pub combo: usize,
}

impl SeriesDef {
    pub fn def(&self) -> &'static MetricDef {
        &METRICS[self.metric]
    }
    pub fn instance(&self) -> String {
        format!("host-{:03}", self.combo / ZONES.len())
    }
    pub fn zone(&self) -> &'static str {
        ZONES[self.combo % ZONES.len()]
    }
    /// Sorted remote-write labels.
    pub fn labels(&self) -> Vec<Label> {
        vec![
            Label::new("__name__", self.def().name),
            Label::new("instance", self.instance()),
            Label::new("job", JOB),
            Label::new("zone", self.zone()),
        ]
    }
}

/// Series `i` of `n`: metric `i % 10`, combination `i / 10`.
pub fn series_defs(n: usize) -> Vec<SeriesDef> {
    (0..n)
        .map(|i| SeriesDef {
            metric: i % METRICS.len(),
            combo: i / METRICS.len(),
        })
        .collect()
}

/// A series' values, one after the other (deterministic from the seed and the series).
#[derive(Clone, Debug)]
pub struct ValueGen {
    class: ValueClass,
    max_step: u64,
    value: f64,
    /// Thousandths, for the float gauge (kept as an integer so that no error accumulates).
    milli: i64,
    rng: u64,
    started: bool,
}

impl ValueGen {
    pub fn new(def: &MetricDef, combo: usize, seed: u64) -> ValueGen {
        let mut rng = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((combo as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03))
            .wrapping_add((def.name.len() as u64).wrapping_mul(0x94D0_49BB_1331_11EB))
            | 1;
        for _ in 0..4 {
            rng = splitmix(rng);
        }
        ValueGen {
            class: def.class,
            max_step: def.max_step,
            value: (def.base + (combo as f64) * 7.0).floor(),
            milli: 200 + (combo as i64 * 37) % 600,
            rng,
            started: false,
        }
    }

    fn rand(&mut self, n: u64) -> u64 {
        self.rng = splitmix(self.rng);
        (self.rng >> 11) % n
    }

    /// The next sample's value.
    pub fn next_value(&mut self) -> f64 {
        if !self.started {
            self.started = true;
            return match self.class {
                ValueClass::FloatGauge => self.milli as f64 / 1000.0,
                _ => self.value,
            };
        }
        match self.class {
            ValueClass::Counter => {
                self.value += self.rand(self.max_step + 1) as f64;
                self.value
            }
            ValueClass::IntGauge => {
                let step = self.rand(2 * self.max_step + 1) as f64 - self.max_step as f64;
                self.value = (self.value + step).max(0.0);
                self.value
            }
            ValueClass::FloatGauge => {
                self.milli = (self.milli + self.rand(3) as i64 - 1).clamp(0, 1000);
                self.milli as f64 / 1000.0
            }
        }
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The ingest data set: every series' samples at a regular interval.
pub struct Dataset {
    pub series: Vec<SeriesDef>,
    pub first_ts_ms: i64,
    pub interval_ms: i64,
    pub samples_per_series: usize,
    /// `values[series][i]` is the value at `first_ts_ms + i * interval_ms`.
    pub values: Vec<Vec<f64>>,
}

impl Dataset {
    /// `n_series` series of `samples` samples each, the last one at `last_ts_ms`.
    pub fn new(
        n_series: usize,
        samples: usize,
        interval_ms: i64,
        last_ts_ms: i64,
        seed: u64,
    ) -> Dataset {
        let series = series_defs(n_series);
        let values = series
            .iter()
            .map(|s| {
                let mut g = ValueGen::new(s.def(), s.combo, seed);
                (0..samples).map(|_| g.next_value()).collect()
            })
            .collect();
        Dataset {
            series,
            first_ts_ms: last_ts_ms - (samples as i64 - 1).max(0) * interval_ms,
            interval_ms,
            samples_per_series: samples,
            values,
        }
    }

    pub fn total_samples(&self) -> u64 {
        (self.series.len() * self.samples_per_series) as u64
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.first_ts_ms + i as i64 * self.interval_ms
    }

    /// The class of the series named `name`.
    pub fn class_of(name: &str) -> Option<ValueClass> {
        METRICS.iter().find(|m| m.name == name).map(|m| m.class)
    }
}

/// One request's share of the data: some series, a run of consecutive samples of each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    pub series: Vec<usize>,
    pub from: usize,
    pub to: usize,
}

impl Slice {
    pub fn samples(&self) -> usize {
        self.series.len() * (self.to - self.from)
    }
}

/// The requests of each connection, in sending order. Series `i` belongs to connection
/// `i % connections` (as a remote-write sender shards series), so each series' samples go
/// out in time order on one connection. A connection's `k` series are sent `batch / k`
/// samples at a time (at least 1), in groups of `batch / samples` series: requests of about
/// `batch` samples.
pub fn plan(n_series: usize, samples: usize, batch: usize, connections: usize) -> Vec<Vec<Slice>> {
    let connections = connections.max(1);
    let batch = batch.max(1);
    (0..connections)
        .map(|c| {
            let mine: Vec<usize> = (c..n_series).step_by(connections).collect();
            if mine.is_empty() || samples == 0 {
                return Vec::new();
            }
            let k = (batch / mine.len()).clamp(1, samples);
            let group = (batch / k).max(1);
            let mut out = Vec::new();
            let mut from = 0;
            while from < samples {
                let to = (from + k).min(samples);
                for g in mine.chunks(group) {
                    out.push(Slice {
                        series: g.to_vec(),
                        from,
                        to,
                    });
                }
                from = to;
            }
            out
        })
        .collect()
}

/// A pre-encoded request body and the samples it carries.
#[derive(Clone, Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub samples: usize,
}

/// The remote write request of one slice, snappy-compressed.
pub fn remote_write_body(ds: &Dataset, slice: &Slice) -> Body {
    let timeseries = slice
        .series
        .iter()
        .map(|&i| TimeSeries {
            labels: ds.series[i].labels(),
            samples: (slice.from..slice.to)
                .map(|j| remote_write::Sample {
                    value: ds.values[i][j],
                    timestamp: ds.ts(j),
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect();
    let req = WriteRequest {
        timeseries,
        metadata: Vec::new(),
    };
    Body {
        bytes: remote_write::encode(&req),
        samples: slice.samples(),
    }
}

/// The metadata request a Prometheus sends on its own: each family's type.
pub fn remote_write_metadata() -> Vec<u8> {
    let metadata = METRICS
        .iter()
        .map(|m| MetricMetadata {
            r#type: match m.class {
                ValueClass::Counter => MetricType::Counter,
                _ => MetricType::Gauge,
            } as i32,
            metric_family_name: m.name.to_string(),
            help: String::new(),
            unit: String::new(),
        })
        .collect();
    remote_write::encode(&WriteRequest {
        timeseries: Vec::new(),
        metadata,
    })
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// The OTLP name whose Prometheus translation is the metric's name: counters are monotonic
/// cumulative sums (the translation appends `_total`), gauges gauges.
fn otlp_name(def: &MetricDef) -> &'static str {
    def.name.strip_suffix("_total").unwrap_or(def.name)
}

/// The OTLP request of one slice: a resource per instance (`service.name` → `job`,
/// `service.instance.id` → `instance`), a metric per name, the zone as a point attribute.
pub fn otlp_body(ds: &Dataset, slice: &Slice) -> Body {
    // instance → metric → points
    let mut by_instance: BTreeMap<String, BTreeMap<usize, Vec<NumberDataPoint>>> = BTreeMap::new();
    let start_ns = (ds.first_ts_ms - ds.interval_ms) as u64 * 1_000_000;
    for &i in &slice.series {
        let s = &ds.series[i];
        let points = by_instance
            .entry(s.instance())
            .or_default()
            .entry(s.metric)
            .or_default();
        for j in slice.from..slice.to {
            points.push(NumberDataPoint {
                attributes: vec![kv("zone", s.zone())],
                start_time_unix_nano: if s.def().class == ValueClass::Counter {
                    start_ns
                } else {
                    0
                },
                time_unix_nano: ds.ts(j) as u64 * 1_000_000,
                exemplars: Vec::new(),
                flags: 0,
                value: Some(number_data_point::Value::AsDouble(ds.values[i][j])),
            });
        }
    }
    let resource_metrics = by_instance
        .into_iter()
        .map(|(instance, metrics)| ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", JOB),
                    kv("service.instance.id", &instance),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "pharos-loadgen".to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                metrics: metrics
                    .into_iter()
                    .map(|(m, data_points)| {
                        let def = &METRICS[m];
                        let data = if def.class == ValueClass::Counter {
                            metric::Data::Sum(Sum {
                                data_points,
                                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                                is_monotonic: true,
                            })
                        } else {
                            metric::Data::Gauge(Gauge { data_points })
                        };
                        Metric {
                            name: otlp_name(def).to_string(),
                            data: Some(data),
                            ..Default::default()
                        }
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    Body {
        bytes: ExportMetricsServiceRequest { resource_metrics }.encode_to_vec(),
        samples: slice.samples(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pharos_collector::ingest::metrics::remote_write::MetadataCache;

    #[test]
    fn values_move_as_their_class_says() {
        let ds = Dataset::new(20, 500, 15_000, 1_000_000_000, 1);
        assert_eq!(ds.total_samples(), 10_000);
        assert_eq!(ds.ts(499), 1_000_000_000);
        for (s, v) in ds.series.iter().zip(&ds.values) {
            match s.def().class {
                ValueClass::Counter => assert!(v.windows(2).all(|w| w[1] >= w[0])),
                ValueClass::IntGauge => assert!(v.iter().all(|x| x.fract() == 0.0 && *x >= 0.0)),
                ValueClass::FloatGauge => assert!(v.iter().all(|x| (0.0..=1.0).contains(x))),
            }
            assert!(v.windows(2).any(|w| w[0] != w[1]), "{}", s.def().name);
        }
        let again = Dataset::new(20, 500, 15_000, 1_000_000_000, 1);
        assert_eq!(ds.values, again.values);
        assert_ne!(
            ds.values,
            Dataset::new(20, 500, 15_000, 1_000_000_000, 2).values
        );
    }

    #[test]
    fn plan_covers_every_sample_once_in_time_order_per_series() {
        for (n, samples, batch, conns) in [(1000, 50, 2000, 4), (7, 33, 10, 3), (5, 4, 1, 8)] {
            let p = plan(n, samples, batch, conns);
            assert_eq!(p.len(), conns);
            let mut seen = vec![0usize; n];
            for (c, reqs) in p.iter().enumerate() {
                for r in reqs {
                    assert!(r.samples() <= batch.max(1));
                    for &i in &r.series {
                        assert_eq!(i % conns, c);
                        assert_eq!(seen[i], r.from, "series {i} in order");
                        seen[i] = r.to;
                    }
                }
            }
            assert!(seen.iter().all(|&s| s == samples));
        }
        // 250 series per connection: 8 samples of each per request.
        let p = plan(1000, 96, 2000, 4);
        assert!(p[0]
            .iter()
            .all(|r| r.samples() == 2000 && r.to - r.from == 8));
    }

    #[test]
    fn both_encodings_carry_the_series() {
        let ds = Dataset::new(30, 10, 15_000, 1_700_000_000_000, 1);
        let slice = Slice {
            series: (0..30).collect(),
            from: 2,
            to: 5,
        };
        let rw = remote_write_body(&ds, &slice);
        assert_eq!(rw.samples, 90);
        let req = remote_write::decode(&rw.bytes, 1 << 20).expect("decode");
        let conv = remote_write::to_batch(&req, &MetadataCache::default());
        assert!(conv.rejected.is_empty(), "{:?}", conv.rejected);
        assert_eq!(conv.batch.sample_count(), 90);
        let otlp = otlp_body(&ds, &slice);
        let req = ExportMetricsServiceRequest::decode(&otlp.bytes[..]).expect("otlp");
        let points: usize = req
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                Some(metric::Data::Gauge(g)) => g.data_points.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(points, 90);
        let meta = remote_write::decode(&remote_write_metadata(), 1 << 20).expect("meta");
        assert_eq!(meta.metadata.len(), 10);
    }
}
