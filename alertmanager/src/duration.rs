//! Durations in config and rule files, written the Prometheus way (`30s`, `5m`, `1h30m`, `3d`,
//! `1w`), parsed by promql-parser so rule files mean exactly what they mean to Prometheus.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `5m`, `1h30m`, `0s`, …
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    pub const ZERO: PromDuration = PromDuration(Duration::ZERO);

    pub fn from_secs(s: u64) -> PromDuration {
        PromDuration(Duration::from_secs(s))
    }

    /// Nanoseconds, saturating at `i64::MAX`.
    pub fn as_ns(self) -> i64 {
        i64::try_from(self.0.as_nanos()).unwrap_or(i64::MAX)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Parses `5m`, `1h30m`, `0s`, `0`.
    pub fn parse(s: &str) -> Result<PromDuration, String> {
        let s = s.trim();
        // "0", "0s", "0m": promql-parser refuses a zero duration; config keys allow it.
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        if !digits.is_empty() && digits.chars().all(|c| c == '0') {
            return Ok(PromDuration::ZERO);
        }
        promql_parser::util::parse_duration(s)
            .map(PromDuration)
            .map_err(|e| format!("invalid duration {s:?} (expected e.g. 30s, 5m, 1h30m, 3d): {e}"))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_zero() {
            return f.write_str("0s");
        }
        f.write_str(&promql_parser::util::display_duration(&self.0))
    }
}

impl std::str::FromStr for PromDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromDuration::parse(s)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations_and_zero() {
        assert_eq!(PromDuration::parse("5m").unwrap().0, Duration::from_secs(300));
        assert_eq!(PromDuration::parse("1h30m").unwrap().0, Duration::from_secs(5400));
        assert_eq!(PromDuration::parse("3d").unwrap().0, Duration::from_secs(3 * 86400));
        assert_eq!(PromDuration::parse("0s").unwrap(), PromDuration::ZERO);
        assert_eq!(PromDuration::parse("0").unwrap(), PromDuration::ZERO);
        assert!(PromDuration::parse("5 minutes").is_err());
        assert!(PromDuration::parse("").is_err());
        assert_eq!(PromDuration::parse("1h30m").unwrap().to_string(), "1h30m");
    }
}
