//! SLO config: the documented TOML examples parse and validate with their defaults, and
//! every mistake is reported under the key path it is about.

use std::sync::Arc;

use pharos_alertmanager::duration::PromDuration;
use pharos_alertmanager::rules::GroupDef;
use pharos_alertmanager::slo::{
    validate_all, BurnWindowConfig, SliSource, SloConfig, SloEngine, SloWindowConfig,
};
use pharos_alertmanager::sources::Sources;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    alerting: Alerting,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Alerting {
    slos: Vec<SloConfig>,
}

fn parse(toml_text: &str) -> Result<Vec<SloConfig>, String> {
    toml::from_str::<Root>(toml_text)
        .map(|r| r.alerting.slos)
        .map_err(|e| e.to_string())
}

fn toml_blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```toml")
        .skip(1)
        .filter_map(|rest| rest.split("```").next().map(str::to_string))
        .collect()
}

const MINIMAL: &str = r#"
[[alerting.slos]]
name = "api"
objective = 99.9
[alerting.slos.sli.promql]
good = 'sum(rate(http_requests_total{code!~"5.."}[$window]))'
total = 'sum(rate(http_requests_total[$window]))'
"#;

fn minimal() -> Result<SloConfig, String> {
    parse(MINIMAL)?.pop().ok_or_else(|| "no SLO".to_string())
}

/// The key path of the first validation error of a single SLO, with its known checks.
fn error_path(slo: SloConfig) -> Option<String> {
    validate_all(&[slo], |id| id == "homepage")
        .err()
        .map(|e| e.path)
}

#[test]
fn the_documented_examples_parse_and_validate() -> Result<(), String> {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/alerting/slos.md");
    let doc = std::fs::read_to_string(doc_path).map_err(|e| e.to_string())?;
    let blocks = toml_blocks(&doc);
    assert!(
        !blocks.is_empty(),
        "docs/alerting/slos.md has no TOML example"
    );
    for block in blocks {
        let slos = parse(&block)?;
        validate_all(&slos, |id| id == "homepage").map_err(|e| e.to_string())?;
        let source: Arc<dyn SliSource> = Arc::new(Sources::default());
        let engine =
            SloEngine::new(&slos, source, |id| id == "homepage").map_err(|e| e.to_string())?;
        let groups: Vec<GroupDef> = engine.rule_groups();
        assert_eq!(groups.len(), slos.len());
    }
    Ok(())
}

#[test]
fn defaults_are_the_sre_workbook_values() -> Result<(), String> {
    let slo = minimal()?;
    assert_eq!(
        slo.window,
        SloWindowConfig::Rolling(PromDuration::from_secs(30 * 86_400))
    );
    assert_eq!(slo.time_zone, "UTC");
    assert_eq!(slo.interval, PromDuration::from_secs(30));
    let pair = |long: u64, short: u64, factor: f64| BurnWindowConfig {
        long: PromDuration::from_secs(long),
        short: PromDuration::from_secs(short),
        factor,
    };
    assert_eq!(
        slo.alerting.page,
        vec![pair(3600, 300, 14.4), pair(21_600, 1800, 6.0)]
    );
    assert_eq!(slo.alerting.ticket, vec![pair(259_200, 21_600, 1.0)]);
    assert_eq!(error_path(slo), None);
    Ok(())
}

#[test]
fn windows_parse_as_durations_or_calendar_month() -> Result<(), String> {
    let with =
        |w: &str| parse(&MINIMAL.replace("objective", &format!("window = \"{w}\"\nobjective")));
    assert_eq!(
        with("calendar_month")?[0].window,
        SloWindowConfig::CalendarMonth
    );
    assert_eq!(
        with("4w")?[0].window,
        SloWindowConfig::Rolling(PromDuration::from_secs(28 * 86_400))
    );
    assert!(with("monthly").is_err());
    Ok(())
}

#[test]
fn unknown_keys_are_refused() {
    let err = parse(&MINIMAL.replace("objective", "objectiv = 1\nobjective"));
    assert!(err.is_err_and(|e| e.contains("objectiv")));
    let err = parse(&MINIMAL.replace("total =", "totl = 'x'\ntotal ="));
    assert!(err.is_err_and(|e| e.contains("totl")));
}

#[test]
fn every_mistake_names_its_key() -> Result<(), String> {
    let base = minimal()?;
    let path = |f: &dyn Fn(&mut SloConfig)| {
        let mut slo = base.clone();
        f(&mut slo);
        error_path(slo)
    };
    let at = |key: &str| Some(format!("alerting.slos[0].{key}"));

    assert_eq!(path(&|s| s.objective = 100.0), at("objective"));
    assert_eq!(path(&|s| s.objective = 0.0), at("objective"));
    assert_eq!(path(&|s| s.objective = f64::NAN), at("objective"));
    assert_eq!(path(&|s| s.objective = 99.999_999_999_9), at("objective"));
    assert_eq!(path(&|s| s.name = "a b".into()), at("name"));
    assert_eq!(
        path(&|s| s.time_zone = "Mars/Olympus".into()),
        at("time_zone")
    );
    assert_eq!(path(&|s| s.interval = PromDuration::ZERO), at("interval"));
    // Both good and bad, or neither.
    assert_eq!(
        path(&|s| {
            if let Some(q) = s.sli.promql.as_mut() {
                q.bad = Some("sum(rate(x[$window]))".into());
            }
        }),
        at("sli.promql")
    );
    assert_eq!(
        path(&|s| {
            if let Some(q) = s.sli.promql.as_mut() {
                q.good = None;
            }
        }),
        at("sli.promql")
    );
    // `$window` missing; invalid PromQL.
    assert_eq!(
        path(&|s| {
            if let Some(q) = s.sli.promql.as_mut() {
                q.good = Some("sum(rate(x[5m]))".into());
            }
        }),
        at("sli.promql.good")
    );
    assert_eq!(
        path(&|s| {
            if let Some(q) = s.sli.promql.as_mut() {
                q.total = "sum(rate(x[$window])".into();
            }
        }),
        at("sli.promql.total")
    );
    // Two SLI kinds, or none.
    assert_eq!(path(&|s| s.sli.check = Some("homepage".into())), at("sli"));
    assert_eq!(path(&|s| s.sli.promql = None), at("sli"));
    // Unknown check.
    assert_eq!(
        path(&|s| {
            s.sli.promql = None;
            s.sli.check = Some("nope".into());
        }),
        at("sli.check")
    );
    // Reserved labels; burn-rate pairs.
    assert_eq!(
        path(&|s| {
            s.labels.insert("severity".into(), "critical".into());
        }),
        at("labels.severity")
    );
    assert_eq!(
        path(&|s| s.alerting.page[1].long = PromDuration::from_secs(1800)),
        at("alerting.page[1].long")
    );
    assert_eq!(
        path(&|s| s.alerting.ticket[0].factor = 0.0),
        at("alerting.ticket[0].factor")
    );
    assert_eq!(
        path(&|s| s.alerting.page[0].short = PromDuration::ZERO),
        at("alerting.page[0].short")
    );
    Ok(())
}

#[test]
fn log_queries_are_parsed() -> Result<(), String> {
    let toml_text = r#"
[[alerting.slos]]
name = "logs"
objective = 99
[alerting.slos.sli.logs]
bad = 'level:ERROR AND ('
total = 'service:checkout'
"#;
    let slos = parse(toml_text)?;
    let err = validate_all(&slos, |_| false).err();
    assert_eq!(
        err.map(|e| e.path),
        Some("alerting.slos[0].sli.logs.bad".to_string())
    );
    let fixed = toml_text.replace("AND (", "AND service:checkout");
    assert_eq!(validate_all(&parse(&fixed)?, |_| false), Ok(()));
    Ok(())
}

#[test]
fn names_are_unique() -> Result<(), String> {
    let slos = parse(&format!("{MINIMAL}\n{MINIMAL}"))?;
    let err = validate_all(&slos, |_| false).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("alerting.slos[1].name: \"api\" is used by an earlier SLO".to_string())
    );
    Ok(())
}
