//! Binary operators: arithmetic (`+ - * / % ^ atan2`) and comparisons (`== != > < >= <=`,
//! filtering or with `bool`) between scalars and vectors, one-to-one vector matching with
//! `on (…)` / `ignoring (…)`, and the set operators `and`, `or`, `unless`.
//! `group_left` / `group_right` and the `fill` modifiers answer unsupported.

use std::collections::{HashMap, HashSet};

use pharos_collector::tsdb::{Labels, METRIC_NAME};
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{drop_name, merge_same_labels, Evaluator, Series, Value};
use super::{unsupported, PromError};

/// Go's `%v` of a float, for messages.
pub(crate) fn go_float(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x == f64::INFINITY {
        "+Inf".into()
    } else if x == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{x}")
    }
}

/// A label set as Prometheus prints it in messages: `{__name__="x", a="1"}`.
pub(crate) fn prom_labels(l: &Labels) -> String {
    let inner: Vec<String> = l.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Prometheus's error for two series of the "one" side with the same match group (the two
/// printed in order, so that the message does not depend on the evaluation order).
fn duplicate_series(group: &Labels, a: &Labels, b: &Labels, side: &str) -> PromError {
    let (mut a, mut b) = (a.to_string(), b.to_string());
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    PromError::Execution(format!(
        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side",
        prom_labels(group)
    ))
}

fn is_comparison(op: u16) -> bool {
    [T_EQLC, T_NEQ, T_GTR, T_LSS, T_GTE, T_LTE].contains(&op)
}

/// The value of `l op r`, and whether a comparison holds (always true for arithmetic).
fn elem(op: u16, l: f64, r: f64) -> (f64, bool) {
    match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (l.powf(r), true),
        T_MOD => (l % r, true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        _ => (l, l <= r), // T_LTE
    }
}

const SUPPORTED: [u16; 16] = [
    T_ADD, T_SUB, T_MUL, T_DIV, T_POW, T_MOD, T_ATAN2, T_EQLC, T_NEQ, T_GTR, T_LSS, T_GTE, T_LTE,
    T_LAND, T_LOR, T_LUNLESS,
];

/// How two vectors' series are matched: `on (…)` (only those labels) or `ignoring (…)`
/// (every label but those and `__name__`; no clause ignores only `__name__`).
struct Matching {
    on: bool,
    names: Vec<String>,
}

impl Matching {
    fn signature(&self, l: &Labels) -> Labels {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        if self.on {
            l.only(&names)
        } else {
            let mut names = names;
            names.push(METRIC_NAME);
            l.without(&names)
        }
    }
}

pub(crate) fn eval(ev: &Evaluator, b: &BinaryExpr) -> Result<Value, PromError> {
    let op = b.op.id();
    if !SUPPORTED.contains(&op) {
        return unsupported(format!("binary operator {}", b.op));
    }
    let return_bool = b.return_bool();
    let mut matching = Matching {
        on: false,
        names: Vec::new(),
    };
    if let Some(m) = &b.modifier {
        if matches!(
            m.card,
            VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
        ) {
            return unsupported("group_left / group_right (many-to-one matching)");
        }
        if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
            return unsupported("fill modifiers");
        }
        match &m.matching {
            Some(LabelModifier::Include(ls)) => {
                matching.on = true;
                matching.names = ls.labels.clone();
            }
            Some(LabelModifier::Exclude(ls)) => matching.names = ls.labels.clone(),
            None => {}
        }
    }
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    ev.check_deadline("binary operation")?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => Ok(Value::Scalar(
            l.into_iter()
                .zip(r)
                .map(|(l, r)| {
                    let (v, keep) = elem(op, l, r);
                    if is_comparison(op) {
                        if keep {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Value::Vector(v), Value::Scalar(s)) => vector_scalar(op, v, &s, false, return_bool),
        (Value::Scalar(s), Value::Vector(v)) => vector_scalar(op, v, &s, true, return_bool),
        (Value::Vector(l), Value::Vector(r)) => match op {
            T_LAND | T_LOR | T_LUNLESS => Ok(Value::Vector(set_op(ev, op, l, r, &matching))),
            _ => vector_vector(ev, op, l, r, &matching, return_bool),
        },
        _ => Err(PromError::BadData(
            "binary expression must contain only scalar and instant vector types".into(),
        )),
    }
}

fn vector_scalar(
    op: u16,
    v: Vec<Series>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Value, PromError> {
    let drop = !is_comparison(op) || return_bool;
    let out = v
        .into_iter()
        .map(|series| {
            let values = series
                .values
                .iter()
                .zip(s)
                .map(|(x, &sv)| {
                    let x = (*x)?;
                    let (l, r) = if swap { (sv, x) } else { (x, sv) };
                    let (mut value, mut keep) = elem(op, l, r);
                    // A comparison keeps the vector's value even when it is on the right.
                    if is_comparison(op) && swap {
                        value = r;
                    }
                    if return_bool {
                        value = if keep { 1.0 } else { 0.0 };
                        keep = true;
                    }
                    keep.then_some(value)
                })
                .collect();
            Series {
                labels: if drop {
                    drop_name(&series.labels)
                } else {
                    series.labels
                },
                values,
            }
        })
        .filter(|s| s.values.iter().any(Option::is_some))
        .collect();
    Ok(Value::Vector(merge_same_labels(out)?))
}

// Steps index both sides' values and the output.
#[allow(clippy::needless_range_loop)]
fn vector_vector(
    ev: &Evaluator,
    op: u16,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    matching: &Matching,
    return_bool: bool,
) -> Result<Value, PromError> {
    let lsig: Vec<Labels> = lhs.iter().map(|s| matching.signature(&s.labels)).collect();
    let rsig: Vec<Labels> = rhs.iter().map(|s| matching.signature(&s.labels)).collect();
    let names: Vec<&str> = matching.names.iter().map(String::as_str).collect();
    // The result's labels: the left side's, without `__name__` for arithmetic and `bool`,
    // reduced to the `on` labels or without the `ignoring` ones.
    let result_labels: Vec<Labels> = lhs
        .iter()
        .map(|s| {
            let mut l = s.labels.clone();
            if !is_comparison(op) || return_bool {
                l = drop_name(&l);
            }
            if matching.on {
                l.only(&names)
            } else {
                l.without(&names)
            }
        })
        .collect();
    let mut values: Vec<Vec<Option<f64>>> = vec![vec![None; ev.n]; lhs.len()];
    let mut right: HashMap<&Labels, usize> = HashMap::new();
    let mut matched: HashSet<&Labels> = HashSet::new();
    for step in 0..ev.n {
        if step % 256 == 0 {
            ev.check_deadline("binary operation")?;
        }
        right.clear();
        matched.clear();
        // Nothing on the left: nothing matches (and the right side is not checked).
        if !lhs.iter().any(|s| s.values[step].is_some()) {
            continue;
        }
        for (j, s) in rhs.iter().enumerate() {
            if s.values[step].is_none() {
                continue;
            }
            if let Some(&dup) = right.get(&rsig[j]) {
                return Err(duplicate_series(
                    &rsig[j],
                    &s.labels,
                    &rhs[dup].labels,
                    "right",
                ));
            }
            right.insert(&rsig[j], j);
        }
        if right.is_empty() {
            continue;
        }
        for (i, s) in lhs.iter().enumerate() {
            let Some(lv) = s.values[step] else { continue };
            let Some(&j) = right.get(&lsig[i]) else {
                continue;
            };
            let Some(rv) = rhs[j].values[step] else {
                continue;
            };
            // Prometheus checks for a second match before a comparison filters: a
            // many-to-one match is an error even where the comparison is false.
            if !matched.insert(&lsig[i]) {
                return Err(PromError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            let (mut value, keep) = elem(op, lv, rv);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            values[i][step] = Some(value);
        }
    }
    let out: Vec<Series> = result_labels
        .into_iter()
        .zip(values)
        .filter(|(_, v)| v.iter().any(Option::is_some))
        .map(|(labels, values)| Series { labels, values })
        .collect();
    Ok(Value::Vector(merge_same_labels(out)?))
}

fn set_op(
    ev: &Evaluator,
    op: u16,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    matching: &Matching,
) -> Vec<Series> {
    let lsig: Vec<Labels> = lhs.iter().map(|s| matching.signature(&s.labels)).collect();
    let rsig: Vec<Labels> = rhs.iter().map(|s| matching.signature(&s.labels)).collect();
    let mut lvals: Vec<Vec<Option<f64>>> = vec![vec![None; ev.n]; lhs.len()];
    let mut rvals: Vec<Vec<Option<f64>>> = vec![vec![None; ev.n]; rhs.len()];
    let mut sigs: HashSet<&Labels> = HashSet::new();
    for step in 0..ev.n {
        sigs.clear();
        match op {
            T_LAND | T_LUNLESS => {
                for (j, s) in rhs.iter().enumerate() {
                    if s.values[step].is_some() {
                        sigs.insert(&rsig[j]);
                    }
                }
                for (i, s) in lhs.iter().enumerate() {
                    if let Some(v) = s.values[step] {
                        if sigs.contains(&lsig[i]) == (op == T_LAND) {
                            lvals[i][step] = Some(v);
                        }
                    }
                }
            }
            _ => {
                for (i, s) in lhs.iter().enumerate() {
                    if let Some(v) = s.values[step] {
                        sigs.insert(&lsig[i]);
                        lvals[i][step] = Some(v);
                    }
                }
                for (j, s) in rhs.iter().enumerate() {
                    if let Some(v) = s.values[step] {
                        if !sigs.contains(&rsig[j]) {
                            rvals[j][step] = Some(v);
                        }
                    }
                }
            }
        }
    }
    let mut out: Vec<Series> = Vec::new();
    for (s, values) in lhs.into_iter().zip(lvals).chain(rhs.into_iter().zip(rvals)) {
        if values.iter().any(Option::is_some) {
            out.push(Series {
                labels: s.labels,
                values,
            });
        }
    }
    // The same series on both sides of `or` at different steps is one series.
    let mut merged: Vec<Series> = Vec::with_capacity(out.len());
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in out {
        match index.get(&s.labels) {
            Some(&i) => {
                for (a, b) in merged[i].values.iter_mut().zip(s.values) {
                    if a.is_none() {
                        *a = b;
                    }
                }
            }
            None => {
                index.insert(s.labels.clone(), merged.len());
                merged.push(s);
            }
        }
    }
    merged
}
