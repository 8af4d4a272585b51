//! An in-memory [`MetricStore`] for tests: raw samples per series, rollups folded from them
//! on every read (a plain, independent fold on purpose, to check the engine's use of
//! rollups against raw data), and distributions.
//!
//! Rollup semantics here: a bucket `[start, start + width)` covers the series' samples in
//! it, staleness markers left out; `increase` is the counter increase from the series'
//! previous (non-stale) sample to the bucket's last one (0 for the very first sample),
//! counting a decrease as a reset from 0; `resets` counts those decreases.

use std::collections::{BTreeMap, BTreeSet};

use hdrhistogram::Histogram;
use pharos_collector::tsdb::{
    DistributionSeries, LabelMatcher, Labels, MatchOp, MetricKind, MetricStore, Points, Resolution,
    RollupBucket, Sample, SelectRequest, SeriesData, TsdbError,
};
use regex::Regex;

#[derive(Default)]
pub struct MemStore {
    series: BTreeMap<Labels, (MetricKind, Vec<Sample>)>,
    /// Per family: (time, value, count) observations.
    distributions: BTreeMap<Labels, Vec<(i64, f64, u64)>>,
    /// Distribution values are recorded as `round(value × scale)` (the store's scale from
    /// [`MemStore::new`]).
    pub distribution_scale: f64,
}

/// Builds labels from pairs (panics on invalid labels: test input).
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    match Labels::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string()))) {
        Ok(l) => l,
        Err(e) => panic!("test labels {pairs:?}: {e}"),
    }
}

fn matches(l: &Labels, ms: &[(LabelMatcher, Option<Regex>)]) -> bool {
    ms.iter().all(|(m, re)| {
        let v = l.get(&m.name).unwrap_or("");
        match (m.op, re) {
            (MatchOp::Equal, _) => v == m.value,
            (MatchOp::NotEqual, _) => v != m.value,
            (MatchOp::RegexMatch, Some(re)) => re.is_match(v),
            (MatchOp::RegexNoMatch, Some(re)) => !re.is_match(v),
            _ => false,
        }
    })
}

fn compile(ms: &[LabelMatcher]) -> Result<Vec<(LabelMatcher, Option<Regex>)>, TsdbError> {
    ms.iter()
        .map(|m| {
            let re = match m.op {
                MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                    Regex::new(&format!("^(?:{})$", m.value))
                        .map_err(|e| TsdbError::BadMatcher(format!("{}: {e}", m.value)))?,
                ),
                _ => None,
            };
            Ok((m.clone(), re))
        })
        .collect()
}

/// Folds a series' samples into buckets of `res` (left-open ones for the 5-minute tier).
pub fn fold_buckets(samples: &[Sample], res: Resolution) -> Vec<RollupBucket> {
    let mut out: Vec<RollupBucket> = Vec::new();
    let mut prev: Option<f64> = None;
    let width = res.bucket_ms();
    for s in samples.iter().filter(|s| !s.is_stale_marker()) {
        let t = if res.left_open() {
            s.ts_ms - 1
        } else {
            s.ts_ms
        };
        let start = t.div_euclid(width) * width;
        let (inc, reset) = match prev {
            None => (0.0, false),
            Some(p) if s.value < p => (s.value, true),
            Some(p) => (s.value - p, false),
        };
        prev = Some(s.value);
        match out.last_mut() {
            Some(b) if b.start_ms == start => {
                b.count += 1;
                b.sum += s.value;
                b.min = b.min.min(s.value);
                b.max = b.max.max(s.value);
                b.last = *s;
                b.increase += inc;
                b.resets += u32::from(reset);
            }
            _ => out.push(RollupBucket {
                start_ms: start,
                count: 1,
                sum: s.value,
                min: s.value,
                max: s.value,
                first: *s,
                last: *s,
                increase: inc,
                resets: u32::from(reset),
            }),
        }
    }
    out
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore {
            distribution_scale: pharos_collector::tsdb::rollup::DISTRIBUTION_SCALE,
            ..MemStore::default()
        }
    }

    /// Adds samples (kept sorted by time) to a series.
    pub fn add(&mut self, labels: Labels, kind: MetricKind, samples: &[(i64, f64)]) {
        let entry = self
            .series
            .entry(labels)
            .or_insert_with(|| (kind, Vec::new()));
        entry.0 = kind;
        entry.1.extend(
            samples
                .iter()
                .map(|&(ts_ms, value)| Sample { ts_ms, value }),
        );
        entry.1.sort_by_key(|s| s.ts_ms);
    }

    /// Adds distribution observations `(value, count)` of a family at one time.
    pub fn add_distribution(&mut self, family: Labels, ts_ms: i64, observations: &[(f64, u64)]) {
        let entry = self.distributions.entry(family).or_default();
        entry.extend(observations.iter().map(|&(v, c)| (ts_ms, v, c)));
    }

    fn histogram(&self, obs: &[(f64, u64)]) -> Result<Histogram<u64>, TsdbError> {
        let mut h = Histogram::<u64>::new(3).map_err(|e| TsdbError::Storage(format!("{e:?}")))?;
        for &(v, c) in obs {
            let scaled = (v * self.distribution_scale).round().max(0.0) as u64;
            h.record_n(scaled, c)
                .map_err(|e| TsdbError::Storage(format!("{e:?}")))?;
        }
        Ok(h)
    }

    fn matching(
        &self,
        matchers: &[LabelMatcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<&Labels>, TsdbError> {
        let ms = compile(matchers)?;
        Ok(self
            .series
            .iter()
            .filter(|(l, (_, s))| {
                matches(l, &ms) && s.iter().any(|x| x.ts_ms >= start && x.ts_ms <= end)
            })
            .map(|(l, _)| l)
            .collect())
    }
}

impl MetricStore for MemStore {
    fn select(&self, req: &SelectRequest) -> Result<Vec<SeriesData>, TsdbError> {
        let ms = compile(&req.matchers)?;
        let mut out = Vec::new();
        for (labels, (kind, samples)) in &self.series {
            if !matches(labels, &ms) {
                continue;
            }
            let points = match req.resolution {
                Resolution::Raw => {
                    let v: Vec<Sample> = samples
                        .iter()
                        .copied()
                        .filter(|s| s.ts_ms >= req.start_ms && s.ts_ms <= req.end_ms)
                        .collect();
                    if v.is_empty() {
                        continue;
                    }
                    Points::Raw(v)
                }
                res => {
                    let w = res.bucket_ms();
                    let v: Vec<RollupBucket> = fold_buckets(samples, res)
                        .into_iter()
                        .filter(|b| b.start_ms <= req.end_ms && b.start_ms + w > req.start_ms)
                        .collect();
                    if v.is_empty() {
                        continue;
                    }
                    Points::Rollup(res, v)
                }
            };
            out.push(SeriesData {
                labels: labels.clone(),
                kind: *kind,
                points,
            });
        }
        Ok(out)
    }

    fn select_distributions(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        resolution: Resolution,
    ) -> Result<Vec<DistributionSeries>, TsdbError> {
        let ms = compile(matchers)?;
        let mut out = Vec::new();
        for (labels, obs) in &self.distributions {
            if !matches(labels, &ms) {
                continue;
            }
            let mut per_time: BTreeMap<i64, Vec<(f64, u64)>> = BTreeMap::new();
            for &(ts, v, c) in obs {
                let key = match resolution {
                    Resolution::Raw => ts,
                    r => ts.div_euclid(r.bucket_ms()) * r.bucket_ms(),
                };
                let w = resolution.bucket_ms().max(1);
                if key > end_ms || key + w <= start_ms {
                    continue;
                }
                per_time.entry(key).or_default().push((v, c));
            }
            if per_time.is_empty() {
                continue;
            }
            let mut hs = Vec::with_capacity(per_time.len());
            for (t, o) in per_time {
                hs.push((t, self.histogram(&o)?));
            }
            out.push((labels.clone(), hs));
        }
        Ok(out)
    }

    fn series(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, TsdbError> {
        Ok(self
            .matching(matchers, start_ms, end_ms)?
            .into_iter()
            .cloned()
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let names: BTreeSet<String> = self
            .matching(matchers, start_ms, end_ms)?
            .into_iter()
            .flat_map(|l| l.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let values: BTreeSet<String> = self
            .matching(matchers, start_ms, end_ms)?
            .into_iter()
            .filter_map(|l| l.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().collect())
    }
}
