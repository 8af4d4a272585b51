//! Field statistics for the UI's sidebar and autocompletion: which fields the records of a
//! time range have, of which types, how many records have each, and their most frequent
//! values (numbers: min and max).
//!
//! Everything is read from the columnar (fast field) store: per segment, the documents whose
//! `ts` is in range are selected from the `ts` column, and each field's column is read for
//! those documents only. Keyword values are counted by term ordinal and turned into strings
//! once per segment, so no stored document is ever read.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use pharos_collector::clock::rfc3339;
use pharos_collector::index::{LogStore, PartitionHandle};
use serde::Serialize;
use serde_json::Value;
use tantivy::columnar::{Column, ColumnType, ColumnarReader, DynamicColumn, StrColumn};
use tantivy::index::SegmentComponent;
use tantivy::{BitSet, DocId, SegmentReader};

use crate::hits::{checked_range, index_err};
use crate::QueryError;

/// Top values per field when the request names no number.
pub const DEFAULT_TOP: usize = 10;
/// Largest `top`.
pub const MAX_TOP: usize = 1000;
/// Fields returned when the request names no number: the most common ones. A range whose
/// records carry thousands of distinct attribute keys (a key per user id, say) would otherwise
/// answer megabytes a sidebar cannot show.
pub const DEFAULT_MAX_FIELDS: usize = 500;
/// Largest `limit` of fields.
pub const MAX_FIELDS: usize = 10_000;

/// Distinct values of one field kept per segment before merging by string. A field with more
/// distinct values than this in one segment (ids, timestamps as text) keeps that segment's
/// most frequent ones only: its top values are then approximate, which for such a field
/// matters little, and the cost stays bounded.
const MAX_DISTINCT_PER_SEGMENT: usize = 10_000;

/// Documents read from a column per batch.
const BATCH: usize = 4096;

/// Built-in keyword fields reported with their top values.
const KEYWORDS: &[&str] = &["level", "service", "host"];
/// Built-in keyword fields reported without top values: nearly every value is unique.
const IDS: &[&str] = &["trace_id", "correlation_id"];

const JSON_SEP: char = '\u{1}'; // tantivy's JSON_PATH_SEGMENT_SEP in column names

#[derive(Debug, Serialize)]
pub struct FieldsResponse {
    /// Most common fields first (then by name), at most the request's `limit`.
    pub fields: Vec<FieldStats>,
    /// Fields the range has in all (more than `fields.len()` when `truncated`).
    pub total_fields: usize,
    /// More fields exist than were returned (the least common were left out).
    pub truncated: bool,
    pub took_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldStats {
    /// `level`, `service`, `host`, `trace_id`, `correlation_id`; an attribute path such as
    /// `http.status_code`; a resource path as `resource.<path>`.
    pub name: String,
    /// Of `keyword`, `number`, `bool`, `datetime`, `ip`, `bytes`: more than one when records
    /// disagree.
    pub types: Vec<&'static str>,
    /// Records in the range having the field.
    pub count: u64,
    /// Most frequent values (keyword and bool fields), most frequent first.
    pub top: Vec<TopValue>,
    /// Smallest and largest value of numbers (datetimes: RFC 3339); null otherwise.
    pub min: Value,
    pub max: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Keyword,
    Number,
    Bool,
    Datetime,
    Ip,
    Bytes,
}

impl Kind {
    fn of(t: ColumnType) -> Kind {
        match t {
            ColumnType::Str => Kind::Keyword,
            ColumnType::I64 | ColumnType::U64 | ColumnType::F64 => Kind::Number,
            ColumnType::Bool => Kind::Bool,
            ColumnType::DateTime => Kind::Datetime,
            ColumnType::IpAddr => Kind::Ip,
            ColumnType::Bytes => Kind::Bytes,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Keyword => "keyword",
            Kind::Number => "number",
            Kind::Bool => "bool",
            Kind::Datetime => "datetime",
            Kind::Ip => "ip",
            Kind::Bytes => "bytes",
        }
    }
}

/// A number as the column holds it, compared exactly across integer kinds.
#[derive(Debug, Clone, Copy)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

impl Num {
    fn cmp(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::I(a), Num::I(b)) => a.cmp(&b),
            (Num::U(a), Num::U(b)) => a.cmp(&b),
            (Num::I(a), Num::U(b)) => i128::from(a).cmp(&i128::from(b)),
            (Num::U(a), Num::I(b)) => i128::from(a).cmp(&i128::from(b)),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::I(v) => v as f64,
            Num::U(v) => v as f64,
            Num::F(v) => v,
        }
    }

    fn json(self) -> Value {
        match self {
            Num::I(v) => Value::from(v),
            Num::U(v) => Value::from(v),
            Num::F(v) => serde_json::Number::from_f64(v)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        }
    }
}

/// Smallest and largest of what was seen.
#[derive(Debug, Clone, Copy)]
struct MinMax<T>(Option<(T, T)>);

impl<T: Copy> MinMax<T> {
    fn add(&mut self, v: T, cmp: impl Fn(T, T) -> Ordering) {
        self.0 = Some(match self.0 {
            None => (v, v),
            Some((lo, hi)) => (
                if cmp(v, lo) == Ordering::Less { v } else { lo },
                if cmp(v, hi) == Ordering::Greater {
                    v
                } else {
                    hi
                },
            ),
        });
    }
}

/// What is known of one field over all segments so far.
#[derive(Debug)]
struct FieldAcc {
    kinds: BTreeSet<Kind>,
    count: u64,
    wants_top: bool,
    values: HashMap<String, u64>,
    numbers: MinMax<Num>,
    dates: MinMax<i64>,
}

/// The name a column is reported under, whether its values are listed, and whether the
/// empty string means "absent" (built-in fields are "" when a record has none); `None` for
/// internal columns (`ts`, `lsn`, ...).
fn display_name(column: &str) -> Option<(String, bool, bool)> {
    if KEYWORDS.contains(&column) {
        return Some((column.to_string(), true, true));
    }
    if IDS.contains(&column) {
        return Some((column.to_string(), false, true));
    }
    if let Some(path) = column.strip_prefix("attributes\u{1}") {
        let path = path.replace(JSON_SEP, ".");
        // Attributes are shown bare unless the bare name would be taken for a built-in or a
        // resource field.
        let taken = KEYWORDS.contains(&path.as_str())
            || IDS.contains(&path.as_str())
            || path.starts_with("resource.");
        let name = if taken {
            format!("attributes.{path}")
        } else {
            path
        };
        return Some((name, true, false));
    }
    if let Some(path) = column.strip_prefix("resource\u{1}") {
        return Some((
            format!("resource.{}", path.replace(JSON_SEP, ".")),
            true,
            false,
        ));
    }
    None
}

/// Records (documents) that have a value in any of a field's columns; distinct per segment.
struct Presence {
    /// Needed only when a field has several columns (types) in the segment.
    bits: Option<BitSet>,
    last: Option<DocId>,
    /// Distinct documents.
    count: u64,
    /// Values seen (documents with repeats): tells whether a column had any in range.
    values: u64,
}

impl Presence {
    fn new(columns: usize, max_doc: DocId) -> Presence {
        Presence {
            bits: (columns > 1).then(|| BitSet::with_max_value(max_doc)),
            last: None,
            count: 0,
            values: 0,
        }
    }

    /// Documents arrive in ascending order within one column.
    fn mark(&mut self, doc: DocId) {
        self.values += 1;
        match &mut self.bits {
            Some(bits) => self.count += u64::from(bits.insert(doc)),
            None if self.last != Some(doc) => {
                self.last = Some(doc);
                self.count += 1;
            }
            None => {}
        }
    }
}

/// Calls `f(doc, value)` for every value of `column` in the (ascending) `docs`, in batches.
fn scan<T>(column: &Column<T>, docs: &[DocId], mut f: impl FnMut(DocId, T))
where
    T: PartialOrd + Copy + Default + std::fmt::Debug + Send + Sync + 'static,
{
    let mut docs_out = Vec::with_capacity(BATCH);
    let mut rows = Vec::with_capacity(BATCH);
    let mut values = Vec::with_capacity(BATCH);
    for batch in docs.chunks(BATCH) {
        docs_out.clear();
        rows.clear();
        column.row_ids_for_docs(batch, &mut docs_out, &mut rows);
        values.clear();
        values.resize(rows.len(), T::default());
        column.values.get_vals(&rows, &mut values);
        for (doc, v) in docs_out.iter().zip(&values) {
            f(*doc, *v);
        }
    }
}

/// Marks the `docs` that have a value in `column` (values not read: types without stats).
fn mark_present<T>(column: &Column<T>, docs: &[DocId], presence: &mut Presence)
where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
{
    let mut docs_out = Vec::with_capacity(BATCH);
    let mut rows = Vec::with_capacity(BATCH);
    for batch in docs.chunks(BATCH) {
        docs_out.clear();
        rows.clear();
        column.row_ids_for_docs(batch, &mut docs_out, &mut rows);
        for doc in &docs_out {
            presence.mark(*doc);
        }
    }
}

/// The documents of a segment whose `ts` is in `[start, end)` and that are not deleted.
fn docs_in_range(
    p: &PartitionHandle,
    segment: &SegmentReader,
    start: i64,
    end: i64,
) -> Result<Vec<DocId>, QueryError> {
    let ts = segment
        .fast_fields()
        .i64("ts")
        .map_err(|e| index_err(p, e))?;
    let max_doc = segment.max_doc();
    let mut docs = Vec::new();
    if max_doc == 0 || ts.max_value() < start || ts.min_value() >= end {
        return Ok(docs);
    }
    if ts.min_value() >= start && ts.max_value() < end {
        docs.extend(0..max_doc); // the whole segment: no need to read the column
    } else {
        ts.get_docids_for_value_range(start..=end - 1, 0..max_doc, &mut docs);
    }
    if segment.has_deletes() {
        docs.retain(|d| !segment.is_deleted(*d));
    }
    Ok(docs)
}

/// Keyword values of one segment's column: counts per term ordinal over the selected
/// documents (each value once per document), turned into strings at the end.
fn keyword_counts(
    column: &StrColumn,
    docs: &[DocId],
    skip_empty: bool,
    want_values: bool,
    presence: &mut Presence,
) -> std::io::Result<Vec<(String, u64)>> {
    let empty_ord = if skip_empty {
        column.dictionary().term_ord(b"")?
    } else {
        None
    };
    let mut counts = vec![0u64; if want_values { column.num_terms() } else { 0 }];
    // Ordinals of the current document, to count a value repeated in an array once.
    let mut current: (Option<DocId>, Vec<u64>) = (None, Vec::new());
    let flush = |ords: &mut Vec<u64>, counts: &mut Vec<u64>| {
        ords.sort_unstable();
        ords.dedup();
        for o in ords.drain(..) {
            if let Some(c) = counts.get_mut(o as usize) {
                *c += 1;
            }
        }
    };
    scan(column.ords(), docs, |doc, ord| {
        if Some(ord) == empty_ord {
            return;
        }
        presence.mark(doc);
        if !want_values {
            return;
        }
        if current.0 != Some(doc) {
            flush(&mut current.1, &mut counts);
            current.0 = Some(doc);
        }
        current.1.push(ord);
    });
    flush(&mut current.1, &mut counts);

    let mut nonzero: Vec<(u64, u64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(o, c)| (o as u64, *c))
        .collect();
    if nonzero.len() > MAX_DISTINCT_PER_SEGMENT {
        nonzero.select_nth_unstable_by_key(MAX_DISTINCT_PER_SEGMENT, |(_, c)| Reverse(*c));
        nonzero.truncate(MAX_DISTINCT_PER_SEGMENT);
        nonzero.sort_unstable_by_key(|(o, _)| *o);
    }
    let ords: Vec<u64> = nonzero.iter().map(|(o, _)| *o).collect();
    let mut out = Vec::with_capacity(nonzero.len());
    let mut next = nonzero.iter();
    column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        if let Some((_, c)) = next.next() {
            out.push((String::from_utf8_lossy(bytes).into_owned(), *c));
        }
    })?;
    Ok(out)
}

/// Adds one segment's columns of one field to its accumulator.
fn add_columns(
    acc: &mut FieldAcc,
    columns: Vec<DynamicColumn>,
    docs: &[DocId],
    max_doc: DocId,
    skip_empty: bool,
) -> std::io::Result<()> {
    let mut presence = Presence::new(columns.len(), max_doc);
    for column in columns {
        let kind = Kind::of(column.column_type());
        let values_before = presence.values;
        match column {
            DynamicColumn::Str(c) => {
                for (value, n) in
                    keyword_counts(&c, docs, skip_empty, acc.wants_top, &mut presence)?
                {
                    *acc.values.entry(value).or_default() += n;
                }
            }
            DynamicColumn::Bool(c) => {
                let mut counts = [0u64; 2];
                // Values already counted for the current document (an array counts each of
                // true / false once per record).
                let mut current: (Option<DocId>, [bool; 2]) = (None, [false; 2]);
                scan(&c, docs, |doc, v| {
                    presence.mark(doc);
                    if current.0 != Some(doc) {
                        current = (Some(doc), [false; 2]);
                    }
                    let i = usize::from(v);
                    if !current.1[i] {
                        current.1[i] = true;
                        counts[i] += 1;
                    }
                });
                for (value, n) in [("false", counts[0]), ("true", counts[1])] {
                    if n > 0 {
                        *acc.values.entry(value.to_string()).or_default() += n;
                    }
                }
            }
            DynamicColumn::I64(c) => scan(&c, docs, |doc, v| {
                presence.mark(doc);
                acc.numbers.add(Num::I(v), Num::cmp);
            }),
            DynamicColumn::U64(c) => scan(&c, docs, |doc, v| {
                presence.mark(doc);
                acc.numbers.add(Num::U(v), Num::cmp);
            }),
            DynamicColumn::F64(c) => scan(&c, docs, |doc, v| {
                presence.mark(doc);
                acc.numbers.add(Num::F(v), Num::cmp);
            }),
            DynamicColumn::DateTime(c) => scan(&c, docs, |doc, v| {
                presence.mark(doc);
                acc.dates
                    .add(v.into_timestamp_nanos(), |a: i64, b: i64| a.cmp(&b));
            }),
            DynamicColumn::IpAddr(c) => mark_present(&c, docs, &mut presence),
            DynamicColumn::Bytes(c) => mark_present(c.ords(), docs, &mut presence),
        }
        // A type is listed only if some record in range has a value of it.
        if presence.values > values_before {
            acc.kinds.insert(kind);
        }
    }
    acc.count += presence.count;
    Ok(())
}

/// Statistics of every field of the records in `[start_ns, end_ns)` (default: all of time),
/// with up to `top` values each. Blocking: call from `spawn_blocking`.
pub fn field_stats(
    store: &LogStore,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    top: usize,
) -> Result<FieldsResponse, QueryError> {
    field_stats_limited(store, start_ns, end_ns, top, DEFAULT_MAX_FIELDS)
}

/// [`field_stats`] returning at most `max_fields` fields, the most common first.
pub fn field_stats_limited(
    store: &LogStore,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    top: usize,
    max_fields: usize,
) -> Result<FieldsResponse, QueryError> {
    let started = Instant::now();
    if top > MAX_TOP {
        return Err(QueryError::BadRequest(format!(
            "top {top} is over the maximum of {MAX_TOP}"
        )));
    }
    if max_fields == 0 || max_fields > MAX_FIELDS {
        return Err(QueryError::BadRequest(format!(
            "limit {max_fields} must be between 1 and {MAX_FIELDS}"
        )));
    }
    let (start, end) = checked_range(start_ns, end_ns)?;
    let mut fields: BTreeMap<String, FieldAcc> = BTreeMap::new();
    for p in store.overlapping(start, end) {
        let searcher = p.reader.searcher();
        for segment in searcher.segment_readers() {
            let docs = docs_in_range(&p, segment, start, end)?;
            if docs.is_empty() {
                continue;
            }
            // The column names are in the segment's columnar dictionary, which
            // `FastFieldReaders` does not expose: open it again (the directory hands back the
            // memory map the segment reader already holds, even after a merge deleted the
            // file).
            let file = segment
                .open_read(SegmentComponent::FastFields)
                .map_err(|e| index_err(&p, e.into()))?;
            let columnar = ColumnarReader::open(file).map_err(|e| index_err(&p, e.into()))?;
            // Sorted by name, so the columns (one per type) of a field are adjacent.
            let mut by_name: Vec<(String, Vec<DynamicColumn>)> = Vec::new();
            for (name, handle) in columnar
                .list_columns()
                .map_err(|e| index_err(&p, e.into()))?
            {
                let column = handle.open().map_err(|e| index_err(&p, e.into()))?;
                match by_name.last_mut() {
                    Some((last, columns)) if *last == name => columns.push(column),
                    _ => by_name.push((name, vec![column])),
                }
            }
            for (column_name, columns) in by_name {
                let Some((name, wants_top, skip_empty)) = display_name(&column_name) else {
                    continue;
                };
                let acc = fields.entry(name).or_insert_with(|| FieldAcc {
                    kinds: BTreeSet::new(),
                    count: 0,
                    wants_top,
                    values: HashMap::new(),
                    numbers: MinMax(None),
                    dates: MinMax(None),
                });
                add_columns(acc, columns, &docs, segment.max_doc(), skip_empty)
                    .map_err(|e| index_err(&p, e.into()))?;
            }
        }
    }

    // Most common first; only the fields returned get their top values sorted out.
    let mut present: Vec<(String, FieldAcc)> = fields
        .into_iter()
        .filter(|(_, acc)| acc.count > 0)
        .collect();
    present.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
    let total_fields = present.len();
    present.truncate(max_fields);
    let out: Vec<FieldStats> = present
        .into_iter()
        .map(|(name, acc)| finish(name, acc, top))
        .collect();
    Ok(FieldsResponse {
        truncated: total_fields > out.len(),
        total_fields,
        fields: out,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

fn finish(name: String, acc: FieldAcc, top: usize) -> FieldStats {
    let mut values: Vec<TopValue> = if acc.wants_top {
        acc.values
            .into_iter()
            .map(|(value, count)| TopValue { value, count })
            .collect()
    } else {
        Vec::new()
    };
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    values.truncate(top);
    // Numbers win over datetimes in the rare field that has both.
    let (min, max) = match (acc.numbers.0, acc.dates.0) {
        (Some((lo, hi)), _) => (lo.json(), hi.json()),
        (None, Some((lo, hi))) => (Value::from(rfc3339(lo)), Value::from(rfc3339(hi))),
        (None, None) => (Value::Null, Value::Null),
    };
    FieldStats {
        name,
        types: acc.kinds.into_iter().map(Kind::name).collect(),
        count: acc.count,
        top: values,
        min,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_map_to_field_names() {
        let shown = display_name;
        assert_eq!(shown("service"), Some(("service".into(), true, true)));
        assert_eq!(shown("trace_id"), Some(("trace_id".into(), false, true)));
        assert_eq!(
            shown("attributes\u{1}http\u{1}status_code"),
            Some(("http.status_code".into(), true, false))
        );
        assert_eq!(
            shown("resource\u{1}service\u{1}name"),
            Some(("resource.service.name".into(), true, false))
        );
        // An attribute whose bare name is a built-in's or looks like a resource path keeps
        // its prefix.
        assert_eq!(
            shown("attributes\u{1}host"),
            Some(("attributes.host".into(), true, false))
        );
        assert_eq!(
            shown("attributes\u{1}resource\u{1}x"),
            Some(("attributes.resource.x".into(), true, false))
        );
        for internal in ["ts", "lsn", "observed", "severity", "source", "message"] {
            assert_eq!(shown(internal), None, "{internal}");
        }
    }

    #[test]
    fn numbers_compare_across_kinds() {
        assert_eq!(Num::I(-1).cmp(Num::U(0)), Ordering::Less);
        assert_eq!(Num::U(u64::MAX).cmp(Num::I(i64::MAX)), Ordering::Greater);
        assert_eq!(Num::F(1.5).cmp(Num::I(1)), Ordering::Greater);
        let mut m = MinMax(None);
        for v in [Num::I(3), Num::F(-0.5), Num::U(10)] {
            m.add(v, Num::cmp);
        }
        let (lo, hi) = m.0.expect("values");
        assert_eq!(
            (lo.json(), hi.json()),
            (serde_json::json!(-0.5), serde_json::json!(10))
        );
    }
}
