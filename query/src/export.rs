//! Streams a query's full result (every matching record, or an aggregation's rows) as NDJSON
//! or CSV, in bounded memory: one partition's matching (time, address) pairs at a time,
//! documents loaded and written in chunks as the consumer takes them.

use std::sync::Arc;

use pharos_collector::index::{LogStore, PartitionHandle};
use serde_json::Value;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Query;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::compile::compile;
use crate::exec::{execute, Mode, Prepared, QueryResult};
use crate::field::FieldRef;
use crate::hits::{hit_field, index_err, load_hit};
use crate::lang::SortOrder;
use crate::QueryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "ndjson" | "json" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Bytes per chunk handed to the consumer.
const CHUNK: usize = 64 * 1024;

/// Collects every matching document's timestamp and address.
struct AllByTime;

struct AllByTimeSegment {
    ts: tantivy::columnar::Column<i64>,
    ord: SegmentOrdinal,
    found: Vec<(i64, DocAddress)>,
}

impl Collector for AllByTime {
    type Fruit = Vec<(i64, DocAddress)>;
    type Child = AllByTimeSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<AllByTimeSegment> {
        Ok(AllByTimeSegment {
            ts: reader.fast_fields().i64("ts")?,
            ord,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for AllByTimeSegment {
    type Fruit = Vec<(i64, DocAddress)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let t = self.ts.first(doc).unwrap_or(i64::MIN);
        self.found.push((t, DocAddress::new(self.ord, doc)));
    }

    fn harvest(self) -> Self::Fruit {
        self.found
    }
}

/// The CSV columns of a plain record export.
const RECORD_COLUMNS: [&str; 9] = [
    "timestamp",
    "level",
    "service",
    "host",
    "trace_id",
    "span_id",
    "correlation_id",
    "message",
    "attributes",
];

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing strings into memory cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Streams the result to `sink`, which returns `false` when the consumer is gone. Blocking.
pub fn export(
    store: &LogStore,
    prepared: &Prepared,
    format: Format,
    mut sink: impl FnMut(Vec<u8>) -> bool,
) -> Result<(), QueryError> {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut flush = |buf: &mut Vec<u8>, force: bool| -> bool {
        if buf.len() >= CHUNK || (force && !buf.is_empty()) {
            sink(std::mem::take(buf))
        } else {
            true
        }
    };
    match &prepared.mode {
        Mode::Table(_) => {
            let QueryResult::Table { columns, rows, .. } = execute(store, prepared)? else {
                return Ok(());
            };
            if format == Format::Csv {
                buf.extend(csv_line(&columns));
            }
            for row in rows {
                match format {
                    Format::Csv => buf.extend(csv_line(&row.iter().map(cell).collect::<Vec<_>>())),
                    Format::Ndjson => {
                        let obj: serde_json::Map<String, Value> =
                            columns.iter().cloned().zip(row).collect();
                        buf.extend(Value::Object(obj).to_string().as_bytes());
                        buf.push(b'\n');
                    }
                }
                if !flush(&mut buf, false) {
                    return Ok(());
                }
            }
            flush(&mut buf, true);
            Ok(())
        }
        Mode::Hits { sort, limit, post } => {
            let fields: Option<Vec<FieldRef>> = post.iter().find_map(|s| match s {
                crate::exec::HitStage::Fields(f) => Some(f.clone()),
                _ => None,
            });
            // An explicit `| limit` caps the export; the API's page size does not.
            let cap = post
                .iter()
                .filter_map(|s| match s {
                    crate::exec::HitStage::Limit(n) => Some(*n),
                    _ => None,
                })
                .chain((*limit < crate::exec::MAX_LIMIT).then_some(*limit))
                .min()
                .unwrap_or(usize::MAX);
            let ascending = matches!(sort, Some((FieldRef::Time, SortOrder::Asc)));
            if format == Format::Csv {
                let header: Vec<String> = match &fields {
                    Some(f) => ["record_id".to_string(), "timestamp".to_string()]
                        .into_iter()
                        .chain(f.iter().map(FieldRef::display_name))
                        .collect(),
                    None => RECORD_COLUMNS.iter().map(|s| s.to_string()).collect(),
                };
                buf.extend(csv_line(&header));
            }
            let compiled = compile(store.schema(), &prepared.filter)?;
            let mut partitions = if prepared.start < prepared.end {
                store.overlapping(prepared.start, prepared.end)
            } else {
                Vec::new()
            };
            partitions.sort_by_key(|p| p.range_ns().0);
            if !ascending {
                partitions.reverse();
            }
            let mut written = 0usize;
            for p in partitions {
                if written >= cap {
                    break;
                }
                let done = export_partition(
                    store,
                    &p,
                    compiled.as_ref(),
                    prepared,
                    ascending,
                    cap - written,
                    |hit| {
                        match format {
                            Format::Ndjson => {
                                let v = match &fields {
                                    Some(f) => project(&hit, f),
                                    None => hit,
                                };
                                buf.extend(v.to_string().as_bytes());
                                buf.push(b'\n');
                            }
                            Format::Csv => {
                                let row: Vec<String> = match &fields {
                                    Some(f) => [cell(&hit["record_id"]), cell(&hit["timestamp"])]
                                        .into_iter()
                                        .chain(f.iter().map(|f| cell(&hit_field(&hit, f))))
                                        .collect(),
                                    None => RECORD_COLUMNS.iter().map(|c| cell(&hit[*c])).collect(),
                                };
                                buf.extend(csv_line(&row));
                            }
                        }
                        flush(&mut buf, false)
                    },
                )?;
                match done {
                    Some(n) => written += n,
                    None => return Ok(()), // the consumer left
                }
            }
            flush(&mut buf, true);
            Ok(())
        }
    }
}

fn project(hit: &Value, fields: &[FieldRef]) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("record_id".into(), hit["record_id"].clone());
    out.insert("timestamp".into(), hit["timestamp"].clone());
    for f in fields {
        out.insert(f.display_name(), hit_field(hit, f));
    }
    Value::Object(out)
}

/// Writes one partition's matches in time order; `None` if the consumer left.
fn export_partition(
    store: &LogStore,
    p: &Arc<PartitionHandle>,
    compiled: &dyn Query,
    prepared: &Prepared,
    ascending: bool,
    cap: usize,
    mut emit: impl FnMut(Value) -> bool,
) -> Result<Option<usize>, QueryError> {
    let searcher = p.reader.searcher();
    let q = crate::exec::partition_query(store, p, compiled, prepared.start, prepared.end);
    let mut found = searcher
        .search(&q, &AllByTime)
        .map_err(|e| index_err(p, e))?;
    if ascending {
        found.sort_by_key(|(t, a)| (*t, a.segment_ord, a.doc_id));
    } else {
        found.sort_by_key(|(t, a)| std::cmp::Reverse((*t, a.segment_ord, a.doc_id)));
    }
    found.truncate(cap);
    let n = found.len();
    for (_, addr) in found {
        if !emit(load_hit(store, p, &searcher, addr)?) {
            return Ok(None);
        }
    }
    Ok(Some(n))
}
