//! `[alerting.rules]` in Pharos's TOML config (documented in `docs/alerting/rules.md`).

use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule files and globs (`rules/*.yml`), as Prometheus's `rule_files`.
    pub files: Vec<String>,
    /// A group's interval when it sets none.
    pub evaluation_interval: PromDuration,
    /// The least time between two sends of the same firing alert to the alert store
    /// (Prometheus's `--rules.alert.resend-delay`).
    pub resend_delay: PromDuration,
    /// Group evaluations running at once (each on a blocking thread).
    pub max_concurrent_evaluations: usize,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            files: Vec::new(),
            evaluation_interval: PromDuration::from_secs(60),
            resend_delay: PromDuration::from_secs(60),
            max_concurrent_evaluations: 2,
        }
    }
}

impl RulesConfig {
    /// Checks the values; each error names its key path.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.evaluation_interval.is_zero() {
            errors.push("alerting.rules.evaluation_interval: must be greater than 0s".to_string());
        }
        if self.max_concurrent_evaluations == 0 {
            errors
                .push("alerting.rules.max_concurrent_evaluations: must be at least 1".to_string());
        }
        for (i, f) in self.files.iter().enumerate() {
            if f.trim().is_empty() {
                errors.push(format!("alerting.rules.files[{i}]: must not be empty"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_errors_name_the_key() {
        let c: RulesConfig = serde_json::from_str(r#"{"files": ["rules/*.yml"]}"#).unwrap();
        assert_eq!(c.evaluation_interval, PromDuration::from_secs(60));
        assert!(c.validate().is_ok());
        assert!(serde_json::from_str::<RulesConfig>(r#"{"file": []}"#).is_err());
        let bad = RulesConfig {
            evaluation_interval: PromDuration::ZERO,
            max_concurrent_evaluations: 0,
            ..RulesConfig::default()
        };
        let errs = bad.validate().unwrap_err();
        assert!(errs[0].starts_with("alerting.rules.evaluation_interval:"));
        assert!(errs[1].starts_with("alerting.rules.max_concurrent_evaluations:"));
    }
}
