//! The SLO engine over a synthetic SLI, driven by a `ManualClock` the way the rule engine's
//! evaluation loop drives it: budgets, burn rates, exactly when the burn-rate alerts start and
//! stop, no data, and calendar months in a time zone.

use std::sync::Arc;

use pharos_alertmanager::rules::{RuleDef, Sample};
use pharos_alertmanager::slo::{EventCounts, Sli, SliSource, SloConfig, SloEngine, SloStatus};
use pharos_collector::clock::{Clock, ManualClock, NANOS_PER_SEC as S};

const MIN: i64 = 60 * S;
const HOUR: i64 = 3600 * S;
const DAY: i64 = 86_400 * S;
/// 2023-11-14T22:13:20Z.
const T: i64 = 1_700_000_000 * S;

/// One event per nanosecond from `traffic_from_ns` on; within `[errors_from_ns,
/// errors_until_ns)` `bad_num / bad_den` of them fail. Counts are exact integers.
#[derive(Clone, Copy)]
struct SyntheticSli {
    traffic_from_ns: i64,
    errors_from_ns: i64,
    errors_until_ns: i64,
    bad_num: i128,
    bad_den: i128,
}

fn overlap(from: i64, to: i64, a: i64, b: i64) -> i128 {
    i128::from((to.min(b) - from.max(a)).max(0))
}

impl SliSource for SyntheticSli {
    fn counts(&self, _sli: &Sli, from_ns: i64, to_ns: i64) -> Result<EventCounts, String> {
        let total = overlap(from_ns, to_ns, self.traffic_from_ns, i64::MAX);
        let erroring = overlap(
            from_ns,
            to_ns,
            self.errors_from_ns.max(self.traffic_from_ns),
            self.errors_until_ns,
        );
        let bad = erroring * self.bad_num / self.bad_den;
        Ok(EventCounts::from_bad(bad as f64, total as f64))
    }
}

fn errors_from(t: i64, bad_num: i128, bad_den: i128) -> SyntheticSli {
    SyntheticSli {
        traffic_from_ns: t - 60 * DAY,
        errors_from_ns: t,
        errors_until_ns: i64::MAX,
        bad_num,
        bad_den,
    }
}

/// Traffic since long before `T`, never an error.
fn quiet() -> SyntheticSli {
    SyntheticSli {
        errors_from_ns: i64::MAX,
        ..errors_from(T, 0, 1)
    }
}

fn slo(extra: &str) -> Result<SloConfig, String> {
    let text = format!(
        r#"
name = "api"
objective = 99.9
{extra}
[sli.promql]
bad = 'sum(rate(errors_total[$window]))'
total = 'sum(rate(requests_total[$window]))'
"#
    );
    toml::from_str(&text).map_err(|e| e.to_string())
}

fn engine(config: SloConfig, source: SyntheticSli) -> Result<SloEngine, String> {
    SloEngine::new(&[config], Arc::new(source), |_| false).map_err(|e| e.to_string())
}

fn rules(engine: &SloEngine) -> Result<Vec<RuleDef>, String> {
    let mut groups = engine.rule_groups();
    assert_eq!(groups.len(), 1);
    groups.pop().map(|g| g.rules).ok_or("no group".into())
}

fn rule<'a>(rules: &'a [RuleDef], long: &str) -> &'a RuleDef {
    rules
        .iter()
        .find(|r| r.labels.get("long_window").map(String::as_str) == Some(long))
        .unwrap_or_else(|| panic!("no rule for long window {long}"))
}

fn one_status(engine: &SloEngine, now_ns: i64) -> Result<SloStatus, String> {
    engine.status(now_ns).pop().ok_or("no status".into())
}

#[test]
fn budget_of_99_9_over_30_days_and_a_31_day_month_is_exact() -> Result<(), String> {
    let quiet = quiet();
    let rolling = one_status(&engine(slo("")?, quiet)?, T)?;
    // 43.2 minutes.
    assert_eq!(rolling.error_budget.total_secs, 2592.0);
    assert_eq!(rolling.error_budget.consumed_secs, Some(0.0));
    assert_eq!(rolling.error_budget.remaining_fraction, Some(1.0));
    assert_eq!(rolling.window_start, "2023-10-15T22:13:20Z");
    assert_eq!(rolling.window_end, "2023-11-14T22:13:20Z");

    // 2024-01-16T12:00:00Z: half-way through January (31 days) UTC.
    let mid_january = 1_705_406_400 * S;
    let month = engine(slo(r#"window = "calendar_month""#)?, quiet)?;
    let status = one_status(&month, mid_january)?;
    // 44.64 minutes.
    assert_eq!(status.error_budget.total_secs, 2678.4);
    assert_eq!(status.window_start, "2024-01-01T00:00:00Z");
    assert_eq!(status.window_end, "2024-02-01T00:00:00Z");
    assert_eq!(status.time_zone.as_deref(), Some("UTC"));
    Ok(())
}

#[test]
fn a_calendar_month_spends_its_budget_in_proportion_to_the_part_gone() -> Result<(), String> {
    // Burn exactly 1 (0.1 % errors) all month: half the month gone, half the budget spent.
    let mid_january = 1_705_406_400 * S;
    let burn_one = errors_from(mid_january - 40 * DAY, 1, 1000);
    let status = one_status(
        &engine(slo(r#"window = "calendar_month""#)?, burn_one)?,
        mid_january,
    )?;
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
    assert!(
        close(status.error_budget.consumed_fraction, 0.5),
        "{status:?}"
    );
    assert!(
        close(status.error_budget.consumed_secs, 1339.2),
        "{status:?}"
    );
    assert!(
        close(status.error_budget.remaining_secs, 1339.2),
        "{status:?}"
    );
    // Burn 1 over the last hour: the remaining half lasts half a month.
    assert!(
        close(status.time_to_exhaustion_secs, 15.5 * 86_400.0),
        "{status:?}"
    );
    Ok(())
}

#[test]
fn calendar_months_follow_the_time_zone_and_its_dst() -> Result<(), String> {
    let berlin = engine(
        slo("window = \"calendar_month\"\ntime_zone = \"Europe/Berlin\"")?,
        quiet(),
    )?;
    // 2024-03-31T22:00:00Z is midnight of April 1st in Berlin (CEST, +02:00).
    let april_berlin = 1_711_922_400 * S;
    let march = one_status(&berlin, april_berlin - 1)?;
    assert_eq!(march.window_start, "2024-02-29T23:00:00Z");
    assert_eq!(march.window_end, "2024-03-31T22:00:00Z");
    // March in Berlin is 743 hours (clocks go forward on the 31st).
    assert_eq!(march.error_budget.total_secs, 2674.8);
    let april = one_status(&berlin, april_berlin)?;
    assert_eq!(april.window_start, "2024-03-31T22:00:00Z");
    assert_eq!(april.window_end, "2024-04-30T22:00:00Z");
    assert_eq!(april.error_budget.total_secs, 2592.0);
    Ok(())
}

#[test]
fn burn_rate_of_a_known_error_ratio_over_every_window() -> Result<(), String> {
    // 2 % errors since long before every window: burn 20 everywhere.
    let status = one_status(&engine(slo("")?, errors_from(T - 40 * DAY, 2, 100))?, T)?;
    let windows: Vec<&str> = status
        .burn_rates
        .iter()
        .map(|b| b.window.as_str())
        .collect();
    assert_eq!(windows, ["5m", "30m", "1h", "6h", "3d"]);
    for b in &status.burn_rates {
        assert_eq!(b.burn_rate, Some(20.0), "{}", b.window);
    }
    assert_eq!(status.error_ratio, Some(0.02));
    assert!(status.alerts.iter().all(|a| a.met));
    // The whole 30-day budget spent 20 times over.
    assert_eq!(status.error_budget.consumed_fraction, Some(20.0));
    assert_eq!(status.time_to_exhaustion_secs, Some(0.0));
    Ok(())
}

/// Errors start at `T` at 2 % (burn 20) with objective 99.9 %. Over a window `w` ending `d`
/// after `T` the burn is `20 × min(d, w) / w`, above 14.4 once `d > 0.72 w`: 216 s for the
/// 5m window, 2592 s for the 1h one. With evaluations every 30 s from `T`, the first where
/// both hold is `T + 2610 s` (`T + 2580 s` still has 14.33 over 1 h).
#[test]
fn the_fast_page_fires_at_the_first_evaluation_where_both_windows_exceed_14_4() -> Result<(), String>
{
    let engine = engine(slo("")?, errors_from(T, 2, 100))?;
    let rules = rules(&engine)?;
    let fast = rule(&rules, "1h");
    let slow = rule(&rules, "6h");
    let interval = engine.slos()[0].config.interval.as_ns();
    assert_eq!(interval, 30 * S);

    let clock = ManualClock::new(T);
    let mut first_firing = None;
    while clock.now_ns() <= T + HOUR {
        let now = clock.now_ns();
        if !fast.expr.eval(now)?.is_empty() && first_firing.is_none() {
            first_firing = Some(now);
        }
        assert!(slow.expr.eval(now)?.is_empty(), "6h/30m at {}", now - T);
        clock.advance(interval);
    }
    assert_eq!(first_firing, Some(T + 2610 * S));

    // At the exact threshold the burn is 14.4, not above it; one second later it fires.
    assert_eq!(fast.expr.eval(T + 2592 * S)?, vec![]);
    let samples = fast.expr.eval(T + 2593 * S)?;
    let expected_labels = [
        ("long_window", "1h"),
        ("severity", "page"),
        ("short_window", "5m"),
        ("slo", "api"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(samples.len(), 1);
    let Sample { labels, value } = &samples[0];
    assert_eq!(labels, &expected_labels);
    assert!((value - 20.0 * 2593.0 / 3600.0).abs() < 1e-9, "{value}");

    // The status agrees with the rules.
    let at = |d: i64| -> Result<Vec<bool>, String> {
        Ok(one_status(&engine, T + d * S)?
            .alerts
            .iter()
            .map(|a| a.met)
            .collect())
    };
    assert_eq!(at(2580)?, [false, false, false]);
    assert_eq!(at(2610)?, [true, false, false]);
    // 6h/30m: 6h burn above 6 once d > 6480 s.
    assert_eq!(at(6480)?, [true, false, false]);
    assert_eq!(at(6510)?, [true, true, false]);
    Ok(())
}

#[test]
fn the_page_resolves_minutes_after_the_errors_stop() -> Result<(), String> {
    // Errors for 3 hours: burn 20 over 1 h at the stop. The 5m window drops to 14.4 once
    // 84 s have passed (20 × (300 − 84) / 300 = 14.4).
    let stop = T + 3 * HOUR;
    let source = SyntheticSli {
        errors_until_ns: stop,
        ..errors_from(T, 2, 100)
    };
    let engine = engine(slo("")?, source)?;
    let rules = rules(&engine)?;
    let fast = rule(&rules, "1h");
    assert_eq!(fast.expr.eval(stop + 83 * S)?.len(), 1);
    assert_eq!(fast.expr.eval(stop + 84 * S)?, vec![]);
    assert_eq!(fast.expr.eval(stop + 10 * MIN)?, vec![]);
    Ok(())
}

#[test]
fn a_burn_of_0_9_raises_no_ticket() -> Result<(), String> {
    // 0.09 % errors for 40 days: burn 0.9 everywhere, spending 90 % of the budget.
    let engine = engine(slo("")?, errors_from(T - 40 * DAY, 9, 10_000))?;
    let rules = rules(&engine)?;
    let clock = ManualClock::new(T);
    for _ in 0..200 {
        for r in &rules {
            assert_eq!(r.expr.eval(clock.now_ns())?, vec![], "{:?}", r.labels);
        }
        clock.advance(17 * MIN);
    }
    let status = one_status(&engine, T)?;
    for b in &status.burn_rates {
        assert_eq!(b.burn_rate, Some(0.9), "{}", b.window);
    }
    let ticket = status.alerts.last().ok_or("no ticket")?;
    assert_eq!((ticket.long_window.as_str(), ticket.met), ("3d", false));
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
    assert!(close(status.error_budget.consumed_fraction, 0.9));
    assert!(close(status.error_budget.remaining_secs, 259.2));
    // 10 % of a 30-day budget left at burn 0.9: 30 d × 0.1 / 0.9 = 3⅓ days.
    assert!(close(
        status.time_to_exhaustion_secs,
        30.0 * 86_400.0 * 0.1 / 0.9
    ));
    Ok(())
}

#[test]
fn no_traffic_is_no_data_and_never_an_alert() -> Result<(), String> {
    // Traffic only starts tomorrow; errors "from now" at 100 % would page if counted.
    let source = SyntheticSli {
        traffic_from_ns: T + DAY,
        ..errors_from(T - DAY, 1, 1)
    };
    let engine = engine(slo("")?, source)?;
    for r in rules(&engine)? {
        assert_eq!(r.expr.eval(T)?, vec![]);
    }
    let status = one_status(&engine, T)?;
    assert_eq!(status.sli_percent, None);
    assert!(status.burn_rates.iter().all(|b| b.burn_rate.is_none()));
    assert!(status.alerts.iter().all(|a| !a.met));
    assert_eq!(status.time_to_exhaustion_secs, None);
    assert_eq!(status.error_budget.total_secs, 2592.0);
    let json = serde_json::to_value(&status).map_err(|e| e.to_string())?;
    assert_eq!(json["sli_percent"], serde_json::Value::Null);
    assert_eq!(
        json["error_budget"]["remaining_secs"],
        serde_json::Value::Null
    );
    assert_eq!(json["burn_rates"][0]["burn_rate"], serde_json::Value::Null);
    let text = json.to_string();
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    Ok(())
}

#[test]
fn rule_groups_carry_names_labels_and_annotations() -> Result<(), String> {
    let config = slo(r#"labels = { team = "platform" }
interval = "1m""#)?;
    let engine = engine(config, errors_from(T, 2, 100))?;
    let groups = engine.rule_groups();
    let group = &groups[0];
    assert_eq!(group.name, "slo:api");
    assert_eq!(group.source, "slo:api");
    assert_eq!(group.interval.to_string(), "1m");
    let summary: Vec<(&str, &str, &str)> = group
        .rules
        .iter()
        .map(|r| {
            let l = |k: &str| r.labels.get(k).map(String::as_str).unwrap_or("");
            (l("severity"), l("long_window"), l("short_window"))
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("page", "1h", "5m"),
            ("page", "6h", "30m"),
            ("ticket", "3d", "6h")
        ]
    );
    for r in &group.rules {
        assert_eq!(r.alert, "SLOErrorBudgetBurn");
        assert_eq!(r.labels.get("team").map(String::as_str), Some("platform"));
        assert_eq!(r.labels.get("slo").map(String::as_str), Some("api"));
        assert!(r.for_.is_zero());
        let summary = r.annotations.get("summary").cloned().unwrap_or_default();
        assert!(summary.contains("{{ $value }}"), "{summary}");
        let description = r
            .annotations
            .get("description")
            .cloned()
            .unwrap_or_default();
        assert!(
            description.contains("Objective 99.9% over 30d"),
            "{description}"
        );
        assert!(r.expr.text().contains("sum(rate(errors_total[$window]))"));
    }
    let fast = &group.rules[0];
    assert!(fast
        .annotations
        .get("description")
        .is_some_and(|d| d.contains("spends 2% of the budget in 1h")));
    Ok(())
}

#[test]
fn the_budget_history_spreads_the_window_and_ends_now() -> Result<(), String> {
    // A calendar month at burn 1 all along: the budget falls in a straight line; at a
    // quarter, half and the middle of January it is 3/4… of it left, as the status says then.
    let mid_january = 1_705_406_400 * S; // 2024-01-16T12:00:00Z
    let month_start = 1_704_067_200 * S; // 2024-01-01T00:00:00Z
    let burn_one = errors_from(mid_january - 40 * DAY, 1, 1000);
    let e = engine(slo(r#"window = "calendar_month""#)?, burn_one)?;
    let points = e.budget_history("api", mid_january, 4).ok_or("api")?;
    assert_eq!(points.len(), 4);
    assert_eq!(points[3].at_ns, mid_january, "the last point is now");
    let span = mid_january - month_start;
    for (k, p) in points.iter().enumerate() {
        assert_eq!(p.at_ns, month_start + span / 4 * (k as i64 + 1));
        let gone = (p.at_ns - month_start) as f64 / (31.0 * DAY as f64);
        let left = p.remaining_fraction.ok_or("no data")?;
        assert!(
            (left - (1.0 - gone)).abs() < 1e-9,
            "point {k}: {left} vs {}",
            1.0 - gone
        );
        assert!((p.sli_percent.ok_or("sli")? - 99.9).abs() < 1e-9);
    }
    let now = one_status(&e, mid_january)?;
    assert_eq!(
        points[3].remaining_fraction,
        now.error_budget.remaining_fraction
    );
    assert!(e.budget_history("nope", mid_january, 4).is_none());
    // The number of points is bounded whatever is asked.
    assert_eq!(
        e.budget_history("api", mid_january, 100_000)
            .ok_or("api")?
            .len(),
        200
    );
    Ok(())
}
