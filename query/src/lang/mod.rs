//! The Pharos log query language: syntax tree and parser.

pub mod ast;

pub use ast::*;
pub mod error;
pub use error::ParseError;

/// TEMPORARY stub until the parser lands.
pub fn parse(_text: &str) -> Result<Query, ParseError> {
    Ok(Query {
        filter: Expr::All,
        pipes: Vec::new(),
    })
}
