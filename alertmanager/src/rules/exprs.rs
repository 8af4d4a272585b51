//! The expression kinds of rule files, each a [`RuleExpr`]: PromQL (`expr:`), a log query
//! with a threshold (`logs:`), and a health check's state (`check:`). Everything that can be
//! checked is checked when the rule is loaded (the query is parsed once and kept), so an
//! evaluation only reads data.

use std::sync::Arc;

use pharos_query::exec::{QueryRequest, QueryResult};
use pharos_query::lang::{Pipe, Query};
use serde_json::Value;

use crate::alert::LabelSet;
use crate::checks::state::State;
use crate::checks::Checker;
use crate::rules::def::{RuleExpr, Sample};
use crate::sources::Sources;

/// `expr:` — a PromQL instant query; every returned sample is an alerting instance.
pub struct PromqlExpr {
    sources: Sources,
    text: String,
}

impl PromqlExpr {
    /// Parses `text` (the error is the parser's message).
    pub fn new(sources: Sources, text: &str) -> Result<PromqlExpr, String> {
        pharos_query::promql::parse(text).map_err(|e| format!("invalid PromQL: {e}"))?;
        Ok(PromqlExpr {
            sources,
            text: text.trim().to_string(),
        })
    }
}

impl RuleExpr for PromqlExpr {
    fn eval(&self, now_ns: i64) -> Result<Vec<Sample>, String> {
        // The query crate parses again here (its evaluator takes text); parsing is
        // microseconds next to reading series, and keeps this on the shared `Sources` path.
        self.sources.promql(&self.text, now_ns)
    }

    fn text(&self) -> String {
        self.text.clone()
    }
}

/// A threshold comparison: `> 10`, `>= 0.5`, `< 1`, `<= 3`, `== 0`, `!= 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    op: CmpOp,
    threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        let (op, rest) = [
            (">=", CmpOp::Ge),
            ("<=", CmpOp::Le),
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ]
        .iter()
        .find_map(|(sym, op)| t.strip_prefix(sym).map(|rest| (*op, rest)))
        .ok_or_else(|| {
            format!("invalid condition {text:?} (expected e.g. '> 10': one of > >= < <= == != and a number)")
        })?;
        let threshold = rest.trim().parse::<f64>().map_err(|_| {
            format!(
                "invalid condition {text:?}: {:?} is not a number",
                rest.trim()
            )
        })?;
        Ok(Condition { op, threshold })
    }

    pub fn holds(&self, v: f64) -> bool {
        let t = self.threshold;
        match self.op {
            CmpOp::Gt => v > t,
            CmpOp::Ge => v >= t,
            CmpOp::Lt => v < t,
            CmpOp::Le => v <= t,
            CmpOp::Eq => v == t,
            CmpOp::Ne => v != t,
        }
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        };
        write!(f, "{op} {}", self.threshold)
    }
}

/// `logs:` — a log query over the last `window`: the count of matching records, or with a
/// `| stats … by …` pipe one comparison per row (the `by` columns become labels).
pub struct LogExpr {
    sources: Sources,
    text: String,
    ast: Query,
    window_ns: i64,
    condition: Condition,
    /// With `stats`: the compared column and the `by` columns.
    table: Option<TableSpec>,
}

struct TableSpec {
    value_column: String,
    by: Vec<String>,
}

impl LogExpr {
    /// Parses the query and checks that `value` names one of the `stats` columns.
    pub fn new(
        sources: Sources,
        query: &str,
        window_ns: i64,
        condition: Condition,
        value: Option<&str>,
    ) -> Result<LogExpr, String> {
        let ast =
            pharos_query::lang::parse(query).map_err(|e| format!("invalid log query: {e}"))?;
        if window_ns <= 0 {
            return Err("window must be greater than 0s".into());
        }
        let mut table = None;
        for pipe in &ast.pipes {
            match pipe {
                Pipe::Stats { aggs, by, .. } => {
                    let columns: Vec<String> = aggs.iter().map(|a| a.column_name()).collect();
                    let value_column = match (value, columns.as_slice()) {
                        (Some(v), cols) if cols.iter().any(|c| c == v) => v.to_string(),
                        (Some(v), cols) => {
                            return Err(format!(
                                "value: {v:?} is not a column of the stats pipe (columns: {})",
                                cols.join(", ")
                            ))
                        }
                        (None, [only]) => only.clone(),
                        (None, cols) => {
                            return Err(format!(
                                "the stats pipe has several columns ({}): name the compared one with `value:`",
                                cols.join(", ")
                            ))
                        }
                    };
                    table = Some(TableSpec {
                        value_column,
                        by: by.iter().map(|i| i.name.clone()).collect(),
                    });
                }
                Pipe::Timechart { .. } | Pipe::Top { .. } => {
                    return Err("alert log queries take `| stats`, not `timechart` or `top`".into())
                }
                Pipe::Sort { .. } | Pipe::Limit { .. } | Pipe::Fields { .. } => {}
            }
        }
        if table.is_none() && value.is_some() {
            return Err("value: only applies to a query with a `| stats` pipe".into());
        }
        Ok(LogExpr {
            sources,
            text: query.trim().to_string(),
            ast,
            window_ns,
            condition,
            table,
        })
    }
}

/// `service.name` → `service_name`: `by` fields become Prometheus label names.
pub fn label_name(field: &str) -> String {
    let mut s: String = field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

fn cell_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn cell_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl RuleExpr for LogExpr {
    fn eval(&self, now_ns: i64) -> Result<Vec<Sample>, String> {
        let store = self
            .sources
            .logs
            .as_deref()
            .ok_or("the log store is not available")?;
        let req = QueryRequest {
            start_ns: Some(now_ns.saturating_sub(self.window_ns)),
            end_ns: Some(now_ns),
            limit: 0,
            now_ns,
            budget: Default::default(),
        };
        // Prepared from the tree parsed at load: no text parsing per evaluation.
        let prepared = pharos_query::exec::prepare(&self.ast, &req).map_err(|e| e.to_string())?;
        let result = pharos_query::exec::execute(store, &prepared).map_err(|e| e.to_string())?;
        match (result, &self.table) {
            (QueryResult::Hits { total, .. }, None) => {
                let value = total as f64;
                Ok(if self.condition.holds(value) {
                    vec![Sample {
                        labels: LabelSet::new(),
                        value,
                    }]
                } else {
                    Vec::new()
                })
            }
            (QueryResult::Table { columns, rows, .. }, Some(spec)) => {
                let index = |name: &str| columns.iter().position(|c| c == name);
                let value_at = index(&spec.value_column)
                    .ok_or_else(|| format!("the result has no column {:?}", spec.value_column))?;
                let by: Vec<(String, Option<usize>)> =
                    spec.by.iter().map(|b| (label_name(b), index(b))).collect();
                let mut out = Vec::new();
                for row in &rows {
                    let Some(value) = row.get(value_at).and_then(cell_number) else {
                        continue;
                    };
                    if !self.condition.holds(value) {
                        continue;
                    }
                    let labels = by
                        .iter()
                        .filter_map(|(name, at)| {
                            let v = row.get((*at)?).and_then(cell_text)?;
                            (!v.is_empty()).then(|| (name.clone(), v))
                        })
                        .collect();
                    out.push(Sample { labels, value });
                }
                Ok(out)
            }
            _ => Err("the log query returned an unexpected result shape".into()),
        }
    }

    fn text(&self) -> String {
        format!(
            "logs: {} [{}s] {}",
            self.text,
            self.window_ns / 1_000_000_000,
            self.condition
        )
    }
}

/// `check: <id>` — one instance (label `check`) while the check is `down`.
pub struct CheckExpr {
    checker: Option<Arc<Checker>>,
    id: String,
}

impl CheckExpr {
    pub fn new(checker: Option<Arc<Checker>>, id: &str) -> CheckExpr {
        CheckExpr {
            checker,
            id: id.to_string(),
        }
    }

    pub fn check_id(&self) -> &str {
        &self.id
    }

    /// The reason of the check's last result (why it is down), if there is one.
    pub fn last_reason(&self) -> Option<String> {
        let checker = self.checker.as_deref()?;
        checker
            .list()
            .into_iter()
            .find(|c| c.id == self.id)
            .and_then(|c| c.last_result)
            .map(|r| r.reason)
    }
}

impl RuleExpr for CheckExpr {
    fn eval(&self, _now_ns: i64) -> Result<Vec<Sample>, String> {
        let checker = self
            .checker
            .as_deref()
            .ok_or("the health checker is not available")?;
        let state = checker
            .state(&self.id)
            .ok_or_else(|| format!("unknown check {:?}", self.id))?;
        Ok(if state == State::Down {
            vec![Sample {
                labels: [("check".to_string(), self.id.clone())].into(),
                value: 1.0,
            }]
        } else {
            Vec::new()
        })
    }

    fn text(&self) -> String {
        format!("check: {}", self.id)
    }
}
