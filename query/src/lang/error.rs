//! The error of a query that does not parse, or that the executor rejects, with where.

use super::ast::Span;

/// A query error with its place in the query text.
///
/// `message` says in words what was expected and what was found; `position` is a byte offset
/// into the query text (at most its length, on a character boundary) and `column` the same
/// place as a 1-based count of characters, for showing to a person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (at column {column})")]
pub struct ParseError {
    /// e.g. "expected a value after `status:`, found end of query".
    pub message: String,
    /// Byte offset into the query text, `<= text.len()`.
    pub position: usize,
    /// 1-based character column (characters, not bytes).
    pub column: usize,
    /// What would have been accepted there, in words (`a value`, `` `)` ``); may be empty.
    pub expected: Vec<String>,
    /// The offending text; `None` at the end of the query.
    pub found: Option<String>,
}

impl ParseError {
    /// An error about the text at `at` (a [`Span`], or a byte offset as `usize`) of the query
    /// `text`: `found` is the spanned text (`None` for an empty span or at the end), and
    /// positions outside the text or inside a character are moved back to the closest valid
    /// place. For the executor's errors: `ParseError::at(text, lit.span, "not a number")`.
    pub fn at(text: &str, at: impl Into<Span>, message: impl Into<String>) -> ParseError {
        let span = at.into();
        let position = floor_boundary(text, span.start);
        let end = floor_boundary(text, span.end.max(position));
        let found = match text.get(position..end) {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => None,
        };
        ParseError {
            message: message.into(),
            position,
            column: column_of(text, position),
            expected: Vec::new(),
            found,
        }
    }

    /// Sets what would have been accepted.
    pub fn with_expected<S: Into<String>>(mut self, expected: impl IntoIterator<Item = S>) -> Self {
        self.expected = expected.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the offending text (`None`: the end of the query).
    pub fn with_found(mut self, found: Option<String>) -> Self {
        self.found = found;
        self
    }
}

/// The largest character boundary of `text` that is `<= pos` (and `<= text.len()`).
pub(crate) fn floor_boundary(text: &str, pos: usize) -> usize {
    let mut p = pos.min(text.len());
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    p
}

/// The 1-based character column of byte offset `pos` in `text`.
pub(crate) fn column_of(text: &str, pos: usize) -> usize {
    text[..floor_boundary(text, pos)].chars().count() + 1
}

impl From<usize> for Span {
    /// An empty span at a byte offset.
    fn from(pos: usize) -> Span {
        Span::new(pos, pos)
    }
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Span {
        Span::new(r.start, r.end)
    }
}
