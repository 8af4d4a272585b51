//! Aggregations (`stats`, `timechart`, `top`) as a tantivy collector over fast fields: each
//! segment groups its matching documents by column values (string ordinals, not strings),
//! resolves the groups once at the end, and the groups of all segments and partitions merge.

pub mod acc;
pub mod value;

use std::collections::hash_map::Entry;
use std::collections::HashSet;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use self::acc::Acc;
use self::value::{FieldReader, GVal, KeyPart, NumKey};
use crate::field::FieldRef;
use crate::lang::AggFunc;

/// Most group-by fields a query may have (plus the time bucket).
pub const MAX_GROUP_FIELDS: usize = 5;
const KEY_LEN: usize = MAX_GROUP_FIELDS + 1;
/// Most groups an aggregation may produce; beyond it the query fails instead of exhausting
/// memory.
pub const MAX_GROUPS: usize = 100_000;

/// What to compute.
#[derive(Debug, Clone)]
pub struct AggPlan {
    /// Timechart bucket width; the bucket is then the first key.
    pub bucket_ns: Option<i64>,
    pub keys: Vec<FieldRef>,
    pub aggs: Vec<(AggFunc, Option<FieldRef>)>,
}

/// Group key (bucket start first if any, then the `by` values) → one accumulator per agg.
pub type Groups = HashMap<Vec<GVal>, Vec<Acc>>;

/// The collected groups, and whether the group limit was hit.
#[derive(Default)]
pub struct AggFruit {
    pub groups: Groups,
    pub overflow: bool,
}

impl AggFruit {
    pub fn merge(&mut self, other: AggFruit) {
        self.overflow |= other.overflow;
        for (key, accs) in other.groups {
            let len = self.groups.len();
            match self.groups.entry(key) {
                Entry::Occupied(mut e) => {
                    for (a, b) in e.get_mut().iter_mut().zip(accs) {
                        a.merge(b);
                    }
                }
                Entry::Vacant(e) => {
                    if len >= MAX_GROUPS {
                        self.overflow = true;
                    } else {
                        e.insert(accs);
                    }
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct AggCollector {
    pub plan: Arc<AggPlan>,
}

impl Collector for AggCollector {
    type Fruit = AggFruit;
    type Child = AggSegment;

    fn for_segment(
        &self,
        _ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<AggSegment> {
        let ts = match self.plan.bucket_ns {
            Some(_) => Some(FieldReader::open(reader, &FieldRef::Time)?),
            None => None,
        };
        let keys: Vec<FieldReader> = self
            .plan
            .keys
            .iter()
            .map(|f| FieldReader::open(reader, f))
            .collect::<tantivy::Result<_>>()?;
        let sources = self
            .plan
            .aggs
            .iter()
            .map(|(_, f)| f.as_ref().map(|f| FieldReader::open(reader, f)).transpose())
            .collect::<tantivy::Result<_>>()?;
        let fast = FastCount::new(&self.plan, ts.as_ref(), &keys);
        Ok(AggSegment {
            fast,
            plan: self.plan.clone(),
            ts,
            keys,
            sources,
            groups: HashMap::default(),
            overflow: false,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<AggFruit>) -> tantivy::Result<AggFruit> {
        let mut all = AggFruit::default();
        for f in fruits {
            all.merge(f);
        }
        Ok(all)
    }
}

/// Counting by keyword columns and/or a time bucket — the shape of `top`, `stats count() by
/// service`, `timechart count() by level` and the histogram — runs on whole blocks of
/// documents: ordinals and timestamps are fetched column-wise, and the group key is a few
/// integers.
struct FastCount {
    ts: Option<(tantivy::columnar::Column<i64>, i64)>,
    /// Ordinal columns of the keys; `None` for a key absent from this segment (always null).
    ords: Vec<Option<tantivy::columnar::Column<u64>>>,
    counts: HashMap<[u64; 3], u64>,
    ts_buf: Vec<Option<i64>>,
    ord_buf: Vec<Option<u64>>,
}

/// The key slot for "no value" in [`FastCount`].
const NULL_ORD: u64 = u64::MAX;

impl FastCount {
    fn new(plan: &AggPlan, ts: Option<&FieldReader>, keys: &[FieldReader]) -> Option<FastCount> {
        let only_counts = plan
            .aggs
            .iter()
            .all(|(f, src)| *f == AggFunc::Count && src.is_none());
        if !only_counts || keys.len() > 2 {
            return None;
        }
        let ts = match (ts, plan.bucket_ns) {
            (Some(r), Some(span)) => Some((r.single_i64()?, span)),
            (None, None) => None,
            _ => return None,
        };
        let mut ords = Vec::with_capacity(keys.len());
        for k in keys {
            if k.is_absent() {
                ords.push(None);
            } else {
                ords.push(Some(k.single_str_ords()?));
            }
        }
        Some(FastCount {
            ts,
            ords,
            counts: HashMap::default(),
            ts_buf: Vec::new(),
            ord_buf: Vec::new(),
        })
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        let n = docs.len();
        let mut keys = vec![[NULL_ORD; 3]; n];
        if let Some((col, span)) = &self.ts {
            self.ts_buf.clear();
            self.ts_buf.resize(n, None);
            col.first_vals(docs, &mut self.ts_buf);
            for (k, t) in keys.iter_mut().zip(&self.ts_buf) {
                let t = t.unwrap_or(0);
                k[0] = (t - t.rem_euclid(*span)) as u64;
            }
        }
        for (i, col) in self.ords.iter().enumerate() {
            let Some(col) = col else { continue };
            self.ord_buf.clear();
            self.ord_buf.resize(n, None);
            col.first_vals(docs, &mut self.ord_buf);
            for (k, o) in keys.iter_mut().zip(&self.ord_buf) {
                k[i + 1] = o.unwrap_or(NULL_ORD);
            }
        }
        for k in keys {
            *self.counts.entry(k).or_insert(0) += 1;
        }
    }
}

pub struct AggSegment {
    fast: Option<FastCount>,
    plan: Arc<AggPlan>,
    ts: Option<FieldReader>,
    keys: Vec<FieldReader>,
    sources: Vec<Option<FieldReader>>,
    groups: HashMap<[KeyPart; KEY_LEN], Vec<Acc>>,
    overflow: bool,
}

impl SegmentCollector for AggSegment {
    type Fruit = AggFruit;

    fn collect_block(&mut self, docs: &[DocId]) {
        match &mut self.fast {
            Some(fast) => fast.collect_block(docs),
            None => docs.iter().for_each(|d| self.collect(*d, 0.0)),
        }
    }

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(fast) = &mut self.fast {
            fast.collect_block(&[doc]);
            return;
        }
        let mut key = [KeyPart::Null; KEY_LEN];
        if let (Some(ts), Some(span)) = (&self.ts, self.plan.bucket_ns) {
            let t = ts.first_i64(doc).unwrap_or(0);
            key[0] = KeyPart::Num(NumKey::I64(t - t.rem_euclid(span)));
        }
        for (i, reader) in self.keys.iter().enumerate() {
            key[i + 1] = reader.first(doc);
        }
        let len = self.groups.len();
        let accs = match self.groups.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                if len >= MAX_GROUPS {
                    self.overflow = true;
                    return;
                }
                e.insert(self.plan.aggs.iter().map(|(f, _)| Acc::new(*f)).collect())
            }
        };
        for ((acc, source), (func, _)) in accs.iter_mut().zip(&self.sources).zip(&self.plan.aggs) {
            match (func, source) {
                (AggFunc::Count, None) => {
                    if let Acc::Count(c) = acc {
                        *c += 1;
                    }
                }
                (AggFunc::Count, Some(r)) => {
                    if let (Acc::Count(c), true) = (&mut *acc, r.has_value(doc)) {
                        *c += 1;
                    }
                }
                (AggFunc::CountDistinct, Some(r)) => {
                    if let Acc::SegDistinct(set) = acc {
                        r.for_each(doc, |k| {
                            set.insert(k);
                        });
                    }
                }
                (_, Some(r)) => r.for_each_number(doc, |v| acc.add_number(v)),
                (_, None) => {}
            }
        }
    }

    fn harvest(mut self) -> AggFruit {
        if let Some(fast) = self.fast.take() {
            // Re-key the counts the way the general path does, then resolve as usual.
            for (k, n) in fast.counts {
                let mut key = [KeyPart::Null; KEY_LEN];
                if fast.ts.is_some() {
                    key[0] = KeyPart::Num(NumKey::I64(k[0] as i64));
                }
                for i in 0..fast.ords.len() {
                    if k[i + 1] != NULL_ORD {
                        key[i + 1] = KeyPart::Str {
                            col: 0,
                            ord: k[i + 1],
                        };
                    }
                }
                if self.groups.len() >= MAX_GROUPS {
                    self.overflow = true;
                    break;
                }
                self.groups.insert(key, vec![Acc::Count(n)]);
            }
        }
        let mut fruit = AggFruit {
            groups: HashMap::with_capacity_and_hasher(self.groups.len(), Default::default()),
            overflow: self.overflow,
        };
        let has_bucket = self.plan.bucket_ns.is_some();
        for (key, accs) in self.groups {
            let mut gkey = Vec::with_capacity(self.keys.len() + 1);
            if has_bucket {
                gkey.push(match key[0] {
                    KeyPart::Num(n) => GVal::Num(n),
                    _ => GVal::Null,
                });
            }
            for (i, reader) in self.keys.iter().enumerate() {
                gkey.push(reader.resolve(key[i + 1]));
            }
            let accs = accs
                .into_iter()
                .zip(&self.sources)
                .map(|(acc, source)| match (acc, source) {
                    (Acc::SegDistinct(set), Some(r)) => Acc::Distinct(r.resolve_all(set)),
                    (Acc::SegDistinct(_), None) => Acc::Distinct(HashSet::new()),
                    (acc, _) => acc,
                })
                .collect();
            fruit.merge(AggFruit {
                groups: HashMap::from_iter([(gkey, accs)]),
                overflow: false,
            });
        }
        fruit
    }
}
