//! Silences with Alertmanager's v2 semantics: a silence mutes every alert its matchers match
//! while it is active (`startsAt <= now < endsAt`). Ids are UUIDs; changing an active
//! silence's matchers (or moving its start) expires it and creates a new one, as Alertmanager
//! does, so the history of what was silenced when stays truthful. Expired silences are kept
//! for `retention` after their end, then garbage-collected. Stored in the `silences` space.
//!
//! [`PostableSilence`] and [`GettableSilence`] are shaped exactly like the v2 API's JSON, so
//! the HTTP layer serves `/api/v2/silences` and `/api/v2/silence/{id}` with them directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use pharos_collector::clock::{rfc3339, SharedClock};
use serde::{Deserialize, Serialize};

use crate::alert::{valid_label_name, LabelSet};
use crate::matcher::{MatchOp, Matcher, Matchers};
use crate::storage::{SharedStateDb, StateOp, StorageError};

const SPACE: &str = "silences";

/// Alertmanager's default `--data.retention` for expired silences.
pub const DEFAULT_SILENCE_RETENTION_NS: i64 = 120 * 3_600 * 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("silence {0} not found")]
    NotFound(String),
    #[error("invalid silence: {0}")]
    Invalid(String),
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// `{"name","value","isRegex","isEqual"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// Absent means `true`, as in the v2 API.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl ApiMatcher {
    pub fn compile(&self) -> Result<Matcher, String> {
        if !valid_label_name(&self.name) {
            return Err(format!("invalid label name {:?}", self.name));
        }
        Matcher::new(
            &self.name,
            MatchOp::from_flags(self.is_regex, self.is_equal),
            &self.value,
        )
        .map_err(|e| e.msg)
    }
}

impl From<&Matcher> for ApiMatcher {
    fn from(m: &Matcher) -> ApiMatcher {
        ApiMatcher {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: m.op.is_regex(),
            is_equal: m.op.is_equal(),
        }
    }
}

/// The body of `POST /api/v2/silences`; with an `id` it updates that silence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub matchers: Vec<ApiMatcher>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceStatus {
    pub state: SilenceState,
}

/// One silence as `GET /api/v2/silences` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub matchers: Vec<ApiMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
    pub status: SilenceStatus,
    pub updated_at: String,
}

/// What is stored (times in Unix ns).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredSilence {
    id: String,
    matchers: Vec<ApiMatcher>,
    starts_at_ns: i64,
    ends_at_ns: i64,
    updated_at_ns: i64,
    created_by: String,
    comment: String,
}

struct Entry {
    stored: StoredSilence,
    matchers: Matchers,
}

impl Entry {
    fn state(&self, now: i64) -> SilenceState {
        state_at(self.stored.starts_at_ns, self.stored.ends_at_ns, now)
    }

    fn view(&self, now: i64) -> GettableSilence {
        let s = &self.stored;
        GettableSilence {
            id: s.id.clone(),
            matchers: s.matchers.clone(),
            starts_at: rfc3339(s.starts_at_ns),
            ends_at: rfc3339(s.ends_at_ns),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
            status: SilenceStatus {
                state: self.state(now),
            },
            updated_at: rfc3339(s.updated_at_ns),
        }
    }
}

fn state_at(start: i64, end: i64, now: i64) -> SilenceState {
    if now < start {
        SilenceState::Pending
    } else if now < end {
        SilenceState::Active
    } else {
        SilenceState::Expired
    }
}

/// The silences; share one behind an `Arc` between the API and the dispatcher.
pub struct Silences {
    db: SharedStateDb,
    clock: SharedClock,
    retention_ns: i64,
    entries: Mutex<BTreeMap<String, Entry>>,
}

pub type SharedSilences = Arc<Silences>;

fn parse_time(field: &str, s: &str) -> Result<i64, SilenceError> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| i64::try_from(t.as_nanosecond()).ok())
        .ok_or_else(|| SilenceError::Invalid(format!("{field}: {s:?} is not an RFC 3339 time")))
}

fn encode(s: &StoredSilence) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(s).map_err(|e| StorageError(e.to_string()))
}

impl Silences {
    /// Loads the stored silences; `retention_ns` is how long expired ones are kept.
    /// An unreadable stored silence is skipped with a warning rather than failing startup.
    pub fn open(
        db: SharedStateDb,
        clock: SharedClock,
        retention_ns: i64,
    ) -> Result<Silences, SilenceError> {
        let mut entries = BTreeMap::new();
        for (key, value) in db.scan(SPACE, b"")? {
            let parsed = serde_json::from_slice::<StoredSilence>(&value)
                .map_err(|e| e.to_string())
                .and_then(|s| compile(&s.matchers).map(|m| (s, m)));
            match parsed {
                Ok((stored, matchers)) => {
                    entries.insert(stored.id.clone(), Entry { stored, matchers });
                }
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(&key),
                    error = %e,
                    "skipping unreadable stored silence"
                ),
            }
        }
        Ok(Silences {
            db,
            clock,
            retention_ns,
            entries: Mutex::new(entries),
        })
    }

    /// Creates a silence, or updates the one named by `id`. Returns the id of the silence
    /// now in force, which is new when the update could not be made in place.
    pub fn set(&self, post: PostableSilence) -> Result<String, SilenceError> {
        let now = self.clock.now_ns();
        let matchers = compile(&post.matchers).map_err(SilenceError::Invalid)?;
        let mut starts = parse_time("startsAt", &post.starts_at)?;
        let ends = parse_time("endsAt", &post.ends_at)?;
        if starts >= ends {
            return Err(SilenceError::Invalid(
                "start time must be before end time".into(),
            ));
        }
        if ends < now {
            return Err(SilenceError::Invalid(
                "end time can't be in the past".into(),
            ));
        }
        let mut entries = self.entries.lock();
        let prev = match post.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Some(
                entries
                    .get(id)
                    .ok_or_else(|| SilenceError::NotFound(id.to_string()))?,
            ),
            None => None,
        };
        let mut ops = Vec::new();
        if let Some(prev) = prev {
            if can_update(prev, &matchers, starts, ends, now) {
                let mut s = prev.stored.clone();
                s.ends_at_ns = ends;
                s.starts_at_ns = starts;
                s.comment = post.comment;
                s.created_by = post.created_by;
                s.updated_at_ns = now;
                let id = s.id.clone();
                self.db.put(SPACE, id.as_bytes(), encode(&s)?)?;
                entries.insert(
                    id.clone(),
                    Entry {
                        stored: s,
                        matchers,
                    },
                );
                return Ok(id);
            }
            if prev.state(now) != SilenceState::Expired {
                // Not updatable in place: end the old one now and replace it.
                let expired = expired_copy(&prev.stored, now);
                ops.push(StateOp::Put(
                    SPACE,
                    expired.id.clone().into_bytes(),
                    encode(&expired)?,
                ));
            }
        }
        starts = starts.max(now);
        let stored = StoredSilence {
            id: uuid::Uuid::new_v4().to_string(),
            matchers: post.matchers,
            starts_at_ns: starts,
            ends_at_ns: ends,
            updated_at_ns: now,
            created_by: post.created_by,
            comment: post.comment,
        };
        ops.push(StateOp::Put(
            SPACE,
            stored.id.clone().into_bytes(),
            encode(&stored)?,
        ));
        self.db.write(ops)?;
        if let Some(old) = prev.map(|p| p.stored.id.clone()) {
            if let Some(e) = entries.get_mut(&old) {
                if e.state(now) != SilenceState::Expired {
                    e.stored = expired_copy(&e.stored, now);
                }
            }
        }
        let id = stored.id.clone();
        entries.insert(id.clone(), Entry { stored, matchers });
        Ok(id)
    }

    /// Ends a silence now (a pending one never becomes active).
    pub fn expire(&self, id: &str) -> Result<(), SilenceError> {
        let now = self.clock.now_ns();
        let mut entries = self.entries.lock();
        let e = entries
            .get_mut(id)
            .ok_or_else(|| SilenceError::NotFound(id.to_string()))?;
        if e.state(now) == SilenceState::Expired {
            return Err(SilenceError::AlreadyExpired(id.to_string()));
        }
        let expired = expired_copy(&e.stored, now);
        self.db.put(SPACE, id.as_bytes(), encode(&expired)?)?;
        e.stored = expired;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<GettableSilence> {
        let now = self.clock.now_ns();
        self.entries.lock().get(id).map(|e| e.view(now))
    }

    /// Every silence whose equality matchers satisfy `filter` (the API's `filter=`), in
    /// Alertmanager's order: active (soonest end first), pending (soonest start first),
    /// expired (latest end first).
    pub fn list(&self, filter: &Matchers) -> Vec<GettableSilence> {
        let now = self.clock.now_ns();
        let entries = self.entries.lock();
        let mut out: Vec<&Entry> = entries
            .values()
            .filter(|e| filter.0.is_empty() || filter.matches(&equal_labels(&e.matchers)))
            .collect();
        out.sort_by_key(|e| {
            let s = &e.stored;
            match e.state(now) {
                SilenceState::Active => (0, s.ends_at_ns),
                SilenceState::Pending => (1, s.starts_at_ns),
                SilenceState::Expired => (2, s.ends_at_ns.saturating_neg()),
            }
        });
        out.into_iter().map(|e| e.view(now)).collect()
    }

    /// Ids of the silences active at `now_ns` that match these labels.
    pub fn silenced_by(&self, labels: &LabelSet, now_ns: i64) -> Vec<String> {
        self.entries
            .lock()
            .values()
            .filter(|e| e.state(now_ns) == SilenceState::Active && e.matchers.matches(labels))
            .map(|e| e.stored.id.clone())
            .collect()
    }

    /// Deletes silences that ended more than the retention ago; returns how many.
    pub fn gc(&self) -> Result<usize, SilenceError> {
        let cutoff = self.clock.now_ns().saturating_sub(self.retention_ns);
        let mut entries = self.entries.lock();
        let old: Vec<String> = entries
            .values()
            .filter(|e| e.stored.ends_at_ns < cutoff)
            .map(|e| e.stored.id.clone())
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        self.db.write(
            old.iter()
                .map(|id| StateOp::Delete(SPACE, id.clone().into_bytes()))
                .collect(),
        )?;
        for id in &old {
            entries.remove(id);
        }
        Ok(old.len())
    }
}

/// Compiles API matchers with Alertmanager's checks: at least one, and not all of them may
/// match the empty string (such a silence would mute every alert).
fn compile(api: &[ApiMatcher]) -> Result<Matchers, String> {
    if api.is_empty() {
        return Err("at least one matcher required".into());
    }
    let mut out = Vec::with_capacity(api.len());
    for (i, m) in api.iter().enumerate() {
        out.push(m.compile().map_err(|e| format!("matchers[{i}]: {e}"))?);
    }
    if out.iter().all(|m| m.matches_value("")) {
        return Err("at least one matcher must not match the empty string".into());
    }
    Ok(Matchers(out))
}

/// Alertmanager's in-place update rule: same matchers; an active silence keeps its start and
/// may not end in the past; a pending one may not start in the past; an expired one is never
/// updated.
fn can_update(prev: &Entry, matchers: &Matchers, starts: i64, ends: i64, now: i64) -> bool {
    if prev.matchers != *matchers {
        return false;
    }
    match prev.state(now) {
        SilenceState::Active => starts == prev.stored.starts_at_ns && ends >= now,
        SilenceState::Pending => starts >= now,
        SilenceState::Expired => false,
    }
}

fn expired_copy(s: &StoredSilence, now: i64) -> StoredSilence {
    let mut e = s.clone();
    if now < e.starts_at_ns {
        e.starts_at_ns = now;
    }
    e.ends_at_ns = now;
    e.updated_at_ns = now;
    e
}

/// The label set a silence's `=` matchers describe, which the API's `filter` is matched
/// against (Alertmanager's `CheckSilenceMatchesFilterLabels`).
fn equal_labels(m: &Matchers) -> LabelSet {
    m.0.iter()
        .filter(|m| m.op == MatchOp::Eq)
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect()
}
