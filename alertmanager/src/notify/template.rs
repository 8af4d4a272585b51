//! What every integration says about a group, computed once: Alertmanager's template data
//! (status, common labels and annotations, the firing and resolved alerts), its default
//! title (`[FIRING:2] HighErrorRate (api)`), and the e-mail bodies (plain text and HTML).

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use pharos_collector::clock::rfc3339;

use crate::alert::{Alert, LabelSet};
use crate::notification::{EscalationContext, Message};

/// `firing` when any alert of the group is firing, else `resolved`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupStatus {
    Firing,
    Resolved,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Firing => "firing",
            GroupStatus::Resolved => "resolved",
        }
    }
}

/// One group as the integrations render it.
pub struct GroupView<'a> {
    pub receiver: &'a str,
    pub group_key: &'a str,
    pub group_labels: &'a LabelSet,
    pub alerts: Vec<&'a Alert>,
    /// Alerts resolved at this time are resolved (the notification's flush time).
    pub at_ns: i64,
    pub external_url: &'a str,
    pub escalation: Option<&'a EscalationContext>,
}

impl<'a> GroupView<'a> {
    /// A view of `msg`'s alerts; `firing_only` drops the resolved ones (for an integration
    /// with `send_resolved = false`, as Alertmanager does).
    pub fn new(msg: &'a Message, external_url: &'a str, firing_only: bool) -> GroupView<'a> {
        let n = &msg.notification;
        let alerts = n
            .alerts
            .iter()
            .filter(|a| !(firing_only && a.resolved_at(n.at_ns)))
            .collect();
        GroupView {
            receiver: &n.receiver,
            group_key: &n.group_key,
            group_labels: &n.group_labels,
            alerts,
            at_ns: n.at_ns,
            external_url: external_url.trim_end_matches('/'),
            escalation: msg.escalation.as_ref(),
        }
    }

    pub fn is_resolved(&self, a: &Alert) -> bool {
        a.resolved_at(self.at_ns)
    }

    pub fn status(&self) -> GroupStatus {
        if self.alerts.iter().any(|a| !self.is_resolved(a)) {
            GroupStatus::Firing
        } else {
            GroupStatus::Resolved
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &&'a Alert> {
        self.alerts.iter().filter(|a| !self.is_resolved(a))
    }

    pub fn resolved(&self) -> impl Iterator<Item = &&'a Alert> {
        self.alerts.iter().filter(|a| self.is_resolved(a))
    }

    /// The labels every alert has with the same value.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
    }

    /// Alertmanager's default link: `{externalURL}/#/alerts?receiver=…`.
    pub fn alerts_url(&self) -> String {
        let receiver: String = form_urlencoded::byte_serialize(self.receiver.as_bytes()).collect();
        format!("{}/#/alerts?receiver={receiver}", self.external_url)
    }

    /// Alertmanager's default subject and Slack title:
    /// `[FIRING:2] <group label values> (<other common label values>)`.
    pub fn title(&self) -> String {
        let mut s = match self.status() {
            GroupStatus::Firing => format!("[FIRING:{}]", self.firing().count()),
            GroupStatus::Resolved => "[RESOLVED]".to_string(),
        };
        for v in self.group_labels.values() {
            s.push(' ');
            s.push_str(v);
        }
        let common = self.common_labels();
        let rest: Vec<&str> = common
            .iter()
            .filter(|(k, _)| !self.group_labels.contains_key(*k))
            .map(|(_, v)| v.as_str())
            .collect();
        if !rest.is_empty() {
            let _ = write!(s, " ({})", rest.join(" "));
        }
        // Header injection: a label value with a newline must not end the subject line.
        s.replace(['\r', '\n'], " ")
    }

    /// The e-mail's plain-text body.
    pub fn plain_body(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.title());
        let _ = writeln!(s, "\nView in Pharos: {}", self.alerts_url());
        if let Some(e) = self.escalation {
            let _ = writeln!(s, "\n{}", escalation_line(e));
            if e.acked_by.is_none() {
                let _ = writeln!(s, "Acknowledge: {}", e.ack_url);
            }
        }
        for (heading, alerts) in [
            ("Firing", self.firing().collect::<Vec<_>>()),
            ("Resolved", self.resolved().collect::<Vec<_>>()),
        ] {
            if alerts.is_empty() {
                continue;
            }
            let _ = writeln!(s, "\n{} {heading}\n", alerts.len());
            for a in alerts {
                self.plain_alert(&mut s, a);
            }
        }
        s
    }

    fn plain_alert(&self, s: &mut String, a: &Alert) {
        let _ = writeln!(s, "{}", a.name());
        if let Some(summary) = a.annotations.get("summary") {
            let _ = writeln!(s, "  Summary: {summary}");
        }
        if let Some(description) = a.annotations.get("description") {
            let _ = writeln!(s, "  Description: {description}");
        }
        if let Some(value) = a.annotations.get("value") {
            let _ = writeln!(s, "  Value: {value}");
        }
        let _ = writeln!(s, "  Started: {}", rfc3339(a.starts_at_ns));
        if self.is_resolved(a) {
            let _ = writeln!(s, "  Ended: {}", rfc3339(a.ends_at_ns));
        }
        if let Some(runbook) = a.annotations.get("runbook_url") {
            let _ = writeln!(s, "  Runbook: {runbook}");
        }
        if !a.generator_url.is_empty() {
            let _ = writeln!(s, "  Source: {}", a.generator_url);
        }
        let _ = writeln!(s, "  Labels:");
        for (k, v) in &a.labels {
            let _ = writeln!(s, "    {k} = {v}");
        }
        let others: Vec<_> = other_annotations(a).collect();
        if !others.is_empty() {
            let _ = writeln!(s, "  Annotations:");
            for (k, v) in others {
                let _ = writeln!(s, "    {k} = {v}");
            }
        }
        s.push('\n');
    }

    /// The e-mail's HTML body. Every value is escaped: labels and annotations come from
    /// whoever sent the alert.
    pub fn html_body(&self) -> String {
        let color = match self.status() {
            GroupStatus::Firing => "#d9534f",
            GroupStatus::Resolved => "#5cb85c",
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
             <body style=\"font-family:sans-serif\">\n\
             <h2 style=\"color:{color}\">{}</h2>\n\
             <p><a href=\"{}\">View in Pharos</a></p>",
            text(&self.title()),
            text(&self.title()),
            attr(&self.alerts_url()),
        );
        if let Some(e) = self.escalation {
            let _ = writeln!(s, "<p>{}</p>", text(&escalation_line(e)));
            if e.acked_by.is_none() {
                let _ = writeln!(
                    s,
                    "<p><a href=\"{}\" style=\"font-weight:bold\">Acknowledge</a></p>",
                    attr(&e.ack_url)
                );
            }
        }
        for (heading, alerts) in [
            ("Firing", self.firing().collect::<Vec<_>>()),
            ("Resolved", self.resolved().collect::<Vec<_>>()),
        ] {
            if alerts.is_empty() {
                continue;
            }
            let _ = writeln!(s, "<h3>{} {heading}</h3>", alerts.len());
            for a in alerts {
                self.html_alert(&mut s, a);
            }
        }
        s.push_str("</body></html>\n");
        s
    }

    fn html_alert(&self, s: &mut String, a: &Alert) {
        let _ = writeln!(
            s,
            "<div style=\"margin-bottom:1em\">\n<strong>{}</strong><br>",
            text(a.name())
        );
        for (key, label) in [
            ("summary", "Summary"),
            ("description", "Description"),
            ("value", "Value"),
        ] {
            if let Some(v) = a.annotations.get(key) {
                let _ = writeln!(s, "{label}: {}<br>", text(v));
            }
        }
        let _ = writeln!(s, "Started: {}<br>", text(&rfc3339(a.starts_at_ns)));
        if self.is_resolved(a) {
            let _ = writeln!(s, "Ended: {}<br>", text(&rfc3339(a.ends_at_ns)));
        }
        if let Some(runbook) = a.annotations.get("runbook_url") {
            let _ = writeln!(
                s,
                "<a href=\"{}\">Runbook</a><br>",
                attr(&safe_href(runbook))
            );
        }
        if !a.generator_url.is_empty() {
            let _ = writeln!(
                s,
                "<a href=\"{}\">Source</a><br>",
                attr(&safe_href(&a.generator_url))
            );
        }
        s.push_str("<table>\n");
        for (k, v) in &a.labels {
            let _ = writeln!(s, "<tr><td>{}</td><td>{}</td></tr>", text(k), text(v));
        }
        for (k, v) in other_annotations(a) {
            let _ = writeln!(s, "<tr><td>{}</td><td>{}</td></tr>", text(k), text(v));
        }
        s.push_str("</table>\n</div>\n");
    }
}

/// "Escalation policy db-oncall, step 2, round 1" (+ who acknowledged).
pub fn escalation_line(e: &EscalationContext) -> String {
    let mut s = format!(
        "Escalation policy {}, step {}, round {}",
        e.policy,
        e.step + 1,
        e.round + 1
    );
    if let Some(by) = &e.acked_by {
        let _ = write!(s, "; acknowledged by {by}");
    }
    s
}

/// Annotations other than those shown on their own line.
fn other_annotations(a: &Alert) -> impl Iterator<Item = (&String, &String)> {
    a.annotations.iter().filter(|(k, _)| {
        !matches!(
            k.as_str(),
            "summary" | "description" | "value" | "runbook_url"
        )
    })
}

/// Only http(s) links become `href`s: a `javascript:` runbook URL is shown as text's worth of
/// nothing rather than a clickable script.
fn safe_href(url: &str) -> String {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        url.to_string()
    } else {
        "#".to_string()
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut common = first.clone();
    for set in sets {
        common.retain(|k, v| set.get(k) == Some(v));
    }
    common
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;
    use crate::notification::Notification;

    fn msg(alerts: Vec<Alert>, group: &[(&str, &str)]) -> Message {
        Message {
            notification: Notification {
                receiver: "team a".into(),
                group_key: "{}:{alertname=\"HighErrorRate\"}".into(),
                group_labels: labels(group.iter().copied()),
                alerts,
                at_ns: 1_000,
            },
            escalation: None,
        }
    }

    #[test]
    fn title_matches_alertmanager_default() {
        let a = Alert::firing(
            labels([("alertname", "HighErrorRate"), ("job", "api"), ("pod", "a")]),
            10,
        );
        let b = Alert::firing(
            labels([("alertname", "HighErrorRate"), ("job", "api"), ("pod", "b")]),
            10,
        );
        let m = msg(
            vec![a.clone(), b.clone()],
            &[("alertname", "HighErrorRate")],
        );
        let v = GroupView::new(&m, "http://x/", false);
        assert_eq!(v.title(), "[FIRING:2] HighErrorRate (api)");
        assert_eq!(v.alerts_url(), "http://x/#/alerts?receiver=team+a");

        let mut ra = a;
        ra.ends_at_ns = 500;
        let mut rb = b;
        rb.ends_at_ns = 900;
        let m = msg(vec![ra, rb], &[("alertname", "HighErrorRate")]);
        let v = GroupView::new(&m, "http://x", false);
        assert_eq!(v.title(), "[RESOLVED] HighErrorRate (api)");
    }

    #[test]
    fn html_escapes_outside_values_and_refuses_script_links() {
        let mut a = Alert::firing(labels([("alertname", "X"), ("evil", "<script>\"&")]), 10);
        a.annotations
            .insert("runbook_url".into(), "javascript:alert(1)".into());
        let m = msg(vec![a], &[]);
        let html = GroupView::new(&m, "http://x", false).html_body();
        assert!(html.contains("&lt;script&gt;\"&amp;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn subject_has_no_line_breaks() {
        let a = Alert::firing(labels([("alertname", "X\r\nBcc: a@b")]), 10);
        let m = msg(vec![a], &[("alertname", "X\r\nBcc: a@b")]);
        assert!(!GroupView::new(&m, "http://x", false).title().contains('\n'));
    }
}
