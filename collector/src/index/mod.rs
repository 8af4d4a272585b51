//! Per-day tantivy partitions: the schema, the store of open partitions that queries read,
//! the indexer that tails the WAL into them, and retention that drops them.

pub mod doc;
pub mod indexer;
pub mod partition;
pub mod retention;
pub mod schema;
pub mod store;

pub use indexer::{Indexer, IndexerHandle};
pub use partition::PartitionId;
pub use schema::{LogSchema, INDEX_FORMAT_VERSION};
pub use store::{LogStore, PartitionHandle};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index at {path}: {source}")]
    Tantivy {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("{path}: on-disk index format {found} is not supported by this Pharos (it writes format {supported}); {hint}")]
    Format {
        path: PathBuf,
        found: String,
        supported: u32,
        hint: &'static str,
    },
    #[error("{0}")]
    Other(String),
}

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> IndexError {
        IndexError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn tantivy(path: impl Into<PathBuf>, source: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: path.into(),
            source,
        }
    }
}
