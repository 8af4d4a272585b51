//! TEMPORARY stub until the parser lands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (at column {column})")]
pub struct ParseError {
    pub message: String,
    pub position: usize,
    pub column: usize,
    pub expected: Vec<String>,
    pub found: Option<String>,
}
