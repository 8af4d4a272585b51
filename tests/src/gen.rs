//! Deterministic generator of realistic structured log records.
//!
//! The same seed (and start time) always yields the same sequence of records.
//! Each record can be rendered as one NDJSON line (~250–350 bytes) or as the
//! equivalent OTLP `LogRecord`; a batch of records becomes an
//! `ExportLogsServiceRequest` grouped by resource (`service.name`, `host.name`).

mod vocab;

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

pub use vocab::SERVICES;
use vocab::{METHODS, WORDS};

/// Default start time: 2025-01-01T00:00:00Z.
pub const DEFAULT_START_NS: i64 = 1_735_689_600_000_000_000;
/// Mean gap between two consecutive records (0.5 ms ⇒ ~2000 records/s).
pub const MEAN_GAP_NS: f64 = 500_000.0;
/// Line length bounds the generator aims for (without the trailing newline).
pub const MIN_LINE: usize = 250;
pub const MAX_LINE: usize = 350;

/// One generated log record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub ts_ns: i64,
    pub level: &'static str,
    pub service: &'static str,
    pub host: String,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub msg: String,
    pub method: &'static str,
    pub status: u16,
    pub duration_ms: f64,
    pub user_id: String,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: &'a str,
    level: &'a str,
    service: &'a str,
    host: &'a str,
    trace_id: &'a str,
    span_id: &'a str,
    msg: &'a str,
    #[serde(rename = "http.method")]
    method: &'a str,
    #[serde(rename = "http.status_code")]
    status: u16,
    duration_ms: f64,
    user_id: &'a str,
}

impl Record {
    /// The record as one NDJSON line (no trailing newline).
    pub fn to_ndjson(&self) -> String {
        let ts = format_rfc3339_ms(self.ts_ns);
        let line = Line {
            ts: &ts,
            level: self.level,
            service: self.service,
            host: &self.host,
            trace_id: &hex::encode(self.trace_id),
            span_id: &hex::encode(self.span_id),
            msg: &self.msg,
            method: self.method,
            status: self.status,
            duration_ms: self.duration_ms,
            user_id: &self.user_id,
        };
        // Serializing a struct of strings and numbers cannot fail.
        serde_json::to_string(&line).expect("serialize log line")
    }

    /// OTLP severity number for the level.
    pub fn severity_number(&self) -> i32 {
        match self.level {
            "debug" => 5,
            "info" => 9,
            "warn" => 13,
            _ => 17,
        }
    }

    /// The record as an OTLP `LogRecord` (resource attributes not included).
    pub fn to_otlp(&self) -> LogRecord {
        let ts = u64::try_from(self.ts_ns).unwrap_or(0);
        LogRecord {
            time_unix_nano: ts,
            observed_time_unix_nano: ts,
            severity_number: self.severity_number(),
            severity_text: self.level.to_uppercase(),
            body: Some(str_value(&self.msg)),
            attributes: vec![
                kv("http.method", str_value(self.method)),
                kv("http.status_code", int_value(i64::from(self.status))),
                kv("duration_ms", double_value(self.duration_ms)),
                kv("user_id", str_value(&self.user_id)),
            ],
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            flags: 1,
            ..Default::default()
        }
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(value),
        ..Default::default()
    }
}

fn str_value(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    }
}

fn int_value(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}

fn double_value(v: f64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::DoubleValue(v)),
    }
}

/// Builds one OTLP export request for `records`, grouping them into one
/// `ResourceLogs` per (service, host) pair (in first-seen order).
pub fn otlp_request(records: &[Record]) -> ExportLogsServiceRequest {
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut groups: BTreeMap<(&str, &str), Vec<LogRecord>> = BTreeMap::new();
    for r in records {
        let key = (r.service, r.host.as_str());
        let group = groups.entry(key).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        group.push(r.to_otlp());
    }
    let resource_logs = order
        .into_iter()
        .map(|key| ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", str_value(key.0)),
                    kv("host.name", str_value(key.1)),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "pharos-loadgen".to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                log_records: groups.remove(&key).unwrap_or_default(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

/// Seeded, deterministic record generator.
pub struct Generator {
    rng: StdRng,
    now_ns: i64,
    /// Requests in flight: (trace id, log lines it still has to write). A request writes
    /// several lines (across services), interleaved with other requests, as real traffic does.
    traces: Vec<([u8; 16], u32)>,
}

/// Requests in flight at once.
const CONCURRENT_TRACES: usize = 64;
/// Log lines per request: uniform in 1..=MAX_LINES_PER_TRACE (mean 6.5).
const MAX_LINES_PER_TRACE: u32 = 12;

impl Generator {
    /// Generator starting at [`DEFAULT_START_NS`].
    pub fn new(seed: u64) -> Self {
        Self::with_start(seed, DEFAULT_START_NS)
    }

    /// Generator whose first record is stamped at (about) `start_ns`.
    pub fn with_start(seed: u64, start_ns: i64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            now_ns: start_ns,
            traces: Vec::with_capacity(CONCURRENT_TRACES),
        }
    }

    /// The trace of the next line: one of the requests in flight, which ends after its last line.
    fn trace_id(&mut self) -> [u8; 16] {
        while self.traces.len() < CONCURRENT_TRACES {
            let lines = self.rng.gen_range(1..=MAX_LINES_PER_TRACE);
            self.traces.push((self.rng.gen(), lines));
        }
        let i = self.rng.gen_range(0..self.traces.len());
        let (id, left) = &mut self.traces[i];
        let id = *id;
        *left -= 1;
        if *left == 0 {
            self.traces.swap_remove(i);
        }
        id
    }

    /// Picks a word, skewed toward the front of the vocabulary.
    fn word(&mut self) -> &'static str {
        let u: f64 = self.rng.gen();
        let idx = ((u * u) * WORDS.len() as f64) as usize;
        WORDS[idx.min(WORDS.len() - 1)]
    }

    /// The next record.
    pub fn next_record(&mut self) -> Record {
        // Exponentially distributed gaps around MEAN_GAP_NS.
        let u: f64 = self.rng.gen_range(1e-9..1.0);
        self.now_ns += (-u.ln() * MEAN_GAP_NS) as i64;

        let level = match self.rng.gen_range(0..100) {
            0..=74 => "info",
            75..=84 => "debug",
            85..=94 => "warn",
            _ => "error",
        };
        let svc_idx = self.rng.gen_range(0..SERVICES.len());
        let service = SERVICES[svc_idx];
        let host = format!(
            "{}-{:02}",
            &service[..3.min(service.len())],
            self.rng.gen_range(1..=12)
        );
        let trace_id = self.trace_id();
        let span_id: [u8; 8] = self.rng.gen();
        let method = METHODS[match self.rng.gen_range(0..100) {
            0..=59 => 0,
            60..=84 => 1,
            85..=92 => 2,
            93..=96 => 3,
            _ => 4,
        }];
        let status: u16 = match level {
            "error" => [500, 502, 503, 504][self.rng.gen_range(0..4)],
            "warn" => [400, 401, 404, 409, 429][self.rng.gen_range(0..5)],
            _ => [200, 200, 200, 201, 204, 301, 304][self.rng.gen_range(0..7)],
        };
        // Log-normal-ish latency between ~0.2 ms and a few seconds.
        let d: f64 = 0.2 * (self.rng.gen::<f64>() * 9.0).exp();
        let duration_ms = (d * 1000.0).round() / 1000.0;
        let user_id = format!("user-{:06}", self.rng.gen_range(0..50_000));

        let mut rec = Record {
            ts_ns: self.now_ns,
            level,
            service,
            host,
            trace_id,
            span_id,
            msg: String::new(),
            method,
            status,
            duration_ms,
            user_id,
        };

        // Fill the message with 10–20 words, aiming at a random total length.
        let base = rec.to_ndjson().len();
        let target = self.rng.gen_range(MIN_LINE + 10..=MAX_LINE - 5);
        let max_words = self.rng.gen_range(10..=20);
        let mut msg = String::with_capacity(160);
        let mut words = 0;
        while words < max_words {
            let mut w = self.word();
            // The first 10 words must fit under MAX_LINE: redraw long ones.
            let fits = |w: &str, msg: &str| {
                words >= 10 || base + msg.len() + w.len() + 1 + (9 - words) * 3 <= MAX_LINE
            };
            for _ in 0..8 {
                if fits(w, &msg) {
                    break;
                }
                w = self.word();
            }
            if !fits(w, &msg) {
                w = "ok";
            }
            let add = w.len() + usize::from(words > 0);
            if words >= 10 && base + msg.len() + add > target {
                break;
            }
            if words > 0 {
                msg.push(' ');
            }
            msg.push_str(w);
            words += 1;
        }
        rec.msg = msg;
        rec
    }

    /// The next `n` records.
    pub fn records(&mut self, n: usize) -> Vec<Record> {
        (0..n).map(|_| self.next_record()).collect()
    }
}

impl Iterator for Generator {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        Some(self.next_record())
    }
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats unix nanoseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let ms = ts_ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Parses an RFC 3339 timestamp (`Z` or `±HH:MM` offset, optional fraction)
/// into unix nanoseconds.
pub fn parse_rfc3339_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse::<i64>().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut scale = 100_000_000i64;
        for c in digits.bytes().take(9) {
            frac_ns += i64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let offset_s = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6
            && matches!(tz.as_bytes()[0], b'+' | b'-')
            && tz.as_bytes()[3] == b':' =>
        {
            let oh: i64 = tz.get(1..3)?.parse().ok()?;
            let om: i64 = tz.get(4..6)?.parse().ok()?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    Some(secs * 1_000_000_000 + frac_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn deterministic_for_seed() {
        let a: Vec<String> = Generator::new(7).take(500).map(|r| r.to_ndjson()).collect();
        let b: Vec<String> = Generator::new(7).take(500).map(|r| r.to_ndjson()).collect();
        let c: Vec<String> = Generator::new(8).take(500).map(|r| r.to_ndjson()).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn line_size_and_shape() {
        let mut prev_ts = i64::MIN;
        for rec in Generator::new(42).take(20_000) {
            let line = rec.to_ndjson();
            assert!(
                (MIN_LINE..=MAX_LINE).contains(&line.len()),
                "line of {} bytes: {line}",
                line.len()
            );
            let v: serde_json::Value = serde_json::from_str(&line).expect("valid json");
            let words = v["msg"].as_str().expect("msg").split(' ').count();
            assert!((10..=20).contains(&words), "{words} words");
            assert_eq!(v["trace_id"].as_str().map(str::len), Some(32));
            assert_eq!(v["span_id"].as_str().map(str::len), Some(16));
            assert!(v["http.status_code"].is_u64());
            assert!(v["duration_ms"].is_f64());
            let ts = parse_rfc3339_ns(v["ts"].as_str().expect("ts")).expect("parse ts");
            assert_eq!(ts / 1_000_000, rec.ts_ns / 1_000_000);
            assert!(rec.ts_ns >= prev_ts);
            prev_ts = rec.ts_ns;
        }
    }

    #[test]
    fn levels_are_mostly_info() {
        let n = 10_000;
        let info = Generator::new(1)
            .take(n)
            .filter(|r| r.level == "info")
            .count();
        assert!(info > n / 2, "{info} info records");
    }

    #[test]
    fn rfc3339_roundtrip() {
        for ts in [
            0i64,
            DEFAULT_START_NS + 123_000_000,
            951_782_400_999_000_000,
        ] {
            assert_eq!(parse_rfc3339_ns(&format_rfc3339_ms(ts)), Some(ts));
        }
        assert_eq!(
            format_rfc3339_ms(DEFAULT_START_NS),
            "2025-01-01T00:00:00.000Z"
        );
        assert_eq!(
            parse_rfc3339_ns("2025-01-01T01:00:00.5+01:00"),
            Some(DEFAULT_START_NS + 500_000_000)
        );
        assert_eq!(parse_rfc3339_ns("2025-13-01T00:00:00Z"), None);
    }

    #[test]
    fn otlp_batch_matches_records() {
        let recs = Generator::new(3).records(100);
        let req = otlp_request(&recs);
        let total: usize = req
            .resource_logs
            .iter()
            .flat_map(|rl| rl.scope_logs.iter())
            .map(|sl| sl.log_records.len())
            .sum();
        assert_eq!(total, 100);
        let decoded =
            ExportLogsServiceRequest::decode(req.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(decoded, req);
        let first = &req.resource_logs[0];
        let res = first.resource.as_ref().expect("resource");
        assert_eq!(res.attributes[0].key, "service.name");
        let lr = &first.scope_logs[0].log_records[0];
        assert_eq!(lr.trace_id, recs[0].trace_id.to_vec());
        assert_eq!(lr.span_id.len(), 8);
        assert_eq!(lr.time_unix_nano as i64, recs[0].ts_ns);
    }
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    #[test]
    fn a_trace_spans_several_lines_like_a_real_request() {
        let mut g = Generator::new(7);
        let mut per_trace = std::collections::HashMap::new();
        for _ in 0..20_000 {
            *per_trace.entry(g.next_record().trace_id).or_insert(0u32) += 1;
        }
        let mean = 20_000.0 / per_trace.len() as f64;
        assert!((5.0..8.0).contains(&mean), "mean lines per trace {mean}");
        assert!(per_trace.values().all(|n| *n <= MAX_LINES_PER_TRACE));
    }
}
