//! Alerting rules: groups of rules evaluated on an interval, each condition going through
//! pending → firing → resolved into the alert store.

pub mod def;
pub mod template;

pub use def::{GroupDef, RuleDef, RuleExpr, Sample};
pub mod exprs;
pub mod lifecycle;
pub mod file;
