//! Views for the HTTP layer, shaped like Alertmanager's v2 API JSON: `GET /api/v2/alerts`
//! ([`GettableAlert`]) and `GET /api/v2/alerts/groups` ([`AlertGroupView`]).

use serde::{Deserialize, Serialize};

use crate::alert::LabelSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The dispatcher has not seen it yet.
    Unprocessed,
    /// Routed and not muted.
    Active,
    /// Silenced or inhibited.
    Suppressed,
}

/// `status` of a v2 alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    pub state: AlertState,
    /// Ids of the active silences that match it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the firing alerts that inhibit it.
    pub inhibited_by: Vec<String>,
    /// Time intervals that mute it on at least one of its routes right now (newer
    /// Alertmanagers report this too; it does not make the alert `suppressed`).
    pub muted_by: Vec<String>,
}

/// `{"name": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverRef {
    pub name: String,
}

/// One alert as `GET /api/v2/alerts` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: String,
    pub ends_at: String,
    pub updated_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
    pub receivers: Vec<ReceiverRef>,
    pub status: AlertStatus,
}

/// One aggregation group as `GET /api/v2/alerts/groups` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertGroupView {
    pub labels: LabelSet,
    pub receiver: ReceiverRef,
    pub alerts: Vec<GettableAlert>,
    /// Not in Alertmanager's schema; extra, for Pharos's UI and debugging.
    pub group_key: String,
}
