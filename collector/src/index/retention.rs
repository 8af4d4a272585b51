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

use super::partition::PartitionId;

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionStat {
    pub id: PartitionId,
    pub bytes: u64,
    pub errors_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionAction {
    Drop(PartitionId),
    StripBelowError(PartitionId),
}

/// True when the whole of the partition ends at or before `now - days`.
fn older_than(id: PartitionId, now_ns: i64, days: u32) -> bool {
    id.end_ns() <= now_ns.saturating_sub(i64::from(days).saturating_mul(NANOS_PER_DAY))
}

/// True when a record with this timestamp and severity, in a partition of `partition_len_ns`,
/// is already past retention (ingest refuses it; the indexer skips it on a late WAL replay).
pub fn is_expired(
    ts_ns: i64,
    severity: u8,
    partition_len_ns: i64,
    now_ns: i64,
    s: &RetentionSettings,
) -> bool {
    let days = if severity >= SEVERITY_ERROR {
        s.effective_keep_errors_days()
    } else {
        s.days
    };
    older_than(
        PartitionId::containing(ts_ns, partition_len_ns),
        now_ns,
        days,
    )
}

/// What to do now, in order. The caller may carry out only the first and plan again.
pub fn plan_retention(
    parts: &[PartitionStat],
    now_ns: i64,
    s: &RetentionSettings,
) -> Vec<RetentionAction> {
    let mut parts: Vec<PartitionStat> = parts.to_vec();
    parts.sort_by_key(|p| p.id);
    let keep_errors = s.effective_keep_errors_days();
    let mut actions = Vec::new();
    let mut kept = Vec::new();
    for p in parts {
        if older_than(p.id, now_ns, keep_errors) {
            actions.push(RetentionAction::Drop(p.id));
        } else if older_than(p.id, now_ns, s.days) && !p.errors_only {
            actions.push(RetentionAction::StripBelowError(p.id));
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
    // The partition being written now (or later) is never cut by size.
    let older: Vec<&PartitionStat> = kept.iter().filter(|p| p.id.end_ns() <= now_ns).collect();
    if let Some(p) = older.iter().find(|p| !p.errors_only) {
        actions.push(RetentionAction::StripBelowError(p.id));
    } else if let Some(p) = older.first() {
        actions.push(RetentionAction::Drop(p.id));
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
            id: PartitionId::day(day),
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
            vec![RetentionAction::StripBelowError(PartitionId::day(100))]
        );
        let stripped = [part(100, 10, true)];
        assert_eq!(plan_retention(&stripped, 191 * DAY - 1, &s), vec![]);
        assert_eq!(
            plan_retention(&stripped, 191 * DAY, &s),
            vec![RetentionAction::Drop(PartitionId::day(100))]
        );
    }

    #[test]
    fn without_longer_error_retention_drops_directly() {
        let s = settings(7, 0, 0);
        let parts = [part(10, 1, false), part(11, 1, false)];
        assert_eq!(
            plan_retention(&parts, 18 * DAY, &s),
            vec![RetentionAction::Drop(PartitionId::day(10))]
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
            vec![RetentionAction::StripBelowError(PartitionId::day(48))]
        );
        let parts = [part(48, 10, true), part(49, 60, false), part(50, 40, false)];
        assert_eq!(
            plan_retention(&parts, now, &s),
            vec![RetentionAction::StripBelowError(PartitionId::day(49))]
        );
        let parts = [part(48, 10, true), part(49, 60, true), part(50, 40, false)];
        assert_eq!(
            plan_retention(&parts, now, &s),
            vec![RetentionAction::Drop(PartitionId::day(48))]
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
        assert!(is_expired(8 * DAY + 1, 9, DAY, now, &s));
        assert!(!is_expired(9 * DAY, 9, DAY, now, &s));
        assert!(!is_expired(8 * DAY + 1, SEVERITY_ERROR, DAY, now, &s));
        assert!(is_expired(6 * DAY, SEVERITY_ERROR, DAY, now, &s));
    }

    #[test]
    fn hourly_partitions_expire_by_the_hour() {
        let hour = DAY / 24;
        let s = settings(1, 0, 0);
        let p = |h: i64| PartitionStat {
            id: PartitionId {
                start_ns: h * hour,
                len_ns: hour,
            },
            bytes: 1,
            errors_only: false,
        };
        let parts = [p(240), p(241), p(242)];
        // Hour 240 ends at 241h: one day later (265h) it goes; hour 241 an hour after that.
        assert_eq!(plan_retention(&parts, 265 * hour - 1, &s), vec![]);
        assert_eq!(
            plan_retention(&parts, 265 * hour, &s),
            vec![RetentionAction::Drop(p(240).id)]
        );
        assert!(is_expired(240 * hour, 9, hour, 265 * hour, &s));
        assert!(!is_expired(241 * hour, 9, hour, 265 * hour, &s));
        // With a size cap, only partitions that have ended can be cut: the current hour stays.
        let capped = settings(30, 0, 1);
        let now = 242 * hour + 5;
        assert_eq!(
            plan_retention(&parts, now, &capped),
            vec![RetentionAction::StripBelowError(p(240).id)]
        );
    }
}
