//! Label matchers as Alertmanager writes them in routes, inhibit rules, silences and amtool:
//! `name="value"`, `name!=value`, `name=~"re"`, `name!~"re"`, and lists `{a="b", c=~"d|e"}`.
//! Regexes are fully anchored (`^(?:re)$`) and a missing label matches as the empty string,
//! exactly as in Alertmanager, so a config copied from Alertmanager means the same thing here.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::LabelSet;

/// How a matcher compares a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::Re | MatchOp::Nre)
    }

    /// `=` or `=~` (as opposed to a negation): the API's `isEqual`.
    pub fn is_equal(self) -> bool {
        matches!(self, MatchOp::Eq | MatchOp::Re)
    }

    /// The operator with these API flags (`isRegex`, `isEqual`).
    pub fn from_flags(is_regex: bool, is_equal: bool) -> MatchOp {
        match (is_regex, is_equal) {
            (false, true) => MatchOp::Eq,
            (false, false) => MatchOp::Ne,
            (true, true) => MatchOp::Re,
            (true, false) => MatchOp::Nre,
        }
    }
}

/// A matcher that cannot be parsed or built; `pos` is the byte offset in the parsed text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {pos}: {msg}")]
pub struct MatcherError {
    pub pos: usize,
    pub msg: String,
}

fn error(pos: usize, msg: impl Into<String>) -> MatcherError {
    MatcherError {
        pos,
        msg: msg.into(),
    }
}

/// One label matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The anchored regex, for `=~` and `!~`.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}
impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher; a regex value must compile (anchored at both ends).
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, MatcherError> {
        let regex = if op.is_regex() {
            let anchored = format!("^(?:{value})$");
            Some(
                Regex::new(&anchored)
                    .map_err(|e| error(0, format!("invalid regex {value:?}: {e}")))?,
            )
        } else {
            None
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses one matcher (`name="value"`, also inside `{…}`).
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        let mut all = Matchers::parse(text)?;
        match all.0.len() {
            1 => Ok(all.0.remove(0)),
            0 => Err(error(0, "expected a matcher like name=\"value\"")),
            n => Err(error(0, format!("expected one matcher, found {n}"))),
        }
    }

    /// Matches a label value (`""` for a missing label).
    pub fn matches_value(&self, v: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::Ne, _) => v != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(v),
            (MatchOp::Nre, Some(re)) => !re.is_match(v),
            // Unreachable through the constructors; matching nothing is the safe answer.
            (_, None) => false,
        }
    }

    /// Matches a label set; a missing label is the empty string.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op.as_str())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Matcher::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A conjunction of matchers (all must match).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Parses `a="b", c=~"d"` or `{a="b", c=~"d"}` (trailing comma allowed; `{}` is empty).
    pub fn parse(text: &str) -> Result<Matchers, MatcherError> {
        Parser { text, pos: 0 }.parse_list()
    }

    /// Every matcher matches.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }

    /// Sorted as Alertmanager sorts a route's matchers (name, value, then operator), so route
    /// keys do not depend on the order they were written in.
    pub fn sort(&mut self) {
        self.0
            .sort_by(|a, b| (&a.name, &a.value, a.op).cmp(&(&b.name, &b.value, b.op)));
    }
}

impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn parse_list(mut self) -> Result<Matchers, MatcherError> {
        self.skip_ws();
        let braced = self.eat('{');
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None if braced => return Err(error(self.pos, "missing closing '}'")),
                None => break,
                Some('}') if braced => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek().is_some() {
                        return Err(error(self.pos, "unexpected text after '}'"));
                    }
                    break;
                }
                Some(_) => {}
            }
            out.push(self.parse_matcher(braced)?);
            self.skip_ws();
            if !self.eat(',') {
                match self.peek() {
                    Some('}') if braced => continue,
                    None => continue,
                    Some(c) => {
                        return Err(error(
                            self.pos,
                            format!("expected ',' between matchers, found {c:?}"),
                        ))
                    }
                }
            }
        }
        Ok(Matchers(out))
    }

    fn parse_matcher(&mut self, braced: bool) -> Result<Matcher, MatcherError> {
        let start = self.pos;
        let name_len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(self.rest().len());
        let name = &self.text[self.pos..self.pos + name_len];
        if name.is_empty() {
            return Err(error(start, "expected a label name"));
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(error(
                start,
                format!("label name {name:?} must not start with a digit"),
            ));
        }
        self.pos += name_len;
        self.skip_ws();
        let op_pos = self.pos;
        let op = [MatchOp::Re, MatchOp::Nre, MatchOp::Ne, MatchOp::Eq]
            .into_iter()
            .find(|op| self.rest().starts_with(op.as_str()))
            .ok_or_else(|| {
                error(
                    op_pos,
                    format!("expected one of =, !=, =~, !~ after label name {name:?}"),
                )
            })?;
        self.pos += op.as_str().len();
        self.skip_ws();
        let value_pos = self.pos;
        let value = if self.eat('"') {
            self.parse_quoted(value_pos)?
        } else {
            self.parse_unquoted(braced)
        };
        Matcher::new(name, op, &value).map_err(|e| error(value_pos, e.msg))
    }

    /// Alertmanager's unescaping: `\"`, `\\` and `\n`; any other backslash is kept as written
    /// (so `"\d+"` is the regex `\d+`).
    fn parse_quoted(&mut self, open: usize) -> Result<String, MatcherError> {
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(error(open, "unterminated quoted value (missing '\"')"))
    }

    /// An unquoted value runs to the next ',' (or '}' inside braces), trimmed.
    fn parse_unquoted(&mut self, braced: bool) -> String {
        let rest = self.rest();
        let end = rest
            .find(|c: char| c == ',' || (braced && c == '}'))
            .unwrap_or(rest.len());
        let value = rest[..end].trim_end().to_string();
        self.pos += rest[..end].trim_end().len();
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;
    use proptest::prelude::*;

    #[test]
    fn parses_every_form() {
        let m = Matcher::parse(r#"alertname="Down""#).unwrap();
        assert_eq!(
            (m.name.as_str(), m.op, m.value.as_str()),
            ("alertname", MatchOp::Eq, "Down")
        );
        let m = Matcher::parse("job != api").unwrap();
        assert_eq!((m.op, m.value.as_str()), (MatchOp::Ne, "api"));
        let ms = Matchers::parse(r#"{a="b", c=~"d|e" ,f!~"x.*",}"#).unwrap();
        assert_eq!(ms.0.len(), 3);
        assert_eq!(ms.to_string(), r#"{a="b",c=~"d|e",f!~"x.*"}"#);
        assert_eq!(Matchers::parse("{}").unwrap().0.len(), 0);
        let m = Matcher::parse(r#"msg="say \"hi\"\n\\ \d""#).unwrap();
        assert_eq!(m.value, "say \"hi\"\n\\ \\d");
        let m = Matcher::parse(r#"x=~"\d+""#).unwrap();
        assert!(m.matches(&labels([("x", "42")])));
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_are_empty() {
        let m = Matcher::parse(r#"job=~"api""#).unwrap();
        assert!(m.matches(&labels([("job", "api")])));
        assert!(
            !m.matches(&labels([("job", "api-2")])),
            "anchored at the end"
        );
        assert!(
            !m.matches(&labels([("job", "my-api")])),
            "anchored at the start"
        );
        let m = Matcher::parse(r#"job=~"a|b""#).unwrap();
        assert!(m.matches(&labels([("job", "b")])), "alternation is grouped");
        let empty = Matcher::parse(r#"team="""#).unwrap();
        assert!(empty.matches(&LabelSet::new()));
        let ne = Matcher::parse(r#"team!="x""#).unwrap();
        assert!(ne.matches(&LabelSet::new()));
        let nre = Matcher::parse(r#"team!~".+""#).unwrap();
        assert!(nre.matches(&LabelSet::new()));
    }

    #[test]
    fn errors_name_position_and_problem() {
        let e = Matcher::parse(r#"job~"x""#).unwrap_err();
        assert_eq!(e.pos, 3, "{e}");
        assert!(e.msg.contains("expected one of"), "{e}");
        let e = Matcher::parse(r#"job="x"#).unwrap_err();
        assert_eq!(e.pos, 4);
        assert!(e.msg.contains("unterminated"));
        let e = Matcher::parse(r#"job=~"(""#).unwrap_err();
        assert_eq!(e.pos, 5);
        assert!(e.msg.contains("invalid regex"));
        let e = Matchers::parse(r#"{a="b""#).unwrap_err();
        assert!(e.msg.contains("closing"));
        let e = Matchers::parse(r#"a="b" c="d""#).unwrap_err();
        assert_eq!(e.pos, 6);
        assert!(Matcher::parse("=x").unwrap_err().msg.contains("label name"));
        assert!(Matcher::parse(r#"a="b",c="d""#)
            .unwrap_err()
            .msg
            .contains("one matcher"));
    }

    fn op_strategy() -> impl Strategy<Value = MatchOp> {
        prop_oneof![
            Just(MatchOp::Eq),
            Just(MatchOp::Ne),
            Just(MatchOp::Re),
            Just(MatchOp::Nre)
        ]
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,64}") {
            let _ = Matchers::parse(&s);
            let _ = Matcher::parse(&s);
        }

        #[test]
        fn display_then_parse_round_trips(
            name in "[a-zA-Z_][a-zA-Z0-9_]{0,10}",
            op in op_strategy(),
            value in "[ -~\n\\\\\"é]{0,20}",
        ) {
            if let Ok(m) = Matcher::new(&name, op, &value) {
                let again = Matcher::parse(&m.to_string()).unwrap();
                prop_assert_eq!(&again, &m);
                let list = Matchers(vec![m.clone(), m]);
                prop_assert_eq!(Matchers::parse(&list.to_string()).unwrap(), list);
            }
        }
    }
}
