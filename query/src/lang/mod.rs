//! The Pharos log query language: syntax tree and parser.
//!
//! [`parse`] turns query text into a [`Query`]; `Display` on [`Query`] (and its parts) prints
//! query text that parses back to the same tree. The language is documented for users in
//! `docs/query-language.md`.

pub mod ast;
mod display;
mod error;
mod filter;
mod lexer;
mod parser;
mod pipes;

pub use ast::*;
pub use error::ParseError;

/// Parses a query. Never panics; an error says where (byte offset and column), what was
/// expected and what was found.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    parser::parse_query(text)
}
