//! Named time intervals (Alertmanager's `time_intervals`): maintenance windows and business
//! hours that routes reference in `mute_time_intervals` and `active_time_intervals`.
//!
//! An interval contains an instant when, in its `location`, every field that is set has a
//! range containing it (`times`, `weekdays`, `days_of_month`, `months`, `years`); an unset
//! field matches everything. A named interval is a list of such intervals, any of which may
//! match. Semantics follow Alertmanager's `timeinterval` package: `times` include the start
//! minute and exclude the end minute, negative days of the month count from its end.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// One `[[alerting.time_intervals]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    pub name: String,
    #[serde(default)]
    pub time_intervals: Vec<TimeIntervalSpec>,
}

/// One interval: every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalSpec {
    #[serde(default)]
    pub times: Vec<TimeRangeConfig>,
    /// `monday`, `monday:friday` (Sunday to Saturday order, case-insensitive).
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// `1`, `1:5`, `-3:-1` (negative counts from the month's end; -1 is its last day).
    #[serde(default)]
    pub days_of_month: Vec<String>,
    /// `january`, `january:march`, `1:3`.
    #[serde(default)]
    pub months: Vec<String>,
    /// `2024`, `2024:2026`.
    #[serde(default)]
    pub years: Vec<String>,
    /// IANA time zone (`Europe/Berlin`); default `UTC`. `Local` is not accepted: the result
    /// must not depend on the host.
    #[serde(default)]
    pub location: Option<String>,
}

/// `start_time = "02:00"`, `end_time = "04:00"` (end may be `24:00`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeConfig {
    pub start_time: String,
    pub end_time: String,
}

/// A compiled interval.
#[derive(Clone, Debug)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`.
    times: Vec<(u16, u16)>,
    /// 0 = Sunday … 6 = Saturday, inclusive.
    weekdays: Vec<(u8, u8)>,
    days_of_month: Vec<(i32, i32)>,
    months: Vec<(i8, i8)>,
    years: Vec<(i16, i16)>,
    tz: TimeZone,
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl TimeInterval {
    /// Compiles one spec; the error names the field (`weekdays[0]: …`).
    pub fn compile(spec: &TimeIntervalSpec) -> Result<TimeInterval, String> {
        let mut times = Vec::new();
        for (i, t) in spec.times.iter().enumerate() {
            let start =
                parse_clock(&t.start_time).map_err(|e| format!("times[{i}].start_time: {e}"))?;
            let end = parse_clock(&t.end_time).map_err(|e| format!("times[{i}].end_time: {e}"))?;
            if start >= 24 * 60 {
                return Err(format!("times[{i}].start_time: must be before 24:00"));
            }
            if end <= start {
                return Err(format!("times[{i}].end_time: must be after start_time"));
            }
            times.push((start, end));
        }
        let weekdays = ranges(&spec.weekdays, "weekdays", |s| {
            named_or_number(s, &WEEKDAYS, 0).filter(|d| (0..=6).contains(d))
        })?
        .into_iter()
        .map(|(a, b)| (a as u8, b as u8))
        .collect();
        let mut days_of_month = Vec::new();
        for (i, s) in spec.days_of_month.iter().enumerate() {
            let (a, b) = split_range(s);
            let day = |x: &str| {
                x.trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|d| *d != 0 && (-31..=31).contains(d))
                    .ok_or_else(|| {
                        format!("days_of_month[{i}]: {x:?} is not a day (1 to 31, or -31 to -1)")
                    })
            };
            let (a, b) = (day(a)?, day(b)?);
            if (a > 0) == (b > 0) && a > b {
                return Err(format!("days_of_month[{i}]: start day after end day"));
            }
            if a < 0 && b > 0 {
                return Err(format!(
                    "days_of_month[{i}]: end day must be negative when the start day is"
                ));
            }
            days_of_month.push((a, b));
        }
        let months = ranges(&spec.months, "months", |s| {
            named_or_number(s, &MONTHS, 1).filter(|m| (1..=12).contains(m))
        })?
        .into_iter()
        .map(|(a, b)| (a as i8, b as i8))
        .collect();
        let years = ranges(&spec.years, "years", |s| {
            s.trim()
                .parse::<i32>()
                .ok()
                .filter(|y| (1..=9999).contains(y))
        })?
        .into_iter()
        .map(|(a, b)| (a as i16, b as i16))
        .collect();
        let tz = match spec.location.as_deref() {
            None | Some("UTC") => TimeZone::UTC,
            Some("Local") => return Err("location: \"Local\" is not supported; name a zone".into()),
            Some(name) => {
                TimeZone::get(name).map_err(|_| format!("location: unknown time zone {name:?}"))?
            }
        };
        Ok(TimeInterval {
            times,
            weekdays,
            days_of_month,
            months,
            years,
            tz,
        })
    }

    /// The instant (Unix ns) falls in this interval.
    pub fn contains(&self, at_ns: i64) -> bool {
        let Ok(ts) = jiff::Timestamp::from_nanosecond(i128::from(at_ns)) else {
            return false;
        };
        let t = ts.to_zoned_datetime(self.tz.clone());
        let minute = t.hour() as u16 * 60 + t.minute() as u16;
        let any = |set: bool, ok: bool| !set || ok;
        let weekday = t.weekday().to_sunday_zero_offset() as u8;
        let dim = i32::from(t.days_in_month());
        let day = i32::from(t.day());
        let day_ok = self.days_of_month.iter().any(|&(a, b)| {
            let begin = if a < 0 { dim + a + 1 } else { a };
            let end = if b < 0 { dim + b + 1 } else { b };
            // A start past this month's end (31 in April) matches nothing this month.
            begin <= dim && day >= begin.max(1) && day <= end.min(dim)
        });
        any(
            !self.times.is_empty(),
            self.times.iter().any(|&(s, e)| minute >= s && minute < e),
        ) && any(
            !self.weekdays.is_empty(),
            self.weekdays
                .iter()
                .any(|&(a, b)| weekday >= a && weekday <= b),
        ) && any(!self.days_of_month.is_empty(), day_ok)
            && any(
                !self.months.is_empty(),
                self.months
                    .iter()
                    .any(|&(a, b)| t.month() >= a && t.month() <= b),
            )
            && any(
                !self.years.is_empty(),
                self.years
                    .iter()
                    .any(|&(a, b)| t.year() >= a && t.year() <= b),
            )
    }
}

/// `HH:MM` to minutes of the day; `24:00` allowed.
fn parse_clock(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time of day HH:MM (00:00 to 24:00)");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn split_range(s: &str) -> (&str, &str) {
    // A leading '-' is a negative number, not a separator: split at ':' only.
    s.split_once(':').unwrap_or((s, s))
}

fn named_or_number(s: &str, names: &[&str], first: i32) -> Option<i32> {
    let s = s.trim().to_ascii_lowercase();
    names
        .iter()
        .position(|n| *n == s)
        .and_then(|i| i32::try_from(i).ok())
        .map(|i| i + first)
        .or_else(|| s.parse().ok())
}

fn ranges(
    items: &[String],
    field: &str,
    parse: impl Fn(&str) -> Option<i32>,
) -> Result<Vec<(i32, i32)>, String> {
    let mut out = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let (a, b) = split_range(s);
        let bad = |x: &str| format!("{field}[{i}]: {x:?} is not valid here");
        let a = parse(a).ok_or_else(|| bad(a))?;
        let b = parse(b).ok_or_else(|| bad(b))?;
        if a > b {
            return Err(format!("{field}[{i}]: {s:?} starts after it ends"));
        }
        out.push((a, b));
    }
    Ok(out)
}

/// Named intervals, as routes reference them.
#[derive(Clone, Debug, Default)]
pub struct TimeIntervals(BTreeMap<String, Vec<TimeInterval>>);

impl TimeIntervals {
    /// Compiles every named interval; errors name the key path under `prefix`
    /// (`alerting.time_intervals[0].time_intervals[1].weekdays[0]: …`).
    pub fn compile(configs: &[TimeIntervalConfig], prefix: &str) -> Result<TimeIntervals, String> {
        let mut out = BTreeMap::new();
        for (i, c) in configs.iter().enumerate() {
            let at = format!("{prefix}[{i}]");
            if c.name.trim().is_empty() {
                return Err(format!("{at}.name: must not be empty"));
            }
            let mut compiled = Vec::new();
            for (j, spec) in c.time_intervals.iter().enumerate() {
                compiled.push(
                    TimeInterval::compile(spec)
                        .map_err(|e| format!("{at}.time_intervals[{j}].{e}"))?,
                );
            }
            if out.insert(c.name.clone(), compiled).is_some() {
                return Err(format!("{at}.name: duplicate time interval {:?}", c.name));
            }
        }
        Ok(TimeIntervals(out))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The named interval contains `at_ns` (an unknown name contains nothing).
    pub fn contains(&self, name: &str, at_ns: i64) -> bool {
        self.0
            .get(name)
            .is_some_and(|list| list.iter().any(|t| t.contains(at_ns)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        let ts: jiff::Timestamp = s.parse().unwrap();
        i64::try_from(ts.as_nanosecond()).unwrap()
    }

    fn spec(f: impl FnOnce(&mut TimeIntervalSpec)) -> TimeInterval {
        let mut s = TimeIntervalSpec::default();
        f(&mut s);
        TimeInterval::compile(&s).unwrap()
    }

    #[test]
    fn saturday_night_window_in_utc() {
        let t = spec(|s| {
            s.weekdays = vec!["Saturday".into()];
            s.times = vec![TimeRangeConfig {
                start_time: "02:00".into(),
                end_time: "04:00".into(),
            }];
        });
        // 2024-06-01 is a Saturday.
        assert!(!t.contains(at("2024-06-01T01:59:59Z")));
        assert!(t.contains(at("2024-06-01T02:00:00Z")));
        assert!(t.contains(at("2024-06-01T03:59:59Z")));
        assert!(!t.contains(at("2024-06-01T04:00:00Z")), "end is exclusive");
        assert!(!t.contains(at("2024-06-02T03:00:00Z")), "Sunday");
    }

    #[test]
    fn location_days_months_years() {
        let t = spec(|s| {
            s.weekdays = vec!["monday:friday".into()];
            s.times = vec![TimeRangeConfig {
                start_time: "09:00".into(),
                end_time: "17:00".into(),
            }];
            s.location = Some("Europe/Berlin".into());
        });
        // 07:30 UTC is 09:30 in Berlin in summer (Monday 2024-06-03).
        assert!(t.contains(at("2024-06-03T07:30:00Z")));
        assert!(!t.contains(at("2024-06-03T15:30:00Z")));
        let last_days = spec(|s| s.days_of_month = vec!["-3:-1".into()]);
        assert!(
            last_days.contains(at("2024-02-27T12:00:00Z")),
            "leap February"
        );
        assert!(!last_days.contains(at("2024-02-26T12:00:00Z")));
        assert!(last_days.contains(at("2024-04-30T12:00:00Z")));
        let day31 = spec(|s| s.days_of_month = vec!["31".into()]);
        assert!(!day31.contains(at("2024-04-30T12:00:00Z")));
        let q1 = spec(|s| {
            s.months = vec!["january:3".into()];
            s.years = vec!["2024:2025".into()];
        });
        assert!(q1.contains(at("2025-03-31T23:00:00Z")));
        assert!(!q1.contains(at("2025-04-01T00:00:00Z")));
        assert!(!q1.contains(at("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let compile = |f: fn(&mut TimeIntervalSpec)| {
            let mut s = TimeIntervalSpec::default();
            f(&mut s);
            TimeInterval::compile(&s).unwrap_err()
        };
        assert!(compile(|s| s.weekdays = vec!["friday:monday".into()]).starts_with("weekdays[0]"));
        assert!(compile(|s| s.weekdays = vec!["funday".into()]).starts_with("weekdays[0]"));
        assert!(compile(|s| s.days_of_month = vec!["0".into()]).starts_with("days_of_month[0]"));
        assert!(compile(|s| s.location = Some("Mars/Base".into())).starts_with("location"));
        assert!(compile(|s| s.times = vec![TimeRangeConfig {
            start_time: "04:00".into(),
            end_time: "02:00".into()
        }])
        .starts_with("times[0].end_time"));
        let cfg = vec![TimeIntervalConfig {
            name: "x".into(),
            time_intervals: vec![TimeIntervalSpec {
                months: vec!["13".into()],
                ..Default::default()
            }],
        }];
        let e = TimeIntervals::compile(&cfg, "alerting.time_intervals").unwrap_err();
        assert!(
            e.starts_with("alerting.time_intervals[0].time_intervals[0].months[0]"),
            "{e}"
        );
    }
}
