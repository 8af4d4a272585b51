//! Counts (and for histograms, the values of one numeric field) per group of label values,
//! for one time window, read from fast fields.

use std::collections::HashMap;

use pharos_collector::index::LogStore;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::agg::value::{FieldReader, GVal, KeyPart};
use crate::compile::compile;
use crate::field::FieldRef;
use crate::filter::Filter;
use crate::hits::{index_err, within_range};
use crate::QueryError;

/// Per group: the number of records and the numeric values of the measured field.
pub type Groups = HashMap<Vec<GVal>, (u64, Vec<f64>)>;

struct GroupValues {
    keys: Vec<FieldRef>,
    value: Option<FieldRef>,
}

struct GroupValuesSegment {
    keys: Vec<FieldReader>,
    value: Option<FieldReader>,
    groups: HashMap<Vec<KeyPart>, (u64, Vec<f64>)>,
}

impl Collector for GroupValues {
    type Fruit = Groups;
    type Child = GroupValuesSegment;

    fn for_segment(
        &self,
        _ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<GroupValuesSegment> {
        Ok(GroupValuesSegment {
            keys: self
                .keys
                .iter()
                .map(|k| FieldReader::open(reader, k))
                .collect::<tantivy::Result<_>>()?,
            value: self
                .value
                .as_ref()
                .map(|v| FieldReader::open(reader, v))
                .transpose()?,
            groups: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Groups>) -> tantivy::Result<Groups> {
        let mut all = Groups::new();
        for f in fruits {
            merge(&mut all, f);
        }
        Ok(all)
    }
}

fn merge(into: &mut Groups, from: Groups) {
    for (k, (n, mut values)) in from {
        let e = into.entry(k).or_default();
        e.0 += n;
        e.1.append(&mut values);
    }
}

impl SegmentCollector for GroupValuesSegment {
    type Fruit = Groups;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let key: Vec<KeyPart> = self.keys.iter().map(|r| r.first(doc)).collect();
        let entry = self.groups.entry(key).or_default();
        entry.0 += 1;
        if let Some(v) = &self.value {
            v.for_each_number(doc, |x| entry.1.push(x));
        }
    }

    fn harvest(self) -> Groups {
        self.groups
            .into_iter()
            .map(|(k, v)| {
                let key = k
                    .into_iter()
                    .zip(&self.keys)
                    .map(|(part, reader)| reader.resolve(part))
                    .collect();
                (key, v)
            })
            .fold(Groups::new(), |mut acc, (k, v)| {
                merge(&mut acc, Groups::from([(k, v)]));
                acc
            })
    }
}

/// Records matching `filter` with `start_ns <= ts < end_ns`, grouped. Blocking.
pub fn group_values(
    store: &LogStore,
    filter: &Filter,
    keys: &[FieldRef],
    value: Option<&FieldRef>,
    start_ns: i64,
    end_ns: i64,
) -> Result<Groups, QueryError> {
    let compiled = compile(store.schema(), filter)?;
    let collector = GroupValues {
        keys: keys.to_vec(),
        value: value.cloned(),
    };
    let mut all = Groups::new();
    for p in store.overlapping(start_ns, end_ns) {
        let q = within_range(&p, store, compiled.box_clone(), start_ns, end_ns);
        let groups = p
            .reader
            .searcher()
            .search(&q, &collector)
            .map_err(|e| index_err(&p, e))?;
        merge(&mut all, groups);
    }
    Ok(all)
}
