//! The syntax tree of a Pharos log query: a filter followed by a pipeline of stages.
//!
//! `service:api AND level:>=warn "timed out" | stats count() by (service)` parses into a
//! [`Query`] whose `filter` is an [`Expr`] and whose `pipes` are [`Pipe`]s. The parser only
//! knows syntax: field names stay as written and literals keep their text, so what a field
//! means (a keyword, a number, a time) is decided in one place, `crate::fields`, for both
//! the tantivy compiler and the in-memory evaluator. Every node carries the [`Span`] of its
//! text so a later error (an unknown field, a bad number) can point at it too.

/// Byte offsets `[start, end)` into the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A whole query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Expr,
    pub pipes: Vec<Pipe>,
}

/// The boolean filter part.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The empty query, or a lone `*`: every record.
    All,
    /// Implicit (`a b`) or explicit (`a AND b`) conjunction; at least two operands.
    And(Vec<Expr>),
    /// `a OR b`; at least two operands.
    Or(Vec<Expr>),
    /// `NOT a` or `-a`.
    Not(Box<Expr>),
    Match(Match),
}

/// One `field:predicate` (or a bare word / phrase, whose `field` is `None`: the message).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The field name as written (`level`, `http.status_code`, `attributes.user.id`,
    /// `_time`); `None` for a bare word or phrase, which searches the message.
    pub field: Option<Ident>,
    pub predicate: Predicate,
    /// The whole `field:predicate` text.
    pub span: Span,
}

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A literal value as written (quotes and escapes removed), with where it was written.
/// Whether it is a number, a level or a time is decided by the field it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Gt,
    Ge,
    Lt,
    Le,
}

/// A range bound; `*` in the query text is `Unbounded`.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeBound {
    Included(Literal),
    Excluded(Literal),
    Unbounded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// A bare word: `timeout`, `field:value`, `status:500`.
    Term(Literal),
    /// A quoted string: `"connection refused"`, `field:"a phrase"`.
    Phrase(Literal),
    /// `field:pre*` (the literal is the text before the `*`).
    Prefix(Literal),
    /// `field:/regex/` (the literal is the pattern between the slashes, `\/` unescaped).
    Regex(Literal),
    /// `field:>500`, `field:>=1.5`, `level:>=warn`, `_time:>now-15m`.
    Compare(CompareOp, Literal),
    /// `field:[100 TO 200]` (inclusive), `field:{100 TO 200}` (exclusive), or mixed brackets.
    Range {
        lower: RangeBound,
        upper: RangeBound,
    },
    /// `field:*`: the field is present.
    Exists,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// One stage after a `|`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pipe {
    /// `stats count(), avg(f) as a by (x, y)` (parentheses around the `by` list optional).
    Stats {
        aggs: Vec<Aggregation>,
        by: Vec<Ident>,
        span: Span,
    },
    /// `timechart span=1m count() by level`; without `span=` the engine picks one from the
    /// time range.
    Timechart {
        /// Bucket width in nanoseconds, when given.
        span_ns: Option<i64>,
        aggs: Vec<Aggregation>,
        by: Vec<Ident>,
        span: Span,
    },
    /// `sort by f desc, g` (default ascending).
    Sort {
        keys: Vec<(Ident, SortOrder)>,
        span: Span,
    },
    /// `limit 10`.
    Limit { n: u64, span: Span },
    /// `fields a, b`.
    Fields { fields: Vec<Ident>, span: Span },
    /// `top 5 service`: the N most frequent values of a field, with their counts.
    Top { n: u64, field: Ident, span: Span },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// `p50`, `p95`, `p99`, ... (`pNN`, also `p99.9`): the percentile as a fraction 0..=100.
    Percentile(f64),
    CountDistinct,
}

/// `count()`, `avg(duration_ms)`, `p99(duration_ms) as slow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub func: AggFunc,
    /// The field aggregated; `None` only for `count()`.
    pub field: Option<Ident>,
    /// The output column's name given with `as`.
    pub alias: Option<Ident>,
    pub span: Span,
}

impl Aggregation {
    /// The output column's name: the alias, else the call as written canonically
    /// (`count`, `avg(duration_ms)`, `p99(duration_ms)`).
    pub fn column_name(&self) -> String {
        if let Some(a) = &self.alias {
            return a.name.clone();
        }
        let f = self.field.as_ref().map(|f| f.name.as_str()).unwrap_or("");
        match self.func {
            AggFunc::Count if f.is_empty() => "count".to_string(),
            AggFunc::Count => format!("count({f})"),
            AggFunc::Sum => format!("sum({f})"),
            AggFunc::Avg => format!("avg({f})"),
            AggFunc::Min => format!("min({f})"),
            AggFunc::Max => format!("max({f})"),
            AggFunc::Percentile(p) => format!("p{p}({f})"),
            AggFunc::CountDistinct => format!("count_distinct({f})"),
        }
    }
}
