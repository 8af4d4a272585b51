//! Rule files: Prometheus's YAML format (`groups: [{name, interval, rules: [...]}]`) with
//! Pharos's expression kinds (`expr:` PromQL, `logs:` a log query with a threshold,
//! `check:` a health check's state — exactly one per rule). Everything is checked at load,
//! and each error names `file:line`, the group and the rule.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::{LoaderOptions, Spanned};
use serde::Deserialize;

use crate::alert::{valid_label_name, LabelSet};
use crate::duration::PromDuration;
use crate::rules::def::{GroupDef, RuleDef, RuleExpr};
use crate::rules::exprs::{CheckExpr, Condition, LogExpr, PromqlExpr};
use crate::rules::template::Template;
use crate::sources::Sources;

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleFileError {
    pub file: PathBuf,
    /// 1-based; `None` when the problem is the file itself (unreadable, missing).
    pub line: Option<usize>,
    pub group: Option<String>,
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleFileError {
    /// `rules/api.yml:14: group "api", rule "HighErrors": invalid PromQL: …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(g) = &self.group {
            write!(f, "group {g:?}")?;
            if let Some(r) = &self.rule {
                write!(f, ", rule {r:?}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// What a rule file's checks need to know besides the file.
#[derive(Clone, Default)]
pub struct LoadContext {
    /// Handles the expressions will read at evaluation (may be empty for validation only).
    pub sources: Sources,
    /// Check ids that `check:` may name; `None` = take them from `sources.checker`, or
    /// accept any id when there is no checker either.
    pub check_ids: Option<HashSet<String>>,
    /// A group's interval when it sets none (`evaluation_interval`).
    pub default_interval: PromDuration,
}

impl LoadContext {
    fn check_known(&self, id: &str) -> bool {
        match (&self.check_ids, &self.sources.checker) {
            (Some(ids), _) => ids.contains(id),
            (None, Some(checker)) => checker.get(id).is_some(),
            (None, None) => true,
        }
    }
}

/// A loaded rule group, with what the engine needs beyond the [`GroupDef`].
#[derive(Clone)]
pub struct LoadedGroup {
    pub def: GroupDef,
    /// Per rule: the check a `check:` rule watches (evaluated at once on its changes).
    pub checks: Vec<Option<Arc<CheckExpr>>>,
}

/// Counts from a successful validation or load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub files: usize,
    pub groups: usize,
    pub rules: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileYaml {
    #[serde(default)]
    groups: Vec<GroupYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupYaml {
    name: Spanned<String>,
    #[serde(default)]
    interval: Option<Spanned<String>>,
    /// Added to every rule of the group (Prometheus 3 group labels).
    #[serde(default)]
    labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    rules: Vec<RuleYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleYaml {
    #[serde(default)]
    alert: Option<Spanned<String>>,
    /// Recording rules are Prometheus's; named here only to refuse them clearly.
    #[serde(default)]
    record: Option<Spanned<String>>,
    #[serde(default)]
    expr: Option<Spanned<String>>,
    #[serde(default)]
    logs: Option<LogsYaml>,
    #[serde(default)]
    check: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    for_: Option<Spanned<String>>,
    #[serde(default)]
    keep_firing_for: Option<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    annotations: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsYaml {
    query: Spanned<String>,
    window: Spanned<String>,
    #[serde(default)]
    condition: Option<Spanned<String>>,
    #[serde(default)]
    value: Option<Spanned<String>>,
}

fn line_of<T>(s: &Spanned<T>) -> Option<usize> {
    s.span().start().map(|m| m.line())
}

/// Reads and checks one rule file.
pub fn load_file(path: &Path, ctx: &LoadContext) -> Result<Vec<LoadedGroup>, Vec<RuleFileError>> {
    let file_err = |line: Option<usize>, message: String| RuleFileError {
        file: path.to_path_buf(),
        line,
        group: None,
        rule: None,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| vec![file_err(None, e.to_string())])?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let node = marked_yaml::parse_yaml_with_options(0, &text, options)
        .map_err(|e| vec![file_err(load_error_line(&e), format!("invalid YAML: {e}"))])?;
    let unknown = unknown_keys(&node);
    if !unknown.is_empty() {
        return Err(unknown
            .into_iter()
            .map(|(line, m)| file_err(Some(line), m))
            .collect());
    }
    let parsed: FileYaml = marked_yaml::from_node(&node).map_err(|e| {
        let line = e.start_mark().map(|m| m.line());
        vec![file_err(line, e.to_string())]
    })?;
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut names = HashSet::new();
    for g in &parsed.groups {
        let name = g.name.as_str().to_string();
        let mut err = |line: Option<usize>, rule: Option<&str>, message: String| {
            errors.push(RuleFileError {
                file: path.to_path_buf(),
                line,
                group: Some(name.clone()),
                rule: rule.map(str::to_string),
                message,
            })
        };
        if name.is_empty() {
            err(
                line_of(&g.name),
                None,
                "group name must not be empty".into(),
            );
        }
        if !names.insert(name.clone()) {
            err(
                line_of(&g.name),
                None,
                "duplicate group name in this file".into(),
            );
        }
        let interval = match &g.interval {
            None => ctx.default_interval,
            Some(i) => match PromDuration::parse(i) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    err(line_of(i), None, "interval: must be greater than 0s".into());
                    continue;
                }
                Err(e) => {
                    err(line_of(i), None, format!("interval: {e}"));
                    continue;
                }
            },
        };
        let mut group_labels = LabelSet::new();
        for (k, v) in &g.labels {
            if !valid_label_name(k) {
                err(
                    line_of(v),
                    None,
                    format!("labels: invalid label name {k:?}"),
                );
            }
            group_labels.insert(k.clone(), v.as_str().to_string());
        }
        let mut rules = Vec::new();
        let mut checks = Vec::new();
        for r in &g.rules {
            match load_rule(r, ctx, &group_labels) {
                Ok((def, check)) => {
                    rules.push(def);
                    checks.push(check);
                }
                Err((line, rule, message)) => err(line, rule.as_deref(), message),
            }
        }
        groups.push(LoadedGroup {
            def: GroupDef {
                name,
                interval,
                rules,
                source: path.display().to_string(),
            },
            checks,
        });
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

const FILE_KEYS: &[&str] = &["groups"];
const GROUP_KEYS: &[&str] = &["name", "interval", "labels", "rules"];
const RULE_KEYS: &[&str] = &[
    "alert",
    "record",
    "expr",
    "logs",
    "check",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];
const LOGS_KEYS: &[&str] = &["query", "window", "condition", "value"];

/// Unknown keys with their lines. serde's `deny_unknown_fields` errors carry no position in
/// marked-yaml, so this pass over the spanned tree finds them first.
fn unknown_keys(root: &marked_yaml::Node) -> Vec<(usize, String)> {
    fn check(node: &marked_yaml::Node, allowed: &[&str], at: &str, out: &mut Vec<(usize, String)>) {
        let Some(map) = node.as_mapping() else { return };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let line = key.span().start().map_or(0, |m| m.line());
                out.push((
                    line,
                    format!(
                        "unknown key {:?} in {at} (expected one of: {})",
                        key.as_str(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    let mut out = Vec::new();
    check(root, FILE_KEYS, "the file", &mut out);
    let groups = root.as_mapping().and_then(|m| m.get_sequence("groups"));
    for group in groups.iter().flat_map(|g| g.iter()) {
        check(group, GROUP_KEYS, "a group", &mut out);
        let rules = group.as_mapping().and_then(|m| m.get_sequence("rules"));
        for rule in rules.iter().flat_map(|r| r.iter()) {
            check(rule, RULE_KEYS, "a rule", &mut out);
            if let Some(logs) = rule.as_mapping().and_then(|m| m.get_node("logs")) {
                check(logs, LOGS_KEYS, "logs", &mut out);
            }
        }
    }
    out
}

fn load_error_line(e: &marked_yaml::LoadError) -> Option<usize> {
    use marked_yaml::LoadError::*;
    let mark = match e {
        TopLevelMustBeMapping(m)
        | TopLevelMustBeSequence(m)
        | UnexpectedAnchor(m)
        | MappingKeyMustBeScalar(m)
        | UnexpectedTag(m)
        | ScanError(m, _) => Some(*m),
        DuplicateKey(inner) => inner.key.span().start().copied(),
    };
    mark.map(|m| m.line())
}

type RuleError = (Option<usize>, Option<String>, String);

fn load_rule(
    r: &RuleYaml,
    ctx: &LoadContext,
    group_labels: &LabelSet,
) -> Result<(RuleDef, Option<Arc<CheckExpr>>), RuleError> {
    let Some(alert) = &r.alert else {
        return Err(match &r.record {
            Some(rec) => (
                line_of(rec),
                Some(rec.as_str().to_string()),
                "recording rules are not supported (only `alert:` rules)".into(),
            ),
            None => (None, None, "a rule needs `alert:`".into()),
        });
    };
    let name = alert.as_str().to_string();
    let line = line_of(alert);
    let fail = |l: Option<usize>, m: String| (l.or(line), Some(name.clone()), m);
    if r.record.is_some() {
        return Err(fail(
            line,
            "a rule has `alert:` or `record:`, not both".into(),
        ));
    }
    if !valid_label_name(&name) {
        return Err(fail(
            line,
            format!("invalid alert name {name:?} (must be a valid label name)"),
        ));
    }
    let kinds = usize::from(r.expr.is_some())
        + usize::from(r.logs.is_some())
        + usize::from(r.check.is_some());
    if kinds != 1 {
        return Err(fail(
            line,
            "exactly one of `expr:`, `logs:` or `check:` is required".into(),
        ));
    }
    let mut check = None;
    let expr: Arc<dyn RuleExpr> = if let Some(e) = &r.expr {
        Arc::new(PromqlExpr::new(ctx.sources.clone(), e).map_err(|m| fail(line_of(e), m))?)
    } else if let Some(l) = &r.logs {
        let window = PromDuration::parse(&l.window)
            .map_err(|m| fail(line_of(&l.window), format!("window: {m}")))?;
        let condition = match &l.condition {
            Some(c) => {
                Condition::parse(c).map_err(|m| fail(line_of(c), format!("condition: {m}")))?
            }
            None => Condition::parse("> 0").map_err(|m| fail(line, m))?,
        };
        let value = l.value.as_ref().map(|v| v.as_str());
        let value_line = l.value.as_ref().and_then(line_of).or(line_of(&l.query));
        let built = LogExpr::new(
            ctx.sources.clone(),
            &l.query,
            window.as_ns(),
            condition,
            value,
        )
        .map_err(|m| {
            let at = if m.starts_with("value:") {
                value_line
            } else {
                line_of(&l.query)
            };
            fail(at, m)
        })?;
        Arc::new(built)
    } else if let Some(c) = &r.check {
        if !ctx.check_known(c) {
            return Err(fail(line_of(c), format!("unknown check {:?}", c.as_str())));
        }
        let expr = Arc::new(CheckExpr::new(ctx.sources.checker.clone(), c));
        check = Some(expr.clone());
        expr
    } else {
        return Err(fail(line, "no expression".into()));
    };
    let duration = |d: &Option<Spanned<String>>, key: &str| -> Result<PromDuration, RuleError> {
        match d {
            None => Ok(PromDuration::ZERO),
            Some(s) => PromDuration::parse(s).map_err(|m| fail(line_of(s), format!("{key}: {m}"))),
        }
    };
    let for_ = duration(&r.for_, "for")?;
    let keep_firing_for = duration(&r.keep_firing_for, "keep_firing_for")?;
    let mut labels = group_labels.clone();
    for (k, v) in &r.labels {
        if !valid_label_name(k) || k == "alertname" {
            return Err(fail(
                line_of(v),
                format!("labels: invalid label name {k:?}"),
            ));
        }
        Template::parse(v).map_err(|m| fail(line_of(v), format!("labels.{k}: template: {m}")))?;
        labels.insert(k.clone(), v.as_str().to_string());
    }
    let mut annotations = LabelSet::new();
    for (k, v) in &r.annotations {
        if !valid_label_name(k) {
            return Err(fail(line_of(v), format!("annotations: invalid name {k:?}")));
        }
        Template::parse(v)
            .map_err(|m| fail(line_of(v), format!("annotations.{k}: template: {m}")))?;
        annotations.insert(k.clone(), v.as_str().to_string());
    }
    Ok((
        RuleDef {
            alert: name,
            expr,
            for_,
            keep_firing_for,
            labels,
            annotations,
        },
        check,
    ))
}

/// Expands file names and globs (`rules/*.yml`), sorted, duplicates removed. A glob that
/// matches nothing is fine (as in Prometheus); a plain path that does not exist is an error.
pub fn expand_patterns(patterns: &[String]) -> Result<Vec<PathBuf>, Vec<RuleFileError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in patterns {
        let is_glob = p.contains(['*', '?', '[']);
        if !is_glob {
            out.push(PathBuf::from(p));
            continue;
        }
        match glob::glob(p) {
            Ok(paths) => {
                for entry in paths {
                    match entry {
                        Ok(path) => out.push(path),
                        Err(e) => errors.push(RuleFileError {
                            file: e.path().to_path_buf(),
                            line: None,
                            group: None,
                            rule: None,
                            message: e.to_string(),
                        }),
                    }
                }
            }
            Err(e) => errors.push(RuleFileError {
                file: PathBuf::from(p),
                line: None,
                group: None,
                rule: None,
                message: format!("invalid glob: {e}"),
            }),
        }
    }
    out.sort();
    out.dedup();
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Loads every file the patterns name; all errors of all files are returned together.
pub fn load_files(
    patterns: &[String],
    ctx: &LoadContext,
) -> Result<(Vec<LoadedGroup>, Summary), Vec<RuleFileError>> {
    let paths = expand_patterns(patterns)?;
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for path in &paths {
        match load_file(path, ctx) {
            Ok(g) => groups.extend(g),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let summary = Summary {
        files: paths.len(),
        groups: groups.len(),
        rules: groups.iter().map(|g| g.def.rules.len()).sum(),
    };
    Ok((groups, summary))
}

/// For `pharos check-config`: checks the files without any store. `check_ids` are the ids
/// of the configured `[[checks]]` (`None` accepts any id).
pub fn validate_files(
    patterns: &[String],
    check_ids: Option<HashSet<String>>,
) -> Result<Summary, Vec<RuleFileError>> {
    let ctx = LoadContext {
        sources: Sources::default(),
        check_ids,
        default_interval: PromDuration::from_secs(60),
    };
    load_files(patterns, &ctx).map(|(_, summary)| summary)
}
