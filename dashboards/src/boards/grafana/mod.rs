//! Import of Grafana dashboard JSON (the dashboard model Grafana's "Export → Save to file"
//! and its HTTP API give): the common panels (time series, stat, table, gauge, bar gauge,
//! text; the legacy graph, singlestat and table-old) with Prometheus targets, rows flattened,
//! and template variables. Everything that cannot be brought over is listed with a reason a
//! person understands; the importer reads `serde_json::Value`s field by field, so no input
//! can make it panic (a wrong type is skipped or named).

mod fields;
mod vars;

pub use fields::rewrite_expr;
use fields::{datasource_type, inputs, is_prometheus, num, unit};
use serde::Serialize;
use serde_json::{Map, Value};

use super::model::{
    self, Dashboard, Grid, Panel, PanelType, Target, Threshold, TimeRange, Unit, MAX_PANELS,
    MAX_TAGS, MAX_TARGETS,
};

/// A converted dashboard, what was left out and why, and what changed on the way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imported {
    pub dashboard: Dashboard,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
}

/// A panel that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub id: Option<i64>,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Shape(String),
    #[error("the converted dashboard is not valid: {0}")]
    Invalid(#[from] model::ModelError),
}

/// Whether a JSON document looks like a Grafana dashboard rather than a Pharos one.
pub fn looks_like_grafana(v: &Value) -> bool {
    let d = unwrap(v);
    let Some(o) = d.as_object() else { return false };
    o.contains_key("schemaVersion")
        || o.contains_key("templating")
        || o.contains_key("__inputs")
        || o.get("panels")
            .and_then(Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p.get("gridPos").is_some()))
}

/// `{"dashboard": {...}, "meta": {...}}` (Grafana's API) → the dashboard itself.
fn unwrap(v: &Value) -> &Value {
    match v.get("dashboard") {
        Some(d) if d.is_object() && v.get("panels").is_none() => d,
        _ => v,
    }
}

fn text<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

pub(super) struct Importer {
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
    /// `__inputs`: `DS_PROMETHEUS` → its plugin id (`prometheus`).
    inputs: Vec<(String, String)>,
    next_id: u32,
    used_ids: Vec<u32>,
}

pub fn import(value: &Value) -> Result<Imported, ImportError> {
    let Some(d) = unwrap(value).as_object() else {
        return Err(ImportError::Shape(
            "the body must be a Grafana dashboard JSON object".into(),
        ));
    };
    if d.get("rows").is_some() && d.get("panels").is_none() {
        return Err(ImportError::Shape(
            "rows: this is the legacy (schemaVersion < 16) layout; open and save the dashboard in a recent Grafana first".into(),
        ));
    }
    let mut im = Importer {
        skipped: Vec::new(),
        warnings: Vec::new(),
        inputs: inputs(d),
        next_id: 1,
        used_ids: Vec::new(),
    };
    let title = match text(d, "title").map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.chars().take(200).collect::<String>(),
        None => {
            im.warnings
                .push("the dashboard has no title; it is called \"Imported dashboard\"".into());
            "Imported dashboard".into()
        }
    };
    let uid = match text(d, "uid") {
        Some(u) if model::valid_uid(u) => u.to_string(),
        _ => model::slug(&title),
    };
    let mut tags: Vec<String> = d
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::trim))
        .into_iter()
        .flatten()
        .filter(|t| !t.is_empty() && t.len() <= 100)
        .map(String::from)
        .collect();
    if tags.len() > MAX_TAGS {
        im.warnings.push(format!(
            "only the first {MAX_TAGS} of {} tags are kept",
            tags.len()
        ));
        tags.truncate(MAX_TAGS);
    }
    let time = im.time(d);
    let refresh = text(d, "refresh")
        .filter(|r| pharos_query::time::parse_duration_ns(r).is_some_and(|n| n > 0))
        .map(String::from);
    let variables = im.variables(d)?;
    let panels = im.panels(d)?;
    let dashboard = Dashboard {
        uid,
        title,
        description: text(d, "description")
            .unwrap_or("")
            .chars()
            .take(10_000)
            .collect(),
        tags,
        time,
        refresh,
        variables,
        panels,
    };
    dashboard.validate()?;
    Ok(Imported {
        dashboard,
        skipped: im.skipped,
        warnings: im.warnings,
    })
}

impl Importer {
    fn time(&mut self, d: &Map<String, Value>) -> TimeRange {
        let t = d.get("time").and_then(Value::as_object);
        let from = t.and_then(|t| text(t, "from"));
        let to = t.and_then(|t| text(t, "to"));
        let ok = |s: &str| pharos_query::time::parse_time_literal(s, 0).is_ok();
        match (from, to) {
            (Some(f), Some(t)) if ok(f) && ok(t) => TimeRange {
                from: f.to_string(),
                to: t.to_string(),
            },
            (None, None) => TimeRange::default(),
            (f, t) => {
                self.warnings.push(format!(
                    "time range {:?} to {:?} is not supported (Pharos has no rounding like now/d); the default now-6h to now is used",
                    f.unwrap_or(""),
                    t.unwrap_or("")
                ));
                TimeRange::default()
            }
        }
    }

    fn panels(&mut self, d: &Map<String, Value>) -> Result<Vec<Panel>, ImportError> {
        let list = match d.get("panels") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ImportError::Shape("panels: must be a list".into())),
        };
        // Rows are flattened: a collapsed row's own `panels` come out where they are, with
        // their positions; the row itself has nothing to show.
        let mut flat: Vec<&Value> = Vec::new();
        for p in list {
            if p.get("type").and_then(Value::as_str) == Some("row") {
                if let Some(inner) = p.get("panels").and_then(Value::as_array) {
                    flat.extend(
                        inner
                            .iter()
                            .filter(|q| q.get("type").and_then(Value::as_str) != Some("row")),
                    );
                }
            } else {
                flat.push(p);
            }
        }
        self.used_ids = flat
            .iter()
            .filter_map(|p| p.get("id").and_then(Value::as_u64))
            .filter_map(|id| u32::try_from(id).ok())
            .collect();
        let mut out = Vec::new();
        let mut claimed: Vec<u32> = Vec::new();
        for p in flat {
            if out.len() >= MAX_PANELS {
                self.skip(p, format!("over the {MAX_PANELS}-panel limit"));
                continue;
            }
            if let Some(mut panel) = self.panel(p) {
                if panel.id == 0 || claimed.contains(&panel.id) {
                    panel.id = self.fresh_id(&claimed);
                }
                claimed.push(panel.id);
                out.push(panel);
            }
        }
        Ok(out)
    }

    fn fresh_id(&mut self, claimed: &[u32]) -> u32 {
        while self.used_ids.contains(&self.next_id) || claimed.contains(&self.next_id) {
            self.next_id += 1;
        }
        self.next_id
    }

    fn skip(&mut self, p: &Value, reason: String) {
        self.skipped.push(Skipped {
            id: p.get("id").and_then(Value::as_i64),
            title: p
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            kind: p
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            reason,
        });
    }

    fn panel(&mut self, p: &Value) -> Option<Panel> {
        let Some(o) = p.as_object() else {
            self.skip(p, "a panel must be a JSON object".into());
            return None;
        };
        let title: String = text(o, "title").unwrap_or("").chars().take(200).collect();
        let ty = text(o, "type").unwrap_or("");
        let kind = match ty {
            "timeseries" | "graph" => PanelType::Timeseries,
            "stat" | "singlestat" => PanelType::Stat,
            "table" | "table-old" => PanelType::Table,
            "gauge" => PanelType::Gauge,
            "bargauge" => PanelType::Bargauge,
            "text" => PanelType::Text,
            "logs" => PanelType::Logs,
            "" => {
                self.skip(p, "the panel has no type".into());
                return None;
            }
            other => {
                self.skip(p, format!("panel type '{other}' is not supported"));
                return None;
            }
        };
        let named = if title.is_empty() {
            format!(
                "panel {}",
                o.get("id").map(Value::to_string).unwrap_or_default()
            )
        } else {
            format!("panel {title:?}")
        };
        let targets = if kind == PanelType::Text {
            Vec::new()
        } else {
            let (targets, refused) = self.targets(o, &named);
            if kind == PanelType::Logs || targets.is_empty() {
                let reason = refused.unwrap_or_else(|| {
                    if kind == PanelType::Logs {
                        "Grafana logs panels query Loki or Elasticsearch, which cannot be converted"
                            .into()
                    } else {
                        "the panel has no Prometheus target with an expression".into()
                    }
                });
                self.skip(p, reason);
                return None;
            }
            targets
        };
        let grid = self.grid(o.get("gridPos"), &named);
        let defaults = o.get("fieldConfig").and_then(|f| f.get("defaults"));
        let field = |k: &str| defaults.and_then(|d| d.get(k));
        let unit_name = field("unit")
            .and_then(Value::as_str)
            .or_else(|| {
                o.get("yaxes")
                    .and_then(|y| y.get(0))
                    .and_then(|y| y.get("format"))
                    .and_then(Value::as_str)
            })
            .or_else(|| text(o, "format"))
            .filter(|u| !u.is_empty());
        let unit = unit_name.map(|u| {
            unit(u).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "{named}: unit '{u}' is not supported; shown as short"
                ));
                Unit::Short
            })
        });
        let decimals = num(field("decimals").or_else(|| o.get("decimals")))
            .filter(|d| (0.0..=20.0).contains(d))
            .map(|d| d as u32);
        let (mut min, mut max) = (num(field("min")), num(field("max")));
        if let (Some(a), Some(b)) = (min, max) {
            if a >= b {
                self.warnings.push(format!(
                    "{named}: min {a} is not below max {b}; both dropped"
                ));
                (min, max) = (None, None);
            }
        }
        let stacked = defaults
            .and_then(|d| d.get("custom"))
            .and_then(|c| c.get("stacking"))
            .and_then(|s| s.get("mode"))
            .and_then(Value::as_str)
            .is_some_and(|m| m != "none" && !m.is_empty())
            || o.get("stack").and_then(Value::as_bool).unwrap_or(false);
        let thresholds = if matches!(
            kind,
            PanelType::Stat | PanelType::Gauge | PanelType::Bargauge
        ) {
            self.thresholds(o, field("thresholds"), &named)
        } else {
            Vec::new()
        };
        if let Some(r) = text(o, "repeat").filter(|r| !r.is_empty()) {
            self.warnings.push(format!(
                "{named}: repeated for each value of ${r} in Grafana; imported once"
            ));
        }
        let text_content = (kind == PanelType::Text).then(|| {
            o.get("options")
                .and_then(|op| op.get("content"))
                .or_else(|| o.get("content"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        });
        Some(Panel {
            id: o
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(0),
            title,
            kind,
            grid,
            targets,
            unit,
            decimals,
            min,
            max,
            stacked: stacked && kind == PanelType::Timeseries,
            thresholds,
            text: text_content,
        })
    }

    /// The panel's usable targets, and the reason for the first refused one.
    fn targets(&mut self, o: &Map<String, Value>, named: &str) -> (Vec<Target>, Option<String>) {
        let panel_ds = datasource_type(o.get("datasource"), &self.inputs);
        let mut out = Vec::new();
        let mut refused: Option<String> = None;
        let list = o
            .get("targets")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (j, t) in list.iter().enumerate() {
            let Some(t) = t.as_object() else { continue };
            let reference = text(t, "refId")
                .map(String::from)
                .unwrap_or_else(|| j.to_string());
            if t.get("hide").and_then(Value::as_bool) == Some(true) {
                self.warnings
                    .push(format!("{named}: hidden target {reference} dropped"));
                continue;
            }
            let ds = match t.get("datasource") {
                None | Some(Value::Null) => panel_ds.clone(),
                some => datasource_type(some, &self.inputs),
            };
            if !is_prometheus(&ds)
                || ds.as_deref() == Some("mixed") && t.get("datasource").is_none()
            {
                let ds = ds.unwrap_or_default();
                let reason =
                    format!("target datasource is {ds}, only Prometheus targets are imported");
                self.warnings
                    .push(format!("{named}: target {reference}: {reason}"));
                refused.get_or_insert(reason);
                continue;
            }
            let Some(expr) = text(t, "expr").map(str::trim).filter(|e| !e.is_empty()) else {
                self.warnings.push(format!(
                    "{named}: target {reference} has no PromQL expression; dropped"
                ));
                continue;
            };
            if out.len() >= MAX_TARGETS {
                self.warnings.push(format!(
                    "{named}: only the first {MAX_TARGETS} targets are kept"
                ));
                break;
            }
            let legend = text(t, "legendFormat")
                .filter(|l| !l.is_empty() && *l != "__auto")
                .map(String::from);
            out.push(Target::Promql {
                expr: rewrite_expr(expr),
                legend,
            });
        }
        if !out.is_empty() {
            // Some targets made it: the panel stays, the warnings above name the rest.
            refused = None;
        } else {
            // The warnings would repeat the skip reason.
            self.warnings
                .retain(|w| !w.starts_with(&format!("{named}: target")));
        }
        (out, refused)
    }

    fn grid(&mut self, g: Option<&Value>, named: &str) -> Grid {
        let get = |k: &str| g.and_then(|g| g.get(k)).and_then(Value::as_u64);
        let (x, y, w, h) = (get("x"), get("y"), get("w"), get("h"));
        let (Some(x), Some(y), Some(w), Some(h)) = (x, y, w, h) else {
            // Below everything, where Grafana's own layout puts a panel it cannot place.
            self.warnings.push(format!(
                "{named}: no usable gridPos; placed at the bottom-left, 12 by 8"
            ));
            return Grid {
                x: 0,
                y: 1000,
                w: 12,
                h: 8,
            };
        };
        let w = w.clamp(1, 24) as u32;
        let x = (x.min(24) as u32).min(24 - w);
        let h = h.clamp(1, 100) as u32;
        let y = y.min(100_000) as u32;
        Grid { x, y, w, h }
    }

    fn thresholds(
        &mut self,
        o: &Map<String, Value>,
        t: Option<&Value>,
        named: &str,
    ) -> Vec<Threshold> {
        let mut out: Vec<Threshold> = Vec::new();
        if let Some(steps) = t.and_then(|t| t.get("steps")).and_then(Value::as_array) {
            for s in steps {
                let color = s.get("color").and_then(Value::as_str).unwrap_or("").trim();
                if color.is_empty() || color.len() > 64 {
                    continue;
                }
                let value = if out.is_empty() {
                    None
                } else {
                    match num(s.get("value")) {
                        Some(v) => Some(v),
                        None => continue,
                    }
                };
                out.push(Threshold {
                    value,
                    color: color.to_string(),
                });
            }
        } else if let (Some(Value::String(values)), Some(Value::Array(colors))) =
            (o.get("thresholds"), o.get("colors"))
        {
            // Legacy singlestat: "50,80" with three colours.
            let colors: Vec<&str> = colors.iter().filter_map(Value::as_str).collect();
            let values: Vec<f64> = values
                .split(',')
                .filter_map(|v| v.trim().parse().ok())
                .collect();
            if colors.len() == values.len() + 1 {
                out.push(Threshold {
                    value: None,
                    color: colors[0].to_string(),
                });
                for (v, c) in values.iter().zip(&colors[1..]) {
                    out.push(Threshold {
                        value: Some(*v),
                        color: c.to_string(),
                    });
                }
            }
        }
        let sorted = out.windows(2).all(|w| match (w[0].value, w[1].value) {
            (Some(a), Some(b)) => a <= b,
            _ => true,
        });
        if !sorted {
            self.warnings.push(format!(
                "{named}: threshold steps were out of order; sorted"
            ));
            out[1..].sort_by(|a, b| {
                a.value
                    .partial_cmp(&b.value)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        out
    }
}

#[cfg(test)]
mod tests;
