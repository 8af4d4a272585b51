//! A participant of an on-call schedule, written the way e-mail headers write people:
//! `Alice <alice@example.com>` or a bare `alice@example.com`.

use serde::{Deserialize, Serialize};

/// Someone who can be on call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The display name (the address when none was written).
    pub name: String,
    pub email: String,
}

impl Person {
    /// Parses `Name <addr>` or `addr`; the address needs one `@` with text on both sides and
    /// no spaces (the notifier does the full RFC 5322 parsing; this catches typos in config).
    pub fn parse(s: &str) -> Result<Person, String> {
        let s = s.trim();
        let (name, email) = match s.rfind('<') {
            Some(open) => {
                let Some(rest) = s[open + 1..].strip_suffix('>') else {
                    return Err(format!("{s:?}: expected `Name <address>` or `address`"));
                };
                (s[..open].trim().trim_matches('"').trim(), rest.trim())
            }
            None => ("", s),
        };
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !email
                        .chars()
                        .any(|c| c.is_whitespace() || c == '<' || c == '>')
            }
            None => false,
        };
        if !valid {
            return Err(format!("{s:?} has no valid e-mail address"));
        }
        Ok(Person {
            name: if name.is_empty() { email } else { name }.to_string(),
            email: email.to_string(),
        })
    }

    /// `Name <addr>` (or `addr` when the name is the address): what a `Target::Email` carries.
    pub fn mailbox(&self) -> String {
        if self.name == self.email {
            self.email.clone()
        } else {
            format!("{} <{}>", self.name, self.email)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_and_bare_addresses() {
        let p = Person::parse("Alice Smith <alice@example.com>").unwrap();
        assert_eq!(p.name, "Alice Smith");
        assert_eq!(p.email, "alice@example.com");
        assert_eq!(p.mailbox(), "Alice Smith <alice@example.com>");
        let p = Person::parse("bob@example.com").unwrap();
        assert_eq!(
            (p.name.as_str(), p.mailbox()),
            ("bob@example.com", "bob@example.com".into())
        );
        for bad in [
            "Alice",
            "Alice <alice>",
            "Alice <alice@example.com",
            "a b@c.d",
            "@x",
            "x@",
        ] {
            assert!(Person::parse(bad).is_err(), "{bad}");
        }
    }
}
