//! The JSON shape of one search hit: the rebuilt record plus its stable id.

use pharos_collector::clock::rfc3339;
use pharos_collector::normalize::raw_display;
use pharos_collector::record::{level_name, AttrValue, Attributes, LogRecord};
use serde_json::{json, Map, Value};

fn attr_json(v: &AttrValue) -> Value {
    match v {
        AttrValue::Null => Value::Null,
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::Int(i) => Value::from(*i),
        AttrValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AttrValue::Str(s) => Value::String(s.clone()),
        AttrValue::Array(items) => Value::Array(items.iter().map(attr_json).collect()),
        AttrValue::Object(kvs) => Value::Object(object_json(kvs)),
    }
}

fn object_json(kvs: &Attributes) -> Map<String, Value> {
    kvs.iter().map(|(k, v)| (k.clone(), attr_json(v))).collect()
}

/// A hit as the API returns it. `record_id` is the record's WAL sequence number, stable for
/// the record's lifetime.
pub fn hit_json(lsn: u64, r: &LogRecord) -> Value {
    json!({
        "record_id": lsn.to_string(),
        "timestamp": rfc3339(r.timestamp_ns),
        "timestamp_ns": r.timestamp_ns,
        "observed_timestamp": rfc3339(r.observed_ns),
        "level": level_name(r.severity_number),
        "severity_number": r.severity_number,
        "severity_text": r.severity_text,
        "service": r.service,
        "host": r.host,
        "message": r.body,
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "correlation_id": r.correlation_id,
        "attributes": object_json(&r.attributes),
        "resource": object_json(&r.resource),
        "raw": raw_display(r.source, &r.raw),
    })
}
