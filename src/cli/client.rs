//! The HTTP side of the client commands: requests, the API token, error answers turned into
//! messages, and a Server-Sent Events parser for the live tail.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use super::{Connection, QueryRejected, Rejected};

/// A connection to one Pharos server.
pub struct Client {
    http: reqwest::Client,
    /// The base URL without a trailing `/`.
    pub base: String,
    /// The token and where it came from (for messages).
    token: Option<(String, String)>,
}

/// How long `tail` waits for the answer's headers.
const TAIL_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an alerting API call may take (they are small lookups and writes).
const API_TIMEOUT: Duration = Duration::from_secs(30);

/// The variable the API token is read from when no `--token-file` is given.
pub const TOKEN_ENV: &str = "PHAROS_API_TOKEN";

impl Client {
    pub fn new(conn: &Connection) -> anyhow::Result<Client> {
        let base = base_url(&conn.server)?;
        let token = match &conn.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--token-file: cannot read {}", path.display()))?;
                if text.trim().is_empty() {
                    bail!("--token-file: {} is empty", path.display());
                }
                Some((text.trim().to_string(), path.display().to_string()))
            }
            None => match std::env::var(TOKEN_ENV) {
                Ok(v) if !v.trim().is_empty() => Some((v.trim().to_string(), TOKEN_ENV.into())),
                _ => None,
            },
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("pharos-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Client { http, base, token })
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some((token, _)) => req.bearer_auth(token),
            None => req,
        }
    }

    /// `POST /api/v1/query`: the server's JSON answer.
    pub async fn query(&self, body: &Value, query: &str) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(format!("{}/api/v1/query", self.base))
            .json(body);
        let resp = self
            .authorized(req)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let resp = self.check(resp, query).await?;
        resp.json()
            .await
            .map_err(|e| anyhow!("the server's answer is not the expected JSON: {e}"))
    }

    /// `GET /api/v1/tail?q=…`: the response whose body is the event stream.
    pub async fn tail(&self, query: &str) -> anyhow::Result<Response> {
        let req = self
            .http
            .get(format!("{}/api/v1/tail", self.base))
            .query(&[("q", query)])
            .header(reqwest::header::ACCEPT, "text/event-stream");
        // The headers come as soon as the server has subscribed; a server that accepts the
        // connection and says nothing (stuck, or shutting down) is retried.
        let resp = tokio::time::timeout(TAIL_ANSWER_TIMEOUT, self.authorized(req).send())
            .await
            .map_err(|_| {
                Transient(format!(
                    "the server at {} did not answer within {}s",
                    self.base,
                    TAIL_ANSWER_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| self.unreachable(&e))?;
        self.check(resp, query).await
    }

    /// One JSON API call (the alerting commands): the answer's JSON (`null` for an empty
    /// body, as `DELETE /api/v2/silence/{id}` answers). A refusal (4xx with the server's
    /// reason) is [`Rejected`], carrying the status so callers can add a hint.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query)
            // One answer, never a stream: a server that says nothing for this long is stuck.
            .timeout(API_TIMEOUT);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = self
            .authorized(req)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| anyhow!("reading the server's answer: {}", root_cause(&e)))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .map_err(|e| anyhow!("the server's answer to {path} is not JSON: {e}"));
        }
        Err(self.api_error(status, &text, path))
    }

    fn api_error(&self, status: StatusCode, text: &str, path: &str) -> anyhow::Error {
        // Alertmanager's API answers errors as a JSON string, Pharos's own as {"error": …}.
        let message = match serde_json::from_str::<Value>(text) {
            Ok(Value::String(s)) => Some(s),
            Ok(v) => v["error"].as_str().map(str::to_string),
            Err(_) => None,
        }
        .or_else(|| Some(text.trim().chars().take(500).collect::<String>()))
        .filter(|m| !m.is_empty());
        match (status, message) {
            (StatusCode::UNAUTHORIZED, _) => self.token_error(),
            // A 404 with no reason is the router's: the endpoint itself does not exist.
            (StatusCode::NOT_FOUND, None) => anyhow!(
                "{} has no {path} (404): is --server the Pharos HTTP address?",
                self.base
            ),
            (_, message) if status.is_client_error() => Rejected {
                message: format!(
                    "{} ({status})",
                    message.unwrap_or_else(|| "the server refused the request".into())
                ),
                status: Some(status.as_u16()),
                at: None,
            }
            .into(),
            (_, message) => anyhow!(
                "the server at {} answered {status}: {}",
                self.base,
                message.unwrap_or_default()
            ),
        }
    }

    fn token_error(&self) -> anyhow::Error {
        match &self.token {
            None => anyhow!(
                "the server at {} requires an API token: set {TOKEN_ENV} or pass --token-file",
                self.base
            ),
            Some((_, source)) => anyhow!(
                "the server at {} refused the API token from {source}",
                self.base
            ),
        }
    }

    /// The error for a request that got no answer.
    pub fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        Transient(format!(
            "cannot reach the Pharos server at {}: {}",
            self.base,
            root_cause(e)
        ))
        .into()
    }

    /// A 2xx answer, or the error it stands for: [`QueryRejected`] for a 400.
    async fn check(&self, resp: Response, query: &str) -> anyhow::Result<Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = body["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| text.trim().chars().take(500).collect());
        match status {
            StatusCode::BAD_REQUEST => Err(QueryRejected {
                message,
                query: query.to_string(),
                position: body["position"]
                    .as_u64()
                    .and_then(|p| usize::try_from(p).ok()),
                column: body["column"]
                    .as_u64()
                    .and_then(|c| usize::try_from(c).ok()),
            }
            .into()),
            StatusCode::UNAUTHORIZED => Err(self.token_error()),
            StatusCode::NOT_FOUND => bail!(
                "{} has no Pharos query API (404): is --server the Pharos HTTP address?",
                self.base
            ),
            _ if status.is_server_error() => Err(Transient(format!(
                "the server at {} answered {status}: {message}",
                self.base
            ))
            .into()),
            _ => bail!("the server at {} answered {status}: {message}", self.base),
        }
    }
}

/// An error that may go away by itself (no connection, a 5xx answer): `pharos tail`
/// retries after it.
#[derive(Debug)]
pub struct Transient(pub String);

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Transient {}

/// `--server` as a base URL: `http://` is assumed when no scheme is given, and a trailing
/// `/` is dropped.
fn base_url(server: &str) -> anyhow::Result<String> {
    let s = server.trim();
    let s = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    let url = reqwest::Url::parse(&s)
        .map_err(|e| anyhow!("--server {server:?} is not a URL like http://127.0.0.1:7070: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--server {server:?}: the scheme must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("--server {server:?} names no host");
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// The innermost error text ("Connection refused (os error 111)"), which says the most;
/// reqwest's outer layers only say that a request failed.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when absent, as the spec says.
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// An incremental parser of the `text/event-stream` format: feed it bytes as they arrive and
/// it returns the events they complete. Comments (keep-alives) and `id:`/`retry:` are skipped.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        // Lines end with \n, \r\n or \r; a lone \r at the end may still become \r\n.
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            let skip = match (self.buf[end], self.buf.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => break,
                _ => 1,
            };
            let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.buf.drain(..end + skip);
            if let Some(ev) = self.line(&line) {
                events.push(ev);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            return data.map(|data| SseEvent {
                event: event.unwrap_or_else(|| "message".into()),
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn sse_events_across_chunks() {
        let mut p = SseParser::default();
        assert_eq!(p.feed(b": keep-alive\n\nevent: rec"), vec![]);
        assert_eq!(
            p.feed(b"ord\ndata: {\"a\":1}\n\nevent: dropped\r\ndata: {\"dropped\": 3}\r"),
            vec![ev("record", "{\"a\":1}")]
        );
        assert_eq!(p.feed(b"\n\r\n"), vec![ev("dropped", "{\"dropped\": 3}")]);
    }

    #[test]
    fn sse_multi_line_data_and_default_event() {
        let mut p = SseParser::default();
        assert_eq!(
            p.feed(b"data: a\ndata:b\nid: 7\n\n\n"),
            vec![ev("message", "a\nb")]
        );
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            base_url("http://127.0.0.1:7070/").ok().as_deref(),
            Some("http://127.0.0.1:7070")
        );
        assert_eq!(
            base_url("localhost:7070").ok().as_deref(),
            Some("http://localhost:7070")
        );
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("http://").is_err());
    }
}
