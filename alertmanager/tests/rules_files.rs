//! Rule file parsing and validation: every error names file:line, group and rule.

use std::collections::HashSet;
use std::path::Path;

use pharos_alertmanager::rules::file::{validate_files, RuleFileError};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn errors_of(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "api.yml", text);
    let ids: HashSet<String> = ["api-health".to_string()].into();
    let errs: Vec<RuleFileError> =
        validate_files(std::slice::from_ref(&p), Some(ids)).expect_err("must fail");
    errs.iter()
        .map(|e| e.to_string().replace(&p, "api.yml"))
        .collect()
}

#[test]
fn a_valid_file_with_every_kind_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ok.yml",
        r#"
groups:
  - name: api
    interval: 30s
    rules:
      - alert: HighErrors
        expr: sum by (job) (rate(http_errors_total[5m])) > 1
        for: 5m
        keep_firing_for: 10m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value | humanize }}/s"
      - alert: ErrorLogs
        logs: { query: 'level:error service:api', window: 5m, condition: '> 10' }
      - alert: SlowService
        logs:
          query: '* | stats p99(duration_ms) as p99, count() by service'
          window: 10m
          condition: '> 500'
          value: p99
      - alert: ApiDown
        check: api-health
"#,
    );
    let ids: HashSet<String> = ["api-health".to_string()].into();
    let s = validate_files(&[dir.path().join("*.yml").display().to_string()], Some(ids)).unwrap();
    assert_eq!((s.files, s.groups, s.rules), (1, 1, 4));
    let _ = p;
}

#[test]
fn errors_name_file_line_group_and_rule() {
    let cases: &[(&str, &str)] = &[
        (
            "groups:\n  - name: api\n    rules:\n      - alert: HighErrors\n        expr: rate(x[5m] > 1\n",
            "api.yml:5: group \"api\", rule \"HighErrors\": invalid PromQL:",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: Logs\n        logs: { query: 'level:error | stats', window: 5m }\n",
            "api.yml:5: group \"api\", rule \"Logs\": invalid log query:",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: Down\n        check: nope\n",
            "api.yml:5: group \"api\", rule \"Down\": unknown check \"nope\"",
        ),
        (
            "groups:\n  - name: api\n    rules: []\n  - name: api\n    rules: []\n",
            "api.yml:4: group \"api\": duplicate group name in this file",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: X\n        expr: up == 0\n        for: 5 minutes\n",
            "api.yml:6: group \"api\", rule \"X\": for: invalid duration",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: X\n        expr: up == 0\n        annotations:\n          summary: '{{ if $value }}'\n",
            "api.yml:7: group \"api\", rule \"X\": annotations.summary: template: \"if\" is not supported",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: X\n        expr: up == 0\n        check: api-health\n",
            "api.yml:4: group \"api\", rule \"X\": exactly one of",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - record: job:up\n        expr: up\n",
            "api.yml:4: group \"api\", rule \"job:up\": recording rules are not supported",
        ),
        (
            "groups:\n  - name: api\n    interval: 0s\n    rules: []\n",
            "api.yml:3: group \"api\": interval: must be greater than 0s",
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: X\n        logs:\n          query: '* | stats count(), p99(d) by s'\n          window: 5m\n",
            "api.yml:6: group \"api\", rule \"X\": the stats pipe has several columns",
        ),
    ];
    for (text, want) in cases {
        let errs = errors_of(text);
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "want {want:?}, got {errs:?}"
        );
    }
}

#[test]
fn unknown_keys_and_bad_yaml_have_lines() {
    let errs = errors_of("groups:\n  - name: api\n    rules:\n      - alert: X\n        expr: up\n        severity: page\n");
    assert!(errs[0].starts_with("api.yml:6: "), "{errs:?}");
    assert!(errs[0].contains("severity"), "{errs:?}");
    let errs = errors_of("groups:\n  - name: api\n    rules: [\n");
    assert!(errs[0].starts_with("api.yml:"), "{errs:?}");
    assert!(errs[0].contains("invalid YAML"), "{errs:?}");
}

#[test]
fn all_errors_of_a_file_are_reported_and_missing_files_too() {
    let errs = errors_of(
        "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up ==\n      - alert: Y\n        check: nope\n",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    let missing = validate_files(&["/nonexistent/rules.yml".to_string()], None).unwrap_err();
    assert!(missing[0]
        .to_string()
        .starts_with("/nonexistent/rules.yml: "));
}
