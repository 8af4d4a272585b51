//! Evaluates a resolved [`Filter`] on one record in memory: for live tail (records that are
//! acknowledged but not yet searchable) and as the reference the property tests compare the
//! tantivy engine against. Semantics mirror `compile` exactly: same tokenizer for the
//! message, whole-value regexes, numbers compared as numbers.

use std::collections::HashMap;
use std::ops::Bound;

use pharos_collector::record::{level_name, AttrValue, Attributes, LogRecord};
use regex::Regex;
use tantivy::tokenizer::{TextAnalyzer, TokenizerManager};

use crate::field::{JsonRoot, Keyword};
use crate::filter::{AttrOp, Filter, StrOp};

/// A filter ready to test records.
pub struct Matcher {
    filter: Filter,
    regexes: HashMap<String, Regex>,
    tokenizer: TextAnalyzer,
}

fn collect_regexes(f: &Filter, out: &mut HashMap<String, Regex>) {
    let mut add = |pattern: &str| {
        if !out.contains_key(pattern) {
            // Patterns were validated when the filter was resolved.
            if let Ok(re) = Regex::new(&format!("^(?:{pattern})$")) {
                out.insert(pattern.to_string(), re);
            }
        }
    };
    match f {
        Filter::And(items) | Filter::Or(items) => {
            items.iter().for_each(|i| collect_regexes(i, out));
        }
        Filter::Not(inner) => collect_regexes(inner, out),
        Filter::WordRegex(p)
        | Filter::Keyword(_, StrOp::Regex(p))
        | Filter::Attr {
            op: AttrOp::Str(StrOp::Regex(p)),
            ..
        } => add(p),
        _ => {}
    }
}

/// A leaf value of an attribute path.
enum Leaf<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

/// Every leaf value at `path`, the way tantivy's JSON indexing (with dots expanded) sees it:
/// `{"a.b": 1}` and `{"a": {"b": 1}}` both have `a.b`, arrays contribute each element.
fn leaves<'a>(attrs: &'a Attributes, path: &str, subpaths: bool, out: &mut Vec<Leaf<'a>>) {
    for (k, v) in attrs {
        if k == path {
            collect_leaves(v, subpaths, out);
        } else if let Some(rest) = path
            .strip_prefix(k.as_str())
            .and_then(|r| r.strip_prefix('.'))
        {
            visit_nested(v, rest, subpaths, out);
        } else if subpaths && k.starts_with(path) && k[path.len()..].starts_with('.') {
            collect_leaves(v, true, out);
        }
    }
}

fn visit_nested<'a>(v: &'a AttrValue, rest: &str, subpaths: bool, out: &mut Vec<Leaf<'a>>) {
    match v {
        AttrValue::Object(kvs) => leaves(kvs, rest, subpaths, out),
        AttrValue::Array(items) => items
            .iter()
            .for_each(|i| visit_nested(i, rest, subpaths, out)),
        _ => {}
    }
}

/// Leaves of a value found at the path; objects count only when `subpaths` (for `exists`).
fn collect_leaves<'a>(v: &'a AttrValue, subpaths: bool, out: &mut Vec<Leaf<'a>>) {
    match v {
        AttrValue::Null => {}
        AttrValue::Bool(b) => out.push(Leaf::Bool(*b)),
        AttrValue::Int(i) => out.push(Leaf::Num(*i as f64)),
        AttrValue::Float(f) if f.is_finite() => out.push(Leaf::Num(*f)),
        AttrValue::Float(_) => {}
        AttrValue::Str(s) => out.push(Leaf::Str(s)),
        AttrValue::Array(items) => items.iter().for_each(|i| collect_leaves(i, subpaths, out)),
        AttrValue::Object(kvs) => {
            if subpaths {
                kvs.iter().for_each(|(_, v)| collect_leaves(v, true, out));
            }
        }
    }
}

fn in_bounds<T: PartialOrd + ?Sized>(v: &T, lo: Bound<&T>, hi: Bound<&T>) -> bool {
    let lo_ok = match lo {
        Bound::Included(b) => v >= b,
        Bound::Excluded(b) => v > b,
        Bound::Unbounded => true,
    };
    let hi_ok = match hi {
        Bound::Included(b) => v <= b,
        Bound::Excluded(b) => v < b,
        Bound::Unbounded => true,
    };
    lo_ok && hi_ok
}

impl Matcher {
    pub fn new(filter: Filter) -> Matcher {
        let mut regexes = HashMap::new();
        collect_regexes(&filter, &mut regexes);
        let tokenizer = TokenizerManager::default()
            .get("default")
            .unwrap_or_else(|| TextAnalyzer::from(tantivy::tokenizer::SimpleTokenizer::default()));
        Matcher {
            filter,
            regexes,
            tokenizer,
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Does the record (with its record id `lsn`) match?
    pub fn matches(&mut self, record: &LogRecord, lsn: u64) -> bool {
        let mut words = None;
        let filter = std::mem::replace(&mut self.filter, Filter::All);
        let result = self.eval(&filter, record, lsn, &mut words);
        self.filter = filter;
        result
    }

    fn words<'w>(
        &mut self,
        record: &LogRecord,
        cache: &'w mut Option<Vec<String>>,
    ) -> &'w [String] {
        cache.get_or_insert_with(|| {
            let mut stream = self.tokenizer.token_stream(&record.body);
            let mut out = Vec::new();
            while let Some(t) = stream.next() {
                out.push(t.text.clone());
            }
            out
        })
    }

    fn regex_matches(&self, pattern: &str, text: &str) -> bool {
        self.regexes
            .get(pattern)
            .is_some_and(|re| re.is_match(text))
    }

    fn str_op(&self, op: &StrOp, v: &str) -> bool {
        match op {
            StrOp::Eq(x) => v == x,
            StrOp::Prefix(p) => v.starts_with(p.as_str()),
            StrOp::Regex(p) => self.regex_matches(p, v),
            StrOp::Range(lo, hi) => in_bounds(
                v,
                lo.as_ref().map(String::as_str),
                hi.as_ref().map(String::as_str),
            ),
        }
    }

    fn eval(
        &mut self,
        f: &Filter,
        r: &LogRecord,
        lsn: u64,
        words: &mut Option<Vec<String>>,
    ) -> bool {
        match f {
            Filter::All => true,
            Filter::Nothing => false,
            Filter::And(items) => items.iter().all(|i| self.eval(i, r, lsn, words)),
            Filter::Or(items) => items.iter().any(|i| self.eval(i, r, lsn, words)),
            Filter::Not(inner) => !self.eval(inner, r, lsn, words),
            Filter::Words(ws) => {
                let have = self.words(r, words);
                have.windows(ws.len()).any(|w| w == ws.as_slice())
            }
            Filter::WordPrefix(p) => self
                .words(r, words)
                .iter()
                .any(|w| w.starts_with(p.as_str())),
            Filter::WordRegex(p) => {
                let have = self.words(r, words).to_vec();
                have.iter().any(|w| self.regex_matches(p, w))
            }
            Filter::Keyword(k, op) => self.str_op(op, keyword_value(r, *k)),
            Filter::KeywordExists(k) => !keyword_value(r, *k).is_empty(),
            Filter::Severity(lo, hi) => (*lo..=*hi).contains(&u64::from(r.severity_number)),
            Filter::Time(s, e) => (*s..*e).contains(&r.timestamp_ns),
            Filter::RecordId(id) => lsn == *id,
            Filter::Attr { root, path, op } => {
                let attrs = match root {
                    JsonRoot::Attributes => &r.attributes,
                    JsonRoot::Resource => &r.resource,
                };
                let mut found = Vec::new();
                leaves(attrs, path, matches!(op, AttrOp::Exists), &mut found);
                found.iter().any(|leaf| match (op, leaf) {
                    (AttrOp::Exists, _) => true,
                    (AttrOp::Eq { text, .. }, Leaf::Str(s)) => s == text,
                    (AttrOp::Eq { num: Some(n), .. }, Leaf::Num(v)) => *v == n.as_f64(),
                    (
                        AttrOp::Eq {
                            boolean: Some(b), ..
                        },
                        Leaf::Bool(v),
                    ) => v == b,
                    (AttrOp::Str(op), Leaf::Str(s)) => self.str_op(op, s),
                    (AttrOp::NumRange(lo, hi), Leaf::Num(v)) => {
                        in_bounds(v, lo.as_ref(), hi.as_ref())
                    }
                    _ => false,
                })
            }
        }
    }
}

/// The value of a keyword field, as indexed.
pub fn keyword_value(r: &LogRecord, k: Keyword) -> &str {
    match k {
        Keyword::Level => level_name(r.severity_number),
        Keyword::Service => &r.service,
        Keyword::Host => &r.host,
        Keyword::TraceId => &r.trace_id,
        Keyword::CorrelationId => &r.correlation_id,
    }
}
