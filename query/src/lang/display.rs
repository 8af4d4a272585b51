//! Printing a [`Query`] back as query text.
//!
//! The text parses back to the same tree (spans aside) for every tree the parser can produce,
//! with these exceptions: a grouped value list (`service:(a OR b)`) prints expanded
//! (`service:a OR service:b`), an empty `Term` prints as the phrase `""`, and a `span=` that is
//! not a whole number of milliseconds is rounded. Operators print explicitly (`AND`, `OR`) and
//! parentheses only where precedence needs them.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;
use super::lexer::is_special;

impl Query {
    /// The query as text that [`parse`](super::parse) reads back to this query.
    pub fn to_query_string(&self) -> String {
        self.to_string()
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.filter)?;
        for p in &self.pipes {
            write!(f, " | {p}")?;
        }
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::All => f.write_str("*"),
            Expr::And(v) | Expr::Or(v) if v.is_empty() => {
                // Not produced by the parser: an empty AND is everything, an empty OR nothing.
                f.write_str(if matches!(self, Expr::And(_)) {
                    "*"
                } else {
                    "-*"
                })
            }
            Expr::And(v) => join(f, v, " AND ", |e| matches!(e, Expr::And(_) | Expr::Or(_))),
            Expr::Or(v) => join(f, v, " OR ", |e| matches!(e, Expr::Or(_))),
            Expr::Not(e) => match **e {
                Expr::Not(_) => write!(f, "NOT {e}"),
                Expr::And(_) | Expr::Or(_) => write!(f, "-({e})"),
                _ => write!(f, "-{e}"),
            },
            Expr::Match(m) => write!(f, "{m}"),
        }
    }
}

fn join(
    f: &mut Formatter<'_>,
    operands: &[Expr],
    op: &str,
    needs_parens: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (n, e) in operands.iter().enumerate() {
        if n > 0 {
            f.write_str(op)?;
        }
        if needs_parens(e) {
            write!(f, "({e})")?;
        } else {
            write!(f, "{e}")?;
        }
    }
    Ok(())
}

/// Where a word is written decides what must be escaped.
#[derive(Clone, Copy, PartialEq)]
enum At {
    /// A bare word: `:` would make a field, a leading `-` a negation, `AND` an operator.
    Bare,
    /// After `field:` or a comparison: a leading `/`, `>`, `<` or `=` would start something
    /// else.
    Value,
    /// A range bound: `TO` is the keyword.
    Bound,
}

fn word(text: &str, at: At) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let keyword = match at {
        At::Bare => ["and", "or", "not"]
            .iter()
            .any(|k| text.eq_ignore_ascii_case(k)),
        At::Value => false,
        At::Bound => text.eq_ignore_ascii_case("to"),
    };
    if keyword {
        out.push('\\');
    }
    for (n, c) in text.chars().enumerate() {
        let escape = c.is_whitespace()
            || is_special(c)
            || c == '\\'
            || c == '*'
            || (at == At::Bare && c == ':')
            || (n == 0 && at == At::Bare && c == '-')
            || (n == 0 && at == At::Value && matches!(c, '/' | '>' | '<' | '='));
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A literal compared with or bounding a range: a word when it reads well as one, else a
/// phrase (the literal's text is the same either way).
fn word_or_quoted(text: &str, at: At) -> String {
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '"') {
        quoted(text)
    } else {
        word(text, at)
    }
}

impl Display for Match {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let at = match &self.field {
            Some(field) => {
                write!(f, "{}:", field.name)?;
                At::Value
            }
            None => At::Bare,
        };
        match &self.predicate {
            Predicate::Term(l) if l.text.is_empty() => f.write_str("\"\""),
            Predicate::Term(l) => f.write_str(&word(&l.text, at)),
            Predicate::Phrase(l) => f.write_str(&quoted(&l.text)),
            Predicate::Prefix(l) => write!(f, "{}*", word(&l.text, at)),
            Predicate::Regex(l) => {
                f.write_char('/')?;
                for c in l.text.chars() {
                    if c == '/' {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('/')
            }
            Predicate::Compare(op, l) => {
                let op = match op {
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                };
                write!(f, "{op}{}", word_or_quoted(&l.text, At::Value))
            }
            Predicate::Range { lower, upper } => {
                let (open, lower) = match lower {
                    RangeBound::Included(l) => ('[', word_or_quoted(&l.text, At::Bound)),
                    RangeBound::Excluded(l) => ('{', word_or_quoted(&l.text, At::Bound)),
                    RangeBound::Unbounded => ('[', "*".to_string()),
                };
                let (close, upper) = match upper {
                    RangeBound::Included(l) => (']', word_or_quoted(&l.text, At::Bound)),
                    RangeBound::Excluded(l) => ('}', word_or_quoted(&l.text, At::Bound)),
                    RangeBound::Unbounded => (']', "*".to_string()),
                };
                write!(f, "{open}{lower} TO {upper}{close}")
            }
            Predicate::Exists => f.write_char('*'),
        }
    }
}

impl Display for Aggregation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.func {
            AggFunc::Count => f.write_str("count")?,
            AggFunc::Sum => f.write_str("sum")?,
            AggFunc::Avg => f.write_str("avg")?,
            AggFunc::Min => f.write_str("min")?,
            AggFunc::Max => f.write_str("max")?,
            AggFunc::Percentile(p) => write!(f, "p{p}")?,
            AggFunc::CountDistinct => f.write_str("count_distinct")?,
        }
        let field = self.field.as_ref().map_or("", |i| i.name.as_str());
        write!(f, "({field})")?;
        if let Some(alias) = &self.alias {
            write!(f, " as {}", alias.name)?;
        }
        Ok(())
    }
}

fn names<'a>(f: &mut Formatter<'_>, idents: impl IntoIterator<Item = &'a Ident>) -> fmt::Result {
    for (n, i) in idents.into_iter().enumerate() {
        if n > 0 {
            f.write_str(", ")?;
        }
        f.write_str(&i.name)?;
    }
    Ok(())
}

fn aggs_and_by(f: &mut Formatter<'_>, aggs: &[Aggregation], by: &[Ident]) -> fmt::Result {
    for (n, a) in aggs.iter().enumerate() {
        if n > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{a}")?;
    }
    if !by.is_empty() {
        f.write_str(" by ")?;
        names(f, by)?;
    }
    Ok(())
}

/// `90s` as `90s`, 3_600 s as `1h`: the largest unit that divides the span exactly.
fn duration(ns: i64) -> String {
    const UNITS: [(&str, i64); 5] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    for (unit, unit_ns) in UNITS {
        if ns % unit_ns == 0 {
            return format!("{}{unit}", ns / unit_ns);
        }
    }
    format!("{}ms", (ns / 1_000_000).max(1))
}

impl Display for Pipe {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Pipe::Stats { aggs, by, .. } => {
                f.write_str("stats ")?;
                aggs_and_by(f, aggs, by)
            }
            Pipe::Timechart {
                span_ns, aggs, by, ..
            } => {
                f.write_str("timechart ")?;
                if let Some(ns) = span_ns {
                    write!(f, "span={} ", duration(*ns))?;
                }
                aggs_and_by(f, aggs, by)
            }
            Pipe::Sort { keys, .. } => {
                f.write_str("sort by ")?;
                for (n, (key, order)) in keys.iter().enumerate() {
                    if n > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&key.name)?;
                    if *order == SortOrder::Desc {
                        f.write_str(" desc")?;
                    }
                }
                Ok(())
            }
            Pipe::Limit { n, .. } => write!(f, "limit {n}"),
            Pipe::Fields { fields, .. } => {
                f.write_str("fields ")?;
                names(f, fields)
            }
            Pipe::Top { n, field, .. } => write!(f, "top {n} {}", field.name),
        }
    }
}
