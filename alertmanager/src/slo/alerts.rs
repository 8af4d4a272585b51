//! The generated multi-window, multi-burn-rate alert rules (Google SRE workbook, "Alerting
//! on SLOs"): per SLO one rule group with one rule per configured (long, short, factor)
//! pair. A pair holds when the burn rate is above `factor` over the long window (enough
//! budget is really being spent) *and* over the short one (it is still happening, so the
//! alert resolves minutes after the errors stop instead of when the long window forgets
//! them).

use std::sync::Arc;

use serde::Serialize;

use super::sli::SliSource;
use super::Slo;
use crate::alert::LabelSet;
use crate::duration::PromDuration;
use crate::rules::def::{GroupDef, RuleDef, RuleExpr, Sample};

/// The `alertname` of every generated rule.
pub const ALERT_NAME: &str = "SLOErrorBudgetBurn";

/// The `severity` label of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Page,
    Ticket,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One configured pair with its severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRatePair {
    pub severity: Severity,
    pub long: PromDuration,
    pub short: PromDuration,
    pub factor: f64,
}

impl BurnRatePair {
    /// Whether the pair's condition holds for these burn rates (strictly above the factor
    /// over both windows; no data over either is never an alert).
    pub fn is_met(&self, long_burn: Option<f64>, short_burn: Option<f64>) -> bool {
        matches!((long_burn, short_burn), (Some(l), Some(s)) if l > self.factor && s > self.factor)
    }

    /// The identity labels of the alert instance for `slo`.
    pub fn labels(&self, slo: &str) -> LabelSet {
        LabelSet::from([
            ("slo".to_string(), slo.to_string()),
            ("severity".to_string(), self.severity.as_str().to_string()),
            ("long_window".to_string(), self.long.to_string()),
            ("short_window".to_string(), self.short.to_string()),
        ])
    }
}

/// A pair's condition as a rule expression: one sample (value = the long-window burn rate)
/// while it holds, none otherwise.
pub struct BurnRateExpr {
    slo: Arc<Slo>,
    source: Arc<dyn SliSource>,
    pair: BurnRatePair,
}

impl BurnRateExpr {
    pub fn new(slo: Arc<Slo>, source: Arc<dyn SliSource>, pair: BurnRatePair) -> BurnRateExpr {
        BurnRateExpr { slo, source, pair }
    }
}

impl RuleExpr for BurnRateExpr {
    fn eval(&self, now_ns: i64) -> Result<Vec<Sample>, String> {
        let source = self.source.as_ref();
        let long = self.slo.burn_rate(source, self.pair.long, now_ns)?;
        // Below the factor over the long window: no need to read the short one.
        if !matches!(long, Some(l) if l > self.pair.factor) {
            return Ok(Vec::new());
        }
        let short = self.slo.burn_rate(source, self.pair.short, now_ns)?;
        Ok(match long {
            Some(value) if self.pair.is_met(long, short) => vec![Sample {
                labels: self.pair.labels(&self.slo.config.name),
                value,
            }],
            _ => Vec::new(),
        })
    }

    fn text(&self) -> String {
        let p = &self.pair;
        format!(
            "burn_rate[{long}] > {f} and burn_rate[{short}] > {f} (objective {obj}%, {sli})",
            long = p.long,
            short = p.short,
            f = p.factor,
            obj = self.slo.objective.percent(),
            sli = self.slo.sli.describe(),
        )
    }
}

/// The rule group of one SLO: `slo:<name>`, on the SLO's `interval`.
pub fn rule_group(slo: &Arc<Slo>, source: &Arc<dyn SliSource>) -> GroupDef {
    let config = &slo.config;
    let rules = slo
        .burn_rate_pairs()
        .into_iter()
        .map(|pair| {
            let mut labels = config.labels.clone();
            labels.extend(pair.labels(&config.name));
            RuleDef {
                alert: ALERT_NAME.to_string(),
                expr: Arc::new(BurnRateExpr::new(slo.clone(), source.clone(), pair)),
                for_: PromDuration::ZERO,
                keep_firing_for: PromDuration::ZERO,
                labels,
                annotations: annotations(slo, &pair),
            }
        })
        .collect();
    GroupDef {
        name: format!("slo:{}", config.name),
        interval: config.interval,
        rules,
        source: format!("slo:{}", config.name),
    }
}

fn annotations(slo: &Slo, pair: &BurnRatePair) -> LabelSet {
    let c = &slo.config;
    let objective = slo.objective.percent();
    let summary = format!(
        "SLO {name} is burning its error budget at {{{{ $value }}}}× the sustainable rate over {long} (threshold {factor}× over both {long} and {short})",
        name = c.name,
        long = pair.long,
        short = pair.short,
        factor = pair.factor,
    );
    let description = format!(
        "Objective {objective}% over {window}. Burn rate above {factor} over both {long} and {short} spends {share} of the budget in {long} if it goes on.{about}",
        window = c.window,
        factor = pair.factor,
        long = pair.long,
        short = pair.short,
        share = budget_share(pair, slo),
        about = if c.description.is_empty() {
            String::new()
        } else {
            format!(" {}", c.description)
        },
    );
    LabelSet::from([
        ("summary".to_string(), summary),
        ("description".to_string(), description),
    ])
}

/// `factor × long / window` as a percentage ("2%" for 14.4 over 1 h of 30 days).
fn budget_share(pair: &BurnRatePair, slo: &Slo) -> String {
    let window = slo.nominal_window_ns() as f64;
    if window <= 0.0 {
        return "a share".to_string();
    }
    let pct = pair.factor * pair.long.as_ns() as f64 / window * 100.0;
    format!("{}%", (pct * 100.0).round() / 100.0)
}
