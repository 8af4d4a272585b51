use serde_json::json;

use super::*;

fn doc() -> serde_json::Value {
    json!({
        "uid": "checkout-red",
        "title": "Checkout",
        "tags": ["team-a"],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "variables": [
            {"name": "service", "label": "Service", "kind": "field_values", "field": "service", "query": "*", "multi": false, "include_all": false, "default": "checkout"},
            {"name": "instance", "kind": "label_values", "metric": "up", "label": "instance", "multi": true, "include_all": true},
            {"name": "env", "kind": "custom", "options": ["prod", "staging"], "default": "prod"},
            {"name": "cluster", "kind": "constant", "value": "eu-1"},
            {"name": "interval", "kind": "interval", "options": ["1m", "5m", "1h"], "default": "5m"}
        ],
        "panels": [
            {"id": 1, "title": "Request rate", "type": "timeseries", "grid": {"x": 0, "y": 0, "w": 12, "h": 8},
             "targets": [
                {"kind": "promql", "expr": "sum by (job) (rate(http_requests_total{job=\"$service\"}[5m]))", "legend": "{{job}}"},
                {"kind": "logs", "query": "service:$service | timechart count() by level"}
             ],
             "unit": "reqps", "decimals": null, "min": null, "max": null, "stacked": false},
            {"id": 2, "title": "Errors", "type": "stat", "grid": {"x": 12, "y": 0, "w": 12, "h": 8},
             "targets": [{"kind": "promql", "expr": "sum(up)"}],
             "thresholds": [{"value": null, "color": "green"}, {"value": 80, "color": "red"}]},
            {"id": 3, "title": "Notes", "type": "text", "grid": {"x": 0, "y": 8, "w": 24, "h": 3}, "text": "hello"}
        ]
    })
}

fn err(v: serde_json::Value) -> String {
    match parse_value(v) {
        Ok(d) => d
            .validate()
            .map(|()| String::new())
            .unwrap_or_else(|e| e.to_string()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_contract_example_parses_validates_and_round_trips() {
    let d = parse_value(doc()).unwrap();
    d.validate().unwrap();
    assert_eq!(d.variables.len(), 5);
    assert_eq!(d.panels[1].thresholds[1].value, Some(80.0));
    let again = parse_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(again, d);
}

#[test]
fn unknown_keys_and_bad_fields_are_named_by_path() {
    let mut v = doc();
    v["panels"][2]["gird"] = json!(1);
    let e = err(v);
    assert!(e.starts_with("panels[2].gird: unknown field"), "{e}");

    let mut v = doc();
    v["panels"][0]["grid"]["w"] = json!(25);
    assert_eq!(err(v), "panels[0].grid.w: must be 1 to 24");

    let mut v = doc();
    v["panels"][0]["grid"]["x"] = json!(20);
    assert_eq!(err(v), "panels[0].grid.x: x + w must be at most 24");

    let mut v = doc();
    v["panels"][1]["id"] = json!(1);
    assert!(err(v).starts_with("panels[1].id: 1 is used"));

    let mut v = doc();
    v["panels"][0]["type"] = json!("piechart");
    assert!(
        err(v).starts_with("panels[0].type: unknown variant"),
        "{}",
        err(doc())
    );

    let mut v = doc();
    v["variables"][1]["kind"] = json!("label_values");
    v["variables"][1].as_object_mut().unwrap().remove("label");
    assert_eq!(
        err(v),
        "variables[1].label: required for kind \"label_values\""
    );

    let mut v = doc();
    v["panels"][1]["thresholds"][0]["value"] = json!(3);
    assert_eq!(
        err(v),
        "panels[1].thresholds[0].value: the first step is the base: null"
    );

    let mut v = doc();
    v["panels"][0]["targets"][0]["exp"] = json!("x");
    assert!(err(v).starts_with("panels[0].targets[0]"), "{}", err(doc()));

    let mut v = doc();
    v["time"]["from"] = json!("yesterday");
    assert!(err(v).starts_with("time.from:"));

    let mut v = doc();
    v["uid"] = json!("a b");
    assert!(err(v).starts_with("uid:"));

    let mut v = doc();
    v["panels"][2]["targets"] = json!([{"kind": "promql", "expr": "up"}]);
    assert_eq!(err(v), "panels[2].targets: a text panel has no targets");

    let mut v = doc();
    v["panels"][0]["targets"] = json!([]);
    assert_eq!(err(v), "panels[0].targets: needs at least one target");
}

#[test]
fn limits_are_enforced() {
    let mut v = doc();
    let panel = v["panels"][1].clone();
    v["panels"] = json!((1..=201)
        .map(|i| {
            let mut p = panel.clone();
            p["id"] = json!(i);
            p
        })
        .collect::<Vec<_>>());
    assert_eq!(err(v), "panels: at most 200 panels");

    let mut v = doc();
    v["panels"][1]["targets"] = json!((0..11)
        .map(|_| json!({"kind": "promql", "expr": "up"}))
        .collect::<Vec<_>>());
    assert_eq!(err(v), "panels[1].targets: at most 10 targets");

    let mut v = doc();
    v["variables"] = json!((0..51)
        .map(|i| json!({"name": format!("v{i}"), "kind": "constant", "value": "x"}))
        .collect::<Vec<_>>());
    assert_eq!(err(v), "variables: at most 50 variables");

    let mut v = doc();
    v["description"] = json!("x".repeat(9_000));
    v["panels"][2]["text"] = json!("y".repeat(MAX_DOCUMENT_BYTES));
    assert!(err(v).contains("over the 1048576-byte limit"));
}

#[test]
fn slugs_and_uids() {
    assert_eq!(slug("Checkout — RED / prod"), "checkout-red-prod");
    assert_eq!(slug("  "), "dashboard");
    assert_eq!(slug(&"a".repeat(100)).len(), 64);
    assert!(valid_uid(&slug("Ünïcode title!")));
    assert!(!valid_uid(""));
    assert!(!valid_uid(&"a".repeat(65)));
}
