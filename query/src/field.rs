//! What a field name in a query means. One place, shared by the tantivy compiler, the
//! in-memory evaluator (live tail, property tests), aggregations, `sort` and `fields`.

use crate::lang::Ident;
use crate::QueryError;

/// Which JSON field of the schema an attribute path lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonRoot {
    Attributes,
    Resource,
}

impl JsonRoot {
    pub fn field_name(self) -> &'static str {
        match self {
            JsonRoot::Attributes => "attributes",
            JsonRoot::Resource => "resource",
        }
    }
}

/// The keyword (exact-match, fast string column) fields of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    Level,
    Service,
    Host,
    TraceId,
    CorrelationId,
}

impl Keyword {
    pub fn field_name(self) -> &'static str {
        match self {
            Keyword::Level => "level",
            Keyword::Service => "service",
            Keyword::Host => "host",
            Keyword::TraceId => "trace_id",
            Keyword::CorrelationId => "correlation_id",
        }
    }
}

/// A resolved field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    /// The full-text message body.
    Message,
    Keyword(Keyword),
    /// The OTLP severity number (0 = unknown).
    Severity,
    /// The record's timestamp.
    Time,
    /// The stable record id (WAL sequence number).
    RecordId,
    /// An attribute or resource attribute, by dotted path.
    Attr {
        root: JsonRoot,
        path: String,
    },
}

impl FieldRef {
    /// The name used for this field in output columns and hit projections.
    pub fn display_name(&self) -> String {
        match self {
            FieldRef::Message => "message".into(),
            FieldRef::Keyword(k) => k.field_name().into(),
            FieldRef::Severity => "severity".into(),
            FieldRef::Time => "_time".into(),
            FieldRef::RecordId => "record_id".into(),
            FieldRef::Attr {
                root: JsonRoot::Attributes,
                path,
            } => path.clone(),
            FieldRef::Attr {
                root: JsonRoot::Resource,
                path,
            } => format!("resource.{path}"),
        }
    }

    /// The fast-field (columnar) name tantivy knows this field by, if it has one.
    pub fn column_name(&self) -> Option<String> {
        match self {
            FieldRef::Message => None,
            FieldRef::Keyword(k) => Some(k.field_name().into()),
            FieldRef::Severity => Some("severity".into()),
            FieldRef::Time => Some("ts".into()),
            FieldRef::RecordId => Some("lsn".into()),
            FieldRef::Attr { root, path } => Some(format!("{}.{path}", root.field_name())),
        }
    }
}

pub(crate) fn invalid(span: crate::lang::Span, message: impl Into<String>) -> QueryError {
    QueryError::Invalid {
        message: message.into(),
        position: span.start,
    }
}

/// Resolves a field name as written in a query.
pub fn resolve(ident: &Ident) -> Result<FieldRef, QueryError> {
    let name = ident.name.as_str();
    Ok(match name {
        "message" | "msg" | "body" => FieldRef::Message,
        "level" => FieldRef::Keyword(Keyword::Level),
        "severity" | "severity_number" => FieldRef::Severity,
        "service" | "service.name" => FieldRef::Keyword(Keyword::Service),
        "host" | "host.name" => FieldRef::Keyword(Keyword::Host),
        "trace_id" | "traceId" => FieldRef::Keyword(Keyword::TraceId),
        "correlation_id" => FieldRef::Keyword(Keyword::CorrelationId),
        "_time" | "timestamp" => FieldRef::Time,
        "record_id" => FieldRef::RecordId,
        "span_id" | "spanId" => {
            return Err(invalid(
                ident.span,
                "span_id is not indexed: find the span through its trace_id",
            ))
        }
        _ => {
            let (root, path) = if let Some(p) = name.strip_prefix("attributes.") {
                (JsonRoot::Attributes, p)
            } else if let Some(p) = name.strip_prefix("resource.") {
                (JsonRoot::Resource, p)
            } else {
                (JsonRoot::Attributes, name)
            };
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(invalid(ident.span, format!("`{name}` is not a field path")));
            }
            FieldRef::Attr {
                root,
                path: path.to_string(),
            }
        }
    })
}

/// Canonical level names in severity order, with their OTLP severity-number ranges.
pub const LEVELS: [(&str, u64, u64); 6] = [
    ("trace", 1, 4),
    ("debug", 5, 8),
    ("info", 9, 12),
    ("warn", 13, 16),
    ("error", 17, 20),
    ("fatal", 21, 24),
];

/// The canonical level a user's word means (`WARNING` → `warn`), if any.
pub fn canonical_level(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    let name = match lower.as_str() {
        "warning" => "warn",
        "err" => "error",
        "critical" | "crit" | "panic" => "fatal",
        "unspecified" => return Some("unspecified"),
        other => other,
    };
    LEVELS.iter().find(|l| l.0 == name).map(|l| l.0)
}

/// The severity-number range `[lo, hi]` of a level name.
pub fn level_range(level: &str) -> Option<(u64, u64)> {
    LEVELS.iter().find(|l| l.0 == level).map(|l| (l.1, l.2))
}
