//! The pure state machine of one check: `unknown` until the first decision, then
//! `up` → (`fail_after` consecutive failures) → `down` → (`recover_after` consecutive
//! successes) → `up`. From `unknown`, `fail_after` failures decide `down` and `recover_after`
//! successes decide `up`, so one blip neither pages nor flaps. No I/O, no clock: callers pass
//! the time of each result.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Unknown,
    Up,
    Down,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
        }
    }
}

/// The result of one probe (or of a heartbeat ping / missed deadline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    /// Why it failed, or what was seen when it succeeded (`status 200`, `connected`).
    pub reason: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Time to the answer, milliseconds, when the probe got one.
    pub latency_ms: Option<f64>,
    /// A TLS check's certificate `notAfter` (Unix seconds), when one was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_not_after: Option<i64>,
}

impl Outcome {
    pub fn ok(reason: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            reason: reason.into(),
            status: None,
            latency_ms: None,
            tls_not_after: None,
        }
    }
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            reason: reason.into(),
            status: None,
            latency_ms: None,
            tls_not_after: None,
        }
    }
    pub fn with_tls_not_after(mut self, unix_secs: i64) -> Outcome {
        self.tls_not_after = Some(unix_secs);
        self
    }
    pub fn with_status(mut self, status: u16) -> Outcome {
        self.status = Some(status);
        self
    }
    pub fn with_latency(mut self, latency_ms: f64) -> Outcome {
        self.latency_ms = Some(latency_ms);
        self
    }
}

/// A decided change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub at_ns: i64,
}

/// One check's state and its runs of consecutive results.
#[derive(Debug, Clone)]
pub struct Machine {
    fail_after: u32,
    recover_after: u32,
    state: State,
    since_ns: Option<i64>,
    successes: u32,
    failures: u32,
}

impl Machine {
    pub fn new(fail_after: u32, recover_after: u32) -> Machine {
        Machine {
            fail_after: fail_after.max(1),
            recover_after: recover_after.max(1),
            state: State::Unknown,
            since_ns: None,
            successes: 0,
            failures: 0,
        }
    }

    /// A machine that continues a state read back from the ledger (runs start at zero).
    pub fn restored(fail_after: u32, recover_after: u32, state: State, since_ns: i64) -> Machine {
        let mut m = Machine::new(fail_after, recover_after);
        if state != State::Unknown {
            m.state = state;
            m.since_ns = Some(since_ns);
        }
        m
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// When the current state was decided (`None` while unknown since start).
    pub fn since_ns(&self) -> Option<i64> {
        self.since_ns
    }

    /// Feeds one result; returns the transition it decides, if any.
    pub fn observe(&mut self, ok: bool, at_ns: i64) -> Option<Transition> {
        let to = if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            (self.state != State::Up && self.successes >= self.recover_after).then_some(State::Up)
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            (self.state != State::Down && self.failures >= self.fail_after).then_some(State::Down)
        }?;
        let t = Transition {
            from: self.state,
            to,
            at_ns,
        };
        self.state = to;
        self.since_ns = Some(at_ns);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(m: &mut Machine, results: &str) -> Vec<(usize, State)> {
        results
            .chars()
            .enumerate()
            .filter_map(|(i, c)| m.observe(c == '+', i as i64).map(|t| (i, t.to)))
            .collect()
    }

    #[test]
    fn starts_unknown_and_decides_after_the_runs() {
        let mut m = Machine::new(3, 2);
        assert_eq!(m.state(), State::Unknown);
        assert_eq!(m.since_ns(), None);
        assert_eq!(feed(&mut m, "+"), vec![]);
        assert_eq!(m.state(), State::Unknown);
        let mut m = Machine::new(3, 2);
        assert_eq!(feed(&mut m, "++"), vec![(1, State::Up)]);
        assert_eq!(m.since_ns(), Some(1));
        let mut m = Machine::new(3, 2);
        assert_eq!(feed(&mut m, "-+-+--+---"), vec![(9, State::Down)]);
    }

    #[test]
    fn fail_after_and_recover_after_are_consecutive() {
        let mut m = Machine::new(3, 2);
        // up at 1; two failures are a blip; three page; one success does not recover.
        assert_eq!(
            feed(&mut m, "++--+---+-++"),
            vec![(1, State::Up), (7, State::Down), (11, State::Up)]
        );
        assert_eq!(m.since_ns(), Some(11));
    }

    #[test]
    fn flapping_every_other_probe_never_changes_state() {
        let mut m = Machine::new(2, 2);
        assert_eq!(feed(&mut m, "++"), vec![(1, State::Up)]);
        let mut flaps = Machine::restored(2, 2, State::Up, 1);
        assert_eq!(feed(&mut flaps, "-+-+-+-+-+-+"), vec![]);
        assert_eq!(flaps.state(), State::Up);
    }

    #[test]
    fn one_and_one_follow_every_result() {
        let mut m = Machine::new(1, 1);
        assert_eq!(
            feed(&mut m, "-+-"),
            vec![(0, State::Down), (1, State::Up), (2, State::Down)]
        );
        let mut r = Machine::restored(1, 1, State::Down, 5);
        assert_eq!(r.state(), State::Down);
        assert_eq!(r.observe(false, 6), None);
        assert_eq!(r.since_ns(), Some(5));
    }
}
