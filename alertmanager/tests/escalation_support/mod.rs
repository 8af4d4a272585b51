//! Shared by the escalation tests: a recording deliverer, a config, and an escalator on a
//! manual clock.
#![allow(dead_code)]

use std::sync::Arc;

use parking_lot::Mutex;
use pharos_alertmanager::alert::{labels, Alert};
use pharos_alertmanager::escalation::{
    AckKey, AckSettings, EscalationConfig, Escalator, EscalatorDeps,
};
use pharos_alertmanager::notification::{BoxFuture, Deliver, Message, Notification, Target};
use pharos_alertmanager::storage::MemStateDb;
use pharos_collector::clock::{ManualClock, NANOS_PER_SEC};

pub const MIN: i64 = 60 * NANOS_PER_SEC;

pub fn ns(rfc3339: &str) -> i64 {
    let t: jiff::Timestamp = rfc3339.parse().unwrap();
    i64::try_from(t.as_nanosecond()).unwrap()
}

/// 2025-03-20 10:00 UTC, a Thursday of Alice's week on "primary".
pub fn t0() -> i64 {
    ns("2025-03-20T10:00:00Z")
}

pub const CONFIG: &str = r#"
[[schedules]]
name = "primary"
time_zone = "Europe/Berlin"
rotation = { participants = ["Alice <alice@example.com>", "Bob <bob@example.com>"], handoff = "monday 09:00", start = "2025-03-17" }

[[policies]]
name = "api"
receivers = ["api-pager"]
repeat = 1

[[policies.steps]]
delay = "5m"
targets = [{ schedule = "primary" }]

[[policies.steps]]
delay = "10m"
targets = [{ email = "lead@example.com" }, { webhook = "https://hooks.example.com/T0/s3cr3t" }]

[[policies.steps]]
delay = "15m"
targets = [{ receiver = "management" }, { email = "lead@example.com" }]
"#;

pub fn config(text: &str) -> EscalationConfig {
    toml::from_str(text).unwrap()
}

/// Records every delivery; targets in `failing` fail.
#[derive(Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<(Target, Message)>>,
    pub failing: Mutex<Vec<Target>>,
}

impl Recorder {
    /// Takes what was delivered since the last call.
    pub fn take(&self) -> Vec<(Target, Message)> {
        std::mem::take(&mut *self.sent.lock())
    }
}

impl Deliver for Recorder {
    fn deliver<'a>(
        &'a self,
        target: &'a Target,
        msg: &'a Message,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.sent.lock().push((target.clone(), msg.clone()));
            if self.failing.lock().contains(target) {
                Err("connection refused".to_string())
            } else {
                Ok(())
            }
        })
    }
}

pub struct Harness {
    pub db: MemStateDb,
    pub clock: ManualClock,
    pub recorder: Arc<Recorder>,
    pub escalator: Arc<Escalator>,
}

pub fn key(db: &MemStateDb) -> AckKey {
    AckKey::load_with(None, &AckSettings::default(), db).unwrap()
}

/// An escalator on `db` (a clone of an earlier one's is a restart).
pub fn open(db: MemStateDb, clock: ManualClock, text: &str) -> Harness {
    let recorder = Arc::new(Recorder::default());
    let escalator = Escalator::open(
        &config(text),
        EscalatorDeps {
            db: Arc::new(db.clone()),
            clock: Arc::new(clock.clone()),
            deliver: recorder.clone(),
            ack_key: key(&db),
            external_url: "https://pharos.example.com/".into(),
        },
    )
    .unwrap();
    Harness {
        db,
        clock,
        recorder,
        escalator: Arc::new(escalator),
    }
}

pub fn harness() -> Harness {
    open(MemStateDb::default(), ManualClock::new(t0()), CONFIG)
}

pub fn alert(name: &str, starts_at: i64) -> Alert {
    Alert::firing(labels([("alertname", name), ("service", "api")]), starts_at)
}

pub fn notification(alerts: Vec<Alert>, at_ns: i64) -> Notification {
    Notification {
        receiver: "api-pager".into(),
        group_key: "{}:{service=\"api\"}".into(),
        group_labels: labels([("service", "api")]),
        alerts,
        at_ns,
    }
}

pub fn resolved(mut a: Alert, at: i64) -> Alert {
    a.ends_at_ns = at;
    a
}

pub fn targets(sent: &[(Target, Message)]) -> Vec<Target> {
    sent.iter().map(|(t, _)| t.clone()).collect()
}

pub fn email(s: &str) -> Target {
    Target::Email(s.into())
}

pub const WEBHOOK: &str = "https://hooks.example.com/T0/s3cr3t";
