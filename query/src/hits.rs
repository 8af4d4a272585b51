//! Loading hits (stored records) and reading fields out of them.

use pharos_collector::index::{LogStore, PartitionHandle};
use pharos_collector::normalize::rebuild;
use pharos_collector::record::Source;
use serde_json::Value;
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::schema::Value as _;
use tantivy::{DocAddress, Searcher, TantivyDocument};

use crate::compile::time_range;
use crate::field::{FieldRef, JsonRoot};
use crate::hit::hit_json;
use crate::QueryError;

pub(crate) fn index_err(p: &PartitionHandle, source: tantivy::TantivyError) -> QueryError {
    QueryError::Index {
        partition: p.path.display().to_string(),
        source,
    }
}

/// Loads one hit: the stored original, rebuilt into the record, as the API shows it.
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
    let first_i64 = |name: &str| -> Result<i64, QueryError> {
        Ok(fast
            .i64(name)
            .map_err(|e| index_err(p, e))?
            .first(addr.doc_id)
            .unwrap_or(0))
    };
    let first_u64 = |name: &str| -> Result<Option<u64>, QueryError> {
        Ok(fast
            .u64(name)
            .map_err(|e| index_err(p, e))?
            .first(addr.doc_id))
    };
    let observed = first_i64("observed")?;
    let lsn = first_u64("lsn")?.unwrap_or(0);
    let source = first_u64("source")?.and_then(Source::from_u64);
    Ok(match source.map(|s| rebuild(s, raw, observed)) {
        Some(Ok(record)) => hit_json(lsn, &record),
        other => {
            tracing::warn!(lsn, error = ?other.map(|r| r.err()), "stored record could not be rebuilt");
            let raw = String::from_utf8_lossy(raw);
            serde_json::json!({"record_id": lsn.to_string(), "raw": raw})
        }
    })
}

/// `[start, end)` with open ends filled in (all of time); an empty range is the caller's error.
pub(crate) fn checked_range(
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
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, query),
        (Occur::Must, time_range(store.schema(), start, end)),
    ]))
}

/// A field's value in a hit (as `hit_json` shapes it); `Null` when absent.
pub fn hit_field(hit: &Value, field: &FieldRef) -> Value {
    match field {
        FieldRef::Message => hit["message"].clone(),
        FieldRef::Keyword(k) => hit[k.field_name()].clone(),
        FieldRef::Severity => hit["severity_number"].clone(),
        FieldRef::Time => hit["timestamp"].clone(),
        FieldRef::RecordId => hit["record_id"].clone(),
        FieldRef::Attr { root, path } => {
            let obj = match root {
                JsonRoot::Attributes => &hit["attributes"],
                JsonRoot::Resource => &hit["resource"],
            };
            json_path(obj, path).cloned().unwrap_or(Value::Null)
        }
    }
}

/// Looks `a.b.c` up in an object whose keys may themselves contain dots (`{"a.b": {"c": 1}}`).
fn json_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(found) = obj.get(path) {
        return Some(found);
    }
    let mut rest = path;
    while let Some(i) = rest.rfind('.') {
        rest = &rest[..i];
        if let Some(inner) = obj.get(rest) {
            if let Some(found) = json_path(inner, &path[i + 1..]) {
                return Some(found);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_find_nested_and_dotted_keys() {
        let v = json!({"http": {"status": 200}, "a.b": {"c": 1}, "x.y": 2});
        assert_eq!(json_path(&v, "http.status"), Some(&json!(200)));
        assert_eq!(json_path(&v, "a.b.c"), Some(&json!(1)));
        assert_eq!(json_path(&v, "x.y"), Some(&json!(2)));
        assert_eq!(json_path(&v, "http.nope"), None);
    }
}
