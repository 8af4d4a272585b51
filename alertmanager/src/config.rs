//! `[[checks]]` tables of the main config file, and their validation. Every error names the
//! key: `checks[2].target: …`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// What a check does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// An HTTP(S) request; up when status, body and latency match.
    Http,
    /// A TCP connect.
    Tcp,
    /// A TLS handshake; up while the peer certificate has `min_days_left` days or more.
    Tls,
    /// Passive: up while pings arrive within `period_secs + grace_secs`.
    Heartbeat,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "http",
            CheckKind::Tcp => "tcp",
            CheckKind::Tls => "tls",
            CheckKind::Heartbeat => "heartbeat",
        }
    }
}

/// One `[[checks]]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique; letters, digits, `_`, `-`, `.`; the `check` label and the URL path segment.
    pub id: String,
    pub kind: CheckKind,
    /// http/https URL, `host:port` (tcp), `host[:port]` (tls, default port 443); unused for
    /// heartbeats.
    #[serde(default)]
    pub target: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Consecutive failures that make the check down.
    #[serde(default = "default_fail_after")]
    pub fail_after: u32,
    /// Consecutive successes that make the check up.
    #[serde(default = "default_recover_after")]
    pub recover_after: u32,
    // http
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Accepted status codes; empty = any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    #[serde(default)]
    pub body_contains: Option<String>,
    #[serde(default)]
    pub body_regex: Option<String>,
    /// A dotted path into the JSON body (`status`, `data.ok`, `items.0.id`).
    #[serde(default)]
    pub json_path: Option<String>,
    #[serde(default)]
    pub json_equals: Option<serde_json::Value>,
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    // tls
    #[serde(default)]
    pub min_days_left: Option<u32>,
    // heartbeat
    #[serde(default)]
    pub period_secs: Option<u64>,
    #[serde(default)]
    pub grace_secs: Option<u64>,
}

fn default_interval() -> u64 {
    60
}
fn default_timeout() -> u64 {
    10
}
fn default_fail_after() -> u32 {
    3
}
fn default_recover_after() -> u32 {
    2
}

/// `min_days_left` when a tls check does not set it.
pub const DEFAULT_MIN_DAYS_LEFT: u32 = 14;

impl CheckConfig {
    /// A check with the defaults of every optional key.
    pub fn new(id: &str, kind: CheckKind, target: &str) -> CheckConfig {
        CheckConfig {
            id: id.into(),
            kind,
            target: target.into(),
            interval_secs: default_interval(),
            timeout_secs: default_timeout(),
            fail_after: default_fail_after(),
            recover_after: default_recover_after(),
            method: None,
            headers: BTreeMap::new(),
            expect_status: Vec::new(),
            body_contains: None,
            body_regex: None,
            json_path: None,
            json_equals: None,
            max_latency_ms: None,
            min_days_left: None,
            period_secs: None,
            grace_secs: None,
        }
    }

    /// The `host:port` of a tcp or tls target (tls defaults to port 443).
    pub fn host_port(&self) -> Result<(String, u16), String> {
        let t = self.target.trim();
        let t = t.strip_prefix("tls://").unwrap_or(t);
        let (host, port) = match t.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') => (h, Some(p)),
            _ => (t, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return Err(format!("{:?} is not host:port", self.target));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{:?}: port {p:?} is not 1-65535", self.target))?,
            None if self.kind == CheckKind::Tls => 443,
            None => return Err(format!("{:?} has no port (host:port)", self.target)),
        };
        Ok((host.to_string(), port))
    }
}

/// Validates every check; the error names the key (`checks[2].target: …`).
pub fn validate(checks: &[CheckConfig]) -> Result<(), String> {
    let mut ids = HashSet::new();
    for (i, c) in checks.iter().enumerate() {
        let key = |k: &str| format!("checks[{i}].{k}");
        validate_one(c).map_err(|(k, msg)| format!("{}: {msg}", key(k)))?;
        if !ids.insert(c.id.as_str()) {
            return Err(format!("{}: duplicate check id {:?}", key("id"), c.id));
        }
    }
    Ok(())
}

type KeyError = (&'static str, String);

fn err(key: &'static str, msg: impl Into<String>) -> KeyError {
    (key, msg.into())
}

fn validate_one(c: &CheckConfig) -> Result<(), KeyError> {
    if c.id.is_empty()
        || c.id.len() > 128
        || !c
            .id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
    {
        return Err(err(
            "id",
            format!("{:?} must be 1-128 letters, digits, '_', '-' or '.'", c.id),
        ));
    }
    if !(1..=86_400).contains(&c.interval_secs) {
        return Err(err("interval_secs", "must be between 1 and 86400"));
    }
    if !(1..=300).contains(&c.timeout_secs) {
        return Err(err("timeout_secs", "must be between 1 and 300"));
    }
    if !(1..=100).contains(&c.fail_after) {
        return Err(err("fail_after", "must be between 1 and 100"));
    }
    if !(1..=100).contains(&c.recover_after) {
        return Err(err("recover_after", "must be between 1 and 100"));
    }
    let only = |key: &'static str, set: bool, kind: CheckKind| -> Result<(), KeyError> {
        if set && c.kind != kind {
            Err(err(
                key,
                format!(
                    "only for kind = {:?}, not {:?}",
                    kind.as_str(),
                    c.kind.as_str()
                ),
            ))
        } else {
            Ok(())
        }
    };
    use CheckKind::*;
    only("method", c.method.is_some(), Http)?;
    only("headers", !c.headers.is_empty(), Http)?;
    only("expect_status", !c.expect_status.is_empty(), Http)?;
    only("body_contains", c.body_contains.is_some(), Http)?;
    only("body_regex", c.body_regex.is_some(), Http)?;
    only("json_path", c.json_path.is_some(), Http)?;
    only("json_equals", c.json_equals.is_some(), Http)?;
    only("max_latency_ms", c.max_latency_ms.is_some(), Http)?;
    only("min_days_left", c.min_days_left.is_some(), Tls)?;
    only("period_secs", c.period_secs.is_some(), Heartbeat)?;
    only("grace_secs", c.grace_secs.is_some(), Heartbeat)?;
    match c.kind {
        Http => validate_http(c),
        Tcp | Tls => c.host_port().map(|_| ()).map_err(|e| err("target", e)),
        Heartbeat => {
            if !c.target.is_empty() {
                return Err(err("target", "a heartbeat has no target (it is pinged)"));
            }
            match c.period_secs {
                Some(p) if (1..=31 * 86_400).contains(&p) => {}
                Some(_) => return Err(err("period_secs", "must be between 1 and 2678400")),
                None => return Err(err("period_secs", "is required for kind = \"heartbeat\"")),
            }
            if c.grace_secs.is_some_and(|g| g > 31 * 86_400) {
                return Err(err("grace_secs", "must be at most 2678400"));
            }
            Ok(())
        }
    }
}

fn validate_http(c: &CheckConfig) -> Result<(), KeyError> {
    let url = reqwest::Url::parse(&c.target)
        .map_err(|e| err("target", format!("{:?} is not a URL: {e}", c.target)))?;
    if !["http", "https"].contains(&url.scheme()) || url.host_str().is_none() {
        return Err(err(
            "target",
            format!("{:?} must be an http:// or https:// URL", c.target),
        ));
    }
    if let Some(m) = &c.method {
        let ok = !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase());
        if !ok || reqwest::Method::from_bytes(m.as_bytes()).is_err() {
            return Err(err(
                "method",
                format!("{m:?} is not an HTTP method like \"GET\""),
            ));
        }
    }
    for (name, value) in &c.headers {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(err("headers", format!("{name:?} is not a header name")));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(err(
                "headers",
                format!("the value of {name:?} is not a valid header value"),
            ));
        }
    }
    if let Some(s) = c.expect_status.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(err(
            "expect_status",
            format!("{s} is not a status code (100-599)"),
        ));
    }
    if let Some(r) = &c.body_regex {
        regex::Regex::new(r).map_err(|e| err("body_regex", e.to_string()))?;
    }
    match (&c.json_path, &c.json_equals) {
        (Some(p), Some(_)) if p.is_empty() || p.split('.').any(str::is_empty) => Err(err(
            "json_path",
            format!("{p:?} must be a dotted path like \"data.ok\""),
        )),
        (Some(_), None) => Err(err("json_equals", "is required with json_path")),
        (None, Some(_)) => Err(err("json_path", "is required with json_equals")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key() {
        let good = CheckConfig::new("api", CheckKind::Http, "http://127.0.0.1:1/health");
        assert_eq!(validate(std::slice::from_ref(&good)), Ok(()));
        let mut tcp = CheckConfig::new("db", CheckKind::Tcp, "localhost");
        let e = validate(&[good.clone(), tcp.clone()])
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("checks[1].target: "), "{e}");
        tcp.target = "localhost:5432".into();
        assert_eq!(validate(&[good.clone(), tcp.clone()]), Ok(()));
        let e = validate(&[good.clone(), good.clone()])
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("checks[1].id: duplicate"), "{e}");
        let mut hb = CheckConfig::new("nightly", CheckKind::Heartbeat, "");
        let e = validate(std::slice::from_ref(&hb))
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("checks[0].period_secs: "), "{e}");
        hb.period_secs = Some(60);
        assert_eq!(validate(std::slice::from_ref(&hb)), Ok(()));
        hb.min_days_left = Some(3);
        let e = validate(&[hb]).err().unwrap_or_default();
        assert!(e.starts_with("checks[0].min_days_left: only for"), "{e}");
        let mut re = good.clone();
        re.body_regex = Some("(".into());
        let e = validate(&[re]).err().unwrap_or_default();
        assert!(e.starts_with("checks[0].body_regex: "), "{e}");
        let mut tls = CheckConfig::new("cert", CheckKind::Tls, "example.com");
        assert_eq!(tls.host_port(), Ok(("example.com".into(), 443)));
        tls.target = "example.com:8443".into();
        assert_eq!(tls.host_port(), Ok(("example.com".into(), 8443)));
    }
}
