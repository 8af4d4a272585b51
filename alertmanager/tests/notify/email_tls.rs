//! E-mail over STARTTLS and implicit TLS against the test SMTP server, with certificates from
//! a throwaway CA: delivery is encrypted and authenticated, an untrusted or misnamed
//! certificate fails at once (no retries), a required STARTTLS the server does not offer fails
//! instead of falling back to plain, and a bad `ca_file` is a config error naming the key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mail_parser::MessageParser;
use pharos_alertmanager::notification::Target;
use pharos_alertmanager::notify::{LogFilter, Notifier, NotifyError};
use pharos_alertmanager::storage::MemStateDb;
use pharos_alertmanager::testing::{server_tls_config, TestSmtpServer, TlsMode};
use pharos_collector::clock::ManualClock;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use super::common::*;

const WAIT: Duration = Duration::from_secs(10);

/// A private CA (its PEM written to `ca.pem`) and a server certificate it signed for `names`.
struct Pki {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Pharos test mail CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = CertificateParams::new(names).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let server = server_tls_config(&cert.pem(), &key.serialize_pem()).unwrap();
    Pki {
        dir,
        ca_file,
        server,
    }
}

/// `[smtp]` for the server on `port` plus `extra` lines (tls, ca_file, …), one receiver
/// "ops", four attempts per delivery so a retry would show.
fn build(port: u16, extra: &str, dir: &Path) -> Result<(Notifier, Arc<NoWait>), NotifyError> {
    let password = dir.join("smtp-password");
    std::fs::write(&password, "hunter2\n").unwrap();
    let cfg = config(&format!(
        r#"
[smtp]
host = "127.0.0.1"
port = {port}
username = "pharos"
password_file = "{}"
from = "Pharos <alerts@pharos.test>"
hello_name = "pharos.test"
timeout = "5s"
{extra}

[[receivers]]
name = "ops"
[[receivers.email_configs]]
to = "alice@example.com"

[notify]
retry = {{ initial_backoff = "1s", max_backoff = "30s", max_attempts = 4 }}
"#,
        password.display()
    ));
    let waits = Arc::new(NoWait::default());
    let notifier = Notifier::builder(
        &cfg,
        Arc::new(MemStateDb::default()),
        Arc::new(ManualClock::new(NOW)),
    )
    .sleeper(waits.clone())
    .build()?;
    Ok((notifier, waits))
}

fn ca_line(p: &Pki) -> String {
    format!("ca_file = \"{}\"", p.ca_file.display())
}

async fn page(notifier: &Notifier) -> Result<(), String> {
    notifier
        .send(
            &Target::Receiver("ops".into()),
            &message("ops", vec![high_error_rate("a")]),
        )
        .await
}

fn subject(data: &str) -> String {
    let parsed = MessageParser::default().parse(data.as_bytes()).unwrap();
    parsed.subject().unwrap_or_default().to_string()
}

#[tokio::test]
async fn starttls_with_auth_by_ip_verifying_the_overridden_name() {
    // The certificate names only "localhost"; Pharos connects to 127.0.0.1 and verifies
    // "localhost" because tls_server_name says so.
    let p = pki(&["localhost"]);
    let smtp = TestSmtpServer::start_with(TlsMode::StartTls(p.server.clone()))
        .await
        .unwrap();
    let extra = format!(
        "tls = \"starttls\"\ntls_server_name = \"localhost\"\n{}",
        ca_line(&p)
    );
    let (notifier, waits) = build(smtp.port(), &extra, p.dir.path()).unwrap();
    page(&notifier).await.unwrap();

    let mail = smtp.next_message(WAIT).await.expect("a mail");
    assert!(mail.tls, "the message went over the upgraded connection");
    // The server refuses AUTH before STARTTLS, so this also says the password went encrypted.
    assert_eq!(mail.auth_user.as_deref(), Some("pharos"));
    assert_eq!(mail.rcpt_to, vec!["alice@example.com"]);
    assert_eq!(subject(&mail.data), "[FIRING:1] HighErrorRate (api a page)");
    assert!(waits.waits().is_empty());
    assert!(notifier.log().list(&LogFilter::default())[0].entry.ok);
}

#[tokio::test]
async fn implicit_tls_to_a_certificate_for_the_ip() {
    let p = pki(&["localhost", "127.0.0.1"]);
    let smtp = TestSmtpServer::start_with(TlsMode::Implicit(p.server.clone()))
        .await
        .unwrap();
    let extra = format!("tls = \"tls\"\n{}", ca_line(&p));
    let (notifier, _) = build(smtp.port(), &extra, p.dir.path()).unwrap();
    page(&notifier).await.unwrap();

    let mail = smtp.next_message(WAIT).await.expect("a mail");
    assert!(mail.tls);
    assert_eq!(mail.auth_user.as_deref(), Some("pharos"));
    assert_eq!(subject(&mail.data), "[FIRING:1] HighErrorRate (api a page)");
}

/// Sends once against a server whose certificate will not verify; returns the error after
/// checking it was a single attempt that delivered nothing.
async fn fails_once_on_the_certificate(mode: TlsMode, extra: &str, dir: &Path) -> String {
    let smtp = TestSmtpServer::start_with(mode).await.unwrap();
    let (notifier, waits) = build(smtp.port(), extra, dir).unwrap();
    let err = page(&notifier).await.unwrap_err();
    assert!(err.contains("TLS certificate verification failed"), "{err}");
    assert!(waits.waits().is_empty(), "retried: {:?}", waits.waits());
    assert_eq!(smtp.connections(), 1, "one attempt only");
    assert_eq!(notifier.log().len(), 1);
    assert!(smtp.received().is_empty());
    err
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_naming_verification() {
    // The CA is not in ca_file (there is none): only the web PKI roots are trusted.
    let p = pki(&["localhost", "127.0.0.1"]);
    let err = fails_once_on_the_certificate(
        TlsMode::StartTls(p.server.clone()),
        "tls = \"starttls\"",
        p.dir.path(),
    )
    .await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    let err = fails_once_on_the_certificate(
        TlsMode::Implicit(p.server.clone()),
        "tls = \"tls\"",
        p.dir.path(),
    )
    .await;
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn a_trusted_certificate_for_another_name_fails_too() {
    // Trusted CA, but the certificate is for localhost and Pharos verifies 127.0.0.1.
    let p = pki(&["localhost"]);
    let extra = format!("tls = \"tls\"\n{}", ca_line(&p));
    let err =
        fails_once_on_the_certificate(TlsMode::Implicit(p.server.clone()), &extra, p.dir.path())
            .await;
    assert!(err.contains("not valid for name"), "{err}");
    assert!(err.contains("\"127.0.0.1\""), "{err}");
}

#[tokio::test]
async fn required_starttls_not_offered_fails_instead_of_sending_in_clear() {
    let p = pki(&["localhost", "127.0.0.1"]);
    let smtp = TestSmtpServer::start().await.unwrap();
    let extra = format!("tls = \"starttls\"\n{}", ca_line(&p));
    let (notifier, waits) = build(smtp.port(), &extra, p.dir.path()).unwrap();
    let err = page(&notifier).await.unwrap_err();
    assert!(err.contains("STARTTLS is not supported"), "{err}");
    assert!(smtp.received().is_empty());
    assert!(waits.waits().is_empty(), "retried: {:?}", waits.waits());
}

#[tokio::test]
async fn a_missing_or_unusable_ca_file_is_a_config_error_naming_the_key() {
    let p = pki(&["localhost"]);
    let missing = p.dir.path().join("nope.pem");
    let garbage = p.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let not_a_cert = p.dir.path().join("bad-der.pem");
    std::fs::write(
        &not_a_cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (file, why) in [
        (&missing, "cannot read"),
        (&garbage, "holds no PEM certificate"),
        (&not_a_cert, "certificate 1 in"),
    ] {
        let extra = format!("tls = \"tls\"\nca_file = \"{}\"", file.display());
        let err = build(2525, &extra, p.dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("alerting.smtp.ca_file: "), "{err}");
        assert!(err.contains(why), "{err}");
    }
    // Trust settings on an unencrypted connection would silently do nothing.
    let extra = format!("tls = \"none\"\n{}", ca_line(&p));
    let err = build(2525, &extra, p.dir.path()).unwrap_err().to_string();
    assert!(err.starts_with("alerting.smtp.ca_file: "), "{err}");
    let err = build(2525, "tls_server_name = \"not a name!\"", p.dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("alerting.smtp.tls_server_name: "), "{err}");
}
