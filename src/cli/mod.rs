//! The client commands: `pharos search` and `pharos tail` (the query API, `/api/v1/query`,
//! `/api/v1/tail`), and the alerting commands `pharos alerts`, `pharos silence` and
//! `pharos ack` (the Alertmanager v2 API and `/api/v1/incidents`). The server does all the
//! work; these modules only call it and render the answer.

pub mod ack;
pub mod alerts;
pub mod client;
pub mod matchers;
pub mod notice;
pub mod search;
pub mod silence;
pub mod table;
pub mod tail;

use std::fmt;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the server is and how to authenticate (shared by `search` and `tail`).
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The Pharos server's base URL.
    #[arg(
        long,
        env = "PHAROS_SERVER",
        default_value = "http://127.0.0.1:7070",
        value_name = "URL"
    )]
    pub server: String,
    /// A file holding the API token (trimmed), for a server started with one. Without it the
    /// token comes from the PHAROS_API_TOKEN variable; there is no flag taking the token itself,
    /// since other users could read it in `ps`.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

/// How `pharos search` prints its answer.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns fitted to the terminal (records: time, level, service, message).
    Table,
    /// The server's JSON answer as it is, pretty-printed.
    Json,
    /// One JSON object per line: each record, or each row as {column: value}.
    Ndjson,
}

/// How `pharos tail` prints records.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailOutput {
    /// One aligned line per record: time, level, service, message.
    Table,
    /// Each record as one line of JSON.
    Ndjson,
}

/// How the alerting commands (`alerts`, `silence list`) print their answer.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOutput {
    /// Aligned columns fitted to the terminal.
    Table,
    /// The server's JSON (the listed items), pretty-printed.
    Json,
}

/// A request the server refused (400, 404, 409, …: it would refuse it again), or input the
/// CLI refused before sending it (a bad matcher). `pharos` exits with 2, as for a rejected
/// query, so scripts can tell "you asked for something wrong" from "could not ask".
#[derive(Debug)]
pub struct Rejected {
    pub message: String,
    /// The HTTP status, when the server refused (for callers that add a hint).
    pub status: Option<u16>,
    /// The input the error is in and the byte offset to point at, when known.
    pub at: Option<(String, usize)>,
}

impl Rejected {
    pub fn new(message: impl Into<String>) -> Rejected {
        Rejected {
            message: message.into(),
            status: None,
            at: None,
        }
    }
}

impl std::error::Error for Rejected {}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some((input, pos)) = &self.at {
            if let Some((line, caret)) = caret_lines(input, Some(*pos), None) {
                write!(f, "\n  {line}\n  {caret}")?;
            }
        }
        Ok(())
    }
}

/// Writes `text` to stdout; a reader that went away (`pharos alerts | head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

/// Who is running the command, for a silence's author and an acknowledgement's `by`:
/// `$USER`, else `$LOGNAME` (set by login and by sudo), else the name of the process's user
/// id in /etc/passwd (containers and cron often set neither variable).
fn login_name() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .or_else(passwd_name)
}

#[cfg(target_os = "linux")]
fn passwd_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's user: its uid without an unsafe getuid().
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    name_of_uid(&passwd, uid)
}

#[cfg(not(target_os = "linux"))]
fn passwd_name() -> Option<String> {
    None
}

/// The name of `uid` in passwd(5) text (`name:x:uid:gid:…`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn name_of_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// JSON pretty-printed, with the final newline.
fn pretty_json(v: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// The server rejected the query or its parameters (HTTP 400). `pharos` exits with 2.
#[derive(Debug)]
pub struct QueryRejected {
    /// The server's `error` text.
    pub message: String,
    /// The query as sent, to point into.
    pub query: String,
    /// Byte offset of the error in `query`, when the server gave one.
    pub position: Option<usize>,
    /// 1-based column (in characters) of the error, when the server gave one.
    pub column: Option<usize>,
}

impl std::error::Error for QueryRejected {}

impl fmt::Display for QueryRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query error: {}", self.message)?;
        if let Some((line, caret)) = caret_lines(&self.query, self.position, self.column) {
            write!(f, "\n  {line}\n  {caret}")?;
        }
        Ok(())
    }
}

/// The query line holding the error and a `^` under the error's character. The byte
/// `position` is preferred (it is exact); `column` (1-based characters) is the fallback.
fn caret_lines(
    query: &str,
    position: Option<usize>,
    column: Option<usize>,
) -> Option<(String, String)> {
    let pos = match (position, column) {
        (Some(p), _) if p <= query.len() && query.is_char_boundary(p) => p,
        (_, Some(c)) if c >= 1 => query
            .char_indices()
            .nth(c - 1)
            .map_or(query.len(), |(i, _)| i),
        _ => return None,
    };
    let line_start = query[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = query[pos..].find('\n').map_or(query.len(), |i| pos + i);
    let line = table::sanitize(&query[line_start..line_end]);
    let indent = table::display_width(&table::sanitize(&query[line_start..pos]));
    Some((line, format!("{}^", " ".repeat(indent))))
}

/// A small runtime for one command: the CLI does one request (or one stream) at a time.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(query: &str, position: Option<usize>, column: Option<usize>) -> String {
        QueryRejected {
            message: "unexpected `)`".into(),
            query: query.into(),
            position,
            column,
        }
        .to_string()
    }

    #[test]
    fn caret_points_at_the_position() {
        assert_eq!(
            rejected("service:api )", Some(12), None),
            "query error: unexpected `)`\n  service:api )\n              ^"
        );
    }

    #[test]
    fn caret_from_column_when_no_position() {
        assert_eq!(
            rejected("é )", None, Some(3)),
            "query error: unexpected `)`\n  é )\n    ^"
        );
    }

    #[test]
    fn caret_at_the_end_and_on_the_right_line() {
        assert_eq!(
            rejected("a AND", Some(5), None),
            "query error: unexpected `)`\n  a AND\n       ^"
        );
        assert_eq!(
            rejected("a\nb )", Some(4), None),
            "query error: unexpected `)`\n  b )\n    ^"
        );
    }

    #[test]
    fn login_names_from_passwd() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(name_of_uid(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(name_of_uid(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_of_uid(passwd, 7), None);
    }

    #[test]
    fn no_caret_without_a_place() {
        assert_eq!(rejected("a", None, None), "query error: unexpected `)`");
        assert_eq!(rejected("a", Some(99), None), "query error: unexpected `)`");
    }
}
