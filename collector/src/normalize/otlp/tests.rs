//! Tests of the OTLP mapping and its exact rebuild.

use super::*;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};

pub(crate) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn str_v(s: &str) -> Value {
    Value::StringValue(s.into())
}

fn request(records: Vec<Vec<OtlpLogRecord>>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", str_v("checkout")),
                    kv("host.name", str_v("node-3")),
                    kv("k8s.pod.uid", Value::BytesValue(vec![0xAB, 0x01])),
                    kv("replicas", Value::IntValue(3)),
                ],
                ..Default::default()
            }),
            scope_logs: records
                .into_iter()
                .map(|log_records| ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "my.lib".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    log_records,
                    schema_url: String::new(),
                })
                .collect(),
            schema_url: String::new(),
        }],
    }
}

fn full_record() -> OtlpLogRecord {
    OtlpLogRecord {
        time_unix_nano: 1_700_000_000_000_000_001,
        observed_time_unix_nano: 1_700_000_000_500_000_000,
        severity_number: 17,
        severity_text: "Error".into(),
        body: Some(AnyValue {
            value: Some(str_v("payment failed")),
        }),
        attributes: vec![
            kv("request_id", str_v("r-1")),
            kv("ratio", Value::DoubleValue(0.1)),
            kv(
                "nested",
                Value::KvlistValue(KeyValueList {
                    values: vec![
                        kv(
                            "list",
                            Value::ArrayValue(ArrayValue {
                                values: vec![AnyValue {
                                    value: Some(Value::BoolValue(true)),
                                }],
                            }),
                        ),
                        kv("nan", Value::DoubleValue(f64::NAN)),
                    ],
                }),
            ),
        ],
        trace_id: (1..=16).collect(),
        span_id: vec![0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3],
        ..Default::default()
    }
}

#[test]
fn maps_fields_ids_and_resource() {
    let parsed = otlp_to_records(&request(vec![vec![full_record()]]), 42);
    assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
    let [r] = parsed.records.as_slice() else {
        panic!("expected one record, got {}", parsed.records.len());
    };
    assert_eq!(r.timestamp_ns, 1_700_000_000_000_000_001);
    assert_eq!(r.observed_ns, 1_700_000_000_500_000_000);
    assert_eq!(r.severity_number, 17);
    assert_eq!(r.severity_text, "Error");
    assert_eq!(r.service, "checkout");
    assert_eq!(r.host, "node-3");
    assert_eq!(r.body, "payment failed");
    assert_eq!(r.trace_id, "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(r.span_id, "deadbeef00010203");
    assert_eq!(r.correlation_id, "r-1");
    assert_eq!(r.source, Source::Otlp);
    assert_eq!(
        r.resource,
        vec![
            ("service.name".into(), AttrValue::Str("checkout".into())),
            ("host.name".into(), AttrValue::Str("node-3".into())),
            ("k8s.pod.uid".into(), AttrValue::Str("ab01".into())),
            ("replicas".into(), AttrValue::Int(3)),
        ]
    );
    assert_eq!(
        r.attributes,
        vec![
            ("request_id".into(), AttrValue::Str("r-1".into())),
            ("ratio".into(), AttrValue::Float(0.1)),
            (
                "nested".into(),
                AttrValue::Object(vec![
                    ("list".into(), AttrValue::Array(vec![AttrValue::Bool(true)])),
                    ("nan".into(), AttrValue::Null),
                ])
            ),
        ]
    );
    // raw is the record alone, as protobuf; shown as OTLP/JSON: lowerCamelCase, hex ids,
    // u64 as strings.
    let rl = ResourceLogs::decode(&r.raw[..]).expect("raw is a ResourceLogs");
    assert_eq!(rl.scope_logs.len(), 1);
    assert_eq!(rl.scope_logs[0].log_records.len(), 1);
    let raw: serde_json::Value =
        serde_json::from_str(&otlp_raw_json(&r.raw).expect("renders")).expect("raw is JSON");
    assert_eq!(
        raw["logRecord"]["traceId"],
        "0102030405060708090a0b0c0d0e0f10"
    );
    assert_eq!(raw["logRecord"]["spanId"], "deadbeef00010203");
    assert_eq!(raw["logRecord"]["timeUnixNano"], "1700000000000000001");
    assert_eq!(raw["logRecord"]["severityNumber"], 17);
    assert_eq!(raw["logRecord"]["body"]["stringValue"], "payment failed");
    assert_eq!(raw["scope"]["name"], "my.lib");
    assert_eq!(raw["resource"]["attributes"][0]["key"], "service.name");
    assert_eq!(raw["resource"]["attributes"][3]["value"]["intValue"], "3");

    assert_eq!(
        super::super::rebuild(Source::Otlp, &r.raw, r.observed_ns).as_ref(),
        Ok(r)
    );
}

#[test]
fn times_severity_and_bodies() {
    let records = vec![
        // No times at all: observed parameter for both.
        OtlpLogRecord {
            severity_text: "warning".into(),
            body: Some(AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![kv("a", Value::IntValue(1)), kv("b", str_v("x"))],
                })),
            }),
            ..Default::default()
        },
        // Only observed time: used for both.
        OtlpLogRecord {
            observed_time_unix_nano: 77,
            severity_number: 99,
            severity_text: "DEBUG".into(),
            body: Some(AnyValue {
                value: Some(Value::DoubleValue(2.5)),
            }),
            trace_id: vec![0; 16],
            span_id: vec![0; 8],
            ..Default::default()
        },
        OtlpLogRecord {
            severity_number: 99,
            body: Some(AnyValue { value: None }),
            ..Default::default()
        },
    ];
    let parsed = otlp_to_records(&request(vec![records]), 1000);
    assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
    let r = &parsed.records;
    assert_eq!((r[0].timestamp_ns, r[0].observed_ns), (1000, 1000));
    assert_eq!(r[0].severity_number, 13);
    assert_eq!(r[0].body, r#"{"a":1,"b":"x"}"#);
    assert_eq!((r[1].timestamp_ns, r[1].observed_ns), (77, 77));
    assert_eq!(r[1].severity_number, 5);
    assert_eq!(r[1].body, "2.5");
    assert_eq!((r[1].trace_id.as_str(), r[1].span_id.as_str()), ("", ""));
    assert_eq!(r[2].severity_number, 0);
    assert_eq!(r[2].body, "");
    for rec in r {
        assert_eq!(
            super::super::rebuild(Source::Otlp, &rec.raw, rec.observed_ns).as_ref(),
            Ok(rec)
        );
    }
}

#[test]
fn bad_ids_rejected_others_kept() {
    let bad_trace = OtlpLogRecord {
        trace_id: vec![1, 2, 3],
        ..full_record()
    };
    let bad_span = OtlpLogRecord {
        span_id: vec![1; 9],
        ..full_record()
    };
    let parsed = otlp_to_records(
        &request(vec![
            vec![full_record()],
            vec![full_record(), full_record(), bad_trace, bad_span],
        ]),
        0,
    );
    assert_eq!(parsed.records.len(), 3);
    assert_eq!(
        parsed.rejected,
        vec![
            Rejection {
                line: 4,
                reason: "resource_logs[0].scope_logs[1].log_records[2]: trace_id must be 16 bytes, got 3"
                    .into()
            },
            Rejection {
                line: 5,
                reason: "resource_logs[0].scope_logs[1].log_records[3]: span_id must be 8 bytes, got 9"
                    .into()
            },
        ]
    );
}

#[test]
fn too_deep_rejected_and_limit_rebuilds() {
    fn nest(levels: usize) -> AnyValue {
        let mut v = AnyValue {
            value: Some(Value::KvlistValue(KeyValueList { values: vec![] })),
        };
        for _ in 1..levels {
            v = AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(v),
                        ..Default::default()
                    }],
                })),
            };
        }
        v
    }
    let ok = OtlpLogRecord {
        attributes: vec![KeyValue {
            key: "deep".into(),
            value: Some(nest(MAX_ANY_VALUE_DEPTH)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let too_deep = OtlpLogRecord {
        attributes: vec![KeyValue {
            key: "deep".into(),
            value: Some(nest(MAX_ANY_VALUE_DEPTH + 1)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let parsed = otlp_to_records(&request(vec![vec![ok, too_deep]]), 5);
    assert_eq!(parsed.records.len(), 1);
    let r = &parsed.records[0];
    assert_eq!(
        super::super::rebuild(Source::Otlp, &r.raw, r.observed_ns).as_ref(),
        Ok(r)
    );
    assert_eq!(
        parsed.rejected,
        vec![Rejection {
            line: 2,
            reason: format!(
                "resource_logs[0].scope_logs[0].log_records[1]: attributes[0] (\"deep\"): value nested deeper than {MAX_ANY_VALUE_DEPTH} levels"
            ),
        }]
    );
}

#[test]
fn out_of_range_time_rejected() {
    let rec = OtlpLogRecord {
        time_unix_nano: u64::MAX,
        ..Default::default()
    };
    let parsed = otlp_to_records(&request(vec![vec![rec]]), 0);
    assert_eq!(parsed.records.len(), 0);
    assert_eq!(parsed.rejected[0].line, 1);
    assert!(
        parsed.rejected[0]
            .reason
            .contains("time_unix_nano 18446744073709551615 is out of range"),
        "{}",
        parsed.rejected[0].reason
    );
}

#[test]
fn missing_resource_and_scope() {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: vec![OtlpLogRecord::default()],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let parsed = otlp_to_records(&req, 9);
    let r = &parsed.records[0];
    assert_eq!((r.service.as_str(), r.host.as_str()), ("", ""));
    assert!(r.resource.is_empty());
    assert_eq!(
        super::super::rebuild(Source::Otlp, &r.raw, 9).as_ref(),
        Ok(r)
    );
}
