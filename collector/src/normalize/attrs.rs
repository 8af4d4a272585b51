//! JSON text <-> [`AttrValue`]: an order-preserving parser (keys keep the client's order,
//! duplicates are kept as sent) and a compact JSON renderer.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::record::AttrValue;

/// Deepest nesting of arrays/objects serde_json accepts with its default recursion limit
/// (128): the 128th level is an error.
pub(crate) const JSON_MAX_DEPTH: usize = 127;

/// Parses one JSON text into an [`AttrValue`], keeping object keys in the order sent.
pub(crate) fn parse_json_text(text: &str) -> Result<AttrValue, serde_json::Error> {
    serde_json::from_str::<Ordered>(text).map(|o| o.0)
}

/// Describes a serde_json error for a client: what was wrong and where.
///
/// `what` names the unit that was parsed ("line" or "element"); the line is only mentioned
/// when the text spans several lines.
pub(crate) fn describe_json_error(e: &serde_json::Error, what: &str) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let base = full.strip_suffix(&suffix).unwrap_or(&full);
    let position = if e.line() > 1 {
        format!("line {} column {} of the {what}", e.line(), e.column())
    } else {
        format!("column {}", e.column())
    };
    if base == "recursion limit exceeded" {
        format!("nested deeper than {JSON_MAX_DEPTH} levels (at {position})")
    } else {
        format!("not JSON: {base} at {position}")
    }
}

/// "a string", "an object", ... for messages.
pub(crate) fn type_name(v: &AttrValue) -> &'static str {
    match v {
        AttrValue::Null => "null",
        AttrValue::Bool(_) => "a boolean",
        AttrValue::Int(_) | AttrValue::Float(_) => "a number",
        AttrValue::Str(_) => "a string",
        AttrValue::Array(_) => "an array",
        AttrValue::Object(_) => "an object",
    }
}

/// Compact JSON text of a value (objects keep their order and duplicates; a non-finite float,
/// which JSON cannot express, is written as `null`).
pub(crate) fn to_json_text(v: &AttrValue) -> String {
    match serde_json::to_string(&JsonView(v)) {
        Ok(s) => s,
        // Unreachable in practice: strings and keys always serialise.
        Err(e) => format!("\"<unrenderable value: {e}>\""),
    }
}

/// Short, bounded rendering of a value for error messages.
pub(crate) fn preview(v: &AttrValue) -> String {
    const MAX: usize = 64;
    let text = to_json_text(v);
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

struct JsonView<'a>(&'a AttrValue);

impl Serialize for JsonView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AttrValue::Null => s.serialize_unit(),
            AttrValue::Bool(b) => s.serialize_bool(*b),
            AttrValue::Int(i) => s.serialize_i64(*i),
            AttrValue::Float(f) => s.serialize_f64(*f),
            AttrValue::Str(v) => s.serialize_str(v),
            AttrValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&JsonView(item))?;
                }
                seq.end()
            }
            AttrValue::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, &JsonView(v))?;
                }
                map.end()
            }
        }
    }
}

/// Deserialises any JSON value into an [`AttrValue`], preserving key order and duplicates.
struct Ordered(AttrValue);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor).map(Ordered)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = AttrValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<AttrValue, E> {
        Ok(AttrValue::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<AttrValue, E> {
        Ok(AttrValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AttrValue, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => AttrValue::Int(i),
            Err(_) => AttrValue::Float(v as f64),
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AttrValue, E> {
        Ok(AttrValue::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<AttrValue, E> {
        Ok(AttrValue::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<AttrValue, E> {
        Ok(AttrValue::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<AttrValue, E> {
        Ok(AttrValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<AttrValue, E> {
        Ok(AttrValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AttrValue, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttrValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(Ordered(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(AttrValue::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttrValue, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(k) = map.next_key::<String>()? {
            let Ordered(v) = map.next_value()?;
            fields.push((k, v));
        }
        Ok(AttrValue::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_duplicates() {
        let v =
            parse_json_text(r#"{"b":1,"a":[true,null,1.5],"b":"x","big":18446744073709551615}"#)
                .expect("valid JSON");
        assert_eq!(
            v,
            AttrValue::Object(vec![
                ("b".into(), AttrValue::Int(1)),
                (
                    "a".into(),
                    AttrValue::Array(vec![
                        AttrValue::Bool(true),
                        AttrValue::Null,
                        AttrValue::Float(1.5)
                    ])
                ),
                ("b".into(), AttrValue::Str("x".into())),
                ("big".into(), AttrValue::Float(18446744073709551615.0)),
            ])
        );
        assert_eq!(
            to_json_text(&v),
            r#"{"b":1,"a":[true,null,1.5],"b":"x","big":1.8446744073709552e+19}"#
        );
    }

    #[test]
    fn error_descriptions() {
        let e = parse_json_text("{\"a\": }").expect_err("invalid");
        assert_eq!(
            describe_json_error(&e, "line"),
            "not JSON: expected value at column 7"
        );
        let deep = "[".repeat(200);
        let e = parse_json_text(&deep).expect_err("too deep");
        assert_eq!(
            describe_json_error(&e, "line"),
            "nested deeper than 127 levels (at column 128)"
        );
        let e = parse_json_text("{\n\"a\": x}").expect_err("invalid");
        assert_eq!(
            describe_json_error(&e, "element"),
            "not JSON: expected value at line 2 column 6 of the element"
        );
    }

    #[test]
    fn preview_is_bounded() {
        let v = AttrValue::Str("é".repeat(100));
        let p = preview(&v);
        assert!(p.len() <= 64 + '…'.len_utf8());
        assert!(p.ends_with('…'));
    }
}
