//! The tokenizer feeding the winnow grammar in `parser.rs`.
//!
//! Lexing is context dependent, so the lexer keeps a small stack of modes:
//! - `Filter`: words, `"phrases"`, `-` negation (a `-` starting a token), parentheses, and `IDENT:` which starts a
//!   field match; the value after the colon is lexed as a *value* (below).
//! - `Group`: inside `field:( ... )`: every word is a value (no `IDENT:` split), with `-`
//!   negation and nested parentheses.
//! - `Range`: inside `field:[ ... ]`: words and phrases until `]` or `}`.
//! - after the first `|` (outside quotes and regexes): pipe commands, where `,`, `(`, `)` and
//!   `=` are punctuation.
//!
//! A *value* is a `"phrase"`, a `/regex/`, `>`/`>=`/`<`/`<=` and a literal, the start of a
//! range or of a group, or a word (which may contain `:` and `/`).
//!
//! The lexer never fails outright: an unclosed quote or regex, or too deep a nesting, becomes
//! an `Error` token (lexing stops there) and the error itself, which the parser reports when
//! it reaches that token.

use super::ast::{CompareOp, Span};
use super::error::{column_of, ParseError};

/// Deepest nesting of parentheses accepted.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A run of word characters. `value` has the escapes removed; `star` when the word ends
    /// with an unescaped `*`.
    Word {
        value: String,
        star: bool,
    },
    /// `"..."` (the value without quotes, `\"` and `\\` unescaped).
    Phrase(String),
    /// `IDENT:` (the name without the colon).
    Field(String),
    /// `/.../` (the pattern between the slashes, `\/` unescaped).
    Regex(String),
    Cmp(CompareOp),
    /// A `-` negating what follows it.
    Minus,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Pipe,
    Comma,
    Eq,
    /// Where lexing failed; the error is returned beside the tokens.
    Error,
    /// The end of the text (always the last token).
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'s> {
    pub kind: Tok,
    pub span: Span,
    /// The text as written.
    pub raw: &'s str,
    /// Whitespace separates this token from the previous one.
    pub space_before: bool,
    /// The 1-based character column of `span.start`.
    pub column: usize,
}

impl Token<'_> {
    /// A bare word spelled `kw` (case-insensitive, no escapes): `AND`, `or`, `TO`, `by`.
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self.kind, Tok::Word { .. }) && self.raw.eq_ignore_ascii_case(kw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Filter,
    Group,
    Range,
}

/// `( ) " [ ] { } |` end a word.
pub(crate) fn is_special(c: char) -> bool {
    matches!(c, '(' | ')' | '"' | '[' | ']' | '{' | '}' | '|')
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')
}

/// `[A-Za-z_@][A-Za-z0-9_.@-]*`
pub(crate) fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(is_ident_start) && cs.all(is_ident_char)
}

/// Unclosed quotes and regexes and too deep a nesting stop the lexer.
struct Stop;

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    tokens: Vec<Token<'s>>,
    modes: Vec<Mode>,
    space_before: bool,
    error: Option<ParseError>,
    /// A byte offset and its column, to count columns incrementally.
    col_at: (usize, usize),
}

/// The tokens of `src` (ending with `Eof`), and the error that stopped the lexer if any (then
/// the token before `Eof` is an `Error` at the same position).
pub(crate) fn lex(src: &str) -> (Vec<Token<'_>>, Option<ParseError>) {
    let mut lx = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
        modes: vec![Mode::Filter],
        space_before: false,
        error: None,
        col_at: (0, 1),
    };
    let _ = lx.run();
    lx.skip_ws();
    let end = src.len();
    let column = lx.column(end);
    lx.tokens.push(Token {
        kind: Tok::Eof,
        span: Span::new(end, end),
        raw: "",
        space_before: lx.space_before,
        column,
    });
    (lx.tokens, lx.error)
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
            self.space_before = true;
        }
    }

    fn at_value_end(&self) -> bool {
        self.peek()
            .is_none_or(|c| c.is_whitespace() || is_special(c))
    }

    /// The column of byte offset `pos` (offsets are asked for in increasing order).
    fn column(&mut self, pos: usize) -> usize {
        let (at, col) = self.col_at;
        let col = match self.src.get(at..pos) {
            Some(between) => col + between.chars().count(),
            None => column_of(self.src, pos),
        };
        self.col_at = (pos, col);
        col
    }

    fn push(&mut self, kind: Tok, start: usize) {
        let column = self.column(start);
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
            raw: &self.src[start..self.pos],
            space_before: std::mem::take(&mut self.space_before),
            column,
        });
    }

    /// Consumes one character as a token.
    fn single(&mut self, kind: Tok) {
        let start = self.pos;
        self.bump();
        self.push(kind, start);
    }

    /// [`Lexer::single`] where a lexing step is expected.
    fn one(&mut self, kind: Tok) -> Result<(), Stop> {
        self.single(kind);
        Ok(())
    }

    fn fail(&mut self, start: usize, message: String, expected: &[&str]) -> Stop {
        self.error = Some(
            ParseError::at(self.src, start, message)
                .with_expected(expected.iter().copied())
                .with_found(None),
        );
        let column = self.column(start);
        self.tokens.push(Token {
            kind: Tok::Error,
            span: Span::new(start, start),
            raw: "",
            space_before: std::mem::take(&mut self.space_before),
            column,
        });
        Stop
    }

    fn mode(&self) -> Mode {
        self.modes.last().copied().unwrap_or(Mode::Filter)
    }

    fn run(&mut self) -> Result<(), Stop> {
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else {
                return Ok(());
            };
            if c == '|' {
                self.single(Tok::Pipe);
                return self.pipes();
            }
            match self.mode() {
                Mode::Filter => self.filter_token(c)?,
                Mode::Group => self.group_token(c)?,
                Mode::Range => self.range_token(c)?,
            }
        }
    }

    fn filter_token(&mut self, c: char) -> Result<(), Stop> {
        match c {
            '(' => self.open_paren(Mode::Filter),
            ')' => {
                self.close_paren();
                Ok(())
            }
            '[' => self.one(Tok::LBracket),
            ']' => self.one(Tok::RBracket),
            '{' => self.one(Tok::LBrace),
            '}' => self.one(Tok::RBrace),
            '"' => self.phrase(),
            '-' => self.one(Tok::Minus),
            _ => match self.ident_before_colon() {
                Some(end) => {
                    let start = self.pos;
                    let name = self.src[start..end].to_string();
                    self.pos = end + 1; // the ':'
                    self.push(Tok::Field(name), start);
                    self.value()
                }
                None => {
                    self.word();
                    Ok(())
                }
            },
        }
    }

    fn group_token(&mut self, c: char) -> Result<(), Stop> {
        match c {
            '(' => self.open_paren(Mode::Group),
            ')' => {
                self.close_paren();
                Ok(())
            }
            ']' => self.one(Tok::RBracket),
            '}' => self.one(Tok::RBrace),
            '-' => self.one(Tok::Minus),
            _ => self.value(),
        }
    }

    fn range_token(&mut self, c: char) -> Result<(), Stop> {
        match c {
            ']' | '}' => {
                self.single(if c == ']' { Tok::RBracket } else { Tok::RBrace });
                self.modes.pop();
                Ok(())
            }
            '"' => self.phrase(),
            '(' => self.one(Tok::LParen),
            ')' => self.one(Tok::RParen),
            '[' => self.one(Tok::LBracket),
            '{' => self.one(Tok::LBrace),
            _ => {
                self.word();
                Ok(())
            }
        }
    }

    /// The end of `IDENT` when the text here is `IDENT:`.
    fn ident_before_colon(&self) -> Option<usize> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if is_ident_start(c) => {}
            _ => return None,
        }
        for (i, c) in chars {
            if c == ':' {
                return Some(self.pos + i);
            }
            if !is_ident_char(c) {
                return None;
            }
        }
        None
    }

    fn open_paren(&mut self, mode: Mode) -> Result<(), Stop> {
        if self.modes.len() > MAX_DEPTH {
            let start = self.pos;
            let stop = self.fail(
                start,
                format!("too many nested parentheses (at most {MAX_DEPTH} levels)"),
                &[],
            );
            if let Some(e) = &mut self.error {
                e.found = Some("(".to_string());
            }
            return Err(stop);
        }
        self.single(Tok::LParen);
        self.modes.push(mode);
        Ok(())
    }

    fn close_paren(&mut self) {
        self.single(Tok::RParen);
        if self.modes.len() > 1 && self.mode() != Mode::Range {
            self.modes.pop();
        }
    }

    /// What follows `field:` (and every operand inside `field:( ... )`).
    fn value(&mut self) -> Result<(), Stop> {
        let Some(c) = self.peek() else {
            return Ok(());
        };
        match c {
            '"' => self.phrase(),
            '/' => self.regex(),
            '>' | '<' => {
                let start = self.pos;
                self.bump();
                let eq = self.peek() == Some('=');
                if eq {
                    self.bump();
                }
                let op = match (c, eq) {
                    ('>', false) => CompareOp::Gt,
                    ('>', true) => CompareOp::Ge,
                    ('<', false) => CompareOp::Lt,
                    _ => CompareOp::Le,
                };
                self.push(Tok::Cmp(op), start);
                match self.peek() {
                    Some('"') => self.phrase(),
                    _ if self.at_value_end() => Ok(()),
                    _ => {
                        self.word();
                        Ok(())
                    }
                }
            }
            '[' | '{' => {
                self.single(if c == '[' { Tok::LBracket } else { Tok::LBrace });
                self.modes.push(Mode::Range);
                Ok(())
            }
            '(' => self.open_paren(Mode::Group),
            _ if self.at_value_end() => Ok(()),
            _ => {
                self.word();
                Ok(())
            }
        }
    }

    /// A run of characters other than whitespace and specials; `\` escapes any character.
    fn word(&mut self) {
        let start = self.pos;
        let mut value = String::new();
        let mut star = false;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || is_special(c) {
                break;
            }
            self.bump();
            if c == '\\' {
                // A backslash at the very end stands for itself.
                value.push(self.bump().unwrap_or('\\'));
                star = false;
            } else {
                value.push(c);
                star = c == '*';
            }
        }
        if self.pos == start {
            // Callers only start a word on a word character; never loop without progress.
            if let Some(c) = self.bump() {
                value.push(c);
            }
        }
        self.push(Tok::Word { value, star }, start);
    }

    /// `"..."`: `\"` and `\\` are unescaped, other backslashes kept.
    fn phrase(&mut self) -> Result<(), Stop> {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.fail(
                        start,
                        "unclosed quote: expected a closing `\"`, found end of query".into(),
                        &["a closing `\"`"],
                    ))
                }
                Some('"') => break,
                Some('\\') => match self.bump() {
                    Some(c @ ('"' | '\\')) => value.push(c),
                    Some(c) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => value.push('\\'),
                },
                Some(c) => value.push(c),
            }
        }
        self.push(Tok::Phrase(value), start);
        Ok(())
    }

    /// `/.../`: `\/` is unescaped, other escapes are kept for the regex engine.
    fn regex(&mut self) -> Result<(), Stop> {
        let start = self.pos;
        self.bump();
        let mut pattern = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.fail(
                        start,
                        "unclosed regular expression: expected a closing `/`, found end of query"
                            .into(),
                        &["a closing `/`"],
                    ))
                }
                Some('/') => {
                    if !self
                        .peek()
                        .is_none_or(|c| c.is_whitespace() || matches!(c, ')' | '|'))
                    {
                        return Err(self.after_regex(start));
                    }
                    break;
                }
                Some('\\') => match self.bump() {
                    Some('/') => pattern.push('/'),
                    Some(c) => {
                        pattern.push('\\');
                        pattern.push(c);
                    }
                    None => pattern.push('\\'),
                },
                Some(c) => pattern.push(c),
            }
        }
        self.push(Tok::Regex(pattern), start);
        Ok(())
    }

    /// `path:/var/log`: a regex followed by more text is most likely a value starting with `/`.
    fn after_regex(&mut self, regex_start: usize) -> Stop {
        let at = self.pos;
        let rest = &self.src[at..];
        let next = rest
            .find(|c: char| c.is_whitespace() || is_special(c))
            .map_or(rest, |end| &rest[..end]);
        let next = if next.is_empty() {
            &rest[..rest.chars().next().map_or(0, char::len_utf8)]
        } else {
            next
        };
        let regex = &self.src[regex_start..at];
        let value = format!("{regex}{next}");
        let message = format!(
            "unexpected `{next}` right after the regular expression `{regex}`: to search for a value \
             starting with `/`, quote it (\"{value}\") or escape the slash (\\{value})"
        );
        let stop = self.fail(at, message, &["a space", "`)`", "`|`", "end of query"]);
        if let Some(e) = &mut self.error {
            e.found = Some(next.to_string());
        }
        stop
    }

    /// After the first `|`: commands, names, numbers and `, ( ) =`.
    fn pipes(&mut self) -> Result<(), Stop> {
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else {
                return Ok(());
            };
            match c {
                '|' => self.single(Tok::Pipe),
                ',' => self.single(Tok::Comma),
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                '=' => self.single(Tok::Eq),
                '"' => self.phrase()?,
                _ => {
                    let start = self.pos;
                    while let Some(c) = self.peek() {
                        if c.is_whitespace() || matches!(c, '|' | ',' | '(' | ')' | '=' | '"') {
                            break;
                        }
                        self.bump();
                    }
                    let value = self.src[start..self.pos].to_string();
                    self.push(Tok::Word { value, star: false }, start);
                }
            }
        }
    }
}
