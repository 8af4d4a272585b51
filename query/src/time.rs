//! Time literals in queries: RFC 3339, `now`, `now-15m`, and epoch numbers.

use pharos_collector::normalize::parse_timestamp;

/// Parses a time literal to Unix nanoseconds; `now_ns` anchors `now` and `now-…`.
pub fn parse_time_literal(text: &str, now_ns: i64) -> Result<i64, String> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ns);
        }
        let (sign, amount) = match rest.as_bytes()[0] {
            b'-' => (-1i64, &rest[1..]),
            b'+' => (1, &rest[1..]),
            _ => return Err(format!("`{t}` is not a time: write now, now-15m or now+1h")),
        };
        let d = parse_duration_ns(amount)
            .ok_or_else(|| format!("`{t}` is not a time: the offset must be like 15m, 2h, 7d"))?;
        return now_ns
            .checked_add(sign * d)
            .ok_or_else(|| format!("`{t}` is out of range"));
    }
    let value = if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !t.is_empty() {
        serde_json::from_str::<serde_json::Value>(t).unwrap_or_else(|_| t.into())
    } else {
        serde_json::Value::String(t.to_string())
    };
    parse_timestamp(&value).map_err(|e| format!("`{t}` is not a time ({e})"))
}

/// `500ms`, `30s`, `15m`, `2h`, `7d`, `1w` → nanoseconds.
pub fn parse_duration_ns(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 7 * 86_400_000_000_000,
        _ => return None,
    };
    n.checked_mul(unit_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_547_200_000_000_000; // 2025-12-01T00:00:00Z

    #[test]
    fn relative_and_absolute_times() {
        assert_eq!(parse_time_literal("now", NOW), Ok(NOW));
        assert_eq!(
            parse_time_literal("now-15m", NOW),
            Ok(NOW - 15 * 60_000_000_000)
        );
        assert_eq!(
            parse_time_literal("now+1h", NOW),
            Ok(NOW + 3_600_000_000_000)
        );
        assert_eq!(parse_time_literal("2025-12-01T00:00:00Z", 0), Ok(NOW));
        assert_eq!(parse_time_literal("1764547200", 0), Ok(NOW));
        assert!(parse_time_literal("now-15x", NOW).is_err());
        assert!(parse_time_literal("yesterday", NOW).is_err());
        assert!(parse_time_literal("now-", NOW).is_err());
    }
}
