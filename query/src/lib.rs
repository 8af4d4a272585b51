//! The Pharos query layer: the log query language (`lang`), its resolution (`field`,
//! `filter`) and execution on tantivy (`compile`, `exec`, `agg`, `table`), the in-memory
//! evaluator for live tail (`eval`), streamed export, and the record read APIs (the request
//! view `correlate`, a record's `context`, `field_stats` for the UI).

pub mod agg;
pub mod budget;
pub mod compile;
pub mod context;
pub mod correlate;
pub mod derived;
pub mod eval;
pub mod exec;
pub mod export;
pub mod field;
pub mod field_stats;
pub mod filter;
pub mod hit;
pub mod hits;
pub mod lang;
pub mod parallel;
pub mod promql;
pub mod table;
pub mod time;
pub mod topn;

pub use context::{context, ContextResponse};
pub use correlate::{correlate, CorrelateResponse};
pub use field_stats::{field_stats, FieldsResponse};
pub use hit::hit_json;

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
    /// What the request names (a record id) does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// The query ran out of its time budget (`query.timeout_secs`) or its client went away.
    #[error("{}", stopped_message(.0))]
    Stopped(crate::budget::Stopped),
    #[error("searching {partition}: {source}")]
    Index {
        partition: String,
        source: tantivy::TantivyError,
    },
}

fn stopped_message(why: &crate::budget::Stopped) -> &'static str {
    match why {
        crate::budget::Stopped::TimedOut => {
            "query timed out: it ran longer than its time budget (query.timeout_secs); narrow the time range or the filter"
        }
        crate::budget::Stopped::Cancelled => "query cancelled: the client went away",
    }
}
