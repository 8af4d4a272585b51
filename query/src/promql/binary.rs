//! Binary operators: arithmetic (`+ - * / % ^ atan2`) and comparisons (`== != > < >= <=`,
//! filtering or with `bool`) between scalars and vectors, one-to-one vector matching with
//! `on (…)` / `ignoring (…)`, many-to-one and one-to-many matching with `group_left (…)` /
//! `group_right (…)` (copying the listed labels from the "one" side), and the set operators
//! `and`, `or`, `unless`, with Prometheus's errors (`VectorBinop` in its engine.go). The
//! `fill` modifiers (experimental in Prometheus 3) answer unsupported.

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
    let (mut card, mut include) = (Card::OneToOne, Vec::new());
    if let Some(m) = &b.modifier {
        match &m.card {
            VectorMatchCardinality::ManyToOne(ls) => {
                card = Card::ManyToOne;
                include = ls.labels.clone();
            }
            VectorMatchCardinality::OneToMany(ls) => {
                card = Card::OneToMany;
                include = ls.labels.clone();
            }
            _ => {}
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
            _ => vector_vector(ev, op, l, r, &matching, card, &include, return_bool),
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

/// Which side is the "one" side of the matching, and the labels `group_x (…)` copies from
/// it.
#[derive(Clone, Copy, PartialEq)]
enum Card {
    OneToOne,
    /// `group_left`: the right side is the one side.
    ManyToOne,
    /// `group_right`: the left side is the one side (evaluated with the sides swapped).
    OneToMany,
}

// Steps index both sides' values and the output.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn vector_vector(
    ev: &Evaluator,
    op: u16,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    matching: &Matching,
    card: Card,
    include: &[String],
    return_bool: bool,
) -> Result<Value, PromError> {
    // As Prometheus: for one-to-many the sides are swapped (the "many" side is always
    // `many` here) and swapped back to compute each value.
    let swapped = card == Card::OneToMany;
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let msig: Vec<Labels> = many.iter().map(|s| matching.signature(&s.labels)).collect();
    let osig: Vec<Labels> = one.iter().map(|s| matching.signature(&s.labels)).collect();
    let names: Vec<&str> = matching.names.iter().map(String::as_str).collect();
    let drop = !is_comparison(op) || return_bool;
    // The result's labels: the many side's, without `__name__` for arithmetic and `bool`;
    // one-to-one reduced to the `on` labels or without the `ignoring` ones; the `group_x`
    // labels copied from the one side (or removed when it lacks them).
    let result_labels = |i: usize, j: usize| -> Labels {
        let mut l = many[i].labels.clone();
        if drop {
            l = drop_name(&l);
        }
        if card == Card::OneToOne {
            return if matching.on {
                l.only(&names)
            } else {
                l.without(&names)
            };
        }
        if include.is_empty() {
            return l;
        }
        let incl: Vec<&str> = include.iter().map(String::as_str).collect();
        let mut pairs: Vec<(String, String)> = l.without(&incl).pairs().to_vec();
        for n in &incl {
            if let Some(v) = one[j].labels.get(n) {
                pairs.push((n.to_string(), v.to_string()));
            }
        }
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        Labels::from_sorted_unchecked(pairs)
    };
    // Output series by labels (with group_x, a many-side series can match one-side series
    // with different copied labels at different steps).
    let mut out: Vec<Series> = Vec::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    let mut labels_of: HashMap<(usize, usize), usize> = HashMap::new();
    let mut right: HashMap<&Labels, usize> = HashMap::new();
    let mut matched: HashSet<&Labels> = HashSet::new();
    let mut matched_out: HashSet<(&Labels, usize)> = HashSet::new();
    let side = if swapped { "left" } else { "right" };
    for step in 0..ev.n {
        if step % 256 == 0 {
            ev.check_deadline("binary operation")?;
        }
        right.clear();
        matched.clear();
        matched_out.clear();
        // Nothing on one side: nothing matches (and duplicates are not looked for).
        if !many.iter().any(|s| s.values[step].is_some()) {
            continue;
        }
        for (j, s) in one.iter().enumerate() {
            if s.values[step].is_none() {
                continue;
            }
            if let Some(&dup) = right.get(&osig[j]) {
                return Err(duplicate_series(
                    &osig[j],
                    &s.labels,
                    &one[dup].labels,
                    side,
                ));
            }
            right.insert(&osig[j], j);
        }
        if right.is_empty() {
            continue;
        }
        for (i, s) in many.iter().enumerate() {
            let Some(mv) = s.values[step] else { continue };
            let Some(&j) = right.get(&msig[i]) else {
                continue;
            };
            let Some(ov) = one[j].values[step] else {
                continue;
            };
            let k = match labels_of.get(&(i, j)) {
                Some(&k) => k,
                None => {
                    let l = result_labels(i, j);
                    let k = match out_index.get(&l) {
                        Some(&k) => k,
                        None => {
                            out_index.insert(l.clone(), out.len());
                            out.push(Series {
                                labels: l,
                                values: vec![None; ev.n],
                            });
                            ev.check_size(out.len())?;
                            out.len() - 1
                        }
                    };
                    labels_of.insert((i, j), k);
                    k
                }
            };
            // Prometheus checks for a second match before a comparison filters: a
            // many-to-one match is an error even where the comparison is false.
            if card == Card::OneToOne {
                if !matched.insert(&msig[i]) {
                    return Err(PromError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
            } else if !matched_out.insert((&msig[i], k)) {
                return Err(PromError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
            let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
            let (mut value, keep) = elem(op, l, r);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let slot = &mut out[k].values[step];
            if slot.is_some() {
                return Err(super::eval::same_labelset());
            }
            *slot = Some(value);
        }
    }
    out.retain(|s| s.values.iter().any(Option::is_some));
    Ok(Value::Vector(out))
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
