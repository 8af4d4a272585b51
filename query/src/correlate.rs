//! The request view: every record of one trace or correlation id, across services and
//! partitions, in time order, with per-service statistics.
//!
//! Matching uses the term dictionaries of `trace_id` and `correlation_id` (exact keywords);
//! the order and the statistics come from fast fields, so stored documents are read only for
//! the records returned.

use std::collections::HashMap;
use std::time::Instant;

use pharos_collector::clock::rfc3339;
use pharos_collector::index::LogStore;
use pharos_collector::record::SEVERITY_ERROR;
use serde::Serialize;
use serde_json::Value;
use tantivy::collector::sort_key::SortByStaticFastValue;
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Order, Score, SegmentOrdinal, SegmentReader, Term};

use crate::hits::{checked_range, index_err, load_hit, within_range};
use crate::QueryError;

/// Records returned when the request names no limit.
pub const DEFAULT_LIMIT: usize = 10_000;
/// Largest `limit`: every returned record is read from the doc store and rebuilt.
pub const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Serialize)]
pub struct CorrelateResponse {
    /// The id as asked for.
    pub id: String,
    /// All matching records in the range (not only the returned ones).
    pub total: u64,
    /// True when `total` is more than the records returned.
    pub truncated: bool,
    /// Hits, oldest first (ties by record id).
    pub records: Vec<Value>,
    /// One entry per service, ordered by its first record.
    pub services: Vec<ServiceStats>,
    pub took_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStats {
    pub service: String,
    pub first: String,
    pub last: String,
    pub first_ns: i64,
    pub last_ns: i64,
    pub count: u64,
    /// Records with severity ERROR or above.
    pub errors: u64,
}

/// Per-service accumulator (before the times are formatted).
#[derive(Debug, Clone, Copy)]
struct Acc {
    first_ns: i64,
    last_ns: i64,
    count: u64,
    errors: u64,
}

impl Acc {
    fn new(ts: i64, error: bool) -> Acc {
        Acc {
            first_ns: ts,
            last_ns: ts,
            count: 1,
            errors: u64::from(error),
        }
    }

    fn add(&mut self, ts: i64, error: bool) {
        self.first_ns = self.first_ns.min(ts);
        self.last_ns = self.last_ns.max(ts);
        self.count += 1;
        self.errors += u64::from(error);
    }

    fn merge(&mut self, other: &Acc) {
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        self.count += other.count;
        self.errors += other.errors;
    }
}

/// Counts every matching record per service from fast fields (`ts`, `severity`, `service`),
/// so the statistics cover all matches while only `limit` of them are loaded.
struct ServiceStatsCollector;

struct ServiceStatsSegment {
    ts: Column<i64>,
    severity: Column<u64>,
    service: Option<StrColumn>,
    /// Keyed by the service's term ordinal in this segment; strings are looked up once, at
    /// harvest. `u64::MAX` stands for a record without a service value.
    by_ord: HashMap<u64, Acc>,
}

type Stats = HashMap<String, Acc>;

impl Collector for ServiceStatsCollector {
    type Fruit = Stats;
    type Child = ServiceStatsSegment;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<ServiceStatsSegment> {
        let fast = segment.fast_fields();
        Ok(ServiceStatsSegment {
            ts: fast.i64("ts")?,
            severity: fast.u64("severity")?,
            service: fast.str("service")?,
            by_ord: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Result<Stats, String>>) -> tantivy::Result<Stats> {
        let mut all = Stats::new();
        for fruit in fruits {
            for (service, acc) in fruit.map_err(tantivy::TantivyError::InternalError)? {
                all.entry(service)
                    .and_modify(|a| a.merge(&acc))
                    .or_insert(acc);
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for ServiceStatsSegment {
    // A segment's service names may fail to load (I/O on the dictionary): the error travels
    // in the fruit because `harvest` cannot fail, and `merge_fruits` returns it.
    type Fruit = Result<Stats, String>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(ts) = self.ts.first(doc) else {
            return; // every indexed record has a timestamp; nothing to place otherwise
        };
        let error = self
            .severity
            .first(doc)
            .is_some_and(|s| s >= u64::from(SEVERITY_ERROR));
        let ord = self
            .service
            .as_ref()
            .and_then(|c| c.ords().first(doc))
            .unwrap_or(u64::MAX);
        self.by_ord
            .entry(ord)
            .and_modify(|a| a.add(ts, error))
            .or_insert_with(|| Acc::new(ts, error));
    }

    fn harvest(self) -> Result<Stats, String> {
        let mut out = Stats::with_capacity(self.by_ord.len());
        let mut name = String::new();
        for (ord, acc) in self.by_ord {
            name.clear();
            if let (Some(col), true) = (&self.service, ord != u64::MAX) {
                col.ord_to_str(ord, &mut name)
                    .map_err(|e| format!("reading the service dictionary: {e}"))?;
            }
            out.entry(name.clone())
                .and_modify(|a| a.merge(&acc))
                .or_insert(acc);
        }
        Ok(out)
    }
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// All records of `id` in `[start_ns, end_ns)` (default: all of time), oldest first, at most
/// `limit` (default [`DEFAULT_LIMIT`]). Blocking: call from `spawn_blocking`.
///
/// `id` matches `trace_id` as the normaliser stores it (trimmed, lowercase hex) or
/// `correlation_id` exactly as sent.
pub fn correlate(
    store: &LogStore,
    id: &str,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    limit: Option<usize>,
) -> Result<CorrelateResponse, QueryError> {
    let started = Instant::now();
    if id.trim().is_empty() {
        // An empty id would match every record that has no trace or correlation id.
        return Err(QueryError::BadRequest("the id must not be empty".into()));
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(QueryError::BadRequest(format!(
            "limit {limit} is over the maximum of {MAX_LIMIT}"
        )));
    }
    let (start, end) = checked_range(start_ns, end_ns)?;
    let schema = store.schema();
    let trace_id = id.trim().to_ascii_lowercase();
    let partitions = store.overlapping(start, end);

    let mut stats = Stats::new();
    // ((ts, lsn), partition index, address): each partition's first `limit`, merged below.
    let mut candidates: Vec<((i64, u64), usize, DocAddress)> = Vec::new();
    let mut searchers = Vec::with_capacity(partitions.len());
    for (i, p) in partitions.iter().enumerate() {
        // Both clauses optional inside their own query: a record matches by either id.
        let ids = BooleanQuery::new(vec![
            (
                Occur::Should,
                term_query(Term::from_field_text(schema.trace_id, &trace_id)),
            ),
            (
                Occur::Should,
                term_query(Term::from_field_text(schema.correlation_id, id)),
            ),
        ]);
        let query = within_range(p, store, Box::new(ids), start, end);
        // (ts, lsn) ascending is exact even for records sharing a timestamp.
        let top = (limit > 0).then(|| {
            TopDocs::with_limit(limit).order_by((
                (SortByStaticFastValue::<i64>::for_field("ts"), Order::Asc),
                (SortByStaticFastValue::<u64>::for_field("lsn"), Order::Asc),
            ))
        });
        let searcher = p.reader.searcher();
        let (docs, segment_stats) = searcher
            .search(&query, &(top, ServiceStatsCollector))
            .map_err(|e| index_err(p, e))?;
        for (service, acc) in segment_stats {
            stats
                .entry(service)
                .and_modify(|a| a.merge(&acc))
                .or_insert(acc);
        }
        candidates.extend(
            docs.into_iter().flatten().map(|((ts, lsn), addr)| {
                ((ts.unwrap_or(i64::MIN), lsn.unwrap_or(u64::MIN)), i, addr)
            }),
        );
        searchers.push(searcher);
    }
    candidates.sort_by_key(|c| c.0);
    candidates.truncate(limit);

    let mut records = Vec::with_capacity(candidates.len());
    for (_, i, addr) in candidates {
        records.push(load_hit(store, &partitions[i], &searchers[i], addr)?);
    }
    let total: u64 = stats.values().map(|a| a.count).sum();
    let mut services: Vec<ServiceStats> = stats
        .into_iter()
        .map(|(service, a)| ServiceStats {
            service,
            first: rfc3339(a.first_ns),
            last: rfc3339(a.last_ns),
            first_ns: a.first_ns,
            last_ns: a.last_ns,
            count: a.count,
            errors: a.errors,
        })
        .collect();
    services.sort_by(|a, b| {
        (a.first_ns, a.last_ns, &a.service).cmp(&(b.first_ns, b.last_ns, &b.service))
    });
    Ok(CorrelateResponse {
        id: id.to_string(),
        total,
        truncated: total > records.len() as u64,
        records,
        services,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
