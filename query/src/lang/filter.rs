//! The filter: boolean expressions over word, phrase and `field:value` matches.

use winnow::combinator::{alt, cut_err, preceded, repeat};
use winnow::stream::Stream;
use winnow::Parser;

use super::ast::*;
use super::lexer::{Tok, Token, MAX_DEPTH};
use super::parser::*;

/// The filter part of a query.
pub(super) fn filter(i: &mut Input<'_, '_>) -> PResult<Expr> {
    or_expr(i, Ctx::TOP)
}

/// An error for a token that cannot go on a filter here (`)`, `]`, ...).
pub(super) fn unexpected(i: &Input<'_, '_>) -> Option<PErr> {
    let t = i.peek_token()?;
    let message = match t.kind {
        Tok::RParen => "unexpected `)`: it closes no `(`".to_string(),
        Tok::RBracket | Tok::RBrace => format!("unexpected `{}`: it closes no range", t.raw),
        Tok::LBracket | Tok::LBrace => format!(
            "unexpected `{}`: a range needs a field, like `status:[400 TO 499]`",
            t.raw
        ),
        _ => return None,
    };
    Some(PErr::on(t).message(message))
}

/// Where a boolean expression is: the filter (`field` is `None`), or inside `field:( ... )`
/// whose operands are values of that field; and how deeply nested it is.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    field: Option<&'a Ident>,
    /// Parentheses and negations around this point.
    depth: usize,
}

impl<'a> Ctx<'a> {
    const TOP: Ctx<'static> = Ctx {
        field: None,
        depth: 0,
    };

    fn operand(self) -> &'static str {
        match self.field {
            None => "a search term",
            Some(_) => "a value",
        }
    }

    /// The context `levels` deeper, or an error at `at` past [`MAX_DEPTH`].
    fn deeper(self, levels: usize, at: &Token<'_>) -> PResult<Ctx<'a>> {
        if self.depth + levels > MAX_DEPTH {
            return cut_on(
                at,
                &[],
                format!("the query nests too deeply: at most {MAX_DEPTH} levels of parentheses and negations"),
            );
        }
        Ok(Ctx {
            depth: self.depth + levels,
            ..self
        })
    }
}

/// `a OR b OR ...`
fn or_expr(i: &mut Input<'_, '_>, ctx: Ctx<'_>) -> PResult<Expr> {
    let first = and_expr(i, ctx)?;
    let rest: Vec<Expr> = repeat(
        0..,
        preceded(
            kw("or", "`OR`"),
            cut_err(|i: &mut Input<'_, '_>| and_expr(i, ctx)),
        ),
    )
    .parse_next(i)?;
    Ok(join(false, first, rest))
}

/// `a AND b c ...`
fn and_expr(i: &mut Input<'_, '_>, ctx: Ctx<'_>) -> PResult<Expr> {
    let first = unary(i, ctx)?;
    let rest: Vec<Expr> = repeat(
        0..,
        alt((
            preceded(
                kw("and", "`AND`"),
                cut_err(|i: &mut Input<'_, '_>| unary(i, ctx)),
            ),
            |i: &mut Input<'_, '_>| unary(i, ctx),
        )),
    )
    .parse_next(i)?;
    Ok(join(true, first, rest))
}

/// `NOT a`, `-a`, `NOT -NOT a`: counted, not recursed into.
fn unary<'t, 's: 't>(i: &mut Input<'t, 's>, ctx: Ctx<'_>) -> PResult<Expr> {
    let minus = |i: &mut Input<'t, 's>| -> PResult<&'t Token<'s>> {
        let t = kind(Tok::Minus, "`-`").parse_next(i)?;
        match i.peek_token() {
            Some(next) if next.space_before && next.kind != Tok::Eof => cut_here(
                i,
                &[ctx.operand()],
                format!(
                    "expected {} right after `-`, found a space before {}",
                    ctx.operand(),
                    found_words(i)
                ),
            ),
            _ => Ok(t),
        }
    };
    let nots: Vec<&'t Token<'s>> = repeat(0.., alt((kw("not", "`NOT`"), minus))).parse_next(i)?;
    let mut e = match nots.first() {
        None => atom(i, ctx)?,
        Some(first) => {
            // Past the limit, the error points at the first negation too many.
            let at = nots
                .get(MAX_DEPTH.saturating_sub(ctx.depth))
                .unwrap_or(first);
            let inner = ctx.deeper(nots.len(), at)?;
            cut_err(move |i: &mut Input<'_, '_>| atom(i, inner)).parse_next(i)?
        }
    };
    for _ in 0..nots.len() {
        e = Expr::Not(Box::new(e));
    }
    Ok(e)
}

fn atom(i: &mut Input<'_, '_>, ctx: Ctx<'_>) -> PResult<Expr> {
    match ctx.field {
        None => label(
            ctx.operand(),
            alt((
                |i: &mut Input<'_, '_>| parens(i, ctx),
                |i: &mut Input<'_, '_>| field_match(i, ctx.depth),
                bare_phrase,
                bare_word,
            )),
        )
        .parse_next(i),
        Some(field) => label(ctx.operand(), |i: &mut Input<'_, '_>| {
            value(i, field, None, ctx.depth)
        })
        .parse_next(i),
    }
}

/// `( expr )`
fn parens(i: &mut Input<'_, '_>, ctx: Ctx<'_>) -> PResult<Expr> {
    let open = kind(Tok::LParen, "`(`").parse_next(i)?;
    let inner = ctx.deeper(1, open)?;
    let e = cut_err(|i: &mut Input<'_, '_>| or_expr(i, inner)).parse_next(i)?;
    close_paren(i, open)?;
    Ok(e)
}

/// `a AND (b AND c)` is `And[a, b, c]`; one operand is itself.
fn join(and: bool, first: Expr, rest: Vec<Expr>) -> Expr {
    if rest.is_empty() {
        return first;
    }
    let mut out = Vec::with_capacity(rest.len() + 1);
    for e in std::iter::once(first).chain(rest) {
        match e {
            Expr::And(v) if and => out.extend(v),
            Expr::Or(v) if !and => out.extend(v),
            e => out.push(e),
        }
    }
    if and {
        Expr::And(out)
    } else {
        Expr::Or(out)
    }
}

/// A bare `"phrase"`: searches the message.
fn bare_phrase(i: &mut Input<'_, '_>) -> PResult<Expr> {
    let t = token(|t| matches!(t.kind, Tok::Phrase(_)), "a phrase").parse_next(i)?;
    Ok(Expr::Match(Match {
        field: None,
        predicate: Predicate::Phrase(literal(t)),
        span: t.span,
    }))
}

/// A bare word (`*` alone is everything, `pre*` a prefix): searches the message.
fn bare_word(i: &mut Input<'_, '_>) -> PResult<Expr> {
    let t = token(
        |t| matches!(t.kind, Tok::Word { .. }) && !is_bool_kw(t),
        "a word",
    )
    .parse_next(i)?;
    if t.raw == "*" {
        return Ok(Expr::All);
    }
    Ok(Expr::Match(Match {
        field: None,
        predicate: word_predicate(t),
        span: t.span,
    }))
}

/// A word as a value: `*` exists, `pre*` a prefix, else a term.
fn word_predicate(t: &Token<'_>) -> Predicate {
    match &t.kind {
        Tok::Word { .. } if t.raw == "*" => Predicate::Exists,
        Tok::Word { value, star: true } => {
            let mut text = value.clone();
            text.pop();
            Predicate::Prefix(Literal {
                text,
                span: Span::new(t.span.start, t.span.end.saturating_sub(1)),
            })
        }
        _ => Predicate::Term(literal(t)),
    }
}

/// `field:value`, where the value may be a group expanding into an expression.
fn field_match(i: &mut Input<'_, '_>, depth: usize) -> PResult<Expr> {
    let t = token(|t| matches!(t.kind, Tok::Field(_)), "a field").parse_next(i)?;
    let name = match &t.kind {
        Tok::Field(name) => name.clone(),
        _ => t.raw.trim_end_matches(':').to_string(),
    };
    let field = Ident {
        name,
        span: Span::new(t.span.start, t.span.end.saturating_sub(1)),
    };
    if let Some(next) = i.peek_token() {
        if next.space_before && next.kind != Tok::Eof {
            let hint = match next.kind {
                Tok::Word { .. } | Tok::Phrase(_) => {
                    format!(" (write `{}{}`)", t.raw, shorten(next.raw))
                }
                _ => String::new(),
            };
            return cut_here(
                i,
                &["a value"],
                format!(
                    "expected a value right after `{}`, found a space before {}{hint}",
                    t.raw,
                    found_words(i)
                ),
            );
        }
    }
    let e = cut_err(label("a value", |i: &mut Input<'_, '_>| {
        value(i, &field, Some(t.span.start), depth)
    }))
    .parse_next(i)?;
    Ok(e)
}

/// A value of `field`: a phrase, a regex, a comparison, a range, a group or a word. `start`
/// is where the match's text starts (the field's name), `None` inside a group (the value's).
fn value(
    i: &mut Input<'_, '_>,
    field: &Ident,
    start: Option<usize>,
    depth: usize,
) -> PResult<Expr> {
    let in_group = start.is_none();
    let first = i.peek_token().map_or(0, |t| t.span.start);
    let (predicate, end) = match i.peek_token().map(|t| &t.kind) {
        Some(Tok::LParen) => {
            let open = kind(Tok::LParen, "`(`").parse_next(i)?;
            let ctx = Ctx {
                field: Some(field),
                depth,
            }
            .deeper(1, open)?;
            let e = cut_err(|i: &mut Input<'_, '_>| or_expr(i, ctx)).parse_next(i)?;
            close_paren(i, open)?;
            return Ok(e);
        }
        _ => alt((
            phrase_value,
            regex_value,
            compare_value,
            range_value,
            move |i: &mut Input<'_, '_>| word_value(i, in_group),
        ))
        .parse_next(i)?,
    };
    Ok(Expr::Match(Match {
        field: Some(field.clone()),
        predicate,
        span: Span::new(start.unwrap_or(first), end),
    }))
}

fn phrase_value(i: &mut Input<'_, '_>) -> PResult<(Predicate, usize)> {
    let t = token(|t| matches!(t.kind, Tok::Phrase(_)), "a phrase").parse_next(i)?;
    Ok((Predicate::Phrase(literal(t)), t.span.end))
}

fn regex_value(i: &mut Input<'_, '_>) -> PResult<(Predicate, usize)> {
    let t = token(|t| matches!(t.kind, Tok::Regex(_)), "a /regex/").parse_next(i)?;
    Ok((Predicate::Regex(literal(t)), t.span.end))
}

fn word_value(i: &mut Input<'_, '_>, in_group: bool) -> PResult<(Predicate, usize)> {
    let t = token(
        move |t| matches!(t.kind, Tok::Word { .. }) && !(in_group && is_bool_kw(t)),
        "a word",
    )
    .parse_next(i)?;
    Ok((word_predicate(t), t.span.end))
}

/// `>500`, `>=1.5`, `<"a b"`
fn compare_value(i: &mut Input<'_, '_>) -> PResult<(Predicate, usize)> {
    let op_token =
        token(|t| matches!(t.kind, Tok::Cmp(_)), "`>`, `>=`, `<` or `<=`").parse_next(i)?;
    let op = match op_token.kind {
        Tok::Cmp(op) => op,
        _ => CompareOp::Gt,
    };
    if let Some(next) = i.peek_token() {
        if next.space_before && next.kind != Tok::Eof {
            return cut_here(
                i,
                &["a value"],
                format!(
                    "expected a value right after `{}`, found a space before {}",
                    op_token.raw,
                    found_words(i)
                ),
            );
        }
    }
    let t = cut_err(token(
        |t| matches!(t.kind, Tok::Word { .. } | Tok::Phrase(_)),
        "a value",
    ))
    .parse_next(i)?;
    Ok((Predicate::Compare(op, literal(t)), t.span.end))
}

/// `[a TO b]`, `{a TO b}`, mixed, `*` unbounded.
fn range_value(i: &mut Input<'_, '_>) -> PResult<(Predicate, usize)> {
    let open = token(
        |t| matches!(t.kind, Tok::LBracket | Tok::LBrace),
        "`[` or `{`",
    )
    .parse_next(i)?;
    let bound = || {
        token(
            |t| matches!(t.kind, Tok::Word { .. } | Tok::Phrase(_)) && !t.is_kw("to"),
            "a bound",
        )
    };
    let (lower, _, upper, close) = cut_err((
        label("the lower bound of the range", bound()),
        kw("to", "`TO`"),
        label("the upper bound of the range", bound()),
        label(
            "a closing `]` or `}`",
            token(
                |t| matches!(t.kind, Tok::RBracket | Tok::RBrace),
                "`]` or `}`",
            ),
        ),
    ))
    .parse_next(i)?;
    let as_bound = |t: &Token<'_>, inclusive: bool| {
        if t.raw == "*" {
            RangeBound::Unbounded
        } else if inclusive {
            RangeBound::Included(literal(t))
        } else {
            RangeBound::Excluded(literal(t))
        }
    };
    Ok((
        Predicate::Range {
            lower: as_bound(lower, open.kind == Tok::LBracket),
            upper: as_bound(upper, close.kind == Tok::RBracket),
        },
        close.span.end,
    ))
}
