//! Inhibition (Alertmanager's `inhibit_rules`): while a *firing* alert matches a rule's
//! `source_matchers`, alerts matching its `target_matchers` that have the same values for
//! every `equal` label (a label missing on both sides counts as equal) are muted — a
//! `ClusterDown` for cluster `a` mutes that cluster's `ServiceDown` pages.
//!
//! An alert never inhibits itself: when the target alert also matches the source matchers,
//! source alerts that also match the target matchers are not considered (Alertmanager's
//! two-sided-match exclusion), so a rule such as "critical mutes warning with equal
//! alertname" cannot make alerts matching both sides silence one another.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::alert::{valid_label_name, Alert, Fingerprint, LabelSet};
use crate::matcher::Matchers;

/// One `[[alerting.inhibit_rules]]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Matchers (`alertname="ClusterDown"`) a firing source alert must satisfy.
    #[serde(default)]
    pub source_matchers: Vec<String>,
    /// Matchers an alert must satisfy to be muted.
    #[serde(default)]
    pub target_matchers: Vec<String>,
    /// Labels whose values must be equal in the source and the target.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct InhibitRule {
    pub source: Matchers,
    pub target: Matchers,
    pub equal: Vec<String>,
}

/// Parses a list of matcher strings (each may itself be a `{…}` list) into one conjunction;
/// errors name the key path.
pub fn parse_matcher_list(items: &[String], path: &str) -> Result<Matchers, String> {
    let mut all = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let parsed = Matchers::parse(s).map_err(|e| format!("{path}[{i}]: {e} in {s:?}"))?;
        all.extend(parsed.0);
    }
    Ok(Matchers(all))
}

impl InhibitRule {
    /// Compiles `alerting.inhibit_rules`; errors name the key path under `prefix`.
    pub fn compile_all(
        configs: &[InhibitRuleConfig],
        prefix: &str,
    ) -> Result<Vec<InhibitRule>, String> {
        configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let at = format!("{prefix}[{i}]");
                let source =
                    parse_matcher_list(&c.source_matchers, &format!("{at}.source_matchers"))?;
                let target =
                    parse_matcher_list(&c.target_matchers, &format!("{at}.target_matchers"))?;
                if let Some((j, l)) = c
                    .equal
                    .iter()
                    .enumerate()
                    .find(|(_, l)| !valid_label_name(l))
                {
                    return Err(format!("{at}.equal[{j}]: {l:?} is not a label name"));
                }
                Ok(InhibitRule {
                    source,
                    target,
                    equal: c.equal.clone(),
                })
            })
            .collect()
    }

    fn equal_labels(&self, a: &LabelSet, b: &LabelSet) -> bool {
        self.equal.iter().all(|l| a.get(l) == b.get(l))
    }
}

/// The rules and, per rule, the alerts that match its source side.
#[derive(Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
    sources: Vec<HashMap<Fingerprint, Alert>>,
}

impl Inhibitor {
    pub fn new(rules: Vec<InhibitRule>) -> Inhibitor {
        let sources = rules.iter().map(|_| HashMap::new()).collect();
        Inhibitor { rules, sources }
    }

    /// Records the latest copy of an alert (firing or resolved).
    pub fn observe(&mut self, alert: &Alert) {
        for (rule, cache) in self.rules.iter().zip(&mut self.sources) {
            if rule.source.matches(&alert.labels) {
                cache.insert(alert.fingerprint(), alert.clone());
            }
        }
    }

    /// Fingerprints of the firing alerts that inhibit an alert with these labels at `now_ns`
    /// (empty when it is not inhibited).
    pub fn inhibited_by(&self, labels: &LabelSet, now_ns: i64) -> Vec<Fingerprint> {
        let own = Fingerprint::of(labels);
        let mut out = Vec::new();
        for (rule, cache) in self.rules.iter().zip(&self.sources) {
            if !rule.target.matches(labels) {
                continue;
            }
            let two_sided = rule.source.matches(labels);
            let found = cache.values().find(|src| {
                src.fingerprint() != own
                    && !src.resolved_at(now_ns)
                    && rule.equal_labels(&src.labels, labels)
                    && !(two_sided && rule.target.matches(&src.labels))
            });
            if let Some(src) = found {
                let fp = src.fingerprint();
                if !out.contains(&fp) {
                    out.push(fp);
                }
            }
        }
        out
    }

    /// Forgets source alerts resolved at `now_ns`: they inhibit nothing any more, and a
    /// fresh firing copy is observed again when it arrives.
    pub fn gc(&mut self, now_ns: i64) {
        for cache in &mut self.sources {
            cache.retain(|_, a| !a.resolved_at(now_ns));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;

    fn rule(src: &str, tgt: &str, equal: &[&str]) -> Inhibitor {
        let cfg = InhibitRuleConfig {
            source_matchers: vec![src.into()],
            target_matchers: vec![tgt.into()],
            equal: equal.iter().map(|s| s.to_string()).collect(),
        };
        Inhibitor::new(InhibitRule::compile_all(&[cfg], "alerting.inhibit_rules").unwrap())
    }

    #[test]
    fn firing_source_with_equal_labels_inhibits() {
        let mut inh = rule(
            r#"alertname="ClusterDown""#,
            r#"alertname="ServiceDown""#,
            &["cluster"],
        );
        let mut src = Alert::firing(labels([("alertname", "ClusterDown"), ("cluster", "a")]), 1);
        src.ends_at_ns = 100;
        inh.observe(&src);
        let a = labels([("alertname", "ServiceDown"), ("cluster", "a")]);
        let b = labels([("alertname", "ServiceDown"), ("cluster", "b")]);
        assert_eq!(inh.inhibited_by(&a, 50), vec![src.fingerprint()]);
        assert!(inh.inhibited_by(&b, 50).is_empty());
        assert!(
            inh.inhibited_by(&a, 100).is_empty(),
            "a resolved source inhibits nothing"
        );
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_inhibit_itself_or_its_peers() {
        let mut inh = rule(
            r#"severity="critical""#,
            r#"alertname=~".+""#,
            &["alertname"],
        );
        let crit = Alert::firing(labels([("alertname", "Disk"), ("severity", "critical")]), 1);
        inh.observe(&crit);
        assert!(inh.inhibited_by(&crit.labels, 5).is_empty());
        let warn = labels([("alertname", "Disk"), ("severity", "warning")]);
        assert_eq!(inh.inhibited_by(&warn, 5), vec![crit.fingerprint()]);
    }

    #[test]
    fn bad_rules_name_the_key() {
        let cfg = InhibitRuleConfig {
            source_matchers: vec!["a=\"b\"".into()],
            target_matchers: vec!["x~y".into()],
            equal: vec![],
        };
        let e = InhibitRule::compile_all(&[cfg], "alerting.inhibit_rules")
            .err()
            .unwrap_or_default();
        assert!(
            e.starts_with("alerting.inhibit_rules[0].target_matchers[0]: "),
            "{e}"
        );
    }
}
