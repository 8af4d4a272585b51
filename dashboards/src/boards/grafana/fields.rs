//! Reading Grafana's values: datasources (by type, name, `${DS_…}` input or pseudo
//! datasource), units, numbers, and the rewriting of its expression syntax.

use serde_json::{Map, Value};

use super::text;
use crate::boards::model::Unit;

pub(super) fn inputs(d: &Map<String, Value>) -> Vec<(String, String)> {
    d.get("__inputs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    Some((
                        i.get("name")?.as_str()?.to_string(),
                        i.get("pluginId")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `[[var]]` → `${var}` and Grafana's `$__rate_interval` → `$__interval` (the UI computes
/// `$__interval` from the panel's step; `$__range` is kept as it is).
pub fn rewrite_expr(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(start) = rest.find("[[") {
        let after = &rest[start + 2..];
        match after.find("]]") {
            Some(end)
                if !after[..end].is_empty()
                    && after[..end]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') =>
            {
                out.push_str(&rest[..start]);
                out.push_str("${");
                out.push_str(&after[..end]);
                out.push('}');
                rest = &after[end + 2..];
            }
            _ => {
                // One bracket on: `x[[[v]]]` (a range of `[[v]]`) starts a step later.
                out.push_str(&rest[..start + 1]);
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out.replace("$__rate_interval", "$__interval")
        .replace("${__rate_interval}", "${__interval}")
}

/// The datasource's plugin type: `prometheus`, `loki`, …; `None` = the default datasource.
pub(super) fn datasource_type(ds: Option<&Value>, inputs: &[(String, String)]) -> Option<String> {
    match ds? {
        Value::Null => None,
        Value::String(s) => Some(named_type(s, inputs)),
        Value::Object(o) => match text(o, "type") {
            Some(t) if t != "datasource" => Some(t.to_string()),
            // `{"type": "datasource", "uid": "-- Mixed --"}` and friends name Grafana's
            // pseudo datasources by uid.
            _ => text(o, "uid").map(|u| named_type(u, inputs)),
        },
        _ => Some("unknown".into()),
    }
}

/// A datasource named by a string: `${DS_PROMETHEUS}` through `__inputs`, Grafana's pseudo
/// datasources, else a name, taken for Prometheus unless it says otherwise.
pub(super) fn named_type(s: &str, inputs: &[(String, String)]) -> String {
    let bare = s
        .trim_start_matches("${")
        .trim_start_matches('$')
        .trim_end_matches('}');
    if let Some((_, plugin)) = inputs.iter().find(|(n, _)| n == bare) {
        return plugin.clone();
    }
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "-- mixed --" => return "mixed".into(),
        "-- grafana --" | "grafana" => return "grafana".into(),
        "-- dashboard --" => return "dashboard".into(),
        _ => {}
    }
    for other in [
        "loki",
        "elasticsearch",
        "mysql",
        "postgres",
        "influxdb",
        "graphite",
        "tempo",
        "jaeger",
        "cloudwatch",
        "testdata",
    ] {
        if lower.contains(other) {
            return other.into();
        }
    }
    "prometheus".into()
}

pub(super) fn is_prometheus(t: &Option<String>) -> bool {
    match t.as_deref() {
        None => true,
        Some(t) => t == "prometheus" || t == "mixed",
    }
}

pub(super) fn unit(name: &str) -> Option<Unit> {
    Some(match name {
        "reqps" => Unit::Reqps,
        "s" => Unit::S,
        "ms" => Unit::Ms,
        "percent" => Unit::Percent,
        "percentunit" => Unit::Percentunit,
        "bytes" | "decbytes" => Unit::Bytes,
        "short" => Unit::Short,
        "none" => Unit::None,
        _ => return None,
    })
}

pub(super) fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}
