//! On-call overrides created while Pharos runs ("I'll cover Thursday for Bob"): validated,
//! stored (space `oncall_overrides`, before they take effect), loaded again at start, and
//! applied to the schedule that pages, beside the config file's overrides.

use serde::{Deserialize, Serialize};

use super::engine::Escalator;
use crate::oncall::{Override, OverrideError, OverrideView, Person};

pub(crate) const OVERRIDES_SPACE: &str = "oncall_overrides";

/// The most overrides one schedule keeps from the API (ended ones included until deleted).
pub const MAX_API_OVERRIDES: usize = 1000;
/// The longest override: a quarter (a longer change belongs in the rotation).
pub const MAX_OVERRIDE_NS: i64 = 92 * 24 * 3600 * 1_000_000_000;
const MAX_TEXT: usize = 500;

/// What is stored per override.
#[derive(Serialize, Deserialize)]
struct StoredOverride {
    schedule: String,
    #[serde(flatten)]
    over: Override,
}

fn key(schedule: &str, id: &str) -> Vec<u8> {
    let mut k = schedule.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// A request for a new override.
pub struct NewOverride<'a> {
    pub who: &'a str,
    pub start_ns: i64,
    pub end_ns: i64,
    pub created_by: &'a str,
    pub comment: &'a str,
}

impl Escalator {
    /// Applies the stored overrides to the schedules (at open). One whose schedule is gone
    /// from the config, or that now overlaps a config override, is skipped with a warning.
    pub(crate) fn load_overrides(&self) -> Result<(), crate::storage::StorageError> {
        for (k, v) in self.db().scan(OVERRIDES_SPACE, b"")? {
            let Ok(stored) = serde_json::from_slice::<StoredOverride>(&v) else {
                tracing::warn!(key = %String::from_utf8_lossy(&k), "skipping an unreadable stored on-call override");
                continue;
            };
            let Some(schedule) = self.schedules().get(&stored.schedule) else {
                tracing::warn!(schedule = %stored.schedule, "a stored on-call override names a schedule that is no longer configured");
                continue;
            };
            if let Err(e) = schedule.insert_override(stored.over) {
                tracing::warn!(schedule = %stored.schedule, error = %e, "skipping a stored on-call override");
            }
        }
        Ok(())
    }

    /// Validates, stores and applies an override; returns it as listed.
    pub fn add_override(
        &self,
        schedule_name: &str,
        new: NewOverride<'_>,
        now_ns: i64,
    ) -> Result<OverrideView, OverrideError> {
        let invalid = |m: &str| Err(OverrideError::Invalid(m.to_string()));
        let schedule = self
            .schedules()
            .get(schedule_name)
            .ok_or_else(|| OverrideError::UnknownSchedule(schedule_name.to_string()))?;
        let who =
            Person::parse(new.who).map_err(|m| OverrideError::Invalid(format!("who: {m}")))?;
        if new.end_ns <= new.start_ns {
            return invalid("end: must be after start");
        }
        if new.end_ns <= now_ns {
            return invalid("end: must be in the future");
        }
        if new.end_ns - new.start_ns > MAX_OVERRIDE_NS {
            return invalid("an override covers at most 92 days; change the rotation instead");
        }
        if new.created_by.trim().is_empty() {
            return invalid("created_by: say who makes the override");
        }
        if new.created_by.len() > MAX_TEXT || new.comment.len() > MAX_TEXT {
            return invalid("created_by and comment are at most 500 bytes");
        }
        if schedule.api_override_count() >= MAX_API_OVERRIDES {
            return invalid("this schedule has 1000 overrides from the API; delete old ones first");
        }
        let over = Override {
            start_ns: new.start_ns,
            end_ns: new.end_ns,
            who,
            id: Some(uuid::Uuid::new_v4().to_string()),
            created_by: new.created_by.trim().to_string(),
            comment: new.comment.trim().to_string(),
        };
        let id = over.id.clone().unwrap_or_default();
        let stored = StoredOverride {
            schedule: schedule_name.to_string(),
            over: over.clone(),
        };
        // Applied first so an overlap is refused before anything is stored; undone if the
        // store fails, so what pages is always what a restart would load.
        schedule.insert_override(over)?;
        let bytes = serde_json::to_vec(&stored).unwrap_or_default();
        if let Err(e) = self
            .db()
            .put(OVERRIDES_SPACE, &key(schedule_name, &id), bytes)
        {
            schedule.remove_override(&id);
            return Err(OverrideError::Storage(e.to_string()));
        }
        self.wake();
        schedule
            .overrides()
            .into_iter()
            .find(|o| o.id.as_deref() == Some(id.as_str()))
            .ok_or_else(|| OverrideError::UnknownOverride(id.clone()))
    }

    /// Deletes an override created through the API.
    pub fn delete_override(&self, schedule_name: &str, id: &str) -> Result<(), OverrideError> {
        let schedule = self
            .schedules()
            .get(schedule_name)
            .ok_or_else(|| OverrideError::UnknownSchedule(schedule_name.to_string()))?;
        if !schedule
            .overrides()
            .iter()
            .any(|o| o.id.as_deref() == Some(id))
        {
            return Err(OverrideError::UnknownOverride(id.to_string()));
        }
        self.db()
            .delete(OVERRIDES_SPACE, &key(schedule_name, id))
            .map_err(|e| OverrideError::Storage(e.to_string()))?;
        schedule.remove_override(id);
        Ok(())
    }
}
