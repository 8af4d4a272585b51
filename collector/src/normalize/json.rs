//! JSON log objects (`POST /api/v1/logs`) → [`LogRecord`].
//!
//! Field aliases, first present (in this priority order) wins; a key used for a field is
//! removed from the attributes, every other key (including the other aliases) stays an
//! attribute in the order sent:
//!
//! | field          | keys                                                            |
//! |----------------|-----------------------------------------------------------------|
//! | timestamp      | `ts`, `timestamp`, `time`, `@timestamp`                         |
//! | severity       | `level`, `severity`, `lvl`, `levelname`                         |
//! | body           | `msg`, `message`, `body`, `log`                                 |
//! | service        | `service`, `service.name`, `app`                                |
//! | host           | `host`, `hostname`, `host.name`                                 |
//! | trace_id       | `trace_id`, `traceId`, `trace.id`, `traceid`                    |
//! | span_id        | `span_id`, `spanId`, `span.id`                                  |
//! | correlation_id | `correlation_id`, `request_id`, `x-request-id`, `requestId`, `correlationId` |
//!
//! Only the first occurrence of a duplicated key is considered. A `null` value counts as absent
//! (the key stays an attribute). Values a field cannot use are handled per field: a service,
//! host or correlation id that is not a string or number (or, for `service`, an object with a
//! string `name`) is skipped and the next alias is tried; a timestamp that does not parse, a
//! severity that is not a string or number, or a trace/span id that is not a string rejects
//! the record.

use crate::record::{AttrValue, Attributes, LogRecord, Source};

use super::attrs::{describe_json_error, parse_json_text, to_json_text, type_name};
use super::severity::{severity_from_number, severity_from_text};
use super::timestamp::parse_timestamp_attr;

pub(crate) const TIMESTAMP_KEYS: &[&str] = &["ts", "timestamp", "time", "@timestamp"];
pub(crate) const SEVERITY_KEYS: &[&str] = &["level", "severity", "lvl", "levelname"];
pub(crate) const BODY_KEYS: &[&str] = &["msg", "message", "body", "log"];
pub(crate) const SERVICE_KEYS: &[&str] = &["service", "service.name", "app"];
pub(crate) const HOST_KEYS: &[&str] = &["host", "hostname", "host.name"];
pub(crate) const TRACE_ID_KEYS: &[&str] = &["trace_id", "traceId", "trace.id", "traceid"];
pub(crate) const SPAN_ID_KEYS: &[&str] = &["span_id", "spanId", "span.id"];
pub(crate) const CORRELATION_KEYS: &[&str] = &[
    "correlation_id",
    "request_id",
    "x-request-id",
    "requestId",
    "correlationId",
];

/// One JSON object's text → record (`raw` = exactly this text). `Err(reason)` names the field
/// and the problem.
pub fn normalize_json_object(raw: &str, observed_ns: i64) -> Result<LogRecord, String> {
    let value = parse_json_text(raw).map_err(|e| describe_json_error(&e, "record"))?;
    let mut attrs = match value {
        AttrValue::Object(fields) => fields,
        other => {
            return Err(format!(
                "expected a JSON object, found {}",
                type_name(&other)
            ))
        }
    };

    let timestamp_ns = take_field(&mut attrs, TIMESTAMP_KEYS, |v| {
        Pick::from_result(parse_timestamp_attr(v))
    })?
    .unwrap_or(observed_ns);

    let (severity_number, severity_text) =
        take_field(&mut attrs, SEVERITY_KEYS, severity_of)?.unwrap_or((0, String::new()));

    let body = take_field(&mut attrs, BODY_KEYS, |v| {
        Pick::Use(match v {
            AttrValue::Str(s) => s.clone(),
            other => to_json_text(other),
        })
    })?
    .unwrap_or_default();

    let service = take_field(&mut attrs, SERVICE_KEYS, |v| match v {
        AttrValue::Object(fields) => match fields.iter().find(|(k, _)| k == "name") {
            Some((_, AttrValue::Str(name))) => Pick::Use(name.clone()),
            _ => Pick::Skip,
        },
        other => scalar_text(other),
    })?
    .unwrap_or_default();

    let host = take_field(&mut attrs, HOST_KEYS, scalar_text)?.unwrap_or_default();
    let trace_id = take_field(&mut attrs, TRACE_ID_KEYS, id_text)?.unwrap_or_default();
    let span_id = take_field(&mut attrs, SPAN_ID_KEYS, id_text)?.unwrap_or_default();
    let correlation_id = take_field(&mut attrs, CORRELATION_KEYS, scalar_text)?.unwrap_or_default();

    Ok(LogRecord {
        timestamp_ns,
        observed_ns,
        severity_number,
        severity_text,
        service,
        host,
        body,
        trace_id,
        span_id,
        correlation_id,
        resource: Vec::new(),
        attributes: attrs,
        source: Source::Json,
        raw: raw.as_bytes().to_vec(),
    })
}

/// What a field makes of the value under one of its keys.
enum Pick<T> {
    /// Use it (the key is removed from the attributes).
    Use(T),
    /// Not usable for this field: keep it as an attribute and try the next alias.
    Skip,
    /// Reject the record with this reason.
    Reject(String),
}

impl<T> Pick<T> {
    fn from_result(r: Result<T, String>) -> Pick<T> {
        match r {
            Ok(t) => Pick::Use(t),
            Err(e) => Pick::Reject(e),
        }
    }
}

/// Finds the first alias present (first occurrence of the key, non-null) that `pick` accepts,
/// removes it from `attrs` and returns what `pick` made of it.
fn take_field<T>(
    attrs: &mut Attributes,
    aliases: &[&str],
    pick: impl Fn(&AttrValue) -> Pick<T>,
) -> Result<Option<T>, String> {
    for alias in aliases {
        let Some(pos) = attrs.iter().position(|(k, _)| k == alias) else {
            continue;
        };
        let value = &attrs[pos].1;
        if matches!(value, AttrValue::Null) {
            continue;
        }
        match pick(value) {
            Pick::Use(t) => {
                attrs.remove(pos);
                return Ok(Some(t));
            }
            Pick::Skip => continue,
            Pick::Reject(reason) => return Err(format!("field \"{alias}\": {reason}")),
        }
    }
    Ok(None)
}

fn severity_of(v: &AttrValue) -> Pick<(u8, String)> {
    match v {
        AttrValue::Str(s) => {
            let number = match s.trim().parse::<i64>() {
                Ok(n) => severity_from_number(n),
                Err(_) => severity_from_text(s),
            };
            Pick::Use((number, s.clone()))
        }
        AttrValue::Int(n) => Pick::Use((severity_from_number(*n), n.to_string())),
        AttrValue::Float(f) => {
            let number = if f.fract() == 0.0 && f.abs() <= 1e15 {
                severity_from_number(*f as i64)
            } else {
                0
            };
            Pick::Use((number, to_json_text(v)))
        }
        other => Pick::Reject(format!(
            "expected a severity name or number, found {}",
            type_name(other)
        )),
    }
}

/// Strings as sent; numbers and booleans as their JSON text; anything else is skipped.
fn scalar_text(v: &AttrValue) -> Pick<String> {
    match v {
        AttrValue::Str(s) => Pick::Use(s.clone()),
        AttrValue::Int(_) | AttrValue::Float(_) | AttrValue::Bool(_) => Pick::Use(to_json_text(v)),
        _ => Pick::Skip,
    }
}

fn id_text(v: &AttrValue) -> Pick<String> {
    match v {
        AttrValue::Str(s) => Pick::Use(s.trim().to_ascii_lowercase()),
        other => Pick::Reject(format!("expected a string, found {}", type_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBS: i64 = 1_111_111_111_000_000_000;

    fn norm(raw: &str) -> LogRecord {
        match normalize_json_object(raw, OBS) {
            Ok(r) => r,
            Err(e) => panic!("normalize_json_object({raw}) failed: {e}"),
        }
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.into())
    }

    #[test]
    fn full_record() {
        let raw = r#"{"ts":"2024-01-02T03:04:05.5Z","level":"WARN","msg":"disk full","service":"api","host":"web-1","trace_id":" 4BF92F3577B34DA6A3CE929D0E0E4736 ","span_id":"00F067AA0BA902B7","request_id":"req-9","user":{"id":7,"tags":["a","b"]},"n":1.25,"big":18446744073709551615}"#;
        let r = norm(raw);
        assert_eq!(r.timestamp_ns, 1_704_164_645_500_000_000);
        assert_eq!(r.observed_ns, OBS);
        assert_eq!(r.severity_number, 13);
        assert_eq!(r.severity_text, "WARN");
        assert_eq!(r.body, "disk full");
        assert_eq!(r.service, "api");
        assert_eq!(r.host, "web-1");
        assert_eq!(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id, "00f067aa0ba902b7");
        assert_eq!(r.correlation_id, "req-9");
        assert_eq!(r.source, Source::Json);
        assert_eq!(r.raw, raw.as_bytes());
        assert!(r.resource.is_empty());
        assert_eq!(
            r.attributes,
            vec![
                (
                    "user".to_string(),
                    AttrValue::Object(vec![
                        ("id".into(), AttrValue::Int(7)),
                        ("tags".into(), AttrValue::Array(vec![s("a"), s("b")])),
                    ])
                ),
                ("n".to_string(), AttrValue::Float(1.25)),
                ("big".to_string(), AttrValue::Float(18446744073709551615.0)),
            ]
        );
    }

    #[test]
    fn empty_object_defaults() {
        let r = norm("{}");
        assert_eq!(r.timestamp_ns, OBS);
        assert_eq!(r.severity_number, 0);
        assert_eq!(r.severity_text, "");
        assert_eq!(r.body, "");
        assert_eq!(r.service, "");
        assert_eq!(r.trace_id, "");
        assert!(r.attributes.is_empty());
    }

    /// For each field: each alias alone is used, and when all are present the first wins and
    /// the others stay attributes (in the order sent).
    #[test]
    fn every_alias_and_priority() {
        type Getter = fn(&LogRecord) -> String;
        let fields: [(&[&str], Getter); 7] = [
            (SEVERITY_KEYS, |r| r.severity_text.clone()),
            (BODY_KEYS, |r| r.body.clone()),
            (SERVICE_KEYS, |r| r.service.clone()),
            (HOST_KEYS, |r| r.host.clone()),
            (TRACE_ID_KEYS, |r| r.trace_id.clone()),
            (SPAN_ID_KEYS, |r| r.span_id.clone()),
            (CORRELATION_KEYS, |r| r.correlation_id.clone()),
        ];
        for (keys, get) in fields {
            for (i, key) in keys.iter().enumerate() {
                let r = norm(&format!(r#"{{"{key}":"v{i}","other":1}}"#));
                assert_eq!(get(&r), format!("v{i}"), "alias {key}");
                assert_eq!(
                    r.attributes,
                    vec![("other".into(), AttrValue::Int(1))],
                    "alias {key}"
                );
            }
            // All aliases present, in reverse priority order.
            let mut obj = String::from("{");
            for (i, key) in keys.iter().enumerate().rev() {
                obj.push_str(&format!(r#""{key}":"v{i}","#));
            }
            obj.pop();
            obj.push('}');
            let r = norm(&obj);
            assert_eq!(get(&r), "v0", "priority for {keys:?}");
            let left: Vec<(String, AttrValue)> = keys
                .iter()
                .enumerate()
                .skip(1)
                .rev()
                .map(|(i, k)| (k.to_string(), s(&format!("v{i}"))))
                .collect();
            assert_eq!(r.attributes, left, "remaining aliases for {keys:?}");
        }
        // Timestamp aliases.
        for key in TIMESTAMP_KEYS {
            let r = norm(&format!(r#"{{"{key}":1700000000}}"#));
            assert_eq!(r.timestamp_ns, 1_700_000_000_000_000_000, "alias {key}");
            assert!(r.attributes.is_empty());
        }
        let r = norm(r#"{"@timestamp":3,"time":2,"timestamp":1,"ts":4}"#);
        assert_eq!(r.timestamp_ns, 4_000_000_000);
        assert_eq!(
            r.attributes,
            vec![
                ("@timestamp".into(), AttrValue::Int(3)),
                ("time".into(), AttrValue::Int(2)),
                ("timestamp".into(), AttrValue::Int(1)),
            ]
        );
    }

    #[test]
    fn service_forms() {
        let r = norm(r#"{"service":{"name":"billing","version":"2"}}"#);
        assert_eq!(r.service, "billing");
        assert!(r.attributes.is_empty());
        // An object without a string name is not a service name: next alias is used.
        let r = norm(r#"{"service":{"version":"2"},"app":"shop"}"#);
        assert_eq!(r.service, "shop");
        assert_eq!(
            r.attributes,
            vec![(
                "service".into(),
                AttrValue::Object(vec![("version".into(), s("2"))])
            )]
        );
        let r = norm(r#"{"service.name":"x","service":null}"#);
        assert_eq!(r.service, "x");
        assert_eq!(r.attributes, vec![("service".into(), AttrValue::Null)]);
        let r = norm(r#"{"request_id":12345}"#);
        assert_eq!(r.correlation_id, "12345");
    }

    #[test]
    fn severities() {
        let cases: [(&str, u8, &str); 14] = [
            (r#""info""#, 9, "info"),
            (r#""INFO""#, 9, "INFO"),
            (r#""Warning""#, 13, "Warning"),
            (r#""err""#, 17, "err"),
            (r#""CRITICAL""#, 21, "CRITICAL"),
            (r#""verbose-ish""#, 0, "verbose-ish"),
            ("30", 9, "30"),
            ("10", 1, "10"),
            ("20", 5, "20"),
            ("50", 17, "50"),
            ("60", 21, "60"),
            ("17", 17, "17"),
            ("99", 0, "99"),
            (r#""40""#, 13, "40"),
        ];
        for (value, number, text) in cases {
            let r = norm(&format!(r#"{{"level":{value}}}"#));
            assert_eq!(r.severity_number, number, "level {value}");
            assert_eq!(r.severity_text, text, "level {value}");
        }
        let r = norm(r#"{"levelname":"DEBUG"}"#);
        assert_eq!((r.severity_number, r.severity_text.as_str()), (5, "DEBUG"));
        assert_eq!(
            normalize_json_object(r#"{"level":["x"]}"#, OBS),
            Err(r#"field "level": expected a severity name or number, found an array"#.into())
        );
    }

    #[test]
    fn body_forms() {
        assert_eq!(norm(r#"{"msg":"hi"}"#).body, "hi");
        assert_eq!(
            norm(r#"{"msg":{"a":[1, 2.5,true]}}"#).body,
            r#"{"a":[1,2.5,true]}"#
        );
        assert_eq!(norm(r#"{"message":42}"#).body, "42");
        assert_eq!(norm(r#"{"log":"line\n2"}"#).body, "line\n2");
    }

    #[test]
    fn rejections_name_the_field() {
        assert_eq!(
            normalize_json_object(r#"{"ts":"garbage"}"#, OBS),
            Err(
                r#"field "ts": cannot parse "garbage" as a timestamp (RFC 3339 or epoch s/ms/µs/ns)"#
                    .into()
            )
        );
        assert_eq!(
            normalize_json_object(r#"{"traceId":123}"#, OBS),
            Err(r#"field "traceId": expected a string, found a number"#.into())
        );
        assert_eq!(
            normalize_json_object(r#"{"span.id":{}}"#, OBS),
            Err(r#"field "span.id": expected a string, found an object"#.into())
        );
        assert_eq!(
            normalize_json_object("[1]", OBS),
            Err("expected a JSON object, found an array".into())
        );
        assert_eq!(
            normalize_json_object("\"x\"", OBS),
            Err("expected a JSON object, found a string".into())
        );
        assert_eq!(
            normalize_json_object("{\"a\":1", OBS),
            Err("not JSON: EOF while parsing an object at column 6".into())
        );
        assert_eq!(
            normalize_json_object("{} x", OBS),
            Err("not JSON: trailing characters at column 4".into())
        );
    }

    #[test]
    fn null_timestamp_is_absent() {
        let r = norm(r#"{"ts":null,"time":"1700000000"}"#);
        assert_eq!(r.timestamp_ns, 1_700_000_000_000_000_000);
        assert_eq!(r.attributes, vec![("ts".into(), AttrValue::Null)]);
    }

    #[test]
    fn duplicate_keys_first_is_used() {
        let r = norm(r#"{"msg":"a","msg":"b"}"#);
        assert_eq!(r.body, "a");
        assert_eq!(r.attributes, vec![("msg".into(), s("b"))]);
    }
}
