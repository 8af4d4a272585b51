//! OpenTelemetry → Prometheus names, per the OpenTelemetry "Prometheus and OpenMetrics
//! Compatibility" spec and the reference translator of the OpenTelemetry Collector
//! (`pkg/translator/prometheus`). `docs/metrics.md` has the table and examples.
//!
//! Metric names: the OTLP name is split into words at every character that is not an ASCII
//! letter or digit (so dots, dashes, slashes and runs of `_` all become one `_`); the unit's
//! Prometheus word is appended unless the name already has it (`ms` → `_milliseconds`,
//! `By` → `_bytes`, `{packet}` → nothing, `By/s` → `_bytes_per_second`); monotonic sums end in
//! `_total` (moved to the end if it was elsewhere); gauges with unit `1` end in `_ratio`; a
//! name that would start with a digit gets a leading `_`.
//!
//! Label names: every character that is not an ASCII letter, digit or `_` becomes `_`, runs of
//! `_` become one; a name starting with a digit gets `key_` in front, one starting with `_`
//! gets `key` (so no attribute can produce a reserved `__…` label such as `__name__`).

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::AnyValue;

/// Which OTLP data type a name is built for (it decides the type suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    Gauge,
    MonotonicSum,
    NonMonotonicSum,
    /// Explicit-bucket and exponential histograms (`_bucket`/`_sum`/`_count` are added later).
    Histogram,
    /// Summaries (`_sum`/`_count` are added later).
    Summary,
}

/// The Prometheus word for a UCUM unit (the "main" unit, before any `/`); unknown units are
/// used as they are (cleaned to letters, digits and `_`).
pub fn unit_word(unit: &str) -> &str {
    match unit {
        // Time
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        // Bytes
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        // SI
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        // Misc
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The Prometheus word for the unit after a `/` (`By/s` → `per_second`).
pub fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// Words of `s`: the runs of ASCII letters and digits.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

fn clean(s: &str) -> String {
    words(s).collect::<Vec<_>>().join("_")
}

/// The Prometheus metric name for an OTLP metric (before `_bucket`/`_sum`/`_count`).
/// `Err` when nothing of the name is left (no ASCII letter or digit in it).
pub fn metric_name(name: &str, unit: &str, kind: NameKind) -> Result<String, String> {
    let mut tokens: Vec<String> = words(name).map(str::to_string).collect();
    if tokens.is_empty() {
        return Err(format!(
            "metric name {name:?} has no ASCII letter or digit to build a Prometheus name from"
        ));
    }
    let unit = unit.trim();
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (unit, None),
    };
    // Annotations in braces ({packet}, {request}) are "counts of foo": unitless.
    if !main.is_empty() && !main.contains(['{', '}']) {
        let word = clean(unit_word(main));
        if !word.is_empty() && !tokens.contains(&word) {
            tokens.push(word);
        }
    }
    if let Some(per) = per.filter(|p| !p.is_empty() && !p.contains(['{', '}'])) {
        let word = clean(per_unit_word(per));
        if !word.is_empty() && !tokens.contains(&word) {
            tokens.push("per".into());
            tokens.push(word);
        }
    }
    match kind {
        NameKind::MonotonicSum => {
            tokens.retain(|t| t != "total");
            tokens.push("total".into());
        }
        // As the reference translator does: only gauges, since some producers wrongly put
        // unit "1" on counters of things.
        NameKind::Gauge if unit == "1" => {
            tokens.retain(|t| t != "ratio");
            tokens.push("ratio".into());
        }
        _ => {}
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    Ok(out)
}

/// A Prometheus label name for an OTLP attribute key. Empty stays empty (and is rejected by
/// the label validation, with the data point named).
pub fn label_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') {
        out.insert_str(0, "key");
    }
    out
}

/// A float as a label value (`le`, `quantile`): the shortest text that reads back as the same
/// number, without an exponent; `+Inf`, `-Inf`, `NaN`; `-0` is `0`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v}")
    }
}

/// Nesting kept when an array or kvlist attribute is rendered as JSON; deeper values are
/// `null` (prost already refuses more than 100 levels).
const MAX_JSON_DEPTH: usize = 32;

/// An attribute value as a label value, per the OpenTelemetry attribute spec's rules for
/// non-OTLP formats: strings as they are, booleans and integers as text, doubles as their
/// shortest text, bytes as base64, arrays and kvlists as JSON. An unset value is empty (an
/// empty label is no label).
pub fn attribute_value(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => format_float(*d),
        Some(Value::BytesValue(b)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(other @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
            json_value(Some(other), 1).to_string()
        }
    }
}

fn json_value(v: Option<&Value>, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    if depth > MAX_JSON_DEPTH {
        return J::Null;
    }
    match v {
        None | Some(Value::StringValueStrindex(_)) => J::Null,
        Some(Value::StringValue(s)) => J::String(s.clone()),
        Some(Value::BoolValue(b)) => J::Bool(*b),
        Some(Value::IntValue(i)) => J::from(*i),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(J::Number)
            .unwrap_or_else(|| J::String(format_float(*d))),
        Some(Value::BytesValue(b)) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(Value::ArrayValue(a)) => J::Array(
            a.values
                .iter()
                .map(|x| json_value(x.value.as_ref(), depth + 1))
                .collect(),
        ),
        Some(Value::KvlistValue(kvs)) => J::Object(
            kvs.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        json_value(kv.value.as_ref().and_then(|v| v.value.as_ref()), depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, KeyValueList};

    fn n(name: &str, unit: &str, kind: NameKind) -> String {
        metric_name(name, unit, kind).expect("name")
    }

    #[test]
    fn dots_and_invalid_characters_become_single_underscores() {
        assert_eq!(
            n("http.server.active_requests", "", NameKind::Gauge),
            "http_server_active_requests"
        );
        assert_eq!(
            n("(lambda).function.executions(#)", "", NameKind::Gauge),
            "lambda_function_executions"
        );
        assert_eq!(n("a..b__c--d", "", NameKind::Gauge), "a_b_c_d");
        assert_eq!(n("temp.°C", "", NameKind::Gauge), "temp_C");
        assert_eq!(n("2xx.responses", "", NameKind::Gauge), "_2xx_responses");
        assert_eq!(n("ns:metric", "", NameKind::Gauge), "ns_metric");
        assert!(metric_name("...", "", NameKind::Gauge).is_err());
        assert!(metric_name("", "", NameKind::Gauge).is_err());
    }

    #[test]
    fn units_become_suffixes_once() {
        assert_eq!(
            n("http.server.request.duration", "s", NameKind::Histogram),
            "http_server_request_duration_seconds"
        );
        assert_eq!(
            n("http.server.duration", "ms", NameKind::Histogram),
            "http_server_duration_milliseconds"
        );
        assert_eq!(
            n("system.filesystem.usage", "By", NameKind::Gauge),
            "system_filesystem_usage_bytes"
        );
        assert_eq!(
            n("request.duration.seconds", "s", NameKind::Histogram),
            "request_duration_seconds"
        );
        // Braces: a count of things, unitless.
        assert_eq!(
            n("system.network.dropped", "{packets}", NameKind::Gauge),
            "system_network_dropped"
        );
        // Unknown units are appended, cleaned.
        assert_eq!(
            n("system.network.dropped", "packets", NameKind::Gauge),
            "system_network_dropped_packets"
        );
        assert_eq!(
            n("network.io", "By/s", NameKind::Gauge),
            "network_io_bytes_per_second"
        );
        assert_eq!(
            n("packets.rate", "{packet}/s", NameKind::Gauge),
            "packets_rate_per_second"
        );
        assert_eq!(n("cpu.usage", "%", NameKind::Gauge), "cpu_usage_percent");
        assert_eq!(
            n("temperature", "Cel", NameKind::Gauge),
            "temperature_celsius"
        );
    }

    #[test]
    fn counters_end_in_total_and_unit_one_gauges_in_ratio() {
        assert_eq!(
            n("http.requests", "", NameKind::MonotonicSum),
            "http_requests_total"
        );
        assert_eq!(
            n("http.requests.total", "", NameKind::MonotonicSum),
            "http_requests_total"
        );
        assert_eq!(
            n("total.bytes.sent", "By", NameKind::MonotonicSum),
            "bytes_sent_total"
        );
        assert_eq!(
            n("process.cpu.time", "s", NameKind::MonotonicSum),
            "process_cpu_time_seconds_total"
        );
        // Non-monotonic sums are gauges in Prometheus: no `_total`.
        assert_eq!(
            n("queue.size", "{item}", NameKind::NonMonotonicSum),
            "queue_size"
        );
        assert_eq!(
            n("system.memory.utilization", "1", NameKind::Gauge),
            "system_memory_utilization_ratio"
        );
        assert_eq!(
            n("cache.hit.ratio", "1", NameKind::Gauge),
            "cache_hit_ratio"
        );
        // `1` on a counter: no unit word, no `_ratio`.
        assert_eq!(
            n("disk.operations", "1", NameKind::MonotonicSum),
            "disk_operations_total"
        );
        assert_eq!(
            n("queue.fill", "1", NameKind::NonMonotonicSum),
            "queue_fill"
        );
    }

    #[test]
    fn label_names_are_sanitised() {
        assert_eq!(label_name("http.request.method"), "http_request_method");
        assert_eq!(label_name("http..method"), "http_method");
        assert_eq!(label_name("a__b"), "a_b");
        assert_eq!(label_name("2xx"), "key_2xx");
        assert_eq!(label_name("_private"), "key_private");
        assert_eq!(label_name("__name__"), "key_name_");
        assert_eq!(label_name("ünits"), "key_nits");
        assert_eq!(label_name("ok_name"), "ok_name");
        assert_eq!(label_name(""), "");
    }

    #[test]
    fn floats_print_without_exponent() {
        assert_eq!(format_float(0.005), "0.005");
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(2.5), "2.5");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
    }

    #[test]
    fn attribute_values_become_text() {
        let v = |value| AnyValue { value: Some(value) };
        assert_eq!(
            attribute_value(Some(&v(Value::StringValue("x".into())))),
            "x"
        );
        assert_eq!(attribute_value(Some(&v(Value::IntValue(-3)))), "-3");
        assert_eq!(attribute_value(Some(&v(Value::BoolValue(true)))), "true");
        assert_eq!(attribute_value(Some(&v(Value::DoubleValue(0.25)))), "0.25");
        assert_eq!(
            attribute_value(Some(&v(Value::BytesValue(vec![1, 2, 255])))),
            "AQL/"
        );
        let arr = Value::ArrayValue(ArrayValue {
            values: vec![v(Value::IntValue(1)), v(Value::StringValue("a".into()))],
        });
        assert_eq!(attribute_value(Some(&v(arr))), r#"[1,"a"]"#);
        let kvs = Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "k".into(),
                value: Some(v(Value::DoubleValue(f64::NAN))),
                ..Default::default()
            }],
        });
        assert_eq!(attribute_value(Some(&v(kvs))), r#"{"k":"NaN"}"#);
        assert_eq!(attribute_value(None), "");
    }
}
