//! Search across partitions: newest first, with the exact total count.

use std::ops::Bound;
use std::time::Instant;

use pharos_collector::index::{LogStore, PartitionHandle};
use pharos_collector::normalize::rebuild;
use pharos_collector::record::Source;
use serde::Serialize;
use serde_json::Value;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::schema::Value as _;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use crate::hit::hit_json;
use crate::QueryError;

/// Largest `limit` a search may ask for.
pub const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// tantivy query syntax over the log fields; "" or "*" matches everything.
    pub query: String,
    /// Inclusive start, Unix ns (None = the beginning of time).
    pub start_ns: Option<i64>,
    /// Exclusive end, Unix ns (None = no end).
    pub end_ns: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, Serialize)]
pub struct SearchResponse {
    pub total: u64,
    pub hits: Vec<Value>,
    pub took_ms: f64,
}

pub(crate) fn index_err(p: &PartitionHandle, source: tantivy::TantivyError) -> QueryError {
    QueryError::Index {
        partition: p.path.display().to_string(),
        source,
    }
}

/// Loads one hit: the stored `raw` is the only document read; the rest of what the
/// normaliser needs (observed time, id, source) comes from fast fields.
pub(crate) fn load_hit(
    store: &LogStore,
    p: &PartitionHandle,
    searcher: &Searcher,
    addr: DocAddress,
) -> Result<Value, QueryError> {
    let doc: TantivyDocument = searcher.doc(addr).map_err(|e| index_err(p, e))?;
    let raw = doc
        .get_first(store.schema().raw)
        .and_then(|v| v.as_bytes())
        .unwrap_or_default();
    let fast = searcher.segment_reader(addr.segment_ord).fast_fields();
    let observed = fast
        .i64("observed")
        .map_err(|e| index_err(p, e))?
        .first(addr.doc_id)
        .unwrap_or(0);
    let lsn = fast
        .u64("lsn")
        .map_err(|e| index_err(p, e))?
        .first(addr.doc_id)
        .unwrap_or(0);
    let source = fast
        .u64("source")
        .map_err(|e| index_err(p, e))?
        .first(addr.doc_id)
        .and_then(Source::from_u64);
    match source.map(|s| rebuild(s, raw, observed)) {
        Some(Ok(record)) => Ok(hit_json(lsn, &record)),
        other => {
            tracing::warn!(lsn, error = ?other.map(|r| r.err()), "stored record could not be rebuilt");
            let raw = String::from_utf8_lossy(raw);
            Ok(serde_json::json!({"record_id": lsn.to_string(), "raw": raw}))
        }
    }
}

/// `[start, end)` with open ends filled in (all of time); an empty range is the caller's error.
pub(crate) fn time_range(
    start_ns: Option<i64>,
    end_ns: Option<i64>,
) -> Result<(i64, i64), QueryError> {
    let start = start_ns.unwrap_or(i64::MIN);
    let end = end_ns.unwrap_or(i64::MAX);
    if end <= start {
        return Err(QueryError::BadRequest("end must be after start".into()));
    }
    Ok((start, end))
}

fn build_query(
    p: &PartitionHandle,
    store: &LogStore,
    req: &SearchRequest,
    start: i64,
    end: i64,
) -> Result<Box<dyn Query>, QueryError> {
    let schema = store.schema();
    let text = req.query.trim();
    let user: Box<dyn Query> = if text.is_empty() || text == "*" {
        Box::new(AllQuery)
    } else {
        let mut parser = QueryParser::for_index(&p.index, vec![schema.message]);
        parser.set_conjunction_by_default();
        parser
            .parse_query(text)
            .map_err(|e| QueryError::Parse(e.to_string()))?
    };
    Ok(within_range(p, store, user, start, end))
}

/// `query` restricted to `[start, end)` on `ts`; unchanged when the partition lies wholly
/// inside the range (no range filter to evaluate per document).
pub(crate) fn within_range(
    p: &PartitionHandle,
    store: &LogStore,
    query: Box<dyn Query>,
    start: i64,
    end: i64,
) -> Box<dyn Query> {
    let (p_start, p_end) = p.range_ns();
    if start <= p_start && end >= p_end {
        return query;
    }
    let ts = store.schema().ts;
    let range = RangeQuery::new(
        Bound::Included(Term::from_field_i64(ts, start)),
        Bound::Excluded(Term::from_field_i64(ts, end)),
    );
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, query),
        (Occur::Must, Box::new(range)),
    ]))
}

/// Runs a search. Blocking (tantivy is synchronous): call from `spawn_blocking`.
pub fn search(store: &LogStore, req: &SearchRequest) -> Result<SearchResponse, QueryError> {
    let started = Instant::now();
    if req.limit > MAX_LIMIT {
        return Err(QueryError::BadRequest(format!(
            "limit {} is over the maximum of {MAX_LIMIT}",
            req.limit
        )));
    }
    let (start, end) = time_range(req.start_ns, req.end_ns)?;
    let partitions = store.overlapping(start, end);
    let mut total = 0u64;
    // (ts, lsn tiebreak later, partition index, address)
    let mut candidates: Vec<(i64, usize, DocAddress)> = Vec::new();
    let mut searchers = Vec::with_capacity(partitions.len());
    for (i, p) in partitions.iter().enumerate() {
        let searcher = p.reader.searcher();
        let query = build_query(p, store, req, start, end)?;
        if req.limit == 0 {
            total += searcher
                .search(&query, &Count)
                .map_err(|e| index_err(p, e))? as u64;
        } else {
            let top = TopDocs::with_limit(req.limit).order_by_fast_field::<i64>("ts", Order::Desc);
            let (docs, count) = searcher
                .search(&query, &(top, Count))
                .map_err(|e| index_err(p, e))?;
            total += count as u64;
            candidates.extend(
                docs.into_iter()
                    .map(|(ts, addr)| (ts.unwrap_or(i64::MIN), i, addr)),
            );
        }
        searchers.push(searcher);
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates.truncate(req.limit);
    let mut hits = Vec::with_capacity(candidates.len());
    for (_, i, addr) in candidates {
        hits.push(load_hit(store, &partitions[i], &searchers[i], addr)?);
    }
    Ok(SearchResponse {
        total,
        hits,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
