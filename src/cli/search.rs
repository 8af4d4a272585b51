//! `pharos search QUERY`: one `POST /api/v1/query`, printed as a table, JSON or NDJSON.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use super::client::Client;
use super::table::{self, Style};
use super::{Connection, Output};

/// The search window when neither `--since` nor `--start` is given (as Loki's logcli does):
/// searching all time by default is slow on a large store.
pub const DEFAULT_SINCE: &str = "1h";

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// The query: a filter, optionally followed by pipes, e.g. 'service:api level:>=warn',
    /// '"timed out" | fields service, message' or '* | stats count() by service'.
    pub query: String,
    /// Search the last DURATION (30s, 15m, 1h, 7d): start = now - DURATION. The default is 1h
    /// when --start is not given either; use --start 0 to search all time.
    #[arg(long, value_name = "DURATION", value_parser = parse_since, conflicts_with = "start")]
    pub since: Option<String>,
    /// Start of the range: RFC 3339 (2024-05-01T10:00:00Z), epoch seconds/ms/µs/ns, now, or
    /// now-15m.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End of the range (default: now), in the same forms as --start.
    #[arg(long, visible_alias = "until", value_name = "TIME")]
    pub end: Option<String>,
    /// At most this many records (the server allows up to 10000).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub limit: usize,
    /// How to print the answer.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(flatten)]
    pub conn: Connection,
}

/// `--since` must be a duration the server understands (checked here so a typo is a usage
/// error, not a request).
fn parse_since(s: &str) -> Result<String, String> {
    let s = s.trim();
    match pharos_query::time::parse_duration_ns(s) {
        Some(ns) if ns > 0 => Ok(s.to_string()),
        _ => Err(format!(
            "`{s}` is not a duration like 30s, 15m, 1h, 7d (ms, s, m, h, d, w)"
        )),
    }
}

/// The JSON body of the request.
fn request_body(args: &SearchArgs) -> Value {
    let start = match (&args.start, &args.since) {
        (Some(start), _) => start.clone(),
        (None, Some(since)) => format!("now-{since}"),
        (None, None) => format!("now-{DEFAULT_SINCE}"),
    };
    let mut body = json!({"query": args.query, "start": start, "limit": args.limit});
    if let Some(end) = &args.end {
        body["end"] = json!(end);
    }
    body
}

pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    let answer = super::runtime()?.block_on(client.query(&request_body(&args), &args.query))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = print(&mut out, &answer, args.output).and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        // `pharos search … | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("writing the results")),
    }
    if args.output != Output::Json {
        eprintln!("{}", summary(&answer));
    }
    Ok(())
}

fn print(out: &mut impl Write, answer: &Value, output: Output) -> std::io::Result<()> {
    let empty = Vec::new();
    let hits = answer["hits"].as_array().unwrap_or(&empty);
    let columns: Vec<String> = answer["columns"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(table::cell_text)
        .collect();
    let rows: Vec<Vec<Value>> = answer["rows"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|r| r.as_array().cloned().unwrap_or_default())
        .collect();
    let is_table = answer["kind"] == "table";
    match output {
        Output::Json => {
            let text = serde_json::to_string_pretty(answer).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")
        }
        Output::Ndjson if is_table => {
            for row in &rows {
                writeln!(out, "{}", row_object(&columns, row))?;
            }
            Ok(())
        }
        Output::Ndjson => {
            for hit in hits {
                writeln!(out, "{hit}")?;
            }
            Ok(())
        }
        Output::Table => {
            let style = Style::detect();
            let text = if is_table {
                table::rows_table(&columns, &rows, &style)
            } else {
                table::hits_table(hits, &style)
            };
            out.write_all(text.as_bytes())
        }
    }
}

/// A row as `{"column": value, …}` with the keys in the columns' order.
fn row_object(columns: &[String], row: &[Value]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{}:{}",
                Value::String(c.clone()),
                row.get(i).unwrap_or(&Value::Null)
            )
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// `3 of 120 records (took 4.2 ms)` (or rows of a table), for stderr.
fn summary(answer: &Value) -> String {
    let total = answer["total"].as_u64().unwrap_or(0);
    let took = answer["took_ms"].as_f64().unwrap_or(0.0);
    let plural = |n: u64, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    if answer["kind"] == "table" {
        let rows = answer["rows"].as_array().map_or(0, Vec::len) as u64;
        format!(
            "{} from {} (took {took:.1} ms)",
            plural(rows, "row"),
            plural(total, "record")
        )
    } else {
        let shown = answer["hits"].as_array().map_or(0, Vec::len) as u64;
        let more = if shown < total {
            "; --limit shows more"
        } else {
            ""
        };
        format!(
            "{shown} of {} (took {took:.1} ms{more})",
            plural(total, "record")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: SearchArgs,
    }

    fn body(argv: &[&str]) -> Result<Value, String> {
        let mut full = vec!["search"];
        full.extend_from_slice(argv);
        T::try_parse_from(full)
            .map(|t| request_body(&t.args))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn time_range_flags() {
        assert_eq!(
            body(&["x"]),
            Ok(json!({"query": "x", "start": "now-1h", "limit": 100}))
        );
        assert_eq!(
            body(&["x", "--since", "15m", "--until", "now-5m", "--limit", "3"]),
            Ok(json!({"query": "x", "start": "now-15m", "end": "now-5m", "limit": 3}))
        );
        assert_eq!(
            body(&["x", "--start", "0", "--end", "2024-05-01T00:00:00Z"]),
            Ok(json!({"query": "x", "start": "0", "end": "2024-05-01T00:00:00Z", "limit": 100}))
        );
        assert!(body(&["x", "--since", "1h", "--start", "0"]).is_err());
        let err = body(&["x", "--since", "yesterday"])
            .err()
            .unwrap_or_default();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn rows_keep_column_order() {
        assert_eq!(
            row_object(
                &["service".into(), "count()".into()],
                &[json!("api"), json!(3)]
            ),
            r#"{"service":"api","count()":3}"#
        );
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary(&json!({"kind": "hits", "total": 120, "hits": [{}, {}], "took_ms": 4.24})),
            "2 of 120 records (took 4.2 ms; --limit shows more)"
        );
        assert_eq!(
            summary(&json!({"kind": "hits", "total": 1, "hits": [{}], "took_ms": 1})),
            "1 of 1 record (took 1.0 ms)"
        );
        assert_eq!(
            summary(&json!({"kind": "table", "total": 5, "rows": [[1]], "took_ms": 0.5})),
            "1 row from 5 records (took 0.5 ms)"
        );
    }
}
