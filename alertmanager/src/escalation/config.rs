//! `[alerting.escalation]`: escalation policies, on-call schedules and acknowledgement links.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::oncall::{ConfigError, Person, ScheduleConfig, Schedules};

/// Where this table lives in Pharos's config; every error names a key below it.
pub const CONFIG_KEY: &str = "alerting.escalation";

/// The whole `[alerting.escalation]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    pub policies: Vec<EscalationPolicyConfig>,
    pub schedules: Vec<ScheduleConfig>,
    pub ack: AckSettings,
    /// How long resolved incidents stay listed (and in the state database) after resolving.
    pub retention: PromDuration,
}

/// One `[[alerting.escalation.policies]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicyConfig {
    pub name: String,
    /// The receivers (route receiver names) whose notifications this policy handles; a
    /// receiver is bound to at most one policy.
    pub receivers: Vec<String>,
    /// How many more times the whole policy runs after the last step's delay.
    #[serde(default)]
    pub repeat: u32,
    pub steps: Vec<StepConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// How long to wait for an acknowledgement after notifying this step before the next.
    #[serde(default = "default_delay")]
    pub delay: PromDuration,
    pub targets: Vec<TargetConfig>,
}

fn default_delay() -> PromDuration {
    PromDuration::from_secs(300)
}

/// `{ receiver = "ops" }`, `{ email = "a@b" }`, `{ webhook = "https://…" }` or
/// `{ schedule = "primary" }` (whoever is on call when the step fires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetConfig {
    Receiver(String),
    Email(String),
    Webhook(String),
    Schedule(String),
}

/// `[alerting.escalation.ack]`. The signing secret is never a config key: it comes from the
/// `PHAROS_ALERTING__ACK_SECRET` environment variable, or `secret_file`, or else a random key
/// generated once and kept in the alerting state database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AckSettings {
    /// How long an acknowledgement link stays valid after it is sent.
    pub link_ttl: PromDuration,
    /// A file whose content (trimmed) is the signing secret, at least 32 bytes.
    pub secret_file: Option<PathBuf>,
}

impl Default for AckSettings {
    fn default() -> Self {
        AckSettings {
            link_ttl: PromDuration::from_secs(24 * 3600),
            secret_file: None,
        }
    }
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            policies: Vec::new(),
            schedules: Vec::new(),
            ack: AckSettings::default(),
            retention: PromDuration::from_secs(7 * 86_400),
        }
    }
}

impl EscalationConfig {
    /// Checks everything that does not need the rest of Pharos's config; returns the compiled
    /// schedules. `{ receiver = … }` targets and policy bindings are checked against the
    /// configured receivers by [`EscalationConfig::check_receivers`].
    pub fn validate(&self) -> Result<Schedules, ConfigError> {
        let schedules = Schedules::compile(&self.schedules, &format!("{CONFIG_KEY}.schedules"))?;
        let mut bound: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, p) in self.policies.iter().enumerate() {
            let key = format!("{CONFIG_KEY}.policies[{i}]");
            let err = |sub: &str, m: String| ConfigError::new(format!("{key}.{sub}"), m);
            if p.name.trim().is_empty() {
                return Err(err("name", "must not be empty".into()));
            }
            if let Some(j) = self.policies[..i].iter().position(|q| q.name == p.name) {
                return Err(err(
                    "name",
                    format!("{:?} is also policies[{j}].name", p.name),
                ));
            }
            if p.receivers.is_empty() {
                return Err(err(
                    "receivers",
                    "bind at least one receiver (else the policy is never used)".into(),
                ));
            }
            for (r, receiver) in p.receivers.iter().enumerate() {
                if let Some(j) = bound.insert(receiver, i) {
                    return Err(err(
                        &format!("receivers[{r}]"),
                        format!("{receiver:?} is already bound to policies[{j}]"),
                    ));
                }
            }
            if p.repeat > 100 {
                return Err(err("repeat", "must be at most 100".into()));
            }
            if p.steps.is_empty() {
                return Err(err("steps", "needs at least one step".into()));
            }
            for (s, step) in p.steps.iter().enumerate() {
                let skey = format!("steps[{s}]");
                if step.delay.is_zero() {
                    return Err(err(&format!("{skey}.delay"), "must be more than 0s".into()));
                }
                if step.targets.is_empty() {
                    return Err(err(
                        &format!("{skey}.targets"),
                        "needs at least one target".into(),
                    ));
                }
                for (t, target) in step.targets.iter().enumerate() {
                    let tkey = format!("{skey}.targets[{t}]");
                    check_target(target, &schedules)
                        .map_err(|(field, m)| err(&format!("{tkey}.{field}"), m))?;
                }
            }
        }
        let ttl = self.ack.link_ttl.as_ns();
        if !(60 * 1_000_000_000..=90 * 86_400 * 1_000_000_000).contains(&ttl) {
            return Err(ConfigError::new(
                format!("{CONFIG_KEY}.ack.link_ttl"),
                "must be between 1m and 90d",
            ));
        }
        if self.retention.is_zero() {
            return Err(ConfigError::new(
                format!("{CONFIG_KEY}.retention"),
                "must be more than 0s",
            ));
        }
        Ok(schedules)
    }

    /// Every bound receiver and every `{ receiver = … }` target must be a configured receiver.
    pub fn check_receivers(&self, is_receiver: &dyn Fn(&str) -> bool) -> Result<(), ConfigError> {
        for (i, p) in self.policies.iter().enumerate() {
            let key = format!("{CONFIG_KEY}.policies[{i}]");
            for (r, receiver) in p.receivers.iter().enumerate() {
                if !is_receiver(receiver) {
                    return Err(ConfigError::new(
                        format!("{key}.receivers[{r}]"),
                        format!("no receiver named {receiver:?}"),
                    ));
                }
            }
            for (s, step) in p.steps.iter().enumerate() {
                for (t, target) in step.targets.iter().enumerate() {
                    if let TargetConfig::Receiver(name) = target {
                        if !is_receiver(name) {
                            return Err(ConfigError::new(
                                format!("{key}.steps[{s}].targets[{t}].receiver"),
                                format!("no receiver named {name:?}"),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The policy bound to `receiver`, if any (the dispatcher sends that receiver's
    /// notifications to the escalator).
    pub fn policy_for_receiver(&self, receiver: &str) -> Option<&EscalationPolicyConfig> {
        self.policies
            .iter()
            .find(|p| p.receivers.iter().any(|r| r == receiver))
    }
}

/// `Err((field, message))`.
fn check_target(
    target: &TargetConfig,
    schedules: &Schedules,
) -> Result<(), (&'static str, String)> {
    match target {
        TargetConfig::Receiver(name) if name.trim().is_empty() => {
            Err(("receiver", "must not be empty".into()))
        }
        TargetConfig::Receiver(_) => Ok(()),
        TargetConfig::Email(addr) => Person::parse(addr).map(|_| ()).map_err(|m| ("email", m)),
        TargetConfig::Webhook(url) => match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
            Ok(_) => Err(("webhook", format!("{url:?} is not an http(s) URL"))),
            Err(e) => Err(("webhook", format!("{url:?}: {e}"))),
        },
        TargetConfig::Schedule(name) if !schedules.contains(name) => Err((
            "schedule",
            format!("no schedule named {name:?} in {CONFIG_KEY}.schedules"),
        )),
        TargetConfig::Schedule(_) => Ok(()),
    }
}
