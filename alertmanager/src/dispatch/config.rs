//! The routing part of `[alerting]`: `route` (the routing tree), `inhibit_rules` and
//! `time_intervals`, with Alertmanager's keys, defaults and inheritance. `validate()` errors
//! name the key path (`alerting.route.routes[1].matchers[0]: …`).

use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::inhibit::{InhibitRule, InhibitRuleConfig};
use crate::timeinterval::{TimeIntervalConfig, TimeIntervals};

use super::route::RouteTree;

/// A config that does not validate; the message starts with the key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RoutingConfigError(pub String);

/// One node of the routing tree (`[alerting.route]`, `[[alerting.route.routes]]`, …).
/// Unset `receiver`, `group_by`, `group_wait`, `group_interval` and `repeat_interval` are
/// inherited from the parent; `mute_time_intervals` and `active_time_intervals` are not
/// (as in Alertmanager).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver name; required on the root.
    #[serde(default)]
    pub receiver: Option<String>,
    /// Alertmanager matchers (`severity="critical"`, `team=~"db|infra"`); all must match.
    /// Not allowed on the root, which matches every alert.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Labels to group by; `["..."]` groups by all labels; `[]` puts all alerts of the route
    /// in one group. Default: inherited; the root's default is `[]`.
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    /// How long a new group waits before its first notification (default 30s).
    #[serde(default)]
    pub group_wait: Option<PromDuration>,
    /// How long to wait before notifying about changes to a notified group (default 5m).
    #[serde(default)]
    pub group_interval: Option<PromDuration>,
    /// How long before re-sending a notification that did not change (default 4h).
    #[serde(default)]
    pub repeat_interval: Option<PromDuration>,
    /// Keep matching sibling routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Names of `time_intervals` during which this route's notifications are muted.
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Names of `time_intervals` outside which this route's notifications are muted.
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    /// Child routes, tried in order.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// The routing keys of `[alerting]`; embed these three fields in the alerting config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    #[serde(default)]
    pub route: RouteConfig,
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    #[serde(default)]
    pub time_intervals: Vec<TimeIntervalConfig>,
}

/// Alertmanager's defaults.
pub const DEFAULT_GROUP_WAIT: PromDuration = PromDuration(std::time::Duration::from_secs(30));
pub const DEFAULT_GROUP_INTERVAL: PromDuration =
    PromDuration(std::time::Duration::from_secs(5 * 60));
pub const DEFAULT_REPEAT_INTERVAL: PromDuration =
    PromDuration(std::time::Duration::from_secs(4 * 3600));

/// A validated routing config, ready for the dispatcher.
pub struct CompiledRouting {
    pub tree: RouteTree,
    pub inhibit_rules: Vec<InhibitRule>,
    pub intervals: TimeIntervals,
}

impl RoutingConfig {
    /// Everything checked; errors name the key path under `alerting.`.
    pub fn compile(&self) -> Result<CompiledRouting, RoutingConfigError> {
        let intervals = TimeIntervals::compile(&self.time_intervals, "alerting.time_intervals")
            .map_err(RoutingConfigError)?;
        let inhibit_rules = InhibitRule::compile_all(&self.inhibit_rules, "alerting.inhibit_rules")
            .map_err(RoutingConfigError)?;
        let tree = RouteTree::compile(&self.route, &intervals, "alerting.route")
            .map_err(RoutingConfigError)?;
        Ok(CompiledRouting {
            tree,
            inhibit_rules,
            intervals,
        })
    }

    pub fn validate(&self) -> Result<(), RoutingConfigError> {
        self.compile().map(|_| ())
    }

    /// Checks that every receiver the routes name exists (receivers are configured
    /// elsewhere; pass a lookup).
    pub fn check_receivers(&self, exists: &dyn Fn(&str) -> bool) -> Result<(), RoutingConfigError> {
        fn walk(
            r: &RouteConfig,
            path: &str,
            exists: &dyn Fn(&str) -> bool,
        ) -> Result<(), RoutingConfigError> {
            if let Some(name) = &r.receiver {
                if !exists(name) {
                    return Err(RoutingConfigError(format!(
                        "{path}.receiver: undefined receiver {name:?}"
                    )));
                }
            }
            for (i, child) in r.routes.iter().enumerate() {
                walk(child, &format!("{path}.routes[{i}]"), exists)?;
            }
            Ok(())
        }
        walk(&self.route, "alerting.route", exists)
    }
}
