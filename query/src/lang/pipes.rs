//! The commands after `|`: stats, timechart, sort, limit, fields and top.

use winnow::combinator::{alt, cut_err, opt, preceded};
use winnow::error::ErrMode;
use winnow::stream::Stream;
use winnow::Parser;

use super::ast::*;
use super::lexer::{is_ident, Tok};
use super::parser::*;

const PIPES: &str = "stats, timechart, sort, limit, fields or top";

/// One command after a `|`.
pub(super) fn pipe(i: &mut Input<'_, '_>) -> PResult<Pipe> {
    let cmd = label(
        "a command (stats, timechart, sort, limit, fields or top)",
        token(|t| matches!(t.kind, Tok::Word { .. }), "a command"),
    )
    .parse_next(i)?;
    let start = cmd.span.start;
    let (pipe, more): (Pipe, &[&str]) = match cmd.raw.to_ascii_lowercase().as_str() {
        "stats" => {
            let aggs = aggregations(i)?;
            let by = opt(by_list).parse_next(i)?.unwrap_or_default();
            let more: &[&str] = if by.is_empty() {
                &["`,`", "`by`"]
            } else {
                &["`,`"]
            };
            let span = Span::new(start, prev_end(i));
            (Pipe::Stats { aggs, by, span }, more)
        }
        "timechart" => {
            let span_ns = opt(preceded(
                (kw("span", "`span=`"), kind(Tok::Eq, "`=`")),
                cut_err(duration),
            ))
            .parse_next(i)?;
            let aggs = aggregations(i)?;
            let by = opt(by_list).parse_next(i)?.unwrap_or_default();
            let more: &[&str] = if by.is_empty() {
                &["`,`", "`by`"]
            } else {
                &["`,`"]
            };
            let span = Span::new(start, prev_end(i));
            (
                Pipe::Timechart {
                    span_ns,
                    aggs,
                    by,
                    span,
                },
                more,
            )
        }
        "sort" => {
            cut_err(kw("by", "`by`")).parse_next(i)?;
            let keys = comma_list(sort_key).parse_next(i)?;
            let span = Span::new(start, prev_end(i));
            (Pipe::Sort { keys, span }, &["`asc`", "`desc`", "`,`"])
        }
        "limit" => {
            let n = cut_err(number).parse_next(i)?;
            (
                Pipe::Limit {
                    n,
                    span: Span::new(start, prev_end(i)),
                },
                &[],
            )
        }
        "fields" => {
            let fields = comma_list(ident).parse_next(i)?;
            (
                Pipe::Fields {
                    fields,
                    span: Span::new(start, prev_end(i)),
                },
                &["`,`"],
            )
        }
        "top" => {
            let (n, field) = cut_err((number, ident)).parse_next(i)?;
            (
                Pipe::Top {
                    n,
                    field,
                    span: Span::new(start, prev_end(i)),
                },
                &[],
            )
        }
        _ => {
            return cut_on(
                cmd,
                &["stats", "timechart", "sort", "limit", "fields", "top"],
                format!(
                    "unknown command `{}` after `|`: use {PIPES}",
                    shorten(cmd.raw)
                ),
            )
        }
    };
    match i.peek_token().map(|t| &t.kind) {
        Some(Tok::Pipe | Tok::Eof) => Ok(pipe),
        _ => {
            let mut expected = more.to_vec();
            expected.extend(["`|`", "end of query"]);
            Err(ErrMode::Cut(PErr::here(i).expecting(&expected)))
        }
    }
}

/// `p, p, ...`: at least one; after a comma another is required.
fn comma_list<'t, 's: 't, O>(
    mut p: impl Parser<Input<'t, 's>, O, ErrMode<PErr>>,
) -> impl Parser<Input<'t, 's>, Vec<O>, ErrMode<PErr>> {
    move |i: &mut Input<'t, 's>| {
        let mut out = vec![cut_err(p.by_ref()).parse_next(i)?];
        while kind(Tok::Comma, "`,`").parse_next(i).is_ok() {
            out.push(cut_err(p.by_ref()).parse_next(i)?);
        }
        Ok(out)
    }
}

/// A field name: `[A-Za-z_@][A-Za-z0-9_.@-]*`.
fn ident(i: &mut Input<'_, '_>) -> PResult<Ident> {
    let t = token(
        |t| matches!(t.kind, Tok::Word { .. }) && is_ident(t.raw),
        "a field name",
    )
    .parse_next(i)?;
    Ok(Ident {
        name: t.raw.to_string(),
        span: t.span,
    })
}

/// A whole number, `0` or more.
fn number(i: &mut Input<'_, '_>) -> PResult<u64> {
    let t = token(
        |t| matches!(t.kind, Tok::Word { .. }) && t.raw.bytes().all(|b| b.is_ascii_digit()),
        "a whole number",
    )
    .parse_next(i)?;
    match t.raw.parse::<u64>() {
        Ok(n) => Ok(n),
        Err(_) => cut_on(
            t,
            &["a whole number"],
            format!("the number `{}` is too large", shorten(t.raw)),
        ),
    }
}

/// `by a, b` or `by (a, b)`.
fn by_list(i: &mut Input<'_, '_>) -> PResult<Vec<Ident>> {
    kw("by", "`by`").parse_next(i)?;
    match i.peek_token() {
        Some(open) if open.kind == Tok::LParen => {
            i.next_token();
            let fields = comma_list(ident).parse_next(i)?;
            close_paren(i, open)?;
            Ok(fields)
        }
        _ => comma_list(ident).parse_next(i),
    }
}

/// `30s`, `5m`, `1h`, `250ms`, `1d` in nanoseconds.
fn duration(i: &mut Input<'_, '_>) -> PResult<i64> {
    let t = label(
        "a duration like 30s, 5m or 1h",
        token(
            |t| matches!(t.kind, Tok::Word { .. }) && split_duration(t.raw).is_some(),
            "a duration",
        ),
    )
    .parse_next(i)?;
    let Some((digits, unit)) = split_duration(t.raw) else {
        return cut_on(
            t,
            &["a duration like 30s, 5m or 1h"],
            "not a duration".into(),
        );
    };
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => 86_400_000_000_000,
    };
    match digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ns))
    {
        Some(0) => cut_on(
            t,
            &["a duration like 30s, 5m or 1h"],
            format!("the span must be longer than zero, found `{}`", t.raw),
        ),
        Some(ns) => Ok(ns),
        None => cut_on(
            t,
            &["a duration like 30s, 5m or 1h"],
            format!("the span `{}` is too long", shorten(t.raw)),
        ),
    }
}

/// `123ms` → `("123", "ms")`; units ms, s, m, h, d.
fn split_duration(s: &str) -> Option<(&str, &str)> {
    let digits_end = s.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = s.split_at(digits_end);
    (!digits.is_empty() && matches!(unit, "ms" | "s" | "m" | "h" | "d")).then_some((digits, unit))
}

const AGG_HINT: &str = "an aggregation like count() or avg(field)";

/// `agg, agg, ...`
fn aggregations(i: &mut Input<'_, '_>) -> PResult<Vec<Aggregation>> {
    comma_list(label(AGG_HINT, aggregation)).parse_next(i)
}

/// `count()`, `avg(f)`, `p99.9(f) as slow`, ...
fn aggregation(i: &mut Input<'_, '_>) -> PResult<Aggregation> {
    let name = token(|t| matches!(t.kind, Tok::Word { .. }), "an aggregation").parse_next(i)?;
    let Some(func) = agg_func(name.raw) else {
        let message = match percentile_of(name.raw) {
            Some(Err(())) => format!(
                "the percentile in `{}` must be more than 0 and at most 100",
                shorten(name.raw)
            ),
            _ => format!(
                "unknown aggregation `{}`: use count(), count(field), count_distinct(field), \
                 sum(field), avg(field), min(field), max(field) or a percentile like p50(field), \
                 p99(field) or p99.9(field)",
                shorten(name.raw)
            ),
        };
        return cut_on(
            name,
            &["count", "count_distinct", "sum", "avg", "min", "max", "pNN"],
            message,
        );
    };
    cut_err(kind(Tok::LParen, "`(`")).parse_next(i)?;
    let field = opt(ident).parse_next(i)?;
    if field.is_none() && func != AggFunc::Count {
        return cut_here(
            i,
            &["a field name"],
            format!(
                "`{}` needs a field, like {}(duration_ms); found {}",
                name.raw,
                name.raw,
                found_words(i)
            ),
        );
    }
    let close = match i.peek_token() {
        Some(t) if t.kind == Tok::RParen => {
            i.next_token();
            t
        }
        _ => {
            let expected: &[&str] = if field.is_some() {
                &["`)`"]
            } else {
                &["a field name", "`)`"]
            };
            return Err(ErrMode::Cut(PErr::here(i).expecting(expected)));
        }
    };
    let alias = opt(preceded(
        kw("as", "`as`"),
        cut_err(label("a column name", ident)),
    ))
    .parse_next(i)?;
    let end = alias.as_ref().map_or(close.span.end, |a| a.span.end);
    Ok(Aggregation {
        func,
        field,
        alias,
        span: Span::new(name.span.start, end),
    })
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name.to_ascii_lowercase().as_str() {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "count_distinct" => AggFunc::CountDistinct,
        _ => return percentile_of(name)?.ok().map(AggFunc::Percentile),
    })
}

/// `p99` → `Some(Ok(99.0))`; `p0`, `p101` → `Some(Err(()))`; not `pNN` → `None`.
fn percentile_of(name: &str) -> Option<Result<f64, ()>> {
    let digits = name.strip_prefix(['p', 'P'])?;
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    Some(if p > 0.0 && p <= 100.0 {
        Ok(p)
    } else {
        Err(())
    })
}

/// `f`, `count`, `avg(duration_ms)`, `count()` with `asc`/`desc`.
fn sort_key(i: &mut Input<'_, '_>) -> PResult<(Ident, SortOrder)> {
    let head = label("a field or column name", ident).parse_next(i)?;
    let mut key = head.clone();
    if let Some(open) = opt(kind(Tok::LParen, "`(`")).parse_next(i)? {
        let inner = opt(ident).parse_next(i)?;
        let end = close_paren(i, open)?;
        key.name = format!(
            "{}({})",
            head.name,
            inner.as_ref().map_or("", |f| f.name.as_str())
        );
        key.span.end = end;
    }
    let order = opt(alt((kw("asc", "`asc`"), kw("desc", "`desc`")))).parse_next(i)?;
    let order = match order {
        Some(t) if t.is_kw("desc") => SortOrder::Desc,
        _ => SortOrder::Asc,
    };
    Ok((key, order))
}
