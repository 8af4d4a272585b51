//! E-mail through one SMTP server with lettre's async client: STARTTLS, implicit TLS or (for
//! a relay on the same host, and tests) plain; AUTH when a username is set. Each message is
//! multipart/alternative: plain text and HTML.

use std::path::Path;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
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
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: show only the sender.
        f.debug_struct("EmailSender")
            .field("from", &self.from.to_string())
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
        let tls_params = || {
            TlsParameters::new_rustls(smtp.host.clone())
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
            Err(e) => {
                let retryable = !(e.is_permanent() || e.is_client());
                Err(AttemptError {
                    message: format!("SMTP: {e}"),
                    retryable,
                    retry_after: None,
                })
            }
        }
    }
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
