//! Aggregations: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `count_values`, with `by (…)` or `without (…)`. `limitk`
//! and `limit_ratio` (experimental in Prometheus 3) answer unsupported.

use std::cmp::Ordering;
use std::collections::HashMap;

use rayon::prelude::*;

use pharos_collector::tsdb::{Labels, METRIC_NAME};
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::{Evaluator, Series, Value};
use super::functions::{prom_mean, prom_sum, quantile};
use super::{unsupported, PromError};

/// The output labels of a group: `by` keeps the labels named, `without` drops them and
/// `__name__`, no clause drops everything.
pub(crate) fn group_labels(l: &Labels, m: &Option<LabelModifier>) -> Labels {
    match m {
        None => Labels::from_sorted_unchecked(Vec::new()),
        Some(LabelModifier::Include(ls)) => {
            let names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
            l.only(&names)
        }
        Some(LabelModifier::Exclude(ls)) => {
            let mut names: Vec<&str> = ls.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            l.without(&names)
        }
    }
}

/// Groups series indices by key, in order of first appearance.
pub(crate) fn groups(keys: Vec<Labels>) -> Vec<(Labels, Vec<usize>)> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<(Labels, Vec<usize>)> = Vec::new();
    for (i, k) in keys.into_iter().enumerate() {
        match index.get(&k) {
            Some(&g) => out[g].1.push(i),
            None => {
                index.insert(k.clone(), out.len());
                out.push((k, vec![i]));
            }
        }
    }
    out
}

/// NaN ranks below every number (for topk) or above (for bottomk).
fn rank(a: f64, b: f64, top: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if top {
                o.reverse()
            } else {
                o
            }
        }
    }
}

pub(crate) fn eval(ev: &Evaluator, a: &AggregateExpr) -> Result<Value, PromError> {
    let op = a.op.id();
    const SUPPORTED: [u16; 12] = [
        T_SUM,
        T_AVG,
        T_MIN,
        T_MAX,
        T_COUNT,
        T_GROUP,
        T_QUANTILE,
        T_TOPK,
        T_BOTTOMK,
        T_STDDEV,
        T_STDVAR,
        T_COUNT_VALUES,
    ];
    if !SUPPORTED.contains(&op) {
        return unsupported(format!("aggregation {}", a.op));
    }
    if op == T_COUNT_VALUES {
        return count_values(ev, a);
    }
    let k = if op == T_TOPK || op == T_BOTTOMK {
        let Some(p) = &a.param else {
            return Err(PromError::BadData(format!("{}: missing parameter", a.op)));
        };
        let v = ev.eval_scalar(p)?;
        let mut k = Vec::with_capacity(v.len());
        for x in v {
            // Prometheus: the parameter must fit an int64; it is truncated.
            if !(x >= i64::MIN as f64 && x <= i64::MAX as f64) {
                return Err(PromError::Execution(format!(
                    "Scalar value {} overflows int64",
                    super::binary::go_float(x)
                )));
            }
            k.push(x as i64);
        }
        Some(k)
    } else {
        None
    };
    let phi = match (&a.param, op) {
        (Some(p), T_QUANTILE) => ev.eval_scalar(p)?,
        _ => Vec::new(),
    };
    if let Some(out) = super::plan_sum::try_rollup_sum(ev, a)? {
        return Ok(Value::Vector(out));
    }
    let input = ev.eval_vector(&a.expr)?;
    let keys: Vec<Labels> = input
        .iter()
        .map(|s| group_labels(&s.labels, &a.modifier))
        .collect();
    let groups = groups(keys);
    ev.check_deadline("aggregation")?;

    if let Some(k) = k {
        let top = op == T_TOPK;
        let mut values: Vec<Vec<Option<f64>>> = vec![vec![None; ev.n]; input.len()];
        for (_, members) in &groups {
            for (step, &kk) in k.iter().enumerate() {
                if kk < 1 {
                    continue;
                }
                let mut present: Vec<(usize, f64)> = members
                    .iter()
                    .filter_map(|&m| input[m].values[step].map(|v| (m, v)))
                    .collect();
                // Stable: among equal values the earlier series wins.
                present.sort_by(|x, y| rank(x.1, y.1, top));
                for (m, v) in present
                    .into_iter()
                    .take(usize::try_from(kk).unwrap_or(usize::MAX))
                {
                    values[m][step] = Some(v);
                }
            }
        }
        let out = input
            .into_iter()
            .zip(values)
            .filter(|(_, v)| v.iter().any(Option::is_some))
            .map(|(s, values)| Series {
                labels: s.labels,
                values,
            })
            .collect();
        return Ok(Value::Vector(out));
    }

    let mut out = Vec::with_capacity(groups.len());
    for (labels, members) in groups {
        if op == T_SUM {
            out.push(Series {
                labels,
                values: sum_by_series(&input, &members, ev.n),
            });
            continue;
        }
        let mut values = Vec::with_capacity(ev.n);
        for step in 0..ev.n {
            let present = || members.iter().filter_map(|&m| input[m].values[step]);
            let Some(first) = present().next() else {
                values.push(None);
                continue;
            };
            let v = match op {
                T_SUM => prom_sum(present()),
                T_AVG => prom_mean(present()).unwrap_or(f64::NAN),
                T_COUNT => present().count() as f64,
                T_GROUP => 1.0,
                T_QUANTILE => {
                    let q = phi.get(step).copied().unwrap_or(f64::NAN);
                    quantile(q, &mut present().collect::<Vec<_>>()).unwrap_or(f64::NAN)
                }
                T_STDDEV | T_STDVAR => {
                    // Prometheus: Welford's running mean, without compensation; a NaN or
                    // infinite first value makes the answer NaN.
                    let mut it = present();
                    let f0 = it.next().unwrap_or(f64::NAN);
                    let (mut count, mut mean) = (1.0f64, f0);
                    let mut value = if f0.is_finite() { 0.0 } else { f64::NAN };
                    for f in it {
                        count += 1.0;
                        let delta = f - mean;
                        mean += delta / count;
                        value += delta * (f - mean);
                    }
                    if op == T_STDVAR {
                        value / count
                    } else {
                        (value / count).sqrt()
                    }
                }
                T_MIN => present().fold(first, |m, v| if m > v || m.is_nan() { v } else { m }),
                _ => present().fold(first, |m, v| if m < v || m.is_nan() { v } else { m }),
            };
            values.push(Some(v));
        }
        out.push(Series { labels, values });
    }
    Ok(Value::Vector(out))
}

/// `count_values("label", v)`: per step, the number of series with each value, the value
/// (as Go's `FormatFloat(v, 'f', -1)`) in `label`. The groups change from step to step, so
/// the answer's series are created as they appear (bounded by the query's point limit).
fn count_values(ev: &Evaluator, a: &AggregateExpr) -> Result<Value, PromError> {
    let label = match a.param.as_deref().map(|p| ev.eval(p)).transpose()? {
        Some(Value::String(s)) => s,
        _ => {
            return Err(PromError::BadData(
                "count_values: the parameter must be a string (the label name)".into(),
            ))
        }
    };
    if !super::functions::valid_label_name(&label) {
        return Err(PromError::Execution(format!(
            "invalid label name {label:?}"
        )));
    }
    let input = ev.eval_vector(&a.expr)?;
    ev.check_deadline("aggregation")?;
    // `by` also groups by the new label; `without` keeps it (it is not in the list).
    let modifier = match &a.modifier {
        Some(LabelModifier::Include(ls)) => {
            let mut ls = ls.clone();
            ls.labels.push(label.clone());
            Some(LabelModifier::Include(ls))
        }
        other => other.clone(),
    };
    let modifier = match modifier {
        None => Some(LabelModifier::Include(promql_parser::label::Labels {
            labels: vec![label.clone()],
        })),
        m => m,
    };
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    for s in &input {
        for (step, v) in s.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let with = super::functions::set_label(&s.labels, &label, &super::format_value(*v));
            let key = group_labels(&with, &modifier);
            let k = match index.get(&key) {
                Some(&k) => k,
                None => {
                    ev.check_size(out.len() + 1)?;
                    index.insert(key.clone(), out.len());
                    out.push(Series {
                        labels: key,
                        values: vec![None; ev.n],
                    });
                    out.len() - 1
                }
            };
            let slot = &mut out[k].values[step];
            *slot = Some(slot.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(Value::Vector(out))
}

/// `sum` of a group, step by step: [`prom_sum`] of the members present at each step, in
/// member order. Accumulated member by member over all steps (each member's values are read
/// in one pass, not one value per member per step across a thousand vectors), with the same
/// Kahan state per step as `prom_sum`, so the answer is bit-identical.
///
/// Large groups are split by step range over the cores: each step still sums its members in
/// member order, so the split changes nothing in the answer.
fn sum_by_series(input: &[Series], members: &[usize], n: usize) -> Vec<Option<f64>> {
    let mut acc: Vec<Kahan> = vec![Kahan::default(); n];
    let sum_steps = |from: usize, acc: &mut [Kahan]| {
        for &m in members {
            let values = input[m].values.get(from..).unwrap_or_default();
            for (a, v) in acc.iter_mut().zip(values) {
                kahan_add(a, *v);
            }
        }
    };
    let threads = rayon::current_num_threads();
    if threads > 1 && members.len().saturating_mul(n) >= PARALLEL_SUM_VALUES {
        let per = n.div_ceil(threads);
        acc.par_chunks_mut(per)
            .enumerate()
            .for_each(|(i, part)| sum_steps(i * per, part));
    } else {
        sum_steps(0, &mut acc);
    }
    acc.iter().map(kahan_result).collect()
}

/// One step of a `sum`: Kahan–Neumaier sum and compensation, and whether any member was
/// present.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Kahan {
    sum: f64,
    c: f64,
    present: bool,
}

/// Adds a member's value (if present) to a step's sum: [`prom_sum`]'s `kahan_inc` written
/// with selects instead of branches (the same operations, so the same bits), an absent value
/// leaving the step as it was, so that the loop over a member's steps has no branch on the
/// data.
#[inline]
pub(crate) fn kahan_add(a: &mut Kahan, v: Option<f64>) {
    let present = v.is_some();
    let inc = v.unwrap_or(0.0);
    let (sum, c) = (a.sum, a.c);
    let t = sum + inc;
    let d = if sum.abs() >= inc.abs() {
        (sum - t) + inc
    } else {
        (inc - t) + sum
    };
    let nc = if t.is_infinite() { 0.0 } else { c + d };
    a.sum = if present { t } else { sum };
    a.c = if present { nc } else { c };
    a.present |= present;
}

/// A step's sum: `None` when no member was present.
pub(crate) fn kahan_result(a: &Kahan) -> Option<f64> {
    a.present.then_some(if a.sum.is_infinite() {
        a.sum
    } else {
        a.sum + a.c
    })
}

/// Values from which a `sum` is split over threads (below, a thread costs more than it saves).
const PARALLEL_SUM_VALUES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    /// Split over threads by step range or not, a group's sum is `prom_sum` of its members
    /// present at each step, in member order, bit for bit.
    #[test]
    fn sums_split_over_threads_answer_like_prom_sum() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Above and below the split threshold.
        for (members, n) in [(300usize, 4000usize), (7, 50)] {
            assert_eq!(members * n >= PARALLEL_SUM_VALUES, members == 300);
            let input: Vec<Series> = (0..members)
                .map(|_| Series {
                    labels: Labels::from_sorted_unchecked(Vec::new()),
                    values: (0..n)
                        .map(|_| match next() % 10 {
                            0 => None,
                            // Rarely an infinity (which resets the compensation).
                            _ if next() % 400 == 0 => Some(f64::INFINITY),
                            1 => Some(1e16),
                            2 => Some(-1e16),
                            k => Some((next() % 1000) as f64 / k as f64),
                        })
                        .collect(),
                })
                .collect();
            let order: Vec<usize> = (0..members).rev().collect();
            let got = sum_by_series(&input, &order, n);
            for (step, g) in got.iter().enumerate() {
                let present: Vec<f64> = order
                    .iter()
                    .filter_map(|&m| input[m].values[step])
                    .collect();
                let want = (!present.is_empty()).then(|| prom_sum(present.into_iter()));
                assert_eq!(g.map(f64::to_bits), want.map(f64::to_bits), "step {step}");
            }
        }
    }
}
