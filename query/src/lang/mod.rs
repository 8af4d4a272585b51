//! The Pharos log query language: syntax tree and parser.

pub mod ast;

pub use ast::*;
