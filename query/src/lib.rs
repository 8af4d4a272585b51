//! The Pharos query layer: search over the collector's partitions.
//!
//! For now searches use tantivy's query parser over the log schema's fields; Pharos's own
//! query language replaces it in the query issue.

pub mod agg;
pub mod compile;
pub mod context;
pub mod correlate;
pub mod eval;
pub mod exec;
pub mod export;
pub mod field;
pub mod field_stats;
pub mod filter;
pub mod hit;
pub mod hits;
pub mod lang;
pub mod search;
pub mod table;
pub mod time;
pub mod topn;

pub use hit::hit_json;
pub use search::{search, SearchRequest, SearchResponse};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text is invalid; the message says where and why.
    #[error("invalid query: {0}")]
    Parse(String),
    /// The query text does not parse; the error says where and what was expected.
    #[error("{0}")]
    Syntax(crate::lang::ParseError),
    /// A parameter other than the query is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The query parses but means nothing valid (an unknown level, a bad regex, ...).
    #[error("{message} (at column {})", position + 1)]
    Invalid { message: String, position: usize },
    #[error("searching {partition}: {source}")]
    Index {
        partition: String,
        source: tantivy::TantivyError,
    },
}
