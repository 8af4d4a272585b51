//! The grammar of the query language, written with winnow over the tokens of `lexer.rs`.
//!
//! Precedence, loosest first: `OR`, then `AND` (explicit or by juxtaposition), then `NOT`/`-`.
//! Errors: a failing alternative *backtracks* with what it expected at the first token it
//! could not take, alternatives at the same token merge their expectations, and once a
//! construct is certain (after `AND`, `field:`, `(`, `|`, ...) failures are *cut* so the error
//! points at the real problem. [`PErr`] becomes a [`ParseError`] at the end.
//!
//! This file has the entry point, the error type and the token-level combinators; the filter
//! grammar is in `filter.rs`, the pipe commands in `pipes.rs`.

use winnow::combinator::{cut_err, preceded, repeat};
use winnow::error::{ErrMode, ParserError};
use winnow::stream::{Stream, TokenSlice};
use winnow::Parser;

use super::ast::*;
use super::error::{column_of, floor_boundary, ParseError};
use super::filter::{filter, unexpected};
use super::lexer::{lex, Tok, Token};
use super::pipes::pipe;

pub(super) type Input<'t, 's> = TokenSlice<'t, Token<'s>>;
pub(super) type PResult<O> = Result<O, ErrMode<PErr>>;

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
// The query

fn query(i: &mut Input<'_, '_>) -> PResult<Query> {
    let filter = match i.peek_token().map(|t| &t.kind) {
        Some(Tok::Pipe | Tok::Eof) | None => Expr::All,
        _ => match filter(i) {
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
    pub(super) fn here(i: &Input<'_, '_>) -> PErr {
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
    pub(super) fn on(t: &Token<'_>) -> PErr {
        PErr {
            pos: t.span.start,
            found: found_text(t),
            ..PErr::default()
        }
    }

    pub(super) fn expecting(mut self, expected: &[&str]) -> PErr {
        self.expected = expected.iter().map(|s| s.to_string()).collect();
        self
    }

    pub(super) fn message(mut self, message: String) -> PErr {
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

pub(super) fn found_text(t: &Token<'_>) -> Option<String> {
    match t.kind {
        Tok::Eof | Tok::Error => None,
        _ => Some(t.raw.to_string()),
    }
}

/// At most 40 characters of `s`, for quoting in a message.
pub(super) fn shorten(s: &str) -> String {
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

pub(super) fn backtrack<O>(i: &Input<'_, '_>, expected: &[&str]) -> PResult<O> {
    Err(ErrMode::Backtrack(PErr::here(i).expecting(expected)))
}

pub(super) fn cut_here<O>(i: &Input<'_, '_>, expected: &[&str], message: String) -> PResult<O> {
    Err(ErrMode::Cut(
        PErr::here(i).expecting(expected).message(message),
    ))
}

pub(super) fn cut_on<O>(t: &Token<'_>, expected: &[&str], message: String) -> PResult<O> {
    Err(ErrMode::Cut(
        PErr::on(t).expecting(expected).message(message),
    ))
}

// ---------------------------------------------------------------------------------------------
// Token primitives and combinators

/// The next token, if `ok` accepts it; else backtracks expecting `expected`.
pub(super) fn token<'t, 's: 't>(
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

pub(super) fn kind<'t, 's: 't>(
    want: Tok,
    expected: &'static str,
) -> impl Parser<Input<'t, 's>, &'t Token<'s>, ErrMode<PErr>> {
    token(move |t| t.kind == want, expected)
}

/// A keyword (case-insensitive): `and`, `by`, `to`, ...
pub(super) fn kw<'t, 's: 't>(
    word: &'static str,
    expected: &'static str,
) -> impl Parser<Input<'t, 's>, &'t Token<'s>, ErrMode<PErr>> {
    token(move |t| t.is_kw(word), expected)
}

/// When `p` fails without taking a token, it expected `what` (instead of its details).
pub(super) fn label<'t, 's: 't, O>(
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

pub(super) fn prev_end(i: &Input<'_, '_>) -> usize {
    i.previous_tokens().next().map_or(0, |t| t.span.end)
}

pub(super) fn is_bool_kw(t: &Token<'_>) -> bool {
    t.is_kw("and") || t.is_kw("or") || t.is_kw("not")
}

pub(super) fn literal(t: &Token<'_>) -> Literal {
    let text = match &t.kind {
        Tok::Word { value, .. } | Tok::Phrase(value) | Tok::Regex(value) => value.clone(),
        _ => t.raw.to_string(),
    };
    Literal { text, span: t.span }
}

/// The `)` closing `open`; returns its end.
pub(super) fn close_paren(i: &mut Input<'_, '_>, open: &Token<'_>) -> PResult<usize> {
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
pub(super) fn found_words(i: &Input<'_, '_>) -> String {
    match i.peek_token().and_then(found_text) {
        Some(f) => format!("`{}`", shorten(&f)),
        None => "end of query".to_string(),
    }
}
