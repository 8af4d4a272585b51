//! Body-level tests and property tests for the normalisers.

use proptest::prelude::*;

use super::*;
use crate::record::AttrValue;

const OBS: i64 = 1_600_000_000_000_000_000;

fn body(text: &[u8]) -> Parsed {
    match parse_json_body(text, OBS, &JsonLimits::default()) {
        Ok(p) => p,
        Err(e) => panic!("parse_json_body failed: {e}"),
    }
}

fn assert_rebuilds(parsed: &Parsed) {
    for r in &parsed.records {
        assert_eq!(
            rebuild(r.source, &r.raw, r.observed_ns).as_ref(),
            Ok(r),
            "raw {}",
            r.raw
        );
    }
}

#[test]
fn ndjson_bad_lines_in_the_middle() {
    let text = b"{\"msg\":\"a\"}\n\
                 garbage\n\
                 \n\
                 [1,2]\n\
                 {\"msg\":\"b\",\"ts\":\"garbage\"}\n   \n\
                 {\"msg\":\"c\",\"level\":\"info\"}\n\
                 {\"a\": }\n";
    let p = body(text);
    let bodies: Vec<&str> = p.records.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["a", "c"]);
    assert_eq!(
        p.rejected,
        vec![
            Rejection {
                line: 2,
                reason: "not JSON: expected value at column 1".into()
            },
            Rejection {
                line: 4,
                reason: "expected a JSON object, found an array".into()
            },
            Rejection {
                line: 5,
                reason: "field \"ts\": cannot parse \"garbage\" as a timestamp (RFC 3339 or epoch s/ms/µs/ns)".into()
            },
            Rejection {
                line: 8,
                reason: "not JSON: expected value at column 7".into()
            },
        ]
    );
    assert_eq!(p.records[0].raw, "{\"msg\":\"a\"}");
    assert_eq!(p.records[1].severity_number, 9);
    assert_rebuilds(&p);
}

#[test]
fn crlf_lines_and_bom() {
    let p = body(b"\xEF\xBB\xBF{\"msg\":\"a\"}\r\n\r\n{\"msg\":\"b\"}\r\nnope\r\n");
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.records[0].raw, "{\"msg\":\"a\"}");
    assert_eq!(p.records[1].raw, "{\"msg\":\"b\"}");
    assert_eq!(p.records[1].body, "b");
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 4);
    assert_rebuilds(&p);
}

#[test]
fn empty_and_blank_bodies() {
    for text in [&b""[..], b"   \n\r\n\t", b"\xEF\xBB\xBF"] {
        let p = body(text);
        assert!(p.records.is_empty() && p.rejected.is_empty(), "{text:?}");
    }
}

#[test]
fn array_body() {
    let text = b"  [ {\"msg\":\"a\", \"n\": [1, {\"x\": null}]} , 5,\n{\"msg\":\"b\",\n \"ts\": 1700000000123}, \"s\" ]  ";
    let p = body(text);
    assert_eq!(p.records.len(), 2);
    assert_eq!(
        p.records[0].raw,
        "{\"msg\":\"a\", \"n\": [1, {\"x\": null}]}"
    );
    assert_eq!(
        p.records[0].attributes,
        vec![(
            "n".to_string(),
            AttrValue::Array(vec![
                AttrValue::Int(1),
                AttrValue::Object(vec![("x".into(), AttrValue::Null)])
            ])
        )]
    );
    assert_eq!(p.records[1].raw, "{\"msg\":\"b\",\n \"ts\": 1700000000123}");
    assert_eq!(p.records[1].timestamp_ns, 1_700_000_000_123_000_000);
    assert_eq!(
        p.rejected,
        vec![
            Rejection {
                line: 2,
                reason: "element 2: expected a JSON object, found a number".into()
            },
            Rejection {
                line: 4,
                reason: "element 4: expected a JSON object, found a string".into()
            },
        ]
    );
    assert_rebuilds(&p);
}

#[test]
fn array_body_invalid_as_a_whole() {
    let err = parse_json_body(
        b"[{\"msg\":\"a\"},\n  {\"msg\": }]",
        OBS,
        &JsonLimits::default(),
    )
    .expect_err("invalid array");
    match &err {
        NormalizeError::InvalidArray {
            line,
            column,
            reason,
        } => {
            assert_eq!((*line, *column), (2, 11));
            assert_eq!(reason, "expected value");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "body is not a valid JSON array: expected value at line 2 column 11"
    );
    let err = parse_json_body(b"[{}] x", OBS, &JsonLimits::default()).expect_err("trailing");
    assert!(
        matches!(
            err,
            NormalizeError::InvalidArray {
                line: 1,
                column: 6,
                ..
            }
        ),
        "{err:?}"
    );
    let err = parse_json_body(b"[{\"a\":\"\n\xff\"}]", OBS, &JsonLimits::default())
        .expect_err("invalid UTF-8");
    assert!(
        matches!(
            err,
            NormalizeError::InvalidUtf8 {
                line: 2,
                column: 1,
                byte: 9
            }
        ),
        "{err:?}"
    );
}

#[test]
fn deep_nesting_rejected_cleanly() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    // NDJSON: the deep line is rejected, its neighbours kept.
    let text = format!("{{\"msg\":\"a\"}}\n{{\"a\":{deep}}}\n{deep}\n{{\"msg\":\"b\"}}");
    let p = body(text.as_bytes());
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.rejected.len(), 2);
    assert_eq!(p.rejected[0].line, 2);
    assert_eq!(
        p.rejected[0].reason,
        "nested deeper than 127 levels (at column 132)"
    );
    assert_eq!(p.rejected[1].line, 3);
    assert!(p.rejected[1]
        .reason
        .starts_with("nested deeper than 127 levels"));
    // Unclosed deep input too.
    let p = body("{\"a\":".repeat(10_000).as_bytes());
    assert_eq!(p.rejected.len(), 1);
    assert!(p.rejected[0]
        .reason
        .starts_with("nested deeper than 127 levels"));
    // Array body: the deep element is rejected, the others kept.
    let text = format!("[{{\"msg\":\"a\"}},{{\"a\":{deep}}},{{\"msg\":\"b\"}}]");
    let p = body(text.as_bytes());
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].line, 2);
    assert!(
        p.rejected[0]
            .reason
            .starts_with("element 2: nested deeper than 127 levels"),
        "{}",
        p.rejected[0].reason
    );
    // Exactly at the limit is fine.
    let ok = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
    let p = body(ok.as_bytes());
    assert_eq!(p.records.len(), 1, "{:?}", p.rejected);
}

#[test]
fn invalid_utf8_line() {
    let p = body(
        b"{\"msg\":\"ok\"}\n{\"msg\":\"\xff\"}\n{\"msg\":\"\xe2\x82\"}\n{\"msg\":\"\xe2\x82\xac\"}",
    );
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.records[1].body, "€");
    assert_eq!(
        p.rejected,
        vec![
            Rejection {
                line: 2,
                reason: "invalid UTF-8 at byte 9 of the line".into()
            },
            Rejection {
                line: 3,
                reason: "invalid UTF-8 at byte 9 of the line".into()
            },
        ]
    );
}

#[test]
fn over_long_line() {
    let limits = JsonLimits { max_line_bytes: 20 };
    let long = format!("{{\"msg\":\"{}\"}}", "x".repeat(20));
    // The over-long line is not even parsed (it is not valid JSON either).
    let text = format!(
        "{{\"msg\":\"a\"}}\n{long}\r\n{{\"msg\":\"{}\n{{\"msg\":\"b\"}}",
        "y".repeat(30)
    );
    let p = parse_json_body(text.as_bytes(), OBS, &limits).expect("NDJSON never fails");
    assert_eq!(p.records.len(), 2);
    assert_eq!(
        p.rejected,
        vec![
            Rejection {
                line: 2,
                reason: "line is 30 bytes, over the 20-byte limit".into()
            },
            Rejection {
                line: 3,
                reason: "line is 38 bytes, over the 20-byte limit".into()
            },
        ]
    );
    // Exactly at the limit is accepted.
    let exact = format!("{{\"msg\":\"{}\"}}", "x".repeat(10));
    assert_eq!(exact.len(), 20);
    let p = parse_json_body(exact.as_bytes(), OBS, &limits).expect("ok");
    assert_eq!(p.records.len(), 1);
    // Array elements have the same limit.
    let text = format!("[{long}, {{\"msg\":\"a\"}}]");
    let p = parse_json_body(text.as_bytes(), OBS, &limits).expect("valid array");
    assert_eq!(p.records.len(), 1);
    assert_eq!(
        p.rejected,
        vec![Rejection {
            line: 1,
            reason: "element 1: element is 30 bytes, over the 20-byte limit".into()
        }]
    );
}

#[test]
fn rebuild_errors_name_the_problem() {
    let err = rebuild(Source::Json, "{\"ts\":true}", OBS).expect_err("bad ts");
    assert_eq!(
        err.to_string(),
        "cannot rebuild Json record: field \"ts\": cannot parse true as a timestamp (RFC 3339 or epoch s/ms/µs/ns)"
    );
    let err = rebuild(Source::Otlp, "{}", OBS).expect_err("no logRecord");
    assert!(err.to_string().contains("logRecord"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Property tests

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
                prop_assert_eq!(&r.raw, &text);
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
                prop_assert!(rebuild(Source::Json, &text, observed).is_err());
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
