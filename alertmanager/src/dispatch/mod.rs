//! Routing, grouping and notification dedup with Alertmanager's semantics.
//!
//! [`DispatchCore`] is the pure, clock-driven logic; [`Dispatcher`] wraps it for sharing
//! with the HTTP layer and runs it ([`Dispatcher::run`]): it subscribes to the
//! [`AlertStore`], wakes when the next group is due *or at once when an alert arrives* (so a
//! route with `group_wait = "0s"` notifies without any polling delay), and hands each due
//! notification to the [`NotifySink`] in its own task, so a slow receiver does not hold up
//! other groups.

pub mod api;
pub mod config;
pub mod core;
pub mod nflog;
pub mod route;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pharos_collector::clock::SharedClock;
use tokio::sync::{broadcast, mpsc};

use crate::alert::Alert;
use crate::notification::NotifySink;
use crate::silence::SharedSilences;
use crate::storage::{SharedStateDb, StorageError};
use crate::store::SharedAlertStore;

pub use self::api::{AlertGroupView, AlertState, AlertStatus, GettableAlert, ReceiverRef};
pub use self::config::{CompiledRouting, RouteConfig, RoutingConfig, RoutingConfigError};
pub use self::core::{DispatchCore, Flush, GroupId};
pub use self::nflog::DEFAULT_NFLOG_RETENTION_NS;

/// How often silences and the notification log are garbage-collected (Alertmanager's
/// maintenance interval).
const MAINTENANCE_INTERVAL_NS: i64 = 15 * 60 * 1_000_000_000;

/// The longest the driver sleeps without re-reading the clock, so a wall-clock step (NTP)
/// delays a due group by at most this much.
const MAX_SLEEP: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Config(#[from] RoutingConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The dispatcher: a [`DispatchCore`] behind a lock, shared by [`Dispatcher::run`] and the
/// API views.
pub struct Dispatcher {
    core: Mutex<DispatchCore>,
    silences: SharedSilences,
    clock: SharedClock,
}

impl Dispatcher {
    /// Validates the routing config and reads the notification log from `db`.
    pub fn new(
        config: &RoutingConfig,
        silences: SharedSilences,
        db: SharedStateDb,
        clock: SharedClock,
    ) -> Result<Dispatcher, DispatchError> {
        let core = DispatchCore::new(
            config.compile()?,
            silences.clone(),
            db,
            DEFAULT_NFLOG_RETENTION_NS,
        )?;
        Ok(Dispatcher {
            core: Mutex::new(core),
            silences,
            clock,
        })
    }

    /// Runs until `shutdown` completes or the store is dropped. Notifications in flight at
    /// shutdown are abandoned unrecorded, so they are sent again after a restart.
    pub async fn run(
        self: Arc<Self>,
        store: SharedAlertStore,
        sink: Arc<dyn NotifySink>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        // Subscribe first, then list, so nothing falls between the two.
        let mut alerts = store.subscribe();
        self.take_all(&store);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Flush, Result<(), String>)>();
        let mut next_maintenance = self.clock.now_ns();
        loop {
            let now = self.clock.now_ns();
            if now >= next_maintenance {
                self.maintain(now);
                next_maintenance = now.saturating_add(MAINTENANCE_INTERVAL_NS);
            }
            let due = self.core.lock().tick(now);
            for flush in due {
                let sink = sink.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    let result = sink.deliver(flush.notification.clone()).await;
                    // The receiver is gone only when the driver stopped.
                    let _ = done.send((flush, result));
                });
            }
            let wake_at = self
                .core
                .lock()
                .next_due()
                .map_or(next_maintenance, |d| d.min(next_maintenance));
            let wait_ns = wake_at.saturating_sub(self.clock.now_ns()).max(0);
            let wait = Duration::from_nanos(wait_ns.unsigned_abs()).min(MAX_SLEEP);
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                received = alerts.recv() => match received {
                    Ok(alert) => {
                        let now = self.clock.now_ns();
                        self.core.lock().on_alert(alert, now);
                        // Take whatever else arrived in the same burst before flushing.
                        while let Ok(more) = alerts.try_recv() {
                            self.core.lock().on_alert(more, now);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "dispatcher fell behind the alert store; re-reading it");
                        self.take_all(&store);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                Some((flush, result)) = done_rx.recv() => {
                    if let Err(e) = self.core.lock().on_delivered(&flush, result) {
                        tracing::error!(error = %e, group_key = %flush.notification.group_key,
                            "notification log not written; the group may be notified again");
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn take_all(&self, store: &SharedAlertStore) {
        let now = self.clock.now_ns();
        let mut core = self.core.lock();
        for alert in store.list() {
            core.on_alert(alert, now);
        }
    }

    fn maintain(&self, now: i64) {
        if let Err(e) = self.core.lock().gc(now) {
            tracing::warn!(error = %e, "notification log garbage collection failed");
        }
        if let Err(e) = self.silences.gc() {
            tracing::warn!(error = %e, "silence garbage collection failed");
        }
    }

    /// `status` of an alert for `GET /api/v2/alerts`.
    pub fn alert_status(&self, alert: &Alert) -> AlertStatus {
        self.core.lock().alert_status(alert, self.clock.now_ns())
    }

    /// The receivers an alert routes to.
    pub fn receivers(&self, alert: &Alert) -> Vec<String> {
        self.core.lock().receivers(&alert.labels)
    }

    /// An alert as `GET /api/v2/alerts` shows it (receivers and status filled in).
    pub fn gettable_alert(&self, alert: &Alert) -> GettableAlert {
        self.core.lock().gettable_alert(alert, self.clock.now_ns())
    }

    /// The aggregation groups for `GET /api/v2/alerts/groups`.
    pub fn groups(&self) -> Vec<AlertGroupView> {
        self.core.lock().groups(self.clock.now_ns())
    }
}
