//! Runs the probes: one tokio task per active check, probing at once and then every
//! `interval_secs` (start to start; a probe that overruns delays the next), and one task that
//! checks heartbeat deadlines four times a second. Sleeping uses tokio's timer; every decision
//! is stamped by the checker's injectable clock. All tasks end when `stop` turns true.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::Checker;
use crate::config::CheckKind;

/// How often heartbeat deadlines are looked at.
pub const HEARTBEAT_TICK: Duration = Duration::from_millis(250);

impl Checker {
    /// Probes and watches heartbeats until `stop` is true.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, check) in self.checks.iter().enumerate() {
            if check.config.kind == CheckKind::Heartbeat {
                continue;
            }
            let checker = self.clone();
            let mut stop = stop.clone();
            let every = Duration::from_secs(check.config.interval_secs.max(1));
            let timeout = Duration::from_secs(check.config.timeout_secs.max(1));
            tasks.spawn(async move {
                let Some(check) = checker.checks.get(i).cloned() else {
                    return;
                };
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = ticks.tick() => {}
                        _ = stop.wait_for(|v| *v) => return,
                    }
                    let now = checker.clock.now_ns();
                    let outcome = tokio::select! {
                        o = check.probe.run(timeout, now) => o,
                        _ = stop.wait_for(|v| *v) => return,
                    };
                    checker.record(&check, outcome);
                }
            });
        }
        if self
            .checks
            .iter()
            .any(|c| c.config.kind == CheckKind::Heartbeat)
        {
            let checker = self.clone();
            let mut stop = stop.clone();
            tasks.spawn(async move {
                let mut ticks = tokio::time::interval(HEARTBEAT_TICK);
                loop {
                    tokio::select! {
                        _ = ticks.tick() => { checker.tick_heartbeats(); }
                        _ = stop.wait_for(|v| *v) => return,
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}
