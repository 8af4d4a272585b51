//! Who is on call at an instant. Shifts are laid out in the schedule's wall-clock time (each
//! handoff at the same local time, whatever DST did in between); overrides cover part of the
//! timeline and win over the rotation.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::person::Person;
use super::ser_ns;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnCallError {
    #[error("no on-call schedule named {0:?}")]
    UnknownSchedule(String),
    #[error("{0} ns is outside the time range on-call schedules can compute")]
    OutOfRange(i64),
}

/// Who is on call at an instant, and who comes next. Serialises with RFC 3339 times (the
/// `GET /api/v1/oncall` view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCall {
    pub schedule: String,
    pub time_zone: String,
    pub current: Person,
    /// When the current person's turn began (a rotation handoff or an override's start).
    #[serde(serialize_with = "ser_ns")]
    pub since: i64,
    /// When it ends: the next handoff, or the start or end of an override.
    #[serde(serialize_with = "ser_ns")]
    pub until: i64,
    /// Who is on call from `until`.
    pub next: Person,
    /// The current turn is an override, not the rotation.
    pub by_override: bool,
}

/// One turn on call (see [`Schedule::shifts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    pub who: Person,
    #[serde(serialize_with = "ser_ns")]
    pub start: i64,
    #[serde(serialize_with = "ser_ns")]
    pub end: i64,
    pub by_override: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub start_ns: i64,
    pub end_ns: i64,
    pub who: Person,
    /// Where it came from: `None` for the config file's overrides, an id for those created
    /// through the API (stored, and deletable there).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

/// One override as `GET /api/v1/oncall/{schedule}/overrides` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideView {
    /// `None` for the config file's overrides (changed there, not through the API).
    pub id: Option<String>,
    pub who: Person,
    #[serde(serialize_with = "ser_ns")]
    pub start: i64,
    #[serde(serialize_with = "ser_ns")]
    pub end: i64,
    pub created_by: String,
    pub comment: String,
}

/// Why an override was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("no on-call schedule named {0:?}")]
    UnknownSchedule(String),
    #[error("{0}")]
    Invalid(String),
    #[error("overlaps the override of {who} from {start} to {end}")]
    Overlaps {
        who: String,
        start: String,
        end: String,
    },
    #[error("no override {0:?} created through the API in this schedule")]
    UnknownOverride(String),
    #[error("storing the override: {0}")]
    Storage(String),
}

/// Shift `k` starts at wall-clock `anchor + k × length` in the zone. Wall-clock times are
/// handled as "civil nanoseconds" (the local date-time read as if it were UTC), which makes
/// the arithmetic linear; converting back through the zone is what makes handoffs DST-correct.
pub(crate) struct Rotation {
    participants: Vec<Person>,
    anchor_civil_ns: i64,
    length_ns: i64,
}

fn civil_ns(dt: DateTime) -> Option<i64> {
    let ns = TimeZone::UTC.to_timestamp(dt).ok()?.as_nanosecond();
    i64::try_from(ns).ok()
}

fn timestamp(ns: i64) -> Option<Timestamp> {
    Timestamp::from_nanosecond(i128::from(ns)).ok()
}

impl Rotation {
    pub(crate) fn new(
        participants: Vec<Person>,
        first_handoff: DateTime,
        length_ns: i64,
        tz: &TimeZone,
    ) -> Result<Rotation, String> {
        let anchor_civil_ns = civil_ns(first_handoff).ok_or("date out of range")?;
        let rotation = Rotation {
            participants,
            anchor_civil_ns,
            length_ns,
        };
        rotation
            .shift_start(tz, 0)
            .ok_or("the first handoff cannot be placed in the time zone")?;
        Ok(rotation)
    }

    /// The instant shift `k` starts. A handoff time that does not exist that day (skipped by
    /// a DST jump) happens at the same offset after the jump; one that happens twice (clocks
    /// turned back) happens at the first (RFC 5545 / Temporal "compatible" choice).
    fn shift_start(&self, tz: &TimeZone, k: i64) -> Option<i64> {
        let civil = self
            .anchor_civil_ns
            .checked_add(k.checked_mul(self.length_ns)?)?;
        let dt = TimeZone::UTC.to_datetime(timestamp(civil)?);
        let ns = tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .ok()?
            .as_nanosecond();
        i64::try_from(ns).ok()
    }

    /// The shift containing `t`: its index, start and end.
    fn shift_at(&self, tz: &TimeZone, t: i64) -> Option<(i64, i64, i64)> {
        let civil_t = civil_ns(tz.to_datetime(timestamp(t)?))?;
        let mut k = (civil_t.checked_sub(self.anchor_civil_ns)?).div_euclid(self.length_ns);
        // Around a DST change the civil guess can be one shift off; shift starts are strictly
        // increasing, so step to the one that contains t.
        for _ in 0..4 {
            if self.shift_start(tz, k)? > t {
                k -= 1;
            } else if self.shift_start(tz, k + 1)? <= t {
                k += 1;
            } else {
                break;
            }
        }
        Some((k, self.shift_start(tz, k)?, self.shift_start(tz, k + 1)?))
    }

    fn participant(&self, k: i64) -> &Person {
        let n = i64::try_from(self.participants.len()).unwrap_or(i64::MAX);
        let i = usize::try_from(k.rem_euclid(n.max(1))).unwrap_or(0);
        &self.participants[i.min(self.participants.len().saturating_sub(1))]
    }
}

/// A compiled, validated schedule.
pub struct Schedule {
    pub(crate) name: String,
    pub(crate) tz: TimeZone,
    pub(crate) rotation: Rotation,
    /// Sorted by start, non-overlapping: the config file's and the API's.
    pub(crate) overrides: RwLock<Vec<Override>>,
}

impl Schedule {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who is on call at `at_ns`, since when, until when, and who is next.
    pub fn on_call(&self, at_ns: i64) -> Result<OnCall, OnCallError> {
        let (current, since, until, by_override) = self.turn_at(at_ns)?;
        let (next, ..) = self.turn_at(until)?;
        Ok(OnCall {
            schedule: self.name.clone(),
            time_zone: self.tz.iana_name().unwrap_or("UTC").to_string(),
            current,
            since,
            until,
            next,
            by_override,
        })
    }

    /// The turns that overlap `[from_ns, to_ns)`, in order, at most `max` of them (the
    /// calendar of `GET /api/v1/oncall/{schedule}/shifts`). The first starts at or before
    /// `from_ns`; each turn is a rotation shift or an override (cutting shifts around it).
    pub fn shifts(&self, from_ns: i64, to_ns: i64, max: usize) -> Result<Vec<Shift>, OnCallError> {
        let mut out = Vec::new();
        let mut t = from_ns;
        while t < to_ns && out.len() < max {
            let (who, since, until, by_override) = self.turn_at(t)?;
            out.push(Shift {
                who,
                start: since,
                end: until,
                by_override,
            });
            // Turns are never empty (a shift has a positive length and overrides too), so
            // this moves forward; the guard is for a malformed rotation all the same.
            if until <= t {
                break;
            }
            t = until;
        }
        Ok(out)
    }

    /// Every override, by start.
    pub fn overrides(&self) -> Vec<OverrideView> {
        self.overrides
            .read()
            .iter()
            .map(|o| OverrideView {
                id: o.id.clone(),
                who: o.who.clone(),
                start: o.start_ns,
                end: o.end_ns,
                created_by: o.created_by.clone(),
                comment: o.comment.clone(),
            })
            .collect()
    }

    /// Adds an override unless it overlaps another (which would make "who is on call"
    /// depend on order, as the config refuses too).
    pub(crate) fn insert_override(&self, o: Override) -> Result<(), OverrideError> {
        let mut list = self.overrides.write();
        if let Some(p) = list
            .iter()
            .find(|p| p.start_ns < o.end_ns && o.start_ns < p.end_ns)
        {
            return Err(OverrideError::Overlaps {
                who: p.who.name.clone(),
                start: pharos_collector::clock::rfc3339(p.start_ns),
                end: pharos_collector::clock::rfc3339(p.end_ns),
            });
        }
        list.push(o);
        list.sort_by_key(|o| o.start_ns);
        Ok(())
    }

    /// Removes an override created through the API; the config file's stay.
    pub(crate) fn remove_override(&self, id: &str) -> Option<Override> {
        let mut list = self.overrides.write();
        let at = list.iter().position(|o| o.id.as_deref() == Some(id))?;
        Some(list.remove(at))
    }

    /// Overrides created through the API in this schedule.
    pub(crate) fn api_override_count(&self) -> usize {
        self.overrides
            .read()
            .iter()
            .filter(|o| o.id.is_some())
            .count()
    }

    fn turn_at(&self, t: i64) -> Result<(Person, i64, i64, bool), OnCallError> {
        let overrides = self.overrides.read();
        if let Some(o) = overrides.iter().find(|o| o.start_ns <= t && t < o.end_ns) {
            return Ok((o.who.clone(), o.start_ns, o.end_ns, true));
        }
        let (k, start, end) = self
            .rotation
            .shift_at(&self.tz, t)
            .ok_or(OnCallError::OutOfRange(t))?;
        // An override inside this shift cuts the turn short on either side.
        let since = overrides
            .iter()
            .map(|o| o.end_ns)
            .filter(|&e| e > start && e <= t)
            .fold(start, i64::max);
        let until = overrides
            .iter()
            .map(|o| o.start_ns)
            .filter(|&s| s > t && s < end)
            .fold(end, i64::min);
        Ok((self.rotation.participant(k).clone(), since, until, false))
    }
}
