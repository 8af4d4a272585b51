//! `rule-eval`: 10,000 rules, each evaluated once a minute, in process.
//!
//! In process rather than through the binary: the engine is the same code (`RuleManager`
//! and the tokio `driver` that spreads groups over the interval), and in process the rules'
//! clock can be shifted so that every evaluation sees full windows of data without feeding
//! the stores while measuring — so the CPU measured is the rules', not ingest's. The
//! collector (log store, indexer idle) and a metrics store run in the same process as in
//! `pharos serve`; the alert store and rule state are on sled, as in the server.
//!
//! Timeline: the data spans `[T − span − 1 h, T]` (T = wall clock at start, span = the
//! measured minutes + 2); the rules' clock is the wall clock shifted back so that it starts
//! at `T − span`. After a warm-up minute (every group's first slot), the process's CPU
//! (user + system, `/proc/self/stat`) is read over `minutes` minutes, and a poller reads
//! `RuleManager::view()` every 5 s to record each group's and rule's evaluations (its own
//! CPU is measured on its thread and subtracted).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use parking_lot::Mutex;
use pharos_alertmanager::rules::{driver, RuleManager, RulesConfig};
use pharos_alertmanager::sources::Sources;
use pharos_alertmanager::{AlertStore, PromDuration, SharedStateDb, SledStateDb};
use pharos_collector::clock::{Clock, ManualClock, SharedClock, SystemClock};
use pharos_collector::Collector;
use serde::Serialize;

use super::rule_data::{collector_config, fill_logs, fill_metrics, write_rules};
use crate::gen::parse_rfc3339_ns;
use crate::loadgen::query_bench::Machine;
use crate::loadgen::stats::percentile;

const MINUTE_NS: i64 = 60_000_000_000;
/// `/proc` counts CPU time in USER_HZ ticks, 100 per second on Linux.
const TICKS_PER_SEC: f64 = 100.0;
const POLL: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Serialize)]
pub struct RuleEvalOpts {
    pub rules: usize,
    pub rules_per_group: usize,
    pub files: usize,
    pub minutes: u64,
    pub log_records: usize,
    /// Instance × zone combinations of each of the 10 metrics.
    pub combos: usize,
    pub max_concurrent: usize,
    pub seed: u64,
    pub command_line: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dist {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn dist(v: &[f64]) -> Dist {
    let ms: Vec<f64> = v.iter().map(|s| s * 1000.0).collect();
    let p = |q| {
        if ms.is_empty() {
            0.0
        } else {
            percentile(&ms, q)
        }
    };
    Dist {
        n: ms.len(),
        p50_ms: p(50.0),
        p99_ms: p(99.0),
        max_ms: p(100.0),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleEvalReport {
    pub opts: RuleEvalOpts,
    pub machine: Machine,
    pub groups: usize,
    pub rules_loaded: usize,
    pub samples: u64,
    pub build_secs: f64,
    pub measured_secs: f64,
    /// Process CPU (user + sys) over the measured minutes, minus the poller's, ÷ wall ÷ cores.
    pub cpu_percent_of_2_cores: f64,
    pub cpu_secs: f64,
    pub poller_cpu_secs: f64,
    /// Group evaluations stamped inside the measured window; expected = groups × minutes.
    pub group_evals: usize,
    pub expected_group_evals: usize,
    pub rule_evals: usize,
    pub expected_rule_evals: usize,
    /// Largest time between two evaluations of the same group (s); > 60 s + the driver's
    /// tick means a skipped or late evaluation.
    pub max_gap_secs: f64,
    pub late_gaps: usize,
    pub rules_with_errors: usize,
    pub first_error: Option<String>,
    pub firing_rules: usize,
    pub group_eval: Dist,
    pub log_rule_eval: Dist,
    pub promql_rule_eval: Dist,
}

/// The wall clock shifted back by a fixed amount.
struct ShiftedClock(AtomicI64);

impl Clock for ShiftedClock {
    fn now_ns(&self) -> i64 {
        SystemClock.now_ns() - self.0.load(Ordering::Relaxed)
    }
}

/// utime + stime in ticks of `/proc/{who}/stat` (`self` or `thread-self`).
fn cpu_ticks(who: &str) -> Result<u64> {
    let path = format!("/proc/{who}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces; fields after its closing parenthesis are fixed.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("stat format")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| -> Result<u64> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{path}: field {i}"))
    };
    // After ')': state is field 3 of the full line, so utime (14) and stime (15) are 11, 12.
    Ok(num(11)? + num(12)?)
}

/// Evaluations seen by the poller: per group or rule, (stamp ns, duration s) each.
#[derive(Default)]
struct Seen {
    groups: HashMap<String, Vec<(i64, f64)>>,
    rules: HashMap<String, Vec<(i64, f64)>>,
    errors: usize,
    first_error: Option<String>,
    firing: usize,
}

fn poll(manager: &RuleManager, seen: &mut Seen) {
    let view = manager.view();
    let (mut errors, mut first_error, mut firing) = (0, None, 0);
    for g in &view.groups {
        record(
            &mut seen.groups,
            &g.name,
            g.last_evaluation.as_deref(),
            g.evaluation_time,
        );
        for r in &g.rules {
            record(
                &mut seen.rules,
                &r.name,
                r.last_evaluation.as_deref(),
                r.evaluation_time,
            );
            if let Some(e) = &r.last_error {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{}: {e}", r.name));
            }
            firing += usize::from(!r.alerts.is_empty());
        }
    }
    (seen.errors, seen.first_error, seen.firing) = (errors, first_error, firing);
}

fn record(map: &mut HashMap<String, Vec<(i64, f64)>>, name: &str, last: Option<&str>, secs: f64) {
    let Some(ns) = last.and_then(parse_rfc3339_ns) else {
        return;
    };
    let v = map.entry(name.to_string()).or_default();
    if v.last().is_none_or(|(t, _)| *t != ns) {
        v.push((ns, secs));
    }
}

pub async fn run(o: &RuleEvalOpts) -> Result<RuleEvalReport> {
    ensure!(o.rules > 0 && o.minutes > 0 && o.combos > 0 && o.log_records > 0);
    let tmp = tempfile::Builder::new()
        .prefix("pharos-rule-eval-")
        .tempdir()
        .context("temp dir")?;
    let t_end = SystemClock.now_ns() / 1_000_000_000 * 1_000_000_000;
    let span = (o.minutes as i64 + 2) * MINUTE_NS;
    let t_from = t_end - span - 60 * MINUTE_NS;
    let built = Instant::now();

    let log_clock = ManualClock::new(t_from);
    let cfg = collector_config(&tmp.path().join("logs"));
    let handle = tokio::runtime::Handle::current();
    let collector = {
        let c: SharedClock = Arc::new(log_clock.clone());
        tokio::task::block_in_place(|| Collector::open(cfg, c, handle))
            .context("opening the collector")?
    };
    eprintln!(
        "rule-eval: {} log records over {} min…",
        o.log_records,
        span / MINUTE_NS + 60
    );
    fill_logs(&collector, &log_clock, o.log_records, t_from, t_end, o.seed).await?;
    let metrics_dir = tmp.path().join("metrics");
    let (tsdb, samples) = tokio::task::block_in_place(|| {
        fill_metrics(
            &metrics_dir,
            o.combos,
            t_from / 1_000_000,
            t_end / 1_000_000,
            o.seed,
        )
    })?;
    eprintln!(
        "rule-eval: {samples} metric samples; writing {} rules",
        o.rules
    );
    let files = write_rules(tmp.path(), o.rules, o.rules_per_group, o.files, o.combos)?;

    // The rules' clock starts at T − span; the alert store and rule state use it too.
    let shifted = Arc::new(ShiftedClock(AtomicI64::new(0)));
    shifted
        .0
        .store(SystemClock.now_ns() - (t_end - span), Ordering::Relaxed);
    let clock: SharedClock = shifted.clone();
    let db: SharedStateDb = Arc::new(SledStateDb::open(&tmp.path().join("alerting"))?);
    let store = Arc::new(AlertStore::open(db.clone(), clock.clone(), 5 * MINUTE_NS)?);
    let config = RulesConfig {
        files: files.iter().map(|p| p.display().to_string()).collect(),
        evaluation_interval: PromDuration::from_secs(60),
        max_concurrent_evaluations: o.max_concurrent,
        ..RulesConfig::default()
    };
    let sources = Sources {
        logs: Some(collector.store.clone()),
        metrics: Some(tsdb),
        checker: None,
    };
    let manager = Arc::new(
        tokio::task::block_in_place(|| RuleManager::new(config, sources, store, db, clock.clone()))
            .context("loading the rules")?,
    );
    let build_secs = built.elapsed().as_secs_f64();
    let task = driver::spawn(manager.clone(), None);

    // The poller, on its own thread so its CPU can be told apart.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let poller_ticks = Arc::new(AtomicU64::new(0));
    let poller = {
        let (m, seen, stop, ticks) = (
            manager.clone(),
            seen.clone(),
            stop.clone(),
            poller_ticks.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                poll(&m, &mut seen.lock());
                ticks.store(cpu_ticks("thread-self").unwrap_or(0), Ordering::SeqCst);
                std::thread::sleep(POLL);
            }
            poll(&m, &mut seen.lock());
        })
    };

    // Warm-up: each group's first slot comes within the first interval.
    let groups = manager.view().groups.len();
    let warm_deadline = Instant::now() + Duration::from_secs(90);
    while seen.lock().groups.len() < groups && Instant::now() < warm_deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!(
        "rule-eval: {groups} groups warm; measuring {} min…",
        o.minutes
    );
    let (w0, c0, p0, r0) = (
        Instant::now(),
        cpu_ticks("self")?,
        poller_ticks.load(Ordering::SeqCst),
        clock.now_ns(),
    );
    tokio::time::sleep(Duration::from_secs(60 * o.minutes)).await;
    let (wall, c1, p1, r1) = (
        w0.elapsed(),
        cpu_ticks("self")?,
        poller_ticks.load(Ordering::SeqCst),
        clock.now_ns(),
    );
    stop.store(true, Ordering::SeqCst);
    let _ = tokio::task::spawn_blocking(move || poller.join()).await;
    task.abort();
    let _ = tokio::task::block_in_place(|| collector.shutdown());

    let seen = seen.lock();
    let cpu_secs = (c1 - c0) as f64 / TICKS_PER_SEC;
    let poller_cpu_secs = p1.saturating_sub(p0) as f64 / TICKS_PER_SEC;
    let in_window = |v: &Vec<(i64, f64)>| v.iter().filter(|(t, _)| (r0..r1).contains(t)).count();
    let mut max_gap = 0i64;
    let mut late_gaps = 0;
    let mut group_secs = Vec::new();
    for v in seen.groups.values() {
        for w in v.windows(2) {
            let gap = w[1].0 - w[0].0;
            max_gap = max_gap.max(gap);
            // The driver starts a due group within its 250 ms tick.
            late_gaps += usize::from(gap > MINUTE_NS + 2_000_000_000);
        }
        group_secs.extend(
            v.iter()
                .filter(|(t, _)| (r0..r1).contains(t))
                .map(|(_, s)| *s),
        );
    }
    let kind_secs = |prefix: &str| -> Vec<f64> {
        seen.rules
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .flat_map(|(_, v)| {
                v.iter()
                    .filter(|(t, _)| (r0..r1).contains(t))
                    .map(|(_, s)| *s)
            })
            .collect()
    };
    let minutes = o.minutes as usize;
    Ok(RuleEvalReport {
        opts: o.clone(),
        machine: Machine::detect(),
        groups,
        rules_loaded: seen.rules.len(),
        samples,
        build_secs,
        measured_secs: wall.as_secs_f64(),
        cpu_percent_of_2_cores: (cpu_secs - poller_cpu_secs) / wall.as_secs_f64() / 2.0 * 100.0,
        cpu_secs,
        poller_cpu_secs,
        group_evals: seen.groups.values().map(in_window).sum(),
        expected_group_evals: groups * minutes,
        rule_evals: seen.rules.values().map(in_window).sum(),
        expected_rule_evals: o.rules * minutes,
        max_gap_secs: max_gap as f64 / 1e9,
        late_gaps,
        rules_with_errors: seen.errors,
        first_error: seen.first_error.clone(),
        firing_rules: seen.firing,
        group_eval: dist(&group_secs),
        log_rule_eval: dist(&kind_secs("Logs")),
        promql_rule_eval: dist(&kind_secs("Prom")),
    })
}

impl RuleEvalReport {
    pub fn markdown(&self) -> String {
        let o = &self.opts;
        let met = self.cpu_percent_of_2_cores < 50.0
            && self.late_gaps == 0
            && self.rules_with_errors == 0
            && self.rule_evals.abs_diff(self.expected_rule_evals) <= o.rules_per_group * 2;
        let row = |name: &str, d: &Dist| {
            format!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} |\n",
                d.n, d.p50_ms, d.p99_ms, d.max_ms
            )
        };
        format!(
            "### rule-eval: {} rules ({} groups of {}), {} min measured\n\n`{}`\n\n\
             Machine: {} cores, {}. Data: {} log records over {} min, {} metric samples \
             ({} series at 15 s); built in {:.0} s.\n\n\
             | | value |\n|---|---:|\n\
             | CPU, % of 2 cores (process user+sys − poller, over {:.0} s) | **{:.1}** |\n\
             | CPU seconds (process / poller) | {:.1} / {:.1} |\n\
             | group evaluations in the window (expected groups × minutes) | {} ({}) |\n\
             | rule evaluations in the window (expected) | {} ({}) |\n\
             | largest gap between two evaluations of a group | {:.2} s |\n\
             | gaps > 62 s (skipped or late) | {} |\n\
             | rules with an evaluation error | {} |\n\
             | rules with alerts | {} |\n\n\
             | evaluation time | n | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n{}{}{}\n\
             Target (every rule once a minute, CPU < 50 % of 2 cores): **{}**.\n",
            self.rules_loaded,
            self.groups,
            o.rules_per_group,
            o.minutes,
            o.command_line,
            self.machine.nproc,
            self.machine.cpu_model,
            o.log_records,
            o.minutes + 62,
            self.samples,
            10 * o.combos,
            self.build_secs,
            self.measured_secs,
            self.cpu_percent_of_2_cores,
            self.cpu_secs,
            self.poller_cpu_secs,
            self.group_evals,
            self.expected_group_evals,
            self.rule_evals,
            self.expected_rule_evals,
            self.max_gap_secs,
            self.late_gaps,
            self.rules_with_errors,
            self.firing_rules,
            row("group", &self.group_eval),
            row("log rule", &self.log_rule_eval),
            row("PromQL rule", &self.promql_rule_eval),
            if met { "met" } else { "not met" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_ticks() {
        assert!(cpu_ticks("self").is_ok());
        assert!(cpu_ticks("thread-self").is_ok());
    }
}
