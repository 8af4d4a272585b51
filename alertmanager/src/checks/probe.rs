//! The network side of the active checks: one HTTP(S) request, TCP connect or TLS handshake,
//! each within its timeout, turned into an [`Outcome`]. No state: the scheduler feeds the
//! outcomes to the state machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_collector::clock::NANOS_PER_SEC;
use regex::Regex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;

use super::state::Outcome;
use crate::config::{CheckConfig, CheckKind, DEFAULT_MIN_DAYS_LEFT};

/// Largest response body read for the body checks.
const MAX_BODY_BYTES: usize = 1 << 20;

/// A check's probe, compiled once from its config.
pub enum Probe {
    Http(Box<HttpProbe>),
    Tcp {
        host: String,
        port: u16,
    },
    Tls(TlsProbe),
    /// Heartbeats are not probed.
    None,
}

pub struct HttpProbe {
    client: reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    expect_status: Vec<u16>,
    body_contains: Option<String>,
    body_regex: Option<Regex>,
    json: Option<(String, serde_json::Value)>,
    max_latency_ms: Option<u64>,
}

pub struct TlsProbe {
    host: String,
    port: u16,
    min_days_left: u32,
    connector: tokio_rustls::TlsConnector,
}

impl Probe {
    /// Compiles a validated config (an invalid one is an error naming the key).
    pub fn new(c: &CheckConfig) -> Result<Probe, String> {
        match c.kind {
            CheckKind::Http => Ok(Probe::Http(Box::new(HttpProbe::new(c)?))),
            CheckKind::Tcp => {
                let (host, port) = c.host_port().map_err(|e| format!("target: {e}"))?;
                Ok(Probe::Tcp { host, port })
            }
            CheckKind::Tls => {
                let (host, port) = c.host_port().map_err(|e| format!("target: {e}"))?;
                Ok(Probe::Tls(TlsProbe {
                    host,
                    port,
                    min_days_left: c.min_days_left.unwrap_or(DEFAULT_MIN_DAYS_LEFT),
                    connector: tls_connector()?,
                }))
            }
            CheckKind::Heartbeat => Ok(Probe::None),
        }
    }

    /// Runs the probe once; `now_ns` (the injectable clock) is what certificate expiry is
    /// measured from.
    pub async fn run(&self, timeout: Duration, now_ns: i64) -> Outcome {
        let started = Instant::now();
        let work = async {
            match self {
                Probe::Http(p) => p.run(started).await,
                Probe::Tcp { host, port } => match TcpStream::connect((host.as_str(), *port)).await
                {
                    Ok(_) => Outcome::ok("connected"),
                    Err(e) => Outcome::fail(format!("connect to {host}:{port} failed: {e}")),
                },
                Probe::Tls(p) => p.run(now_ns).await,
                Probe::None => Outcome::ok("not probed"),
            }
        };
        let outcome = match tokio::time::timeout(timeout, work).await {
            Ok(o) => o,
            Err(_) => Outcome::fail(format!("timed out after {} s", timeout.as_secs_f64())),
        };
        if outcome.latency_ms.is_some() || !outcome.ok && outcome.reason.starts_with("timed out") {
            outcome
        } else {
            outcome.with_latency(millis(started))
        }
    }
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The error and its causes on one line (reqwest's own text is only "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        source = s.source();
    }
    msg
}

impl HttpProbe {
    fn new(c: &CheckConfig) -> Result<HttpProbe, String> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &c.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("headers: {k:?}: {e}"))?;
            let value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|e| format!("headers: {k:?}: {e}"))?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent("pharos-check/1")
            .timeout(Duration::from_secs(c.timeout_secs))
            .build()
            .map_err(|e| format!("target: {}", chain(&e)))?;
        let method = c.method.as_deref().unwrap_or("GET");
        Ok(HttpProbe {
            client,
            method: reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|e| format!("method: {e}"))?,
            url: reqwest::Url::parse(&c.target).map_err(|e| format!("target: {e}"))?,
            expect_status: c.expect_status.clone(),
            body_contains: c.body_contains.clone(),
            body_regex: match &c.body_regex {
                Some(r) => Some(Regex::new(r).map_err(|e| format!("body_regex: {e}"))?),
                None => None,
            },
            json: c.json_path.clone().zip(c.json_equals.clone()),
            max_latency_ms: c.max_latency_ms,
        })
    }

    async fn run(&self, started: Instant) -> Outcome {
        let resp = match self
            .client
            .request(self.method.clone(), self.url.clone())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Outcome::fail(format!("request failed: {}", chain(&e))),
        };
        let status = resp.status().as_u16();
        let body = match read_body(resp).await {
            Ok(b) => b,
            Err(e) => {
                return Outcome::fail(format!("reading the body failed: {}", chain(&e)))
                    .with_status(status)
            }
        };
        let latency = millis(started);
        let fail = |reason: String| {
            Outcome::fail(reason)
                .with_status(status)
                .with_latency(latency)
        };
        let status_ok = if self.expect_status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect_status.contains(&status)
        };
        if !status_ok {
            let want = if self.expect_status.is_empty() {
                "2xx".to_string()
            } else {
                format!("{:?}", self.expect_status)
            };
            return fail(format!("status {status} (expected {want})"));
        }
        let text = String::from_utf8_lossy(&body);
        if let Some(s) = &self.body_contains {
            if !text.contains(s.as_str()) {
                return fail(format!("body does not contain {s:?}"));
            }
        }
        if let Some(r) = &self.body_regex {
            if !r.is_match(&text) {
                return fail(format!("body does not match /{}/", r.as_str()));
            }
        }
        if let Some((path, want)) = &self.json {
            if let Err(reason) = json_path_equals(&body, path, want) {
                return fail(reason);
            }
        }
        if let Some(max) = self.max_latency_ms {
            if latency > max as f64 {
                return fail(format!(
                    "latency {latency:.0} ms over max_latency_ms = {max}"
                ));
            }
        }
        Outcome::ok(format!("status {status}"))
            .with_status(status)
            .with_latency(latency)
    }
}

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
    }
    Ok(body)
}

/// Whether the value at a dotted path (`data.ok`, `items.0.id`) of a JSON body equals `want`.
/// A string `want` also matches a number or boolean with the same text.
pub fn json_path_equals(body: &[u8], path: &str, want: &serde_json::Value) -> Result<(), String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let mut at = &doc;
    for part in path.split('.') {
        let next = match at {
            serde_json::Value::Object(m) => m.get(part),
            serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        at = next.ok_or_else(|| format!("JSON path {path} not found in the body"))?;
    }
    let same = at == want
        || match (want, at) {
            (
                serde_json::Value::String(w),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_),
            ) => serde_json::from_str::<serde_json::Value>(w).ok().as_ref() == Some(at),
            _ => false,
        };
    if same {
        Ok(())
    } else {
        Err(format!("JSON {path} is {at}, expected {want}"))
    }
}

impl TlsProbe {
    async fn run(&self, now_ns: i64) -> Outcome {
        let started = Instant::now();
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = match TcpStream::connect((self.host.as_str(), self.port)).await {
            Ok(s) => s,
            Err(e) => return Outcome::fail(format!("connect to {addr} failed: {e}")),
        };
        let name = match ServerName::try_from(self.host.clone()) {
            Ok(n) => n,
            Err(e) => return Outcome::fail(format!("{:?} is not a server name: {e}", self.host)),
        };
        let tls = match self.connector.connect(name, tcp).await {
            Ok(s) => s,
            Err(e) => return Outcome::fail(format!("TLS handshake with {addr} failed: {e}")),
        };
        let latency = millis(started);
        let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
            return Outcome::fail(format!("{addr} sent no certificate")).with_latency(latency);
        };
        let not_after = match x509_parser::parse_x509_certificate(cert.as_ref()) {
            Ok((_, c)) => c.validity().not_after.timestamp(),
            Err(e) => {
                return Outcome::fail(format!("cannot read the certificate of {addr}: {e}"))
                    .with_latency(latency)
            }
        };
        let left_secs = not_after.saturating_sub(now_ns / NANOS_PER_SEC);
        let days_left = left_secs as f64 / 86_400.0;
        let expires = pharos_collector::clock::rfc3339(not_after.saturating_mul(NANOS_PER_SEC));
        if days_left < f64::from(self.min_days_left) {
            let what = if left_secs <= 0 {
                format!("certificate expired {:.1} days ago", -days_left)
            } else {
                format!("certificate expires in {days_left:.1} days")
            };
            Outcome::fail(format!(
                "{what} ({expires}; min_days_left = {})",
                self.min_days_left
            ))
            .with_latency(latency)
            .with_tls_not_after(not_after)
        } else {
            Outcome::ok(format!(
                "certificate valid for {days_left:.1} more days ({expires})"
            ))
            .with_latency(latency)
            .with_tls_not_after(not_after)
        }
    }
}

/// A TLS client that completes the handshake with any certificate: the check measures how
/// long the certificate has left; whether it chains to a trusted root is not judged here.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
