//! Slack's incoming-webhook message, as Alertmanager's defaults shape it (one attachment:
//! the title linking to the UI, `danger`/`good` colour by status, a fallback line); Mattermost
//! accepts the same JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::notify::template::{escalation_line, GroupStatus, GroupView};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackPayload {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    pub attachments: Vec<SlackAttachment>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackAttachment {
    pub title: String,
    pub title_link: String,
    pub text: String,
    pub fallback: String,
    pub color: String,
    pub fields: Vec<SlackField>,
    pub mrkdwn_in: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    pub short: bool,
}

impl SlackPayload {
    pub fn build(view: &GroupView<'_>, channel: &str, username: &str) -> SlackPayload {
        let title = view.title();
        let link = view.alerts_url();
        let mut text = String::new();
        for a in &view.alerts {
            let state = if view.is_resolved(a) {
                "resolved"
            } else {
                "firing"
            };
            let _ = write!(text, "*{}* ({state})", escape(a.name()));
            if let Some(summary) = a.annotations.get("summary") {
                let _ = write!(text, ": {}", escape(summary));
            }
            if let Some(value) = a.annotations.get("value") {
                let _ = write!(text, " — value {}", escape(value));
            }
            if let Some(runbook) = a.annotations.get("runbook_url") {
                let _ = write!(text, " <{}|runbook>", escape(runbook));
            }
            text.push('\n');
        }
        let mut fields: Vec<SlackField> = view
            .common_labels()
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| SlackField {
                title: k.clone(),
                value: v.clone(),
                short: true,
            })
            .collect();
        if let Some(e) = view.escalation {
            let mut value = escape(&escalation_line(e));
            if e.acked_by.is_none() {
                let _ = write!(value, "\n<{}|Acknowledge>", escape(&e.ack_url));
            }
            fields.push(SlackField {
                title: "Escalation".into(),
                value,
                short: false,
            });
        }
        SlackPayload {
            channel: channel.to_string(),
            username: username.to_string(),
            attachments: vec![SlackAttachment {
                fallback: format!("{title} | {link}"),
                title,
                title_link: link,
                text,
                color: match view.status() {
                    GroupStatus::Firing => "danger",
                    GroupStatus::Resolved => "good",
                }
                .into(),
                fields,
                mrkdwn_in: vec!["fallback".into(), "pretext".into(), "text".into()],
            }],
        }
    }
}

/// Slack's three control characters in message text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
