//! Alerts as Alertmanager models them: a label set (its identity), annotations, and the
//! times it started and ends. Every source — rules, SLOs, health checks, and Prometheus
//! through `POST /api/v2/alerts` — produces these.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Labels or annotations, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// The identity of an alert: a hash of its labels, computed exactly as Alertmanager does
/// (FNV-1a 64 over the sorted names and values, each followed by a 0xFF separator), so
/// fingerprints match those Prometheus tools show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(pub u64);

const FNV_OFFSET: u64 = 14695981039346656037;
const FNV_PRIME: u64 = 1099511628211;
const SEPARATOR: u8 = 0xff;

impl Fingerprint {
    pub fn of(labels: &LabelSet) -> Fingerprint {
        let mut h = FNV_OFFSET;
        let mut add = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(FNV_PRIME);
            }
        };
        for (name, value) in labels {
            add(name.as_bytes());
            add(&[SEPARATOR]);
            add(value.as_bytes());
            add(&[SEPARATOR]);
        }
        Fingerprint(h)
    }

    /// Parses the 16-hex-digit form.
    pub fn parse(s: &str) -> Option<Fingerprint> {
        u64::from_str_radix(s, 16).ok().map(Fingerprint)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// One alert. Times are Unix nanoseconds; `ends_at_ns == 0` means "not given" (the store
/// then applies the resolve timeout, as Alertmanager does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: LabelSet,
    #[serde(default)]
    pub annotations: LabelSet,
    pub starts_at_ns: i64,
    #[serde(default)]
    pub ends_at_ns: i64,
    #[serde(default)]
    pub generator_url: String,
    /// When the store last received it.
    #[serde(default)]
    pub updated_at_ns: i64,
    /// `ends_at_ns` was set by the resolve timeout, not by the sender.
    #[serde(default)]
    pub timeout: bool,
}

impl Alert {
    /// A firing alert with these labels, started at `starts_at_ns`, with no end given.
    pub fn firing(labels: LabelSet, starts_at_ns: i64) -> Alert {
        Alert {
            labels,
            annotations: LabelSet::new(),
            starts_at_ns,
            ends_at_ns: 0,
            generator_url: String::new(),
            updated_at_ns: 0,
            timeout: false,
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// The `alertname` label ("" when absent).
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Resolved at `now_ns`: an end is set and it is not after now.
    pub fn resolved_at(&self, now_ns: i64) -> bool {
        self.ends_at_ns != 0 && self.ends_at_ns <= now_ns
    }

    /// Alertmanager's checks on a received alert.
    pub fn validate(&self) -> Result<(), String> {
        if self.labels.is_empty() {
            return Err("at least one label pair required".into());
        }
        for (name, value) in &self.labels {
            if !valid_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
            if value.is_empty() {
                return Err(format!("empty value for label {name:?}"));
            }
        }
        for name in self.annotations.keys() {
            if !valid_label_name(name) {
                return Err(format!("invalid annotation name {name:?}"));
            }
        }
        if self.starts_at_ns == 0 {
            return Err("start time missing".into());
        }
        if self.ends_at_ns != 0 && self.ends_at_ns < self.starts_at_ns {
            return Err("start time must be before end time".into());
        }
        Ok(())
    }

    /// Merges a newer copy of the same alert into this one, with Alertmanager's rules: the
    /// most recently updated copy wins, the earliest start is kept, and an explicit end that
    /// is later than a timeout-derived one is kept.
    pub fn merge(&self, other: &Alert, now_ns: i64) -> Alert {
        if other.updated_at_ns < self.updated_at_ns {
            return other.merge(self, now_ns);
        }
        let mut res = other.clone();
        if self.starts_at_ns < other.starts_at_ns {
            res.starts_at_ns = self.starts_at_ns;
        }
        if other.resolved_at(now_ns) {
            if self.resolved_at(now_ns) && self.ends_at_ns > other.ends_at_ns {
                res.ends_at_ns = self.ends_at_ns;
            }
        } else if self.ends_at_ns > other.ends_at_ns && !self.timeout {
            res.ends_at_ns = self.ends_at_ns;
        }
        res
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, Prometheus's label name rule.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Builds a label set from pairs; for tests and code that knows its labels.
pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSet {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_alertmanager() {
        // An empty set hashes to the FNV offset, as in prometheus/common.
        assert_eq!(Fingerprint::of(&LabelSet::new()).0, FNV_OFFSET);
        let fp = Fingerprint::of(&labels([("alertname", "Down"), ("job", "api")]));
        assert_eq!(fp, Fingerprint::of(&labels([("job", "api"), ("alertname", "Down")])));
        assert_ne!(fp, Fingerprint::of(&labels([("alertname", "Down"), ("job", "web")])));
        assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
        assert_eq!(fp.to_string().len(), 16);
    }

    #[test]
    fn merge_keeps_earliest_start_and_newest_copy() {
        let mut a = Alert::firing(labels([("alertname", "X")]), 100);
        a.updated_at_ns = 10;
        a.ends_at_ns = 1_000;
        a.timeout = true;
        let mut b = Alert::firing(labels([("alertname", "X")]), 200);
        b.updated_at_ns = 20;
        b.ends_at_ns = 500;
        let m = a.merge(&b, 50);
        assert_eq!(m.starts_at_ns, 100);
        // a's end came from the timeout: the newer explicit end wins.
        assert_eq!(m.ends_at_ns, 500);
        assert_eq!(b.merge(&a, 50), m, "merge is symmetric in update order");
    }

    #[test]
    fn validation_names_the_problem() {
        let a = Alert::firing(LabelSet::new(), 1);
        assert!(a.validate().unwrap_err().contains("label pair"));
        let a = Alert::firing(labels([("bad-name", "x")]), 1);
        assert!(a.validate().unwrap_err().contains("bad-name"));
        let a = Alert::firing(labels([("a", "x")]), 1);
        assert!(a.validate().is_ok());
    }
}
