//! Property tests: no input panics the parsers, every rejection names a line within the body,
//! and `rebuild(normalise(x)) == normalise(x)` for generated JSON and OTLP records.

use proptest::prelude::*;

use super::*;

const OBS: i64 = 1_600_000_000_000_000_000;

/// Byte soup biased towards JSON-looking input.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b",".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"msg\"".to_vec()),
        Just(b"\"ts\"".to_vec()),
        Just(b"\"level\"".to_vec()),
        Just(b"\"trace_id\"".to_vec()),
        Just(b"\"x\"".to_vec()),
        Just(b"1700000000".to_vec()),
        Just(b"-1.5e3".to_vec()),
        Just(b"null".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\xe2\x82".to_vec()),
        Just(b"{\"msg\":\"ok\"}\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec(token, 0..64).prop_map(|ts| ts.concat()),
    ]
}

/// Values for generated JSON objects: aliases' plausible and implausible values.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (0i64..4_000_000_000).prop_map(Value::from),
        (0.0f64..4e9).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "info",
            "WARN",
            "err",
            "fatal",
            "30",
            "dbg",
            "garbage",
            " 4BF92F35 ",
            "",
            "2024-01-02T03:04:05.123Z",
            "2024-01-02 03:04:05+01:00",
            "1700000000.5",
            "1700000000123456",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z]{1,4}|name", inner), 0..4)
                .prop_map(|kvs| Value::Object(kvs.into_iter().collect())),
        ]
    })
}

const ALIAS_GROUPS: [&[&str]; 8] = [
    json::TIMESTAMP_KEYS,
    json::SEVERITY_KEYS,
    json::BODY_KEYS,
    json::SERVICE_KEYS,
    json::HOST_KEYS,
    json::TRACE_ID_KEYS,
    json::SPAN_ID_KEYS,
    json::CORRELATION_KEYS,
];

fn json_key() -> impl Strategy<Value = String> {
    let aliases: Vec<&str> = ALIAS_GROUPS.concat();
    prop_oneof![
        3 => prop::sample::select(aliases).prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bodies_never_panic(bytes in body_bytes(), max in prop_oneof![Just(1usize << 20), 1usize..64]) {
        let limits = JsonLimits { max_line_bytes: max };
        let stripped = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let array_mode = stripped.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        match parse_json_body(&bytes, OBS, &limits) {
            Ok(p) => {
                let upper = if array_mode {
                    p.records.len() + p.rejected.len()
                } else {
                    bytes.split(|&b| b == b'\n').count()
                };
                let mut last = 0;
                for r in &p.rejected {
                    prop_assert!(r.line >= 1 && r.line <= upper, "line {} out of 1..={}", r.line, upper);
                    prop_assert!(r.line > last, "lines not increasing");
                    prop_assert!(!r.reason.is_empty());
                    last = r.line;
                }
                for r in &p.records {
                    prop_assert!(r.raw.len() <= max);
                    let rebuilt = rebuild(r.source, &r.raw, r.observed_ns);
 prop_assert_eq!(rebuilt.as_ref(), Ok(r));
                }
            }
            Err(e) => {
                prop_assert!(array_mode, "only array bodies fail as a whole: {}", e);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn json_objects_rebuild_identically(
        fields in proptest::collection::vec((json_key(), json_value()), 0..10),
        observed in any::<i64>(),
    ) {
        // Built by hand so duplicate keys survive.
        let parts: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
            .collect();
        let text = format!("{{{}}}", parts.join(","));
        match normalize_json_object(&text, observed) {
            Ok(r) => {
                prop_assert_eq!(&r.raw, text.as_bytes());
                prop_assert_eq!(r.observed_ns, observed);
                let rebuilt = rebuild(Source::Json, &r.raw, r.observed_ns);
 prop_assert_eq!(rebuilt.as_ref(), Ok(&r));
                // Attributes are the input keys in order, minus at most one key per field,
                // and only alias keys are removed.
                let mut removed: Vec<&str> = Vec::new();
                let mut attrs = r.attributes.iter().peekable();
                for (k, _) in &fields {
                    match attrs.peek() {
                        Some((ak, _)) if ak == k => {
                            attrs.next();
                        }
                        _ => removed.push(k),
                    }
                }
                prop_assert!(attrs.next().is_none(), "attributes are not a subsequence of the input");
                for group in ALIAS_GROUPS {
                    let n = removed.iter().filter(|k| group.contains(k)).count();
                    prop_assert!(n <= 1, "{} keys of {:?} removed", n, group);
                }
                let all: Vec<&str> = ALIAS_GROUPS.concat();
                prop_assert!(removed.iter().all(|k| all.contains(k)), "non-alias removed: {:?}", removed);
                // The same object as an NDJSON line gives the same record.
                let p = parse_json_body(text.as_bytes(), observed, &JsonLimits::default())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(p.records.first(), Some(&r));
            }
            Err(reason) => {
                prop_assert!(reason.starts_with("field \""), "unexpected reason {}", reason);
                prop_assert!(rebuild(Source::Json, text.as_bytes(), observed).is_err());
            }
        }
    }
}

mod otlp_props {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
    };
    use opentelemetry_proto::tonic::logs::v1::{
        LogRecord as OtlpLogRecord, ResourceLogs, ScopeLogs,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn any_value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            Just(None),
            "\\PC{0,8}".prop_map(|s| Some(Value::StringValue(s))),
            any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
            any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
            any::<u64>().prop_map(|bits| Some(Value::DoubleValue(f64::from_bits(bits)))),
            any::<f64>().prop_map(|f| Some(Value::DoubleValue(f))),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(|b| Some(Value::BytesValue(b))),
            any::<i32>().prop_map(|i| Some(Value::StringValueStrindex(i))),
        ]
        .prop_map(|value| AnyValue { value });
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                    value: Some(Value::ArrayValue(ArrayValue { values }))
                }),
                proptest::collection::vec(key_value_with(inner), 0..3).prop_map(|values| {
                    AnyValue {
                        value: Some(Value::KvlistValue(KeyValueList { values })),
                    }
                }),
            ]
        })
    }

    fn key_value_with(v: impl Strategy<Value = AnyValue>) -> impl Strategy<Value = KeyValue> {
        (
            prop_oneof![
                Just("service.name".to_string()),
                Just("host.name".to_string()),
                Just("request_id".to_string()),
                Just("requestId".to_string()),
                "[a-z.]{0,6}",
            ],
            proptest::option::of(v),
        )
            .prop_map(|(key, value)| KeyValue {
                key,
                value,
                ..Default::default()
            })
    }

    fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(Vec::new()),
            Just(vec![0; len]),
            proptest::collection::vec(any::<u8>(), len..=len),
            proptest::collection::vec(any::<u8>(), 0..20),
        ]
    }

    fn log_record() -> impl Strategy<Value = OtlpLogRecord> {
        (
            prop_oneof![Just(0u64), any::<u64>(), 0u64..(1 << 62)],
            prop_oneof![Just(0u64), any::<u64>(), 0u64..(1 << 62)],
            prop_oneof![0i32..30, any::<i32>()],
            prop_oneof![Just(String::new()), Just("WARN".to_string()), "\\PC{0,6}"],
            proptest::option::of(any_value()),
            proptest::collection::vec(key_value_with(any_value()), 0..4),
            id(16),
            id(8),
        )
            .prop_map(
                |(
                    time,
                    observed,
                    severity_number,
                    severity_text,
                    body,
                    attributes,
                    trace_id,
                    span_id,
                )| {
                    OtlpLogRecord {
                        time_unix_nano: time,
                        observed_time_unix_nano: observed,
                        severity_number,
                        severity_text,
                        body,
                        attributes,
                        trace_id,
                        span_id,
                        ..Default::default()
                    }
                },
            )
    }

    proptest! {
           #![proptest_config(ProptestConfig::with_cases(256))]

           #[test]
           fn otlp_records_rebuild_identically(
               resource_attrs in proptest::collection::vec(key_value_with(any_value()), 0..4),
               records in proptest::collection::vec(log_record(), 0..5),
               observed in any::<i64>(),
           ) {
               let total = records.len();
               let req = ExportLogsServiceRequest {
                   resource_logs: vec![ResourceLogs {
                       resource: Some(Resource { attributes: resource_attrs, ..Default::default() }),
                       scope_logs: vec![ScopeLogs {
                           scope: Some(InstrumentationScope { name: "s".into(), ..Default::default() }),
                           log_records: records,
                           schema_url: String::new(),
                       }],
                       schema_url: String::new(),
                   }],
               };
               let p = otlp_to_records(&req, observed);
               prop_assert_eq!(p.records.len() + p.rejected.len(), total);
               for r in &p.rejected {
                   prop_assert!(r.line >= 1 && r.line <= total);
                   prop_assert!(r.reason.starts_with("resource_logs[0].scope_logs[0].log_records["), "{}", r.reason);
               }
               for r in &p.records {
                   let rebuilt = rebuild(Source::Otlp, &r.raw, r.observed_ns);
    prop_assert_eq!(rebuilt.as_ref(), Ok(r));
                   prop_assert!(r.trace_id.is_empty() || r.trace_id.len() == 32);
                   prop_assert!(r.span_id.is_empty() || r.span_id.len() == 16);
                   prop_assert!(r.severity_number <= 24);
               }
           }
       }
}
