//! A query's time budget: a deadline and a cancellation flag, checked between units of work
//! (a PromQL node, a partition, a segment) so that a query stops when its time runs out or
//! its client goes away, instead of burning a core for a reply nobody reads.
//!
//! The HTTP layer holds a [`CancelOnDrop`] in the request's future: when the client
//! disconnects, hyper drops the future, the guard sets the flag, and the blocking work sees
//! it at its next check.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default budget of one query (`query.timeout_secs`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a query was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The deadline passed.
    TimedOut,
    /// The client went away (or the caller gave up).
    Cancelled,
}

/// A deadline plus a shared cancellation flag. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl Budget {
    /// No deadline, never cancelled (until [`Budget::cancel`]).
    pub fn unlimited() -> Budget {
        Budget::default()
    }

    /// A budget that runs out `timeout` from now.
    pub fn with_timeout(timeout: Duration) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(timeout),
            cancelled: Arc::default(),
        }
    }

    /// The same flag, with the earlier of the two deadlines.
    pub fn tightened(&self, timeout: Duration) -> Budget {
        let asked = Instant::now().checked_add(timeout);
        let deadline = match (self.deadline, asked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Budget {
            deadline,
            cancelled: self.cancelled.clone(),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// A guard that cancels this budget when dropped (keep it in the request's future).
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop {
            flag: self.cancelled.clone(),
            armed: true,
        }
    }

    /// `Err` once the deadline has passed or the budget was cancelled.
    pub fn check(&self) -> Result<(), Stopped> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(Stopped::Cancelled);
        }
        match self.deadline {
            Some(d) if Instant::now() > d => Err(Stopped::TimedOut),
            _ => Ok(()),
        }
    }
}

/// Cancels its budget when dropped, unless [`CancelOnDrop::disarm`]ed.
#[derive(Debug)]
pub struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    armed: bool,
}

impl CancelOnDrop {
    /// The work finished: dropping the guard no longer cancels.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

/// A tantivy collector that checks the budget before each segment, so that one partition's
/// search (a partition has many segments) stops soon after the time is up.
pub struct Budgeted<C> {
    pub inner: C,
    pub budget: Budget,
}

impl<C: tantivy::collector::Collector> tantivy::collector::Collector for Budgeted<C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(
        &self,
        ord: tantivy::SegmentOrdinal,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<C::Child> {
        if let Err(why) = self.budget.check() {
            return Err(tantivy::TantivyError::InternalError(format!("{why:?}")));
        }
        self.inner.for_segment(ord, reader)
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<C::Child as tantivy::collector::SegmentCollector>::Fruit>,
    ) -> tantivy::Result<C::Fruit> {
        self.inner.merge_fruits(fruits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_cancels_and_a_disarmed_one_does_not() {
        let b = Budget::unlimited();
        assert_eq!(b.check(), Ok(()));
        b.cancel_on_drop().disarm();
        assert_eq!(b.check(), Ok(()));
        drop(b.cancel_on_drop());
        assert_eq!(b.clone().check(), Err(Stopped::Cancelled));
    }

    #[test]
    fn the_deadline_runs_out_and_tightening_keeps_the_earlier_one() {
        let b = Budget::with_timeout(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(b.check(), Err(Stopped::TimedOut));
        let long = Budget::with_timeout(Duration::from_secs(3600));
        assert_eq!(long.tightened(Duration::from_secs(60)).check(), Ok(()));
        let d = long.tightened(Duration::from_secs(60)).deadline().unwrap();
        assert!(d < long.deadline().unwrap());
        assert!(Budget::unlimited()
            .tightened(Duration::ZERO)
            .deadline()
            .is_some());
    }
}
