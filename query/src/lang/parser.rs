//! The grammar of the query language, written with winnow over the tokens of `lexer.rs`.
//!
//! Precedence, loosest first: `OR`, then `AND` (explicit or by juxtaposition), then `NOT`/`-`.
//! Errors: a failing alternative *backtracks* with what it expected at the first token it
//! could not take, alternatives at the same token merge their expectations, and once a
//! construct is certain (after `AND`, `field:`, `(`, `|`, ...) failures are *cut* so the error
//! points at the real problem. [`PErr`] becomes a [`ParseError`] at the end.

use winnow::combinator::{alt, cut_err, opt, preceded, repeat};
use winnow::error::{ErrMode, ParserError};
use winnow::stream::{Stream, TokenSlice};
use winnow::Parser;

use super::ast::*;
use super::error::{column_of, floor_boundary, ParseError};
use super::lexer::{is_ident, lex, Tok, Token, MAX_DEPTH};

type Input<'t, 's> = TokenSlice<'t, Token<'s>>;
type PResult<O> = Result<O, ErrMode<PErr>>;

/// Parses a whole query.
pub(crate) fn parse_query(text: &str) -> Result<Query, ParseError> {
    let (tokens, lex_error) = lex(text);
    let mut input = TokenSlice::new(&tokens);
    let result = query.parse_next(&mut input);
    let err = match result {
        Ok(q) => match lex_error {
            // Unreachable: nothing consumes the `Error` token. Kept for totality.
            Some(e) => return Err(e),
            None => return Ok(q),
        },
        Err(ErrMode::Backtrack(e) | ErrMode::Cut(e)) => e,
        Err(ErrMode::Incomplete(_)) => PErr::default(),
    };
    match lex_error {
        Some(lexed) if err.pos >= lexed.position => Err(lexed),
        _ => Err(err.into_parse_error(text)),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The winnow error: where, what was found and expected there, or a whole message.
#[derive(Debug, Clone, Default)]
pub(crate) struct PErr {
    pos: usize,
    found: Option<String>,
    /// The text of the token before `pos`, for "expected X after `Y`".
    after: Option<String>,
    expected: Vec<String>,
    message: Option<String>,
}

impl PErr {
    /// At the next token of `i`.
    fn here(i: &Input<'_, '_>) -> PErr {
        let (pos, found) = match i.peek_token() {
            Some(t) => (t.span.start, found_text(t)),
            None => (usize::MAX, None),
        };
        PErr {
            pos,
            found,
            after: i.previous_tokens().next().map(|t| t.raw.to_string()),
            expected: Vec::new(),
            message: None,
        }
    }

    /// At a token already taken.
    fn on(t: &Token<'_>) -> PErr {
        PErr {
            pos: t.span.start,
            found: found_text(t),
            ..PErr::default()
        }
    }

    fn expecting(mut self, expected: &[&str]) -> PErr {
        self.expected = expected.iter().map(|s| s.to_string()).collect();
        self
    }

    fn message(mut self, message: String) -> PErr {
        self.message = Some(message);
        self
    }

    fn into_parse_error(self, text: &str) -> ParseError {
        let position = floor_boundary(text, self.pos);
        let found = match &self.found {
            Some(f) => format!("`{}`", shorten(f)),
            None => "end of query".to_string(),
        };
        let message = self.message.unwrap_or_else(|| {
            if self.expected.is_empty() {
                return format!("unexpected {found}");
            }
            let expected = join_or(&self.expected);
            let mut message = match self.after.as_deref() {
                Some(a) if !a.is_empty() => {
                    format!("expected {expected} after `{}`, found {found}", shorten(a))
                }
                _ => format!("expected {expected}, found {found}"),
            };
            let operand = self
                .expected
                .iter()
                .any(|e| e == "a search term" || e == "a value");
            if let (true, Some(f)) = (operand, &self.found) {
                if ["and", "or", "not"]
                    .iter()
                    .any(|k| f.eq_ignore_ascii_case(k))
                {
                    message.push_str(&format!(" (to search for the word, quote it: \"{f}\")"));
                }
            }
            message
        });
        ParseError {
            message,
            position,
            column: column_of(text, position),
            expected: self.expected,
            found: self.found,
        }
    }
}

impl<'t, 's> ParserError<Input<'t, 's>> for PErr {
    type Inner = PErr;

    fn from_input(input: &Input<'t, 's>) -> Self {
        PErr::here(input)
    }

    /// The error that got further wins; at the same token, expectations add up.
    fn or(self, other: Self) -> Self {
        use std::cmp::Ordering::*;
        match self.pos.cmp(&other.pos) {
            Greater => self,
            Less => other,
            Equal => {
                let mut merged = self;
                for e in other.expected {
                    if !merged.expected.contains(&e) {
                        merged.expected.push(e);
                    }
                }
                merged.message = merged.message.or(other.message);
                merged
            }
        }
    }

    fn into_inner(self) -> Result<Self::Inner, Self> {
        Ok(self)
    }
}

fn found_text(t: &Token<'_>) -> Option<String> {
    match t.kind {
        Tok::Eof | Tok::Error => None,
        _ => Some(t.raw.to_string()),
    }
}

/// At most 40 characters of `s`, for quoting in a message.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        let head: String = s.chars().take(37).collect();
        format!("{head}...")
    }
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn backtrack<O>(i: &Input<'_, '_>, expected: &[&str]) -> PResult<O> {
    Err(ErrMode::Backtrack(PErr::here(i).expecting(expected)))
}

fn cut_here<O>(i: &Input<'_, '_>, expected: &[&str], message: String) -> PResult<O> {
    Err(ErrMode::Cut(
        PErr::here(i).expecting(expected).message(message),
    ))
}

fn cut_on<O>(t: &Token<'_>, expected: &[&str], message: String) -> PResult<O> {
    Err(ErrMode::Cut(
        PErr::on(t).expecting(expected).message(message),
    ))
}

// ---------------------------------------------------------------------------------------------
// Token primitives and combinators

/// The next token, if `ok` accepts it; else backtracks expecting `expected`.
fn token<'t, 's: 't>(
    ok: impl Fn(&Token<'s>) -> bool,
    expected: &'static str,
) -> impl Parser<Input<'t, 's>, &'t Token<'s>, ErrMode<PErr>> {
    move |i: &mut Input<'t, 's>| match i.peek_token() {
        Some(t) if ok(t) => {
            i.next_token();
            Ok(t)
        }
        _ => backtrack(i, &[expected]),
    }
}

fn kind<'t, 's: 't>(
    want: Tok,
    expected: &'static str,
) -> impl Parser<Input<'t, 's>, &'t Token<'s>, ErrMode<PErr>> {
    token(move |t| t.kind == want, expected)
}

/// A keyword (case-insensitive): `and`, `by`, `to`, ...
fn kw<'t, 's: 't>(
    word: &'static str,
    expected: &'static str,
) -> impl Parser<Input<'t, 's>, &'t Token<'s>, ErrMode<PErr>> {
    token(move |t| t.is_kw(word), expected)
}

/// When `p` fails without taking a token, it expected `what` (instead of its details).
fn label<'t, 's: 't, O>(
    what: &'static str,
    mut p: impl Parser<Input<'t, 's>, O, ErrMode<PErr>>,
) -> impl Parser<Input<'t, 's>, O, ErrMode<PErr>> {
    move |i: &mut Input<'t, 's>| {
        let start = i.peek_token().map(|t| t.span.start);
        p.parse_next(i).map_err(|e| match e {
            ErrMode::Backtrack(mut err) if Some(err.pos) == start => {
                err.expected = vec![what.to_string()];
                ErrMode::Backtrack(err)
            }
            e => e,
        })
    }
}

fn prev_end(i: &Input<'_, '_>) -> usize {
    i.previous_tokens().next().map_or(0, |t| t.span.end)
}

fn is_bool_kw(t: &Token<'_>) -> bool {
    t.is_kw("and") || t.is_kw("or") || t.is_kw("not")
}

fn literal(t: &Token<'_>) -> Literal {
    let text = match &t.kind {
        Tok::Word { value, .. } | Tok::Phrase(value) | Tok::Regex(value) => value.clone(),
        _ => t.raw.to_string(),
    };
    Literal { text, span: t.span }
}

// ---------------------------------------------------------------------------------------------
// The query and its filter

fn query(i: &mut Input<'_, '_>) -> PResult<Query> {
    let filter = match i.peek_token().map(|t| &t.kind) {
        Some(Tok::Pipe | Tok::Eof) | None => Expr::All,
        _ => match or_expr(i, Ctx::TOP) {
            Ok(e) => e,
            Err(ErrMode::Backtrack(e)) => return Err(ErrMode::Cut(unexpected(i).unwrap_or(e))),
            Err(e) => return Err(e),
        },
    };
    if let Some(e) = unexpected(i) {
        return Err(ErrMode::Cut(e));
    }
    let pipes = repeat(0.., preceded(kind(Tok::Pipe, "`|`"), cut_err(pipe))).parse_next(i)?;
    match i.peek_token() {
        Some(t) if t.kind == Tok::Eof => Ok(Query { filter, pipes }),
        _ => cut_here(
            i,
            &["`|`", "end of query"],
            "unexpected text after the query".into(),
        ),
    }
}

/// An error for a token that cannot go on a filter here (`)`, `]`, ...).
fn unexpected(i: &Input<'_, '_>) -> Option<PErr> {
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
            if let Some(too_deep) = nots.get(MAX_DEPTH.saturating_sub(ctx.depth)) {
                ctx.deeper(nots.len(), too_deep)?;
            }
            let inner = ctx.deeper(nots.len(), first)?;
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

/// The `)` closing `open`; returns its end.
fn close_paren(i: &mut Input<'_, '_>, open: &Token<'_>) -> PResult<usize> {
    match i.peek_token() {
        Some(t) if t.kind == Tok::RParen => {
            i.next_token();
            Ok(t.span.end)
        }
        _ => cut_here(
            i,
            &["`)`"],
            format!(
                "expected `)` to close the `(` at column {}, found {}",
                open.column,
                found_words(i)
            ),
        ),
    }
}

/// "`x`" or "end of query", for the next token.
fn found_words(i: &Input<'_, '_>) -> String {
    match i.peek_token().and_then(found_text) {
        Some(f) => format!("`{}`", shorten(&f)),
        None => "end of query".to_string(),
    }
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
                    "expected a value right after `{}`, found a space",
                    op_token.raw
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

// ---------------------------------------------------------------------------------------------
// Pipes

const PIPES: &str = "stats, timechart, sort, limit, fields or top";

/// One command after a `|`.
fn pipe(i: &mut Input<'_, '_>) -> PResult<Pipe> {
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
    let open = cut_err(kind(Tok::LParen, "`(`")).parse_next(i)?;
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
            let _ = open;
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
