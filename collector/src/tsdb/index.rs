//! The series index: id ↔ labels, postings (label name=value → sorted ids), matcher
//! evaluation with Prometheus's rules, and cardinality counts (total and per metric name).
//!
//! The whole index is held in memory (as Prometheus's head index) and persisted in the kv;
//! changes since the last flush are written by the store's flush in its atomic batch, so the
//! index on disk always matches the data and the applied LSN beside it. The same code indexes
//! distribution families, in their own trees.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;

use super::gorilla::{get_varint, put_varint};
use super::kv::{get_u64, put_u64, Kv, Tree, WriteBatch};
use super::{LabelMatcher, Labels, MatchOp, MetricKind, TsdbError, METRIC_NAME};

/// Where one index lives in the kv.
#[derive(Clone, Copy, Debug)]
pub struct IndexTrees {
    pub by_id: Tree,
    pub by_labels: Tree,
    pub postings: Tree,
    /// Key in `Tree::Meta` of the next id to assign.
    pub next_id_key: &'static [u8],
}

pub const SERIES_TREES: IndexTrees = IndexTrees {
    by_id: Tree::Series,
    by_labels: Tree::SeriesByLabels,
    postings: Tree::Postings,
    next_id_key: b"next_series_id",
};

pub const FAMILY_TREES: IndexTrees = IndexTrees {
    by_id: Tree::Families,
    by_labels: Tree::FamiliesByLabels,
    postings: Tree::FamilyPostings,
    next_id_key: b"next_family_id",
};

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub labels: Labels,
    pub kind: MetricKind,
}

pub struct Index {
    trees: IndexTrees,
    entries: HashMap<u64, Entry>,
    ids: HashMap<Labels, u64>,
    postings: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
    per_metric: HashMap<String, usize>,
    next_id: u64,
    /// Ids created or changed since the last flush.
    pending: BTreeSet<u64>,
}

pub fn encode_labels(labels: &Labels) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in labels.iter() {
        put_varint(&mut out, n.len() as u64);
        out.extend_from_slice(n.as_bytes());
        put_varint(&mut out, v.len() as u64);
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn get_str(bytes: &[u8], at: &mut usize) -> Result<String, TsdbError> {
    let len = usize::try_from(get_varint(bytes, at)?)
        .map_err(|_| TsdbError::Corrupt("label length".to_string()))?;
    let s = bytes
        .get(*at..at.saturating_add(len))
        .ok_or_else(|| TsdbError::Corrupt("label ends early".to_string()))?;
    *at += len;
    String::from_utf8(s.to_vec()).map_err(|_| TsdbError::Corrupt("label is not UTF-8".to_string()))
}

pub fn decode_labels(bytes: &[u8]) -> Result<Labels, TsdbError> {
    let mut at = 0;
    let mut pairs = Vec::new();
    while at < bytes.len() {
        let n = get_str(bytes, &mut at)?;
        let v = get_str(bytes, &mut at)?;
        pairs.push((n, v));
    }
    Labels::new(pairs).map_err(|e| TsdbError::Corrupt(format!("stored labels: {e}")))
}

fn kind_byte(k: MetricKind) -> u8 {
    match k {
        MetricKind::Gauge => 0,
        MetricKind::Counter => 1,
        MetricKind::Unknown => 2,
    }
}

fn byte_kind(b: u8) -> Result<MetricKind, TsdbError> {
    match b {
        0 => Ok(MetricKind::Gauge),
        1 => Ok(MetricKind::Counter),
        2 => Ok(MetricKind::Unknown),
        _ => Err(TsdbError::Corrupt(format!("metric kind {b}"))),
    }
}

fn posting_prefix(name: &str, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + value.len() + 12);
    put_varint(&mut k, name.len() as u64);
    k.extend_from_slice(name.as_bytes());
    put_varint(&mut k, value.len() as u64);
    k.extend_from_slice(value.as_bytes());
    k
}

fn posting_key(name: &str, value: &str, id: u64) -> Vec<u8> {
    let mut k = posting_prefix(name, value);
    put_u64(&mut k, id);
    k
}

/// A matcher ready to test values.
pub struct Compiled {
    pub name: String,
    op: MatchOp,
    value: String,
    re: Option<Regex>,
}

impl Compiled {
    pub fn new(m: &LabelMatcher) -> Result<Compiled, TsdbError> {
        let re = match m.op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                // Anchored and with `.` matching newlines, as Prometheus compiles them.
                Regex::new(&format!("^(?s:{})$", m.value))
                    .map_err(|e| TsdbError::BadMatcher(format!("{}: {e}", m.value)))?,
            ),
            _ => None,
        };
        Ok(Compiled {
            name: m.name.clone(),
            op: m.op,
            value: m.value.clone(),
            re,
        })
    }

    /// Whether a series whose label has this value (`""` when absent) matches.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::RegexMatch, Some(re)) => re.is_match(v),
            (MatchOp::RegexNoMatch, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }
}

/// Compiles matchers; unless `allow_all`, at least one must not match the empty string
/// (else it would select every series, which Prometheus refuses).
pub fn compile(matchers: &[LabelMatcher], allow_all: bool) -> Result<Vec<Compiled>, TsdbError> {
    let compiled = matchers
        .iter()
        .map(Compiled::new)
        .collect::<Result<Vec<_>, _>>()?;
    let all = compiled.iter().all(|c| c.matches(""));
    if all && !(allow_all && compiled.is_empty()) {
        return Err(TsdbError::BadMatcher(
            "a selector needs at least one matcher that does not match the empty string"
                .to_string(),
        ));
    }
    Ok(compiled)
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

impl Index {
    /// Loads the index from the kv.
    pub fn open(kv: &dyn Kv, trees: IndexTrees) -> Result<Index, TsdbError> {
        let mut ix = Index {
            trees,
            entries: HashMap::new(),
            ids: HashMap::new(),
            postings: BTreeMap::new(),
            per_metric: HashMap::new(),
            next_id: 1,
            pending: BTreeSet::new(),
        };
        if let Some(v) = kv.get(Tree::Meta, trees.next_id_key)? {
            ix.next_id = get_u64(&v, 0)?;
        }
        for e in kv.scan_prefix(trees.by_id, &[]) {
            let (k, v) = e?;
            let id = get_u64(&k, 0)?;
            let (&kb, rest) = v
                .split_first()
                .ok_or_else(|| TsdbError::Corrupt("empty series entry".to_string()))?;
            let labels = decode_labels(rest)?;
            if id >= ix.next_id {
                return Err(TsdbError::Corrupt(format!(
                    "series id {id} was never assigned"
                )));
            }
            *ix.per_metric
                .entry(labels.metric_name().to_string())
                .or_default() += 1;
            ix.ids.insert(labels.clone(), id);
            ix.entries.insert(
                id,
                Entry {
                    labels,
                    kind: byte_kind(kb)?,
                },
            );
        }
        for e in kv.scan_prefix(trees.postings, &[]) {
            let (k, _) = e?;
            let mut at = 0;
            let name = get_str(&k, &mut at)?;
            let value = get_str(&k, &mut at)?;
            let id = get_u64(&k, at)?;
            if !ix.entries.contains_key(&id) {
                return Err(TsdbError::Corrupt(format!(
                    "posting of unknown series {id}"
                )));
            }
            // Keys are sorted by id within a name=value, so pushing keeps the list sorted.
            ix.postings
                .entry(name)
                .or_default()
                .entry(value)
                .or_default()
                .push(id);
        }
        Ok(ix)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn metric_count(&self, metric: &str) -> usize {
        self.per_metric.get(metric).copied().unwrap_or(0)
    }

    pub fn id(&self, labels: &Labels) -> Option<u64> {
        self.ids.get(labels).copied()
    }

    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.entries.get(&id)
    }

    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.keys().copied()
    }

    /// Adds a series (persisted by the next flush).
    pub fn create(&mut self, labels: Labels, kind: MetricKind) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        *self
            .per_metric
            .entry(labels.metric_name().to_string())
            .or_default() += 1;
        for (n, v) in labels.iter() {
            self.postings
                .entry(n.to_string())
                .or_default()
                .entry(v.to_string())
                .or_default()
                .push(id);
        }
        self.ids.insert(labels.clone(), id);
        self.entries.insert(id, Entry { labels, kind });
        self.pending.insert(id);
        id
    }

    /// Records a kind learnt later (metadata often arrives after the first samples).
    pub fn learn_kind(&mut self, id: u64, kind: MetricKind) {
        if let Some(e) = self.entries.get_mut(&id) {
            if e.kind == MetricKind::Unknown && kind != MetricKind::Unknown {
                e.kind = kind;
                self.pending.insert(id);
            }
        }
    }

    /// Removes a series; its kv entries are deleted in `batch`.
    pub fn remove(&mut self, id: u64, batch: &mut WriteBatch) {
        let Some(e) = self.entries.remove(&id) else {
            return;
        };
        self.pending.remove(&id);
        self.ids.remove(&e.labels);
        let metric = e.labels.metric_name();
        if let Some(n) = self.per_metric.get_mut(metric) {
            *n -= 1;
            if *n == 0 {
                self.per_metric.remove(metric);
            }
        }
        for (n, v) in e.labels.iter() {
            if let Some(values) = self.postings.get_mut(n) {
                if let Some(list) = values.get_mut(v) {
                    if let Ok(i) = list.binary_search(&id) {
                        list.remove(i);
                    }
                    if list.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    self.postings.remove(n);
                }
            }
            batch.delete(self.trees.postings, posting_key(n, v, id));
        }
        let mut k = Vec::with_capacity(8);
        put_u64(&mut k, id);
        batch.delete(self.trees.by_id, k);
        batch.delete(self.trees.by_labels, encode_labels(&e.labels));
    }

    /// Adds what changed since the last flush to `batch`; returns the ids written, to pass to
    /// [`Index::flushed`] once the batch is durable.
    pub fn pending_writes(&self, batch: &mut WriteBatch) -> Vec<u64> {
        let mut ids = Vec::with_capacity(self.pending.len());
        for &id in &self.pending {
            let Some(e) = self.entries.get(&id) else {
                continue;
            };
            let mut k = Vec::with_capacity(8);
            put_u64(&mut k, id);
            let mut v = vec![kind_byte(e.kind)];
            let enc = encode_labels(&e.labels);
            v.extend_from_slice(&enc);
            batch.put(self.trees.by_id, k.clone(), v);
            batch.put(self.trees.by_labels, enc, k);
            for (n, val) in e.labels.iter() {
                batch.put(self.trees.postings, posting_key(n, val, id), Vec::new());
            }
            ids.push(id);
        }
        let mut next = Vec::with_capacity(8);
        put_u64(&mut next, self.next_id);
        batch.put(Tree::Meta, self.trees.next_id_key.to_vec(), next);
        ids
    }

    pub fn flushed(&mut self, ids: &[u64]) {
        for id in ids {
            self.pending.remove(id);
        }
    }

    fn values_matching(&self, c: &Compiled) -> Vec<u64> {
        let Some(values) = self.postings.get(&c.name) else {
            return Vec::new();
        };
        if c.op == MatchOp::Equal {
            return values.get(&c.value).cloned().unwrap_or_default();
        }
        let mut ids: Vec<u64> = values
            .iter()
            .filter(|(v, _)| c.matches(v))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Ids of the series matching every matcher (sorted); every series for no matchers.
    /// Compile the matchers with [`compile`] (which enforces Prometheus's rules).
    pub fn matching(&self, matchers: &[Compiled]) -> Vec<u64> {
        // Matchers that do not match "" select from postings; the rest filter those.
        let mut candidates: Option<Vec<u64>> = None;
        for c in matchers.iter().filter(|c| !c.matches("")) {
            let ids = self.values_matching(c);
            candidates = Some(match candidates {
                None => ids,
                Some(prev) => intersect(&prev, &ids),
            });
        }
        let mut ids = match candidates {
            Some(ids) => ids,
            None => {
                let mut all: Vec<u64> = self.entries.keys().copied().collect();
                all.sort_unstable();
                all
            }
        };
        ids.retain(|id| {
            self.entries.get(id).is_some_and(|e| {
                matchers
                    .iter()
                    .all(|c| c.matches(e.labels.get(&c.name).unwrap_or("")))
            })
        });
        ids
    }

    /// Every label name (with `__name__`) in the index.
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.postings.keys().map(String::as_str)
    }

    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.postings
            .get(METRIC_NAME)
            .into_iter()
            .flat_map(|v| v.keys().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::sled_kv::SledKv;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn m(name: &str, op: MatchOp, value: &str) -> LabelMatcher {
        LabelMatcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
        }
    }

    fn names(ix: &Index, ms: &[LabelMatcher]) -> Result<Vec<String>, TsdbError> {
        let c = compile(ms, false)?;
        Ok(ix
            .matching(&c)
            .into_iter()
            .filter_map(|id| ix.entry(id).map(|e| e.labels.to_string()))
            .collect())
    }

    #[test]
    fn matchers_follow_prometheus_rules_and_survive_reopen() -> Result<(), TsdbError> {
        use MatchOp::*;
        let dir = tempfile::tempdir().map_err(|e| TsdbError::Storage(e.to_string()))?;
        let kv = SledKv::open(dir.path())?;
        let mut ix = Index::open(&kv, SERIES_TREES)?;
        ix.create(
            l(&[("__name__", "up"), ("job", "api"), ("env", "prod")]),
            MetricKind::Gauge,
        );
        ix.create(
            l(&[("__name__", "up"), ("job", "apiserver")]),
            MetricKind::Gauge,
        );
        ix.create(
            l(&[("__name__", "up"), ("job", "db"), ("env", "dev")]),
            MetricKind::Gauge,
        );
        let gone = ix.create(l(&[("__name__", "down")]), MetricKind::Counter);
        let mut b = WriteBatch::default();
        ix.pending_writes(&mut b);
        kv.write(b)?;
        let mut b = WriteBatch::default();
        ix.remove(gone, &mut b);
        kv.write(b)?;

        for ix in [ix, Index::open(&kv, SERIES_TREES)?] {
            assert_eq!(ix.len(), 3);
            assert_eq!(ix.metric_count("up"), 3);
            assert_eq!(ix.metric_count("down"), 0);
            let up = m("__name__", Equal, "up");
            assert_eq!(names(&ix, &[up.clone(), m("job", Equal, "api")])?.len(), 1);
            // Anchored: "api" does not match "apiserver"; "api.*" does.
            assert_eq!(names(&ix, &[m("job", RegexMatch, "api")])?.len(), 1);
            assert_eq!(names(&ix, &[m("job", RegexMatch, "api.*")])?.len(), 2);
            assert_eq!(
                names(&ix, &[up.clone(), m("job", RegexNoMatch, "api.*")])?.len(),
                1
            );
            assert_eq!(
                names(&ix, &[up.clone(), m("job", NotEqual, "db")])?.len(),
                2
            );
            // env="" matches series without env; env!="" those with one.
            assert_eq!(
                names(&ix, &[up.clone(), m("env", Equal, "")])?,
                vec![r#"up{job="apiserver"}"#.to_string()]
            );
            assert_eq!(names(&ix, &[up.clone(), m("env", NotEqual, "")])?.len(), 2);
            assert_eq!(
                names(&ix, &[up.clone(), m("env", RegexMatch, "prod|")])?.len(),
                2
            );
            assert_eq!(names(&ix, &[m("env", RegexMatch, ".+")])?.len(), 2);
            // Only matchers that match "" (or a bad regex): refused.
            for bad in [
                vec![m("env", Equal, "")],
                vec![m("job", RegexMatch, ".*")],
                vec![m("job", NotEqual, "x"), m("env", RegexNoMatch, "a")],
                vec![m("job", RegexMatch, "(")],
                vec![],
            ] {
                assert!(matches!(
                    compile(&bad, false),
                    Err(TsdbError::BadMatcher(_))
                ));
            }
            assert_eq!(ix.matching(&compile(&[], true)?).len(), 3);
            assert_eq!(
                ix.label_names().collect::<Vec<_>>(),
                vec!["__name__", "env", "job"]
            );
            assert_eq!(ix.metric_names().collect::<Vec<_>>(), vec!["up"]);
        }
        Ok(())
    }

    #[test]
    fn corrupt_entries_are_errors() -> Result<(), TsdbError> {
        assert!(decode_labels(&[5, b'a']).is_err());
        assert!(decode_labels(&[1, b'a', 1, b'b']).is_err()); // no __name__
        let dir = tempfile::tempdir().map_err(|e| TsdbError::Storage(e.to_string()))?;
        let kv = SledKv::open(dir.path())?;
        let mut b = WriteBatch::default();
        b.put(Tree::Series, vec![0, 0, 0, 0, 0, 0, 0, 1], vec![9]);
        kv.write(b)?;
        assert!(matches!(
            Index::open(&kv, SERIES_TREES),
            Err(TsdbError::Corrupt(_))
        ));
        Ok(())
    }
}
