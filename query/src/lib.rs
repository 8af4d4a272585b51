//! The Pharos query layer: search over the collector's partitions, and the record read APIs
//! (the request view `correlate`, a record's `context`, `field_stats` for the UI).
//!
//! For now searches use tantivy's query parser over the log schema's fields; Pharos's own
//! query language replaces it in the query issue.

pub mod context;
pub mod correlate;
pub mod field_stats;
pub mod hit;
pub mod lang;
pub mod search;

pub use context::{context, ContextResponse};
pub use correlate::{correlate, CorrelateResponse};
pub use field_stats::{field_stats, FieldsResponse};
pub use hit::hit_json;
pub use search::{search, SearchRequest, SearchResponse};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text is invalid; the message says where and why.
    #[error("invalid query: {0}")]
    Parse(String),
    /// A parameter other than the query is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// What the request names (a record id) does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    #[error("searching {partition}: {source}")]
    Index {
        partition: String,
        source: tantivy::TantivyError,
    },
}
