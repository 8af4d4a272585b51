//! Alerting rules: groups of rules evaluated on an interval, each condition going through
//! pending → firing → resolved into the alert store.
//!
//! - `file.rs`: YAML rule files → groups (errors with `file:line`), `validate_files`.
//! - `exprs.rs`: the expression kinds (`expr:` PromQL, `logs:`, `check:`).
//! - `template.rs`: the Go-template subset of labels and annotations.
//! - `lifecycle.rs`: the pure pending/firing/resolved state machine.
//! - `compiled.rs`: a rule as the engine runs it, and its persisted state.
//! - `manager.rs`: the engine (`RuleManager`), reload and providers.
//! - `driver.rs`: the tokio driver. `views.rs`: the API view.

pub mod compiled;
pub mod config;
pub mod def;
pub mod driver;
pub mod exprs;
pub mod file;
pub mod lifecycle;
pub mod manager;
pub mod template;
pub mod views;

pub use config::RulesConfig;
pub use def::{GroupDef, RuleDef, RuleExpr, Sample};
pub use file::{validate_files, RuleFileError, Summary};
pub use manager::{EvalOutcome, ReloadSummary, RuleManager, RulesError};
