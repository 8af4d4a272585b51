//! The rule engine end to end with a ManualClock: PromQL rules over an in-memory metric
//! store, the `for` / resolution timeline into the alert store, templating, restart and
//! reload keeping state, provider (SLO) groups, errors keeping state, and check rules
//! evaluated the moment a check goes down.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use pharos_alertmanager::alert::{labels, Alert, LabelSet};
use pharos_alertmanager::rules::{GroupDef, RuleDef, RuleExpr, RuleManager, RulesConfig, Sample};
use pharos_alertmanager::sources::Sources;
use pharos_alertmanager::store::AlertStore;
use pharos_alertmanager::{MemStateDb, PromDuration};
use pharos_collector::clock::{ManualClock, NANOS_PER_SEC as S};
use pharos_collector::tsdb::{MetricKind, MetricStore};
use pharos_query::promql::testing::{labels as series, MemStore};

const T0: i64 = 1_700_000_000 * S;
const M: i64 = 60 * S;

/// `errors{job="api"}` is 10 until T0+5m then 0; `errors{job="web"}` is always 1.
fn metrics() -> Arc<dyn MetricStore> {
    let mut s = MemStore::new();
    let ms = |ns: i64| ns / 1_000_000;
    let api: Vec<(i64, f64)> = (-20..80)
        .map(|i| {
            let t = T0 + i * 15 * S;
            (ms(t), if t < T0 + 5 * M { 10.0 } else { 0.0 })
        })
        .collect();
    let web: Vec<(i64, f64)> = (-20..80).map(|i| (ms(T0 + i * 15 * S), 1.0)).collect();
    s.add(
        series(&[("__name__", "errors"), ("job", "api")]),
        MetricKind::Gauge,
        &api,
    );
    s.add(
        series(&[("__name__", "errors"), ("job", "web")]),
        MetricKind::Gauge,
        &web,
    );
    Arc::new(s)
}

const RULES: &str = r#"
groups:
  - name: api
    interval: 1m
    rules:
      - alert: HighErrors
        expr: errors > 5
        for: 2m
        labels:
          severity: page
          team: "{{ $labels.job }}-team"
        annotations:
          summary: "{{ $labels.job }} has {{ $value | humanize }} errors"
"#;

struct Env {
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: ManualClock,
    db: MemStateDb,
}

impl Env {
    fn new(rules: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.yml");
        std::fs::write(&path, rules).unwrap();
        Env {
            _dir: dir,
            path,
            clock: ManualClock::new(T0),
            db: MemStateDb::default(),
        }
    }

    /// A fresh alert store and manager over the same state database: a restart.
    fn start(&self, sources: Sources) -> (Arc<AlertStore>, RuleManager) {
        let store = Arc::new(
            AlertStore::open(
                Arc::new(self.db.clone()),
                Arc::new(self.clock.clone()),
                300 * S,
            )
            .unwrap(),
        );
        let config = RulesConfig {
            files: vec![self.path.display().to_string()],
            ..RulesConfig::default()
        };
        let m = RuleManager::new(
            config,
            sources,
            store.clone(),
            Arc::new(self.db.clone()),
            Arc::new(self.clock.clone()),
        )
        .unwrap();
        (store, m)
    }

    fn eval_at(&self, m: &RuleManager, at: i64) {
        self.clock.set(at);
        m.evaluate_all(at).unwrap();
    }
}

fn metric_sources() -> Sources {
    Sources {
        metrics: Some(metrics()),
        ..Sources::default()
    }
}

fn find(store: &AlertStore, name: &str, job: &str) -> Option<Alert> {
    store
        .list()
        .into_iter()
        .find(|a| a.name() == name && a.labels.get("job").map(String::as_str) == Some(job))
}

#[test]
fn promql_rule_goes_pending_then_fires_exactly_at_for_then_resolves() {
    let env = Env::new(RULES);
    let (store, m) = env.start(metric_sources());
    env.eval_at(&m, T0);
    assert!(store.list().is_empty(), "pending alerts are not sent");
    let view = serde_json::to_value(m.view()).unwrap();
    let alerts = &view["groups"][0]["rules"][0]["alerts"];
    assert_eq!(
        alerts.as_array().unwrap().len(),
        1,
        "only job=api is above 5"
    );
    assert_eq!(alerts[0]["state"], "pending");

    env.eval_at(&m, T0 + M);
    assert!(store.list().is_empty(), "not before `for` has elapsed");
    env.eval_at(&m, T0 + 2 * M);
    let a = find(&store, "HighErrors", "api").expect("firing at exactly t0 + for");
    assert_eq!(a.starts_at_ns, T0 + 2 * M);
    assert_eq!(
        a.ends_at_ns,
        T0 + 2 * M + 4 * M,
        "ends_at = now + 4 × max(interval, resend)"
    );
    let want: LabelSet = labels([
        ("alertname", "HighErrors"),
        ("job", "api"),
        ("severity", "page"),
        ("team", "api-team"),
    ]);
    assert_eq!(a.labels, want, "__name__ dropped, rule labels templated");
    assert_eq!(a.annotations["summary"], "api has 10 errors");
    assert_eq!(
        a.annotations["value"], "10",
        "the value annotation is added"
    );
    assert!(find(&store, "HighErrors", "web").is_none());

    env.eval_at(&m, T0 + 3 * M);
    assert_eq!(
        find(&store, "HighErrors", "api").unwrap().ends_at_ns,
        T0 + 3 * M + 4 * M,
        "re-sent each evaluation"
    );
    // errors{job="api"} drops to 0 at T0+5m.
    env.eval_at(&m, T0 + 6 * M);
    let a = find(&store, "HighErrors", "api").unwrap();
    assert_eq!(
        a.ends_at_ns,
        T0 + 6 * M,
        "resolved: ends_at is the resolution time"
    );
    assert_eq!(a.starts_at_ns, T0 + 2 * M);
    assert!(a.resolved_at(T0 + 6 * M));
}

#[test]
fn a_restart_keeps_the_for_timer_and_does_not_refire_as_new() {
    let env = Env::new(RULES);
    {
        let (_store, m) = env.start(metric_sources());
        env.eval_at(&m, T0);
    }
    // Restarted 2 minutes later: the pending alert kept its active_at, so it fires now.
    let (store, m) = env.start(metric_sources());
    env.eval_at(&m, T0 + 2 * M);
    let a = find(&store, "HighErrors", "api").expect("fired: `for` was not reset");
    assert_eq!(a.starts_at_ns, T0 + 2 * M);
    drop(m);
    let (store, m) = env.start(metric_sources());
    env.eval_at(&m, T0 + 3 * M);
    let a = find(&store, "HighErrors", "api").unwrap();
    assert_eq!(a.starts_at_ns, T0 + 2 * M, "same starts_at after a restart");
    let view = serde_json::to_value(m.view()).unwrap();
    assert_eq!(view["groups"][0]["rules"][0]["state"], "firing");
}

#[test]
fn reload_keeps_state_of_unchanged_rules_and_a_bad_file_keeps_the_old_rules() {
    let env = Env::new(RULES);
    let (store, m) = env.start(metric_sources());
    env.eval_at(&m, T0);
    env.eval_at(&m, T0 + 2 * M);
    assert!(find(&store, "HighErrors", "api").is_some());

    let added = format!("{RULES}      - alert: AnyErrors\n        expr: errors > 0\n");
    std::fs::write(&env.path, &added).unwrap();
    let summary = m.reload().unwrap();
    assert_eq!(
        (summary.rules, summary.kept_rules, summary.removed_rules),
        (2, 1, 0)
    );
    env.eval_at(&m, T0 + 3 * M);
    assert_eq!(
        find(&store, "HighErrors", "api").unwrap().starts_at_ns,
        T0 + 2 * M
    );
    assert!(
        find(&store, "AnyErrors", "web").is_some(),
        "the new rule runs (for: 0s)"
    );

    std::fs::write(
        &env.path,
        "groups:\n  - name: api\n    rules:\n      - alert: X\n        expr: errors >\n",
    )
    .unwrap();
    let errs = m.reload().unwrap_err();
    let text = errs[0].to_string();
    assert!(
        text.contains("api.yml:5: group \"api\", rule \"X\": invalid PromQL"),
        "{text}"
    );
    assert_eq!(m.view().groups[0].rules.len(), 2, "old rules still loaded");
    env.eval_at(&m, T0 + 4 * M);
    assert_eq!(
        find(&store, "HighErrors", "api").unwrap().ends_at_ns,
        T0 + 4 * M + 4 * M
    );

    // Removing a rule resolves its firing alerts at once.
    std::fs::write(&env.path, RULES).unwrap();
    let summary = m.reload().unwrap();
    assert_eq!(summary.removed_rules, 1);
    assert_eq!(
        find(&store, "AnyErrors", "web").unwrap().ends_at_ns,
        T0 + 4 * M
    );
}

/// An expression whose result the test sets, as an SLO provider's would be.
struct Scripted(Mutex<Result<Vec<Sample>, String>>);

impl RuleExpr for Scripted {
    fn eval(&self, _now_ns: i64) -> Result<Vec<Sample>, String> {
        self.0.lock().clone()
    }
    fn text(&self) -> String {
        "scripted".into()
    }
}

#[test]
fn generated_groups_run_and_an_evaluation_error_keeps_firing_alerts() {
    let env = Env::new("groups: []\n");
    let (store, m) = env.start(Sources::default());
    let expr = Arc::new(Scripted(Mutex::new(Ok(vec![Sample {
        labels: labels([("slo", "checkout")]),
        value: 0.25,
    }]))));
    let group = GroupDef {
        name: "slo-checkout".into(),
        interval: PromDuration::from_secs(60),
        source: "slo:checkout".into(),
        rules: vec![RuleDef {
            alert: "ErrorBudgetBurn".into(),
            expr: expr.clone(),
            for_: PromDuration::ZERO,
            keep_firing_for: PromDuration::ZERO,
            labels: labels([("severity", "page")]),
            annotations: labels([(
                "summary",
                "burning {{ humanizePercentage $value }} of budget",
            )]),
        }],
    };
    m.set_generated("slo", vec![group.clone()]).unwrap();
    env.eval_at(&m, T0);
    let a = store.list().pop().unwrap();
    assert_eq!(a.annotations["summary"], "burning 25% of budget");
    assert_eq!(a.labels["slo"], "checkout");

    *expr.0.lock() = Err("metrics store unavailable".into());
    env.eval_at(&m, T0 + 2 * M);
    let a = store.list().pop().unwrap();
    assert!(!a.resolved_at(T0 + 2 * M), "an error does not resolve");
    assert_eq!(a.ends_at_ns, T0 + 2 * M + 4 * M);
    let view = m.view();
    let rule = &view.groups[0].rules[0];
    assert_eq!(
        rule.last_error.as_deref(),
        Some("metrics store unavailable")
    );
    assert_eq!(serde_json::to_value(rule.health).unwrap(), "err");

    // Bad templates from a provider are refused with the rule named.
    let mut bad = group;
    bad.rules[0].annotations = labels([("summary", "{{ range }}")]);
    let err = m.set_generated("slo", vec![bad]).unwrap_err().to_string();
    assert!(
        err.contains("ErrorBudgetBurn") && err.contains("annotations.summary"),
        "{err}"
    );
}

fn wait_for_file(p: &Path) {
    assert!(p.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_rule_fires_the_moment_the_check_goes_down() {
    use pharos_alertmanager::checks::state::Outcome;
    use pharos_alertmanager::{CheckConfig, CheckKind, Checker};

    let env = Env::new(
        "groups:\n  - name: uptime\n    interval: 1h\n    rules:\n      - alert: ApiDown\n        check: api\n        annotations:\n          summary: '{{ $labels.check }} is down'\n",
    );
    wait_for_file(&env.path);
    let checks_dir = tempfile::tempdir().unwrap();
    let mut cfg = CheckConfig::new("api", CheckKind::Http, "http://127.0.0.1:9/health");
    cfg.fail_after = 1;
    let checker =
        Arc::new(Checker::open(&[cfg], checks_dir.path(), Arc::new(env.clock.clone())).unwrap());
    let (store, m) = env.start(Sources {
        checker: Some(checker.clone()),
        ..Sources::default()
    });
    let mut alerts = store.subscribe();
    let m = Arc::new(m);
    let driver = pharos_alertmanager::rules::driver::spawn(m.clone(), Some(checker.subscribe()));
    // Let the driver subscribe and schedule; the group's interval is an hour, so only
    // the state change can make it evaluate now.
    tokio::task::yield_now().await;
    let check = checker.get("api").unwrap().clone();
    checker.record(&check, Outcome::fail("connection refused"));
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), alerts.recv())
        .await
        .expect("alert within the second, not the hour")
        .unwrap();
    assert_eq!(got.name(), "ApiDown");
    assert_eq!(got.labels["check"], "api");
    assert_eq!(got.annotations["summary"], "api is down");
    assert_eq!(got.annotations["reason"], "connection refused");
    assert_eq!(got.annotations["value"], "connection refused");
    assert_eq!(got.starts_at_ns, T0);
    driver.abort();
}
