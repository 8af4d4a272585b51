//! Record context: the records logged just before and just after one record by the same
//! service on the same host, wherever (in whichever partitions) they are.
//!
//! The order is (timestamp, record id): records sharing a timestamp keep the order in which
//! the collector received them. Everything is found through term queries and fast fields;
//! only the returned records are read from the doc store.

use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::Arc;

use pharos_collector::index::{LogStore, PartitionHandle};
use serde::Serialize;
use serde_json::Value;
use tantivy::collector::sort_key::SortByStaticFastValue;
use tantivy::collector::TopDocs;
use tantivy::fastfield::FastFieldReaders;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Order, Searcher, Term};

use crate::hits::{index_err, load_hit};
use crate::QueryError;

/// Records on each side when the request names no number.
pub const DEFAULT_CONTEXT: usize = 20;
/// Largest `before` / `after`.
pub const MAX_CONTEXT: usize = 1000;

#[derive(Debug, Serialize)]
pub struct ContextResponse {
    pub record: Value,
    /// The records just before, oldest first.
    pub before: Vec<Value>,
    /// The records just after, oldest first.
    pub after: Vec<Value>,
}

/// The record the context is around, with what its neighbours are searched by.
struct Anchor {
    partition: Arc<PartitionHandle>,
    searcher: Searcher,
    addr: DocAddress,
    ts: i64,
    lsn: u64,
    service: String,
    host: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    After,
}

/// The string of a keyword fast field for one document ("" when it has none).
fn keyword_value(
    p: &PartitionHandle,
    fast: &FastFieldReaders,
    field: &str,
    doc: DocId,
) -> Result<String, QueryError> {
    let mut out = String::new();
    let Some(column) = fast.str(field).map_err(|e| index_err(p, e))? else {
        return Ok(out);
    };
    if let Some(ord) = column.ords().first(doc) {
        column
            .ord_to_str(ord, &mut out)
            .map_err(|e| index_err(p, e.into()))?;
    }
    Ok(out)
}

/// Finds the record whose id (`lsn`) is `record_id`. `lsn` is a fast field without a term
/// dictionary, so this is a range query with equal bounds, evaluated on the column (whose
/// min/max statistics skip most segments).
fn find_anchor(store: &LogStore, record_id: u64) -> Result<Option<Anchor>, QueryError> {
    let lsn_field = store.schema().lsn;
    let query = RangeQuery::new(
        Bound::Included(Term::from_field_u64(lsn_field, record_id)),
        Bound::Included(Term::from_field_u64(lsn_field, record_id)),
    );
    // Newest partitions first: the records people open are mostly recent.
    for p in store.all().into_iter().rev() {
        let searcher = p.reader.searcher();
        let found = searcher
            .search(
                &query,
                &TopDocs::with_limit(1).order_by_fast_field::<u64>("lsn", Order::Asc),
            )
            .map_err(|e| index_err(&p, e))?;
        let Some((_, addr)) = found.into_iter().next() else {
            continue;
        };
        let fast = searcher.segment_reader(addr.segment_ord).fast_fields();
        let ts = fast
            .i64("ts")
            .map_err(|e| index_err(&p, e))?
            .first(addr.doc_id)
            .unwrap_or(0);
        let service = keyword_value(&p, fast, "service", addr.doc_id)?;
        let host = keyword_value(&p, fast, "host", addr.doc_id)?;
        return Ok(Some(Anchor {
            partition: p,
            searcher,
            addr,
            ts,
            lsn: record_id,
            service,
            host,
        }));
    }
    Ok(None)
}

fn term(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Same service and host, and strictly on `side` of the anchor in (ts, lsn) order: a later
/// (earlier) timestamp, or the same timestamp and a higher (lower) lsn. Excluding the anchor's
/// own timestamp-mates on the other side in the query keeps them from filling the top N.
fn neighbour_query(store: &LogStore, a: &Anchor, side: Side) -> Box<dyn Query> {
    let s = store.schema();
    let ts = |v| Term::from_field_i64(s.ts, v);
    let lsn = |v| Term::from_field_u64(s.lsn, v);
    let (other_ts, same_ts_lsn) = match side {
        Side::After => (
            RangeQuery::new(Bound::Excluded(ts(a.ts)), Bound::Unbounded),
            RangeQuery::new(Bound::Excluded(lsn(a.lsn)), Bound::Unbounded),
        ),
        Side::Before => (
            RangeQuery::new(Bound::Unbounded, Bound::Excluded(ts(a.ts))),
            RangeQuery::new(Bound::Unbounded, Bound::Excluded(lsn(a.lsn))),
        ),
    };
    let same_ts = BooleanQuery::new(vec![
        (
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(ts(a.ts)),
                Bound::Included(ts(a.ts)),
            )) as Box<dyn Query>,
        ),
        (Occur::Must, Box::new(same_ts_lsn)),
    ]);
    let position = BooleanQuery::new(vec![
        (Occur::Should, Box::new(other_ts) as Box<dyn Query>),
        (Occur::Should, Box::new(same_ts)),
    ]);
    Box::new(BooleanQuery::new(vec![
        (
            Occur::Must,
            term(Term::from_field_text(s.service, &a.service)),
        ),
        (Occur::Must, term(Term::from_field_text(s.host, &a.host))),
        (Occur::Must, Box::new(position)),
    ]))
}

/// The `n` records nearest the anchor on `side`, oldest first.
fn neighbours(
    store: &LogStore,
    a: &Anchor,
    side: Side,
    n: usize,
) -> Result<Vec<Value>, QueryError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // Partitions in the order of distance from the anchor, so the walk can stop as soon as no
    // further partition can hold a nearer record. Sorting by start (after) and by end (before)
    // stays right even when partitions of different lengths overlap.
    let (mut partitions, order) = match side {
        Side::After => (store.overlapping(a.ts, i64::MAX), Order::Asc),
        Side::Before => (
            store.overlapping(i64::MIN, a.ts.saturating_add(1)),
            Order::Desc,
        ),
    };
    match side {
        Side::After => partitions.sort_by_key(|p| p.range_ns().0),
        Side::Before => partitions.sort_by_key(|p| Reverse(p.range_ns().1)),
    }
    let query = neighbour_query(store, a, side);
    let sort_candidates = |c: &mut Vec<((i64, u64), usize, DocAddress)>| match side {
        Side::After => c.sort_by_key(|c| c.0),
        Side::Before => c.sort_by_key(|c| Reverse(c.0)),
    };

    let mut candidates: Vec<((i64, u64), usize, DocAddress)> = Vec::new();
    let mut searchers = Vec::new();
    for (i, p) in partitions.iter().enumerate() {
        if let Some(((worst_ts, _), _, _)) = candidates.get(n - 1) {
            // Records in `p` lie in [start, end): all further from the anchor than the n-th
            // candidate when the range is wholly beyond its timestamp.
            let (start, end) = p.range_ns();
            let beyond = match side {
                Side::After => start > *worst_ts,
                Side::Before => end <= *worst_ts,
            };
            if beyond {
                break;
            }
        }
        let searcher = p.reader.searcher();
        // (ts, lsn) as the sort key: exact among records sharing a timestamp.
        let top = TopDocs::with_limit(n).order_by((
            (SortByStaticFastValue::<i64>::for_field("ts"), order),
            (SortByStaticFastValue::<u64>::for_field("lsn"), order),
        ));
        let docs = searcher.search(&query, &top).map_err(|e| index_err(p, e))?;
        candidates.extend(
            docs.into_iter().map(|((ts, lsn), addr)| {
                ((ts.unwrap_or_default(), lsn.unwrap_or_default()), i, addr)
            }),
        );
        sort_candidates(&mut candidates);
        candidates.truncate(n);
        searchers.push(searcher);
    }

    let mut hits = Vec::with_capacity(candidates.len());
    for (_, i, addr) in candidates {
        hits.push(load_hit(store, &partitions[i], &searchers[i], addr)?);
    }
    if side == Side::Before {
        hits.reverse(); // collected nearest first
    }
    Ok(hits)
}

/// The record `record_id` with up to `before` / `after` records (defaults
/// [`DEFAULT_CONTEXT`]) of the same service and host around it. Blocking: call from
/// `spawn_blocking`.
pub fn context(
    store: &LogStore,
    record_id: u64,
    before: Option<usize>,
    after: Option<usize>,
) -> Result<ContextResponse, QueryError> {
    let before = before.unwrap_or(DEFAULT_CONTEXT);
    let after = after.unwrap_or(DEFAULT_CONTEXT);
    for (name, n) in [("before", before), ("after", after)] {
        if n > MAX_CONTEXT {
            return Err(QueryError::BadRequest(format!(
                "{name} {n} is over the maximum of {MAX_CONTEXT}"
            )));
        }
    }
    let Some(anchor) = find_anchor(store, record_id)? else {
        return Err(QueryError::NotFound(format!(
            "record {record_id} not found (it may have been removed by retention)"
        )));
    };
    let record = load_hit(store, &anchor.partition, &anchor.searcher, anchor.addr)?;
    Ok(ContextResponse {
        record,
        before: neighbours(store, &anchor, Side::Before, before)?,
        after: neighbours(store, &anchor, Side::After, after)?,
    })
}
