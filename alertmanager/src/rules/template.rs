//! The subset of Go's text/template that Prometheus alerting rules use in labels and
//! annotations, parsed once at load (errors name the problem) and rendered per alert.
//!
//! Supported (and documented in `docs/alerting/rules.md`):
//! - text with actions `{{ … }}`, `{{-` / `-}}` trimming, comments `{{/* … */}}`;
//! - operands `$labels.name`, `$labels` (printed as Go prints a map), `$value`, and the
//!   dot forms `.Labels.name`, `.Labels`, `.Value`; string (`"…"`, `` `…` ``) and number literals;
//! - pipelines `a | f | g` (the left value becomes the last argument of the next call);
//! - functions `humanize`, `humanize1024`, `humanizePercentage`, `humanizeDuration`,
//!   `printf` (`%s %v %d %f %g %e %%`, with an optional `.N` precision), `index $labels "x"`,
//!   `toUpper`, `toLower`, `title`.
//!
//! Control structures (`if`, `range`, `with`, …) and `$externalLabels` are refused at load.
//! A runtime failure (say `humanize "abc"`) renders as `<error expanding template: …>`, as
//! Prometheus does, so a bad value never drops an alert.

use crate::alert::LabelSet;

mod format;
mod parse;

pub use format::{go_float, humanize, humanize_1024, humanize_duration, humanize_percentage};

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Vec<Command>),
}

/// One stage of a pipeline: a function call or a lone operand.
#[derive(Debug, Clone, PartialEq)]
enum Command {
    Operand(Operand),
    Call(Func, Vec<Operand>),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `$labels` (None) or `$labels.name`.
    Labels(Option<String>),
    Value,
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Humanize,
    Humanize1024,
    HumanizePercentage,
    HumanizeDuration,
    Printf,
    Index,
    ToUpper,
    ToLower,
    Title,
}

impl Func {
    fn by_name(name: &str) -> Option<Func> {
        Some(match name {
            "humanize" => Func::Humanize,
            "humanize1024" => Func::Humanize1024,
            "humanizePercentage" => Func::HumanizePercentage,
            "humanizeDuration" => Func::HumanizeDuration,
            "printf" => Func::Printf,
            "index" => Func::Index,
            "toUpper" => Func::ToUpper,
            "toLower" => Func::ToLower,
            "title" => Func::Title,
            _ => return None,
        })
    }

    /// Accepted argument counts (including a piped-in value), min and max.
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Printf => (1, usize::MAX),
            Func::Index => (2, 2),
            _ => (1, 1),
        }
    }
}

/// A value while rendering.
#[derive(Debug, Clone)]
enum Val<'a> {
    Str(String),
    Num(f64),
    Map(&'a LabelSet),
}

impl Val<'_> {
    fn to_text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Num(v) => go_float(*v),
            Val::Map(m) => {
                // Go prints a map as `map[k:v k2:v2]`, keys sorted.
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
        }
    }

    /// Prometheus's convertToFloat: numbers as they are, strings parsed.
    fn to_f64(&self) -> Result<f64, String> {
        match self {
            Val::Num(v) => Ok(*v),
            Val::Str(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("can't convert {s:?} to float")),
            Val::Map(_) => Err("can't convert a map to float".into()),
        }
    }
}

/// What a template sees: the alert instance's labels (the sample's, before the rule's own
/// labels are added, as in Prometheus) and its value.
pub struct TemplateData<'a> {
    pub labels: &'a LabelSet,
    pub value: f64,
}

impl Template {
    /// Parses `text`; the error says what is wrong and where (byte offset).
    pub fn parse(text: &str) -> Result<Template, String> {
        parse::parse(text).map(|nodes| Template { nodes })
    }

    /// A template without actions renders to its text: no work per alert.
    pub fn is_plain(&self) -> bool {
        self.nodes.iter().all(|n| matches!(n, Node::Text(_)))
    }

    pub fn render(&self, data: &TemplateData<'_>) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(cmds) => match run_pipeline(cmds, data) {
                    Ok(Some(v)) => out.push_str(&v.to_text()),
                    Ok(None) => {}
                    Err(e) => return format!("<error expanding template: {e}>"),
                },
            }
        }
        out
    }
}

fn operand<'a>(op: &Operand, data: &TemplateData<'a>) -> Val<'a> {
    match op {
        // A missing label prints as "" (Go prints `<no value>` for a missing map key, but
        // Prometheus users rely on the empty string in `{{ $labels.x }}` comparisons).
        Operand::Labels(Some(name)) => Val::Str(data.labels.get(name).cloned().unwrap_or_default()),
        Operand::Labels(None) => Val::Map(data.labels),
        Operand::Value => Val::Num(data.value),
        Operand::Str(s) => Val::Str(s.clone()),
        Operand::Num(v) => Val::Num(*v),
    }
}

fn run_pipeline<'a>(cmds: &[Command], data: &TemplateData<'a>) -> Result<Option<Val<'a>>, String> {
    let mut piped: Option<Val<'a>> = None;
    for cmd in cmds {
        piped = Some(match cmd {
            Command::Operand(op) => operand(op, data),
            Command::Call(func, ops) => {
                let mut args: Vec<Val<'a>> = ops.iter().map(|o| operand(o, data)).collect();
                args.extend(piped.take());
                call(*func, &args)?
            }
        });
    }
    Ok(piped)
}

fn call<'a>(func: Func, args: &[Val<'a>]) -> Result<Val<'a>, String> {
    let first = || args.first().ok_or_else(|| "missing argument".to_string());
    Ok(match func {
        Func::Humanize => Val::Str(humanize(first()?.to_f64()?)),
        Func::Humanize1024 => Val::Str(humanize_1024(first()?.to_f64()?)),
        Func::HumanizePercentage => Val::Str(humanize_percentage(first()?.to_f64()?)),
        Func::HumanizeDuration => Val::Str(humanize_duration(first()?.to_f64()?)),
        Func::ToUpper => Val::Str(first()?.to_text().to_uppercase()),
        Func::ToLower => Val::Str(first()?.to_text().to_lowercase()),
        Func::Title => Val::Str(title(&first()?.to_text())),
        Func::Index => match (args.first(), args.get(1)) {
            (Some(Val::Map(m)), Some(key)) => {
                Val::Str(m.get(&key.to_text()).cloned().unwrap_or_default())
            }
            _ => return Err("index: the first argument must be $labels".into()),
        },
        Func::Printf => {
            let fmt = first()?.to_text();
            Val::Str(format::printf(&fmt, &args[1..])?)
        }
    })
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !c.is_alphanumeric();
    }
    out
}

#[cfg(test)]
mod tests;
