//! The routing tree: regex, negation, continue, inheritance, group keys, validation.

use pharos_alertmanager::alert::labels;
use pharos_alertmanager::dispatch::RoutingConfig;

use super::harness::{Harness, S, T0};

const TREE: &str = r#"
[route]
receiver = "default"
group_by = ["alertname"]
group_wait = "30s"

[[route.routes]]
matchers = ['team=~"db|infra"']
receiver = "db"
continue = true

[[route.routes]]
matchers = ['severity!="info"']
receiver = "pager"
group_wait = "0s"
group_by = ["alertname", "env"]

[[route.routes.routes]]
matchers = ['env="dev"']
receiver = "devnull"

[[route.routes.routes]]
matchers = ['env="staging"']

[[route.routes]]
matchers = ['team="web"']
receiver = "web"
"#;

#[test]
fn depth_first_first_match_wins_unless_continue() {
    let h = Harness::new(TREE);
    let recv = |pairs: &[(&str, &str)]| h.core.receivers(&labels(pairs.iter().copied()));
    // Regex route with continue, then the negation route matches too (no severity label
    // is "" which is != "info").
    assert_eq!(recv(&[("team", "db")]), vec!["db", "pager"]);
    assert_eq!(recv(&[("team", "infra"), ("severity", "info")]), vec!["db"]);
    // Anchored: "dbx" is not "db".
    assert_eq!(
        recv(&[("team", "dbx"), ("severity", "info")]),
        vec!["default"]
    );
    // First match wins: the pager route stops the search before the web route.
    assert_eq!(recv(&[("team", "web")]), vec!["pager"]);
    assert_eq!(recv(&[("team", "web"), ("severity", "info")]), vec!["web"]);
    // Child routes; a child that matches replaces its parent.
    assert_eq!(recv(&[("env", "dev")]), vec!["devnull"]);
    assert_eq!(
        recv(&[("env", "staging")]),
        vec!["pager"],
        "receiver inherited"
    );
    assert_eq!(
        recv(&[("severity", "info")]),
        vec!["default"],
        "falls back to the root"
    );
}

#[test]
fn children_inherit_timing_and_grouping_and_keys_follow_alertmanager() {
    let mut h = Harness::new(TREE);
    h.fire(&[("alertname", "Down"), ("env", "staging"), ("job", "x")]);
    h.fire(&[("alertname", "Slow"), ("severity", "info")]);
    // The staging child inherits group_wait 0s and group_by [alertname, env].
    h.advance_to(T0);
    assert_eq!(
        h.sent_groups(),
        vec![(
            r#"{}/{severity!="info"}/{env="staging"}:{alertname="Down", env="staging"}"#
                .to_string(),
            1
        )]
    );
    // The root keeps its own 30 s.
    h.advance_to(T0 + 30 * S);
    assert_eq!(h.sent.len(), 2);
    assert_eq!(h.sent[1].group_key, r#"{}:{alertname="Slow"}"#);
    assert_eq!(h.sent[1].receiver, "default");
}

#[test]
fn group_by_all_labels_and_no_labels() {
    let mut h = Harness::new(
        r#"
[route]
receiver = "r"
group_wait = "0s"

[[route.routes]]
matchers = ['kind="each"']
group_by = ["..."]
"#,
    );
    h.fire(&[("alertname", "A"), ("kind", "each")]);
    h.fire(&[("alertname", "B"), ("kind", "each")]);
    h.fire(&[("alertname", "C")]);
    h.fire(&[("alertname", "D")]);
    h.advance_to(T0);
    let mut groups = h.sent_groups();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            (
                r#"{}/{kind="each"}:{alertname="A", kind="each"}"#.to_string(),
                1
            ),
            (
                r#"{}/{kind="each"}:{alertname="B", kind="each"}"#.to_string(),
                1
            ),
            ("{}:{}".to_string(), 2),
        ]
    );
}

fn invalid(toml_text: &str) -> String {
    let cfg: RoutingConfig = toml::from_str(toml_text).expect("parses");
    cfg.validate().expect_err("should be invalid").to_string()
}

#[test]
fn validation_names_the_key_path() {
    let e = invalid(
        r#"
[route]
receiver = "r"
[[route.routes]]
matchers = ['a="b"']
[[route.routes]]
matchers = ['ok="1"', 'bad~"x"']
"#,
    );
    assert!(
        e.starts_with("alerting.route.routes[1].matchers[1]: at position 3"),
        "{e}"
    );
    let e = invalid("[route]\ngroup_wait = \"1m\"\n");
    assert!(e.starts_with("alerting.route.receiver: "), "{e}");
    let e = invalid("[route]\nreceiver = \"r\"\nrepeat_interval = \"0s\"\n");
    assert!(e.starts_with("alerting.route.repeat_interval: "), "{e}");
    let e =
        invalid("[route]\nreceiver = \"r\"\n[[route.routes]]\nmute_time_intervals = [\"nope\"]\n");
    assert!(
        e.starts_with("alerting.route.routes[0].mute_time_intervals[0]: undefined"),
        "{e}"
    );
    let e = invalid("[route]\nreceiver = \"r\"\ngroup_by = [\"...\", \"job\"]\n");
    assert!(e.starts_with("alerting.route.group_by: "), "{e}");
    let e = invalid("[route]\nreceiver = \"r\"\n[[inhibit_rules]]\nsource_matchers = ['a=\"b']\n");
    assert!(
        e.starts_with("alerting.inhibit_rules[0].source_matchers[0]: "),
        "{e}"
    );
    // Unknown keys are rejected by serde.
    assert!(toml::from_str::<RoutingConfig>("[route]\nreciever = \"r\"\n").is_err());
    let cfg: RoutingConfig = toml::from_str(TREE).unwrap();
    let e = cfg
        .check_receivers(&|name| name != "web")
        .expect_err("web is not defined")
        .to_string();
    assert_eq!(
        e,
        "alerting.route.routes[2].receiver: undefined receiver \"web\""
    );
}

#[test]
fn the_documented_example_is_valid() {
    let doc = include_str!("../../../docs/alerting/routing.md");
    let mut found = 0;
    for block in doc.split("```toml").skip(1) {
        let Some((toml_text, _)) = block.split_once("```") else {
            continue;
        };
        let full: toml::Value = toml::from_str(toml_text).expect("docs TOML parses");
        let Some(alerting) = full.get("alerting") else {
            continue;
        };
        let cfg: RoutingConfig = alerting
            .clone()
            .try_into()
            .expect("docs config deserialises");
        cfg.validate().expect("docs config validates");
        found += 1;
    }
    assert!(found > 0, "the doc has a full [alerting] example");
}
