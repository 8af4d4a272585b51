//! The objective as an exact rational and the SLO window's bounds at an instant.
//!
//! The objective is kept as parts per billion (99.9 % → 999 000 000) so the budget of a
//! window is computed in integer nanoseconds: 99.9 % of 30 days is exactly 2 592 s, not
//! 2 592.000 000 000 002 3 s as `(1 − 0.999) × 2 592 000` is in floating point.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::config::SloWindowConfig;

const PPB: i128 = 1_000_000_000;

/// An SLO objective, exact to 1e-7 of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    /// Good parts per billion: 99.9 % → 999 000 000. Always in `1..PPB`.
    good_ppb: i64,
}

impl Objective {
    /// From a percentage (`99.9`); `None` unless `0 < percent < 100` once rounded to ppb.
    pub fn from_percent(percent: f64) -> Option<Objective> {
        let ppb = (percent * 1e7).round();
        (ppb >= 1.0 && ppb < PPB as f64).then_some(Objective {
            good_ppb: ppb as i64,
        })
    }

    pub fn percent(self) -> f64 {
        self.good_ppb as f64 / 1e7
    }

    /// Allowed bad parts per billion (99.9 % → 1 000 000).
    pub fn budget_ppb(self) -> i64 {
        (PPB as i64) - self.good_ppb
    }

    /// `1 − objective` as a fraction (99.9 % → 0.001).
    pub fn budget_fraction(self) -> f64 {
        self.budget_ppb() as f64 / PPB as f64
    }

    /// The error budget of a window of `window_ns`: `(1 − objective) × window`, in whole
    /// nanoseconds (exact: integer arithmetic, rounded down).
    pub fn budget_ns(self, window_ns: i64) -> i64 {
        let ns = i128::from(window_ns.max(0)) * i128::from(self.budget_ppb()) / PPB;
        i64::try_from(ns).unwrap_or(i64::MAX)
    }
}

/// Where the SLO window lies at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowBounds {
    /// Start of the window (inclusive).
    pub start_ns: i64,
    /// End of the window: `now` for a rolling window, the start of the next month for a
    /// calendar month (the budget is over the whole month).
    pub end_ns: i64,
    /// The part measured so far: `[start_ns, measured_end_ns)`, `measured_end_ns` = now.
    pub measured_end_ns: i64,
}

impl WindowBounds {
    /// The whole window's length, which the budget is a share of.
    pub fn length_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// The length of the part measured so far.
    pub fn measured_ns(&self) -> i64 {
        self.measured_end_ns.saturating_sub(self.start_ns).max(0)
    }
}

/// The window's bounds at `now_ns`. `time_zone` is an IANA name (validated in config; an
/// unknown one falls back to UTC rather than failing a status read).
pub fn bounds(window: SloWindowConfig, time_zone: &str, now_ns: i64) -> WindowBounds {
    match window {
        SloWindowConfig::Rolling(d) => WindowBounds {
            start_ns: now_ns.saturating_sub(d.as_ns()),
            end_ns: now_ns,
            measured_end_ns: now_ns,
        },
        SloWindowConfig::CalendarMonth => {
            let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
            let (start_ns, end_ns) = month_bounds(&tz, now_ns).unwrap_or((now_ns, now_ns));
            WindowBounds {
                start_ns,
                end_ns,
                measured_end_ns: now_ns,
            }
        }
    }
}

/// Midnight at the start of the month containing `now_ns` in `tz`, and at the start of the
/// next month (DST-aware: a March in Europe/Berlin is 743 hours long).
fn month_bounds(tz: &TimeZone, now_ns: i64) -> Option<(i64, i64)> {
    let now = Timestamp::from_nanosecond(i128::from(now_ns)).ok()?;
    let local = now.to_zoned_datetime(tz.clone());
    let first = local.date().first_of_month();
    let next = first.checked_add(1.month()).ok()?;
    let start = first.to_zoned_datetime(tz.clone()).ok()?.timestamp();
    let end = next.to_zoned_datetime(tz.clone()).ok()?.timestamp();
    Some((
        i64::try_from(start.as_nanosecond()).ok()?,
        i64::try_from(end.as_nanosecond()).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pharos_collector::clock::NANOS_PER_SEC as S;

    #[test]
    fn objectives_round_to_ppb_and_refuse_the_edges() {
        let o = Objective::from_percent(99.9).expect("valid");
        assert_eq!(o.budget_ppb(), 1_000_000);
        assert_eq!(o.percent(), 99.9);
        assert_eq!(Objective::from_percent(100.0), None);
        assert_eq!(Objective::from_percent(0.0), None);
        assert_eq!(Objective::from_percent(f64::NAN), None);
        assert_eq!(
            Objective::from_percent(99.95).map(|o| o.budget_ppb()),
            Some(500_000)
        );
    }

    #[test]
    fn budget_is_exact_in_nanoseconds() {
        let o = Objective::from_percent(99.9).expect("valid");
        assert_eq!(o.budget_ns(30 * 86_400 * S), 2_592 * S);
        assert_eq!(o.budget_ns(31 * 86_400 * S), 2_678_400_000_000);
    }
}
