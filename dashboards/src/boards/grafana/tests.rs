use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::boards::model::VarDefault;

const FIXTURE: &str = include_str!("../../../tests/fixtures/grafana-node-exporter-like.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

#[test]
fn a_realistic_export_converts_exactly() {
    let v = fixture();
    assert!(looks_like_grafana(&v));
    let im = import(&v).unwrap();
    let expected = json!({
        "uid": "node-exporter-like",
        "title": "Node Exporter (like)",
        "description": "Host metrics from node_exporter",
        "tags": ["linux", "node"],
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "variables": [
            {"name": "job", "kind": "label_values", "label": "job", "metric": "node_uname_info", "default": "node"},
            {"name": "instance", "kind": "label_values", "label": "instance", "metric": "node_uname_info{job=\"$job\"}", "multi": true, "include_all": true},
            {"name": "env", "kind": "custom", "options": ["prod", "staging"], "default": "prod"},
            {"name": "resolution", "kind": "interval", "options": ["1m", "5m", "1h"], "default": "5m"}
        ],
        "panels": [
            {"id": 2, "title": "CPU usage", "type": "timeseries", "grid": {"x": 0, "y": 1, "w": 12, "h": 8},
             "targets": [{"kind": "promql", "expr": "sum by (mode) (rate(node_cpu_seconds_total{job=\"$job\", instance=~\"$instance\", mode!=\"idle\"}[$__interval]))", "legend": "{{mode}}"}],
             "unit": "percentunit", "min": 0.0, "max": 1.0, "stacked": true},
            {"id": 3, "title": "Memory used", "type": "stat", "grid": {"x": 12, "y": 1, "w": 6, "h": 8},
             "targets": [{"kind": "promql", "expr": "100 * (1 - avg(node_memory_MemAvailable_bytes{instance=~\"${instance}\"} / node_memory_MemTotal_bytes{instance=~\"${instance}\"}))"}],
             "unit": "percent", "decimals": 1,
             "thresholds": [{"value": null, "color": "green"}, {"value": 70.0, "color": "#EAB839"}, {"value": 90.0, "color": "red"}]},
            {"id": 4, "title": "Root disk used", "type": "gauge", "grid": {"x": 18, "y": 1, "w": 6, "h": 8},
             "targets": [{"kind": "promql", "expr": "100 - 100 * node_filesystem_avail_bytes{mountpoint=\"/\", instance=~\"$instance\"} / node_filesystem_size_bytes{mountpoint=\"/\", instance=~\"$instance\"}"}],
             "unit": "percent", "min": 0.0, "max": 100.0,
             "thresholds": [{"value": null, "color": "green"}, {"value": 85.0, "color": "red"}]},
            {"id": 5, "title": "Network received", "type": "bargauge", "grid": {"x": 0, "y": 10, "w": 12, "h": 6},
             "targets": [{"kind": "promql", "expr": "sum by (device) (rate(node_network_receive_bytes_total{instance=~\"$instance\"}[$__interval]))", "legend": "{{device}}"}],
             "unit": "bytes",
             "thresholds": [{"value": null, "color": "green"}, {"value": 1000000.0, "color": "orange"}]},
            {"id": 6, "title": "Temperatures", "type": "table", "grid": {"x": 12, "y": 10, "w": 12, "h": 6},
             "targets": [{"kind": "promql", "expr": "max by (chip) (node_hwmon_temp_celsius{instance=~\"$instance\"})"}],
             "unit": "short"}
        ]
    });
    assert_eq!(serde_json::to_value(&im.dashboard).unwrap(), expected);
    assert_eq!(
        serde_json::to_value(&im.skipped).unwrap(),
        json!([
            {"id": 7, "title": "CPU modes", "type": "piechart", "reason": "panel type 'piechart' is not supported"},
            {"id": 8, "title": "System log errors", "type": "logs", "reason": "target datasource is loki, only Prometheus targets are imported"}
        ])
    );
    assert_eq!(
        im.warnings,
        vec![
            "variable \"datasource\": datasource variables are not needed in Pharos (one metrics store); dropped",
            "panel \"CPU usage\": hidden target B dropped",
            "panel \"Temperatures\": unit 'celsius' is not supported; shown as short",
        ]
    );
    // The conversion is a valid Pharos document that survives its own parser.
    let again = model::parse_value(serde_json::to_value(&im.dashboard).unwrap()).unwrap();
    assert_eq!(again, im.dashboard);
}

#[test]
fn the_api_wrapper_is_unwrapped_and_bad_shapes_are_named() {
    let wrapped = json!({"dashboard": fixture(), "meta": {"slug": "x"}});
    assert_eq!(
        import(&wrapped).unwrap().dashboard.uid,
        "node-exporter-like"
    );
    assert!(matches!(import(&json!([1])), Err(ImportError::Shape(_))));
    let e = import(&json!({"title": "t", "panels": 3})).unwrap_err();
    assert_eq!(e.to_string(), "panels: must be a list");
    let e = import(&json!({"title": "t", "templating": {"list": "x"}})).unwrap_err();
    assert_eq!(e.to_string(), "templating.list: must be a list");
    let e = import(&json!({"title": "t", "rows": []})).unwrap_err();
    assert!(e.to_string().starts_with("rows: this is the legacy"), "{e}");
}

#[test]
fn mixed_targets_legacy_panels_and_odd_values() {
    let v = json!({
        "title": "Mixed & legacy!",
        "uid": "not a valid uid",
        "time": {"from": "now/d", "to": "now"},
        "panels": [
            {"id": 1, "type": "graph", "title": "g", "stack": true, "gridPos": {"x": 20, "y": 0, "w": 12, "h": 300},
             "datasource": "-- Mixed --", "yaxes": [{"format": "ms"}],
             "targets": [
                {"datasource": {"type": "prometheus", "uid": "p"}, "expr": "rate(x[[[interval]]])", "refId": "A"},
                {"datasource": {"type": "elasticsearch", "uid": "e"}, "query": "*", "refId": "B"}
             ]},
            {"id": 1, "type": "singlestat", "title": "s", "gridPos": {"x": 0, "y": 9, "w": 4, "h": 4},
             "datasource": null, "format": "s", "thresholds": "50,80", "colors": ["green", "orange", "red"],
             "targets": [{"expr": "up", "refId": "A"}]},
            {"id": 3, "type": "text", "title": "t", "gridPos": {"x": 0, "y": 13, "w": 24, "h": 2}, "options": {"content": "# hi"}},
            {"id": 4, "type": "table-old", "title": "no targets", "gridPos": {"x": 0, "y": 15, "w": 24, "h": 2}},
            "not a panel"
        ]
    });
    let im = import(&v).unwrap();
    let d = &im.dashboard;
    assert_eq!(d.uid, "mixed-legacy");
    assert_eq!(d.time, TimeRange::default());
    assert_eq!(d.panels.len(), 3);
    let g = &d.panels[0];
    assert_eq!(
        (g.kind, g.stacked, g.unit),
        (PanelType::Timeseries, true, Some(Unit::Ms))
    );
    assert_eq!(
        g.grid,
        Grid {
            x: 12,
            y: 0,
            w: 12,
            h: 100
        }
    );
    assert_eq!(
        g.targets,
        vec![Target::Promql {
            expr: "rate(x[${interval}])".into(),
            legend: None
        }]
    );
    let s = &d.panels[1];
    assert_eq!((s.kind, s.unit), (PanelType::Stat, Some(Unit::S)));
    assert_ne!(s.id, 1, "a duplicate id gets a fresh one");
    assert_eq!(s.thresholds.len(), 3);
    assert_eq!(d.panels[2].text.as_deref(), Some("# hi"));
    assert!(
        im.warnings
            .iter()
            .any(|w| w.contains("target B: target datasource is elasticsearch")),
        "{:?}",
        im.warnings
    );
    assert!(
        im.warnings.iter().any(|w| w.contains("now/d")),
        "{:?}",
        im.warnings
    );
    let reasons: Vec<&str> = im.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "the panel has no Prometheus target with an expression",
            "a panel must be a JSON object"
        ]
    );
}

#[test]
fn variable_forms() {
    assert_eq!(
        vars::label_values_of("label_values(job)"),
        Some((String::new(), "job".into()))
    );
    assert_eq!(
        vars::label_values_of("label_values(up{a=\"x,y\"}, instance)"),
        Some(("up{a=\"x,y\"}".into(), "instance".into()))
    );
    assert_eq!(vars::label_values_of("query_result(up)"), None);
    let v = json!({"title": "v", "templating": {"list": [
        {"name": "q", "type": "query", "query": "query_result(up)", "options": [{"text": "a", "value": "a"}, {"text": "All", "value": "$__all"}]},
        {"name": "n", "type": "query", "query": "metrics(.*)"},
        {"name": "c", "type": "constant", "query": "eu-1"},
        {"name": "t", "type": "textbox", "query": ""},
        {"name": "l", "type": "query", "datasource": {"type": "loki"}, "query": "label_values(job)"},
        {"name": "1bad", "type": "custom", "query": "a"},
        {"name": "kv", "type": "custom", "query": "Prod : prod,Staging : staging", "multi": true, "current": {"value": ["prod", "staging"]}}
    ]}});
    let im = import(&v).unwrap();
    let names: Vec<&str> = im
        .dashboard
        .variables
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, vec!["q", "c", "kv"]);
    assert_eq!(im.dashboard.variables[0].options, vec!["a"]);
    assert_eq!(im.dashboard.variables[1].value.as_deref(), Some("eu-1"));
    assert_eq!(im.dashboard.variables[2].options, vec!["prod", "staging"]);
    assert_eq!(
        im.dashboard.variables[2].default,
        Some(VarDefault::Many(vec!["prod".into(), "staging".into()]))
    );
    assert_eq!(im.warnings.len(), 5, "{:?}", im.warnings);
}

#[test]
fn expressions_are_rewritten() {
    assert_eq!(
        rewrite_expr("rate(x[$__rate_interval])"),
        "rate(x[$__interval])"
    );
    assert_eq!(
        rewrite_expr("rate(x[${__rate_interval}])"),
        "rate(x[${__interval}])"
    );
    assert_eq!(
        rewrite_expr("x{a=\"[[v]]\"}[$__range]"),
        "x{a=\"${v}\"}[$__range]"
    );
    assert_eq!(rewrite_expr("a[[ b ]] [[c"), "a[[ b ]] [[c");
}

/// Arbitrary JSON, with Grafana's keys likely so the importer's paths are reached.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("panels".to_string()),
        Just("type".to_string()),
        Just("targets".to_string()),
        Just("gridPos".to_string()),
        Just("x".to_string()),
        Just("w".to_string()),
        Just("h".to_string()),
        Just("expr".to_string()),
        Just("datasource".to_string()),
        Just("templating".to_string()),
        Just("list".to_string()),
        Just("query".to_string()),
        Just("fieldConfig".to_string()),
        Just("defaults".to_string()),
        Just("thresholds".to_string()),
        Just("steps".to_string()),
        Just("value".to_string()),
        Just("title".to_string()),
        Just("name".to_string()),
        Just("current".to_string()),
        Just("unit".to_string()),
        Just("id".to_string()),
        Just("dashboard".to_string()),
        Just("time".to_string()),
        Just("from".to_string()),
        "[a-z]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        prop_oneof![
            Just("timeseries"),
            Just("row"),
            Just("stat"),
            Just("graph"),
            Just("text"),
            Just("query"),
            Just("custom"),
            Just("interval"),
            Just("prometheus"),
            Just("loki"),
            Just("${DS_X}"),
            Just("label_values(up, job)"),
            Just("[[a]]"),
            Just("now-1h"),
            Just("1m,5m"),
            Just(""),
        ]
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 200, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_json_never_panics_and_what_imports_is_valid(v in arb_json()) {
        if let Ok(im) = import(&v) {
            im.dashboard.validate().unwrap();
            let again = model::parse_value(serde_json::to_value(&im.dashboard).unwrap()).unwrap();
            prop_assert_eq!(again, im.dashboard);
        }
        let wrapped = json!({"dashboard": v.clone()});
        let _ = import(&wrapped);
        let _ = looks_like_grafana(&v);
    }
}

/// Every JSON pointer into `v` (objects' keys and arrays' items, all levels).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

fn fixture_pointers() -> Vec<String> {
    let mut out = Vec::new();
    pointers(&fixture(), String::new(), &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// The realistic export with one to three of its values replaced by arbitrary JSON (a
    /// wrong type anywhere): no panic, and whatever imports is a valid document.
    #[test]
    fn a_damaged_export_never_panics(
        edits in prop::collection::vec((prop::sample::select(fixture_pointers()), arb_json()), 1..4)
    ) {
        let mut v = fixture();
        for (p, replacement) in edits {
            if let Some(slot) = v.pointer_mut(&p) {
                *slot = replacement;
            }
        }
        if let Ok(im) = import(&v) {
            im.dashboard.validate().unwrap();
            let again = model::parse_value(serde_json::to_value(&im.dashboard).unwrap()).unwrap();
            prop_assert_eq!(again, im.dashboard);
        }
    }
}
