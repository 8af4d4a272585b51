//! The checker with a [`ManualClock`]: heartbeat deadlines, state changes into the ledger,
//! restore after a restart, and the metrics.

use std::sync::Arc;

use pharos_collector::clock::{ManualClock, NANOS_PER_SEC as S};

use super::state::{Outcome, State};
use super::Checker;
use crate::config::{CheckConfig, CheckKind};

const T0: i64 = 1_700_000_000 * S;

fn configs() -> Vec<CheckConfig> {
    let mut api = CheckConfig::new("api", CheckKind::Http, "http://127.0.0.1:9/health");
    api.fail_after = 2;
    api.recover_after = 2;
    let mut hb = CheckConfig::new("nightly", CheckKind::Heartbeat, "");
    hb.period_secs = Some(60);
    hb.grace_secs = Some(30);
    vec![api, hb]
}

fn open(dir: &std::path::Path, clock: &ManualClock) -> Result<Checker, String> {
    Checker::open(&configs(), dir, Arc::new(clock.clone()))
}

fn metrics_text(checker: &Checker) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    checker.register_metrics(&mut registry);
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[test]
fn heartbeat_goes_down_exactly_at_period_plus_grace() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let clock = ManualClock::new(T0);
    let checker = open(dir.path(), &clock)?;
    assert_eq!(checker.state("nightly"), Some(State::Unknown));
    // No ping since start: down at start + 90 s, not a nanosecond earlier.
    clock.set(T0 + 90 * S - 1);
    assert_eq!(checker.tick_heartbeats(), 0);
    assert_eq!(checker.state("nightly"), Some(State::Unknown));
    clock.set(T0 + 90 * S);
    assert_eq!(checker.tick_heartbeats(), 1);
    assert_eq!(checker.state("nightly"), Some(State::Down));
    assert_eq!(checker.tick_heartbeats(), 0);
    // A ping brings it up; the next deadline is that ping + 90 s.
    clock.set(T0 + 100 * S);
    assert_eq!(checker.ping("nightly"), Ok(State::Up));
    clock.set(T0 + 189 * S);
    checker.tick_heartbeats();
    assert_eq!(checker.state("nightly"), Some(State::Up));
    clock.set(T0 + 195 * S);
    assert_eq!(checker.tick_heartbeats(), 1);
    let events = checker.events("nightly").map_err(|e| e.to_string())?;
    let times: Vec<(i64, State)> = events.iter().map(|e| (e.at_ns - T0, e.to)).collect();
    assert_eq!(
        times,
        vec![
            (90 * S, State::Down),
            (100 * S, State::Up),
            (190 * S, State::Down)
        ]
    );
    assert_eq!(
        events[0].reason,
        "no ping within period_secs + grace_secs = 90 s"
    );
    // Uptime over [T0, T0 + 200 s): unknown 90 s, down 10 + 10 s, up 90 s.
    let u = checker
        .uptime("nightly", T0, T0 + 500 * S)
        .ok_or("no check")?
        .map_err(|e| e.to_string())?;
    assert_eq!(u.to_ns, T0 + 195 * S);
    assert_eq!(
        (u.unknown_secs, u.up_secs, u.downtime_secs),
        (90.0, 90.0, 15.0)
    );
    assert_eq!(u.incidents.len(), 2);
    assert_eq!(u.incidents[1].end_ns, None);
    assert_eq!(
        checker.ping("nope"),
        Err(super::heartbeat::PingError::Unknown("nope".into()))
    );
    assert!(matches!(
        checker.ping("api"),
        Err(super::heartbeat::PingError::NotHeartbeat(..))
    ));
    Ok(())
}

#[test]
fn probe_results_change_state_after_the_runs_and_survive_a_restart() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let clock = ManualClock::new(T0);
    {
        let checker = open(dir.path(), &clock)?;
        let api = checker.get("api").cloned().ok_or("no api")?;
        let text = metrics_text(&checker);
        assert!(
            !text.contains("pharos_check_up{"),
            "absent while unknown: {text}"
        );
        let ok = || {
            Outcome::ok("status 200")
                .with_status(200)
                .with_latency(12.0)
        };
        let bad = || {
            Outcome::fail("status 500 (expected 2xx)")
                .with_status(500)
                .with_latency(3.0)
        };
        for (i, o) in [ok(), ok(), bad(), ok(), bad(), bad(), ok(), ok()]
            .into_iter()
            .enumerate()
        {
            clock.set(T0 + i as i64 * 10 * S);
            checker.record(&api, o);
        }
        let views = checker.list();
        assert_eq!(views[0].state, State::Up);
        assert_eq!(views[0].last_latency_ms, Some(12.0));
        assert_eq!(views[1].state, State::Unknown);
        let text = metrics_text(&checker);
        assert!(text.contains("pharos_check_up{check=\"api\"} 1"), "{text}");
        assert!(
            !text.contains("pharos_check_up{check=\"nightly\"}"),
            "{text}"
        );
        assert!(
            text.contains("pharos_check_duration_seconds_count{check=\"api\"} 8"),
            "{text}"
        );
    }
    clock.set(T0 + 100 * S);
    let checker = open(dir.path(), &clock)?;
    assert_eq!(checker.state("api"), Some(State::Up));
    assert!(metrics_text(&checker).contains("pharos_check_up{check=\"api\"} 1"));
    let events = checker.events("api").map_err(|e| e.to_string())?;
    let times: Vec<(i64, State, Option<u16>)> = events
        .iter()
        .map(|e| ((e.at_ns - T0) / S, e.to, e.status))
        .collect();
    assert_eq!(
        times,
        vec![
            (10, State::Up, Some(200)),
            (50, State::Down, Some(500)),
            (70, State::Up, Some(200))
        ]
    );
    assert_eq!(events[1].reason, "status 500 (expected 2xx)");
    assert_eq!(events[1].latency_ms, Some(3.0));
    let u = checker
        .uptime("api", T0, T0 + 100 * S)
        .ok_or("no check")?
        .map_err(|e| e.to_string())?;
    assert_eq!(
        (u.unknown_secs, u.up_secs, u.downtime_secs),
        (10.0, 70.0, 20.0)
    );
    assert_eq!(u.uptime_percent, Some(70.0 * 100.0 / 90.0));
    Ok(())
}

#[test]
fn daily_bars_windows_and_probe_results() -> Result<(), String> {
    use pharos_collector::clock::NANOS_PER_DAY as DAY;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Midnight UTC of some day, plus two days and six hours.
    let day0 = (T0 / DAY) * DAY;
    let clock = ManualClock::new(day0);
    let checker = open(dir.path(), &clock)?;
    let mut probes = checker.probe_results(16);
    let api = checker.get("api").cloned().ok_or("no api")?;
    let at = |secs: i64, o: Outcome| {
        clock.set(day0 + secs * S);
        checker.record(&api, o);
    };
    let ok = || Outcome::ok("status 200").with_latency(5.0);
    let bad = || Outcome::fail("status 500").with_latency(7.0);
    // Up from 00:00:10 on day 0 (recover_after 2); down from 12:00:10 on day 1; up again at
    // 18:00:10 on day 1.
    at(0, ok());
    at(10, ok());
    at(86_400 + 43_200, bad());
    at(86_400 + 43_210, bad());
    at(86_400 + 64_800, ok());
    at(86_400 + 64_810, ok());
    clock.set(day0 + 2 * DAY + 6 * 3600 * S);

    let days = checker
        .daily_uptime("api", 3)
        .ok_or("api")?
        .map_err(|e| e.0)?;
    assert_eq!(days.len(), 3);
    assert_eq!((days[0].from_ns, days[0].to_ns), (day0, day0 + DAY));
    assert_eq!(days[0].uptime_percent, Some(100.0));
    assert_eq!(days[0].unknown_secs, 10.0);
    // Day 1: down 12:00:10 → 18:00:10, six hours of 24.
    assert_eq!(days[1].downtime_secs, 6.0 * 3600.0);
    assert_eq!(days[1].uptime_percent, Some(75.0));
    assert_eq!(days[1].incidents.len(), 1);
    // Today, so far: six hours up.
    assert_eq!(days[2].to_ns, day0 + 2 * DAY + 6 * 3600 * S);
    assert_eq!(days[2].up_secs, 6.0 * 3600.0);
    assert!(checker.daily_uptime("nope", 3).is_none());

    let w = checker
        .uptime_windows("api", &[DAY, 3 * DAY])
        .ok_or("api")?
        .map_err(|e| e.0)?;
    // The last 24 h (day 1 06:00 → day 2 06:00) hold the whole outage.
    assert_eq!(w[0].uptime_percent, Some(75.0));
    let total = 2.0 * 86_400.0 + 6.0 * 3600.0 - 10.0;
    assert_eq!(w[1].downtime_secs, 6.0 * 3600.0);
    assert_eq!(
        w[1].uptime_percent,
        Some((total - 6.0 * 3600.0) * 100.0 / total)
    );

    // Every probe went to the channel, with its time, result and latency.
    let mut got = Vec::new();
    while let Ok(r) = probes.try_recv() {
        got.push((r.at_ns - day0, r.ok, r.latency_ms));
    }
    assert_eq!(got.len(), 6);
    assert_eq!(got[2], ((86_400 + 43_200) * S, false, Some(7.0)));
    assert_eq!(checker.probe_results_dropped(), 0);
    Ok(())
}
