//! OTLP log records → [`LogRecord`].
//!
//! `raw` is the protobuf encoding of a `ResourceLogs` that holds the record's resource, its
//! scope and the record alone: the record exactly as the client sent it, in OTLP's compact
//! encoding (a third of its OTLP/JSON size, which matters for the WAL, the doc store and the
//! CPU spent moving it). [`rebuild_otlp`] decodes it and applies the same mapping;
//! [`otlp_raw_json`] renders it as OTLP/JSON for people.
//!
//! A non-finite double maps to [`AttrValue::Null`] (JSON, which hits are shown in, cannot
//! carry NaN or ±Infinity). Values nested deeper than [`MAX_ANY_VALUE_DEPTH`] are rejected.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLogRecord, ResourceLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::encoding::{encode_key, encode_varint, message, string, WireType};
use prost::Message;

use crate::record::{AttrValue, Attributes, LogRecord, Source};

use super::attrs::to_json_text;
use super::json::CORRELATION_KEYS;
use super::severity::severity_from_text;
use super::{Parsed, Rejection};

/// Deepest AnyValue nesting accepted (a top-level value is depth 1); deeper values are
/// rejected rather than recursed into (prost itself stops decoding at 100 levels).
pub const MAX_ANY_VALUE_DEPTH: usize = 30;

/// Resource-level fields shared by all records of a `ResourceLogs`.
struct ResourceInfo {
    attributes: Attributes,
    service: String,
    host: String,
}

// Field numbers of `ResourceLogs` and `ScopeLogs` in opentelemetry/proto/logs/v1/logs.proto.
const RESOURCE_LOGS_RESOURCE: u32 = 1;
const RESOURCE_LOGS_SCOPE_LOGS: u32 = 2;
const RESOURCE_LOGS_SCHEMA_URL: u32 = 3;
const SCOPE_LOGS_SCOPE: u32 = 1;
const SCOPE_LOGS_LOG_RECORDS: u32 = 2;
const SCOPE_LOGS_SCHEMA_URL: u32 = 3;

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
    let mut index = 0usize;
    for (ri, rl) in req.resource_logs.iter().enumerate() {
        let resource_part = match &rl.resource {
            Some(r) => resource_info(r).map_err(|e| format!("resource_logs[{ri}].resource.{e}")),
            None => resource_info(&Resource::default()).map_err(|e| e.to_string()),
        };
        // The parts of every record's `raw` that its resource and scope contribute are
        // encoded once per resource and per scope.
        let mut resource_bytes = Vec::new();
        if let Some(r) = &rl.resource {
            message::encode(RESOURCE_LOGS_RESOURCE, r, &mut resource_bytes);
        }
        if !rl.schema_url.is_empty() {
            string::encode(
                RESOURCE_LOGS_SCHEMA_URL,
                &rl.schema_url,
                &mut resource_bytes,
            );
        }
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            let scope_check = match &sl.scope {
                Some(scope) => check_attrs_depth(&scope.attributes)
                    .map_err(|e| format!("resource_logs[{ri}].scope_logs[{si}].scope.{e}")),
                None => Ok(()),
            };
            let mut scope_bytes = Vec::new();
            if let Some(scope) = &sl.scope {
                message::encode(SCOPE_LOGS_SCOPE, scope, &mut scope_bytes);
            }
            if !sl.schema_url.is_empty() {
                string::encode(SCOPE_LOGS_SCHEMA_URL, &sl.schema_url, &mut scope_bytes);
            }
            for (li, lr) in sl.log_records.iter().enumerate() {
                index += 1;
                let result = match (&resource_part, &scope_check) {
                    (Err(e), _) | (_, Err(e)) => Err(e.clone()),
                    (Ok(info), Ok(())) => map_log_record(info, lr, observed_ns)
                        .map_err(|e| {
                            format!("resource_logs[{ri}].scope_logs[{si}].log_records[{li}]: {e}")
                        })
                        .map(|mut record| {
                            record.raw = encode_raw(&resource_bytes, &scope_bytes, lr);
                            record
                        }),
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

/// `ResourceLogs { <resource and schema_url>, scope_logs: [ScopeLogs { <scope and
/// schema_url>, log_records: [lr] }] }`, written field by field (protobuf allows any order).
fn encode_raw(resource_bytes: &[u8], scope_bytes: &[u8], lr: &OtlpLogRecord) -> Vec<u8> {
    let lr_len = lr.encoded_len();
    let scope_logs_len = scope_bytes.len() + 1 + prost::length_delimiter_len(lr_len) + lr_len;
    let mut out = Vec::with_capacity(resource_bytes.len() + 2 + 10 + scope_logs_len);
    out.extend_from_slice(resource_bytes);
    encode_key(
        RESOURCE_LOGS_SCOPE_LOGS,
        WireType::LengthDelimited,
        &mut out,
    );
    encode_varint(scope_logs_len as u64, &mut out);
    out.extend_from_slice(scope_bytes);
    message::encode(SCOPE_LOGS_LOG_RECORDS, lr, &mut out);
    out
}

/// The single resource, scope and record of a stored `raw`.
fn decode_raw(raw: &[u8]) -> Result<(Resource, InstrumentationScope, OtlpLogRecord), String> {
    let rl = ResourceLogs::decode(raw)
        .map_err(|e| format!("stored OTLP record does not decode: {e}"))?;
    let resource = rl.resource.unwrap_or_default();
    let mut scope_logs = rl.scope_logs.into_iter();
    let (Some(sl), None) = (scope_logs.next(), scope_logs.next()) else {
        return Err("stored OTLP record must hold exactly one scope".into());
    };
    let mut records = sl.log_records.into_iter();
    let (Some(lr), None) = (records.next(), records.next()) else {
        return Err("stored OTLP record must hold exactly one log record".into());
    };
    Ok((resource, sl.scope.unwrap_or_default(), lr))
}

/// Rebuilds an OTLP record from its stored `raw`. `Err` says what was wrong.
pub(crate) fn rebuild_otlp(raw: &[u8], observed_ns: i64) -> Result<LogRecord, String> {
    let (resource, _scope, lr) = decode_raw(raw)?;
    let info = resource_info(&resource).map_err(|e| format!("resource.{e}"))?;
    let mut record =
        map_log_record(&info, &lr, observed_ns).map_err(|e| format!("logRecord: {e}"))?;
    record.raw = raw.to_vec();
    Ok(record)
}

/// A stored OTLP record as OTLP/JSON: `{"resource":…,"scope":…,"logRecord":…}`
/// (lowerCamelCase keys, hex trace and span ids, 64-bit integers as strings).
pub fn otlp_raw_json(raw: &[u8]) -> Result<String, String> {
    let (resource, scope, lr) = decode_raw(raw)?;
    let json = serde_json::json!({"resource": resource, "scope": scope, "logRecord": lr});
    serde_json::to_string(&json).map_err(|e| format!("cannot render as OTLP/JSON: {e}"))
}

fn resource_info(resource: &Resource) -> Result<ResourceInfo, String> {
    let attributes = convert_attrs(&resource.attributes)?;
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
        Some(v) => match convert_value(v, 1).map_err(|e| format!("body: {e}"))? {
            AttrValue::Null => String::new(),
            AttrValue::Str(s) => s,
            other => to_json_text(&other),
        },
    };

    let attributes = convert_attrs(&lr.attributes)?;
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
        raw: Vec::new(),
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
    convert_attrs(kvs).map(|_| ())
}

/// Errors read `attributes[i] ("key"): …`.
fn convert_attrs(kvs: &[KeyValue]) -> Result<Attributes, String> {
    kvs.iter()
        .enumerate()
        .map(|(i, kv)| {
            let value = match &kv.value {
                None => AttrValue::Null,
                Some(v) => convert_value(v, 1)
                    .map_err(|e| format!("attributes[{i}] ({:?}): {e}", kv.key))?,
            };
            Ok((kv.key.clone(), value))
        })
        .collect()
}

/// AnyValue → AttrValue: kvlist → Object, bytes → lowercase hex string; an empty value, a
/// non-finite double and a profiling string-table reference → Null.
fn convert_value(v: &AnyValue, depth: usize) -> Result<AttrValue, String> {
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
        Some(Value::DoubleValue(f)) if f.is_finite() => AttrValue::Float(*f),
        Some(Value::DoubleValue(_)) => AttrValue::Null,
        Some(Value::BytesValue(b)) => AttrValue::Str(hex::encode(b)),
        Some(Value::ArrayValue(a)) => AttrValue::Array(
            a.values
                .iter()
                .map(|item| convert_value(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::KvlistValue(kvl)) => AttrValue::Object(
            kvl.values
                .iter()
                .map(|kv| {
                    let value = match &kv.value {
                        None => AttrValue::Null,
                        Some(v) => convert_value(v, depth + 1)?,
                    };
                    Ok((kv.key.clone(), value))
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests;
