//! Turns a normalised record into a tantivy document.

use std::collections::BTreeMap;

use tantivy::schema::OwnedValue;
use tantivy::TantivyDocument;

use super::schema::LogSchema;
use crate::record::{level_name, AttrValue, Attributes, LogRecord};

fn to_owned_value(v: &AttrValue) -> OwnedValue {
    match v {
        AttrValue::Null => OwnedValue::Null,
        AttrValue::Bool(b) => OwnedValue::Bool(*b),
        AttrValue::Int(i) => OwnedValue::I64(*i),
        AttrValue::Float(f) => OwnedValue::F64(*f),
        AttrValue::Str(s) => OwnedValue::Str(s.clone()),
        AttrValue::Array(items) => OwnedValue::Array(items.iter().map(to_owned_value).collect()),
        AttrValue::Object(kvs) => OwnedValue::Object(
            kvs.iter()
                .map(|(k, v)| (k.clone(), to_owned_value(v)))
                .collect(),
        ),
    }
}

fn to_object(attrs: &Attributes) -> BTreeMap<String, OwnedValue> {
    attrs
        .iter()
        .map(|(k, v)| (k.clone(), to_owned_value(v)))
        .collect()
}

/// A record as the indexer writes it (public for the fuzz targets, which index as the
/// collector does).
pub fn to_document(schema: &LogSchema, lsn: u64, r: &LogRecord) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_u64(schema.lsn, lsn);
    doc.add_i64(schema.ts, r.timestamp_ns);
    doc.add_i64(schema.observed, r.observed_ns);
    doc.add_u64(schema.severity, u64::from(r.severity_number));
    doc.add_text(schema.level, level_name(r.severity_number));
    doc.add_text(schema.service, &r.service);
    doc.add_text(schema.host, &r.host);
    doc.add_text(schema.trace_id, &r.trace_id);
    doc.add_text(schema.correlation_id, &r.correlation_id);
    doc.add_text(schema.message, &r.body);
    if !r.attributes.is_empty() {
        doc.add_object(schema.attributes, to_object(&r.attributes));
    }
    if !r.resource.is_empty() {
        doc.add_object(schema.resource, to_object(&r.resource));
    }
    doc.add_u64(schema.source, r.source.as_u64());
    doc.add_bytes(schema.raw, &r.raw);
    doc
}
