//! The resolved filter: the query's boolean part with every field resolved and every literal
//! typed. Both backends — the tantivy compiler (`compile`) and the in-memory evaluator
//! (`eval`) — work from this, so they cannot disagree about what a query means.

use std::ops::Bound;

use tantivy::tokenizer::TextAnalyzer;

use crate::field::{canonical_level, invalid, level_range, resolve, FieldRef, JsonRoot, Keyword};
use crate::lang::{CompareOp, Expr, Literal, Match, Predicate, RangeBound};
use crate::time::parse_time_literal;
use crate::QueryError;

/// A number as tantivy indexes it in a JSON field: integral values as `I64` (or `U64` beyond
/// i64), others as `F64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    I64(i64),
    U64(u64),
    F64(f64),
}

impl Num {
    /// The canonical number a literal denotes, if it is one.
    pub fn parse(text: &str) -> Option<Num> {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Num::I64(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(Num::U64(u));
        }
        let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
        // Only plain decimal notation: `inf`, `nan` and `1e3` are words, not numbers.
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
        {
            return None;
        }
        Some(Num::from_f64(f))
    }

    pub fn from_f64(f: f64) -> Num {
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
            Num::I64(f as i64)
        } else if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
            Num::U64(f as u64)
        } else {
            Num::F64(f)
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Num::I64(i) => i as f64,
            Num::U64(u) => u as f64,
            Num::F64(f) => f,
        }
    }
}

/// An operation on a string value (keyword fields and string attribute values).
#[derive(Debug, Clone, PartialEq)]
pub enum StrOp {
    Eq(String),
    Prefix(String),
    /// A regex matching the whole value.
    Regex(String),
    Range(Bound<String>, Bound<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrOp {
    /// `path:value`: the string value, or the number / boolean it spells.
    Eq {
        text: String,
        num: Option<Num>,
        boolean: Option<bool>,
    },
    /// A string operation only (quoted values, prefixes, regexes, string ranges).
    Str(StrOp),
    /// Numeric comparison; bounds are numbers.
    NumRange(Bound<f64>, Bound<f64>),
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All,
    Nothing,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// The message holds these words consecutively (one word: anywhere).
    Words(Vec<String>),
    /// A message word starts with this (lowercase) prefix.
    WordPrefix(String),
    /// A message word matches this regex in full.
    WordRegex(String),
    Keyword(Keyword, StrOp),
    /// The keyword field is not empty.
    KeywordExists(Keyword),
    /// Severity number in `[lo, hi]`.
    Severity(u64, u64),
    /// Timestamp in `[start, end)`.
    Time(i64, i64),
    RecordId(u64),
    Attr {
        root: JsonRoot,
        path: String,
        op: AttrOp,
    },
}

/// Context for resolving literals.
pub struct Resolver<'a> {
    /// `now` for relative times.
    pub now_ns: i64,
    /// The message field's tokenizer (the index's `default`), to split words as indexing did.
    pub tokenizer: &'a mut TextAnalyzer,
}

impl Resolver<'_> {
    pub fn resolve(&mut self, expr: &Expr) -> Result<Filter, QueryError> {
        Ok(match expr {
            Expr::All => Filter::All,
            Expr::And(items) => Filter::And(
                items
                    .iter()
                    .map(|e| self.resolve(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(items) => Filter::Or(
                items
                    .iter()
                    .map(|e| self.resolve(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Filter::Not(Box::new(self.resolve(inner)?)),
            Expr::Match(m) => self.resolve_match(m)?,
        })
    }

    /// The message's words in `text`, split and lowercased as the index did.
    pub fn words(&mut self, text: &str) -> Vec<String> {
        let mut stream = self.tokenizer.token_stream(text);
        let mut words = Vec::new();
        while let Some(t) = stream.next() {
            words.push(t.text.clone());
        }
        words
    }

    fn resolve_match(&mut self, m: &Match) -> Result<Filter, QueryError> {
        let field = match &m.field {
            None => FieldRef::Message,
            Some(ident) => resolve(ident)?,
        };
        let name = m
            .field
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_else(|| "message".into());
        match field {
            FieldRef::Message => self.message(&name, &m.predicate, m),
            FieldRef::Keyword(Keyword::Level) => level(&m.predicate),
            FieldRef::Keyword(k) => Ok(match &m.predicate {
                Predicate::Exists => Filter::KeywordExists(k),
                p => match str_op(&name, p, m)? {
                    // `service:[* TO *]`: any value (a range query needs one bound).
                    StrOp::Range(Bound::Unbounded, Bound::Unbounded) => Filter::KeywordExists(k),
                    op => Filter::Keyword(k, op),
                },
            }),
            FieldRef::Severity => {
                let (lo, hi) = numeric_bounds(&name, &m.predicate, m)?;
                Ok(u64_range(lo, hi).map_or(Filter::Nothing, |(lo, hi)| Filter::Severity(lo, hi)))
            }
            FieldRef::RecordId => match &m.predicate {
                Predicate::Term(l) => l.text.parse().map(Filter::RecordId).map_err(|_| {
                    invalid(l.span, format!("record_id `{}` is not a number", l.text))
                }),
                _ => Err(invalid(m.span, "record_id takes one id: record_id:12345")),
            },
            FieldRef::Time => self.time(&m.predicate, m),
            FieldRef::Attr { root, path } => Ok(Filter::Attr {
                root,
                op: attr_op(&name, &m.predicate, m)?,
                path,
            }),
        }
    }

    fn message(&mut self, name: &str, p: &Predicate, m: &Match) -> Result<Filter, QueryError> {
        match p {
            Predicate::Term(l) | Predicate::Phrase(l) => {
                let words = self.words(&l.text);
                if words.is_empty() {
                    return Err(invalid(
                        l.span,
                        format!("`{}` has no word to search for in the {name}", l.text),
                    ));
                }
                Ok(Filter::Words(words))
            }
            Predicate::Prefix(l) => Ok(Filter::WordPrefix(l.text.to_lowercase())),
            Predicate::Regex(l) => {
                check_regex(l)?;
                Ok(Filter::WordRegex(l.text.clone()))
            }
            Predicate::Exists => Ok(Filter::All),
            Predicate::Compare(..) | Predicate::Range { .. } => Err(invalid(
                m.span,
                format!("the {name} is full text: comparisons apply to numbers, levels and times"),
            )),
        }
    }

    fn time(&mut self, p: &Predicate, m: &Match) -> Result<Filter, QueryError> {
        let now = self.now_ns;
        let t = |l: &Literal| parse_time_literal(&l.text, now).map_err(|e| invalid(l.span, e));
        let (start, end) = match p {
            Predicate::Compare(op, l) => {
                let v = t(l)?;
                match op {
                    CompareOp::Gt => (v.saturating_add(1), i64::MAX),
                    CompareOp::Ge => (v, i64::MAX),
                    CompareOp::Lt => (i64::MIN, v),
                    CompareOp::Le => (i64::MIN, v.saturating_add(1)),
                }
            }
            Predicate::Range { lower, upper } => {
                let start = match lower {
                    RangeBound::Included(l) => t(l)?,
                    RangeBound::Excluded(l) => t(l)?.saturating_add(1),
                    RangeBound::Unbounded => i64::MIN,
                };
                let end = match upper {
                    RangeBound::Included(l) => t(l)?.saturating_add(1),
                    RangeBound::Excluded(l) => t(l)?,
                    RangeBound::Unbounded => i64::MAX,
                };
                (start, end)
            }
            Predicate::Exists => return Ok(Filter::All),
            _ => {
                return Err(invalid(
                    m.span,
                    "_time takes a comparison or a range: _time:>now-15m, _time:[2026-11-01T00:00:00Z TO now]",
                ))
            }
        };
        Ok(if start < end {
            Filter::Time(start, end)
        } else {
            Filter::Nothing
        })
    }
}

fn check_regex(l: &Literal) -> Result<(), QueryError> {
    regex::Regex::new(&format!("^(?:{})$", l.text))
        .map_err(|e| invalid(l.span, format!("invalid regex /{}/: {e}", l.text)))?;
    tantivy_fst::Regex::new(&l.text)
        .map_err(|e| invalid(l.span, format!("regex /{}/ is not supported: {e}", l.text)))?;
    Ok(())
}

fn str_op(name: &str, p: &Predicate, m: &Match) -> Result<StrOp, QueryError> {
    Ok(match p {
        Predicate::Term(l) | Predicate::Phrase(l) => StrOp::Eq(l.text.clone()),
        Predicate::Prefix(l) => StrOp::Prefix(l.text.clone()),
        Predicate::Regex(l) => {
            check_regex(l)?;
            StrOp::Regex(l.text.clone())
        }
        Predicate::Compare(op, l) => {
            let v = l.text.clone();
            match op {
                CompareOp::Gt => StrOp::Range(Bound::Excluded(v), Bound::Unbounded),
                CompareOp::Ge => StrOp::Range(Bound::Included(v), Bound::Unbounded),
                CompareOp::Lt => StrOp::Range(Bound::Unbounded, Bound::Excluded(v)),
                CompareOp::Le => StrOp::Range(Bound::Unbounded, Bound::Included(v)),
            }
        }
        Predicate::Range { lower, upper } => {
            let b = |r: &RangeBound| match r {
                RangeBound::Included(l) => Bound::Included(l.text.clone()),
                RangeBound::Excluded(l) => Bound::Excluded(l.text.clone()),
                RangeBound::Unbounded => Bound::Unbounded,
            };
            StrOp::Range(b(lower), b(upper))
        }
        Predicate::Exists => {
            return Err(invalid(m.span, format!("{name}:* is not supported here")))
        }
    })
}

fn number(l: &Literal) -> Result<f64, QueryError> {
    Num::parse(&l.text)
        .map(Num::as_f64)
        .ok_or_else(|| invalid(l.span, format!("`{}` is not a number", l.text)))
}

/// Numeric bounds of a comparison or range predicate.
fn numeric_bounds(
    name: &str,
    p: &Predicate,
    m: &Match,
) -> Result<(Bound<f64>, Bound<f64>), QueryError> {
    Ok(match p {
        Predicate::Term(l) => {
            let v = number(l)?;
            (Bound::Included(v), Bound::Included(v))
        }
        Predicate::Compare(op, l) => {
            let v = number(l)?;
            match op {
                CompareOp::Gt => (Bound::Excluded(v), Bound::Unbounded),
                CompareOp::Ge => (Bound::Included(v), Bound::Unbounded),
                CompareOp::Lt => (Bound::Unbounded, Bound::Excluded(v)),
                CompareOp::Le => (Bound::Unbounded, Bound::Included(v)),
            }
        }
        Predicate::Range { lower, upper } => {
            let b = |r: &RangeBound| -> Result<Bound<f64>, QueryError> {
                Ok(match r {
                    RangeBound::Included(l) => Bound::Included(number(l)?),
                    RangeBound::Excluded(l) => Bound::Excluded(number(l)?),
                    RangeBound::Unbounded => Bound::Unbounded,
                })
            };
            (b(lower)?, b(upper)?)
        }
        Predicate::Exists => (Bound::Unbounded, Bound::Unbounded),
        _ => {
            return Err(invalid(
                m.span,
                format!("{name} is a number: use {name}:N, {name}:>N or {name}:[A TO B]"),
            ))
        }
    })
}

/// A float range over non-negative integers as an inclusive u64 range (None = empty).
fn u64_range(lo: Bound<f64>, hi: Bound<f64>) -> Option<(u64, u64)> {
    let lo = match lo {
        Bound::Included(v) => v.ceil(),
        Bound::Excluded(v) => v.floor() + 1.0,
        Bound::Unbounded => 0.0,
    }
    .max(0.0);
    let hi = match hi {
        Bound::Included(v) => v.floor(),
        Bound::Excluded(v) => v.ceil() - 1.0,
        Bound::Unbounded => u64::MAX as f64,
    };
    (lo <= hi).then_some((lo as u64, hi.min(u64::MAX as f64) as u64))
}

/// `level:error`, `level:>=warn`, `level:[debug TO warn]`, `level:/e.*/`.
fn level(p: &Predicate) -> Result<Filter, QueryError> {
    let lvl = |l: &Literal| -> Result<&'static str, QueryError> {
        canonical_level(&l.text).ok_or_else(|| {
            invalid(
                l.span,
                format!(
                    "`{}` is not a level: use trace, debug, info, warn, error or fatal",
                    l.text
                ),
            )
        })
    };
    let range_of = |l: &Literal| -> Result<(u64, u64), QueryError> {
        let name = lvl(l)?;
        level_range(name).ok_or_else(|| invalid(l.span, "`unspecified` has no rank to compare"))
    };
    Ok(match p {
        Predicate::Term(l) | Predicate::Phrase(l) => {
            Filter::Keyword(Keyword::Level, StrOp::Eq(lvl(l)?.to_string()))
        }
        Predicate::Prefix(l) => {
            Filter::Keyword(Keyword::Level, StrOp::Prefix(l.text.to_ascii_lowercase()))
        }
        Predicate::Regex(l) => {
            check_regex(l)?;
            Filter::Keyword(Keyword::Level, StrOp::Regex(l.text.clone()))
        }
        Predicate::Exists => Filter::All,
        // Comparisons order levels by severity and apply to records with a known level.
        Predicate::Compare(op, l) => {
            let (lo, hi) = range_of(l)?;
            let (a, b) = match op {
                CompareOp::Gt => (hi + 1, 24),
                CompareOp::Ge => (lo, 24),
                CompareOp::Lt => (1, lo.saturating_sub(1)),
                CompareOp::Le => (1, hi),
            };
            if a <= b {
                Filter::Severity(a, b)
            } else {
                Filter::Nothing
            }
        }
        Predicate::Range { lower, upper } => {
            let a = match lower {
                RangeBound::Included(l) => range_of(l)?.0,
                RangeBound::Excluded(l) => range_of(l)?.1 + 1,
                RangeBound::Unbounded => 1,
            };
            let b = match upper {
                RangeBound::Included(l) => range_of(l)?.1,
                RangeBound::Excluded(l) => range_of(l)?.0.saturating_sub(1),
                RangeBound::Unbounded => 24,
            };
            if a <= b && b > 0 {
                Filter::Severity(a, b)
            } else {
                Filter::Nothing
            }
        }
    })
}

fn attr_op(name: &str, p: &Predicate, m: &Match) -> Result<AttrOp, QueryError> {
    Ok(match p {
        Predicate::Term(l) => AttrOp::Eq {
            text: l.text.clone(),
            num: Num::parse(&l.text),
            boolean: l.text.parse().ok(),
        },
        Predicate::Exists => AttrOp::Exists,
        Predicate::Compare(_, l) if Num::parse(&l.text).is_some() => {
            let (lo, hi) = numeric_bounds(name, p, m)?;
            AttrOp::NumRange(lo, hi)
        }
        Predicate::Range { lower, upper }
            if [lower, upper].iter().all(|b| match b {
                RangeBound::Included(l) | RangeBound::Excluded(l) => Num::parse(&l.text).is_some(),
                RangeBound::Unbounded => true,
            }) =>
        {
            let (lo, hi) = numeric_bounds(name, p, m)?;
            AttrOp::NumRange(lo, hi)
        }
        p => AttrOp::Str(str_op(name, p, m)?),
    })
}

impl Filter {
    /// The time range `[start, end)` every matching record lies in, from the top-level
    /// conjunction's `_time` conditions (used to prune partitions).
    pub fn time_bounds(&self) -> (i64, i64) {
        match self {
            Filter::Time(s, e) => (*s, *e),
            Filter::And(items) => items.iter().fold((i64::MIN, i64::MAX), |(s, e), f| {
                let (fs, fe) = f.time_bounds();
                (s.max(fs), e.min(fe))
            }),
            _ => (i64::MIN, i64::MAX),
        }
    }
}
