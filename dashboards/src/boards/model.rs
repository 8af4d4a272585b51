//! The dashboard document (Pharos's own JSON format, docs/dashboards.md) and its validation.
//! Unknown keys are refused with their path so a typo (`gird`) is never silently dropped, and
//! every check names the field it refuses (`panels[2].grid.w: must be 1 to 24`).

use serde::{Deserialize, Serialize};

/// A document's serialised size limit (and the API's body limit for saves and imports).
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
pub const MAX_PANELS: usize = 200;
pub const MAX_VARIABLES: usize = 50;
pub const MAX_TARGETS: usize = 10;
pub const MAX_TAGS: usize = 20;
/// Versions kept per dashboard; older ones are dropped as new ones are saved.
pub const MAX_VERSIONS: usize = 100;
pub const GRID_COLUMNS: u32 = 24;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// `[A-Za-z0-9_-]{1,64}`; derived from the title when absent on create.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub time: TimeRange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub panels: Vec<Panel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    pub from: String,
    pub to: String,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange {
            from: "now-6h".into(),
            to: "now".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableKind {
    FieldValues,
    LabelValues,
    Custom,
    Constant,
    Interval,
}

/// A variable's default: one value, or several for a `multi` variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VarDefault {
    One(String),
    Many(Vec<String>),
}

/// One flat struct for every kind (rather than an internally tagged enum) so unknown keys are
/// still refused by name and each kind's required fields are checked with their path.
/// `label` is the Prometheus label for `label_values` and the display label otherwise (the
/// contract's shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    pub kind: VariableKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `field_values`: the log field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `field_values`: the log query whose records' values are listed (`*` = all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `label_values`: the metric whose series' label values are listed (empty = any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// `custom`, `interval`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `constant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub multi: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<VarDefault>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelType {
    Timeseries,
    Stat,
    Table,
    Bargauge,
    Gauge,
    Logs,
    Text,
}

impl PanelType {
    pub fn as_str(self) -> &'static str {
        match self {
            PanelType::Timeseries => "timeseries",
            PanelType::Stat => "stat",
            PanelType::Table => "table",
            PanelType::Bargauge => "bargauge",
            PanelType::Gauge => "gauge",
            PanelType::Logs => "logs",
            PanelType::Text => "text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    Promql {
        expr: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        legend: Option<String>,
    },
    Logs {
        query: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Short,
    Percent,
    Percentunit,
    S,
    Ms,
    Bytes,
    Reqps,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// `None` only for the first step: the base colour below every other step.
    pub value: Option<f64>,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub id: u32,
    #[serde(default)]
    pub title: String,
    #[serde(rename = "type")]
    pub kind: PanelType,
    pub grid: Grid,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stacked: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A refused document: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ModelError {
    pub path: String,
    pub message: String,
}

fn bad(path: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError {
        path: path.into(),
        message: message.into(),
    }
}

/// Parses a document from JSON; a syntax or shape error names its path (`panels[2].gird`).
pub fn parse_value(value: serde_json::Value) -> Result<Dashboard, ModelError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "dashboard".into()
        } else {
            path
        };
        bad(path, e.into_inner().to_string())
    })
}

/// Whether `uid` is a valid dashboard uid.
pub fn valid_uid(uid: &str) -> bool {
    (1..=64).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A uid from a title: lower case, runs of other characters become one `-`, at most 64.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 64 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "dashboard".into()
    } else {
        out
    }
}

fn valid_var_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn time_literal(path: &str, s: &str) -> Result<(), ModelError> {
    let now = 1_700_000_000_000_000_000;
    pharos_query::time::parse_time_literal(s.trim(), now)
        .map(|_| ())
        .map_err(|e| {
            bad(
                path,
                format!("{s:?} is not a time (now, now-15m, RFC 3339): {e}"),
            )
        })
}

impl Dashboard {
    /// Checks every rule of the format (the uid must already be set).
    pub fn validate(&self) -> Result<(), ModelError> {
        if !valid_uid(&self.uid) {
            return Err(bad("uid", "must be 1 to 64 of A-Z a-z 0-9 _ -"));
        }
        let title = self.title.trim();
        if title.is_empty() || self.title.chars().count() > 200 {
            return Err(bad("title", "must be 1 to 200 characters"));
        }
        if self.description.len() > 10_000 {
            return Err(bad("description", "must be at most 10000 bytes"));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(bad("tags", format!("at most {MAX_TAGS} tags")));
        }
        for (i, t) in self.tags.iter().enumerate() {
            if t.trim().is_empty() || t.len() > 100 {
                return Err(bad(format!("tags[{i}]"), "must be 1 to 100 bytes"));
            }
        }
        time_literal("time.from", &self.time.from)?;
        time_literal("time.to", &self.time.to)?;
        if let Some(r) = &self.refresh {
            if pharos_query::time::parse_duration_ns(r).is_none() {
                return Err(bad(
                    "refresh",
                    format!("{r:?} is not a duration like 30s or 5m"),
                ));
            }
        }
        if self.variables.len() > MAX_VARIABLES {
            return Err(bad(
                "variables",
                format!("at most {MAX_VARIABLES} variables"),
            ));
        }
        for (i, v) in self.variables.iter().enumerate() {
            v.validate(&format!("variables[{i}]"))?;
            if self.variables[..i].iter().any(|o| o.name == v.name) {
                return Err(bad(
                    format!("variables[{i}].name"),
                    format!("{:?} is used by an earlier variable", v.name),
                ));
            }
        }
        if self.panels.len() > MAX_PANELS {
            return Err(bad("panels", format!("at most {MAX_PANELS} panels")));
        }
        for (i, p) in self.panels.iter().enumerate() {
            p.validate(&format!("panels[{i}]"))?;
            if self.panels[..i].iter().any(|o| o.id == p.id) {
                return Err(bad(
                    format!("panels[{i}].id"),
                    format!("{} is used by an earlier panel", p.id),
                ));
            }
        }
        let size = serde_json::to_vec(self)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_DOCUMENT_BYTES {
            return Err(bad(
                "dashboard",
                format!("the document is {size} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit"),
            ));
        }
        Ok(())
    }

    /// Every query text of the document (PromQL and log queries), for tests and linting.
    pub fn exprs(&self) -> impl Iterator<Item = &Target> {
        self.panels.iter().flat_map(|p| p.targets.iter())
    }
}

impl Variable {
    fn validate(&self, at: &str) -> Result<(), ModelError> {
        if !valid_var_name(&self.name) {
            return Err(bad(
                format!("{at}.name"),
                "must be 1 to 64 of A-Z a-z 0-9 _, not starting with a digit",
            ));
        }
        let need = |field: &str, v: &Option<String>| match v {
            Some(s) if !s.trim().is_empty() => Ok(()),
            _ => Err(bad(
                format!("{at}.{field}"),
                format!("required for kind {:?}", self.kind_str()),
            )),
        };
        match self.kind {
            VariableKind::FieldValues => need("field", &self.field)?,
            VariableKind::LabelValues => need("label", &self.label)?,
            VariableKind::Constant => need("value", &self.value)?,
            VariableKind::Custom | VariableKind::Interval => {
                if self.options.is_empty() {
                    return Err(bad(
                        format!("{at}.options"),
                        format!("required for kind {:?}", self.kind_str()),
                    ));
                }
                if self.options.len() > 1000 {
                    return Err(bad(format!("{at}.options"), "at most 1000 options"));
                }
            }
        }
        if self.kind == VariableKind::Interval {
            for (j, o) in self.options.iter().enumerate() {
                if pharos_query::time::parse_duration_ns(o).is_none() {
                    return Err(bad(
                        format!("{at}.options[{j}]"),
                        format!("{o:?} is not a duration like 1m"),
                    ));
                }
            }
        }
        if let Some(VarDefault::Many(v)) = &self.default {
            if !self.multi && v.len() > 1 {
                return Err(bad(
                    format!("{at}.default"),
                    "several values need \"multi\": true",
                ));
            }
        }
        Ok(())
    }

    fn kind_str(&self) -> &'static str {
        match self.kind {
            VariableKind::FieldValues => "field_values",
            VariableKind::LabelValues => "label_values",
            VariableKind::Custom => "custom",
            VariableKind::Constant => "constant",
            VariableKind::Interval => "interval",
        }
    }
}

impl Panel {
    fn validate(&self, at: &str) -> Result<(), ModelError> {
        if self.id == 0 {
            return Err(bad(format!("{at}.id"), "must be a positive integer"));
        }
        if self.title.chars().count() > 200 {
            return Err(bad(format!("{at}.title"), "must be at most 200 characters"));
        }
        let g = self.grid;
        if !(1..=GRID_COLUMNS).contains(&g.w) {
            return Err(bad(format!("{at}.grid.w"), "must be 1 to 24"));
        }
        if g.x >= GRID_COLUMNS || g.x + g.w > GRID_COLUMNS {
            return Err(bad(format!("{at}.grid.x"), "x + w must be at most 24"));
        }
        if !(1..=100).contains(&g.h) {
            return Err(bad(format!("{at}.grid.h"), "must be 1 to 100"));
        }
        if g.y > 100_000 {
            return Err(bad(format!("{at}.grid.y"), "must be at most 100000"));
        }
        if self.targets.len() > MAX_TARGETS {
            return Err(bad(
                format!("{at}.targets"),
                format!("at most {MAX_TARGETS} targets"),
            ));
        }
        if self.kind == PanelType::Text {
            if !self.targets.is_empty() {
                return Err(bad(format!("{at}.targets"), "a text panel has no targets"));
            }
        } else if self.targets.is_empty() {
            return Err(bad(format!("{at}.targets"), "needs at least one target"));
        } else if self.text.is_some() {
            return Err(bad(format!("{at}.text"), "only text panels have text"));
        }
        for (j, t) in self.targets.iter().enumerate() {
            let (field, q) = match t {
                Target::Promql { expr, .. } => ("expr", expr),
                Target::Logs { query } => ("query", query),
            };
            if q.trim().is_empty() {
                return Err(bad(
                    format!("{at}.targets[{j}].{field}"),
                    "must not be empty",
                ));
            }
            if self.kind == PanelType::Logs && matches!(t, Target::Promql { .. }) {
                return Err(bad(
                    format!("{at}.targets[{j}].kind"),
                    "a logs panel shows log queries only",
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min >= max {
                return Err(bad(format!("{at}.max"), "must be greater than min"));
            }
        }
        if self.decimals.is_some_and(|d| d > 20) {
            return Err(bad(format!("{at}.decimals"), "must be 0 to 20"));
        }
        for (j, t) in self.thresholds.iter().enumerate() {
            let p = format!("{at}.thresholds[{j}]");
            match (j, t.value) {
                (0, Some(_)) => {
                    return Err(bad(
                        format!("{p}.value"),
                        "the first step is the base: null",
                    ))
                }
                (1.., None) => {
                    return Err(bad(format!("{p}.value"), "only the first step is null"))
                }
                (1.., Some(v)) if !v.is_finite() => {
                    return Err(bad(format!("{p}.value"), "must be a finite number"))
                }
                _ => {}
            }
            if let (Some(v), Some(prev)) = (
                t.value,
                j.checked_sub(1).and_then(|k| self.thresholds[k].value),
            ) {
                if v < prev {
                    return Err(bad(
                        format!("{p}.value"),
                        "steps must be in increasing order",
                    ));
                }
            }
            if t.color.trim().is_empty() || t.color.len() > 64 {
                return Err(bad(format!("{p}.color"), "must be 1 to 64 bytes"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
