//! What `GET /api/v1/rules` shows, shaped like Prometheus's `/api/v1/rules` `data`
//! (`{"groups": [{name, file, interval, rules: [{state, name, query, duration, …}]}]}`).

use std::sync::atomic::Ordering;

use pharos_collector::clock::rfc3339;
use serde::Serialize;

use crate::alert::LabelSet;
use crate::rules::compiled::Health;
use crate::rules::lifecycle::AlertState;
use crate::rules::manager::RuleManager;
use crate::rules::template::go_float;

#[derive(Debug, Clone, Serialize)]
pub struct RulesView {
    pub groups: Vec<GroupView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub name: String,
    /// The rule file, or the provider's source (`slo:<name>`).
    pub file: String,
    /// Seconds.
    pub interval: f64,
    pub rules: Vec<RuleView>,
    pub last_evaluation: Option<String>,
    /// Seconds.
    pub evaluation_time: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub name: String,
    pub query: String,
    /// `for`, seconds.
    pub duration: f64,
    pub keep_firing_for: f64,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub state: AlertState,
    pub alerts: Vec<AlertView>,
    pub health: Health,
    pub last_error: Option<String>,
    pub last_evaluation: Option<String>,
    pub evaluation_time: f64,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub state: AlertState,
    pub active_at: String,
    pub fired_at: Option<String>,
    pub resolved_at: Option<String>,
    /// As Prometheus: the value as text.
    pub value: String,
}

fn time(ns: i64) -> Option<String> {
    (ns != 0).then(|| rfc3339(ns))
}

impl RuleManager {
    /// Every group and rule with its alerts and evaluation health.
    pub fn view(&self) -> RulesView {
        let groups: Vec<_> = self.groups.read().values().cloned().collect();
        RulesView {
            groups: groups
                .iter()
                .map(|g| GroupView {
                    name: g.name.clone(),
                    file: g.source.clone(),
                    interval: g.interval_ns as f64 / 1e9,
                    last_evaluation: time(g.last_eval_ns.load(Ordering::Relaxed)),
                    evaluation_time: g.last_duration.lock().as_secs_f64(),
                    rules: g
                        .rules
                        .iter()
                        .map(|r| {
                            let rt = r.shared.runtime.lock();
                            let mut alerts: Vec<AlertView> = rt
                                .alerts
                                .active
                                .values()
                                .map(|a| AlertView {
                                    labels: a.labels.clone(),
                                    annotations: a.annotations.clone(),
                                    state: a.state,
                                    active_at: rfc3339(a.active_at_ns),
                                    fired_at: time(a.fired_at_ns),
                                    resolved_at: time(a.resolved_at_ns),
                                    value: go_float(a.value),
                                })
                                .collect();
                            alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
                            RuleView {
                                name: r.def.alert.clone(),
                                query: r.def.expr.text(),
                                duration: r.def.for_.0.as_secs_f64(),
                                keep_firing_for: r.def.keep_firing_for.0.as_secs_f64(),
                                labels: r.def.labels.clone(),
                                annotations: r.def.annotations.clone(),
                                state: rt.alerts.state(),
                                alerts,
                                health: rt.health,
                                last_error: rt.last_error.clone(),
                                last_evaluation: time(rt.last_eval_ns),
                                evaluation_time: rt.eval_duration.as_secs_f64(),
                                kind: "alerting",
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
