//! Metrics derived from logs (`[[metrics.from_logs]]`): for apps that emit no metrics, a
//! counter of the records a query selects, or a histogram of a numeric field, per label
//! combination, as regular metric series (so PromQL, SLOs and dashboards use them).
//!
//! Each closed minute is materialised once from the index, `lag` after it ends (so records
//! still being indexed are in): exact counts from fast fields, appended through the metrics
//! write path (the metrics WAL) as cumulative counters at the minute's end. What was done is
//! kept in a small state file written after the append is acknowledged; a crash in between
//! recomputes the same minute, which yields the same cumulative values at the same
//! timestamps — duplicates the store drops — so nothing is counted twice or lost.

pub mod collect;
pub mod rule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pharos_collector::clock::SharedClock;
use pharos_collector::config::LogMetricRule;
use pharos_collector::index::LogStore;
use pharos_collector::tsdb::ingest::MetricsIngestor;
use pharos_collector::tsdb::{
    Distribution, Labels, MetricBatch, MetricKind, Sample, SeriesSamples, METRIC_NAME,
};
use serde::{Deserialize, Serialize};

use self::rule::{status_class, CompiledRule, Measure};
use crate::agg::value::GVal;
use crate::exec::{prepare, QueryRequest};
use crate::lang::Query;
use crate::QueryError;

const MINUTE_MS: i64 = 60_000;

type LabelPairs = Vec<(String, String)>;
/// Observed values (by bit pattern, so equal values merge) with their counts.
type Observations = BTreeMap<u64, (f64, u64)>;
/// Minutes materialised per rule per step (a long outage catches up over several steps).
const MAX_MINUTES_PER_STEP: usize = 60;

/// Running totals of one derived series.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Totals {
    labels: Vec<(String, String)>,
    count: u64,
    sum: f64,
    /// Cumulative counts per bucket bound (histograms).
    buckets: Vec<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct RuleState {
    /// End of the last materialised minute, Unix ms (0 = not started).
    done_until_ms: i64,
    series: BTreeMap<String, Totals>,
}

pub struct Materializer {
    store: Arc<LogStore>,
    ingestor: Arc<MetricsIngestor>,
    rules: Vec<CompiledRule>,
    state: BTreeMap<String, RuleState>,
    state_path: PathBuf,
    clock: SharedClock,
    lag_ms: i64,
}

/// Checks every rule (for `pharos check-config`); the error names the rule.
pub fn check_rules(rules: &[LogMetricRule]) -> Result<(), QueryError> {
    rules.iter().try_for_each(|r| rule::compile(r).map(|_| ()))
}

fn label_value(v: &GVal, class: bool) -> Option<String> {
    let s = match v {
        GVal::Null => return None,
        GVal::Str(s) => s.clone(),
        GVal::Bool(b) => b.to_string(),
        GVal::Num(n) => {
            let f = n.as_f64();
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", f as i64)
            } else {
                f.to_string()
            }
        }
    };
    Some(if class { status_class(&s) } else { s })
}

fn labels(name: &str, extra: &[(String, String)], more: Option<(&str, String)>) -> Option<Labels> {
    let mut pairs: Vec<(String, String)> = vec![(METRIC_NAME.to_string(), name.to_string())];
    pairs.extend(extra.iter().cloned());
    if let Some((k, v)) = more {
        pairs.push((k.to_string(), v));
    }
    Labels::new(pairs).ok()
}

impl Materializer {
    pub fn new(
        store: Arc<LogStore>,
        ingestor: Arc<MetricsIngestor>,
        rules: &[LogMetricRule],
        state_path: PathBuf,
        clock: SharedClock,
        lag: Duration,
    ) -> Result<Materializer, QueryError> {
        let rules = rules
            .iter()
            .map(rule::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| QueryError::BadRequest(format!("{}: {e}", state_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(QueryError::BadRequest(format!(
                    "{}: {e}",
                    state_path.display()
                )))
            }
        };
        Ok(Materializer {
            store,
            ingestor,
            rules,
            state,
            state_path,
            clock,
            lag_ms: lag.as_millis() as i64,
        })
    }

    fn save(&self) -> Result<(), QueryError> {
        let io = |e: std::io::Error| {
            QueryError::BadRequest(format!("{}: {e}", self.state_path.display()))
        };
        let tmp = self.state_path.with_extension("tmp");
        let bytes =
            serde_json::to_vec(&self.state).map_err(|e| QueryError::BadRequest(e.to_string()))?;
        if let Some(dir) = self.state_path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&tmp, &self.state_path).map_err(io)
    }

    /// Materialises every minute that has closed (and waited `lag`); returns how many
    /// rule-minutes were appended.
    pub async fn step(&mut self) -> Result<usize, QueryError> {
        let now_ms = self.clock.now_ns() / 1_000_000;
        let ready_until = (now_ms - self.lag_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
        let mut done = 0;
        for i in 0..self.rules.len() {
            let rule = self.rules[i].clone();
            let state = self.state.entry(rule.name.clone()).or_default();
            if state.done_until_ms == 0 {
                // A new rule starts now; history is not backfilled.
                state.done_until_ms = ready_until;
                self.save()?;
                continue;
            }
            for _ in 0..MAX_MINUTES_PER_STEP {
                let start = self.state[&rule.name].done_until_ms;
                if start + MINUTE_MS > ready_until {
                    break;
                }
                let batch = self.minute(&rule, start).await?;
                self.ingestor
                    .append(batch, "from_logs")
                    .await
                    .map_err(|e| QueryError::BadRequest(format!("appending {}: {e}", rule.name)))?;
                if let Some(s) = self.state.get_mut(&rule.name) {
                    s.done_until_ms = start + MINUTE_MS;
                }
                self.save()?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// The samples of one rule for the minute starting at `start_ms`.
    async fn minute(
        &mut self,
        rule: &CompiledRule,
        start_ms: i64,
    ) -> Result<MetricBatch, QueryError> {
        let store = self.store.clone();
        let r = rule.clone();
        let now_ns = self.clock.now_ns();
        let groups = tokio::task::spawn_blocking(move || {
            let prepared = prepare(
                &Query {
                    filter: r.filter.clone(),
                    pipes: Vec::new(),
                },
                &QueryRequest {
                    start_ns: None,
                    end_ns: None,
                    limit: 0,
                    now_ns,
                    budget: Default::default(),
                },
            )?;
            let keys: Vec<_> = r.labels.iter().map(|l| l.field.clone()).collect();
            let value = match &r.measure {
                Measure::Histogram { field, .. } => Some(field.clone()),
                Measure::Count => None,
            };
            collect::group_values(
                &store,
                &prepared.filter,
                &keys,
                value.as_ref(),
                start_ms * 1_000_000,
                (start_ms + MINUTE_MS) * 1_000_000,
            )
        })
        .await
        .map_err(|e| QueryError::BadRequest(format!("materialising {}: {e}", rule.name)))??;

        let state = self.state.entry(rule.name.clone()).or_default();
        let ts_ms = start_ms + MINUTE_MS;
        let mut batch = MetricBatch::default();
        // Several groups can map to one label set (`200` and `201` are both `2xx`).
        let mut observations: BTreeMap<String, (LabelPairs, Observations)> = BTreeMap::new();
        for (key, (count, values)) in groups {
            let pairs: Vec<(String, String)> = key
                .iter()
                .zip(&rule.labels)
                .filter_map(|(v, l)| label_value(v, l.status_class).map(|s| (l.label.clone(), s)))
                .collect();
            let id = serde_json::to_string(&pairs).unwrap_or_default();
            let obs = &mut observations
                .entry(id.clone())
                .or_insert_with(|| (pairs.clone(), BTreeMap::new()))
                .1;
            let totals = state.series.entry(id).or_insert_with(|| Totals {
                labels: pairs.clone(),
                ..Totals::default()
            });
            totals.count += count;
            if let Measure::Histogram { buckets, .. } = &rule.measure {
                totals.buckets.resize(buckets.len(), 0);
                for v in &values {
                    totals.sum += v;
                    for (b, bound) in totals.buckets.iter_mut().zip(buckets) {
                        if v <= bound {
                            *b += 1;
                        }
                    }
                }
                for v in values {
                    obs.entry(v.to_bits()).or_insert((v, 0)).1 += 1;
                }
            }
        }
        if matches!(rule.measure, Measure::Histogram { .. }) {
            for (pairs, obs) in observations.into_values() {
                if let Some(l) = labels(&rule.name, &pairs, None) {
                    batch.distributions.push(Distribution {
                        labels: l,
                        ts_ms,
                        observations: obs.into_values().collect(),
                    });
                }
            }
        }
        // Every known series gets a sample each minute (zero increases too), so rates are
        // continuous and series do not go stale between matching records.
        let counter =
            |name: String, extra: Option<(&str, String)>, pairs: &[(String, String)], v: f64| {
                labels(&name, pairs, extra).map(|l| SeriesSamples {
                    labels: l,
                    kind: MetricKind::Counter,
                    samples: vec![Sample { ts_ms, value: v }],
                })
            };
        for t in state.series.values() {
            match &rule.measure {
                Measure::Count => {
                    batch
                        .series
                        .extend(counter(rule.name.clone(), None, &t.labels, t.count as f64))
                }
                Measure::Histogram { buckets, .. } => {
                    for (bound, n) in buckets
                        .iter()
                        .zip(t.buckets.iter().chain(std::iter::repeat(&0)))
                    {
                        batch.series.extend(counter(
                            format!("{}_bucket", rule.name),
                            Some(("le", bound.to_string())),
                            &t.labels,
                            *n as f64,
                        ));
                    }
                    batch.series.extend(counter(
                        format!("{}_bucket", rule.name),
                        Some(("le", "+Inf".to_string())),
                        &t.labels,
                        t.count as f64,
                    ));
                    batch.series.extend(counter(
                        format!("{}_sum", rule.name),
                        None,
                        &t.labels,
                        t.sum,
                    ));
                    batch.series.extend(counter(
                        format!("{}_count", rule.name),
                        None,
                        &t.labels,
                        t.count as f64,
                    ));
                }
            }
        }
        Ok(batch)
    }

    /// Steps every 10 s until `stop` turns true.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.step().await {
                tracing::warn!(error = %e, "metrics from logs: a step failed; it is retried");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}
