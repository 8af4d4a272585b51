//! Retention policy, as pure functions of the partitions on disk and the time, so it is tested
//! exactly with an injected clock; the indexer carries the actions out.
//!
//! - A partition whose whole day is older than `retention.days` loses its below-ERROR
//!   records (or is dropped, when `keep_errors_days` is not longer than `days`).
//! - A partition whose whole day is older than `keep_errors_days` is dropped.
//! - Over `max_disk_bytes`, the oldest partitions first lose their below-ERROR records, and
//!   only when every partition but today's holds errors alone do whole partitions go, oldest
//!   first. A flood of DEBUG lines therefore cannot erase the ERRORs of an earlier incident.

use crate::clock::NANOS_PER_DAY;
use crate::config::RetentionSettings;
use crate::record::SEVERITY_ERROR;

use super::store::day_of;

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionStat {
    pub day: i64,
    pub bytes: u64,
    pub errors_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionAction {
    Drop(i64),
    StripBelowError(i64),
}

/// True when the whole of `day` ends at or before `now - days`.
fn day_older_than(day: i64, now_ns: i64, days: u32) -> bool {
    let day_end = day.saturating_add(1).saturating_mul(NANOS_PER_DAY);
    day_end <= now_ns.saturating_sub(i64::from(days).saturating_mul(NANOS_PER_DAY))
}

/// True when a record with this timestamp and severity is already past retention (the indexer
/// does not index such records, e.g. on WAL replay after a long outage).
pub fn is_expired(ts_ns: i64, severity: u8, now_ns: i64, s: &RetentionSettings) -> bool {
    let days = if severity >= SEVERITY_ERROR {
        s.effective_keep_errors_days()
    } else {
        s.days
    };
    day_older_than(day_of(ts_ns), now_ns, days)
}

/// What to do now, in order. The caller may carry out only the first and plan again.
pub fn plan_retention(
    parts: &[PartitionStat],
    now_ns: i64,
    s: &RetentionSettings,
) -> Vec<RetentionAction> {
    let mut parts: Vec<PartitionStat> = parts.to_vec();
    parts.sort_by_key(|p| p.day);
    let keep_errors = s.effective_keep_errors_days();
    let mut actions = Vec::new();
    let mut kept = Vec::new();
    for p in parts {
        if day_older_than(p.day, now_ns, keep_errors) {
            actions.push(RetentionAction::Drop(p.day));
        } else if day_older_than(p.day, now_ns, s.days) && !p.errors_only {
            actions.push(RetentionAction::StripBelowError(p.day));
            kept.push(PartitionStat {
                errors_only: true,
                ..p
            });
        } else {
            kept.push(p);
        }
    }
    if !actions.is_empty() || s.max_disk_bytes == 0 {
        return actions;
    }
    let total: u64 = kept.iter().map(|p| p.bytes).sum();
    if total <= s.max_disk_bytes {
        return actions;
    }
    let today = day_of(now_ns);
    let older: Vec<&PartitionStat> = kept.iter().filter(|p| p.day < today).collect();
    if let Some(p) = older.iter().find(|p| !p.errors_only) {
        actions.push(RetentionAction::StripBelowError(p.day));
    } else if let Some(p) = older.first() {
        actions.push(RetentionAction::Drop(p.day));
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = NANOS_PER_DAY;

    fn settings(days: u32, keep_errors_days: u32, max_disk_bytes: u64) -> RetentionSettings {
        RetentionSettings {
            days,
            keep_errors_days,
            max_disk_bytes,
            check_interval_secs: 60,
        }
    }

    fn part(day: i64, bytes: u64, errors_only: bool) -> PartitionStat {
        PartitionStat {
            day,
            bytes,
            errors_only,
        }
    }

    #[test]
    fn by_days_strips_then_drops_exactly_at_the_boundary() {
        let s = settings(30, 90, 0);
        let parts = [part(100, 10, false)];
        // Day 100 ends at 101*DAY. It is older than 30 days once now >= 131*DAY.
        assert_eq!(plan_retention(&parts, 131 * DAY - 1, &s), vec![]);
        assert_eq!(
            plan_retention(&parts, 131 * DAY, &s),
            vec![RetentionAction::StripBelowError(100)]
        );
        let stripped = [part(100, 10, true)];
        assert_eq!(plan_retention(&stripped, 191 * DAY - 1, &s), vec![]);
        assert_eq!(
            plan_retention(&stripped, 191 * DAY, &s),
            vec![RetentionAction::Drop(100)]
        );
    }

    #[test]
    fn without_longer_error_retention_drops_directly() {
        let s = settings(7, 0, 0);
        let parts = [part(10, 1, false), part(11, 1, false)];
        assert_eq!(
            plan_retention(&parts, 18 * DAY, &s),
            vec![RetentionAction::Drop(10)]
        );
    }

    #[test]
    fn size_cap_strips_oldest_first_then_drops_oldest() {
        let s = settings(30, 90, 100);
        let now = 50 * DAY + 5;
        let parts = [
            part(48, 60, false),
            part(49, 30, false),
            part(50, 40, false),
        ];
        assert_eq!(
            plan_retention(&parts, now, &s),
            vec![RetentionAction::StripBelowError(48)]
        );
        let parts = [part(48, 10, true), part(49, 60, false), part(50, 40, false)];
        assert_eq!(
            plan_retention(&parts, now, &s),
            vec![RetentionAction::StripBelowError(49)]
        );
        let parts = [part(48, 10, true), part(49, 60, true), part(50, 40, false)];
        assert_eq!(
            plan_retention(&parts, now, &s),
            vec![RetentionAction::Drop(48)]
        );
        // Under the cap nothing happens; today's partition is never stripped or dropped by size.
        let parts = [part(48, 10, true), part(50, 90, false)];
        assert_eq!(plan_retention(&parts, now, &s), vec![]);
        let parts = [part(50, 500, false)];
        assert_eq!(plan_retention(&parts, now, &s), vec![]);
    }

    #[test]
    fn expiry_of_single_records_follows_severity() {
        let s = settings(1, 3, 0);
        let now = 10 * DAY;
        assert!(is_expired(8 * DAY + 1, 9, now, &s));
        assert!(!is_expired(9 * DAY, 9, now, &s));
        assert!(!is_expired(8 * DAY + 1, SEVERITY_ERROR, now, &s));
        assert!(is_expired(6 * DAY, SEVERITY_ERROR, now, &s));
    }
}
