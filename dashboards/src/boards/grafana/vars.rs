//! Grafana template variables (`templating.list`) → Pharos variables.

use serde_json::{Map, Value};

use super::fields::{datasource_type, is_prometheus};
use super::{rewrite_expr, text, ImportError, Importer};
use crate::boards::model::{VarDefault, Variable, VariableKind, MAX_VARIABLES};

impl Importer {
    pub(super) fn variables(
        &mut self,
        d: &Map<String, Value>,
    ) -> Result<Vec<Variable>, ImportError> {
        let list = match d.get("templating").map(|t| t.get("list")) {
            None | Some(None) | Some(Some(Value::Null)) => return Ok(Vec::new()),
            Some(Some(Value::Array(a))) => a,
            Some(Some(_)) => {
                return Err(ImportError::Shape("templating.list: must be a list".into()))
            }
        };
        let mut out: Vec<Variable> = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let Some(o) = v.as_object() else {
                self.warnings
                    .push(format!("templating.list[{i}]: not an object; skipped"));
                continue;
            };
            let name = text(o, "name").unwrap_or("").to_string();
            let kind = text(o, "type").unwrap_or("");
            let valid = !name.is_empty()
                && name.len() <= 64
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                self.warnings.push(format!("variable {name:?}: the name is not usable in Pharos (letters, digits, _); skipped"));
                continue;
            }
            if out.iter().any(|o| o.name == name) {
                self.warnings.push(format!(
                    "variable {name:?}: defined twice; the second is skipped"
                ));
                continue;
            }
            if out.len() >= MAX_VARIABLES {
                self.warnings.push(format!(
                    "variable {name:?}: over the {MAX_VARIABLES}-variable limit; skipped"
                ));
                continue;
            }
            if let Some(var) = self.variable(&name, kind, o) {
                out.push(var);
            }
        }
        Ok(out)
    }

    fn variable(&mut self, name: &str, kind: &str, o: &Map<String, Value>) -> Option<Variable> {
        let query = match o.get("query") {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Object(q)) => text(q, "query").unwrap_or("").trim().to_string(),
            _ => String::new(),
        };
        let mut var = Variable {
            name: name.to_string(),
            kind: VariableKind::Custom,
            label: text(o, "label")
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
            field: None,
            query: None,
            metric: None,
            options: Vec::new(),
            value: None,
            multi: o.get("multi").and_then(Value::as_bool).unwrap_or(false),
            include_all: o
                .get("includeAll")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            default: None,
        };
        match kind {
            "query" => {
                let ds = datasource_type(o.get("datasource"), &self.inputs);
                if !is_prometheus(&ds) {
                    self.warnings.push(format!("variable {name:?}: its datasource is {}, only Prometheus variables are imported; skipped", ds.unwrap_or_default()));
                    return None;
                }
                if let Some((metric, label)) = label_values_of(&query) {
                    var.kind = VariableKind::LabelValues;
                    // `label` holds the Prometheus label for label_values (the contract's shape).
                    var.label = Some(label);
                    var.metric = Some(rewrite_expr(&metric)).filter(|m| !m.is_empty());
                } else {
                    let options = saved_options(o);
                    if options.is_empty() {
                        self.warnings.push(format!("variable {name:?}: the query {query:?} is not label_values(…); skipped"));
                        return None;
                    }
                    self.warnings.push(format!("variable {name:?}: the query {query:?} is not label_values(…); imported as a custom list of its saved options"));
                    var.options = options;
                }
            }
            "custom" => {
                var.options = query
                    .split(',')
                    .map(|p| p.rsplit(" : ").next().unwrap_or(p).trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                if var.options.is_empty() {
                    self.warnings.push(format!(
                        "variable {name:?}: a custom variable without values; skipped"
                    ));
                    return None;
                }
            }
            "constant" => {
                if query.is_empty() {
                    self.warnings.push(format!(
                        "variable {name:?}: a constant without a value; skipped"
                    ));
                    return None;
                }
                var.kind = VariableKind::Constant;
                var.value = Some(query);
                var.multi = false;
                var.include_all = false;
                return Some(var);
            }
            "interval" => {
                var.kind = VariableKind::Interval;
                var.multi = false;
                var.include_all = false;
                for p in query.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    if pharos_query::time::parse_duration_ns(p).is_some() {
                        var.options.push(p.to_string());
                    } else {
                        self.warnings.push(format!(
                            "variable {name:?}: option {p:?} is not a duration; dropped"
                        ));
                    }
                }
                if var.options.is_empty() {
                    self.warnings
                        .push(format!("variable {name:?}: no usable interval; skipped"));
                    return None;
                }
            }
            "datasource" => {
                self.warnings.push(format!("variable {name:?}: datasource variables are not needed in Pharos (one metrics store); dropped"));
                return None;
            }
            other => {
                self.warnings.push(format!(
                    "variable {name:?}: type {other:?} is not supported; skipped"
                ));
                return None;
            }
        }
        var.default = current(o, var.multi);
        if var.kind == VariableKind::Interval {
            if let Some(VarDefault::One(d)) = &var.default {
                if !var.options.contains(d) {
                    var.default = None;
                }
            }
        }
        Some(var)
    }
}

/// `label_values(metric, label)` → (`metric`, `label`); `label_values(label)` → ("", label).
pub(super) fn label_values_of(q: &str) -> Option<(String, String)> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    // The label is after the last comma outside braces and quotes.
    let (mut depth, mut quote, mut split) = (0i32, false, None);
    for (i, c) in inner.char_indices() {
        match c {
            '"' => quote = !quote,
            '{' | '(' if !quote => depth += 1,
            '}' | ')' if !quote => depth -= 1,
            ',' if !quote && depth == 0 => split = Some(i),
            _ => {}
        }
    }
    let (metric, label) = match split {
        Some(i) => (inner[..i].trim(), inner[i + 1..].trim()),
        None => ("", inner.trim()),
    };
    let ok = !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| (metric.to_string(), label.to_string()))
}

fn saved_options(o: &Map<String, Value>) -> Vec<String> {
    o.get("options")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|opt| opt.get("value").and_then(Value::as_str))
                .filter(|v| *v != "$__all" && !v.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// `current.value` → the default; Grafana's "All" (`$__all`) is left to the UI's default.
fn current(o: &Map<String, Value>, multi: bool) -> Option<VarDefault> {
    let v = o.get("current")?.get("value")?;
    let values: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => return None,
    };
    let values: Vec<String> = values
        .into_iter()
        .filter(|v| v != "$__all" && !v.is_empty())
        .collect();
    match (values.len(), multi) {
        (0, _) => None,
        (1, false) => values.into_iter().next().map(VarDefault::One),
        (_, false) => values.into_iter().next().map(VarDefault::One),
        (_, true) => Some(VarDefault::Many(values)),
    }
}
