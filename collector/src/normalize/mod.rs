//! Normalisers: what clients send (JSON lines / JSON arrays, OTLP) → [`LogRecord`]s.
//!
//! Every record keeps the client's text in [`LogRecord::raw`]; [`rebuild`] derives the same
//! record again from `(source, raw, observed_ns)`, which is what lets the index store only
//! `raw`. Nothing here panics on client input: bad records become [`Rejection`]s naming the
//! line (or element / record index) and what was wrong, and the rest of the batch is kept.

mod attrs;
mod json;
mod otlp;
mod severity;
mod timestamp;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use serde_json::value::RawValue;

use crate::record::{LogRecord, Source};

pub use json::normalize_json_object;
pub use otlp::{otlp_raw_json, otlp_to_records, MAX_ANY_VALUE_DEPTH};
pub use severity::severity_from_text;
pub use timestamp::parse_timestamp;

/// A record (line/element) the client sent that was rejected; the rest of the batch is kept.
///
/// `line` is the 1-based line number for NDJSON, the 1-based element index for a JSON array
/// body (the reason then starts with "element N: "), and the 1-based index of the log record
/// in request order for OTLP (the reason then starts with its path, e.g.
/// `resource_logs[0].scope_logs[1].log_records[3]: trace_id must be 16 bytes, got 3`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rejection {
    pub line: usize,
    pub reason: String,
}

/// The outcome of normalising one request body.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<LogRecord>,
    /// The line (NDJSON), element (array) or record index (OTLP) of each record, 1-based.
    pub lines: Vec<usize>,
    pub rejected: Vec<Rejection>,
}

impl Parsed {
    pub(crate) fn with_capacity(records: usize) -> Parsed {
        Parsed {
            records: Vec::with_capacity(records),
            lines: Vec::with_capacity(records),
            rejected: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, line: usize, record: LogRecord) {
        self.records.push(record);
        self.lines.push(line);
    }

    /// Moves every record for which `why` gives a reason to `rejected`, keeping line order.
    /// Nothing is moved or reallocated when no record is refused (the common case).
    pub fn reject_where(&mut self, why: impl Fn(&LogRecord) -> Option<String>) {
        let reasons: Vec<Option<String>> = self.records.iter().map(&why).collect();
        if reasons.iter().all(Option::is_none) {
            return;
        }
        let records = std::mem::take(&mut self.records);
        let lines = std::mem::take(&mut self.lines);
        self.records.reserve(records.len());
        self.lines.reserve(lines.len());
        for ((record, line), reason) in records.into_iter().zip(lines).zip(reasons) {
            match reason {
                Some(reason) => self.rejected.push(Rejection { line, reason }),
                None => self.push(line, record),
            }
        }
        self.rejected.sort_by_key(|r| r.line);
    }
}

/// Limits for JSON bodies.
#[derive(Debug, Clone)]
pub struct JsonLimits {
    /// Longest accepted NDJSON line (without its line ending) or JSON array element, in bytes.
    pub max_line_bytes: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            max_line_bytes: 1024 * 1024,
        }
    }
}

/// Whole-body failures, and failures to rebuild a stored record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormalizeError {
    /// A JSON array body that is not valid UTF-8.
    #[error("body is not valid UTF-8: invalid byte at line {line} column {column} (byte {byte} of the body)")]
    InvalidUtf8 {
        line: usize,
        column: usize,
        /// 1-based byte offset in the body.
        byte: usize,
    },
    /// A body starting with `[` that is not a valid JSON array as a whole.
    #[error("body is not a valid JSON array: {reason} at line {line} column {column}")]
    InvalidArray {
        line: usize,
        column: usize,
        reason: String,
    },
    /// A stored record whose raw text no longer normalises.
    #[error("cannot rebuild {kind:?} record: {reason}")]
    Rebuild { kind: Source, reason: String },
}

/// `POST /api/v1/logs` body: NDJSON (one object per line, `\n` or `\r\n`, blank lines skipped)
/// or, if the first non-whitespace byte is `[`, a JSON array of objects.
///
/// A UTF-8 byte order mark at the start is ignored. For NDJSON, `raw` is the line without its
/// line ending and surrounding whitespace; for an array, the element's exact text. An empty
/// body gives an empty [`Parsed`].
pub fn parse_json_body(
    body: &[u8],
    observed_ns: i64,
    limits: &JsonLimits,
) -> Result<Parsed, NormalizeError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(Parsed::default()),
        Some(b'[') => parse_array_body(body, observed_ns, limits),
        Some(_) => Ok(parse_ndjson(body, observed_ns, limits)),
    }
}

fn parse_ndjson(body: &[u8], observed_ns: i64, limits: &JsonLimits) -> Parsed {
    let lines = body.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut out = Parsed::with_capacity(lines);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut reject = |reason: String| {
            out.rejected.push(Rejection {
                line: line_no,
                reason,
            })
        };
        if line.len() > limits.max_line_bytes {
            reject(format!(
                "line is {} bytes, over the {}-byte limit",
                line.len(),
                limits.max_line_bytes
            ));
            continue;
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                reject(format!(
                    "invalid UTF-8 at byte {} of the line",
                    e.valid_up_to() + 1
                ));
                continue;
            }
        };
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            continue;
        }
        match normalize_json_object(text, observed_ns) {
            Ok(record) => {
                out.records.push(record);
                out.lines.push(line_no);
            }
            Err(reason) => reject(reason),
        }
    }
    out
}

fn parse_array_body(
    body: &[u8],
    observed_ns: i64,
    limits: &JsonLimits,
) -> Result<Parsed, NormalizeError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let pos = e.valid_up_to();
        let (line, column) = line_column(body, pos);
        NormalizeError::InvalidUtf8 {
            line,
            column,
            byte: pos + 1,
        }
    })?;
    // Elements are taken as raw text (serde_json skips over them without recursing), so a
    // deeply nested element is rejected on its own below rather than failing the body.
    let elements: Vec<Box<RawValue>> =
        serde_json::from_str(text).map_err(|e| NormalizeError::InvalidArray {
            line: e.line(),
            column: e.column(),
            reason: strip_position(&e),
        })?;
    let mut out = Parsed::with_capacity(elements.len());
    for (i, element) in elements.iter().enumerate() {
        let n = i + 1;
        let raw = element.get();
        let result = if raw.len() > limits.max_line_bytes {
            Err(format!(
                "element is {} bytes, over the {}-byte limit",
                raw.len(),
                limits.max_line_bytes
            ))
        } else {
            normalize_json_object(raw, observed_ns)
        };
        match result {
            Ok(record) => out.push(n, record),
            Err(reason) => out.rejected.push(Rejection {
                line: n,
                reason: format!("element {n}: {reason}"),
            }),
        }
    }
    Ok(out)
}

/// 1-based line and byte column of byte offset `pos`.
fn line_column(body: &[u8], pos: usize) -> (usize, usize) {
    let before = &body[..pos.min(body.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, pos - line_start + 1)
}

fn strip_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some("recursion limit exceeded") => {
            format!("nested deeper than {} levels", attrs::JSON_MAX_DEPTH)
        }
        Some(base) => base.to_owned(),
        None => full,
    }
}

/// Rebuilds a record from what the index stores: source, raw text and observed_ns.
///
/// For every record `r` produced by [`parse_json_body`], [`normalize_json_object`] or
/// [`otlp_to_records`]: `rebuild(r.source, &r.raw, r.observed_ns) == Ok(r)`.
/// The stored original as text for people: JSON records as sent, OTLP records as OTLP/JSON.
pub fn raw_display(source: Source, raw: &[u8]) -> String {
    match source {
        Source::Json => String::from_utf8_lossy(raw).into_owned(),
        Source::Otlp => otlp_raw_json(raw).unwrap_or_else(|e| format!("<{e}>")),
    }
}

pub fn rebuild(source: Source, raw: &[u8], observed_ns: i64) -> Result<LogRecord, NormalizeError> {
    let result = match source {
        Source::Json => std::str::from_utf8(raw)
            .map_err(|e| format!("stored record is not UTF-8: {e}"))
            .and_then(|text| normalize_json_object(text, observed_ns)),
        Source::Otlp => otlp::rebuild_otlp(raw, observed_ns),
    };
    result.map_err(|reason| NormalizeError::Rebuild {
        kind: source,
        reason,
    })
}
