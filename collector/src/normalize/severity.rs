//! Severity names and numbers → OTLP SeverityNumber.

/// Maps a severity name (any case, surrounding whitespace ignored) to an OTLP SeverityNumber
/// (0 if unknown).
///
/// trace→1, debug→5, info/information/notice→9, warn/warning→13, error/err→17,
/// fatal/critical/crit/panic/emerg/emergency/alert→21; short forms trc, dbg, inf, wrn, eror,
/// ftl too. OTLP's own short names with a level suffix are understood: `INFO2`→10, `ERROR4`→20.
pub fn severity_from_text(s: &str) -> u8 {
    let t = s.trim();
    if t.is_empty() || t.len() > 16 {
        return 0;
    }
    let lower = t.to_ascii_lowercase();
    if let Some(n) = base_severity(&lower) {
        return n;
    }
    // OTLP short names: TRACE2..4, DEBUG2..4, INFO2..4, WARN2..4, ERROR2..4, FATAL2..4.
    let Some(last @ b'1'..=b'4') = lower.bytes().last() else {
        return 0;
    };
    // The last byte is an ASCII digit, so this is a char boundary.
    let name = &lower[..lower.len() - 1];
    match (name, base_severity(name)) {
        ("trace" | "debug" | "info" | "warn" | "error" | "fatal", Some(base)) => {
            base + (last - b'1')
        }
        _ => 0,
    }
}

fn base_severity(lower: &str) -> Option<u8> {
    Some(match lower {
        "trace" | "trc" | "verbose" => 1,
        "debug" | "dbg" => 5,
        "info" | "information" | "informational" | "inf" | "notice" => 9,
        "warn" | "warning" | "wrn" => 13,
        "error" | "err" | "eror" => 17,
        "fatal" | "ftl" | "critical" | "crit" | "panic" | "emerg" | "emergency" | "alert" => 21,
        _ => return None,
    })
}

/// Maps a numeric level to an OTLP SeverityNumber (0 if unknown).
///
/// pino/bunyan levels 10, 20, 30, 40, 50, 60 map to trace, debug, info, warn, error, fatal.
/// Other numbers in 1..=24 are taken as OTLP SeverityNumbers. Note the overlap: 10 and 20 are
/// also OTLP numbers (INFO2, ERROR4); they are read as pino levels because a numeric `level`
/// of 10 or 20 in a JSON log almost always comes from pino or bunyan.
pub(crate) fn severity_from_number(n: i64) -> u8 {
    match n {
        10 => 1,
        20 => 5,
        30 => 9,
        40 => 13,
        50 => 17,
        60 => 21,
        1..=24 => n as u8,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases = [
            ("trace", 1),
            ("TRACE", 1),
            ("debug", 5),
            ("Debug", 5),
            ("dbg", 5),
            ("info", 9),
            ("INFORMATION", 9),
            ("notice", 9),
            ("warn", 13),
            ("Warning", 13),
            ("wrn", 13),
            ("error", 17),
            ("ERR", 17),
            ("fatal", 21),
            ("critical", 21),
            ("crit", 21),
            ("panic", 21),
            ("emerg", 21),
            ("EMERGENCY", 21),
            ("alert", 21),
            (" info ", 9),
            ("INFO2", 10),
            ("error4", 20),
            ("TRACE3", 3),
            ("info5", 0),
            ("loud", 0),
            ("", 0),
            ("é", 0),
            ("ерор", 0),
        ];
        for (text, want) in cases {
            assert_eq!(
                severity_from_text(text),
                want,
                "severity_from_text({text:?})"
            );
        }
    }

    #[test]
    fn numbers() {
        let cases = [
            (1, 1),
            (9, 9),
            (17, 17),
            (24, 24),
            (10, 1),
            (20, 5),
            (30, 9),
            (40, 13),
            (50, 17),
            (60, 21),
            (0, 0),
            (25, 0),
            (-1, 0),
            (i64::MAX, 0),
        ];
        for (n, want) in cases {
            assert_eq!(severity_from_number(n), want, "severity_from_number({n})");
        }
    }
}
