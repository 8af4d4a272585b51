//! A dispatcher core with a ManualClock, an alert store and a recording sink, stepped from
//! due time to due time.

use std::sync::Arc;

use pharos_alertmanager::alert::labels;
use pharos_alertmanager::dispatch::{DispatchCore, RoutingConfig, DEFAULT_NFLOG_RETENTION_NS};
use pharos_alertmanager::silence::{Silences, DEFAULT_SILENCE_RETENTION_NS};
use pharos_alertmanager::{Alert, AlertStore, MemStateDb, Notification};
use pharos_collector::clock::{Clock, ManualClock, NANOS_PER_SEC};

pub const S: i64 = NANOS_PER_SEC;
/// 2024-06-01T00:00:00Z, a Saturday.
pub const T0: i64 = 1_717_200_000 * S;

pub struct Harness {
    pub core: DispatchCore,
    pub store: AlertStore,
    pub silences: Arc<Silences>,
    pub clock: ManualClock,
    pub db: MemStateDb,
    config: RoutingConfig,
    /// Delivered notifications.
    pub sent: Vec<Notification>,
    /// Deliveries attempted, failed ones included.
    pub attempts: usize,
    /// Make the sink fail.
    pub fail: bool,
}

impl Harness {
    pub fn new(toml_text: &str) -> Harness {
        let config: RoutingConfig = toml::from_str(toml_text).expect("test config parses");
        Harness::open(config, MemStateDb::default(), ManualClock::new(T0))
    }

    fn open(config: RoutingConfig, db: MemStateDb, clock: ManualClock) -> Harness {
        let silences = Arc::new(
            Silences::open(
                Arc::new(db.clone()),
                Arc::new(clock.clone()),
                DEFAULT_SILENCE_RETENTION_NS,
            )
            .unwrap(),
        );
        let core = DispatchCore::new(
            config.compile().expect("test config is valid"),
            silences.clone(),
            Arc::new(db.clone()),
            DEFAULT_NFLOG_RETENTION_NS,
        )
        .unwrap();
        // Alerts stay firing for a day unless resolved explicitly.
        let store =
            AlertStore::open(Arc::new(db.clone()), Arc::new(clock.clone()), 86_400 * S).unwrap();
        let mut h = Harness {
            core,
            store,
            silences,
            clock,
            db,
            config,
            sent: Vec::new(),
            attempts: 0,
            fail: false,
        };
        // What Dispatcher::run does at start: read every stored alert.
        let now = h.now();
        for a in h.store.list() {
            h.core.on_alert(a, now);
        }
        h
    }

    /// A new process on the same state database, at the clock's current time.
    pub fn reopen(&self) -> Harness {
        Harness::open(self.config.clone(), self.db.clone(), self.clock.clone())
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ns()
    }

    pub fn put(&mut self, alert: Alert) {
        let now = self.now();
        for merged in self.store.put(vec![alert]).unwrap() {
            self.core.on_alert(merged, now);
        }
    }

    /// A firing alert that started now.
    pub fn fire(&mut self, pairs: &[(&str, &str)]) -> Alert {
        let a = Alert::firing(labels(pairs.iter().copied()), self.now());
        self.put(a.clone());
        a
    }

    /// Resolves the alert with these labels now.
    pub fn resolve(&mut self, pairs: &[(&str, &str)]) {
        let mut a = Alert::firing(labels(pairs.iter().copied()), self.now());
        a.ends_at_ns = self.now();
        self.put(a);
    }

    /// Runs every flush due up to and including `to`, each at its exact due time.
    pub fn advance_to(&mut self, to: i64) {
        while let Some(due) = self.core.next_due() {
            if due > to {
                break;
            }
            let at = due.max(self.now());
            self.clock.set(at);
            for flush in self.core.tick(at) {
                self.attempts += 1;
                let result = if self.fail {
                    Err("sink down".to_string())
                } else {
                    self.sent.push(flush.notification.clone());
                    Ok(())
                };
                self.core.on_delivered(&flush, result).unwrap();
            }
        }
        self.clock.set(to.max(self.now()));
    }

    pub fn sent_times(&self) -> Vec<i64> {
        self.sent.iter().map(|n| n.at_ns).collect()
    }

    /// (group key, alert count) of each delivered notification.
    pub fn sent_groups(&self) -> Vec<(String, usize)> {
        self.sent
            .iter()
            .map(|n| (n.group_key.clone(), n.alerts.len()))
            .collect()
    }
}
