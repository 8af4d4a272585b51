//! Health checks: active probes (HTTP(S), TCP, TLS expiry) run on their intervals, passive
//! heartbeats pinged by cron jobs, the state machine that turns results into `up`/`down`
//! without flapping, and the durable ledger of every state change.
//!
//! - `state.rs`: the pure state machine (fail_after / recover_after).
//! - `ledger.rs`: durable state changes and the uptime math.
//! - `probe.rs`: the network probes.
//! - `scheduler.rs`: tokio tasks that probe on each interval.
//! - `heartbeat.rs`: pings and missed deadlines.
//!
//! Every decision is stamped by the injectable clock, so tests drive it exactly.

pub mod heartbeat;
pub mod ledger;
pub mod metrics;
pub mod probe;
pub mod probe_series;
pub mod scheduler;
pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use pharos_collector::clock::{SharedClock, NANOS_PER_DAY, NANOS_PER_SEC};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::config::{CheckConfig, CheckKind};
use ledger::{Event, Ledger, LedgerError, Uptime};
use metrics::CheckMetrics;
use probe::Probe;
use state::{Machine, Outcome, State};

/// One configured check and its live state.
pub struct Check {
    pub config: CheckConfig,
    probe: Probe,
    rt: Mutex<Runtime>,
}

struct Runtime {
    machine: Machine,
    last: Option<(i64, Outcome)>,
    /// Heartbeats: down at or after this time without a ping.
    deadline_ns: i64,
}

/// Every check, the ledger and the metrics. Cheap to share behind an `Arc`.
pub struct Checker {
    clock: SharedClock,
    ledger: Ledger,
    checks: Vec<Arc<Check>>,
    by_id: HashMap<String, usize>,
    metrics: CheckMetrics,
    changes: tokio::sync::broadcast::Sender<StateChange>,
    /// Every probe result, for the metrics store (`probe_success`, `probe_duration_seconds`:
    /// the response-time history of the checks view). Installed by [`Checker::probe_results`].
    probes: Mutex<Option<tokio::sync::mpsc::Sender<ProbeResult>>>,
    probes_dropped: std::sync::atomic::AtomicU64,
}

/// One probe's result, as it is written to the metrics store.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub check: String,
    pub kind: CheckKind,
    pub at_ns: i64,
    pub ok: bool,
    pub latency_ms: Option<f64>,
}

/// A check's state change as it is published to subscribers (the rule engine evaluates
/// check-state rules on it at once instead of waiting for its next interval).
#[derive(Debug, Clone)]
pub struct StateChange {
    pub check: String,
    pub event: Event,
}

/// The last result of a check, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LastResult {
    pub at: String,
    pub ok: bool,
    pub reason: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    /// A TLS check's certificate expiry (RFC 3339), from this result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_expires_at: Option<String>,
}

/// A check as `GET /api/v1/checks` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub id: String,
    pub kind: CheckKind,
    pub target: String,
    pub state: State,
    /// When the current state was decided (RFC 3339); `null` while unknown.
    pub since: Option<String>,
    pub last_result: Option<LastResult>,
    pub last_latency_ms: Option<f64>,
}

fn secs_ns(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX)
        .saturating_mul(NANOS_PER_SEC)
}

impl Checker {
    /// Opens the ledger in `dir` (`data/checks/`) and restores each check's state from it.
    /// The configs must be valid ([`crate::config::validate`]).
    pub fn open(
        configs: &[CheckConfig],
        dir: &Path,
        clock: SharedClock,
    ) -> Result<Checker, String> {
        crate::config::validate(configs)?;
        let ledger = Ledger::open(dir).map_err(|e| e.to_string())?;
        let now = clock.now_ns();
        let metrics = CheckMetrics::default();
        let mut checks = Vec::new();
        let mut by_id = HashMap::new();
        for (i, c) in configs.iter().enumerate() {
            let probe = Probe::new(c).map_err(|e| format!("checks[{i}].{e}"))?;
            let (fail_after, recover_after) = match c.kind {
                CheckKind::Heartbeat => (1, 1),
                _ => (c.fail_after, c.recover_after),
            };
            let machine = match ledger.last(&c.id).map_err(|e| e.to_string())? {
                Some(ev) => Machine::restored(fail_after, recover_after, ev.to, ev.at_ns),
                None => Machine::new(fail_after, recover_after),
            };
            metrics.set_state(&c.id, machine.state());
            by_id.insert(c.id.clone(), checks.len());
            checks.push(Arc::new(Check {
                config: c.clone(),
                probe,
                rt: Mutex::new(Runtime {
                    machine,
                    last: None,
                    deadline_ns: now.saturating_add(heartbeat::allowance_ns(c)),
                }),
            }));
        }
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        Ok(Checker {
            clock,
            ledger,
            checks,
            by_id,
            metrics,
            changes,
            probes: Mutex::new(None),
            probes_dropped: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Check>> {
        self.by_id.get(id).and_then(|i| self.checks.get(*i))
    }

    pub fn checks(&self) -> &[Arc<Check>] {
        &self.checks
    }

    /// Feeds one result of `check` at the clock's now.
    pub fn record(&self, check: &Check, outcome: Outcome) -> Option<Event> {
        self.record_at(check, outcome, self.clock.now_ns())
    }

    /// Feeds one result of `check` decided at `at_ns`; a state change is written to the
    /// ledger (and fsynced) before the new state shows.
    pub fn record_at(&self, check: &Check, outcome: Outcome, at_ns: i64) -> Option<Event> {
        let id = check.config.id.as_str();
        if let Some(ms) = outcome.latency_ms {
            if check.config.kind != CheckKind::Heartbeat {
                self.metrics.observe_latency(id, ms);
            }
        }
        self.send_probe(check, &outcome, at_ns);
        let mut rt = check.rt.lock();
        let transition = rt.machine.observe(outcome.ok, at_ns);
        let event = transition.map(|t| Event::new(t.at_ns, t.from, t.to, &outcome));
        rt.last = Some((at_ns, outcome));
        let event = event.map(|ev| match self.ledger.append(id, ev.clone()) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(check = id, error = %e, "state change not stored in the uptime ledger");
                ev
            }
        });
        if let Some(ev) = &event {
            self.metrics.set_state(id, ev.to);
            tracing::info!(check = id, from = ev.from.as_str(), to = ev.to.as_str(), reason = %ev.reason, "check state changed");
            // Stored first, published second: a subscriber never sees an unrecorded change.
            let _ = self.changes.send(StateChange {
                check: id.to_string(),
                event: ev.clone(),
            });
        }
        event
    }

    /// Every probe result from now on, through a channel of `capacity`. The results are
    /// telemetry, not the uptime record (the ledger is): when the reader falls behind, results
    /// are dropped and counted ([`Checker::probe_results_dropped`]) rather than slowing probes.
    pub fn probe_results(&self, capacity: usize) -> tokio::sync::mpsc::Receiver<ProbeResult> {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        *self.probes.lock() = Some(tx);
        rx
    }

    pub fn probe_results_dropped(&self) -> u64 {
        self.probes_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn send_probe(&self, check: &Check, outcome: &Outcome, at_ns: i64) {
        let probes = self.probes.lock();
        let Some(tx) = probes.as_ref() else { return };
        let result = ProbeResult {
            check: check.config.id.clone(),
            kind: check.config.kind,
            at_ns,
            ok: outcome.ok,
            latency_ms: outcome.latency_ms,
        };
        if tx.try_send(result).is_err() {
            self.probes_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Every state change from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StateChange> {
        self.changes.subscribe()
    }

    pub fn state(&self, id: &str) -> Option<State> {
        self.get(id).map(|c| c.rt.lock().machine.state())
    }

    /// Every check as the API shows it, in config order.
    pub fn list(&self) -> Vec<CheckView> {
        self.checks
            .iter()
            .map(|c| {
                let rt = c.rt.lock();
                let last = rt.last.as_ref().map(|(at, o)| LastResult {
                    at: pharos_collector::clock::rfc3339(*at),
                    ok: o.ok,
                    reason: o.reason.clone(),
                    status: o.status,
                    latency_ms: o.latency_ms,
                    tls_expires_at: o
                        .tls_not_after
                        .map(|t| pharos_collector::clock::rfc3339(t.saturating_mul(NANOS_PER_SEC))),
                });
                CheckView {
                    id: c.config.id.clone(),
                    kind: c.config.kind,
                    target: c.config.target.clone(),
                    state: rt.machine.state(),
                    since: rt.machine.since_ns().map(pharos_collector::clock::rfc3339),
                    last_latency_ms: last.as_ref().and_then(|l| l.latency_ms),
                    last_result: last,
                }
            })
            .collect()
    }

    /// Uptime of a check over `[from_ns, to_ns)` (`to_ns` clipped to now); `None` for an
    /// unknown id. Reads the ledger: blocking.
    pub fn uptime(
        &self,
        id: &str,
        from_ns: i64,
        to_ns: i64,
    ) -> Option<Result<Uptime, LedgerError>> {
        self.get(id)?;
        Some(self.ledger.uptime(id, from_ns, to_ns, self.clock.now_ns()))
    }

    /// The uptime of each of the last `days` UTC days, oldest first, the last one being
    /// today so far (the status page's bars); `None` for an unknown id. Blocking.
    pub fn daily_uptime(&self, id: &str, days: usize) -> Option<Result<Vec<Uptime>, LedgerError>> {
        self.daily_uptime_in(id, days, &jiff::tz::TimeZone::UTC)
    }

    /// [`Checker::daily_uptime`] with the days of a time zone: a day runs from one local
    /// midnight to the next (23 or 25 hours across a DST change).
    pub fn daily_uptime_in(
        &self,
        id: &str,
        days: usize,
        tz: &jiff::tz::TimeZone,
    ) -> Option<Result<Vec<Uptime>, LedgerError>> {
        self.get(id)?;
        let now = self.clock.now_ns();
        let spans = day_spans(now, days, tz);
        Some(self.ledger.events(id).map(|events| {
            spans
                .iter()
                .map(|(start, end)| ledger::uptime(&events, *start, (*end).min(now)))
                .collect()
        }))
    }

    /// Uptime over each window ending now (e.g. 24 h, 7 d, 30 d, 90 d), reading the ledger
    /// once; `None` for an unknown id. Blocking.
    pub fn uptime_windows(
        &self,
        id: &str,
        windows_ns: &[i64],
    ) -> Option<Result<Vec<Uptime>, LedgerError>> {
        self.get(id)?;
        let now = self.clock.now_ns();
        Some(self.ledger.events(id).map(|events| {
            windows_ns
                .iter()
                .map(|w| ledger::uptime(&events, now.saturating_sub(*w), now))
                .collect()
        }))
    }

    /// Every stored state change of a check (blocking).
    pub fn events(&self, id: &str) -> Result<Vec<Event>, LedgerError> {
        self.ledger.events(id)
    }
}

#[cfg(test)]
mod tests;

/// The last `days` days of `tz` as `[start, end)` in nanoseconds, oldest first, the last one
/// holding `now_ns`. Falls back to UTC days where the time zone cannot say (out of range).
pub fn day_spans(now_ns: i64, days: usize, tz: &jiff::tz::TimeZone) -> Vec<(i64, i64)> {
    use jiff::{Span, Timestamp};
    let utc = |back: i64| {
        let today = now_ns.div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY;
        let start = today - back * NANOS_PER_DAY;
        (start, start + NANOS_PER_DAY)
    };
    let local = |back: i64| -> Option<(i64, i64)> {
        let now = Timestamp::from_nanosecond(i128::from(now_ns)).ok()?;
        let date = now
            .to_zoned_datetime(tz.clone())
            .date()
            .checked_sub(Span::new().days(back))
            .ok()?;
        let start = date.to_zoned_datetime(tz.clone()).ok()?.timestamp();
        let end = date
            .tomorrow()
            .ok()?
            .to_zoned_datetime(tz.clone())
            .ok()?
            .timestamp();
        Some((
            i64::try_from(start.as_nanosecond()).ok()?,
            i64::try_from(end.as_nanosecond()).ok()?,
        ))
    };
    (0..days as i64)
        .rev()
        .map(|back| local(back).unwrap_or_else(|| utc(back)))
        .collect()
}

#[cfg(test)]
mod day_tests {
    use super::*;

    #[test]
    fn days_follow_the_time_zone_and_its_dst_changes() {
        // 2026-10-26 12:00 UTC; Berlin left summer time at 03:00 local on 2026-10-25.
        let now = 1_793_016_000 * 1_000_000_000i64;
        let utc = day_spans(now, 2, &jiff::tz::TimeZone::UTC);
        assert_eq!(utc[1].0 % NANOS_PER_DAY, 0);
        assert_eq!(utc[1].1 - utc[1].0, NANOS_PER_DAY);
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let d = day_spans(now, 2, &berlin);
        // Today (26th, CET) starts at 23:00 UTC the day before; yesterday had 25 hours.
        assert_eq!(d[1].0, utc[1].0 - 3600 * 1_000_000_000);
        assert_eq!(d[0].1, d[1].0);
        assert_eq!(d[0].1 - d[0].0, 25 * 3600 * 1_000_000_000);
        assert!(d[1].0 <= now && now < d[1].1);
    }
}
