//! Terminal rendering for `pharos search` and `pharos tail`: records as one line each (time,
//! level, service, message) and aggregation tables, fitted to the terminal's width.
//!
//! Widths are display columns (`unicode-width`: a CJK character or an emoji takes two). Every
//! cell is made safe for a terminal: line breaks become `⏎`, tabs spaces, and other control
//! characters their visible symbols (`␛`), so a log line cannot move the cursor or recolour
//! the screen.

use std::io::IsTerminal;

use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How to render: the width to fit and whether to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// The terminal's width in columns; `None` (output to a file or a pipe) never truncates.
    pub width: Option<usize>,
    /// ANSI colours (level, bold header).
    pub color: bool,
}

impl Style {
    /// For stdout: the width from `COLUMNS` or the terminal, colour only on a terminal and
    /// without `NO_COLOR`.
    pub fn detect() -> Style {
        let tty = std::io::stdout().is_terminal();
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        let width = columns.or_else(|| {
            terminal_size::terminal_size_of(std::io::stdout())
                .map(|(terminal_size::Width(w), _)| usize::from(w))
                .filter(|&w| w > 0)
        });
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            width,
            color: tty && !no_color,
        }
    }
}

const SEP: &str = "  ";
/// `2024-05-01T10:00:00.123Z`
const TIME_WIDTH: usize = 24;
const LEVEL_WIDTH: usize = 5;
const MIN_SERVICE_WIDTH: usize = 7;
const MAX_SERVICE_WIDTH: usize = 24;
/// The message keeps at least this much even on a very narrow terminal.
const MIN_MESSAGE_WIDTH: usize = 10;
/// A table column is not squeezed below this (or its natural width, if smaller).
const MIN_COLUMN_WIDTH: usize = 6;

/// Text made safe and one-line for a terminal cell.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push('⏎'),
            '\t' => out.push(' '),
            '\u{7f}' => out.push('␡'),
            c if u32::from(c) < 0x20 => {
                out.push(char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{fffd}'))
            }
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Columns `s` takes on a terminal.
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `width` columns, ending in `…` when something was cut.
pub fn truncate(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn pad_right(s: &str, width: usize) -> String {
    let w = display_width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

fn pad_left(s: &str, width: usize) -> String {
    let w = display_width(s);
    format!("{}{s}", " ".repeat(width.saturating_sub(w)))
}

fn bold(s: &str, style: &Style) -> String {
    if style.color {
        format!("\x1b[1m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// The level cell, padded, coloured on a terminal: red error/fatal, yellow warn, dim
/// debug/trace.
fn level_cell(level: &str, style: &Style) -> String {
    let shown = if level == "unspecified" { "-" } else { level };
    let cell = pad_right(&truncate(&sanitize(shown), LEVEL_WIDTH), LEVEL_WIDTH);
    let code = match level {
        "error" | "fatal" => "31",
        "warn" => "33",
        "debug" | "trace" => "2",
        _ => return cell,
    };
    if style.color {
        format!("\x1b[{code}m{cell}\x1b[0m")
    } else {
        cell
    }
}

/// A hit's time as UTC RFC 3339 with milliseconds: from `timestamp_ns`, else from the
/// `timestamp` text, else that text as it is.
pub fn hit_time(hit: &Value) -> String {
    let ns = hit["timestamp_ns"].as_i64().map(i128::from).or_else(|| {
        let text = hit["timestamp"].as_str()?;
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        Some(t.unix_timestamp_nanos())
    });
    let formatted = ns.and_then(|ns| {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns).ok()?;
        t.format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .ok()
    });
    formatted.unwrap_or_else(|| sanitize(&cell_text(&hit["timestamp"])))
}

/// An RFC 3339 time from the server as UTC to the second (`2024-05-01T10:00:00Z`), short
/// enough for a table; text that is not such a time is shown as it is.
pub fn short_time(text: &str) -> String {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                ))
                .ok()
        })
        .unwrap_or_else(|| sanitize(text))
}

/// Whether `hit` is a whole record (not one narrowed by `| fields`).
pub fn is_full_hit(hit: &Value) -> bool {
    hit.get("timestamp_ns").is_some()
}

/// The width of the service column for these hits.
pub fn service_width<'a>(hits: impl IntoIterator<Item = &'a Value>) -> usize {
    hits.into_iter()
        .map(|h| display_width(&sanitize(h["service"].as_str().unwrap_or(""))))
        .max()
        .unwrap_or(0)
        .clamp(MIN_SERVICE_WIDTH, MAX_SERVICE_WIDTH)
}

/// One record as a line (no newline): time, level, service, message; the message cut with
/// `…` to what the width leaves.
pub fn hit_line(hit: &Value, service_width: usize, style: &Style) -> String {
    let service = sanitize(hit["service"].as_str().unwrap_or(""));
    let message = sanitize(&cell_text(&hit["message"]));
    let fixed = TIME_WIDTH + LEVEL_WIDTH + service_width + 3 * SEP.len();
    let message = match style.width {
        Some(w) => truncate(&message, w.saturating_sub(fixed).max(MIN_MESSAGE_WIDTH)),
        None => message,
    };
    let line = format!(
        "{}{SEP}{}{SEP}{}{SEP}{}",
        pad_right(&hit_time(hit), TIME_WIDTH),
        level_cell(hit["level"].as_str().unwrap_or(""), style),
        pad_right(&truncate(&service, service_width), service_width),
        message
    );
    line.trim_end().to_string()
}

/// Search hits as a table with a header, each line ending in `\n`. Hits narrowed by
/// `| fields` become a table of their fields.
pub fn hits_table(hits: &[Value], style: &Style) -> String {
    if hits.is_empty() {
        return String::new();
    }
    if !hits.iter().all(is_full_hit) {
        return projected_table(hits, style);
    }
    let sw = service_width(hits);
    let header = format!(
        "{}{SEP}{}{SEP}{}{SEP}MESSAGE",
        pad_right("TIME", TIME_WIDTH),
        pad_right("LEVEL", LEVEL_WIDTH),
        pad_right("SERVICE", sw)
    );
    let mut out = bold(&header, style);
    out.push('\n');
    for h in hits {
        out.push_str(&hit_line(h, sw, style));
        out.push('\n');
    }
    out
}

/// Hits from `| fields a, b`: the time first, then the fields in the order they came
/// (`record_id` is left out).
fn projected_table(hits: &[Value], style: &Style) -> String {
    let mut keys: Vec<String> = Vec::new();
    for h in hits {
        if let Some(obj) = h.as_object() {
            for k in obj.keys() {
                if k != "record_id" && k != "timestamp" && !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    let mut columns = vec!["timestamp".to_string()];
    columns.extend(keys);
    let rows: Vec<Vec<Value>> = hits
        .iter()
        .map(|h| {
            columns
                .iter()
                .map(|c| {
                    if c == "timestamp" {
                        Value::String(hit_time(h))
                    } else {
                        h.get(c).cloned().unwrap_or(Value::Null)
                    }
                })
                .collect()
        })
        .collect();
    rows_table(&columns, &rows, style)
}

/// A JSON value as cell text: strings bare, null empty, the rest as compact JSON.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Column widths that fit `available` columns: each column gets at most its natural width,
/// and the room is shared fairly (narrow columns keep their width, wide ones are cut to
/// equal shares), never below `MIN_COLUMN_WIDTH`.
fn fit_widths(natural: &[usize], available: usize) -> Vec<usize> {
    let mut widths = vec![0; natural.len()];
    let mut order: Vec<usize> = (0..natural.len()).collect();
    order.sort_by_key(|&i| natural[i]);
    let mut left = available;
    for (n, &i) in order.iter().enumerate() {
        let share = left / (natural.len() - n);
        let w = natural[i].min(share.max(MIN_COLUMN_WIDTH.min(natural[i])));
        widths[i] = w;
        left = left.saturating_sub(w);
    }
    widths
}

/// An aggregation's rows under their column names, each line ending in `\n`. A column whose
/// values are all numbers is right-aligned; wide columns are cut with `…` to fit the width.
pub fn rows_table(columns: &[String], rows: &[Vec<Value>], style: &Style) -> String {
    rows_table_keeping(columns, rows, style, &[])
}

/// [`rows_table`] where the columns named in `keep` are never cut (ids one copies into the
/// next command, times): the others share what is left of the width.
pub fn rows_table_keeping(
    columns: &[String],
    rows: &[Vec<Value>],
    style: &Style,
    keep: &[&str],
) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| sanitize(&cell_text(r.get(i).unwrap_or(&Value::Null))))
                .collect()
        })
        .collect();
    let headers: Vec<String> = columns.iter().map(|c| sanitize(c)).collect();
    let numeric: Vec<bool> = (0..columns.len())
        .map(|i| {
            let mut values = rows
                .iter()
                .filter_map(|r| r.get(i))
                .filter(|v| !v.is_null());
            let mut any = false;
            let all = values.all(|v| {
                any = true;
                v.is_number()
            });
            any && all
        })
        .collect();
    let natural: Vec<usize> = (0..columns.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| display_width(&r[i]))
                .chain([display_width(&headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let kept: Vec<bool> = columns.iter().map(|c| keep.contains(&c.as_str())).collect();
    let widths = match style.width {
        Some(w) => {
            let fixed: usize = (0..columns.len())
                .filter(|&i| kept[i])
                .map(|i| natural[i])
                .sum();
            let free: Vec<usize> = (0..columns.len())
                .filter(|&i| !kept[i])
                .map(|i| natural[i])
                .collect();
            let mut fitted = fit_widths(
                &free,
                w.saturating_sub(SEP.len() * columns.len().saturating_sub(1) + fixed),
            )
            .into_iter();
            (0..columns.len())
                .map(|i| {
                    if kept[i] {
                        natural[i]
                    } else {
                        fitted.next().unwrap_or(natural[i])
                    }
                })
                .collect()
        }
        None => natural,
    };
    let line = |row: &[String]| -> String {
        let parts: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = truncate(c, widths[i]);
                if numeric[i] {
                    pad_left(&c, widths[i])
                } else {
                    pad_right(&c, widths[i])
                }
            })
            .collect();
        parts.join(SEP).trim_end().to_string()
    };
    let mut out = bold(&line(&headers), style);
    out.push('\n');
    for r in &cells {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAIN: Style = Style {
        width: Some(80),
        color: false,
    };

    fn hit(level: &str, service: &str, message: &str) -> Value {
        json!({
            "record_id": "1",
            "timestamp": "2024-05-01T10:00:00.123456789Z",
            "timestamp_ns": 1_714_557_600_123_456_789_i64,
            "level": level,
            "service": service,
            "message": message,
        })
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abcde…");
        assert_eq!(truncate("abc", 1), "…");
        assert_eq!(truncate("abc", 0), "");
        // Wide characters count two columns.
        assert_eq!(truncate("日本語テキスト", 6), "日本…");
        assert_eq!(display_width(&truncate("日本語テキスト", 6)), 5);
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(
            sanitize("one\ntwo\r\nthree\tfour\x1b[31m"),
            "one⏎two⏎three four␛[31m"
        );
    }

    #[test]
    fn hit_lines_fit_the_width() {
        let long = "x".repeat(200);
        let out = hits_table(
            &[hit("info", "api", &long), hit("warn", "db", "short")],
            &PLAIN,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "TIME                      LEVEL  SERVICE  MESSAGE"
        );
        assert!(lines[1].starts_with("2024-05-01T10:00:00.123Z  info   api      xxx"));
        assert!(lines[1].ends_with("x…"), "{}", lines[1]);
        for l in &lines {
            assert!(display_width(l) <= 80, "{l:?} is {} wide", display_width(l));
        }
        assert_eq!(display_width(lines[1]), 80);
        assert_eq!(lines[2], "2024-05-01T10:00:00.123Z  warn   db       short");
    }

    #[test]
    fn multi_line_messages_stay_on_one_line() {
        let line = hit_line(
            &hit("error", "api", "panic\n  at main.rs:1"),
            7,
            &Style {
                width: None,
                color: false,
            },
        );
        assert_eq!(
            line,
            "2024-05-01T10:00:00.123Z  error  api      panic⏎  at main.rs:1"
        );
    }

    #[test]
    fn no_width_means_no_truncation() {
        let long = "y".repeat(500);
        let style = Style {
            width: None,
            color: false,
        };
        assert!(hit_line(&hit("info", "api", &long), 7, &style).ends_with(&long));
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = hit_line(&hit("error", "api", "boom"), 7, &PLAIN);
        assert!(!plain.contains('\x1b'), "{plain:?}");
        let coloured = hit_line(
            &hit("error", "api", "boom"),
            7,
            &Style {
                width: Some(80),
                color: true,
            },
        );
        assert!(coloured.contains("\x1b[31merror\x1b[0m"), "{coloured:?}");
        let warn = hit_line(
            &hit("warn", "api", "hm"),
            7,
            &Style {
                width: Some(80),
                color: true,
            },
        );
        assert!(warn.contains("\x1b[33mwarn \x1b[0m"), "{warn:?}");
        let table = rows_table(&["n".into()], &[vec![json!(1)]], &PLAIN);
        assert!(!table.contains('\x1b'));
    }

    #[test]
    fn numbers_are_right_aligned() {
        let out = rows_table(
            &["service".into(), "count()".into()],
            &[
                vec![json!("api"), json!(12345)],
                vec![json!("checkout"), json!(7)],
            ],
            &PLAIN,
        );
        assert_eq!(
            out,
            "service   count()\n\
             api         12345\n\
             checkout        7\n"
        );
    }

    #[test]
    fn wide_tables_are_cut_to_fit() {
        let out = rows_table(
            &["a".into(), "b".into(), "n".into()],
            &[vec![
                json!("z".repeat(100)),
                json!("w".repeat(100)),
                json!(3),
            ]],
            &Style {
                width: Some(40),
                color: false,
            },
        );
        for l in out.lines() {
            assert!(display_width(l) <= 40, "{l:?}");
        }
        let row = out.lines().nth(1).unwrap_or_default();
        assert!(row.contains("z…") && row.contains("w…"), "{row}");
        assert!(row.ends_with("  3"), "{row}");
    }

    #[test]
    fn kept_columns_are_never_cut() {
        let out = rows_table_keeping(
            &["id".into(), "comment".into()],
            &[vec![
                json!("0b6e4c3a-1f2d-4d3e-9a8b-7c6d5e4f3a2b"),
                json!("x".repeat(80)),
            ]],
            &Style {
                width: Some(50),
                color: false,
            },
            &["id"],
        );
        let row = out.lines().nth(1).unwrap_or_default();
        assert!(
            row.starts_with("0b6e4c3a-1f2d-4d3e-9a8b-7c6d5e4f3a2b  xxx"),
            "{row}"
        );
        assert_eq!(display_width(row), 50, "{row}");
    }

    #[test]
    fn fair_widths() {
        assert_eq!(fit_widths(&[3, 50, 50], 43), vec![3, 20, 20]);
        assert_eq!(fit_widths(&[3, 10], 100), vec![3, 10]);
        // Never below the minimum, even if that overflows.
        assert_eq!(fit_widths(&[20, 20], 4), vec![6, 6]);
    }

    #[test]
    fn fields_projection_is_a_table() {
        let hits = [json!({"record_id": "9", "timestamp": "2024-05-01T10:00:00Z", "status": 500})];
        let out = hits_table(&hits, &PLAIN);
        assert_eq!(
            out,
            "timestamp                 status\n2024-05-01T10:00:00.000Z     500\n"
        );
    }

    #[test]
    fn short_times() {
        assert_eq!(
            short_time("2024-05-01T12:00:00.123456789+02:00"),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(short_time("soon\n"), "soon⏎");
    }

    #[test]
    fn nulls_and_objects_in_cells() {
        assert_eq!(cell_text(&Value::Null), "");
        assert_eq!(cell_text(&json!({"a": 1})), "{\"a\":1}");
        assert_eq!(cell_text(&json!("s")), "s");
    }
}
