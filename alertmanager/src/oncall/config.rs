//! `[[alerting.escalation.schedules]]`: on-call schedules (a weekly-style rotation in a time
//! zone, with overrides), and their compilation into a [`Schedule`].

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::person::Person;
use super::schedule::{Override, Rotation, Schedule};
use crate::duration::PromDuration;

/// A config problem, naming the key: `alerting.escalation.schedules[0].time_zone: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One on-call schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Unique; what `{ schedule = "…" }` targets name.
    pub name: String,
    /// IANA name (`Europe/Berlin`); handoffs happen at this zone's wall-clock time.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    pub rotation: RotationConfig,
    #[serde(default)]
    pub overrides: Vec<OverrideConfig>,
}

fn default_time_zone() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {
    /// In order; `Alice <alice@example.com>` or `alice@example.com`.
    pub participants: Vec<String>,
    /// `monday 09:00` (the first shift starts on the first such weekday on or after `start`),
    /// or `09:00` (the first shift starts on `start` itself).
    pub handoff: String,
    /// How long each participant is on call; handoffs keep the wall-clock time across DST.
    #[serde(default = "default_length")]
    pub length: PromDuration,
    /// The date (`2025-01-06`, in the schedule's zone) from which the first participant's
    /// first shift is counted.
    pub start: String,
}

fn default_length() -> PromDuration {
    PromDuration::from_secs(7 * 86_400)
}

/// Someone else covers `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    /// RFC 3339 (`2025-03-30T09:00:00+02:00`).
    pub start: String,
    /// RFC 3339; after `start`.
    pub end: String,
    pub who: String,
}

impl ScheduleConfig {
    /// Validates and compiles; `key` is this table's path (`alerting.escalation.schedules[0]`).
    pub fn compile(&self, key: &str) -> Result<Schedule, ConfigError> {
        let err = |sub: &str, m: String| ConfigError::new(format!("{key}.{sub}"), m);
        if self.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        let tz = TimeZone::get(&self.time_zone).map_err(|e| {
            err(
                "time_zone",
                format!("{:?} is not an IANA time zone: {e}", self.time_zone),
            )
        })?;
        let rotation = self.compile_rotation(key, &tz)?;
        let mut overrides = Vec::with_capacity(self.overrides.len());
        for (i, o) in self.overrides.iter().enumerate() {
            let okey = format!("overrides[{i}]");
            let instant = |field: &str, v: &str| {
                v.parse::<Timestamp>()
                    .map(|t| t.as_nanosecond())
                    .map_err(|e| {
                        err(
                            &format!("{okey}.{field}"),
                            format!("{v:?} is not an RFC 3339 time: {e}"),
                        )
                    })
                    .and_then(|ns| {
                        i64::try_from(ns)
                            .map_err(|_| err(&format!("{okey}.{field}"), "out of range".into()))
                    })
            };
            let start_ns = instant("start", &o.start)?;
            let end_ns = instant("end", &o.end)?;
            if end_ns <= start_ns {
                return Err(err(&format!("{okey}.end"), "must be after start".into()));
            }
            let who = Person::parse(&o.who).map_err(|m| err(&format!("{okey}.who"), m))?;
            // Overlaps would make "who is on call" depend on list order; refuse them.
            if let Some(j) = overrides
                .iter()
                .position(|p: &Override| p.start_ns < end_ns && start_ns < p.end_ns)
            {
                return Err(err(&okey, format!("overlaps overrides[{j}]")));
            }
            overrides.push(Override {
                start_ns,
                end_ns,
                who,
                id: None,
                created_by: String::new(),
                comment: String::new(),
            });
        }
        overrides.sort_by_key(|o| o.start_ns);
        Ok(Schedule {
            name: self.name.clone(),
            tz,
            rotation,
            overrides: parking_lot::RwLock::new(overrides),
        })
    }

    fn compile_rotation(&self, key: &str, tz: &TimeZone) -> Result<Rotation, ConfigError> {
        let r = &self.rotation;
        let err = |sub: &str, m: String| ConfigError::new(format!("{key}.rotation.{sub}"), m);
        if r.participants.is_empty() {
            return Err(err("participants", "needs at least one participant".into()));
        }
        let participants = r
            .participants
            .iter()
            .enumerate()
            .map(|(i, p)| Person::parse(p).map_err(|m| err(&format!("participants[{i}]"), m)))
            .collect::<Result<Vec<_>, _>>()?;
        let (weekday, time) = parse_handoff(&r.handoff).map_err(|m| err("handoff", m))?;
        let length_ns = r.length.as_ns();
        if length_ns < 3_600 * 1_000_000_000 || length_ns % (60 * 1_000_000_000) != 0 {
            return Err(err(
                "length",
                format!("{} must be whole minutes and at least 1h", r.length),
            ));
        }
        let start: Date = r.start.parse().map_err(|e| {
            err(
                "start",
                format!("{:?} is not a date like 2025-01-06: {e}", r.start),
            )
        })?;
        let first_day = match weekday {
            Some(w) => start
                .checked_add(jiff::Span::new().days(start.weekday().until(w)))
                .map_err(|e| err("start", e.to_string()))?,
            None => start,
        };
        Rotation::new(participants, first_day.to_datetime(time), length_ns, tz)
            .map_err(|m| err("start", m))
    }
}

/// `monday 09:00`, `Mon 9:00` or `09:00`.
fn parse_handoff(s: &str) -> Result<(Option<Weekday>, Time), String> {
    let bad = || format!("{s:?}: expected a weekday and a time, e.g. `monday 09:00`, or `09:00`");
    let mut words = s.split_whitespace();
    let (day, clock) = match (words.next(), words.next(), words.next()) {
        (Some(d), Some(c), None) => (Some(d), c),
        (Some(c), None, None) => (None, c),
        _ => return Err(bad()),
    };
    let weekday = match day {
        None => None,
        Some(d) => Some(match d.to_ascii_lowercase().as_str() {
            "monday" | "mon" => Weekday::Monday,
            "tuesday" | "tue" => Weekday::Tuesday,
            "wednesday" | "wed" => Weekday::Wednesday,
            "thursday" | "thu" => Weekday::Thursday,
            "friday" | "fri" => Weekday::Friday,
            "saturday" | "sat" => Weekday::Saturday,
            "sunday" | "sun" => Weekday::Sunday,
            _ => return Err(bad()),
        }),
    };
    let (h, m) = clock.split_once(':').ok_or_else(bad)?;
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    let time = Time::new(h, m, 0, 0).map_err(|_| bad())?;
    Ok((weekday, time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_forms() {
        assert_eq!(
            parse_handoff("monday 09:00").unwrap(),
            (Some(Weekday::Monday), Time::new(9, 0, 0, 0).unwrap())
        );
        assert_eq!(
            parse_handoff("Fri 17:30").unwrap(),
            (Some(Weekday::Friday), Time::new(17, 30, 0, 0).unwrap())
        );
        assert_eq!(parse_handoff("8:05").unwrap().0, None);
        for bad in ["monday", "funday 09:00", "25:00", "monday 09:00 extra", ""] {
            assert!(parse_handoff(bad).is_err(), "{bad}");
        }
    }
}
