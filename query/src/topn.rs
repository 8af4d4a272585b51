//! The top N documents by a numeric field's value (for `| sort by f` on searches), read from
//! fast fields. Documents without a number for the field come last.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::agg::value::FieldReader;
use crate::field::FieldRef;

pub struct TopByField {
    pub field: FieldRef,
    pub descending: bool,
    pub limit: usize,
}

/// (key, address) with smaller keys better: descending sorts negate the value.
type Scored = Vec<(f64, DocAddress)>;

fn keep_best(mut v: Scored, limit: usize) -> Scored {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.truncate(limit);
    v
}

impl Collector for TopByField {
    type Fruit = Scored;
    type Child = TopSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopSegment> {
        Ok(TopSegment {
            reader: FieldReader::open(reader, &self.field)?,
            ord,
            descending: self.descending,
            limit: self.limit,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Scored>) -> tantivy::Result<Scored> {
        Ok(keep_best(
            fruits.into_iter().flatten().collect(),
            self.limit,
        ))
    }
}

pub struct TopSegment {
    reader: FieldReader,
    ord: SegmentOrdinal,
    descending: bool,
    limit: usize,
    found: Scored,
}

impl SegmentCollector for TopSegment {
    type Fruit = Scored;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let mut best: Option<f64> = None;
        self.reader.for_each_number(doc, |v| {
            let k = if self.descending { -v } else { v };
            best = Some(best.map_or(k, |b| b.min(k)));
        });
        self.found.push((
            best.unwrap_or(f64::INFINITY),
            DocAddress::new(self.ord, doc),
        ));
        // Bound memory: compact whenever the buffer is well past the limit.
        if self.found.len() >= self.limit.max(64) * 4 {
            let v = std::mem::take(&mut self.found);
            self.found = keep_best(v, self.limit);
        }
    }

    fn harvest(self) -> Scored {
        keep_best(self.found, self.limit)
    }
}
