//! `[[alerting.slos]]` tables and their validation. Every error names the key path:
//! `alerting.slos[1].sli.promql.good: …`. The keys are documented in `docs/alerting/slos.md`.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::LabelSet;
use crate::duration::PromDuration;

/// The placeholder a PromQL SLI expression's range selectors use for the window length.
pub const WINDOW_PLACEHOLDER: &str = "$window";

/// Labels every generated burn-rate alert sets itself; `labels` may not override them.
pub const RESERVED_LABELS: [&str; 5] = [
    "alertname",
    "slo",
    "severity",
    "long_window",
    "short_window",
];

/// A configuration mistake, with the key path it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SloConfigError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> SloConfigError {
    SloConfigError {
        path: path.into(),
        message: message.into(),
    }
}

/// One `[[alerting.slos]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// Unique; letters, digits, `_`, `-`, `.`; the `slo` label of generated alerts.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Target percentage of good events (or up time), `0 < objective < 100`, e.g. `99.9`.
    pub objective: f64,
    /// The SLO window: a rolling duration (`30d`, `4w`) or `calendar_month`.
    #[serde(default)]
    pub window: SloWindowConfig,
    /// IANA time zone for `calendar_month` windows (`Europe/Berlin`); default `UTC`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    pub sli: SliConfig,
    /// Extra labels on the generated alerts (for routing: `team = "payments"`).
    #[serde(default)]
    pub labels: LabelSet,
    /// Burn-rate alert windows; defaults are the SRE workbook's.
    #[serde(default)]
    pub alerting: BurnAlertingConfig,
    /// How often the generated rules are evaluated.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
}

fn default_time_zone() -> String {
    "UTC".to_string()
}

fn default_interval() -> PromDuration {
    PromDuration::from_secs(30)
}

/// `window`: a rolling duration or the current calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SloWindowConfig {
    Rolling(PromDuration),
    CalendarMonth,
}

impl Default for SloWindowConfig {
    fn default() -> Self {
        SloWindowConfig::Rolling(PromDuration::from_secs(30 * 86_400))
    }
}

impl fmt::Display for SloWindowConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SloWindowConfig::Rolling(d) => d.fmt(f),
            SloWindowConfig::CalendarMonth => f.write_str("calendar_month"),
        }
    }
}

impl Serialize for SloWindowConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SloWindowConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim() == "calendar_month" {
            return Ok(SloWindowConfig::CalendarMonth);
        }
        PromDuration::parse(&s)
            .map(SloWindowConfig::Rolling)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or \"calendar_month\"")))
    }
}

/// `sli`: exactly one of `promql`, `logs`, `check`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliConfig {
    /// PromQL expressions giving event *rates* over `$window`.
    #[serde(default)]
    pub promql: Option<RatioQueries>,
    /// Pharos log queries whose match counts over the window are the events.
    #[serde(default)]
    pub logs: Option<RatioQueries>,
    /// A health check id: up time is good, down time is bad (from the uptime ledger).
    #[serde(default)]
    pub check: Option<String>,
}

/// `good` or `bad` (exactly one), and `total`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioQueries {
    #[serde(default)]
    pub good: Option<String>,
    #[serde(default)]
    pub bad: Option<String>,
    pub total: String,
}

/// `alerting`: the multi-window, multi-burn-rate pairs per severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnAlertingConfig {
    #[serde(default = "default_page")]
    pub page: Vec<BurnWindowConfig>,
    #[serde(default = "default_ticket")]
    pub ticket: Vec<BurnWindowConfig>,
}

impl Default for BurnAlertingConfig {
    fn default() -> Self {
        BurnAlertingConfig {
            page: default_page(),
            ticket: default_ticket(),
        }
    }
}

/// One pair: alert when the burn rate is above `factor` over both `long` and `short`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnWindowConfig {
    pub long: PromDuration,
    pub short: PromDuration,
    pub factor: f64,
}

fn pair(long_secs: u64, short_secs: u64, factor: f64) -> BurnWindowConfig {
    BurnWindowConfig {
        long: PromDuration::from_secs(long_secs),
        short: PromDuration::from_secs(short_secs),
        factor,
    }
}

/// SRE workbook: 2 % of a 30-day budget in 1 h, 5 % in 6 h.
fn default_page() -> Vec<BurnWindowConfig> {
    vec![pair(3600, 300, 14.4), pair(6 * 3600, 1800, 6.0)]
}

/// SRE workbook: 10 % of a 30-day budget in 3 days.
fn default_ticket() -> Vec<BurnWindowConfig> {
    vec![pair(3 * 86_400, 6 * 3600, 1.0)]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl SloConfig {
    /// Checks one SLO; `path` is its key path (`alerting.slos[0]`).
    pub fn validate(&self, path: &str) -> Result<(), SloConfigError> {
        if !valid_name(&self.name) {
            return Err(err(
                format!("{path}.name"),
                format!(
                    "{:?} must be non-empty letters, digits, '_', '-' or '.'",
                    self.name
                ),
            ));
        }
        if !(self.objective > 0.0 && self.objective < 100.0) {
            return Err(err(
                format!("{path}.objective"),
                format!(
                    "{} must be a percentage above 0 and below 100 (e.g. 99.9)",
                    self.objective
                ),
            ));
        }
        if super::window::Objective::from_percent(self.objective).is_none() {
            return Err(err(
                format!("{path}.objective"),
                format!(
                    "{} is too close to 0 or 100: objectives are exact to 1e-7 %",
                    self.objective
                ),
            ));
        }
        match self.window {
            SloWindowConfig::Rolling(d) if d.0.as_secs() < 1 => {
                return Err(err(format!("{path}.window"), "must be at least 1s"));
            }
            _ => {}
        }
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            return Err(err(
                format!("{path}.time_zone"),
                format!("unknown IANA time zone {:?}", self.time_zone),
            ));
        }
        self.validate_sli(&format!("{path}.sli"))?;
        for key in self.labels.keys() {
            if RESERVED_LABELS.contains(&key.as_str()) {
                return Err(err(
                    format!("{path}.labels.{key}"),
                    "is set by the generated alerts and cannot be overridden",
                ));
            }
        }
        if self.interval.is_zero() {
            return Err(err(format!("{path}.interval"), "must be above 0s"));
        }
        let alerting = format!("{path}.alerting");
        for (severity, pairs) in [
            ("page", &self.alerting.page),
            ("ticket", &self.alerting.ticket),
        ] {
            for (i, p) in pairs.iter().enumerate() {
                let at = format!("{alerting}.{severity}[{i}]");
                if p.short.is_zero() {
                    return Err(err(format!("{at}.short"), "must be above 0s"));
                }
                if p.long <= p.short {
                    return Err(err(
                        format!("{at}.long"),
                        format!("{} must be longer than short ({})", p.long, p.short),
                    ));
                }
                if !(p.factor.is_finite() && p.factor > 0.0) {
                    return Err(err(format!("{at}.factor"), "must be a number above 0"));
                }
            }
        }
        Ok(())
    }

    fn validate_sli(&self, path: &str) -> Result<(), SloConfigError> {
        let given = [
            self.sli.promql.is_some(),
            self.sli.logs.is_some(),
            self.sli.check.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(err(path, "set exactly one of promql, logs or check"));
        }
        if let Some(q) = &self.sli.promql {
            validate_ratio(q, &format!("{path}.promql"), validate_promql)?;
        }
        if let Some(q) = &self.sli.logs {
            validate_ratio(q, &format!("{path}.logs"), validate_log_query)?;
        }
        if let Some(id) = &self.sli.check {
            if id.trim().is_empty() {
                return Err(err(format!("{path}.check"), "must name a check id"));
            }
        }
        Ok(())
    }
}

fn validate_ratio(
    q: &RatioQueries,
    path: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<(), SloConfigError> {
    let (key, numerator) = match (&q.good, &q.bad) {
        (Some(g), None) => ("good", g),
        (None, Some(b)) => ("bad", b),
        _ => return Err(err(path, "set exactly one of good or bad (and total)")),
    };
    check(numerator).map_err(|m| err(format!("{path}.{key}"), m))?;
    check(&q.total).map_err(|m| err(format!("{path}.total"), m))
}

/// A PromQL SLI expression must use `$window` and parse once it is substituted.
fn validate_promql(expr: &str) -> Result<(), String> {
    if !expr.contains(WINDOW_PLACEHOLDER) {
        return Err(format!(
            "must use the {WINDOW_PLACEHOLDER} placeholder as its range (e.g. rate(x[{WINDOW_PLACEHOLDER}])), so it can be evaluated over each alert window"
        ));
    }
    pharos_query::promql::parse(&substitute_window(expr, PromDuration::from_secs(300)))
        .map(|_| ())
        .map_err(|e| format!("invalid PromQL: {e}"))
}

fn validate_log_query(query: &str) -> Result<(), String> {
    pharos_query::lang::parse(query)
        .map(|_| ())
        .map_err(|e| format!("invalid log query: {e}"))
}

/// `expr` with every `$window` replaced by `window` written the Prometheus way.
pub fn substitute_window(expr: &str, window: PromDuration) -> String {
    expr.replace(WINDOW_PLACEHOLDER, &window.to_string())
}

/// Checks every SLO and that names are unique; `check_exists` tells whether a check id is
/// configured (check SLIs must name one).
pub fn validate_all(
    slos: &[SloConfig],
    check_exists: impl Fn(&str) -> bool,
) -> Result<(), SloConfigError> {
    let mut names = HashSet::new();
    for (i, slo) in slos.iter().enumerate() {
        let path = format!("alerting.slos[{i}]");
        slo.validate(&path)?;
        if !names.insert(slo.name.as_str()) {
            return Err(err(
                format!("{path}.name"),
                format!("{:?} is used by an earlier SLO", slo.name),
            ));
        }
        if let Some(id) = &slo.sli.check {
            if !check_exists(id) {
                return Err(err(
                    format!("{path}.sli.check"),
                    format!("no check with id {id:?} is configured"),
                ));
            }
        }
    }
    Ok(())
}
