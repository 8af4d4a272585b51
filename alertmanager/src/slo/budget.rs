//! The SLO math, as pure functions: error ratio, burn rate, the error budget of a window,
//! how much of it is spent, and when it runs out at the current burn rate.
//!
//! The budget is measured in *time*: `(1 − objective) × window length` seconds of full
//! outage (43.2 min for 99.9 % over 30 days). An error ratio `e` sustained for `t` seconds
//! spends `e × t` of it. For request SLIs this treats traffic as even over the window (the
//! usual reading, and exact for a rolling window, where the spent fraction is simply the
//! burn rate over the whole window). No traffic is "no data": every function returns `None`
//! rather than NaN or infinity.

use serde::Serialize;

use super::window::{Objective, WindowBounds};

/// Good and total events over a window. Any unit — per-second rates, counts, seconds of up
/// time — since only their ratio is used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EventCounts {
    pub good: f64,
    pub total: f64,
    /// Seconds of the window the counts cover, when the source knows it (a health check's
    /// up + down time: time in `unknown` spends no budget). `None`: the whole window.
    pub observed_secs: Option<f64>,
}

impl EventCounts {
    pub fn from_good(good: f64, total: f64) -> EventCounts {
        EventCounts {
            good,
            total,
            observed_secs: None,
        }
    }

    pub fn from_bad(bad: f64, total: f64) -> EventCounts {
        EventCounts::from_good(total - bad, total)
    }

    /// Counts that are themselves seconds (good = up time, total = up + down time), so they
    /// cover `total` seconds of the window.
    pub fn from_seconds(good_secs: f64, total_secs: f64) -> EventCounts {
        EventCounts {
            good: good_secs,
            total: total_secs,
            observed_secs: Some(total_secs),
        }
    }

    /// Bad events, within `[0, total]` (rates read at slightly different instants can make
    /// good exceed total by a hair; that is no errors, not negative ones).
    pub fn bad(&self) -> f64 {
        (self.total - self.good).clamp(0.0, self.total.max(0.0))
    }

    /// `bad / total`; `None` without traffic (or with non-finite inputs).
    pub fn error_ratio(&self) -> Option<f64> {
        self.has_traffic()
            .then(|| self.bad() / self.total)
            .and_then(finite)
    }

    fn has_traffic(&self) -> bool {
        self.total.is_finite() && self.good.is_finite() && self.total > 0.0
    }
}

/// `Some(x)` for a finite `x`: nothing NaN or infinite reaches JSON or an alert.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Burn rate: error ratio / (1 − objective). 1 spends exactly the budget over the window.
/// Computed as `bad × 10⁹ / (total × budget ppb)` so integral counts give exact results
/// (20 bad in 1000 at 99.9 % is exactly 20).
pub fn burn_rate(counts: &EventCounts, objective: Objective) -> Option<f64> {
    if !counts.has_traffic() {
        return None;
    }
    finite(counts.bad() * 1e9 / (counts.total * objective.budget_ppb() as f64))
}

/// `1 − error ratio` as a percentage: the SLI as users read it (99.95 %).
pub fn sli_percent(counts: &EventCounts) -> Option<f64> {
    counts.error_ratio().map(|e| (1.0 - e) * 100.0)
}

/// The error budget of an SLO window and how much of it is spent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBudget {
    /// `(1 − objective) × window length`, seconds.
    pub total_secs: f64,
    /// Spent so far, seconds: error ratio × the observed part of the window.
    pub consumed_secs: Option<f64>,
    /// `total − consumed`; negative once overspent.
    pub remaining_secs: Option<f64>,
    /// Spent share of the budget (1 = all of it; above 1 = overspent).
    pub consumed_fraction: Option<f64>,
    /// `1 − consumed_fraction`; negative once overspent.
    pub remaining_fraction: Option<f64>,
}

/// The budget of the window at `bounds`, given the events over its measured part.
pub fn error_budget(
    objective: Objective,
    bounds: &WindowBounds,
    measured: Option<&EventCounts>,
) -> ErrorBudget {
    let total_secs = objective.budget_ns(bounds.length_ns()) as f64 / 1e9;
    // Spent share = burn rate over the measured part × the observed share of the window (a
    // calendar month half gone at burn 1 has spent half its budget; a check known for only
    // an hour has spent just that hour's downtime).
    let consumed_fraction = measured
        .and_then(|c| {
            let burn = burn_rate(c, objective)?;
            let observed_secs = c.observed_secs.unwrap_or(bounds.measured_ns() as f64 / 1e9);
            let length = bounds.length_ns();
            (length > 0).then(|| burn * observed_secs * 1e9 / length as f64)
        })
        .and_then(finite);
    let consumed_secs = consumed_fraction.and_then(|f| finite(f * total_secs));
    ErrorBudget {
        total_secs,
        consumed_secs,
        remaining_secs: consumed_secs.map(|c| total_secs - c),
        consumed_fraction,
        remaining_fraction: consumed_fraction.map(|f| 1.0 - f),
    }
}

/// Seconds until the budget is gone if `burn` goes on: at burn `b` the budget drains at
/// `b / window length` of itself per second. `Some(0)` when already spent; `None` when it
/// never runs out (no errors, or no data).
pub fn time_to_exhaustion_secs(
    remaining_fraction: Option<f64>,
    burn: Option<f64>,
    window_ns: i64,
) -> Option<f64> {
    let remaining = remaining_fraction?;
    if remaining <= 0.0 {
        return Some(0.0);
    }
    let burn = burn.filter(|b| *b > 0.0)?;
    finite(remaining * (window_ns as f64 / 1e9) / burn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective(p: f64) -> Objective {
        Objective::from_percent(p).unwrap_or_else(|| panic!("bad test objective {p}"))
    }

    #[test]
    fn burn_rate_of_a_known_error_ratio() {
        let o = objective(99.9);
        let c = EventCounts::from_bad(20.0, 1000.0);
        assert_eq!(c.error_ratio(), Some(0.02));
        assert_eq!(burn_rate(&c, o), Some(20.0));
        assert_eq!(
            burn_rate(&EventCounts::from_bad(9.0, 10_000.0), o),
            Some(0.9)
        );
        assert_eq!(
            burn_rate(&EventCounts::from_good(1000.0, 1000.0), o),
            Some(0.0)
        );
        // Rates read at different instants: good above total is no errors.
        assert_eq!(
            burn_rate(&EventCounts::from_good(1001.0, 1000.0), o),
            Some(0.0)
        );
    }

    #[test]
    fn no_traffic_is_no_data_not_nan() {
        let o = objective(99.9);
        for c in [
            EventCounts::from_good(0.0, 0.0),
            EventCounts::from_good(f64::NAN, 10.0),
            EventCounts::from_good(1.0, f64::INFINITY),
        ] {
            assert_eq!(c.error_ratio(), None);
            assert_eq!(burn_rate(&c, o), None);
            assert_eq!(sli_percent(&c), None);
        }
    }

    #[test]
    fn exhaustion_scales_with_remaining_budget_and_burn() {
        let day = 86_400_000_000_000;
        // Burn 1 spends a whole budget in one window length.
        assert_eq!(
            time_to_exhaustion_secs(Some(1.0), Some(1.0), 30 * day),
            Some(30.0 * 86_400.0)
        );
        // Half left at burn 10: 1.5 days.
        assert_eq!(
            time_to_exhaustion_secs(Some(0.5), Some(10.0), 30 * day),
            Some(1.5 * 86_400.0)
        );
        assert_eq!(
            time_to_exhaustion_secs(Some(-0.2), Some(3.0), day),
            Some(0.0)
        );
        assert_eq!(time_to_exhaustion_secs(Some(0.5), Some(0.0), day), None);
        assert_eq!(time_to_exhaustion_secs(Some(0.5), None, day), None);
        assert_eq!(time_to_exhaustion_secs(None, Some(2.0), day), None);
    }
}
