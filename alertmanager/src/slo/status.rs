//! An SLO's state at an instant, as `GET /api/v1/slos` shows it. Every number is finite or
//! `null` ("no data": no traffic, or the source failed — see `errors`).

use std::collections::BTreeMap;

use pharos_collector::clock::rfc3339;
use serde::Serialize;

use super::alerts::Severity;
use super::budget::{self, ErrorBudget};
use super::sli::SliSource;
use super::window::bounds;
use super::Slo;
use crate::duration::PromDuration;

/// The window the time to exhaustion is projected from (the "current" burn rate).
pub const CURRENT_BURN_WINDOW: PromDuration = PromDuration(std::time::Duration::from_secs(3600));

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloStatus {
    pub name: String,
    pub description: String,
    pub objective_percent: f64,
    /// As configured: `30d`, `calendar_month`, …
    pub window: String,
    /// The time zone of a `calendar_month` window; `null` for rolling windows.
    pub time_zone: Option<String>,
    /// The SLO window (RFC 3339). Rolling: `[now − window, now)`. Calendar month: the whole
    /// month, of which `[window_start, now)` is measured so far.
    pub window_start: String,
    pub window_end: String,
    /// Good events (or up time) over the measured part of the window, percent.
    pub sli_percent: Option<f64>,
    pub error_ratio: Option<f64>,
    pub error_budget: ErrorBudget,
    /// Burn rate over every alert window (and 1h), shortest first.
    pub burn_rates: Vec<WindowBurnRate>,
    /// Seconds until the budget is spent at the 1h burn rate; `null` = not at this rate.
    pub time_to_exhaustion_secs: Option<f64>,
    /// Every configured burn-rate alert and whether its condition holds now.
    pub alerts: Vec<BurnAlertStatus>,
    /// Source failures while computing this status (the affected values are `null`).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowBurnRate {
    pub window: String,
    pub window_secs: u64,
    pub burn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnAlertStatus {
    pub severity: Severity,
    pub long_window: String,
    pub short_window: String,
    pub factor: f64,
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
    /// Burn rate above `factor` over both windows (the generated alert's condition).
    pub met: bool,
}

/// Computes the status of `slo` at `now_ns`, reading each distinct window once.
pub fn status(slo: &Slo, source: &dyn SliSource, now_ns: i64) -> SloStatus {
    let config = &slo.config;
    let mut errors = Vec::new();
    let window_bounds = bounds(config.window, &config.time_zone, now_ns);
    let measured = match source.counts(&slo.sli, window_bounds.start_ns, now_ns) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(format!("SLO window: {e}"));
            None
        }
    };
    let error_budget = budget::error_budget(slo.objective, &window_bounds, measured.as_ref());

    let pairs = slo.burn_rate_pairs();
    let mut windows: Vec<PromDuration> = pairs.iter().flat_map(|p| [p.long, p.short]).collect();
    windows.push(CURRENT_BURN_WINDOW);
    windows.sort();
    windows.dedup();
    let mut burn: BTreeMap<PromDuration, Option<f64>> = BTreeMap::new();
    for w in windows {
        let rate = slo.burn_rate(source, w, now_ns).unwrap_or_else(|e| {
            errors.push(format!("{w} window: {e}"));
            None
        });
        burn.insert(w, rate);
    }
    let burn_of = |w: PromDuration| burn.get(&w).copied().flatten();

    let alerts = pairs
        .iter()
        .map(|p| {
            let (long, short) = (burn_of(p.long), burn_of(p.short));
            BurnAlertStatus {
                severity: p.severity,
                long_window: p.long.to_string(),
                short_window: p.short.to_string(),
                factor: p.factor,
                long_burn_rate: long,
                short_burn_rate: short,
                met: p.is_met(long, short),
            }
        })
        .collect();
    let time_to_exhaustion_secs = budget::time_to_exhaustion_secs(
        error_budget.remaining_fraction,
        burn_of(CURRENT_BURN_WINDOW),
        window_bounds.length_ns(),
    );
    let calendar = matches!(config.window, super::config::SloWindowConfig::CalendarMonth);
    SloStatus {
        name: config.name.clone(),
        description: config.description.clone(),
        objective_percent: slo.objective.percent(),
        window: config.window.to_string(),
        time_zone: calendar.then(|| config.time_zone.clone()),
        window_start: rfc3339(window_bounds.start_ns),
        window_end: rfc3339(window_bounds.end_ns),
        sli_percent: measured.as_ref().and_then(budget::sli_percent),
        error_ratio: measured.as_ref().and_then(|c| c.error_ratio()),
        error_budget,
        burn_rates: burn
            .iter()
            .map(|(w, rate)| WindowBurnRate {
                window: w.to_string(),
                window_secs: w.0.as_secs(),
                burn_rate: *rate,
            })
            .collect(),
        time_to_exhaustion_secs,
        alerts,
        errors,
    }
}

/// The error budget left at one instant of the SLO's window (the budget chart).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetPoint {
    pub at: String,
    pub at_ns: i64,
    /// Share of the budget left then (negative once overspent); `null` without data.
    pub remaining_fraction: Option<f64>,
    pub sli_percent: Option<f64>,
}

/// The budget left at `points` instants spread evenly from the current window's start to
/// `now_ns` (the last one is now): each is what the SLO status said at that instant — for a
/// rolling window, over the window ending then; for a calendar month, the month so far.
pub fn budget_history(
    slo: &Slo,
    source: &dyn SliSource,
    now_ns: i64,
    points: usize,
) -> Vec<BudgetPoint> {
    let config = &slo.config;
    let start = bounds(config.window, &config.time_zone, now_ns).start_ns;
    let points = points.clamp(2, 200) as i64;
    let span = now_ns.saturating_sub(start).max(0);
    (1..=points)
        .map(|k| {
            let at = start + span / points * k + if k == points { span % points } else { 0 };
            let b = bounds(config.window, &config.time_zone, at);
            let measured = source.counts(&slo.sli, b.start_ns, at).ok();
            let budget = budget::error_budget(slo.objective, &b, measured.as_ref());
            BudgetPoint {
                at: rfc3339(at),
                at_ns: at,
                remaining_fraction: budget.remaining_fraction,
                sli_percent: measured.as_ref().and_then(budget::sli_percent),
            }
        })
        .collect()
}
