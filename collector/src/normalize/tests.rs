//! Body-level tests of the normalisers (the property tests are in `props.rs`).

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
            String::from_utf8_lossy(&r.raw)
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
    assert_eq!(p.records[0].raw, "{\"msg\":\"a\"}".as_bytes());
    assert_eq!(p.records[1].severity_number, 9);
    assert_rebuilds(&p);
}

#[test]
fn crlf_lines_and_bom() {
    let p = body(b"\xEF\xBB\xBF{\"msg\":\"a\"}\r\n\r\n{\"msg\":\"b\"}\r\nnope\r\n");
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.records[0].raw, "{\"msg\":\"a\"}".as_bytes());
    assert_eq!(p.records[1].raw, "{\"msg\":\"b\"}".as_bytes());
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
        "{\"msg\":\"a\", \"n\": [1, {\"x\": null}]}".as_bytes()
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
    assert_eq!(
        p.records[1].raw,
        "{\"msg\":\"b\",\n \"ts\": 1700000000123}".as_bytes()
    );
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
    let err = rebuild(Source::Json, b"{\"ts\":true}", OBS).expect_err("bad ts");
    assert_eq!(
        err.to_string(),
        "cannot rebuild Json record: field \"ts\": cannot parse true as a timestamp (RFC 3339 or epoch s/ms/µs/ns)"
    );
    let err = rebuild(Source::Otlp, b"not protobuf", OBS).expect_err("garbage");
    assert!(err.to_string().contains("does not decode"), "{err}");
    let err = rebuild(Source::Otlp, b"", OBS).expect_err("no record");
    assert!(err.to_string().contains("exactly one scope"), "{err}");
}
