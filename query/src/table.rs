//! Turns aggregation groups into the rows of a table, and applies the pipes that follow an
//! aggregation (`sort`, `limit`, `fields`).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use pharos_collector::clock::rfc3339;
use serde_json::Value;

use crate::agg::acc::Acc;
use crate::agg::value::{GVal, NumKey};
use crate::agg::{AggFruit, AggPlan, MAX_GROUPS};
use crate::exec::QueryResult;
use crate::field::{invalid, resolve};
use crate::lang::{Ident, Pipe, SortOrder};
use crate::QueryError;

/// Most buckets a timechart may have.
pub const MAX_BUCKETS: i64 = 10_000;

/// How an aggregation's output table is made.
pub struct TableShape {
    pub plan: AggPlan,
    pub key_names: Vec<String>,
    pub agg_names: Vec<String>,
    /// Timechart range whose empty buckets are filled with zero counts.
    pub fill: Option<(i64, i64)>,
    /// `sort`, `limit` and `fields` pipes after the aggregation, in order.
    pub post: Vec<Pipe>,
    /// `top N`: sort by count, keep N.
    pub top: Option<usize>,
}

/// Orders JSON values: numbers numerically, then booleans, then strings; nulls last.
pub fn cmp_json(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::Bool(_) => 1,
            Value::String(_) => 2,
            Value::Array(_) | Value::Object(_) => 3,
            Value::Null => 4,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn new_accs(plan: &AggPlan) -> Vec<Acc> {
    plan.aggs.iter().map(|(f, _)| Acc::new(*f)).collect()
}

/// The number of timechart buckets, refused above [`MAX_BUCKETS`]: checked when the query
/// is prepared (before any search) and again when the buckets are filled.
pub(crate) fn bucket_count(shape: &TableShape) -> Result<Option<i64>, QueryError> {
    let (Some(span), Some((start, end))) = (shape.plan.bucket_ns, shape.fill) else {
        return Ok(None);
    };
    let first = start - start.rem_euclid(span);
    let buckets = (end - first + span - 1) / span;
    if buckets > MAX_BUCKETS {
        return Err(QueryError::BadRequest(format!(
            "the timechart would have {buckets} buckets (at most {MAX_BUCKETS}): use a larger span= or a shorter range"
        )));
    }
    Ok(Some(buckets))
}

fn fill_buckets(shape: &TableShape, fruit: &mut AggFruit) -> Result<(), QueryError> {
    let (Some(span), Some((start, _))) = (shape.plan.bucket_ns, shape.fill) else {
        return Ok(());
    };
    let Some(buckets) = bucket_count(shape)? else {
        return Ok(());
    };
    let first = start - start.rem_euclid(span);
    let mut combos: BTreeSet<Vec<GVal>> = fruit.groups.keys().map(|k| k[1..].to_vec()).collect();
    if combos.is_empty() && shape.plan.keys.is_empty() {
        combos.insert(Vec::new());
    }
    if (buckets as usize).saturating_mul(combos.len()) > MAX_GROUPS {
        return Err(QueryError::BadRequest(format!(
            "the timechart would have {} series × {buckets} buckets: use a larger span=, a shorter range or fewer `by` values",
            combos.len()
        )));
    }
    for b in 0..buckets {
        let t = first + b * span;
        for combo in &combos {
            let mut key = Vec::with_capacity(combo.len() + 1);
            key.push(GVal::Num(NumKey::I64(t)));
            key.extend(combo.iter().cloned());
            fruit
                .groups
                .entry(key)
                .or_insert_with(|| new_accs(&shape.plan));
        }
    }
    Ok(())
}

fn column_index(columns: &[String], ident: &Ident) -> Result<usize, QueryError> {
    if let Some(i) = columns.iter().position(|c| *c == ident.name) {
        return Ok(i);
    }
    // `sort by count()` names the `count` column.
    if ident.name == "count()" {
        if let Some(i) = columns.iter().position(|c| c == "count") {
            return Ok(i);
        }
    }
    if let Ok(field) = resolve(ident) {
        if let Some(i) = columns.iter().position(|c| *c == field.display_name()) {
            return Ok(i);
        }
    }
    Err(invalid(
        ident.span,
        format!(
            "there is no column `{}`; the columns are {}",
            ident.name,
            columns.join(", ")
        ),
    ))
}

/// Builds the table: one row per group, sorted by the group values, then the pipes.
pub fn finish_table(
    shape: &TableShape,
    mut fruit: AggFruit,
    total: u64,
) -> Result<QueryResult, QueryError> {
    if fruit.overflow {
        return Err(QueryError::BadRequest(format!(
            "the aggregation has more than {MAX_GROUPS} groups: narrow the query or group by fewer fields"
        )));
    }
    fill_buckets(shape, &mut fruit)?;
    if fruit.groups.is_empty() && shape.plan.keys.is_empty() && shape.plan.bucket_ns.is_none() {
        // `stats count()` over nothing is one row of zeros, not no rows.
        fruit.groups.insert(Vec::new(), new_accs(&shape.plan));
    }
    let mut groups: Vec<(Vec<GVal>, Vec<Acc>)> = fruit.groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));

    let has_bucket = shape.plan.bucket_ns.is_some();
    let mut columns = Vec::new();
    if has_bucket {
        columns.push("_time".to_string());
    }
    columns.extend(shape.key_names.iter().cloned());
    columns.extend(shape.agg_names.iter().cloned());
    let mut rows: Vec<Vec<Value>> = groups
        .into_iter()
        .map(|(key, mut accs)| {
            let mut row = Vec::with_capacity(columns.len());
            for (i, v) in key.iter().enumerate() {
                match (i, v) {
                    (0, GVal::Num(n)) if has_bucket => {
                        row.push(Value::String(rfc3339(n.as_f64() as i64)))
                    }
                    _ => row.push(v.to_json()),
                }
            }
            row.extend(accs.iter_mut().map(Acc::finish));
            row
        })
        .collect();

    if let Some(n) = shape.top {
        let count = columns.len() - 1;
        rows.sort_by(|a, b| cmp_json(&b[count], &a[count]).then_with(|| cmp_json(&a[0], &b[0])));
        rows.truncate(n);
    }
    for pipe in &shape.post {
        match pipe {
            Pipe::Sort { keys, .. } => {
                let keys = keys
                    .iter()
                    .map(|(ident, order)| Ok((column_index(&columns, ident)?, *order)))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                rows.sort_by(|a, b| {
                    keys.iter()
                        .map(|(i, order)| {
                            let o = cmp_json(&a[*i], &b[*i]);
                            if *order == SortOrder::Desc {
                                // Nulls stay last in both directions.
                                match (&a[*i], &b[*i]) {
                                    (Value::Null, Value::Null) => Ordering::Equal,
                                    (Value::Null, _) => Ordering::Greater,
                                    (_, Value::Null) => Ordering::Less,
                                    _ => o.reverse(),
                                }
                            } else {
                                o
                            }
                        })
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                });
            }
            Pipe::Limit { n, .. } => rows.truncate(usize::try_from(*n).unwrap_or(usize::MAX)),
            Pipe::Fields { fields, .. } => {
                let idx = fields
                    .iter()
                    .map(|f| column_index(&columns, f))
                    .collect::<Result<Vec<_>, _>>()?;
                columns = idx.iter().map(|i| columns[*i].clone()).collect();
                rows = rows
                    .into_iter()
                    .map(|r| idx.iter().map(|i| r[*i].clone()).collect())
                    .collect();
            }
            _ => {}
        }
    }
    Ok(QueryResult::Table {
        total,
        columns,
        rows,
        span_ms: shape.plan.bucket_ns.map(|n| n / 1_000_000),
    })
}
