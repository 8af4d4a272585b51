//! A rule as the engine runs it: its definition with templates parsed once, its place in
//! the state database, and its live state (shared with the same rule after a reload, so a
//! reload keeps `for` timers and firing alerts).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::alert::{Fingerprint, LabelSet};
use crate::rules::def::{RuleDef, Sample};
use crate::rules::exprs::CheckExpr;
use crate::rules::lifecycle::{ActiveAlert, Changes, Instance, RuleAlerts, Timing};
use crate::rules::template::{go_float, Template, TemplateData};
use crate::storage::{StateDb, StateOp, StorageError};

/// The state database's key space for rule alert state.
pub const STATE_SPACE: &str = "rule_state";

/// Evaluation health, as Prometheus's `/api/v1/rules` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

pub struct Runtime {
    pub alerts: RuleAlerts,
    pub health: Health,
    pub last_error: Option<String>,
    /// 0 = never evaluated.
    pub last_eval_ns: i64,
    pub eval_duration: Duration,
}

/// What survives a reload of an unchanged rule.
pub struct Shared {
    /// Held across one evaluation of the rule, so a check-triggered evaluation and the
    /// group's never run the same rule at once.
    pub eval_lock: Mutex<()>,
    /// Held only briefly (never across reading data), so the API never waits on a query.
    pub runtime: Mutex<Runtime>,
}

pub struct CompiledRule {
    pub def: RuleDef,
    /// `source \x1f group \x1f alert \x1f n`: n counts earlier rules of the same name in
    /// the group, so two rules of one name keep apart.
    pub key: String,
    pub check: Option<Arc<CheckExpr>>,
    pub labels: Vec<(String, Template)>,
    pub annotations: Vec<(String, Template)>,
    pub shared: Arc<Shared>,
}

pub fn rule_key(source: &str, group: &str, alert: &str, n: usize) -> String {
    format!("{source}\x1f{group}\x1f{alert}\x1f{n}")
}

fn state_key(rule_key: &str, fp: Fingerprint) -> Vec<u8> {
    let mut k = rule_key.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&fp.0.to_be_bytes());
    k
}

fn state_prefix(rule_key: &str) -> Vec<u8> {
    let mut k = rule_key.as_bytes().to_vec();
    k.push(0);
    k
}

fn compile_map(m: &LabelSet, what: &str) -> Result<Vec<(String, Template)>, String> {
    m.iter()
        .map(|(k, v)| {
            Template::parse(v)
                .map(|t| (k.clone(), t))
                .map_err(|e| format!("{what}.{k}: template: {e}"))
        })
        .collect()
}

impl CompiledRule {
    /// Parses the templates; the state is `shared` (carried over) or read back from `db`.
    pub fn new(
        def: RuleDef,
        key: String,
        check: Option<Arc<CheckExpr>>,
        shared: Option<Arc<Shared>>,
        db: &dyn StateDb,
    ) -> Result<CompiledRule, String> {
        let labels = compile_map(&def.labels, "labels")?;
        let annotations = compile_map(&def.annotations, "annotations")?;
        let shared = match shared {
            Some(s) => s,
            None => Arc::new(Shared {
                eval_lock: Mutex::new(()),
                runtime: Mutex::new(Runtime {
                    alerts: restore(db, &key).map_err(|e| e.to_string())?,
                    health: Health::Unknown,
                    last_error: None,
                    last_eval_ns: 0,
                    eval_duration: Duration::ZERO,
                }),
            }),
        };
        Ok(CompiledRule {
            def,
            key,
            check,
            labels,
            annotations,
            shared,
        })
    }

    pub fn timing(&self, interval_ns: i64, resend_delay_ns: i64) -> Timing {
        Timing {
            for_ns: self.def.for_.as_ns(),
            keep_firing_for_ns: self.def.keep_firing_for.as_ns(),
            interval_ns,
            resend_delay_ns,
        }
    }

    /// Samples → alert instances, as Prometheus builds them: `$labels` are the sample's
    /// labels; the rule's labels (templated, an empty result removes the label) are added,
    /// `__name__` dropped, `alertname` set; annotations templated, and `value` added when
    /// the rule sets none (the check's last reason for `check:` rules, which also get
    /// `reason`).
    pub fn instances(&self, samples: Vec<Sample>) -> Result<Vec<Instance>, String> {
        let reason = match (&self.check, samples.is_empty()) {
            (Some(c), false) => c.last_reason(),
            _ => None,
        };
        let mut out = Vec::with_capacity(samples.len());
        let mut seen = std::collections::HashSet::new();
        for s in samples {
            let data = TemplateData {
                labels: &s.labels,
                value: s.value,
            };
            let mut labels = s.labels.clone();
            labels.remove("__name__");
            for (k, t) in &self.labels {
                let v = t.render(&data);
                if v.is_empty() {
                    labels.remove(k);
                } else {
                    labels.insert(k.clone(), v);
                }
            }
            labels.insert("alertname".into(), self.def.alert.clone());
            let mut annotations: LabelSet = self
                .annotations
                .iter()
                .map(|(k, t)| (k.clone(), t.render(&data)))
                .collect();
            if let Some(r) = &reason {
                annotations
                    .entry("reason".into())
                    .or_insert_with(|| r.clone());
            }
            annotations
                .entry("value".into())
                .or_insert_with(|| reason.clone().unwrap_or_else(|| go_float(s.value)));
            if !seen.insert(crate::alert::Fingerprint::of(&labels)) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            out.push(Instance {
                labels,
                annotations,
                value: s.value,
            });
        }
        Ok(out)
    }

    /// The state database writes for what an evaluation changed.
    pub fn persist_ops(&self, alerts: &RuleAlerts, changes: &Changes) -> Vec<StateOp> {
        let mut ops = Vec::new();
        for fp in &changes.upserted {
            if let Some(a) = alerts.active.get(fp) {
                if let Ok(bytes) = serde_json::to_vec(a) {
                    ops.push(StateOp::Put(STATE_SPACE, state_key(&self.key, *fp), bytes));
                }
            }
        }
        for fp in &changes.removed {
            ops.push(StateOp::Delete(STATE_SPACE, state_key(&self.key, *fp)));
        }
        ops
    }

    /// Deletes every stored alert of this rule (the rule was removed).
    pub fn forget_ops(&self, alerts: &RuleAlerts) -> Vec<StateOp> {
        alerts
            .active
            .keys()
            .map(|fp| StateOp::Delete(STATE_SPACE, state_key(&self.key, *fp)))
            .collect()
    }
}

/// Reads a rule's alerts back. An entry that does not decode is skipped with a warning
/// (stored bytes are outside input: a bad one must not stop the engine).
fn restore(db: &dyn StateDb, rule_key: &str) -> Result<RuleAlerts, StorageError> {
    let mut alerts = RuleAlerts::default();
    for (_, v) in db.scan(STATE_SPACE, &state_prefix(rule_key))? {
        match serde_json::from_slice::<ActiveAlert>(&v) {
            Ok(a) => {
                alerts.active.insert(Fingerprint::of(&a.labels), a);
            }
            Err(e) => tracing::warn!(rule = rule_key, error = %e, "undecodable rule state skipped"),
        }
    }
    Ok(alerts)
}
