//! Test doubles that other crates' tests and benchmarks use too (so always compiled): a
//! local SMTP server that records what it receives.

pub mod smtp;

pub use smtp::{server_tls_config, ReceivedMail, Refusal, TestSmtpServer, TlsMode};
