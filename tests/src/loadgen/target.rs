//! The HTTP side of ingest: one pre-encoded batch sent to `/api/v1/logs` (NDJSON) or
//! `/v1/logs` (OTLP protobuf), retried on 429/503 after `Retry-After`, and its ack parsed.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;

use crate::gen::{otlp_request, Record};
use crate::loadgen::ingest::Mode;

/// One pre-encoded request body.
pub struct Batch {
    pub body: Vec<u8>,
    pub records: usize,
}

/// Outcome of one (possibly retried) send.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    pub accepted: u64,
    pub rejected: u64,
    pub retries: u64,
}

/// Shared HTTP context: client, base URL and mode.
#[derive(Clone)]
pub struct Target {
    pub client: reqwest::Client,
    pub base: String,
    pub mode: Mode,
}

impl Target {
    pub fn new(base: &str, mode: Mode, connections: usize) -> Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections.max(1) + 4)
            .timeout(Duration::from_secs(120))
            .build()
            .context("building HTTP client")?;
        Ok(Target {
            client,
            base: base.trim_end_matches('/').to_string(),
            mode,
        })
    }

    /// Encodes `records` as one request body for this mode.
    pub fn encode(&self, records: &[Record]) -> Vec<u8> {
        match self.mode {
            Mode::Ndjson => {
                let mut body = Vec::with_capacity(records.len() * 320);
                for r in records {
                    body.extend_from_slice(r.to_ndjson().as_bytes());
                    body.push(b'\n');
                }
                body
            }
            Mode::Otlp => otlp_request(records).encode_to_vec(),
        }
    }

    /// POSTs one batch, resending it after 429/503 (honouring Retry-After) and
    /// after transient connection errors.
    pub async fn send(&self, body: &[u8], records: usize) -> Result<Sent> {
        let (path, ctype) = match self.mode {
            Mode::Ndjson => ("/api/v1/logs", "application/x-ndjson"),
            Mode::Otlp => ("/v1/logs", "application/x-protobuf"),
        };
        let url = format!("{}{}", self.base, path);
        let mut sent = Sent::default();
        let mut conn_errors = 0u32;
        loop {
            let resp = self
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, ctype)
                .body(body.to_vec())
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) if conn_errors < 5 && (e.is_connect() || e.is_request()) => {
                    conn_errors += 1;
                    sent.retries += 1;
                    tokio::time::sleep(Duration::from_millis(200 << conn_errors)).await;
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("POST {url}")),
            };
            let status = resp.status();
            if status.as_u16() == 429 || status.as_u16() == 503 {
                let wait = retry_after(resp.headers()).unwrap_or(Duration::from_millis(500));
                sent.retries += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = resp
                .bytes()
                .await
                .with_context(|| format!("reading response of POST {url}"))?;
            if !status.is_success() {
                bail!(
                    "POST {url} → {status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
                );
            }
            let (accepted, rejected) = parse_ack(self.mode, &bytes, records);
            sent.accepted = accepted;
            sent.rejected = rejected;
            return Ok(sent);
        }
    }

    /// `total` of `GET /api/v1/search?q=<q>&limit=1`.
    pub async fn search_total(&self, q: &str) -> Result<u64> {
        let url = format!("{}/api/v1/search", self.base);
        let resp = self
            .client
            .get(&url)
            .query(&[("q", q), ("limit", "1")])
            .send()
            .await
            .with_context(|| format!("GET {url}?q={q}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading search response")?;
        if !status.is_success() {
            bail!(
                "search q={q} → {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).context("search response is not JSON")?;
        v.get("total")
            .and_then(serde_json::Value::as_u64)
            .with_context(|| format!("search response without numeric total: {v}"))
    }
}

/// Parses `Retry-After: <seconds>` (integer or fractional).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(60.0)))
}

/// (accepted, rejected) from a success response body.
fn parse_ack(mode: Mode, body: &[u8], records: usize) -> (u64, u64) {
    let n = records as u64;
    match mode {
        Mode::Ndjson => {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
                return (n, 0);
            };
            let rejected = v
                .get("rejected")
                .and_then(|r| r.as_array())
                .map_or(0, |a| a.len() as u64);
            let accepted = v
                .get("accepted")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(n.saturating_sub(rejected));
            (accepted, rejected)
        }
        Mode::Otlp => {
            let rejected = ExportLogsServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map_or(0, |p| u64::try_from(p.rejected_log_records).unwrap_or(0));
            (n.saturating_sub(rejected), rejected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_acks() {
        let body = br#"{"accepted":3,"rejected":[{"line":2,"reason":"bad"}]}"#;
        assert_eq!(parse_ack(Mode::Ndjson, body, 4), (3, 1));
        assert_eq!(parse_ack(Mode::Ndjson, b"", 4), (4, 0));
        assert_eq!(parse_ack(Mode::Otlp, b"", 4), (4, 0));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
    }
}
