use super::*;
use crate::alert::labels;

fn render(text: &str, value: f64) -> String {
    let l = labels([("instance", "db-1:9100"), ("job", "node")]);
    Template::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .render(&TemplateData { labels: &l, value })
}

#[test]
fn floats_print_as_go_prints_them() {
    let cases = [
        (0.5, "0.5"),
        (3.0, "3"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.25, "-2.25"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
    ];
    for (v, want) in cases {
        assert_eq!(go_float(v), want, "{v}");
    }
}

#[test]
fn humanize_functions_match_prometheus() {
    assert_eq!(humanize(1234.5678), "1.235k");
    assert_eq!(humanize(1e6), "1M");
    assert_eq!(humanize(-1500.0), "-1.5k");
    assert_eq!(humanize(0.001234), "1.234m");
    assert_eq!(humanize(0.0), "0");
    assert_eq!(humanize(12.0), "12");
    assert_eq!(humanize_1024(1024.0), "1ki");
    assert_eq!(humanize_1024(1536.0 * 1024.0), "1.5Mi");
    assert_eq!(humanize_percentage(0.1234567), "12.35%");
    assert_eq!(humanize_percentage(1.0), "100%");
    assert_eq!(humanize_duration(3661.0), "1h 1m 1s");
    assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
    assert_eq!(humanize_duration(1.5), "1.5s");
    assert_eq!(humanize_duration(0.25), "250ms");
    assert_eq!(humanize_duration(0.0), "0s");
}

#[test]
fn renders_labels_values_pipelines_and_functions() {
    assert_eq!(
        render(
            "{{ $labels.instance }} of {{ $labels.job }} is at {{ $value }}",
            0.5
        ),
        "db-1:9100 of node is at 0.5"
    );
    assert_eq!(render("{{ $value | humanize }}B", 2_500_000.0), "2.5MB");
    assert_eq!(render("{{ humanizePercentage $value }}", 0.25), "25%");
    assert_eq!(render("{{ $value | humanizePercentage }}", 0.25), "25%");
    assert_eq!(render("{{ .Labels.job }}={{ .Value }}", 7.0), "node=7");
    assert_eq!(render(r#"{{ index $labels "job" }}"#, 0.0), "node");
    assert_eq!(render(r#"{{ printf "%.2f" $value }}"#, 1.23456), "1.23");
    assert_eq!(
        render(r#"{{ printf "%s=%d" $labels.job $value }}"#, 9.9),
        "node=9"
    );
    assert_eq!(render("{{ $labels.job | toUpper }}", 0.0), "NODE");
    assert_eq!(render("{{ $labels.missing }}", 0.0), "");
    assert_eq!(render("a {{- $labels.job -}} b", 0.0), "anodeb");
    assert_eq!(render("x{{/* a comment */}}y", 0.0), "xy");
    assert_eq!(
        render("{{ $labels }}", 0.0),
        "map[instance:db-1:9100 job:node]"
    );
    assert!(Template::parse("plain").unwrap().is_plain());
    assert!(!Template::parse("{{ $value }}").unwrap().is_plain());
}

#[test]
fn runtime_errors_render_like_prometheus() {
    assert!(render("{{ $labels.job | humanize }}", 0.0).starts_with("<error expanding template:"));
}

#[test]
fn load_time_errors_name_the_problem() {
    let cases = [
        ("{{ $value ", "unclosed action"),
        ("{{ if $value }}x{{ end }}", "\"if\" is not supported"),
        ("{{ $externalLabels.env }}", "not supported"),
        ("{{ $foo }}", "unknown variable"),
        ("{{ nosuch $value }}", "unknown function"),
        ("{{ humanize }}", "wrong number of arguments"),
        ("{{ $value | $value }}", "only a function"),
        ("{{ \"open }}", "unterminated string"),
        ("{{ }}", "empty action"),
    ];
    for (text, want) in cases {
        let err = Template::parse(text).expect_err(text);
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn oversized_templates_are_refused_with_the_limit_named() {
    let long = "x".repeat(64 * 1024 + 1);
    assert!(super::parse::parse(&long).unwrap_err().contains("too long"));
    let many = "{{ $value }} ".repeat(2_100);
    assert!(super::parse::parse(&many)
        .unwrap_err()
        .contains("more than 1000 actions"));
    assert!(super::parse::parse(&"{{ $value }}".repeat(500)).is_ok());
}
