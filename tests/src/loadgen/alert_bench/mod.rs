//! The alerting benchmarks (recorded in BENCHMARKS.md, "Alerting: detection to e-mail, rule
//! evaluation"):
//!
//! - `latency` (`pharos-loadgen alert-latency`): a health check failing → the e-mail
//!   accepted by an SMTP server, through the real `pharos` binary.
//! - `rule_eval` (`pharos-loadgen rule-eval`): CPU and punctuality of 10,000 log and
//!   PromQL rules evaluated once a minute, in process; `rule_data` builds its stores and
//!   rule files.

pub mod latency;
pub mod rule_data;
pub mod rule_eval;
