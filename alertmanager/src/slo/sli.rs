//! Reading an SLI over a window: the good and total events of `[from, to)`. [`SliSource`] is
//! the seam: production reads [`Sources`] (PromQL, log queries, the uptime ledger), tests a
//! synthetic source.

use std::time::Duration;

use super::budget::EventCounts;
use super::config::{substitute_window, RatioQueries, SliConfig};
use crate::duration::PromDuration;
use crate::sources::Sources;

/// Which side of the ratio a query counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numerator {
    Good(String),
    Bad(String),
}

/// A validated SLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sli {
    /// PromQL rate expressions with `$window`; evaluated at `to` with `$window = to − from`.
    Promql { numerator: Numerator, total: String },
    /// Log queries; their match counts over `[from, to)`.
    Logs { numerator: Numerator, total: String },
    /// A health check: up seconds are good, up + down seconds the total (unknown time is
    /// left out, as the uptime ledger does).
    Check { id: String },
}

impl Sli {
    /// From a validated config (`None` if it is not one: see `SloConfig::validate`).
    pub fn from_config(c: &SliConfig) -> Option<Sli> {
        fn ratio(q: &RatioQueries) -> Option<(Numerator, String)> {
            let numerator = match (&q.good, &q.bad) {
                (Some(g), None) => Numerator::Good(g.clone()),
                (None, Some(b)) => Numerator::Bad(b.clone()),
                _ => return None,
            };
            Some((numerator, q.total.clone()))
        }
        match (&c.promql, &c.logs, &c.check) {
            (Some(q), None, None) => {
                ratio(q).map(|(numerator, total)| Sli::Promql { numerator, total })
            }
            (None, Some(q), None) => {
                ratio(q).map(|(numerator, total)| Sli::Logs { numerator, total })
            }
            (None, None, Some(id)) => Some(Sli::Check { id: id.clone() }),
            _ => None,
        }
    }

    /// The SLI as written, for rule `text()` and diagnostics.
    pub fn describe(&self) -> String {
        fn ratio(kind: &str, n: &Numerator, total: &str) -> String {
            match n {
                Numerator::Good(g) => format!("{kind}: good = {g}; total = {total}"),
                Numerator::Bad(b) => format!("{kind}: bad = {b}; total = {total}"),
            }
        }
        match self {
            Sli::Promql { numerator, total } => ratio("promql", numerator, total),
            Sli::Logs { numerator, total } => ratio("logs", numerator, total),
            Sli::Check { id } => format!("check: {id}"),
        }
    }
}

/// Where SLI events come from. Blocking; called off the async runtime.
pub trait SliSource: Send + Sync + 'static {
    /// Good and total events over `[from_ns, to_ns)`.
    fn counts(&self, sli: &Sli, from_ns: i64, to_ns: i64) -> Result<EventCounts, String>;
}

/// The window of `[from, to)` as a PromQL range, in whole seconds (at least 1 s).
fn promql_window(from_ns: i64, to_ns: i64) -> PromDuration {
    let secs = to_ns.saturating_sub(from_ns).max(0) / 1_000_000_000;
    PromDuration(Duration::from_secs(secs.max(1).unsigned_abs()))
}

/// The sum of every sample of a PromQL expression at `at_ns` (an empty result is 0: no
/// series, no events).
fn promql_sum(
    sources: &Sources,
    expr: &str,
    window: PromDuration,
    at_ns: i64,
) -> Result<f64, String> {
    let expr = substitute_window(expr, window);
    Ok(sources.promql(&expr, at_ns)?.iter().map(|s| s.value).sum())
}

impl SliSource for Sources {
    fn counts(&self, sli: &Sli, from_ns: i64, to_ns: i64) -> Result<EventCounts, String> {
        match sli {
            Sli::Promql { numerator, total } => {
                let window = promql_window(from_ns, to_ns);
                let total = promql_sum(self, total, window, to_ns)?;
                Ok(match numerator {
                    Numerator::Good(q) => {
                        EventCounts::from_good(promql_sum(self, q, window, to_ns)?, total)
                    }
                    Numerator::Bad(q) => {
                        EventCounts::from_bad(promql_sum(self, q, window, to_ns)?, total)
                    }
                })
            }
            Sli::Logs { numerator, total } => {
                let count = |q: &str| self.logs(q, from_ns, to_ns).map(|r| r.total as f64);
                let total = count(total)?;
                Ok(match numerator {
                    Numerator::Good(q) => EventCounts::from_good(count(q)?, total),
                    Numerator::Bad(q) => EventCounts::from_bad(count(q)?, total),
                })
            }
            Sli::Check { id } => {
                let checker = self
                    .checker
                    .as_deref()
                    .ok_or("the health checks are not available")?;
                let uptime = checker
                    .uptime(id, from_ns, to_ns)
                    .ok_or_else(|| format!("no check with id {id:?}"))?
                    .map_err(|e| e.to_string())?;
                Ok(EventCounts::from_seconds(
                    uptime.up_secs,
                    uptime.up_secs + uptime.downtime_secs,
                ))
            }
        }
    }
}
