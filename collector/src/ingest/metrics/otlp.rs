//! OTLP metrics (`ExportMetricsServiceRequest`) → [`MetricBatch`], per the OpenTelemetry
//! "Prometheus and OpenMetrics Compatibility" spec. `docs/metrics.md` describes the rules for
//! users; in short:
//!
//! * **Gauge** → a gauge (unknown-typed when the metric's metadata has
//!   `prometheus.type=unknown`).
//! * **Sum**, cumulative, monotonic → a counter named `…_total`; cumulative non-monotonic → a
//!   gauge. **Delta monotonic** sums are accumulated into a cumulative counter per series: a
//!   running total kept in memory ([`MAX_DELTA_SERIES`] series at most; series idle for
//!   [`IDLE_EVICT_NS`] are forgotten when the table fills). A delta point must follow the
//!   previous one of its series (its start ≥ the previous end, its end after it); a point
//!   that repeats or overlaps is rejected rather than counted twice. The first delta seen (or
//!   the first after Pharos restarts or forgets the series) starts the total at its value,
//!   which the store sees as a counter reset. **Delta non-monotonic** sums are rejected with a
//!   reason (the spec drops them: an up-down delta has no known starting value).
//! * **Histogram** (explicit buckets) → `…_bucket{le}` (cumulative over buckets, the last
//!   `le="+Inf"` = `count`), `…_sum`, `…_count` counters, **and** a [`Distribution`] of the
//!   observations of the point: each bucket's count, valued at the bucket's upper bound (the
//!   `+Inf` bucket at its lower bound, the last finite bound). For cumulative histograms the
//!   distribution holds only what was observed **since the previous point** of the series
//!   (per-bucket differences, computed over cumulative counts so changing bucket layouts still
//!   compare); the previous point is kept in memory ([`MAX_HISTOGRAM_STATE`] series). A series'
//!   first point counts in full only when its start time is after this state began (a series
//!   that started before may have been counted by an earlier Pharos process); otherwise it is
//!   the baseline. A reset (new start time, or counts going down) counts the point in full.
//!   Delta histograms: the classic series are accumulated like delta sums, the distribution is
//!   the point's counts.
//! * **Exponential histogram** (cumulative) → the same as an explicit histogram whose bounds are
//!   exponential bucket boundaries (negative buckets, the zero bucket up to `zero_threshold`,
//!   positive buckets, `+Inf`). The classic `_bucket` series use the boundaries of scale
//!   ≤ [`CLASSIC_EXP_SCALE`] (buckets ≈ 19 % wide: at most 4 series per doubling of the
//!   observed range; at an SDK's usual scale a point would otherwise make 100+ series); the
//!   distribution uses scale ≤ [`MAX_EXP_SCALE`]. Delta exponential histograms are rejected (the
//!   spec drops them).
//! * **Summary** → `{quantile="…"}` gauges plus `…_sum` and `…_count` counters.
//! * Data point attributes → labels (names sanitised, see [`naming`]); colliding names join
//!   their values with `;` in the order of the original keys. Resource: `service.name` (with
//!   `service.namespace/` in front) → `job`, `service.instance.id` → `instance` (these win
//!   over attributes of the same name); the other resource attributes → one `target_info`
//!   gauge (value 1) per resource with `job` and `instance`. Scope name and version are not
//!   added as labels (as Prometheus's own OTLP receiver does by default).
//! * Times: `time_unix_nano` → milliseconds; a point without one is rejected. A point with the
//!   `NO_RECORDED_VALUE` flag → the staleness marker on each of its series.
//!
//! Conversion never mutates the delta/histogram state directly: it returns [`Pending`]
//! updates that are applied with [`OtlpState::commit`] once the batch is durably appended, so
//! a request refused with 429 and retried is not counted twice.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, DataPointFlags,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};
use parking_lot::Mutex;

use super::naming::{self, NameKind};
use super::remote_write::sort_samples;
use super::{Converted, RejectKind, Rejected};
use crate::tsdb::{
    Distribution, Labels, MetricKind, Sample, SeriesSamples, METRIC_NAME, STALE_NAN_BITS,
};

/// Series whose delta → cumulative running total is kept.
pub const MAX_DELTA_SERIES: usize = 200_000;
/// Histogram series whose previous point is kept (for distributions of cumulative points).
/// When full, new series get no distribution until idle ones are forgotten; their classic
/// series are stored as usual.
pub const MAX_HISTOGRAM_STATE: usize = 50_000;
/// State not updated for this long may be forgotten when a table is full (1 hour).
pub const IDLE_EVICT_NS: i64 = 3_600 * 1_000_000_000;
/// Buckets of one histogram point (after downscaling); more is rejected.
pub const MAX_BUCKETS: usize = 1_000;
/// Exponential histograms' distributions are downscaled to this scale at most (as Prometheus
/// does for native histograms: 2^(2^-8) ≈ 0.27 % wide buckets).
pub const MAX_EXP_SCALE: i32 = 8;
/// Exponential histograms' classic `_bucket` series use this scale at most (2^(2^-2) ≈ 1.19:
/// four buckets per power of two), which bounds the series one histogram makes.
pub const CLASSIC_EXP_SCALE: i32 = 2;
/// Bucket entries read from one exponential histogram point (dense arrays, before merging).
const MAX_EXP_RAW_BUCKETS: usize = 100_000;

const NO_RECORDED_VALUE: u32 = DataPointFlags::NoRecordedValueMask as u32;

fn stale() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

#[derive(Clone, Debug, PartialEq)]
struct DeltaTotal {
    total: f64,
    end_ns: u64,
    updated_ns: i64,
}

#[derive(Clone, Debug, PartialEq)]
struct PrevHist {
    start_ns: u64,
    time_ns: u64,
    count: u64,
    /// (upper bound, count), ascending, the last at +Inf.
    buckets: Vec<(f64, u64)>,
    updated_ns: i64,
}

struct Tables {
    deltas: HashMap<Labels, DeltaTotal>,
    hists: HashMap<Labels, PrevHist>,
    /// A histogram series first seen with a start time at or after this is new: its whole
    /// counts are observations. Starts at the state's creation; raised past the start of any
    /// series that is forgotten.
    watermark_ns: u64,
    last_sweep_ns: i64,
}

impl Tables {
    /// Forgets series idle for [`IDLE_EVICT_NS`] when a table is nearly full (with `incoming`
    /// new series), at most once a minute. Forgotten histogram series raise the watermark past
    /// their start, so that if they come back they are a baseline, not counted again.
    fn sweep(&mut self, now_ns: i64, incoming_deltas: usize, incoming_hists: usize) {
        let nearly_full = self.deltas.len() + incoming_deltas > MAX_DELTA_SERIES * 9 / 10
            || self.hists.len() + incoming_hists > MAX_HISTOGRAM_STATE * 9 / 10;
        if !nearly_full || now_ns.saturating_sub(self.last_sweep_ns) < 60_000_000_000 {
            return;
        }
        self.last_sweep_ns = now_ns;
        let idle = |updated: i64| now_ns.saturating_sub(updated) >= IDLE_EVICT_NS;
        self.deltas.retain(|_, d| !idle(d.updated_ns));
        let mut watermark = self.watermark_ns;
        self.hists.retain(|_, h| {
            if idle(h.updated_ns) {
                watermark = watermark.max(h.start_ns.saturating_add(1));
                false
            } else {
                true
            }
        });
        self.watermark_ns = watermark;
    }
}

/// The conversion state shared by every OTLP metrics endpoint of a collector.
pub struct OtlpState {
    tables: Mutex<Tables>,
}

/// State updates of one converted request, applied by [`OtlpState::commit`].
#[derive(Default, Debug)]
pub struct Pending {
    deltas: HashMap<Labels, DeltaTotal>,
    hists: HashMap<Labels, PrevHist>,
    new_deltas: usize,
    new_hists: usize,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.hists.is_empty()
    }
}

/// A converted OTLP request.
#[derive(Default)]
pub struct OtlpConverted {
    pub converted: Converted,
    pub pending: Pending,
    /// Labels → index in `converted.batch.series` (to map the store's rejections back to data
    /// points).
    pub index: HashMap<Labels, usize>,
    /// Per series of the batch: the data points (numbered in request order) it came from.
    pub origins: Vec<Vec<u32>>,
    /// Data points in the request.
    pub data_points: usize,
}

impl OtlpConverted {
    /// Data points with a series among `series` (as printed by `Labels`' `Display`).
    pub fn points_of<'a>(&self, series: impl IntoIterator<Item = &'a str>) -> usize {
        let wanted: std::collections::HashSet<&str> = series.into_iter().collect();
        if wanted.is_empty() {
            return 0;
        }
        let mut points = std::collections::HashSet::new();
        for (labels, &i) in &self.index {
            if wanted.contains(labels.to_string().as_str()) {
                points.extend(self.origins.get(i).into_iter().flatten().copied());
            }
        }
        points.len()
    }
}

impl OtlpState {
    /// `now_ns`: the collector's clock now (the start of the first-point rule).
    pub fn new(now_ns: i64) -> OtlpState {
        OtlpState {
            tables: Mutex::new(Tables {
                deltas: HashMap::new(),
                hists: HashMap::new(),
                watermark_ns: u64::try_from(now_ns).unwrap_or(0),
                last_sweep_ns: now_ns,
            }),
        }
    }

    /// Converts a request (the state is read, not changed).
    pub fn convert(&self, req: &ExportMetricsServiceRequest, now_ns: i64) -> OtlpConverted {
        let mut tables = self.tables.lock();
        tables.sweep(now_ns, 0, 0);
        let mut b = Builder {
            ctx: Ctx {
                tables: &tables,
                pending: Pending::default(),
                now_ns,
            },
            out: OtlpConverted::default(),
        };
        b.request(req);
        let Builder { ctx, mut out } = b;
        out.pending = ctx.pending;
        for s in &mut out.converted.batch.series {
            sort_samples(&mut s.samples);
        }
        out
    }

    /// Applies the state updates of a request whose batch was appended. Idle series are
    /// forgotten first when a table is nearly full (at most once a minute).
    pub fn commit(&self, pending: Pending, now_ns: i64) {
        if pending.is_empty() {
            return;
        }
        let mut t = self.tables.lock();
        t.sweep(now_ns, pending.new_deltas, pending.new_hists);
        for (k, v) in pending.deltas {
            // A concurrent request may have moved the series on already: keep the later one.
            match t.deltas.get(&k) {
                Some(cur) if cur.end_ns >= v.end_ns => {}
                _ => {
                    t.deltas.insert(k, v);
                }
            }
        }
        for (k, v) in pending.hists {
            match t.hists.get(&k) {
                Some(cur) if cur.time_ns >= v.time_ns => {}
                _ => {
                    t.hists.insert(k, v);
                }
            }
        }
    }

    /// Series tracked (delta totals, histogram states), for tests and diagnostics.
    pub fn tracked(&self) -> (usize, usize) {
        let t = self.tables.lock();
        (t.deltas.len(), t.hists.len())
    }
}

struct Ctx<'a> {
    tables: &'a Tables,
    pending: Pending,
    now_ns: i64,
}

impl Ctx<'_> {
    fn prev_delta(&self, l: &Labels) -> Option<&DeltaTotal> {
        self.pending
            .deltas
            .get(l)
            .or_else(|| self.tables.deltas.get(l))
    }

    fn prev_hist(&self, l: &Labels) -> Option<&PrevHist> {
        self.pending
            .hists
            .get(l)
            .or_else(|| self.tables.hists.get(l))
    }

    /// The running total after a delta of `value` over (`start_ns`, `time_ns`].
    fn accumulate(
        &self,
        labels: &Labels,
        start_ns: u64,
        time_ns: u64,
        value: f64,
        monotonic: bool,
    ) -> Result<DeltaTotal, String> {
        if !value.is_finite() {
            return Err(format!("delta value {value} is not a finite number"));
        }
        if monotonic && value < 0.0 {
            return Err(format!("negative delta {value} on a monotonic sum"));
        }
        let total = match self.prev_delta(labels) {
            None => {
                if self.tables.deltas.len() + self.pending.new_deltas >= MAX_DELTA_SERIES {
                    return Err(format!(
                        "{MAX_DELTA_SERIES} delta series are already being accumulated; \
                         send cumulative temporality instead"
                    ));
                }
                value
            }
            Some(p) => {
                if time_ns <= p.end_ns {
                    return Err(format!(
                        "delta point ending at {time_ns} ns does not come after the previous one \
                         of its series (ending at {} ns): repeated or out of order",
                        p.end_ns
                    ));
                }
                if start_ns != 0 && start_ns < p.end_ns {
                    return Err(format!(
                        "delta point starting at {start_ns} ns overlaps the previous one of its \
                         series (ending at {} ns)",
                        p.end_ns
                    ));
                }
                p.total + value
            }
        };
        Ok(DeltaTotal {
            total,
            end_ns: time_ns,
            updated_ns: self.now_ns,
        })
    }
}

/// What one data point produces (applied only if the whole point converts).
#[derive(Default)]
struct PointOut {
    series: Vec<(Labels, MetricKind, Sample)>,
    distribution: Option<Distribution>,
    deltas: Vec<(Labels, DeltaTotal)>,
    hist: Option<(Labels, PrevHist)>,
}

/// `job`, `instance` and the other resource attributes (sanitised) of one resource.
struct ResourceLabels {
    job: String,
    instance: String,
    others: Vec<(String, String)>,
}

fn resource_labels(attrs: &[KeyValue]) -> Result<ResourceLabels, String> {
    let text = |key: &str| {
        attrs
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| naming::attribute_value(kv.value.as_ref()))
            .unwrap_or_default()
    };
    let name = text("service.name");
    let namespace = text("service.namespace");
    let job = match (namespace.is_empty(), name.is_empty()) {
        (_, true) => String::new(),
        (true, false) => name,
        (false, false) => format!("{namespace}/{name}"),
    };
    let others: Vec<&KeyValue> = attrs
        .iter()
        .filter(|kv| {
            !matches!(
                kv.key.as_str(),
                "service.name" | "service.namespace" | "service.instance.id"
            )
        })
        .collect();
    Ok(ResourceLabels {
        job,
        instance: text("service.instance.id"),
        others: sanitised_pairs(others.into_iter())?,
    })
}

/// Attributes → label pairs: names sanitised, values as text; names that collide join their
/// values with `;`, ordered by the original keys. An empty key is an error.
fn sanitised_pairs<'a>(
    attrs: impl Iterator<Item = &'a KeyValue>,
) -> Result<Vec<(String, String)>, String> {
    let mut by_name: BTreeMap<String, Vec<(&str, String)>> = BTreeMap::new();
    for kv in attrs {
        let name = naming::label_name(&kv.key);
        if name.is_empty() {
            return Err("an attribute has an empty key".into());
        }
        by_name
            .entry(name)
            .or_default()
            .push((kv.key.as_str(), naming::attribute_value(kv.value.as_ref())));
    }
    Ok(by_name
        .into_iter()
        .map(|(name, mut values)| {
            if values.len() == 1 {
                let (_, v) = values.pop().unwrap_or_default();
                return (name, v);
            }
            values.sort_by(|a, b| a.0.cmp(b.0));
            let joined: Vec<String> = values
                .into_iter()
                .map(|(_, v)| v)
                .filter(|v| !v.is_empty())
                .collect();
            (name, joined.join(";"))
        })
        .collect())
}

/// The labels of one series: the point's pairs, `__name__`, and an optional extra label (`le`
/// or `quantile`), which wins over an attribute of the same name.
fn series_labels(
    base: &[(String, String)],
    name: &str,
    extra: Option<(&str, String)>,
) -> Result<Labels, String> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(base.len() + 2);
    for (k, v) in base {
        if extra.as_ref().is_some_and(|(e, _)| e == k) {
            continue;
        }
        pairs.push((k.clone(), v.clone()));
    }
    pairs.push((METRIC_NAME.to_string(), name.to_string()));
    if let Some((k, v)) = extra {
        pairs.push((k.to_string(), v));
    }
    Labels::new(pairs).map_err(|e| e.to_string())
}

fn time_ms(time_unix_nano: u64) -> Result<i64, String> {
    if time_unix_nano == 0 {
        return Err("time_unix_nano is not set".into());
    }
    // u64 nanoseconds / 1e6 always fits an i64.
    i64::try_from(time_unix_nano / 1_000_000).map_err(|_| "time_unix_nano out of range".into())
}

fn number_value(p: &NumberDataPoint) -> Result<f64, String> {
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => Ok(d),
        Some(number_data_point::Value::AsInt(i)) => Ok(i as f64),
        None => Err("the data point has no value (as_double or as_int)".into()),
    }
}

/// How a metric's points are converted, decided once per metric.
enum Plan<'m> {
    Gauge(&'m [NumberDataPoint], MetricKind),
    CumulativeSum(&'m [NumberDataPoint], MetricKind),
    DeltaSum(&'m [NumberDataPoint]),
    Histogram(&'m [HistogramDataPoint], bool),
    ExpHistogram(&'m [ExponentialHistogramDataPoint]),
    Summary(&'m [SummaryDataPoint]),
}

fn temporality(t: i32) -> Option<AggregationTemporality> {
    match AggregationTemporality::try_from(t) {
        Ok(AggregationTemporality::Unspecified) | Err(_) => None,
        Ok(t) => Some(t),
    }
}

/// The metric's Prometheus name and plan, or why it cannot be converted (with its point count).
fn plan(m: &Metric) -> Result<(String, Plan<'_>), (String, usize, RejectKind)> {
    let invalid = |reason: String, n: usize| (reason, n, RejectKind::Invalid);
    let unsupported = |reason: &str, n: usize| (reason.to_string(), n, RejectKind::Unsupported);
    let name = |kind| naming::metric_name(&m.name, &m.unit, kind);
    match &m.data {
        None => Err(invalid("the metric has no data".into(), 0)),
        Some(Data::Gauge(g)) => {
            let unknown = m.metadata.iter().any(|kv| {
                kv.key == "prometheus.type"
                    && naming::attribute_value(kv.value.as_ref()) == "unknown"
            });
            let kind = if unknown {
                MetricKind::Unknown
            } else {
                MetricKind::Gauge
            };
            let n = name(NameKind::Gauge).map_err(|e| invalid(e, g.data_points.len()))?;
            Ok((n, Plan::Gauge(&g.data_points, kind)))
        }
        Some(Data::Sum(s)) => {
            let points = s.data_points.len();
            let kind = if s.is_monotonic {
                NameKind::MonotonicSum
            } else {
                NameKind::NonMonotonicSum
            };
            let n = name(kind).map_err(|e| invalid(e, points))?;
            match (temporality(s.aggregation_temporality), s.is_monotonic) {
                (None, _) => Err(invalid(
                    "the sum's aggregation_temporality is unspecified".into(),
                    points,
                )),
                (Some(AggregationTemporality::Cumulative), true) => {
                    Ok((n, Plan::CumulativeSum(&s.data_points, MetricKind::Counter)))
                }
                (Some(AggregationTemporality::Cumulative), false) => {
                    Ok((n, Plan::CumulativeSum(&s.data_points, MetricKind::Gauge)))
                }
                (Some(_), true) => Ok((n, Plan::DeltaSum(&s.data_points))),
                (Some(_), false) => Err(unsupported(
                    "non-monotonic sums with delta temporality cannot be converted (an up-down \
                     delta has no known starting value; the OpenTelemetry→Prometheus spec drops \
                     them): export this instrument with cumulative temporality",
                    points,
                )),
            }
        }
        Some(Data::Histogram(h)) => {
            let points = h.data_points.len();
            let n = name(NameKind::Histogram).map_err(|e| invalid(e, points))?;
            match temporality(h.aggregation_temporality) {
                None => Err(invalid(
                    "the histogram's aggregation_temporality is unspecified".into(),
                    points,
                )),
                Some(t) => Ok((
                    n,
                    Plan::Histogram(&h.data_points, t == AggregationTemporality::Delta),
                )),
            }
        }
        Some(Data::ExponentialHistogram(h)) => {
            let points = h.data_points.len();
            let n = name(NameKind::Histogram).map_err(|e| invalid(e, points))?;
            match temporality(h.aggregation_temporality) {
                None => Err(invalid(
                    "the exponential histogram's aggregation_temporality is unspecified".into(),
                    points,
                )),
                Some(AggregationTemporality::Delta) => Err(unsupported(
                    "exponential histograms with delta temporality are not supported (the \
                     OpenTelemetry→Prometheus spec drops them): export them with cumulative \
                     temporality",
                    points,
                )),
                Some(_) => Ok((n, Plan::ExpHistogram(&h.data_points))),
            }
        }
        Some(Data::Summary(s)) => {
            let n = name(NameKind::Summary).map_err(|e| invalid(e, s.data_points.len()))?;
            Ok((n, Plan::Summary(&s.data_points)))
        }
    }
}

struct Builder<'a> {
    ctx: Ctx<'a>,
    out: OtlpConverted,
}

/// A data point's identity for rejections: the OTLP metric name and its attributes.
fn describe(metric: &str, attrs: &[KeyValue]) -> String {
    let parts: Vec<String> = attrs
        .iter()
        .map(|kv| {
            format!(
                "{}={:?}",
                kv.key,
                naming::attribute_value(kv.value.as_ref())
            )
        })
        .collect();
    format!("{metric}{{{}}}", parts.join(", "))
}

impl Builder<'_> {
    fn reject(&mut self, series: String, points: usize, reason: String, kind: RejectKind) {
        self.out.converted.rejected.push(Rejected {
            series,
            samples: points,
            reason,
            kind,
        });
    }

    fn push(&mut self, labels: Labels, kind: MetricKind, sample: Sample, point: u32) {
        let batch = &mut self.out.converted.batch;
        match self.out.index.get(&labels) {
            Some(&i) => {
                batch.series[i].samples.push(sample);
                let origins = &mut self.out.origins[i];
                if origins.last() != Some(&point) {
                    origins.push(point);
                }
            }
            None => {
                self.out.index.insert(labels.clone(), batch.series.len());
                batch.series.push(SeriesSamples {
                    labels,
                    kind,
                    samples: vec![sample],
                });
                self.out.origins.push(vec![point]);
            }
        }
    }

    fn apply(&mut self, out: PointOut, point: u32) {
        for (labels, kind, sample) in out.series {
            self.push(labels, kind, sample, point);
        }
        if let Some(d) = out.distribution {
            self.out.converted.batch.distributions.push(d);
        }
        for (k, v) in out.deltas {
            if !self.ctx.tables.deltas.contains_key(&k) && !self.ctx.pending.deltas.contains_key(&k)
            {
                self.ctx.pending.new_deltas += 1;
            }
            self.ctx.pending.deltas.insert(k, v);
        }
        if let Some((k, v)) = out.hist {
            if !self.ctx.tables.hists.contains_key(&k) && !self.ctx.pending.hists.contains_key(&k) {
                self.ctx.pending.new_hists += 1;
            }
            self.ctx.pending.hists.insert(k, v);
        }
    }

    fn request(&mut self, req: &ExportMetricsServiceRequest) {
        for (ri, rm) in req.resource_metrics.iter().enumerate() {
            let attrs = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            let resource = resource_labels(attrs);
            let mut latest_ms: Option<i64> = None;
            for (si, sm) in rm.scope_metrics.iter().enumerate() {
                for (mi, m) in sm.metrics.iter().enumerate() {
                    let path = format!(
                        "resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}] ({})",
                        m.name
                    );
                    let res = match &resource {
                        Ok(r) => r,
                        Err(e) => {
                            let n = data_point_count(m);
                            self.out.data_points += n;
                            self.reject(
                                describe(&m.name, &[]),
                                n,
                                format!("{path}: resource: {e}"),
                                RejectKind::Invalid,
                            );
                            continue;
                        }
                    };
                    if let Some(ms) = self.metric(m, res, &path) {
                        latest_ms = Some(latest_ms.map_or(ms, |l| l.max(ms)));
                    }
                }
            }
            if let (Ok(res), Some(ts_ms)) = (&resource, latest_ms) {
                self.target_info(res, ts_ms);
            }
        }
    }

    /// `target_info{job, instance, <other resource attributes>} 1` at the resource's latest
    /// point time, when the resource has attributes besides the ones in job and instance.
    fn target_info(&mut self, res: &ResourceLabels, ts_ms: i64) {
        if res.others.iter().all(|(_, v)| v.is_empty()) {
            return;
        }
        let mut pairs: Vec<(String, String)> = res
            .others
            .iter()
            .filter(|(k, _)| k != "job" && k != "instance")
            .cloned()
            .collect();
        pairs.push(("job".into(), res.job.clone()));
        pairs.push(("instance".into(), res.instance.clone()));
        if let Ok(labels) = series_labels(&pairs, "target_info", None) {
            let sample = Sample { ts_ms, value: 1.0 };
            let batch = &mut self.out.converted.batch;
            match self.out.index.get(&labels) {
                Some(&i) => {
                    if batch.series[i].samples.last().map(|s| s.ts_ms) != Some(ts_ms) {
                        batch.series[i].samples.push(sample);
                    }
                }
                None => {
                    self.out.index.insert(labels.clone(), batch.series.len());
                    batch.series.push(SeriesSamples {
                        labels,
                        kind: MetricKind::Gauge,
                        samples: vec![sample],
                    });
                    self.out.origins.push(Vec::new());
                }
            }
        }
    }

    /// Converts one metric; returns the latest time (ms) of its converted points.
    fn metric(&mut self, m: &Metric, res: &ResourceLabels, path: &str) -> Option<i64> {
        let (name, plan) = match plan(m) {
            Ok(p) => p,
            Err((reason, points, kind)) => {
                self.out.data_points += points;
                self.reject(
                    describe(&m.name, &[]),
                    points,
                    format!("{path}: {reason}"),
                    kind,
                );
                return None;
            }
        };
        let mut latest = None;
        macro_rules! each_point {
            ($points:expr, |$p:ident, $base:ident| $body:expr) => {
                for (pi, $p) in $points.iter().enumerate() {
                    let id = self.out.data_points as u32;
                    self.out.data_points += 1;
                    let result = point_base(&$p.attributes, res).and_then(|$base| {
                        let ts = time_ms($p.time_unix_nano)?;
                        $body.map(|out| (out, ts))
                    });
                    match result {
                        Ok((out, ts)) => {
                            self.apply(out, id);
                            latest = Some(latest.map_or(ts, |l: i64| l.max(ts)));
                        }
                        Err(reason) => self.reject(
                            describe(&m.name, &$p.attributes),
                            1,
                            format!("{path} data_points[{pi}]: {reason}"),
                            RejectKind::Invalid,
                        ),
                    }
                }
            };
        }
        match plan {
            Plan::Gauge(points, kind) | Plan::CumulativeSum(points, kind) => {
                each_point!(points, |p, base| number_point(&base, &name, kind, p))
            }
            Plan::DeltaSum(points) => {
                each_point!(points, |p, base| self.ctx_delta_point(&base, &name, p))
            }
            Plan::Histogram(points, delta) => {
                each_point!(points, |p, base| explicit_buckets(p).and_then(|buckets| {
                    self.histogram_point(
                        &base,
                        &name,
                        HistPoint {
                            classic: buckets.clone(),
                            buckets,
                            count: p.count,
                            sum: p.sum,
                            start_ns: p.start_time_unix_nano,
                            time_ns: p.time_unix_nano,
                            delta,
                            stale: p.flags & NO_RECORDED_VALUE != 0,
                        },
                    )
                }))
            }
            Plan::ExpHistogram(points) => {
                each_point!(points, |p, base| {
                    let buckets = exponential_buckets(p, MAX_EXP_SCALE)?;
                    let classic = exponential_buckets(p, CLASSIC_EXP_SCALE)?;
                    self.histogram_point(
                        &base,
                        &name,
                        HistPoint {
                            classic,
                            buckets,
                            count: p.count,
                            sum: p.sum,
                            start_ns: p.start_time_unix_nano,
                            time_ns: p.time_unix_nano,
                            delta: false,
                            stale: p.flags & NO_RECORDED_VALUE != 0,
                        },
                    )
                })
            }
            Plan::Summary(points) => {
                each_point!(points, |p, base| summary_point(&base, &name, p))
            }
        }
        latest
    }

    fn ctx_delta_point(
        &self,
        base: &[(String, String)],
        name: &str,
        p: &NumberDataPoint,
    ) -> Result<PointOut, String> {
        let ts_ms = time_ms(p.time_unix_nano)?;
        let labels = series_labels(base, name, None)?;
        let mut out = PointOut::default();
        if p.flags & NO_RECORDED_VALUE != 0 {
            out.series.push((
                labels,
                MetricKind::Counter,
                Sample {
                    ts_ms,
                    value: stale(),
                },
            ));
            return Ok(out);
        }
        let value = number_value(p)?;
        let total = self.ctx.accumulate(
            &labels,
            p.start_time_unix_nano,
            p.time_unix_nano,
            value,
            true,
        )?;
        out.series.push((
            labels.clone(),
            MetricKind::Counter,
            Sample {
                ts_ms,
                value: total.total,
            },
        ));
        out.deltas.push((labels, total));
        Ok(out)
    }

    fn histogram_point(
        &self,
        base: &[(String, String)],
        name: &str,
        h: HistPoint,
    ) -> Result<PointOut, String> {
        let ts_ms = time_ms(h.time_ns)?;
        let mut out = PointOut::default();
        let bucket_name = format!("{name}_bucket");
        let sum_name = format!("{name}_sum");
        let count_name = format!("{name}_count");

        // The classic series and their values (cumulative over buckets; +Inf = count).
        let mut classic: Vec<(Labels, f64, bool)> = Vec::with_capacity(h.classic.len() + 2);
        let mut cumulative: u64 = 0;
        for &(upper, c) in &h.classic {
            cumulative = cumulative.saturating_add(c);
            let value = if upper == f64::INFINITY {
                h.count
            } else {
                cumulative
            };
            let le = naming::format_float(upper);
            classic.push((
                series_labels(base, &bucket_name, Some(("le", le)))?,
                value as f64,
                true,
            ));
        }
        if let Some(sum) = h.sum {
            classic.push((series_labels(base, &sum_name, None)?, sum, false));
        }
        classic.push((
            series_labels(base, &count_name, None)?,
            h.count as f64,
            true,
        ));

        if h.stale {
            for (labels, _, _) in classic {
                out.series.push((
                    labels,
                    MetricKind::Counter,
                    Sample {
                        ts_ms,
                        value: stale(),
                    },
                ));
            }
            return Ok(out);
        }
        let family = series_labels(base, name, None)?;
        let observed: Option<Vec<(f64, u64)>> = if h.delta {
            for (labels, value, monotonic) in classic {
                let total = self
                    .ctx
                    .accumulate(&labels, h.start_ns, h.time_ns, value, monotonic)?;
                out.series.push((
                    labels.clone(),
                    MetricKind::Counter,
                    Sample {
                        ts_ms,
                        value: total.total,
                    },
                ));
                out.deltas.push((labels, total));
            }
            Some(h.buckets.clone())
        } else {
            for (labels, value, _) in classic {
                out.series
                    .push((labels, MetricKind::Counter, Sample { ts_ms, value }));
            }
            self.cumulative_observations(&family, &h, &mut out)
        };
        if let Some(deltas) = observed {
            let observations = observations(&h.buckets, &deltas);
            if !observations.is_empty() {
                out.distribution = Some(Distribution {
                    labels: family,
                    ts_ms,
                    observations,
                });
            }
        }
        Ok(out)
    }

    /// Per-bucket counts observed since the previous point of a cumulative histogram (None:
    /// nothing to report), and the state update.
    fn cumulative_observations(
        &self,
        family: &Labels,
        h: &HistPoint,
        out: &mut PointOut,
    ) -> Option<Vec<(f64, u64)>> {
        let prev = self.ctx.prev_hist(family);
        if prev.is_none()
            && self.ctx.tables.hists.len() + self.ctx.pending.new_hists >= MAX_HISTOGRAM_STATE
        {
            return None;
        }
        let state = PrevHist {
            start_ns: h.start_ns,
            time_ns: h.time_ns,
            count: h.count,
            buckets: h.buckets.clone(),
            updated_ns: self.ctx.now_ns,
        };
        let result = match prev {
            None => (h.start_ns != 0 && h.start_ns >= self.ctx.tables.watermark_ns)
                .then(|| h.buckets.clone()),
            Some(p) if h.time_ns <= p.time_ns => return None,
            Some(p) => {
                let restarted = h.start_ns != 0 && p.start_ns != 0 && h.start_ns != p.start_ns;
                if restarted || h.count < p.count {
                    Some(h.buckets.clone())
                } else {
                    Some(
                        bucket_differences(&p.buckets, &h.buckets)
                            .unwrap_or_else(|| h.buckets.clone()),
                    )
                }
            }
        };
        out.hist = Some((family.clone(), state));
        result
    }
}

/// Attributes + resource → the pairs every series of a point carries (no `__name__`).
fn point_base(attrs: &[KeyValue], res: &ResourceLabels) -> Result<Vec<(String, String)>, String> {
    let mut pairs = sanitised_pairs(attrs.iter())?;
    let mut set = |name: &str, value: &str| {
        if value.is_empty() {
            return;
        }
        pairs.retain(|(k, _)| k != name);
        pairs.push((name.to_string(), value.to_string()));
    };
    set("job", &res.job);
    set("instance", &res.instance);
    Ok(pairs)
}

fn number_point(
    base: &[(String, String)],
    name: &str,
    kind: MetricKind,
    p: &NumberDataPoint,
) -> Result<PointOut, String> {
    let ts_ms = time_ms(p.time_unix_nano)?;
    let value = if p.flags & NO_RECORDED_VALUE != 0 {
        stale()
    } else {
        number_value(p)?
    };
    Ok(PointOut {
        series: vec![(
            series_labels(base, name, None)?,
            kind,
            Sample { ts_ms, value },
        )],
        ..Default::default()
    })
}

fn summary_point(
    base: &[(String, String)],
    name: &str,
    p: &SummaryDataPoint,
) -> Result<PointOut, String> {
    let ts_ms = time_ms(p.time_unix_nano)?;
    let is_stale = p.flags & NO_RECORDED_VALUE != 0;
    let v = |x: f64| if is_stale { stale() } else { x };
    let mut out = PointOut::default();
    for q in &p.quantile_values {
        if !(0.0..=1.0).contains(&q.quantile) {
            return Err(format!("quantile {} is not between 0 and 1", q.quantile));
        }
        out.series.push((
            series_labels(
                base,
                name,
                Some(("quantile", naming::format_float(q.quantile))),
            )?,
            MetricKind::Gauge,
            Sample {
                ts_ms,
                value: v(q.value),
            },
        ));
    }
    out.series.push((
        series_labels(base, &format!("{name}_sum"), None)?,
        MetricKind::Counter,
        Sample {
            ts_ms,
            value: v(p.sum),
        },
    ));
    out.series.push((
        series_labels(base, &format!("{name}_count"), None)?,
        MetricKind::Counter,
        Sample {
            ts_ms,
            value: v(p.count as f64),
        },
    ));
    Ok(out)
}

/// One histogram point in the common layout.
struct HistPoint {
    /// (upper bound, count), ascending, the last at +Inf: for the distribution and the state.
    buckets: Vec<(f64, u64)>,
    /// The same for the classic `_bucket` series (coarser for exponential histograms).
    classic: Vec<(f64, u64)>,
    count: u64,
    sum: Option<f64>,
    start_ns: u64,
    time_ns: u64,
    delta: bool,
    stale: bool,
}

fn explicit_buckets(p: &HistogramDataPoint) -> Result<Vec<(f64, u64)>, String> {
    let bounds = &p.explicit_bounds;
    if bounds.len() > MAX_BUCKETS {
        return Err(format!(
            "{} bucket bounds, over the limit of {MAX_BUCKETS}",
            bounds.len()
        ));
    }
    if p.bucket_counts.is_empty() {
        return Ok(vec![(f64::INFINITY, p.count)]);
    }
    if p.bucket_counts.len() != bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} explicit bounds (there must be one more count than bounds)",
            p.bucket_counts.len(),
            bounds.len()
        ));
    }
    if !bounds.iter().all(|b| b.is_finite()) || !bounds.windows(2).all(|w| w[0] < w[1]) {
        return Err("explicit_bounds must be finite and strictly increasing".into());
    }
    Ok(bounds
        .iter()
        .copied()
        .chain(std::iter::once(f64::INFINITY))
        .zip(p.bucket_counts.iter().copied())
        .collect())
}

/// Upper bound of bucket `index` at `scale`: base^(index) with base = 2^(2^-scale).
fn exp_bound(index: i64, scale: i32) -> f64 {
    // scale is within [-10, 8] here: 2^-scale is exact.
    (index as f64 * 2f64.powi(-scale)).exp2()
}

/// An exponential histogram point → (upper bound, count) buckets at scale `max_scale` at most:
/// negative buckets, the zero bucket, positive buckets, +Inf (holding whatever `count` has
/// beyond the buckets).
fn exponential_buckets(
    p: &ExponentialHistogramDataPoint,
    max_scale: i32,
) -> Result<Vec<(f64, u64)>, String> {
    if !(-10..=20).contains(&p.scale) {
        return Err(format!("scale {} is outside -10..=20", p.scale));
    }
    if !(p.zero_threshold.is_finite() && p.zero_threshold >= 0.0) {
        return Err(format!(
            "zero_threshold {} is not a finite non-negative number",
            p.zero_threshold
        ));
    }
    let scale = p.scale.min(max_scale);
    let shift = p.scale - scale;
    let raw = |b: &Option<Buckets>| b.as_ref().map_or(0, |b| b.bucket_counts.len());
    if raw(&p.positive) + raw(&p.negative) > MAX_EXP_RAW_BUCKETS {
        return Err(format!(
            "more than {MAX_EXP_RAW_BUCKETS} exponential buckets in one point"
        ));
    }
    // index → count, at the target scale.
    let merged = |b: &Option<Buckets>| -> BTreeMap<i64, u64> {
        let mut m = BTreeMap::new();
        if let Some(b) = b {
            for (k, &c) in b.bucket_counts.iter().enumerate() {
                let index = (i64::from(b.offset) + k as i64) >> shift;
                let e = m.entry(index).or_insert(0u64);
                *e = e.saturating_add(c);
            }
        }
        m
    };
    let positive = merged(&p.positive);
    let negative = merged(&p.negative);
    if positive.len() + negative.len() + 2 > MAX_BUCKETS {
        return Err(format!(
            "{} buckets after downscaling to scale {scale}, over the limit of {MAX_BUCKETS}",
            positive.len() + negative.len()
        ));
    }
    let bound = |index: i64| {
        let b = exp_bound(index, scale);
        if b.is_finite() && b > 0.0 {
            Ok(b)
        } else {
            Err(format!(
                "exponential bucket index {index} at scale {scale} is out of range (its bound \
                 overflows or underflows)"
            ))
        }
    };
    let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(positive.len() + negative.len() + 2);
    // Negative bucket `i` holds [-base^(i+1), -base^i): its upper bound is -base^i.
    for (&i, &c) in negative.iter().rev() {
        bound(i + 1)?;
        buckets.push((-bound(i)?, c));
    }
    if p.zero_count > 0 {
        buckets.push((p.zero_threshold, p.zero_count));
    }
    // Positive bucket `i` holds (base^i, base^(i+1)].
    for (&i, &c) in &positive {
        bound(i)?;
        buckets.push((bound(i + 1)?, c));
    }
    // The zero bucket may reach past the first buckets' bounds: keep the order, merge ties.
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.saturating_add(later.1);
            true
        } else {
            false
        }
    });
    let in_buckets = buckets.iter().fold(0u64, |a, (_, c)| a.saturating_add(*c));
    buckets.push((f64::INFINITY, p.count.saturating_sub(in_buckets)));
    Ok(buckets)
}

/// Cumulative count of `buckets` up to and including `x`.
fn cumulative_at(buckets: &[(f64, u64)], x: f64) -> u64 {
    buckets
        .iter()
        .take_while(|(b, _)| *b <= x)
        .fold(0u64, |a, (_, c)| a.saturating_add(*c))
}

/// Per-bucket counts of `cur` minus what `prev` held in the same ranges (computed over
/// cumulative counts, so a previous layout that is finer or narrower still compares). None
/// when some range went down: a reset.
fn bucket_differences(prev: &[(f64, u64)], cur: &[(f64, u64)]) -> Option<Vec<(f64, u64)>> {
    let mut out = Vec::with_capacity(cur.len());
    let mut lower_prev = 0u64;
    for &(upper, c) in cur {
        let upto = cumulative_at(prev, upper);
        let in_range = upto.saturating_sub(lower_prev);
        lower_prev = upto;
        out.push((upper, c.checked_sub(in_range)?));
    }
    Some(out)
}

/// (representative value, count) pairs: a bucket's upper bound, the +Inf bucket's lower bound;
/// empty buckets are left out, as is a +Inf bucket with no finite bound below it.
fn observations(buckets: &[(f64, u64)], counts: &[(f64, u64)]) -> Vec<(f64, u64)> {
    let mut out = Vec::new();
    for (i, &(upper, c)) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let value = if upper.is_finite() {
            upper
        } else {
            match i.checked_sub(1).and_then(|j| buckets.get(j)) {
                Some(&(lower, _)) if lower.is_finite() => lower,
                _ => continue,
            }
        };
        out.push((value, c));
    }
    out
}

fn data_point_count(m: &Metric) -> usize {
    match &m.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}

#[cfg(test)]
mod tests;
