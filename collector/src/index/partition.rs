//! Partition identity: a time range `[start, start + length)` in UTC, aligned to its length.
//! One tantivy index per partition, so retention drops whole directories.
//!
//! Directory names say the range: `2026-11-27` for a whole day, `2026-11-27T06-6h` for six
//! hours from 06:00. Partitions of different lengths (after `index.partition_hours` changed)
//! live side by side and are all searched.

use crate::clock::{NANOS_PER_DAY, NANOS_PER_SEC};

const NANOS_PER_HOUR: i64 = 3_600 * NANOS_PER_SEC;

/// Partition lengths allowed by `index.partition_hours`: those that divide a day.
pub const ALLOWED_PARTITION_HOURS: &[u32] = &[1, 2, 3, 4, 6, 8, 12, 24];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId {
    pub start_ns: i64,
    pub len_ns: i64,
}

impl PartitionId {
    /// The partition of `len_ns` that holds `ts_ns`.
    pub fn containing(ts_ns: i64, len_ns: i64) -> PartitionId {
        let len_ns = len_ns.max(1);
        PartitionId {
            start_ns: ts_ns.div_euclid(len_ns).saturating_mul(len_ns),
            len_ns,
        }
    }

    /// The whole UTC day number `day` (days since the Unix epoch).
    pub fn day(day: i64) -> PartitionId {
        PartitionId {
            start_ns: day.saturating_mul(NANOS_PER_DAY),
            len_ns: NANOS_PER_DAY,
        }
    }

    pub fn from_hours(ts_ns: i64, hours: u32) -> PartitionId {
        PartitionId::containing(ts_ns, i64::from(hours.max(1)) * NANOS_PER_HOUR)
    }

    /// Exclusive end.
    pub fn end_ns(&self) -> i64 {
        self.start_ns.saturating_add(self.len_ns)
    }

    pub fn contains(&self, ts_ns: i64) -> bool {
        self.start_ns <= ts_ns && ts_ns < self.end_ns()
    }

    /// The directory name (see the module docs).
    pub fn dir_name(&self) -> String {
        let secs = self.start_ns.div_euclid(NANOS_PER_SEC);
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
            return format!("p{}-{}", self.start_ns, self.len_ns);
        };
        let date = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
        if self.len_ns == NANOS_PER_DAY && self.start_ns.rem_euclid(NANOS_PER_DAY) == 0 {
            date
        } else if self.len_ns % NANOS_PER_HOUR == 0 && self.start_ns.rem_euclid(NANOS_PER_HOUR) == 0
        {
            format!("{date}T{:02}-{}h", t.hour(), self.len_ns / NANOS_PER_HOUR)
        } else {
            format!("p{}-{}", self.start_ns, self.len_ns)
        }
    }

    /// Parses a name written by [`PartitionId::dir_name`].
    pub fn parse(name: &str) -> Option<PartitionId> {
        if let Some(rest) = name.strip_prefix('p') {
            let (start, len) = rest.rsplit_once('-')?;
            let (start_ns, len_ns) = (start.parse().ok()?, len.parse::<i64>().ok()?);
            return (len_ns > 0).then_some(PartitionId { start_ns, len_ns });
        }
        let (date, hours) = match name.split_once('T') {
            Some((date, rest)) => (date, Some(rest)),
            None => (name, None),
        };
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let day_start = time::Date::parse(date, &fmt)
            .ok()?
            .midnight()
            .assume_utc()
            .unix_timestamp();
        let day_start_ns = day_start.checked_mul(NANOS_PER_SEC)?;
        match hours {
            None => Some(PartitionId {
                start_ns: day_start_ns,
                len_ns: NANOS_PER_DAY,
            }),
            Some(rest) => {
                let (hour, len) = rest.split_once('-')?;
                let hour: i64 = hour.parse().ok()?;
                let len_h: i64 = len.strip_suffix('h')?.parse().ok()?;
                if !(0..24).contains(&hour) || !(1..=24).contains(&len_h) {
                    return None;
                }
                Some(PartitionId {
                    start_ns: day_start_ns + hour * NANOS_PER_HOUR,
                    len_ns: len_h * NANOS_PER_HOUR,
                })
            }
        }
    }
}

impl std::fmt::Display for PartitionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.dir_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let ts = 1_795_780_000_123_456_789; // 2026-11-27T11:06:40.123456789Z
        for hours in ALLOWED_PARTITION_HOURS {
            let p = PartitionId::from_hours(ts, *hours);
            assert!(p.contains(ts));
            assert_eq!(
                PartitionId::parse(&p.dir_name()),
                Some(p),
                "{}",
                p.dir_name()
            );
        }
        assert_eq!(PartitionId::from_hours(ts, 24).dir_name(), "2026-11-27");
        assert_eq!(
            PartitionId::from_hours(ts, 6).dir_name(),
            "2026-11-27T06-6h"
        );
        assert_eq!(
            PartitionId::from_hours(ts, 1).dir_name(),
            "2026-11-27T11-1h"
        );
        assert_eq!(PartitionId::day(20_419).dir_name(), "2025-11-27");
        for day in [-1, 0, 1, 20_419] {
            let p = PartitionId::day(day);
            assert_eq!(PartitionId::parse(&p.dir_name()), Some(p));
        }
        let odd = PartitionId {
            start_ns: 5,
            len_ns: 7,
        };
        assert_eq!(PartitionId::parse(&odd.dir_name()), Some(odd));
        for bad in [
            "",
            "2026-13-01",
            "2026-11-27T25-1h",
            "2026-11-27T06-0h",
            "2026-11-27T06",
            "x",
            "p1-0",
        ] {
            assert_eq!(PartitionId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn containing_aligns_before_the_epoch_too() {
        let p = PartitionId::containing(-1, NANOS_PER_DAY);
        assert_eq!(p, PartitionId::day(-1));
        assert_eq!(p.end_ns(), 0);
    }
}
