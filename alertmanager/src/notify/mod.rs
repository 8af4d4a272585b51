//! Notifiers: e-mail, the Alertmanager-compatible webhook and Slack, with retries, a durable
//! notification log, and a meta-alert when a receiver keeps failing.
//!
//! [`Notifier`] implements [`Deliver`] (escalation policies send to receivers, e-mail
//! addresses and webhook URLs through it); [`ReceiverSink`] adapts it to [`NotifySink`] for
//! the dispatcher, which delivers each notification to its route's receiver.

pub mod config;
pub mod email;
mod failing;
pub mod log;
pub mod retry;
pub mod slack;
pub mod template;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use lettre::message::Mailbox;
use parking_lot::Mutex;
use pharos_collector::clock::SharedClock;

use crate::notification::{BoxFuture, Deliver, Message, Notification, NotifySink, Target};
use crate::storage::{SharedStateDb, StorageError};
use crate::store::SharedAlertStore;

pub use config::{
    EmailConfig, NotifierSettings, NotifyConfig, ReceiverConfig, RetrySettings, Secret,
    SlackConfig, SmtpConfig, SmtpTls, WebhookConfig,
};
pub use failing::FAILING_ALERT_NAME;
pub use log::{LogEntry, LogEntryView, LogFilter, NotificationLog};
pub use retry::{AttemptError, SharedSleeper, Sleeper, TokioSleeper};

use email::{read_secret_file, EmailSender};
use retry::with_retries;
use template::GroupView;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A config problem found while building the notifier (a secret file that cannot be
    /// read, …), naming the key.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One way a receiver is reached, with its secrets loaded.
enum Integration {
    Email {
        to: Vec<Mailbox>,
        send_resolved: bool,
    },
    Webhook {
        url: String,
        bearer: Option<Secret>,
        max_alerts: usize,
        send_resolved: bool,
    },
    Slack {
        url: Secret,
        channel: String,
        username: String,
        send_resolved: bool,
    },
}

impl Integration {
    fn kind(&self) -> &'static str {
        match self {
            Integration::Email { .. } => "email",
            Integration::Webhook { .. } => "webhook",
            Integration::Slack { .. } => "slack",
        }
    }

    /// What the log shows as the target (never a secret).
    fn target(&self) -> String {
        match self {
            Integration::Email { to, .. } => to
                .iter()
                .map(|m| m.email.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Integration::Webhook { url, .. } => webhook::redacted_url(url),
            Integration::Slack { channel, .. } if channel.is_empty() => "slack".into(),
            Integration::Slack { channel, .. } => channel.clone(),
        }
    }

    fn send_resolved(&self) -> bool {
        match self {
            Integration::Email { send_resolved, .. }
            | Integration::Webhook { send_resolved, .. }
            | Integration::Slack { send_resolved, .. } => *send_resolved,
        }
    }
}

struct Inner {
    settings: NotifierSettings,
    receivers: HashMap<String, Vec<Integration>>,
    email: Option<EmailSender>,
    http: reqwest::Client,
    log: NotificationLog,
    clock: SharedClock,
    sleeper: SharedSleeper,
    store: Option<SharedAlertStore>,
    failures: Mutex<HashMap<String, failing::FailureState>>,
}

/// Delivers messages to receivers, e-mail addresses and webhook URLs. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Integrations hold secrets (Slack URLs, tokens): show only what is configured.
        f.debug_struct("Notifier")
            .field("receivers", &self.receiver_names())
            .field("email", &self.inner.email)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Notifier`]: `Notifier::builder(&config, db, clock).alert_store(store).build()`.
pub struct NotifierBuilder {
    config: NotifyConfig,
    db: SharedStateDb,
    clock: SharedClock,
    store: Option<SharedAlertStore>,
    sleeper: SharedSleeper,
}

impl NotifierBuilder {
    /// Where `PharosNotificationsFailing` is put (besides going to the fallback receiver).
    pub fn alert_store(mut self, store: SharedAlertStore) -> Self {
        self.store = Some(store);
        self
    }

    /// How the waits between retries are taken; tests pass one that does not wait.
    pub fn sleeper(mut self, sleeper: SharedSleeper) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Validates the config, reads the secret files and opens the notification log.
    pub fn build(self) -> Result<Notifier, NotifyError> {
        let config = self.config;
        config
            .validate("alerting")
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        let email = config.smtp.as_ref().map(EmailSender::new).transpose()?;
        let mut receivers = HashMap::new();
        for (i, r) in config.receivers.iter().enumerate() {
            receivers.insert(r.name.clone(), integrations(i, r)?);
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| NotifyError::Config(format!("HTTP client: {e}")))?;
        let log = NotificationLog::open(self.db, config.notify.log_max_entries)?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                settings: config.notify,
                receivers,
                email,
                http,
                log,
                clock: self.clock,
                sleeper: self.sleeper,
                store: self.store,
                failures: Mutex::new(HashMap::new()),
            }),
        })
    }
}

fn integrations(i: usize, r: &ReceiverConfig) -> Result<Vec<Integration>, NotifyError> {
    let at = format!("alerting.receivers[{i}]");
    let bad = |key: String, msg: String| NotifyError::Config(format!("{key}: {msg}"));
    let mut out = Vec::new();
    for (j, e) in r.email_configs.iter().enumerate() {
        let to =
            e.to.iter()
                .map(|a| config::parse_mailbox(a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| bad(format!("{at}.email_configs[{j}].to"), m))?;
        out.push(Integration::Email {
            to,
            send_resolved: e.send_resolved,
        });
    }
    for (j, w) in r.webhook_configs.iter().enumerate() {
        let bearer = w
            .bearer_token_file
            .as_deref()
            .map(read_secret_file)
            .transpose()
            .map_err(|m| bad(format!("{at}.webhook_configs[{j}].bearer_token_file"), m))?;
        out.push(Integration::Webhook {
            url: w.url.clone(),
            bearer,
            max_alerts: w.max_alerts,
            send_resolved: w.send_resolved,
        });
    }
    for (j, s) in r.slack_configs.iter().enumerate() {
        let key = format!("{at}.slack_configs[{j}]");
        let url = match (&s.api_url_file, &s.api_url_env) {
            (Some(path), _) => {
                read_secret_file(path).map_err(|m| bad(format!("{key}.api_url_file"), m))?
            }
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Secret::new(v.trim()),
                _ => {
                    return Err(bad(
                        format!("{key}.api_url_env"),
                        format!("environment variable {var} is not set"),
                    ))
                }
            },
            (None, None) => return Err(bad(format!("{key}.api_url_file"), "is required".into())),
        };
        out.push(Integration::Slack {
            url,
            channel: s.channel.clone(),
            username: s.username.clone(),
            send_resolved: s.send_resolved,
        });
    }
    Ok(out)
}

impl Notifier {
    pub fn builder(
        config: &NotifyConfig,
        db: SharedStateDb,
        clock: SharedClock,
    ) -> NotifierBuilder {
        NotifierBuilder {
            config: config.clone(),
            db,
            clock,
            store: None,
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// The notification log (`GET /api/v1/notifications`).
    pub fn log(&self) -> &NotificationLog {
        &self.inner.log
    }

    /// The configured receivers' names, sorted (routes and escalation policies refer to them).
    pub fn receiver_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.receivers.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn has_receiver(&self, name: &str) -> bool {
        self.inner.receivers.contains_key(name)
    }

    /// Delivers `msg` to `target`, retrying each integration; `Err` names every integration
    /// that still failed.
    pub async fn send(&self, target: &Target, msg: &Message) -> Result<(), String> {
        match target {
            Target::Receiver(name) => {
                let result = self.send_to_receiver(name, msg).await;
                // An unknown name is the caller's mistake, not a failing receiver.
                let known = self.has_receiver(name);
                if let Some(meta) = known.then(|| self.track_outcome(name, &result)).flatten() {
                    let fallback = meta.notification.receiver.clone();
                    // Straight to the fallback's integrations: not counted towards its own
                    // failing alert, so a failing fallback cannot loop.
                    if let Err(e) = self.send_to_receiver(&fallback, &meta).await {
                        tracing::error!(error = %e, receiver = %name, fallback = %fallback,
                            "cannot tell the fallback receiver that notifications fail");
                    }
                }
                result
            }
            Target::Email(addr) => {
                let to = config::parse_mailbox(addr)?;
                let integration = Integration::Email {
                    to: vec![to],
                    send_resolved: true,
                };
                self.run_integration("", &integration, msg).await
            }
            Target::Webhook(url) => {
                if reqwest::Url::parse(url).is_err() {
                    return Err("webhook target is not a URL".into());
                }
                let integration = Integration::Webhook {
                    url: url.clone(),
                    bearer: None,
                    max_alerts: 0,
                    send_resolved: true,
                };
                self.run_integration("", &integration, msg).await
            }
        }
    }

    /// Every integration of the receiver, concurrently.
    async fn send_to_receiver(&self, name: &str, msg: &Message) -> Result<(), String> {
        let Some(integrations) = self.inner.receivers.get(name) else {
            return Err(format!("no receiver is named {name:?}"));
        };
        let results = futures_util::future::join_all(
            integrations
                .iter()
                .map(|i| self.run_integration(name, i, msg)),
        )
        .await;
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// One integration with retries, every attempt logged. Resolved alerts are left out for
    /// an integration with `send_resolved = false`; when nothing is left, nothing is sent.
    async fn run_integration(
        &self,
        receiver: &str,
        integration: &Integration,
        msg: &Message,
    ) -> Result<(), String> {
        let inner = &self.inner;
        let view = GroupView::new(
            msg,
            &inner.settings.external_url,
            !integration.send_resolved(),
        );
        if view.alerts.is_empty() {
            return Ok(());
        }
        let target = integration.target();
        let kind = integration.kind();
        let status = view.status().as_str();
        let result = with_retries(
            &inner.settings.retry,
            inner.sleeper.as_ref(),
            |_| self.attempt(integration, &view),
            |report| {
                let entry = LogEntry {
                    at_ns: inner.clock.now_ns(),
                    receiver: receiver.to_string(),
                    target: target.clone(),
                    integration: kind.to_string(),
                    group_key: view.group_key.to_string(),
                    status: status.to_string(),
                    alerts: view.alerts.len(),
                    attempt: report.attempt,
                    ok: report.result.is_ok(),
                    error: report.result.as_ref().err().map(|e| e.message.clone()),
                    duration_ms: u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
                };
                if let Err(e) = inner.log.append(entry) {
                    tracing::warn!(error = %e, "cannot write the notification log");
                }
            },
        )
        .await;
        result.map_err(|e| format!("{kind} {target}: {}", e.message))
    }

    async fn attempt(
        &self,
        integration: &Integration,
        view: &GroupView<'_>,
    ) -> Result<(), AttemptError> {
        let timeout = self.inner.settings.retry.attempt_timeout.0;
        match integration {
            Integration::Email { to, .. } => match &self.inner.email {
                Some(sender) => sender.send(to, view).await,
                None => Err(AttemptError::permanent(
                    "no SMTP server is configured (alerting.smtp)",
                )),
            },
            Integration::Webhook {
                url,
                bearer,
                max_alerts,
                ..
            } => {
                let payload = webhook::WebhookPayload::build(view, *max_alerts);
                let bearer = bearer.as_ref().map(Secret::expose);
                webhook::post_json(&self.inner.http, url, bearer, &payload, timeout).await
            }
            Integration::Slack {
                url,
                channel,
                username,
                ..
            } => {
                let payload = slack::SlackPayload::build(view, channel, username);
                webhook::post_json(&self.inner.http, url.expose(), None, &payload, timeout).await
            }
        }
    }
}

impl Deliver for Notifier {
    fn deliver<'a>(
        &'a self,
        target: &'a Target,
        msg: &'a Message,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.send(target, msg))
    }
}

/// The dispatcher's sink: each notification goes to its receiver, without escalation.
#[derive(Clone)]
pub struct ReceiverSink(pub Notifier);

impl NotifySink for ReceiverSink {
    fn deliver(&self, n: Notification) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let target = Target::Receiver(n.receiver.clone());
            let msg = Message {
                notification: n,
                escalation: None,
            };
            self.0.send(&target, &msg).await
        })
    }
}
