//! Timestamp parsing: RFC 3339 strings, and epoch numbers (or numeric strings) whose unit is
//! told by magnitude. Epoch values are parsed from their decimal text, so fractions are exact
//! (no floating-point rounding): `1700000000.123` is exactly `1_700_000_000_123_000_000` ns.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::record::AttrValue;

use super::attrs::preview;

const HINT: &str = "as a timestamp (RFC 3339 or epoch s/ms/µs/ns)";

/// Parses a timestamp value (RFC 3339 string, epoch number or numeric string) to Unix ns.
///
/// Epoch unit by magnitude of |v|: < 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds,
/// else nanoseconds; digits below a nanosecond are truncated.
pub fn parse_timestamp(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::String(s) => parse_ts_str(s, || quoted(s)),
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            parse_ts_number_text(&text, || text.clone())
        }
        other => Err(format!(
            "cannot parse {} {HINT}",
            bounded(&other.to_string())
        )),
    }
}

/// Same as [`parse_timestamp`], for an attribute value.
pub(crate) fn parse_timestamp_attr(v: &AttrValue) -> Result<i64, String> {
    match v {
        AttrValue::Str(s) => parse_ts_str(s, || quoted(s)),
        AttrValue::Int(i) => {
            let text = i.to_string();
            parse_ts_number_text(&text, || text.clone())
        }
        AttrValue::Float(f) if f.is_finite() => {
            // `Display` of f64 is the shortest decimal that round-trips, never in exponent form.
            let text = f.to_string();
            parse_ts_number_text(&text, || preview(v))
        }
        other => Err(format!("cannot parse {} {HINT}", preview(other))),
    }
}

fn quoted(s: &str) -> String {
    preview(&AttrValue::Str(s.to_owned()))
}

fn bounded(s: &str) -> String {
    preview(&AttrValue::Str(s.to_owned()))
        .trim_matches('"')
        .to_owned()
}

fn parse_ts_str(s: &str, shown: impl Fn() -> String) -> Result<i64, String> {
    let t = s.trim();
    match parse_epoch_decimal(t) {
        Some(Ok(ns)) => return Ok(ns),
        Some(Err(OutOfRange)) => return Err(out_of_range(&shown())),
        None => {}
    }
    match parse_rfc3339(t) {
        Some(Ok(ns)) => Ok(ns),
        Some(Err(OutOfRange)) => Err(out_of_range(&shown())),
        None => Err(format!("cannot parse {} {HINT}", shown())),
    }
}

fn parse_ts_number_text(text: &str, shown: impl Fn() -> String) -> Result<i64, String> {
    match parse_epoch_decimal(text) {
        Some(Ok(ns)) => Ok(ns),
        Some(Err(OutOfRange)) => Err(out_of_range(&shown())),
        None => Err(format!("cannot parse {} {HINT}", shown())),
    }
}

fn out_of_range(shown: &str) -> String {
    format!(
        "timestamp {shown} is out of range (representable: 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z)"
    )
}

#[derive(Debug, PartialEq)]
struct OutOfRange;

/// RFC 3339 (`T`, `t` or a space between date and time; `Z`, `z` or `±hh:mm`; any number of
/// fractional digits). `None` if the text is not RFC 3339.
fn parse_rfc3339(s: &str) -> Option<Result<i64, OutOfRange>> {
    let bytes = s.as_bytes();
    // The `time` parser accepts any single byte as the separator; only allow T, t or space.
    if bytes.len() < 11 || !matches!(bytes[10], b'T' | b't' | b' ') || !s.is_ascii() {
        return None;
    }
    let mut norm = s.to_ascii_uppercase();
    norm.replace_range(10..11, "T");
    let dt = OffsetDateTime::parse(&norm, &Rfc3339).ok()?;
    Some(i64::try_from(dt.unix_timestamp_nanos()).map_err(|_| OutOfRange))
}

/// Parses a decimal number (`-?digits[.digits][e±digits]`) as an epoch timestamp.
/// `None` if the text is not such a number.
fn parse_epoch_decimal(s: &str) -> Option<Result<i64, OutOfRange>> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return None;
    }
    let exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !all_digits(digits) {
                return None;
            }
            if digits.len() > 4 {
                // |exponent| >= 10000: either astronomically large or effectively zero.
                let significant = int_part.bytes().chain(frac_part.bytes()).any(|b| b != b'0');
                return Some(if e.starts_with('-') || !significant {
                    Ok(0)
                } else {
                    Err(OutOfRange)
                });
            }
            let magnitude: i64 = digits.parse().ok()?;
            if e.starts_with('-') {
                -magnitude
            } else {
                magnitude
            }
        }
    };

    // All significant digits, and where the decimal point sits among them.
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    let point = int_part.len() as i64 + exp;
    let digit_at = |i: i64| -> u8 {
        if i < 0 {
            0
        } else {
            usize::try_from(i)
                .ok()
                .and_then(|i| digits.get(i).copied())
                .unwrap_or(0)
        }
    };

    // Integer part of |v|.
    let mut int_val: u128 = 0;
    let first = (0..point.max(0)).find(|&i| digit_at(i) != 0);
    if let Some(first) = first {
        if point - first > 21 {
            return Some(Err(OutOfRange));
        }
        for i in first..point {
            int_val = int_val * 10 + u128::from(digit_at(i));
        }
    }

    let extra_digits: i64 = if int_val < 100_000_000_000 {
        9 // seconds
    } else if int_val < 100_000_000_000_000 {
        6 // milliseconds
    } else if int_val < 100_000_000_000_000_000 {
        3 // microseconds
    } else {
        0 // nanoseconds
    };
    let mut ns = int_val;
    for i in point..point + extra_digits {
        ns = ns * 10 + u128::from(digit_at(i));
    }
    let signed = i128::try_from(ns).map_err(|_| OutOfRange);
    Some(signed.and_then(|n| {
        let n = if negative { -n } else { n };
        i64::try_from(n).map_err(|_| OutOfRange)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(v: serde_json::Value) -> Result<i64, String> {
        parse_timestamp(&v)
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(
            ts(json!("2024-01-02T03:04:05Z")),
            Ok(1_704_164_645_000_000_000)
        );
        assert_eq!(
            ts(json!("2024-01-02T03:04:05.123Z")),
            Ok(1_704_164_645_123_000_000)
        );
        assert_eq!(
            ts(json!("2024-01-02T03:04:05.123456789Z")),
            Ok(1_704_164_645_123_456_789)
        );
        assert_eq!(
            ts(json!("2024-01-02 03:04:05Z")),
            Ok(1_704_164_645_000_000_000)
        );
        assert_eq!(
            ts(json!("2024-01-02t03:04:05z")),
            Ok(1_704_164_645_000_000_000)
        );
        assert_eq!(
            ts(json!("2024-01-02T05:04:05.5+02:00")),
            Ok(1_704_164_645_500_000_000)
        );
        assert_eq!(
            ts(json!("2024-01-01T22:04:05-05:00")),
            Ok(1_704_164_645_000_000_000)
        );
        assert_eq!(
            ts(json!(" 2024-01-02T03:04:05Z ")),
            Ok(1_704_164_645_000_000_000)
        );
        assert_eq!(ts(json!("1970-01-01T00:00:00Z")), Ok(0));
        assert!(
            ts(json!("2024-01-02T03:04:05")).is_err(),
            "offset is required"
        );
        assert!(ts(json!("2024-01-02X03:04:05Z")).is_err());
        assert!(ts(json!("9999-01-02T03:04:05Z"))
            .expect_err("out of range")
            .contains("out of range"));
    }

    #[test]
    fn epoch_magnitudes_numbers() {
        assert_eq!(ts(json!(1_700_000_000)), Ok(1_700_000_000_000_000_000));
        assert_eq!(ts(json!(1_700_000_000.123)), Ok(1_700_000_000_123_000_000));
        assert_eq!(
            ts(json!(1_700_000_000_123_i64)),
            Ok(1_700_000_000_123_000_000)
        );
        assert_eq!(
            ts(json!(1_700_000_000_123_456_i64)),
            Ok(1_700_000_000_123_456_000)
        );
        assert_eq!(
            ts(json!(1_700_000_000_123_456_789_i64)),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(ts(json!(0)), Ok(0));
        assert_eq!(ts(json!(1.5)), Ok(1_500_000_000));
        assert_eq!(ts(json!(-1.5)), Ok(-1_500_000_000));
        // Boundaries: below 1e11 is seconds, below 1e14 milliseconds, below 1e17 µs.
        assert_eq!(ts(json!(9_000_000_000_i64)), Ok(9_000_000_000_000_000_000));
        assert!(ts(json!(99_999_999_999_i64))
            .expect_err("1e11 - 1 seconds is after 2262")
            .contains("out of range"));
        assert_eq!(ts(json!(100_000_000_000_i64)), Ok(100_000_000_000_000_000));
        assert_eq!(
            ts(json!(9_000_000_000_000_i64)),
            Ok(9_000_000_000_000_000_000)
        );
        assert!(ts(json!(99_999_999_999_999_i64)).is_err());
        assert_eq!(
            ts(json!(100_000_000_000_000_i64)),
            Ok(100_000_000_000_000_000)
        );
        assert_eq!(
            ts(json!(9_000_000_000_000_000_i64)),
            Ok(9_000_000_000_000_000_000)
        );
        assert!(ts(json!(99_999_999_999_999_999_i64)).is_err());
        assert_eq!(
            ts(json!(100_000_000_000_000_000_i64)),
            Ok(100_000_000_000_000_000)
        );
        assert_eq!(ts(json!(i64::MAX)), Ok(i64::MAX));
        assert_eq!(ts(json!(i64::MIN)), Ok(i64::MIN));
        assert!(ts(json!(u64::MAX))
            .expect_err("too big")
            .contains("out of range"));
        assert!(ts(json!(1e300))
            .expect_err("too big")
            .contains("out of range"));
    }

    #[test]
    fn epoch_numeric_strings_are_exact() {
        assert_eq!(ts(json!("1700000000")), Ok(1_700_000_000_000_000_000));
        assert_eq!(
            ts(json!("1700000000.123456789")),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(
            ts(json!("1700000000.1234567891")),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(ts(json!("1700000000123.5")), Ok(1_700_000_000_123_500_000));
        assert_eq!(
            ts(json!("1700000000123456.7")),
            Ok(1_700_000_000_123_456_700)
        );
        assert_eq!(
            ts(json!("1700000000123456789")),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(ts(json!("1.7e9")), Ok(1_700_000_000_000_000_000));
        assert_eq!(ts(json!("17E-1")), Ok(1_700_000_000));
        assert_eq!(ts(json!(".5")), Ok(500_000_000));
        assert_eq!(ts(json!("-1700000000000")), Ok(-1_700_000_000_000_000_000));
        assert_eq!(ts(json!("0e99999")), Ok(0));
        assert!(ts(json!("1e99999"))
            .expect_err("huge")
            .contains("out of range"));
    }

    #[test]
    fn unparseable() {
        assert_eq!(
            ts(json!("garbage")),
            Err("cannot parse \"garbage\" as a timestamp (RFC 3339 or epoch s/ms/µs/ns)".into())
        );
        assert_eq!(
            ts(json!(true)),
            Err("cannot parse true as a timestamp (RFC 3339 or epoch s/ms/µs/ns)".into())
        );
        assert!(ts(json!("")).is_err());
        assert!(ts(json!("-")).is_err());
        assert!(ts(json!(".")).is_err());
        assert!(ts(json!("1e")).is_err());
        assert!(ts(json!("12:00")).is_err());
        assert!(ts(json!("2024-01-02T03:04:05Zé")).is_err());
    }

    #[test]
    fn attr_values() {
        assert_eq!(
            parse_timestamp_attr(&AttrValue::Float(1_700_000_000.25)),
            Ok(1_700_000_000_250_000_000)
        );
        assert_eq!(
            parse_timestamp_attr(&AttrValue::Int(1_700_000_000_000)),
            Ok(1_700_000_000_000_000_000)
        );
        assert!(parse_timestamp_attr(&AttrValue::Array(vec![])).is_err());
    }
}
