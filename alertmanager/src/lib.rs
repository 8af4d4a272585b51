//! Pharos alertmanager: active health checks and heartbeats with their uptime ledger; alert
//! rules and SLOs; the alert store; routing, grouping, silences and inhibition; escalation
//! with acknowledgement; and the notifiers that deliver e-mail and webhooks.

pub mod alert;
pub mod checks;
pub mod config;
pub mod dispatch;
pub mod duration;
pub mod escalation;
pub mod inhibit;
pub mod matcher;
pub mod notification;
pub mod notify;
pub mod oncall;
pub mod rules;
pub mod service;
pub mod silence;
pub mod slo;
pub mod sources;
pub mod storage;
pub mod store;
pub mod testing;
pub mod timeinterval;

pub use alert::{Alert, Fingerprint, LabelSet};
pub use checks::Checker;
pub use config::{CheckConfig, CheckKind};
pub use duration::PromDuration;
pub use notification::{Deliver, Message, Notification, NotifySink, Target};
pub use service::{Alerting, AlertingConfig, AlertingError};
pub use storage::{MemStateDb, SharedStateDb, SledStateDb, StateDb};
pub use store::AlertStore;
