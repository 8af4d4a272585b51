//! On-call schedules: a rotation of participants with a weekly (or any-length) handoff at a
//! wall-clock time in an IANA time zone, plus overrides. Escalation policies page "whoever is
//! on call" through `{ schedule = "…" }` targets; `GET /api/v1/oncall` shows [`Schedules::on_call_now`].

mod config;
mod person;
mod schedule;

use std::collections::BTreeMap;

use serde::Serializer;

pub use config::{ConfigError, OverrideConfig, RotationConfig, ScheduleConfig};
pub use person::Person;
pub use schedule::{OnCall, OnCallError, Override, OverrideError, OverrideView, Schedule, Shift};

/// Every configured schedule, by name.
#[derive(Default)]
pub struct Schedules {
    by_name: BTreeMap<String, Schedule>,
}

impl Schedules {
    /// Validates and compiles `[[alerting.escalation.schedules]]`; `key` is the array's path.
    pub fn compile(configs: &[ScheduleConfig], key: &str) -> Result<Schedules, ConfigError> {
        let mut by_name = BTreeMap::new();
        for (i, c) in configs.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            let schedule = c.compile(&item_key)?;
            if by_name.contains_key(&c.name) {
                return Err(ConfigError::new(
                    format!("{item_key}.name"),
                    format!("duplicate schedule name {:?}", c.name),
                ));
            }
            by_name.insert(c.name.clone(), schedule);
        }
        Ok(Schedules { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Schedule> {
        self.by_name.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Who is on call in `schedule` at `at_ns`.
    pub fn on_call(&self, schedule: &str, at_ns: i64) -> Result<OnCall, OnCallError> {
        self.by_name
            .get(schedule)
            .ok_or_else(|| OnCallError::UnknownSchedule(schedule.to_string()))?
            .on_call(at_ns)
    }

    /// Every schedule's current and next person at `now_ns`, by schedule name (the
    /// `GET /api/v1/oncall` body). A schedule that cannot be computed then is left out.
    pub fn on_call_now(&self, now_ns: i64) -> Vec<OnCall> {
        self.by_name
            .values()
            .filter_map(|s| s.on_call(now_ns).ok())
            .collect()
    }
}

/// Unix ns as RFC 3339 in JSON views.
pub(crate) fn ser_ns<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&pharos_collector::clock::rfc3339(*ns))
}

pub(crate) fn ser_opt_ns<S: Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(ns) => ser_ns(ns, s),
        None => s.serialize_none(),
    }
}
