//! E-mail through one SMTP server with lettre's async client: STARTTLS, implicit TLS or (for
//! a relay on the same host, and tests) plain; AUTH when a username is set. Each message is
//! multipart/alternative: plain text and HTML.

use std::path::Path;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::notify::config::{parse_mailbox, Secret, SmtpConfig, SmtpTls};
use crate::notify::retry::AttemptError;
use crate::notify::template::GroupView;
use crate::notify::NotifyError;

/// The SMTP environment variable the password may come from.
pub const SMTP_PASSWORD_ENV: &str = "PHAROS_ALERTING__SMTP__PASSWORD";

pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The name the server's certificate is checked against, for error messages.
    tls_server_name: String,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: show only the sender.
        f.debug_struct("EmailSender")
            .field("from", &self.from.to_string())
            .field("tls_server_name", &self.tls_server_name)
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// Builds the client (no connection yet: each message opens one). The password is
    /// `smtp.password` (set from `PHAROS_ALERTING__SMTP__PASSWORD`) or `password_file`.
    pub fn new(smtp: &SmtpConfig) -> Result<EmailSender, NotifyError> {
        let bad =
            |key: &str, msg: String| NotifyError::Config(format!("alerting.smtp.{key}: {msg}"));
        let from = parse_mailbox(&smtp.from).map_err(|m| bad("from", m))?;
        let tls_params = || -> Result<TlsParameters, NotifyError> {
            let name = smtp.tls_server_name.as_ref().unwrap_or(&smtp.host);
            // The default store is the built-in web PKI roots (lettre's `rustls-tls` feature);
            // `ca_file` adds to it rather than replacing it.
            let mut params = TlsParameters::builder(name.clone());
            if let Some(path) = &smtp.ca_file {
                for cert in read_ca_file(path).map_err(|m| bad("ca_file", m))? {
                    params = params.add_root_certificate(cert);
                }
            }
            params
                .build_rustls()
                .map_err(|e| bad("tls", format!("cannot set up TLS: {e}")))
        };
        let tls = match smtp.tls {
            SmtpTls::Starttls => Tls::Required(tls_params()?),
            SmtpTls::Tls => Tls::Wrapper(tls_params()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(smtp.timeout.0));
        if !smtp.hello_name.is_empty() {
            builder = builder.hello_name(ClientId::Domain(smtp.hello_name.clone()));
        }
        if let Some(user) = &smtp.username {
            let password = match (&smtp.password, &smtp.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(path)) => {
                    read_secret_file(path).map_err(|m| bad("password_file", m))?
                }
                (None, None) => Secret::new(""),
            };
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(EmailSender {
            transport: builder.build(),
            from,
            tls_server_name: smtp
                .tls_server_name
                .clone()
                .unwrap_or_else(|| smtp.host.clone()),
        })
    }

    /// Sends one message to `to`. SMTP 4xx, timeouts and connection failures may pass; 5xx
    /// and a message that cannot be built will not.
    pub async fn send(&self, to: &[Mailbox], view: &GroupView<'_>) -> Result<(), AttemptError> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(view.title());
        for m in to {
            builder = builder.to(m.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                view.plain_body(),
                view.html_body(),
            ))
            .map_err(|e| AttemptError::permanent(format!("cannot build the e-mail: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // A certificate that is not trusted now will not be in a second either: retrying
            // only delays the failure (and the failing-receiver alert) by the whole backoff.
            Err(e) => match certificate_error(&e) {
                Some(cert) => Err(AttemptError::permanent(format!(
                    "SMTP: TLS certificate verification failed for {:?}: {cert} (a private \
                     CA goes in alerting.smtp.ca_file; the name checked is \
                     alerting.smtp.tls_server_name, default host)",
                    self.tls_server_name
                ))),
                None => Err(AttemptError {
                    message: format!("SMTP: {e}"),
                    retryable: !(e.is_permanent() || e.is_client()),
                    retry_after: None,
                }),
            },
        }
    }
}

/// The certificates of a PEM file, each checked the way the verifier will use it (as a
/// trust anchor), so a bad file fails at start rather than at the first page.
fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if ders.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    let mut anchors = rustls::RootCertStore::empty();
    ders.into_iter()
        .enumerate()
        .map(|(i, der)| {
            let bad = |e: String| format!("certificate {} in {}: {e}", i + 1, path.display());
            anchors.add(der.clone()).map_err(|e| bad(e.to_string()))?;
            Certificate::from_der(der.to_vec()).map_err(|e| bad(e.to_string()))
        })
        .collect()
}

/// The certificate verification failure behind a failed send, if that is what it was.
/// lettre wraps the handshake's `io::Error`, which wraps the `rustls::Error`; `io::Error`'s
/// `source()` skips its payload, so the payload is looked at with `get_ref`.
fn certificate_error(e: &lettre::transport::smtp::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = tls {
            return Some(tls.to_string());
        }
        next = err.source();
    }
    None
}

/// Reads a secret from a file (content trimmed; empty is an error).
pub fn read_secret_file(path: &Path) -> Result<Secret, String> {
    let content = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let trimmed = content.trim();
    if trimmed.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Secret::new(trimmed))
}
