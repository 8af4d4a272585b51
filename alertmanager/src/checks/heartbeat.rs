//! Passive checks: a cron job or batch worker pings `POST /api/v1/heartbeat/{id}` each run; the
//! check is down once no ping arrived for `period_secs + grace_secs` (at exactly that time), and
//! the next ping brings it up. `fail_after`/`recover_after` do not apply: one missed deadline
//! is down, one ping is up. After a start, the first deadline is start + period + grace (pings
//! could not arrive while Pharos was down); the state itself continues from the ledger.

use super::state::{Outcome, State};

use super::{secs_ns, Checker};
use crate::config::{CheckConfig, CheckKind};

/// `period_secs + grace_secs` in nanoseconds (0 for other kinds).
pub fn allowance_ns(c: &CheckConfig) -> i64 {
    if c.kind != CheckKind::Heartbeat {
        return 0;
    }
    secs_ns(
        c.period_secs
            .unwrap_or(0)
            .saturating_add(c.grace_secs.unwrap_or(0)),
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    #[error("no check {0:?}")]
    Unknown(String),
    #[error("check {0:?} is not a heartbeat (kind = {1:?})")]
    NotHeartbeat(String, &'static str),
}

impl Checker {
    /// A ping: the heartbeat is up, and the next deadline is now + period + grace.
    pub fn ping(&self, id: &str) -> Result<State, PingError> {
        let check = self
            .get(id)
            .ok_or_else(|| PingError::Unknown(id.to_string()))?;
        if check.config.kind != CheckKind::Heartbeat {
            return Err(PingError::NotHeartbeat(
                id.to_string(),
                check.config.kind.as_str(),
            ));
        }
        let now = self.clock.now_ns();
        check.rt.lock().deadline_ns = now.saturating_add(allowance_ns(&check.config));
        self.record_at(check, Outcome::ok("ping received"), now);
        Ok(check.rt.lock().machine.state())
    }

    /// Marks down every heartbeat whose deadline has passed (at the deadline's time);
    /// returns how many changed.
    pub fn tick_heartbeats(&self) -> usize {
        let now = self.clock.now_ns();
        let mut changed = 0;
        for check in &self.checks {
            if check.config.kind != CheckKind::Heartbeat {
                continue;
            }
            let deadline = {
                let rt = check.rt.lock();
                if rt.machine.state() == State::Down || now < rt.deadline_ns {
                    continue;
                }
                rt.deadline_ns
            };
            let c = &check.config;
            let reason = format!(
                "no ping within period_secs + grace_secs = {} s",
                c.period_secs
                    .unwrap_or(0)
                    .saturating_add(c.grace_secs.unwrap_or(0))
            );
            if self
                .record_at(check, Outcome::fail(reason), deadline)
                .is_some()
            {
                changed += 1;
            }
        }
        changed
    }
}
