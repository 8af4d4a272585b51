//! Compiles a resolved [`Filter`] into a tantivy query: term queries on keywords, range
//! queries on fast fields, regexes and prefixes as automata over the term dictionary. Nothing
//! here reads stored documents.

use std::ops::Bound;
use std::sync::Arc;

use pharos_collector::index::LogSchema;
use tantivy::query::{
    AllQuery, AutomatonWeight, BooleanQuery, EmptyQuery, EnableScoring, ExistsQuery, Occur,
    PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;
use tantivy_fst::{Automaton, Regex};

use crate::field::{JsonRoot, Keyword};
use crate::filter::{AttrOp, Filter, Num, StrOp};
use crate::QueryError;

fn keyword_field(schema: &LogSchema, k: Keyword) -> Field {
    match k {
        Keyword::Level => schema.level,
        Keyword::Service => schema.service,
        Keyword::Host => schema.host,
        Keyword::TraceId => schema.trace_id,
        Keyword::CorrelationId => schema.correlation_id,
    }
}

fn json_field(schema: &LogSchema, root: JsonRoot) -> Field {
    match root {
        JsonRoot::Attributes => schema.attributes,
        JsonRoot::Resource => schema.resource,
    }
}

fn regex(pattern: &str) -> Result<Regex, QueryError> {
    Regex::new(pattern).map_err(|e| QueryError::BadRequest(format!("regex /{pattern}/: {e}")))
}

fn prefix_pattern(prefix: &str) -> String {
    format!("{}.*", regex::escape(prefix))
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn not(inner: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
        (Occur::MustNot, inner),
    ]))
}

fn str_op_query(field: Field, op: &StrOp) -> Result<Box<dyn Query>, QueryError> {
    Ok(match op {
        StrOp::Eq(v) => term_query(Term::from_field_text(field, v)),
        StrOp::Prefix(p) => Box::new(RegexQuery::from_regex(regex(&prefix_pattern(p))?, field)),
        StrOp::Regex(r) => Box::new(RegexQuery::from_regex(regex(r)?, field)),
        StrOp::Range(lo, hi) => Box::new(RangeQuery::new(
            lo.as_ref().map(|v| Term::from_field_text(field, v)),
            hi.as_ref().map(|v| Term::from_field_text(field, v)),
        )),
    })
}

fn json_term(field: Field, path: &str) -> Term {
    Term::from_field_json_path(field, path, true)
}

fn json_str_term(field: Field, path: &str, value: &str) -> Term {
    let mut t = json_term(field, path);
    t.append_type_and_str(value);
    t
}

fn json_num_term(field: Field, path: &str, n: Num) -> Term {
    let mut t = json_term(field, path);
    match n {
        Num::I64(v) => t.append_type_and_fast_value(v),
        Num::U64(v) => t.append_type_and_fast_value(v),
        Num::F64(v) => t.append_type_and_fast_value(v),
    }
    t
}

fn json_f64_bound(field: Field, path: &str, b: Bound<f64>) -> Bound<Term> {
    b.map(|v| {
        let mut t = json_term(field, path);
        t.append_type_and_fast_value(v);
        t
    })
}

/// An automaton over JSON term-dictionary keys: the exact `path\0s` prefix of string values at
/// one path, then the user's regex over the value.
#[derive(Debug)]
struct JsonStrAutomaton {
    prefix: Vec<u8>,
    value: Regex,
}

#[derive(Clone)]
enum JsonState {
    Prefix(usize),
    Value(Option<usize>),
}

impl Automaton for JsonStrAutomaton {
    type State = JsonState;

    fn start(&self) -> JsonState {
        if self.prefix.is_empty() {
            JsonState::Value(self.value.start())
        } else {
            JsonState::Prefix(0)
        }
    }

    fn is_match(&self, state: &JsonState) -> bool {
        match state {
            JsonState::Prefix(_) => false,
            JsonState::Value(s) => self.value.is_match(s),
        }
    }

    fn can_match(&self, state: &JsonState) -> bool {
        match state {
            JsonState::Prefix(i) => *i <= self.prefix.len(),
            JsonState::Value(s) => self.value.can_match(s),
        }
    }

    fn accept(&self, state: &JsonState, byte: u8) -> JsonState {
        match state {
            JsonState::Prefix(i) if *i < self.prefix.len() && self.prefix[*i] == byte => {
                if i + 1 == self.prefix.len() {
                    JsonState::Value(self.value.start())
                } else {
                    JsonState::Prefix(i + 1)
                }
            }
            // A mismatch in the prefix can never match again.
            JsonState::Prefix(_) => JsonState::Prefix(usize::MAX),
            JsonState::Value(s) => JsonState::Value(self.value.accept(s, byte)),
        }
    }
}

/// A regex over the string values of one JSON path.
#[derive(Clone, Debug)]
struct JsonRegexQuery {
    field: Field,
    automaton: Arc<JsonStrAutomaton>,
}

impl Query for JsonRegexQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let prefix = self.automaton.prefix.clone();
        Ok(Box::new(
            AutomatonWeight::<JsonStrAutomaton>::new_for_json_path(
                self.field,
                self.automaton.clone(),
                &prefix,
            ),
        ))
    }
}

fn json_regex(field: Field, path: &str, pattern: &str) -> Result<Box<dyn Query>, QueryError> {
    let prefix = json_str_term(field, path, "")
        .serialized_value_bytes()
        .to_vec();
    Ok(Box::new(JsonRegexQuery {
        field,
        automaton: Arc::new(JsonStrAutomaton {
            prefix,
            value: regex(pattern)?,
        }),
    }))
}

fn attr_query(
    schema: &LogSchema,
    root: JsonRoot,
    path: &str,
    op: &AttrOp,
) -> Result<Box<dyn Query>, QueryError> {
    let field = json_field(schema, root);
    let exists = || -> Box<dyn Query> {
        Box::new(ExistsQuery::new(
            format!("{}.{path}", root.field_name()),
            true,
        ))
    };
    Ok(match op {
        AttrOp::Eq { text, num, boolean } => {
            let mut terms = vec![json_str_term(field, path, text)];
            if let Some(n) = num {
                terms.push(json_num_term(field, path, *n));
            }
            if let Some(b) = boolean {
                let mut t = json_term(field, path);
                t.append_type_and_fast_value(*b);
                terms.push(t);
            }
            if terms.len() == 1 {
                term_query(terms.remove(0))
            } else {
                Box::new(BooleanQuery::new(
                    terms
                        .into_iter()
                        .map(|t| (Occur::Should, term_query(t)))
                        .collect(),
                ))
            }
        }
        AttrOp::Str(StrOp::Eq(v)) => term_query(json_str_term(field, path, v)),
        AttrOp::Str(StrOp::Prefix(p)) => json_regex(field, path, &prefix_pattern(p))?,
        AttrOp::Str(StrOp::Regex(r)) => json_regex(field, path, r)?,
        AttrOp::Str(StrOp::Range(lo, hi)) => Box::new(RangeQuery::new(
            lo.as_ref().map(|v| json_str_term(field, path, v)),
            hi.as_ref().map(|v| json_str_term(field, path, v)),
        )),
        AttrOp::NumRange(Bound::Unbounded, Bound::Unbounded) => exists(),
        AttrOp::NumRange(lo, hi) => Box::new(RangeQuery::new(
            json_f64_bound(field, path, *lo),
            json_f64_bound(field, path, *hi),
        )),
        AttrOp::Exists => exists(),
    })
}

/// Compiles a filter for one partition.
pub fn compile(schema: &LogSchema, filter: &Filter) -> Result<Box<dyn Query>, QueryError> {
    Ok(match filter {
        Filter::All => Box::new(AllQuery),
        Filter::Nothing => Box::new(EmptyQuery),
        Filter::And(items) => {
            let mut clauses = Vec::with_capacity(items.len() + 1);
            for f in items {
                match f {
                    Filter::Not(inner) => clauses.push((Occur::MustNot, compile(schema, inner)?)),
                    f => clauses.push((Occur::Must, compile(schema, f)?)),
                }
            }
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Filter::Or(items) => Box::new(BooleanQuery::new(
            items
                .iter()
                .map(|f| Ok((Occur::Should, compile(schema, f)?)))
                .collect::<Result<_, QueryError>>()?,
        )),
        Filter::Not(inner) => not(compile(schema, inner)?),
        Filter::Words(words) if words.len() == 1 => {
            term_query(Term::from_field_text(schema.message, &words[0]))
        }
        Filter::Words(words) => Box::new(PhraseQuery::new(
            words
                .iter()
                .map(|w| Term::from_field_text(schema.message, w))
                .collect(),
        )),
        Filter::WordPrefix(p) => Box::new(RegexQuery::from_regex(
            regex(&prefix_pattern(p))?,
            schema.message,
        )),
        Filter::WordRegex(r) => Box::new(RegexQuery::from_regex(regex(r)?, schema.message)),
        Filter::Keyword(k, op) => str_op_query(keyword_field(schema, *k), op)?,
        Filter::KeywordExists(k) => not(term_query(Term::from_field_text(
            keyword_field(schema, *k),
            "",
        ))),
        Filter::Severity(lo, hi) => Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(schema.severity, *lo)),
            Bound::Included(Term::from_field_u64(schema.severity, *hi)),
        )),
        Filter::Time(s, e) => time_range(schema, *s, *e),
        Filter::RecordId(id) => Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(schema.lsn, *id)),
            Bound::Included(Term::from_field_u64(schema.lsn, *id)),
        )),
        Filter::Attr { root, path, op } => attr_query(schema, *root, path, op)?,
    })
}

/// Records with `start <= ts < end`.
pub fn time_range(schema: &LogSchema, start: i64, end: i64) -> Box<dyn Query> {
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_i64(schema.ts, start)),
        Bound::Excluded(Term::from_field_i64(schema.ts, end)),
    ))
}
