//! A `[[metrics.from_logs]]` rule, checked and resolved once: the filter, the label sources,
//! and what is measured.

use pharos_collector::config::LogMetricRule;
use pharos_collector::tsdb::METRIC_NAME;

use crate::field::{resolve, FieldRef};
use crate::lang::{Expr, Ident, Span};
use crate::QueryError;

/// Where a label's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSource {
    pub label: String,
    pub field: FieldRef,
    /// Map an HTTP status code to its class (`503` → `5xx`).
    pub status_class: bool,
}

/// What a rule measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    Count,
    Histogram { field: FieldRef, buckets: Vec<f64> },
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The metric name (`_total` added to counters that lack it).
    pub name: String,
    pub filter: Expr,
    pub labels: Vec<LabelSource>,
    pub measure: Measure,
}

/// Default histogram buckets, for milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 11] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

fn sanitize_label(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

fn bad(rule: &LogMetricRule, what: impl std::fmt::Display) -> QueryError {
    QueryError::BadRequest(format!("metrics.from_logs `{}`: {what}", rule.name))
}

fn field(rule: &LogMetricRule, name: &str) -> Result<FieldRef, QueryError> {
    resolve(&Ident {
        name: name.to_string(),
        span: Span::default(),
    })
    .map_err(|e| bad(rule, e))
}

/// Checks a rule and resolves it.
pub fn compile(rule: &LogMetricRule) -> Result<CompiledRule, QueryError> {
    let valid_name = !rule.name.is_empty()
        && !rule.name.starts_with(|c: char| c.is_ascii_digit())
        && rule
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !valid_name {
        return Err(bad(
            rule,
            "the name must be a Prometheus metric name (letters, digits, `_`, `:`)",
        ));
    }
    let parsed = crate::lang::parse(&rule.query).map_err(|e| bad(rule, format!("query: {e}")))?;
    if !parsed.pipes.is_empty() {
        return Err(bad(rule, "the query is a filter: no pipes"));
    }
    let mut labels = Vec::new();
    for spec in &rule.by {
        let (label, rest) = match spec.split_once('=') {
            Some((l, r)) => (l.trim().to_string(), r.trim()),
            None => (String::new(), spec.trim()),
        };
        let (field_name, status_class) = match rest.strip_suffix(":class") {
            Some(f) => (f, true),
            None => (rest, false),
        };
        let f = field(rule, field_name)?;
        if f == FieldRef::Message {
            return Err(bad(rule, "the message is full text: it cannot be a label"));
        }
        let label = if label.is_empty() {
            sanitize_label(field_name)
        } else {
            label
        };
        if label == METRIC_NAME || label.is_empty() || sanitize_label(&label) != label {
            return Err(bad(rule, format!("`{label}` is not a label name")));
        }
        if labels.iter().any(|l: &LabelSource| l.label == label) {
            return Err(bad(rule, format!("label `{label}` twice")));
        }
        labels.push(LabelSource {
            label,
            field: f,
            status_class,
        });
    }
    if labels.len() > crate::agg::MAX_GROUP_FIELDS {
        return Err(bad(
            rule,
            format!("at most {} labels", crate::agg::MAX_GROUP_FIELDS),
        ));
    }
    let measure = match &rule.histogram {
        None => Measure::Count,
        Some(f) => {
            let mut buckets = if rule.buckets.is_empty() {
                DEFAULT_BUCKETS_MS.to_vec()
            } else {
                rule.buckets.clone()
            };
            if buckets.iter().any(|b| !b.is_finite()) {
                return Err(bad(rule, "buckets must be finite numbers"));
            }
            buckets.sort_by(f64::total_cmp);
            buckets.dedup();
            Measure::Histogram {
                field: field(rule, f)?,
                buckets,
            }
        }
    };
    let name = match measure {
        Measure::Count if !rule.name.ends_with("_total") => format!("{}_total", rule.name),
        _ => rule.name.clone(),
    };
    Ok(CompiledRule {
        name,
        filter: parsed.filter,
        labels,
        measure,
    })
}

/// An HTTP status code's class: `503` → `5xx`; other values unchanged.
pub fn status_class(v: &str) -> String {
    match v.parse::<f64>() {
        Ok(n) if (100.0..600.0).contains(&n) => format!("{}xx", (n / 100.0).floor() as u32),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, query: &str, by: &[&str], histogram: Option<&str>) -> LogMetricRule {
        LogMetricRule {
            name: name.into(),
            query: query.into(),
            by: by.iter().map(|s| s.to_string()).collect(),
            histogram: histogram.map(str::to_string),
            buckets: vec![],
        }
    }

    #[test]
    fn rules_resolve_and_bad_ones_say_why() {
        let r = compile(&rule("log_errors", "level:error", &["service"], None)).expect("rule");
        assert_eq!(r.name, "log_errors_total");
        assert_eq!(r.labels[0].label, "service");
        let r = compile(&rule(
            "http_request_duration_ms",
            "http.status_code:*",
            &["service", "status_class=http.status_code:class"],
            Some("duration_ms"),
        ))
        .expect("rule");
        assert_eq!(r.name, "http_request_duration_ms");
        assert!(r.labels[1].status_class);
        assert!(matches!(r.measure, Measure::Histogram { ref buckets, .. } if buckets.len() == 11));
        let err = |r| compile(&r).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(rule("x", "level:(", &[], None)).contains("query"));
        assert!(err(rule("x", "* | stats count()", &[], None)).contains("no pipes"));
        assert!(err(rule("bad name", "*", &[], None)).contains("metric name"));
        assert!(err(rule("x", "*", &["message"], None)).contains("full text"));
        assert!(err(rule("x", "*", &["a-b=service"], None)).contains("not a label"));
        assert_eq!(status_class("503"), "5xx");
        assert_eq!(status_class("200.0"), "2xx");
        assert_eq!(status_class("n/a"), "n/a");
    }
}
