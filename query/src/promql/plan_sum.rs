//! `sum(f(x[r]))`, with or without `by`/`without`, answered from the 5-minute rollups
//! without holding every series' answers.
//!
//! The general path evaluates `f` for every series (a month at a 5-minute step is 8,640
//! values each, 138 MB for 1,000 series), then sums them step by step in label order. Here the
//! steps are split into one part per core instead; each part reads every series in label
//! order ([`MetricStore::visit_rollups_sorted`]) for its own steps only and adds each series'
//! answers into its groups' sums at once, while they are still in the cache. Each step still
//! adds its members in label order with the same Kahan–Neumaier operations
//! ([`super::aggregate::kahan_add`]), so the answer is the general path's, bit for bit.
//!
//! It applies when the general path would read the 5-minute tier for every series (see
//! `plan.rs`) and the selector names one metric (so that no two series can collide once the
//! name is dropped, which the general path answers with an error). Any series the rollups
//! cannot answer (the general path reads it raw) sends the whole query to the general path.
//!
//! [`MetricStore::visit_rollups_sorted`]: pharos_collector::tsdb::MetricStore::visit_rollups_sorted

use std::collections::HashMap;

use rayon::prelude::*;

use pharos_collector::tsdb::{
    LabelMatcher, Labels, MatchOp, Resolution, SelectRequest, METRIC_NAME,
};
use promql_parser::parser::token::T_SUM;
use promql_parser::parser::{AggregateExpr, Expr};

use super::aggregate::{group_labels, kahan_add, kahan_result, Kahan};
use super::eval::{drop_name, duration_ms, offset_ms, unwrap_parens, Evaluator, Series};
use super::functions::{matrix_arg, RangeFn};
use super::plan::{choose_resolution, MAX_SLOTS};
use super::plan_open::{self, Steps};
use super::PromError;

/// One group of one part: its labels, its first member (for the groups' order), and per step
/// of the part the running sum.
struct PartGroup {
    key: Labels,
    first_member: Labels,
    acc: Vec<Kahan>,
}

/// The sum of the series in `a`, by group in the general path's order; `None` when this path
/// does not apply (the caller evaluates `a` as usual).
pub(crate) fn try_rollup_sum(
    ev: &Evaluator,
    a: &AggregateExpr,
) -> Result<Option<Vec<Series>>, PromError> {
    if a.op.id() != T_SUM || a.param.is_some() || !ev.opts.use_rollups || ev.n == 0 {
        return Ok(None);
    }
    let Expr::Call(call) = unwrap_parens(&a.expr) else {
        return Ok(None);
    };
    let Some(f) = RangeFn::from_name(call.func.name) else {
        return Ok(None);
    };
    let [arg] = call.args.args.as_slice() else {
        return Ok(None);
    };
    // An invalid argument is the general path's error to give.
    let Ok(ms) = matrix_arg(arg) else {
        return Ok(None);
    };
    if f == RangeFn::QuantileOverTime || ms.vs.at.is_some() {
        return Ok(None);
    }
    let off = offset_ms(&ms.vs.offset);
    let range = duration_ms(&ms.range);
    let first_end = ev.start - off;
    if choose_resolution(f, first_end, ev.step, ev.n, range) != Resolution::FiveMinute {
        return Ok(None);
    }
    let w = Resolution::FiveMinute.bucket_ms();
    if (ev.end - ev.start + range) / w > MAX_SLOTS {
        return Ok(None);
    }
    let matchers = ev.matchers(&ms.vs)?;
    if !names_one_metric(&matchers) {
        return Ok(None);
    }
    let parts = rayon::current_num_threads().clamp(1, ev.n);
    let per_part = ev.n.div_ceil(parts);
    let results: Vec<Result<Option<Vec<PartGroup>>, PromError>> = (0..parts)
        .into_par_iter()
        .map(|p| {
            let from = p * per_part;
            let to = ((p + 1) * per_part).min(ev.n);
            sum_part(ev, f, a, &matchers, (from, to), (first_end, range))
        })
        .collect();
    // Merge the parts: each group's steps part after part (absent in a part: no value).
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Labels, Vec<Option<f64>>)> = Vec::new();
    for (p, part) in results.into_iter().enumerate() {
        let Some(part) = part? else {
            return Ok(None);
        };
        let from = p * per_part;
        let to = ((p + 1) * per_part).min(ev.n);
        for g in part {
            let i = *index.entry(g.key.clone()).or_insert_with(|| {
                groups.push((g.key.clone(), g.first_member.clone(), vec![None; ev.n]));
                groups.len() - 1
            });
            let (_, first, values) = &mut groups[i];
            if g.first_member < *first {
                *first = g.first_member;
            }
            for (v, acc) in values[from..to].iter_mut().zip(&g.acc) {
                *v = kahan_result(acc);
            }
        }
    }
    // The general path's order: by first appearance among the series, which are in label
    // order.
    groups.sort_by(|x, y| x.1.cmp(&y.1));
    Ok(Some(
        groups
            .into_iter()
            .map(|(labels, _, values)| Series { labels, values })
            .collect(),
    ))
}

/// Whether the matchers pin the metric name (`__name__="…"`).
fn names_one_metric(matchers: &[LabelMatcher]) -> bool {
    matchers
        .iter()
        .any(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal && !m.value.is_empty())
}

/// The groups' sums over steps `from..to`; `None` when a series needs raw data.
fn sum_part(
    ev: &Evaluator,
    f: RangeFn,
    a: &AggregateExpr,
    matchers: &[LabelMatcher],
    (from, to): (usize, usize),
    (first_end, range): (i64, i64),
) -> Result<Option<Vec<PartGroup>>, PromError> {
    let w = Resolution::FiveMinute.bucket_ms();
    let part_end = first_end + from as i64 * ev.step;
    let last_b = first_end + (to as i64 - 1) * ev.step;
    let first_a = part_end - range;
    let steps = Steps {
        first_a,
        width: w,
        slots: usize::try_from((last_b - first_a) / w + 1).unwrap_or(0),
        steps: to - from,
        per_step: usize::try_from(ev.step / w).unwrap_or(0),
        per_range: usize::try_from(range / w).unwrap_or(0),
        first_end: part_end,
        step_ms: ev.step,
        range_ms: range,
    };
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<PartGroup> = Vec::new();
    let mut raw_needed = false;
    let mut failure: Option<PromError> = None;
    ev.store.visit_rollups_sorted(
        &SelectRequest {
            matchers: matchers.to_vec(),
            // One bucket more before the first window: the predecessor of its first sample.
            start_ms: first_a - w,
            end_ms: last_b + w - 1,
            resolution: Resolution::FiveMinute,
        },
        plan_open::columns_for(f),
        &mut |labels, kind, c| {
            if raw_needed || failure.is_some() {
                return;
            }
            if let Err(e) = ev.check_deadline("rollup read") {
                failure = Some(e);
                return;
            }
            let Ok(values) = plan_open::series_values(f, kind, c, &steps) else {
                raw_needed = true;
                return;
            };
            // A series without any value is not in the general path's input at all.
            if !values.iter().any(Option::is_some) {
                return;
            }
            let key = group_labels(&drop_name(labels), &a.modifier);
            let i = match index.get(&key) {
                Some(i) => *i,
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push(PartGroup {
                        key,
                        first_member: labels.clone(),
                        acc: vec![Kahan::default(); steps.steps],
                    });
                    groups.len() - 1
                }
            };
            for (acc, v) in groups[i].acc.iter_mut().zip(&values) {
                kahan_add(acc, *v);
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((!raw_needed).then_some(groups))
}
