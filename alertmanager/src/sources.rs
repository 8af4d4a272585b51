//! The data alert rules and SLOs read: the log index (Pharos query language), the metrics
//! store (PromQL) and the health checks. One place, so rules and SLOs count the same way.
//! Every read is blocking; callers run them off the async runtime.

use std::sync::Arc;

use pharos_collector::index::store::LogStore;
use pharos_collector::tsdb::MetricStore;
use pharos_query::exec::{QueryRequest, QueryResult};
use pharos_query::promql::{PromOptions, PromValue};

use crate::alert::LabelSet;
use crate::checks::Checker;
use crate::rules::def::Sample;

/// Handles to what rules can read; any may be absent (tests, or a store not opened).
#[derive(Clone, Default)]
pub struct Sources {
    pub logs: Option<Arc<LogStore>>,
    pub metrics: Option<Arc<dyn MetricStore>>,
    pub checker: Option<Arc<Checker>>,
}

impl Sources {
    /// A PromQL instant query at `at_ns`: a vector's samples, or a scalar as one sample with
    /// no labels.
    pub fn promql(&self, expr: &str, at_ns: i64) -> Result<Vec<Sample>, String> {
        let store = self
            .metrics
            .as_deref()
            .ok_or("the metrics store is not available")?;
        let value = pharos_query::promql::instant_query(
            store,
            expr,
            at_ns.div_euclid(1_000_000),
            &PromOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        Ok(match value {
            PromValue::Vector(v) => v
                .into_iter()
                .map(|s| Sample {
                    labels: s
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    value: s.value,
                })
                .collect(),
            PromValue::Scalar { value, .. } => vec![Sample {
                labels: LabelSet::new(),
                value,
            }],
            PromValue::Matrix(_) => {
                return Err("a range vector cannot be an alert condition".into())
            }
            PromValue::String { .. } => return Err("a string cannot be an alert condition".into()),
        })
    }

    /// Runs a log query over `[from_ns, to_ns)`: the number of matching records, and for a
    /// query with a `| stats` (or other table-producing) pipe, its columns and rows.
    pub fn logs(&self, query: &str, from_ns: i64, to_ns: i64) -> Result<LogResult, String> {
        let store = self
            .logs
            .as_deref()
            .ok_or("the log store is not available")?;
        let req = QueryRequest {
            start_ns: Some(from_ns),
            end_ns: Some(to_ns),
            limit: 0,
            now_ns: to_ns,
            budget: Default::default(),
        };
        let resp = pharos_query::exec::run(store, query, &req).map_err(|e| e.to_string())?;
        Ok(match resp.result {
            QueryResult::Hits { total, .. } => LogResult {
                total,
                columns: Vec::new(),
                rows: Vec::new(),
            },
            QueryResult::Table {
                total,
                columns,
                rows,
                ..
            } => LogResult {
                total,
                columns,
                rows,
            },
        })
    }
}

/// What a log query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct LogResult {
    /// Records matching the filter.
    pub total: u64,
    /// Empty unless the query ends in a table-producing pipe (`| stats …`).
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}
