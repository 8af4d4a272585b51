//! Escalation policies with acknowledgement, PagerDuty-style: a receiver bound to a policy
//! gets its notifications through the [`Escalator`], which opens an incident per alert
//! group, pages the policy's steps one after another (schedule targets page whoever is on
//! call) until someone acknowledges — by a signed one-click link, the API or the CLI — and
//! tells everyone paged when the group resolves.

mod ack;
mod config;
mod engine;
mod incident;
mod overrides;

pub use ack::{AckClaims, AckKey, AckKeyError, ACK_SECRET_ENV};
pub use config::{
    AckSettings, EscalationConfig, EscalationPolicyConfig, StepConfig, TargetConfig, CONFIG_KEY,
};
pub use engine::{Escalator, EscalatorDeps};
pub use incident::{IncidentState, IncidentView, NotifiedView};
pub use overrides::{NewOverride, MAX_API_OVERRIDES, MAX_OVERRIDE_NS};

pub use crate::oncall::ConfigError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Direct delivery for a receiver bound to no policy failed.
    #[error("delivery failed: {0}")]
    Delivery(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("the acknowledgement link is invalid (altered, truncated or signed with another key)")]
    InvalidToken,
    #[error("the acknowledgement link expired at {expired_at}")]
    Expired { expired_at: String },
    #[error("no incident {0:?}")]
    UnknownIncident(String),
    #[error("incident {id} already resolved at {resolved_at}")]
    AlreadyResolved { id: String, resolved_at: String },
    #[error("no open incident contains alert {0}")]
    NoIncidentForAlert(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
