//! The log record model shared by ingest, the write-ahead log, the index and the query layer.
//!
//! A [`LogRecord`] is what every ingest path (JSON lines, OTLP/HTTP, OTLP/gRPC) normalises into.
//! It keeps the client's original text in [`LogRecord::raw`] so nothing the client sent is lost;
//! every other field is derived from `raw` (plus the receive time) by a deterministic
//! normaliser, which is what lets the index store only `raw` and rebuild the record on read.

use serde::{Deserialize, Serialize};

/// A JSON-like value for attributes. Its own type (not `serde_json::Value`) because the WAL
/// encodes records with postcard, which needs a self-describing enum rather than
/// `deserialize_any`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<AttrValue>),
    /// Keys keep the client's order; duplicates are kept as sent.
    Object(Vec<(String, AttrValue)>),
}

/// Attributes: an ordered list of key/value pairs (an object).
pub type Attributes = Vec<(String, AttrValue)>;

/// Which normaliser produced the record, and so which one rebuilds it from `raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A JSON object sent to `POST /api/v1/logs`; `raw` is the object's text as sent (UTF-8).
    Json,
    /// An OTLP log record; `raw` is the protobuf encoding of a `ResourceLogs` holding its
    /// resource, its scope and the record alone — the record exactly as the client sent it,
    /// in OTLP's own compact encoding (hits show it as OTLP/JSON).
    Otlp,
}

impl Source {
    pub fn as_u64(self) -> u64 {
        match self {
            Source::Json => 0,
            Source::Otlp => 1,
        }
    }
    pub fn from_u64(v: u64) -> Option<Source> {
        match v {
            0 => Some(Source::Json),
            1 => Some(Source::Otlp),
            _ => None,
        }
    }
}

/// One normalised log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Event time, Unix nanoseconds (from the record, else the receive time).
    pub timestamp_ns: i64,
    /// When Pharos (or the OTLP SDK, if it said) observed the record, Unix nanoseconds.
    pub observed_ns: i64,
    /// OTLP SeverityNumber 1..=24, or 0 when unknown.
    pub severity_number: u8,
    /// Severity as the client wrote it ("" when absent).
    pub severity_text: String,
    pub service: String,
    pub host: String,
    /// The message body as text (a structured OTLP body is rendered as JSON text).
    pub body: String,
    /// Lowercase hex (32 chars), or "" when absent.
    pub trace_id: String,
    /// Lowercase hex (16 chars), or "" when absent.
    pub span_id: String,
    /// From `correlation_id` / `request_id` / `x-request-id` / `requestId`; "" when absent.
    pub correlation_id: String,
    pub resource: Attributes,
    pub attributes: Attributes,
    pub source: Source,
    /// The original record as the client sent it (see [`Source`] for the encoding).
    pub raw: Vec<u8>,
}

/// The canonical lowercase level name for an OTLP severity number (used for the `level` field).
pub fn level_name(severity_number: u8) -> &'static str {
    match severity_number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "unspecified",
    }
}

/// OTLP's SeverityNumber for ERROR (the first of the 17..=20 range).
pub const SEVERITY_ERROR: u8 = 17;
