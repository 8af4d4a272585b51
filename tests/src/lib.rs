//! Shared helpers for the end-to-end tests and the load generator.

pub mod gen;
pub mod harness;
pub mod loadgen;
