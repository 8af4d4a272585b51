//! Runs a parsed query over the partitions of a time range: the filter becomes a tantivy
//! query per partition, then either hits are fetched newest first (with early termination
//! across partitions) or an aggregation collects over fast fields; pipes after an
//! aggregation shape its rows.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Instant;

use pharos_collector::index::{LogStore, PartitionHandle};
use serde::Serialize;
use serde_json::Value;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::Query;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{DocAddress, Order, Searcher};

use crate::agg::{AggCollector, AggFruit, AggPlan, MAX_GROUP_FIELDS};
use crate::budget::{Budget, Budgeted};
use crate::compile::compile;
use crate::field::{invalid, resolve, FieldRef};
use crate::filter::{Filter, Resolver};
use crate::hits::{hit_field, index_err, load_hit, within_range};
use crate::lang::{AggFunc, Aggregation, Ident, Pipe, Query as Ast, SortOrder};
use crate::parallel::par_map;
use crate::table::{finish_table, TableShape};
use crate::QueryError;

/// Largest number of hits one query returns.
pub const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// Inclusive start, Unix ns (None = the beginning of time).
    pub start_ns: Option<i64>,
    /// Exclusive end, Unix ns (None = no end).
    pub end_ns: Option<i64>,
    /// Most hits to return (a `| limit` in the query can lower it).
    pub limit: usize,
    /// What `now` means in the query (`_time:>now-15m`).
    pub now_ns: i64,
    /// The query stops with [`QueryError::Stopped`] when this runs out or is cancelled.
    pub budget: Budget,
}

/// A query's result: stored records, or the rows of an aggregation.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryResult {
    Hits {
        /// Records matching the filter (all of them, not only those returned).
        total: u64,
        hits: Vec<Value>,
    },
    Table {
        /// Records matching the filter.
        total: u64,
        columns: Vec<String>,
        rows: Vec<Vec<Value>>,
        /// The timechart bucket width, in milliseconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        span_ms: Option<i64>,
    },
}

#[derive(Debug, Serialize)]
pub struct QueryResponse {
    #[serde(flatten)]
    pub result: QueryResult,
    pub took_ms: f64,
}

/// A resolved query, ready to run on partitions.
pub struct Prepared {
    pub filter: Filter,
    /// The effective time range: the request's, narrowed by `_time` in the query.
    pub start: i64,
    pub end: i64,
    pub mode: Mode,
    pub budget: Budget,
}

pub enum Mode {
    Hits {
        /// Retrieval order: `None` = newest first.
        sort: Option<(FieldRef, SortOrder)>,
        limit: usize,
        /// Stages applied to the fetched hits, in order (in-memory sorts and projections).
        post: Vec<HitStage>,
    },
    Table(TableShape),
}

pub enum HitStage {
    Sort(FieldRef, SortOrder),
    Limit(usize),
    Fields(Vec<FieldRef>),
}

fn resolve_idents(idents: &[Ident]) -> Result<Vec<FieldRef>, QueryError> {
    idents.iter().map(resolve).collect()
}

/// Picks a timechart span giving about 100 buckets over the range.
pub fn auto_span_ns(start: i64, end: i64) -> i64 {
    const S: i64 = 1_000_000_000;
    const STEPS: [i64; 13] = [
        S,
        5 * S,
        10 * S,
        30 * S,
        60 * S,
        300 * S,
        600 * S,
        1800 * S,
        3600 * S,
        3 * 3600 * S,
        6 * 3600 * S,
        12 * 3600 * S,
        86400 * S,
    ];
    let want = (end.saturating_sub(start) / 100).max(1);
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= want)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

/// Each aggregation's function and field, and their column names.
type AggParts = (Vec<(AggFunc, Option<FieldRef>)>, Vec<String>);

fn agg_plan_parts(aggs: &[Aggregation]) -> Result<AggParts, QueryError> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    for a in aggs {
        let field = a.field.as_ref().map(resolve).transpose()?;
        match (&a.func, &field) {
            (AggFunc::Count, _) => {}
            (_, None) => return Err(invalid(a.span, "this aggregation needs a field")),
            (_, Some(FieldRef::Message)) => {
                return Err(invalid(
                    a.span,
                    "the message is full text: it has no values to aggregate",
                ))
            }
            (AggFunc::CountDistinct, _) => {}
            (_, Some(FieldRef::Keyword(k))) => {
                return Err(invalid(
                    a.span,
                    format!(
                        "{} is text: only count and count_distinct apply",
                        k.field_name()
                    ),
                ))
            }
            _ => {}
        }
        if let (AggFunc::Count, Some(FieldRef::Message)) = (&a.func, &field) {
            return Err(invalid(a.span, "count(message): use count()"));
        }
        names.push(a.column_name());
        out.push((a.func, field));
    }
    Ok((out, names))
}

/// Resolves a parsed query against a request.
pub fn prepare(ast: &Ast, req: &QueryRequest) -> Result<Prepared, QueryError> {
    let manager = TokenizerManager::default();
    let mut tokenizer = manager
        .get("default")
        .ok_or_else(|| QueryError::BadRequest("the default tokenizer is missing".into()))?;
    let filter = Resolver {
        now_ns: req.now_ns,
        tokenizer: &mut tokenizer,
    }
    .resolve(&ast.filter)?;
    let (fs, fe) = filter.time_bounds();
    let start = req.start_ns.unwrap_or(i64::MIN).max(fs);
    let end = req.end_ns.unwrap_or(i64::MAX).min(fe);
    if let (Some(s), Some(e)) = (req.start_ns, req.end_ns) {
        if e <= s {
            return Err(QueryError::BadRequest("end must be after start".into()));
        }
    }
    if req.limit > MAX_LIMIT {
        return Err(QueryError::BadRequest(format!(
            "limit {} is over the maximum of {MAX_LIMIT}",
            req.limit
        )));
    }

    let agg_at = ast.pipes.iter().position(|p| {
        matches!(
            p,
            Pipe::Stats { .. } | Pipe::Timechart { .. } | Pipe::Top { .. }
        )
    });
    let mode = match agg_at {
        Some(i) => {
            if let Some(p) = ast.pipes[..i].first() {
                return Err(invalid(
                    pipe_span(p),
                    "stats, timechart and top must come right after the filter",
                ));
            }
            let mut shape = table_shape(&ast.pipes[i], start, end, req.now_ns)?;
            crate::table::bucket_count(&shape)?;
            for p in &ast.pipes[i + 1..] {
                match p {
                    Pipe::Stats { span, .. }
                    | Pipe::Timechart { span, .. }
                    | Pipe::Top { span, .. } => {
                        return Err(invalid(*span, "only one stats, timechart or top per query"))
                    }
                    other => shape.post.push(other.clone()),
                }
            }
            Mode::Table(shape)
        }
        None => hits_mode(&ast.pipes, req.limit)?,
    };
    Ok(Prepared {
        filter,
        start,
        end,
        mode,
        budget: req.budget.clone(),
    })
}

fn pipe_span(p: &Pipe) -> crate::lang::Span {
    match p {
        Pipe::Stats { span, .. }
        | Pipe::Timechart { span, .. }
        | Pipe::Sort { span, .. }
        | Pipe::Limit { span, .. }
        | Pipe::Fields { span, .. }
        | Pipe::Top { span, .. } => *span,
    }
}

fn table_shape(pipe: &Pipe, start: i64, end: i64, now_ns: i64) -> Result<TableShape, QueryError> {
    let check_keys = |by: &[Ident], span| {
        if by.len() > MAX_GROUP_FIELDS {
            return Err(invalid(
                span,
                format!("at most {MAX_GROUP_FIELDS} fields after `by`"),
            ));
        }
        let keys = resolve_idents(by)?;
        if let Some(i) = keys.iter().position(|k| *k == FieldRef::Message) {
            return Err(invalid(
                by[i].span,
                "the message is full text: it cannot be grouped by",
            ));
        }
        Ok(keys)
    };
    Ok(match pipe {
        Pipe::Stats { aggs, by, span } => {
            let (aggs, agg_names) = agg_plan_parts(aggs)?;
            let keys = check_keys(by, *span)?;
            TableShape {
                key_names: keys.iter().map(FieldRef::display_name).collect(),
                plan: AggPlan {
                    bucket_ns: None,
                    keys,
                    aggs,
                },
                agg_names,
                fill: None,
                post: Vec::new(),
                top: None,
            }
        }
        Pipe::Timechart {
            span_ns,
            aggs,
            by,
            span,
        } => {
            let (aggs, agg_names) = agg_plan_parts(aggs)?;
            let keys = check_keys(by, *span)?;
            // An open range is charted up to now.
            let chart_end = if end == i64::MAX { now_ns } else { end };
            let bucket = match span_ns {
                Some(s) => *s,
                None if start == i64::MIN => 60_000_000_000,
                None => auto_span_ns(start, chart_end),
            };
            TableShape {
                key_names: keys.iter().map(FieldRef::display_name).collect(),
                plan: AggPlan {
                    bucket_ns: Some(bucket),
                    keys,
                    aggs,
                },
                agg_names,
                fill: (start != i64::MIN).then_some((start, chart_end)),
                post: Vec::new(),
                top: None,
            }
        }
        Pipe::Top { n, field, .. } => {
            let key = resolve(field)?;
            if key == FieldRef::Message {
                return Err(invalid(field.span, "the message is full text: use a field"));
            }
            TableShape {
                key_names: vec![key.display_name()],
                plan: AggPlan {
                    bucket_ns: None,
                    keys: vec![key],
                    aggs: vec![(AggFunc::Count, None)],
                },
                agg_names: vec!["count".into()],
                fill: None,
                post: Vec::new(),
                top: Some(*n as usize),
            }
        }
        _ => unreachable!("only aggregating pipes reach table_shape"),
    })
}

fn hits_mode(pipes: &[Pipe], api_limit: usize) -> Result<Mode, QueryError> {
    let mut sort = None;
    let mut limit = api_limit;
    let mut post = Vec::new();
    let mut limited = false;
    for p in pipes {
        match p {
            Pipe::Sort { keys, span } => {
                if keys.len() != 1 {
                    return Err(invalid(
                        *span,
                        "searches sort by one field (add `| stats` to sort rows by several)",
                    ));
                }
                let field = resolve(&keys[0].0)?;
                if !matches!(
                    field,
                    FieldRef::Time
                        | FieldRef::Severity
                        | FieldRef::RecordId
                        | FieldRef::Attr { .. }
                ) {
                    return Err(invalid(
                        keys[0].0.span,
                        "searches sort by a number or the time (_time, severity, a numeric attribute)",
                    ));
                }
                if sort.is_none() && !limited && post.is_empty() {
                    sort = Some((field, keys[0].1));
                } else {
                    post.push(HitStage::Sort(field, keys[0].1));
                }
            }
            Pipe::Limit { n, .. } => {
                let n = usize::try_from(*n).unwrap_or(usize::MAX);
                if post.is_empty() {
                    limit = limit.min(n);
                } else {
                    post.push(HitStage::Limit(n));
                }
                limited = true;
            }
            Pipe::Fields { fields, .. } => post.push(HitStage::Fields(resolve_idents(fields)?)),
            _ => {}
        }
    }
    Ok(Mode::Hits { sort, limit, post })
}

/// One partition's query: the filter, plus the time range unless the partition lies inside it.
pub(crate) fn partition_query(
    store: &LogStore,
    p: &PartitionHandle,
    compiled: &dyn Query,
    start: i64,
    end: i64,
) -> Box<dyn Query> {
    within_range(p, store, compiled.box_clone(), start, end)
}

/// Runs a prepared query. Blocking (tantivy is synchronous): call from `spawn_blocking`.
pub fn execute(store: &LogStore, prepared: &Prepared) -> Result<QueryResult, QueryError> {
    let compiled = compile(store.schema(), &prepared.filter)?;
    let (start, end) = (prepared.start, prepared.end);
    let partitions = if start < end {
        store.overlapping(start, end)
    } else {
        Vec::new()
    };
    match &prepared.mode {
        Mode::Table(shape) => {
            let collector = Budgeted {
                inner: (
                    AggCollector {
                        plan: Arc::new(shape.plan.clone()),
                    },
                    Count,
                ),
                budget: prepared.budget.clone(),
            };
            let per_partition = par_map(&partitions, |p| {
                check_budget(&prepared.budget)?;
                let q = partition_query(store, p, compiled.as_ref(), start, end);
                p.reader
                    .searcher()
                    .search(&q, &collector)
                    .map_err(|e| search_err(&prepared.budget, p, e))
            })?;
            let mut fruit = AggFruit::default();
            let mut total = 0u64;
            for (f, n) in per_partition {
                fruit.merge(f);
                total += n as u64;
            }
            finish_table(shape, fruit, total)
        }
        Mode::Hits { sort, limit, post } => {
            let (total, mut hits) = fetch_hits(
                store,
                &partitions,
                compiled.as_ref(),
                prepared,
                sort.as_ref(),
                *limit,
            )?;
            for stage in post {
                apply_hit_stage(&mut hits, stage);
            }
            Ok(QueryResult::Hits { total, hits })
        }
    }
}

/// Parses, resolves and runs a query.
pub fn run(store: &LogStore, text: &str, req: &QueryRequest) -> Result<QueryResponse, QueryError> {
    let started = Instant::now();
    let ast = crate::lang::parse(text).map_err(QueryError::Syntax)?;
    let prepared = prepare(&ast, req)?;
    let result = execute(store, &prepared)?;
    Ok(QueryResponse {
        result,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

pub(crate) fn check_budget(budget: &Budget) -> Result<(), QueryError> {
    budget.check().map_err(QueryError::Stopped)
}

/// A search error; a [`Budgeted`] collector's refusal is the budget's, not the index's.
pub(crate) fn search_err(
    budget: &Budget,
    p: &PartitionHandle,
    e: tantivy::TantivyError,
) -> QueryError {
    match budget.check() {
        Err(why) => QueryError::Stopped(why),
        Ok(()) => index_err(p, e),
    }
}

/// A hit candidate: its sort key (smaller is better), partition and address. Times stay
/// integers (an f64 cannot hold nanosecond timestamps exactly).
type Candidate = ((i64, f64), usize, DocAddress);

fn fetch_hits(
    store: &LogStore,
    partitions: &[Arc<PartitionHandle>],
    compiled: &dyn Query,
    prepared: &Prepared,
    sort: Option<&(FieldRef, SortOrder)>,
    limit: usize,
) -> Result<(u64, Vec<Value>), QueryError> {
    let (start, end) = (prepared.start, prepared.end);
    let by_time = match sort {
        None => Some(Order::Desc),
        Some((FieldRef::Time, SortOrder::Desc)) => Some(Order::Desc),
        Some((FieldRef::Time, SortOrder::Asc)) => Some(Order::Asc),
        Some(_) => None,
    };
    // Newest partitions first for a descending time order (oldest first ascending), so
    // once `limit` hits are in hand, partitions that cannot beat them are only counted.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    match by_time {
        Some(Order::Asc) => order.sort_by_key(|&i| partitions[i].range_ns().0),
        _ => order.sort_by_key(|&i| Reverse(partitions[i].range_ns().0)),
    }
    let mut total = 0u64;
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut searchers: Vec<Option<Searcher>> = vec![None; partitions.len()];
    // Partitions that cannot contribute hits are only counted, afterwards and in parallel.
    let mut count_only: Vec<&Arc<PartitionHandle>> = Vec::new();
    for &i in &order {
        check_budget(&prepared.budget)?;
        let p = &partitions[i];
        let searcher = p.reader.searcher();
        let q = partition_query(store, p, compiled, start, end);
        let (p_start, p_end) = p.range_ns();
        let full = candidates.len() >= limit;
        let cannot_improve = full
            && match (by_time, candidates.last()) {
                (Some(Order::Desc), Some(worst)) => -worst.0 .0 >= p_end - 1,
                (Some(Order::Asc), Some(worst)) => worst.0 .0 <= p_start,
                _ => false,
            };
        if limit == 0 || cannot_improve {
            count_only.push(p);
            continue;
        }
        let found: Vec<Candidate> = match (by_time, sort) {
            (Some(order), _) => {
                let top = TopDocs::with_limit(limit).order_by_fast_field::<i64>("ts", order);
                let (docs, n) = searcher
                    .search(&q, &(top, Count))
                    .map_err(|e| index_err(p, e))?;
                total += n as u64;
                docs.into_iter()
                    .map(|(ts, a)| {
                        let t = ts.unwrap_or(i64::MIN).max(i64::MIN + 1);
                        ((if order == Order::Desc { -t } else { t }, 0.0), i, a)
                    })
                    .collect()
            }
            (None, Some((field, dir))) => {
                let collector = crate::topn::TopByField {
                    field: field.clone(),
                    descending: *dir == SortOrder::Desc,
                    limit,
                };
                let (docs, n) = searcher
                    .search(&q, &(collector, Count))
                    .map_err(|e| index_err(p, e))?;
                total += n as u64;
                docs.into_iter().map(|(k, a)| ((0, k), i, a)).collect()
            }
            (None, None) => Vec::new(),
        };
        candidates.extend(found);
        // Best first is always ascending keys: a descending time is negated.
        candidates.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then(a.0 .1.total_cmp(&b.0 .1)));
        candidates.truncate(limit);
        searchers[i] = Some(searcher);
    }
    total += par_map(&count_only, |p| {
        check_budget(&prepared.budget)?;
        let q = partition_query(store, p, compiled, start, end);
        let count = Budgeted {
            inner: Count,
            budget: prepared.budget.clone(),
        };
        p.reader
            .searcher()
            .search(&q, &count)
            .map(|n| n as u64)
            .map_err(|e| search_err(&prepared.budget, p, e))
    })?
    .into_iter()
    .sum::<u64>();
    let mut hits = Vec::with_capacity(candidates.len());
    for (_, i, addr) in candidates {
        let p = &partitions[i];
        let searcher = match &searchers[i] {
            Some(s) => s,
            None => continue,
        };
        hits.push(load_hit(store, p, searcher, addr)?);
    }
    Ok((total, hits))
}

fn apply_hit_stage(hits: &mut Vec<Value>, stage: &HitStage) {
    match stage {
        HitStage::Sort(field, dir) => {
            hits.sort_by(|a, b| {
                let (x, y) = (hit_field(a, field), hit_field(b, field));
                let o = crate::table::cmp_json(&x, &y);
                if *dir == SortOrder::Desc {
                    o.reverse()
                } else {
                    o
                }
            });
        }
        HitStage::Limit(n) => hits.truncate(*n),
        HitStage::Fields(fields) => {
            for h in hits.iter_mut() {
                let mut out = serde_json::Map::new();
                out.insert("record_id".into(), h["record_id"].clone());
                out.insert("timestamp".into(), h["timestamp"].clone());
                for f in fields {
                    out.insert(f.display_name(), hit_field(h, f));
                }
                *h = Value::Object(out);
            }
        }
    }
}
