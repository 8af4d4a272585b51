//! What a rule is to the rule engine, whatever produced it: a rule file (log query, PromQL,
//! check state) or an SLO (generated burn-rate rules). The engine evaluates `expr` on the
//! group's interval; every returned sample is an active alert instance with those labels
//! (Prometheus semantics: an expression's result *is* the set of alerting series), which goes
//! through pending (`for`) → firing → resolved (after `keep_firing_for`).

use std::sync::Arc;

use crate::alert::LabelSet;
use crate::duration::PromDuration;

/// One element of an expression's result: the labels of an alert instance and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: LabelSet,
    pub value: f64,
}

/// An alerting condition. Evaluation is synchronous and may block (index or store reads):
/// the engine calls it off the async runtime.
pub trait RuleExpr: Send + Sync + 'static {
    /// The samples for which the condition holds at `now_ns` (empty = nothing alerting).
    fn eval(&self, now_ns: i64) -> Result<Vec<Sample>, String>;
    /// The expression as written, for the API and for `{{ $expr }}`-style diagnostics.
    fn text(&self) -> String;
}

/// One alerting rule.
#[derive(Clone)]
pub struct RuleDef {
    /// The `alert` name; becomes the `alertname` label.
    pub alert: String,
    pub expr: Arc<dyn RuleExpr>,
    /// How long a condition must hold before the alert fires.
    pub for_: PromDuration,
    /// How long an alert keeps firing after its condition stops holding.
    pub keep_firing_for: PromDuration,
    /// Added to every instance (templates allowed: `{{ $labels.x }}`, `{{ $value }}`).
    pub labels: LabelSet,
    /// Templates over `$labels` and `$value`.
    pub annotations: LabelSet,
}

/// A group of rules evaluated together, in order, every `interval`.
#[derive(Clone)]
pub struct GroupDef {
    pub name: String,
    pub interval: PromDuration,
    pub rules: Vec<RuleDef>,
    /// Where the group came from: a rule file path, or `slo:<name>`.
    pub source: String,
}
