//! Pharos alertmanager. So far: active health checks (HTTP, TCP, TLS expiry), passive
//! heartbeats, and the durable uptime ledger their state changes are written to.

pub mod checks;
pub mod config;

pub use checks::Checker;
pub use config::{CheckConfig, CheckKind};
