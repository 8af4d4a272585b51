//! The Prometheus text exposition format (0.0.4, and the OpenMetrics text that
//! `prometheus_client` writes): lines of `name{label="value",…} value [timestamp]`, with
//! `# TYPE` lines giving a family's kind. Pharos reads its own `/metrics` with it every few
//! seconds (`job="pharos"`), so its dashboards chart Pharos from the same store as any other
//! service.
//!
//! Hand-written because the crates that parse this format split label lists on `,` and `=`
//! (a comma or an escaped quote in a value breaks them) and drop a histogram's labels; this
//! one follows the grammar of Prometheus's `expfmt` text parser: label values with the `\\`,
//! `\"` and `\n` escapes, Go float spellings (`+Inf`, `-Inf`, `NaN`), an optional millisecond
//! timestamp, comments and blank lines skipped. A bad line is an error naming its number and
//! what was wrong; it never panics (a property test feeds it arbitrary text).

use std::collections::{BTreeMap, HashMap};

use crate::tsdb::{Labels, MetricBatch, MetricKind, Sample, SeriesSamples};

/// Bounds on one exposition, so a huge or hostile body cannot make unbounded work.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
pub const MAX_LABELS: usize = 64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ExpositionError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// Every sample of `text`, in order, with the `# TYPE` of each family (by family name).
pub fn parse(text: &str) -> Result<(Vec<TextSample>, HashMap<String, String>), ExpositionError> {
    let mut samples = Vec::new();
    let mut types = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let err = |message: String| ExpositionError {
            line: line_no,
            message,
        };
        if raw.len() > MAX_LINE_BYTES {
            return Err(err(format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            if words.next() == Some("TYPE") {
                if let (Some(name), Some(kind)) = (words.next(), words.next()) {
                    types.insert(name.to_string(), kind.to_ascii_lowercase());
                }
            }
            continue;
        }
        samples.push(parse_sample(line).map_err(err)?);
    }
    Ok((samples, types))
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

fn parse_sample(line: &str) -> Result<TextSample, String> {
    let b = line.as_bytes();
    let mut i = 0;
    if b.first().is_none_or(|&c| !is_name_start(c)) {
        return Err("expected a metric name at column 1".into());
    }
    while i < b.len() && is_name_char(b[i]) {
        i += 1;
    }
    let name = line[..i].to_string();
    let mut labels = Vec::new();
    if b.get(i) == Some(&b'{') {
        i += 1;
        loop {
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            if b.get(i) == Some(&b'}') {
                i += 1;
                break;
            }
            let start = i;
            if b.get(i)
                .is_none_or(|&c| !(c.is_ascii_alphabetic() || c == b'_'))
            {
                return Err(format!("expected a label name at column {}", i + 1));
            }
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let label = line[start..i].to_string();
            if b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
                return Err(format!(
                    "expected =\" after label {label} at column {}",
                    i + 1
                ));
            }
            i += 2;
            let mut value = String::new();
            let mut closed = false;
            let mut chars = line[i..].char_indices();
            while let Some((off, c)) = chars.next() {
                match c {
                    '"' => {
                        i += off + 1;
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, other)) => {
                            value.push('\\');
                            value.push(other);
                        }
                        None => break,
                    },
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("the value of label {label} is not closed by \""));
            }
            if labels.len() == MAX_LABELS {
                return Err(format!("more than {MAX_LABELS} labels"));
            }
            labels.push((label, value));
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(format!("expected , or }} at column {}", i + 1)),
            }
        }
    }
    let rest = &line[i..];
    if !rest.starts_with([' ', '\t']) {
        return Err(format!(
            "expected a space before the value at column {}",
            i + 1
        ));
    }
    let mut fields = rest.split_whitespace();
    let value_text = fields.next().ok_or("no value")?;
    let value = parse_float(value_text).ok_or_else(|| format!("bad value {value_text:?}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("bad timestamp {t:?}"))?,
        ),
    };
    // OpenMetrics allows an exemplar after `#`; anything else is not this format.
    match fields.next() {
        None | Some("#") => {}
        Some(extra) => return Err(format!("unexpected {extra:?} after the value")),
    }
    Ok(TextSample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Go's float spellings as the format uses them.
fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// The kind a sample's series is stored as, from its family's `# TYPE`: counters and the
/// parts of histograms and summaries are cumulative.
fn kind_of(name: &str, types: &HashMap<String, String>) -> MetricKind {
    let family = |suffix: &str| name.strip_suffix(suffix).and_then(|f| types.get(f));
    let cumulative = |t: &String| matches!(t.as_str(), "counter" | "histogram" | "summary");
    if let Some(t) = types.get(name) {
        return match t.as_str() {
            "gauge" => MetricKind::Gauge,
            "counter" => MetricKind::Counter,
            _ => MetricKind::Unknown,
        };
    }
    for suffix in ["_total", "_bucket", "_count", "_sum", "_created"] {
        if family(suffix).is_some_and(cumulative) {
            return MetricKind::Counter;
        }
    }
    MetricKind::Unknown
}

/// A whole exposition as one batch at `ts_ms` (a sample's own timestamp wins), each series
/// with `target` labels added (they replace a sample's own label of the same name, as
/// Prometheus's `honor_labels: false` keeps the target's `job` and `instance`).
pub fn to_batch(
    text: &str,
    ts_ms: i64,
    target: &[(&str, &str)],
) -> Result<MetricBatch, ExpositionError> {
    let (samples, types) = parse(text)?;
    let mut series: BTreeMap<Labels, SeriesSamples> = BTreeMap::new();
    for (n, s) in samples.into_iter().enumerate() {
        let kind = kind_of(&s.name, &types);
        let mut pairs: Vec<(String, String)> = s
            .labels
            .into_iter()
            .filter(|(k, _)| !target.iter().any(|(t, _)| t == k))
            .collect();
        pairs.extend(target.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        pairs.push(("__name__".to_string(), s.name));
        let labels = Labels::new(pairs).map_err(|e| ExpositionError {
            line: n + 1,
            message: e.to_string(),
        })?;
        let sample = Sample {
            ts_ms: s.timestamp_ms.unwrap_or(ts_ms),
            value: s.value,
        };
        series
            .entry(labels.clone())
            .or_insert_with(|| SeriesSamples {
                labels,
                kind,
                samples: Vec::new(),
            })
            .samples
            .push(sample);
    }
    Ok(MetricBatch {
        series: series.into_values().collect(),
        distributions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_escapes_and_types() {
        let text = "# HELP http_requests_total The total.\n# TYPE http_requests_total counter\n\
            http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
            msdos{path=\"C:\\\\DIR\\\\F.TXT\",error=\"Cannot find, file:\\n\\\"F\\\"\"} 1.458255915e9\n\
            \n  plain 12.47\nweird{problem=\"division by zero\"} +Inf -3982045\n\
            # TYPE lat histogram\nlat_bucket{le=\"0.5\"} 3\nlat_bucket{le=\"+Inf\"} 4\nlat_sum 1.5\nlat_count 4\n# EOF\n";
        let (s, types) = parse(text).unwrap();
        assert_eq!(s.len(), 8);
        assert_eq!(
            s[0].labels,
            vec![
                ("method".into(), "post".into()),
                ("code".into(), "200".into())
            ]
        );
        assert_eq!(s[0].timestamp_ms, Some(1395066363000));
        assert_eq!(s[1].labels[0].1, "C:\\DIR\\F.TXT");
        assert_eq!(s[1].labels[1].1, "Cannot find, file:\n\"F\"");
        assert_eq!(s[2].name, "plain");
        assert_eq!(s[3].value, f64::INFINITY);
        assert_eq!(types["lat"], "histogram");

        let b = to_batch(text, 5, &[("job", "pharos")]).unwrap();
        let kind = |name: &str| {
            b.series
                .iter()
                .find(|x| x.labels.get("__name__") == Some(name))
                .map(|x| x.kind)
        };
        assert_eq!(kind("http_requests_total"), Some(MetricKind::Counter));
        assert_eq!(kind("lat_bucket"), Some(MetricKind::Counter));
        assert_eq!(kind("plain"), Some(MetricKind::Unknown));
        assert!(b
            .series
            .iter()
            .all(|x| x.labels.get("job") == Some("pharos")));
        let plain = b
            .series
            .iter()
            .find(|x| x.labels.get("__name__") == Some("plain"))
            .unwrap();
        assert_eq!(
            plain.samples,
            vec![Sample {
                ts_ms: 5,
                value: 12.47
            }]
        );
    }

    #[test]
    fn the_target_label_replaces_the_samples_own() {
        let b = to_batch("up{job=\"other\",x=\"1\"} 1\n", 1, &[("job", "pharos")]).unwrap();
        assert_eq!(b.series[0].labels.get("job"), Some("pharos"));
        assert_eq!(b.series[0].labels.get("x"), Some("1"));
    }

    #[test]
    fn a_bad_line_is_named() {
        for (text, line, words) in [
            ("ok 1\nbad{x=1} 2\n", 2, "expected =\""),
            ("ok 1\n\nx{a=\"b\" 1\n", 3, "expected , or }"),
            ("x{a=\"b} 1\n", 1, "not closed"),
            ("x one\n", 1, "bad value"),
            ("x 1 2 3\n", 1, "unexpected"),
            ("9x 1\n", 1, "metric name"),
            ("x{a=\"1\",a=\"2\"} 1\n", 1, "a"),
        ] {
            let e = to_batch(text, 0, &[]).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(words), "{text:?}: {e}");
        }
    }

    #[test]
    fn reads_what_prometheus_client_writes() {
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
        let mut registry = prometheus_client::registry::Registry::default();
        let c: Family<Vec<(String, String)>, Counter> = Family::default();
        // (prometheus_client does not escape quotes in label values: Pharos's own are plain words.)
        c.get_or_create(&vec![("endpoint".into(), "a, b".into())])
            .inc_by(3);
        let h = Histogram::new(exponential_buckets(0.001, 2.0, 3));
        h.observe(0.0015);
        registry
            .sub_registry_with_prefix("pharos")
            .register("ingest", "Records", c);
        registry.register("lat_seconds", "Latency", h);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let b = to_batch(&text, 7, &[("job", "pharos")]).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let find = |name: &str, le: Option<&str>| {
            b.series
                .iter()
                .find(|x| x.labels.get("__name__") == Some(name) && x.labels.get("le") == le)
                .map(|x| (x.kind, x.samples[0].value))
        };
        assert_eq!(
            find("pharos_ingest_total", None),
            Some((MetricKind::Counter, 3.0))
        );
        let counter = b
            .series
            .iter()
            .find(|x| x.labels.get("__name__") == Some("pharos_ingest_total"))
            .unwrap();
        assert_eq!(counter.labels.get("endpoint"), Some("a, b"));
        assert_eq!(
            find("lat_seconds_bucket", Some("0.002")),
            Some((MetricKind::Counter, 1.0))
        );
        assert_eq!(
            find("lat_seconds_bucket", Some("+Inf")),
            Some((MetricKind::Counter, 1.0))
        );
        assert_eq!(
            find("lat_seconds_count", None),
            Some((MetricKind::Counter, 1.0))
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let _ = to_batch(&text, 0, &[("job", "x")]);
        }

        #[test]
        fn never_panics_on_near_misses(text in "[a-z_{}=\",\\\\ 0-9.#\n+-]{0,120}") {
            let _ = to_batch(&text, 0, &[]);
        }
    }
}
