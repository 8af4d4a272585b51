//! A small SMTP receiver for tests and benchmarks: listens on 127.0.0.1 (a free port),
//! speaks enough SMTP for real clients (EHLO/HELO, AUTH PLAIN and LOGIN accepted, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), records every accepted message, and
//! can be told to refuse the next messages with 451 (transient) or 550 (permanent) to
//! exercise retries.
//!
//! It speaks plain SMTP, STARTTLS (RFC 3207) or implicit TLS (RFC 8314), with a
//! `rustls::ServerConfig` the caller supplies, so certificate generation (rcgen) stays in the
//! tests. The protocol itself is in [`session`].

mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

/// One accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
    /// The user that authenticated, when the client did.
    pub auth_user: Option<String>,
    /// Whether the session was encrypted when the message was accepted (after STARTTLS, or
    /// implicit TLS).
    pub tls: bool,
    pub accepted_at: SystemTime,
}

/// How the server answers the end of the next messages' DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `451 4.3.0`: the client should try again later.
    Transient,
    /// `550 5.7.1`: the client should give up.
    Permanent,
}

/// How connections are secured.
#[derive(Clone)]
pub enum TlsMode {
    /// Plain SMTP; STARTTLS is not offered.
    Plain,
    /// Plain at first; `250-STARTTLS` is advertised and, like a real submission server, AUTH
    /// is only offered and accepted once the session is encrypted.
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte (port 465 style).
    Implicit(Arc<rustls::ServerConfig>),
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsMode::Plain => "Plain",
            TlsMode::StartTls(_) => "StartTls",
            TlsMode::Implicit(_) => "Implicit",
        })
    }
}

/// A server config (ring provider, no client certificates) from a PEM certificate chain
/// (leaf first) and a PEM private key: what callers without a rustls dependency of their
/// own pass to [`TlsMode`].
pub fn server_tls_config(
    cert_chain_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err("certificate chain: no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("private key: {e}"))?;
    // Explicit provider: `ServerConfig::builder()` panics when more than one is compiled in.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

#[derive(Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    /// Refuse this many more messages this way.
    refuse: Option<(Refusal, usize)>,
    refused: usize,
    connections: usize,
}

/// The running server; dropping it stops accepting connections.
pub struct TestSmtpServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<ReceivedMail>>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TestSmtpServer {
    /// Starts a plain SMTP server on 127.0.0.1 on a free port.
    pub async fn start() -> std::io::Result<TestSmtpServer> {
        TestSmtpServer::start_with(TlsMode::Plain).await
    }

    /// Starts listening on 127.0.0.1 on a free port, securing connections as `mode` says.
    pub async fn start_with(mode: TlsMode) -> std::io::Result<TestSmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let task_shared = shared.clone();
        let accept_task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Replies are whole lines written at once; no reason to hold them back.
                let _ = stream.set_nodelay(true);
                task_shared.lock().connections += 1;
                let session = session::Session {
                    shared: task_shared.clone(),
                    tx: tx.clone(),
                    starttls: match &mode {
                        TlsMode::StartTls(config) => Some(TlsAcceptor::from(config.clone())),
                        _ => None,
                    },
                };
                let implicit = match &mode {
                    TlsMode::Implicit(config) => Some(TlsAcceptor::from(config.clone())),
                    _ => None,
                };
                tokio::spawn(async move {
                    // A client that misbehaves (or rejects our certificate) only ends its own
                    // session.
                    let _ = match implicit {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(tls) => session.run(Box::new(tls), true).await,
                            Err(e) => Err(e),
                        },
                        None => session.run(Box::new(stream), false).await,
                    };
                });
            }
        });
        Ok(TestSmtpServer {
            addr,
            shared,
            rx: tokio::sync::Mutex::new(rx),
            accept_task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Refuses the next `count` messages (at the end of DATA) with `how`.
    pub fn refuse_next(&self, how: Refusal, count: usize) {
        self.shared.lock().refuse = Some((how, count));
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.lock().received.clone()
    }

    /// How many messages were refused.
    pub fn refused(&self) -> usize {
        self.shared.lock().refused
    }

    /// How many TCP connections were accepted (a failed TLS handshake counts too), so tests
    /// can tell how many attempts a client made.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// The next accepted message not yet returned by this method, or `None` after `timeout`.
    pub async fn next_message(&self, timeout: Duration) -> Option<ReceivedMail> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    #[tokio::test]
    async fn speaks_smtp_with_dot_unstuffing_and_refusals() {
        let server = TestSmtpServer::start().await.unwrap();
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let mut transcript = String::new();
        let mut line = String::new();
        lines.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("220"));
        server.refuse_next(Refusal::Transient, 1);
        write
            .write_all(b"HELO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
            .await
            .unwrap();
        write
            .write_all(b"Subject: hi\r\n\r\n..dot\r\n.\r\n")
            .await
            .unwrap();
        for _ in 0..5 {
            line.clear();
            lines.read_line(&mut line).await.unwrap();
            transcript.push_str(&line);
        }
        assert!(
            transcript.ends_with("451 4.3.0 Try again later\r\n"),
            "{transcript}"
        );
        write
            .write_all(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n..dot\r\n.\r\nQUIT\r\n")
            .await
            .unwrap();
        let mail = server.next_message(Duration::from_secs(5)).await.unwrap();
        assert_eq!(mail.mail_from, "a@x");
        assert_eq!(mail.rcpt_to, vec!["b@y".to_string()]);
        assert_eq!(mail.data, ".dot\r\n");
        assert_eq!(server.refused(), 1);
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    /// Writes `command` and reads the whole (possibly multi-line) reply.
    async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
        conn: &mut BufReader<S>,
        command: &str,
    ) -> String {
        conn.write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        conn.flush().await.unwrap();
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            assert!(
                conn.read_line(&mut line).await.unwrap() > 0,
                "closed after {reply:?}"
            );
            reply.push_str(&line);
            // The last line of a reply has a space after the code, the others a dash.
            if line.as_bytes().get(3) == Some(&b' ') {
                return reply;
            }
        }
    }

    #[tokio::test]
    async fn starttls_is_offered_auth_waits_for_it_and_the_session_starts_over() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let config = server_tls_config(&cert.pem(), &key.serialize_pem()).unwrap();
        let server = TestSmtpServer::start_with(TlsMode::StartTls(config))
            .await
            .unwrap();

        let mut plain = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
        let mut greeting = String::new();
        plain.read_line(&mut greeting).await.unwrap();
        let ehlo = ask(&mut plain, "EHLO me").await;
        assert!(
            ehlo.contains("250-STARTTLS") && !ehlo.contains("AUTH"),
            "{ehlo}"
        );
        assert!(ask(&mut plain, "AUTH PLAIN AHUAcA==")
            .await
            .starts_with("530 "));
        ask(&mut plain, "MAIL FROM:<before@tls>").await;
        assert!(ask(&mut plain, "STARTTLS").await.starts_with("220 "));

        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
            .connect(name, plain.into_inner())
            .await
            .unwrap();
        let mut tls = BufReader::new(tls);
        let ehlo = ask(&mut tls, "EHLO me").await;
        assert!(
            ehlo.contains("AUTH PLAIN") && !ehlo.contains("STARTTLS"),
            "{ehlo}"
        );
        assert!(ask(&mut tls, "STARTTLS").await.starts_with("503 "));
        // The MAIL FROM given in clear was forgotten (RFC 3207 §4.2).
        assert!(ask(&mut tls, "RCPT TO:<x@y>").await.starts_with("503 "));
        assert!(ask(&mut tls, "AUTH PLAIN AHUAcA==")
            .await
            .starts_with("235 "));
        ask(&mut tls, "MAIL FROM:<a@x>").await;
        ask(&mut tls, "RCPT TO:<b@y>").await;
        ask(&mut tls, "DATA").await;
        assert!(ask(&mut tls, "hi\r\n.").await.starts_with("250 "));
        let mail = server.next_message(Duration::from_secs(5)).await.unwrap();
        assert!(mail.tls);
        assert_eq!(mail.auth_user.as_deref(), Some("u"));
        assert_eq!(server.connections(), 1);
    }
}
