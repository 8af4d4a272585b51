//! The generic webhook: Alertmanager's webhook payload (version 4), field for field, so any
//! receiver written for Alertmanager works unchanged; Pharos adds fields (`ackURL`,
//! `escalation`) only when an escalation policy sends it. Also the HTTP POST shared with
//! Slack and its retry classification.

use std::time::{Duration, SystemTime};

use pharos_collector::clock::rfc3339;
use serde::Serialize;

use crate::alert::LabelSet;
use crate::notification::EscalationContext;
use crate::notify::retry::{parse_retry_after, AttemptError};
use crate::notify::template::GroupView;

/// Go's zero `time.Time`: Alertmanager's `endsAt` for an alert that is still firing.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Alertmanager's webhook message (`notify/webhook.Message`), in its field order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    pub receiver: String,
    pub status: String,
    pub alerts: Vec<WebhookAlert>,
    pub group_labels: LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub version: String,
    pub group_key: String,
    pub truncated_alerts: u64,
    /// Pharos extra: the one-click acknowledgement link, when an escalation sends this.
    #[serde(rename = "ackURL", skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<String>,
    /// Pharos extra: the escalation's incident, policy, step and round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationContext>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: String,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
}

impl WebhookPayload {
    /// `max_alerts` (0 = all) keeps the first alerts and counts the rest, as Alertmanager's
    /// `max_alerts` does.
    pub fn build(view: &GroupView<'_>, max_alerts: usize) -> WebhookPayload {
        let total = view.alerts.len();
        let keep = if max_alerts == 0 {
            total
        } else {
            max_alerts.min(total)
        };
        let alerts = view.alerts[..keep]
            .iter()
            .map(|a| {
                let resolved = view.is_resolved(a);
                WebhookAlert {
                    status: if resolved { "resolved" } else { "firing" }.into(),
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: rfc3339(a.starts_at_ns),
                    // Alertmanager hides an end that has not been reached yet.
                    ends_at: if resolved {
                        rfc3339(a.ends_at_ns)
                    } else {
                        GO_ZERO_TIME.into()
                    },
                    generator_url: a.generator_url.clone(),
                    fingerprint: a.fingerprint().to_string(),
                }
            })
            .collect();
        WebhookPayload {
            receiver: view.receiver.to_string(),
            status: view.status().as_str().into(),
            alerts,
            group_labels: view.group_labels.clone(),
            common_labels: view.common_labels(),
            common_annotations: view.common_annotations(),
            external_url: view.external_url.to_string(),
            version: "4".into(),
            group_key: view.group_key.to_string(),
            truncated_alerts: (total - keep) as u64,
            ack_url: view.escalation.map(|e| e.ack_url.clone()),
            escalation: view.escalation.cloned(),
        }
    }
}

/// POSTs `body` as JSON and classifies the answer: 2xx is delivered; 429 and 5xx may pass
/// (with the server's Retry-After); any other status will not. Network errors and timeouts
/// are retried. Error texts never include the URL (it may be a secret, as Slack's is).
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    body: &impl Serialize,
    timeout: Duration,
) -> Result<(), AttemptError> {
    let mut req = client
        .post(url)
        .timeout(timeout)
        .header(
            reqwest::header::USER_AGENT,
            concat!("Pharos/", env!("CARGO_PKG_VERSION")),
        )
        .json(body);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| AttemptError::retryable(e.without_url().to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    // A short excerpt of the body: receivers often say what they did not like.
    let body = resp.text().await.unwrap_or_default();
    let excerpt: String = body.chars().take(200).collect();
    let message = format!("HTTP {}: {}", status.as_u16(), excerpt.trim());
    if status.as_u16() == 429 || status.is_server_error() {
        Err(AttemptError {
            message,
            retryable: true,
            retry_after,
        })
    } else {
        Err(AttemptError::permanent(message))
    }
}

/// What the log shows of a URL: scheme, host, port and path; never user info or query, where
/// tokens live.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "<invalid url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_credentials_and_query() {
        assert_eq!(
            redacted_url("https://u:p@hooks.example.com:8443/x/y?token=s3cret"),
            "https://hooks.example.com:8443/x/y"
        );
    }
}
