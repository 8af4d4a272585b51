//! OTLP log records → [`LogRecord`].
//!
//! `raw` is `{"resource":…,"scope":…,"logRecord":…}`, each part in OTLP/JSON as written by
//! opentelemetry-proto's serde support (lowerCamelCase keys, hex trace/span ids, 64-bit
//! integers as decimal strings, bytes as base64). [`rebuild_otlp`] parses it back and applies
//! the same mapping.
//!
//! Two details keep `rebuild(raw) == record` exact:
//! * JSON cannot carry NaN/±Infinity (serde_json writes `null`, which reads back as an empty
//!   value), so a non-finite double maps to [`AttrValue::Null`] (and an empty body) in both
//!   directions.
//! * serde_json's default float parser is not always correctly rounded, so when mapping a
//!   request, doubles are passed through the same text round trip the index will see.
//!
//! Values nested deeper than [`MAX_ANY_VALUE_DEPTH`] are rejected: their OTLP/JSON text would
//! exceed serde_json's nesting limit, so the record could not be rebuilt.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::{Deserialize, Serialize};

use crate::record::{AttrValue, Attributes, LogRecord, Source};

use super::attrs::{describe_json_error, to_json_text};
use super::json::CORRELATION_KEYS;
use super::severity::severity_from_text;
use super::{Parsed, Rejection};

/// Deepest AnyValue nesting accepted (a top-level value is depth 1). 30 levels of key/value
/// lists are at most 123 levels of OTLP/JSON, under serde_json's limit of 128.
pub const MAX_ANY_VALUE_DEPTH: usize = 30;

/// How doubles are taken: as they will read back from `raw` (when mapping a request), or as
/// they are (when mapping what was parsed from `raw`).
#[derive(Clone, Copy, PartialEq)]
enum Doubles {
    AsReadBack,
    AsIs,
}

/// Resource-level fields shared by all records of a `ResourceLogs`.
struct ResourceInfo {
    attributes: Attributes,
    service: String,
    host: String,
}

/// OTLP request → records (+ rejections for records that are invalid, for partial_success).
///
/// `Rejection::line` is the 1-based index of the log record in request order; the reason
/// starts with its path, e.g. `resource_logs[0].scope_logs[1].log_records[3]: …`.
pub fn otlp_to_records(req: &ExportLogsServiceRequest, observed_ns: i64) -> Parsed {
    let total: usize = req
        .resource_logs
        .iter()
        .flat_map(|rl| rl.scope_logs.iter())
        .map(|sl| sl.log_records.len())
        .sum();
    // Records are large structs: growing the vector one push at a time copied them over and
    // over (it showed in the profile as page clearing and memmove).
    let mut out = Parsed::with_capacity(total);
    let default_resource = Resource::default();
    let default_scope = InstrumentationScope::default();
    let mut index = 0usize;
    for (ri, rl) in req.resource_logs.iter().enumerate() {
        let resource = rl.resource.as_ref().unwrap_or(&default_resource);
        let resource_part = resource_info(resource, Doubles::AsReadBack)
            .map_err(|e| format!("resource_logs[{ri}].resource.{e}"))
            .and_then(|info| {
                to_json(resource)
                    .map(|json| (info, json))
                    .map_err(|e| format!("resource_logs[{ri}].resource: {e}"))
            });
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            let scope = sl.scope.as_ref().unwrap_or(&default_scope);
            let scope_json = check_attrs_depth(&scope.attributes)
                .map_err(|e| format!("resource_logs[{ri}].scope_logs[{si}].scope.{e}"))
                .and_then(|()| {
                    to_json(scope)
                        .map_err(|e| format!("resource_logs[{ri}].scope_logs[{si}].scope: {e}"))
                });
            for (li, lr) in sl.log_records.iter().enumerate() {
                index += 1;
                let path = format!("resource_logs[{ri}].scope_logs[{si}].log_records[{li}]");
                let result = match (&resource_part, &scope_json) {
                    (Err(e), _) | (_, Err(e)) => Err(e.clone()),
                    (Ok((info, resource_json)), Ok(scope_json)) => {
                        map_log_record(info, lr, observed_ns, Doubles::AsReadBack)
                            .map_err(|e| format!("{path}: {e}"))
                            .and_then(|mut record| {
                                let lr_json = to_json(lr).map_err(|e| format!("{path}: {e}"))?;
                                record.raw = format!(
                                    "{{\"resource\":{resource_json},\"scope\":{scope_json},\"logRecord\":{lr_json}}}"
                                );
                                Ok(record)
                            })
                    }
                };
                match result {
                    Ok(record) => out.push(index, record),
                    Err(reason) => out.rejected.push(Rejection {
                        line: index,
                        reason,
                    }),
                }
            }
        }
    }
    out
}

/// The `raw` text of an OTLP record (the scope is not used by the mapping).
#[derive(Deserialize)]
struct RawOtlp {
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(rename = "logRecord")]
    log_record: OtlpLogRecord,
}

/// Rebuilds an OTLP record from its `raw` text. `Err` says what was wrong.
pub(crate) fn rebuild_otlp(raw: &str, observed_ns: i64) -> Result<LogRecord, String> {
    let parsed: RawOtlp =
        serde_json::from_str(raw).map_err(|e| describe_json_error(&e, "record"))?;
    let resource = parsed.resource.unwrap_or_default();
    let info = resource_info(&resource, Doubles::AsIs).map_err(|e| format!("resource.{e}"))?;
    let mut record = map_log_record(&info, &parsed.log_record, observed_ns, Doubles::AsIs)
        .map_err(|e| format!("logRecord: {e}"))?;
    record.raw = raw.to_owned();
    Ok(record)
}

fn to_json<T: Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| format!("cannot encode as OTLP/JSON: {e}"))
}

fn resource_info(resource: &Resource, doubles: Doubles) -> Result<ResourceInfo, String> {
    let attributes = convert_attrs(&resource.attributes, doubles)?;
    let text_of = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                AttrValue::Str(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    Ok(ResourceInfo {
        service: text_of("service.name"),
        host: text_of("host.name"),
        attributes,
    })
}

fn map_log_record(
    res: &ResourceInfo,
    lr: &OtlpLogRecord,
    observed_ns: i64,
    doubles: Doubles,
) -> Result<LogRecord, String> {
    let time = nanos("time_unix_nano", lr.time_unix_nano)?;
    let observed_time = nanos("observed_time_unix_nano", lr.observed_time_unix_nano)?;
    let record_observed = observed_time.unwrap_or(observed_ns);
    let timestamp_ns = time.or(observed_time).unwrap_or(observed_ns);

    let severity_number = match u8::try_from(lr.severity_number) {
        Ok(n @ 1..=24) => n,
        _ => severity_from_text(&lr.severity_text),
    };

    let trace_id = id_hex("trace_id", &lr.trace_id, 16)?;
    let span_id = id_hex("span_id", &lr.span_id, 8)?;

    let body = match &lr.body {
        None => String::new(),
        Some(v) => match convert_value(v, doubles, 1).map_err(|e| format!("body: {e}"))? {
            AttrValue::Null => String::new(),
            AttrValue::Str(s) => s,
            other => to_json_text(&other),
        },
    };

    let attributes = convert_attrs(&lr.attributes, doubles)?;
    let correlation_id = CORRELATION_KEYS
        .iter()
        .find_map(|key| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| match v {
                    AttrValue::Str(s) => Some(s.clone()),
                    AttrValue::Int(i) => Some(i.to_string()),
                    _ => None,
                })
        })
        .unwrap_or_default();

    Ok(LogRecord {
        timestamp_ns,
        observed_ns: record_observed,
        severity_number,
        severity_text: lr.severity_text.clone(),
        service: res.service.clone(),
        host: res.host.clone(),
        body,
        trace_id,
        span_id,
        correlation_id,
        resource: res.attributes.clone(),
        attributes,
        source: Source::Otlp,
        raw: String::new(),
    })
}

/// A non-zero Unix-nanosecond field as i64 (`None` when zero = unset).
fn nanos(field: &str, v: u64) -> Result<Option<i64>, String> {
    if v == 0 {
        return Ok(None);
    }
    i64::try_from(v)
        .map(Some)
        .map_err(|_| format!("{field} {v} is out of range (after the year 2262)"))
}

fn id_hex(field: &str, bytes: &[u8], len: usize) -> Result<String, String> {
    if bytes.is_empty() || (bytes.len() == len && bytes.iter().all(|&b| b == 0)) {
        return Ok(String::new());
    }
    if bytes.len() != len {
        return Err(format!("{field} must be {len} bytes, got {}", bytes.len()));
    }
    Ok(hex::encode(bytes))
}

fn check_attrs_depth(kvs: &[KeyValue]) -> Result<(), String> {
    convert_attrs(kvs, Doubles::AsIs).map(|_| ())
}

/// Errors read `attributes[i] ("key"): …`.
fn convert_attrs(kvs: &[KeyValue], doubles: Doubles) -> Result<Attributes, String> {
    kvs.iter()
        .enumerate()
        .map(|(i, kv)| {
            let value = match &kv.value {
                None => AttrValue::Null,
                Some(v) => convert_value(v, doubles, 1)
                    .map_err(|e| format!("attributes[{i}] ({:?}): {e}", kv.key))?,
            };
            Ok((kv.key.clone(), value))
        })
        .collect()
}

/// AnyValue → AttrValue: kvlist → Object, bytes → lowercase hex string; an empty value, a
/// non-finite double and a profiling string-table reference → Null.
fn convert_value(v: &AnyValue, doubles: Doubles, depth: usize) -> Result<AttrValue, String> {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(format!(
            "value nested deeper than {MAX_ANY_VALUE_DEPTH} levels"
        ));
    }
    Ok(match &v.value {
        None | Some(Value::StringValueStrindex(_)) => AttrValue::Null,
        Some(Value::StringValue(s)) => AttrValue::Str(s.clone()),
        Some(Value::BoolValue(b)) => AttrValue::Bool(*b),
        Some(Value::IntValue(i)) => AttrValue::Int(*i),
        Some(Value::DoubleValue(f)) => match (f.is_finite(), doubles) {
            (false, _) => AttrValue::Null,
            (true, Doubles::AsIs) => AttrValue::Float(*f),
            (true, Doubles::AsReadBack) => AttrValue::Float(read_back(*f)),
        },
        Some(Value::BytesValue(b)) => AttrValue::Str(hex::encode(b)),
        Some(Value::ArrayValue(a)) => AttrValue::Array(
            a.values
                .iter()
                .map(|item| convert_value(item, doubles, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::KvlistValue(kvl)) => AttrValue::Object(
            kvl.values
                .iter()
                .map(|kv| {
                    let value = match &kv.value {
                        None => AttrValue::Null,
                        Some(v) => convert_value(v, doubles, depth + 1)?,
                    };
                    Ok((kv.key.clone(), value))
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// The double serde_json reads back from the text it writes for `f` (finite).
fn read_back(f: f64) -> f64 {
    serde_json::to_string(&f)
        .ok()
        .and_then(|text| serde_json::from_str::<f64>(&text).ok())
        .unwrap_or(f)
}

#[cfg(test)]
mod tests;
