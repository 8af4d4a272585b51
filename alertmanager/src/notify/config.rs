//! The notifier's config: `[alerting.smtp]`, `[[alerting.receivers]]` and
//! `[alerting.notify]`. Every key is documented in `docs/alerting/notifiers.md`; every
//! validation error names the key path (`alerting.receivers[1].webhook_configs[0].url: …`).
//!
//! Secrets are never in the config file: the SMTP password comes from
//! `PHAROS_ALERTING__SMTP__PASSWORD` or `password_file`, webhook bearer tokens and Slack URLs
//! from files or named environment variables; [`Secret`] never prints.

use std::collections::HashSet;
use std::path::PathBuf;

use lettre::message::Mailbox;
use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::PromDuration;

/// Keys the config loader must refuse when they appear in the file (they may only come from
/// the environment), as it does for `auth.api_token`.
pub const SECRET_KEYS_ONLY_FROM_ENV: &[&str] = &["alerting.smtp.password"];

/// A secret value that never prints (`Debug` shows `<secret>`, serialisation is skipped by
/// the fields that hold one).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// Everything the notifier reads from `[alerting]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// The SMTP server e-mail goes through; required as soon as anything sends e-mail.
    pub smtp: Option<SmtpConfig>,
    pub receivers: Vec<ReceiverConfig>,
    pub notify: NotifierSettings,
}

/// One named receiver: every integration listed is notified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// One address or a list; `alice@example.com` or `Alice <alice@example.com>`.
    #[serde(deserialize_with = "one_or_many")]
    pub to: Vec<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// At most this many alerts per payload (the rest are counted in `truncatedAlerts`);
    /// 0 = all.
    #[serde(default)]
    pub max_alerts: usize,
    /// A file whose content (trimmed) is sent as `Authorization: Bearer …`.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// A file holding the incoming-webhook URL (the URL is a secret: it grants posting).
    #[serde(default)]
    pub api_url_file: Option<PathBuf>,
    /// Or the name of an environment variable holding it.
    #[serde(default)]
    pub api_url_env: Option<String>,
    /// `#channel` or `@user`; empty = the webhook's default channel.
    #[serde(default)]
    pub channel: String,
    /// The name the message is posted as; empty = the webhook's default.
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub send_resolved: bool,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or tests.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_smtp_tls")]
    pub tls: SmtpTls,
    /// AUTH (PLAIN or LOGIN) is used when set.
    #[serde(default)]
    pub username: Option<String>,
    /// Only from the environment: `PHAROS_ALERTING__SMTP__PASSWORD`.
    #[serde(default, skip_serializing)]
    pub password: Option<Secret>,
    /// A file whose content (trimmed) is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender, `alerts@example.com` or `Pharos <alerts@example.com>`.
    pub from: String,
    /// The name given in EHLO; empty = this host's name.
    #[serde(default)]
    pub hello_name: String,
    /// Bounds each SMTP command (connect, TLS, every reply).
    #[serde(default = "default_smtp_timeout")]
    pub timeout: PromDuration,
    /// A PEM file of CA certificates trusted in addition to the built-in web PKI roots: how
    /// an internal relay with a certificate from a private CA is reached. Read at start.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name the server's certificate must carry when it differs from `host` (connecting
    /// by IP address, or through a tunnel); default `host`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    /// The wait before the second attempt; doubled after each further failure.
    pub initial_backoff: PromDuration,
    /// The longest wait between two attempts (also caps a server's Retry-After).
    pub max_backoff: PromDuration,
    /// Attempts per delivery, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Bounds each attempt (connect, send, response).
    pub attempt_timeout: PromDuration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            initial_backoff: PromDuration::from_secs(1),
            max_backoff: PromDuration::from_secs(60),
            max_attempts: 5,
            attempt_timeout: PromDuration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifierSettings {
    /// The base of links to the UI in notifications (Alertmanager's `externalURL`).
    pub external_url: String,
    pub retry: RetrySettings,
    /// The receiver told, directly, when another receiver keeps failing; "" = nobody (the
    /// meta-alert is still put into the alert store).
    pub fallback_receiver: String,
    /// Consecutive failed deliveries to a receiver before `PharosNotificationsFailing` fires.
    pub failing_after: u32,
    /// The notification log keeps the newest this many attempts.
    pub log_max_entries: usize,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        NotifierSettings {
            external_url: "http://127.0.0.1:7070".into(),
            retry: RetrySettings::default(),
            fallback_receiver: String::new(),
            failing_after: 3,
            log_max_entries: 10_000,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_tls() -> SmtpTls {
    SmtpTls::Starttls
}
fn default_smtp_timeout() -> PromDuration {
    PromDuration::from_secs(10)
}

/// `to = "a@x"` or `to = ["a@x", "B <b@x>"]`.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A config error: the key path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// Parses `alice@example.com` or `Alice <alice@example.com>`.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("{s:?} is not an e-mail address: {e}"))
}

fn check_http_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| invalid(key, format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(key, "must be an http or https URL"));
    }
    Ok(())
}

impl NotifyConfig {
    /// Checks every key; `prefix` is where this config sits (`alerting`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        let mut sends_email = false;
        for (i, r) in self.receivers.iter().enumerate() {
            let at = format!("{prefix}.receivers[{i}]");
            if r.name.trim().is_empty() {
                return Err(invalid(format!("{at}.name"), "must not be empty"));
            }
            if !names.insert(r.name.as_str()) {
                return Err(invalid(
                    format!("{at}.name"),
                    format!("receiver {:?} is defined twice", r.name),
                ));
            }
            for (j, e) in r.email_configs.iter().enumerate() {
                sends_email = true;
                let key = format!("{at}.email_configs[{j}].to");
                if e.to.is_empty() {
                    return Err(invalid(key, "needs at least one address"));
                }
                for addr in &e.to {
                    parse_mailbox(addr).map_err(|m| invalid(&key, m))?;
                }
            }
            for (j, w) in r.webhook_configs.iter().enumerate() {
                check_http_url(&format!("{at}.webhook_configs[{j}].url"), &w.url)?;
            }
            for (j, s) in r.slack_configs.iter().enumerate() {
                let key = format!("{at}.slack_configs[{j}]");
                match (&s.api_url_file, &s.api_url_env) {
                    (None, None) => {
                        return Err(invalid(
                            format!("{key}.api_url_file"),
                            "set api_url_file or api_url_env (the webhook URL is a secret)",
                        ))
                    }
                    (Some(_), Some(_)) => {
                        return Err(invalid(
                            format!("{key}.api_url_env"),
                            "set only one of api_url_file and api_url_env",
                        ))
                    }
                    _ => {}
                }
            }
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate(&format!("{prefix}.smtp"))?;
        } else if sends_email {
            return Err(invalid(
                format!("{prefix}.smtp"),
                "required: a receiver has email_configs",
            ));
        }
        self.notify.validate(&format!("{prefix}.notify"), &names)
    }
}

impl SmtpConfig {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        if self.host.trim().is_empty() {
            return Err(invalid(format!("{at}.host"), "must not be empty"));
        }
        if self.port == 0 {
            return Err(invalid(format!("{at}.port"), "must not be 0"));
        }
        parse_mailbox(&self.from).map_err(|m| invalid(format!("{at}.from"), m))?;
        if self.timeout.is_zero() {
            return Err(invalid(format!("{at}.timeout"), "must be more than 0s"));
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(invalid(
                format!("{at}.password_file"),
                "set either PHAROS_ALERTING__SMTP__PASSWORD or password_file, not both",
            ));
        }
        if let Some(name) = &self.tls_server_name {
            rustls::pki_types::ServerName::try_from(name.as_str()).map_err(|_| {
                invalid(
                    format!("{at}.tls_server_name"),
                    format!("{name:?} is not a DNS name or IP address"),
                )
            })?;
        }
        // Trust settings that would silently do nothing are refused: whoever wrote them
        // believes the connection is verified.
        if self.tls == SmtpTls::None {
            for (key, set) in [
                ("ca_file", self.ca_file.is_some()),
                ("tls_server_name", self.tls_server_name.is_some()),
            ] {
                if set {
                    return Err(invalid(
                        format!("{at}.{key}"),
                        "has no effect with tls = \"none\"",
                    ));
                }
            }
        }
        if self.username.is_none() && (self.password.is_some() || self.password_file.is_some()) {
            return Err(invalid(
                format!("{at}.username"),
                "required when a password is given",
            ));
        }
        Ok(())
    }
}

impl NotifierSettings {
    fn validate(&self, at: &str, receivers: &HashSet<&str>) -> Result<(), ConfigError> {
        check_http_url(&format!("{at}.external_url"), &self.external_url)?;
        let r = &self.retry;
        if r.max_attempts == 0 {
            return Err(invalid(
                format!("{at}.retry.max_attempts"),
                "must be at least 1",
            ));
        }
        if r.initial_backoff > r.max_backoff {
            return Err(invalid(
                format!("{at}.retry.initial_backoff"),
                "must not exceed retry.max_backoff",
            ));
        }
        if r.attempt_timeout.is_zero() {
            return Err(invalid(
                format!("{at}.retry.attempt_timeout"),
                "must be more than 0s",
            ));
        }
        if !self.fallback_receiver.is_empty()
            && !receivers.contains(self.fallback_receiver.as_str())
        {
            return Err(invalid(
                format!("{at}.fallback_receiver"),
                format!("no receiver is named {:?}", self.fallback_receiver),
            ));
        }
        if self.failing_after == 0 {
            return Err(invalid(format!("{at}.failing_after"), "must be at least 1"));
        }
        if self.log_max_entries == 0 {
            return Err(invalid(
                format!("{at}.log_max_entries"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
