//! The config: the documented example parses and validates, and every error names its key.

use pharos_alertmanager::notify::{NotifyConfig, SmtpTls};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    alerting: NotifyConfig,
}

/// The first TOML block of docs/alerting/notifiers.md.
fn documented_example() -> String {
    let doc = include_str!("../../../docs/alerting/notifiers.md");
    let start = doc.find("```toml\n").expect("a TOML example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    doc[start..end].to_string()
}

#[test]
fn the_documented_example_is_valid() {
    let file: File = toml::from_str(&documented_example()).unwrap();
    let c = file.alerting;
    c.validate("alerting").unwrap();
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::Starttls));
    assert_eq!(c.receivers.len(), 2);
    assert_eq!(c.receivers[0].email_configs[0].to.len(), 2);
    assert_eq!(
        c.receivers[1].email_configs[0].to,
        vec!["oncall@example.com"]
    );
    assert!(
        c.receivers[0].webhook_configs[0].send_resolved,
        "default true"
    );
    assert_eq!(c.notify.retry.max_attempts, 5);
    assert_eq!(c.notify.fallback_receiver, "oncall");
}

/// Every TOML block of docs/alerting/notifiers.md is a valid `[alerting]` config.
#[test]
fn every_documented_toml_example_is_valid() {
    let doc = include_str!("../../../docs/alerting/notifiers.md");
    let blocks: Vec<&str> = doc.split("```toml\n").skip(1).collect();
    assert!(blocks.len() >= 2, "the example and the private-CA relay");
    for block in blocks {
        let body = &block[..block.find("```").expect("its end")];
        let file: File = toml::from_str(body).unwrap_or_else(|e| panic!("{body}\n{e}"));
        file.alerting
            .validate("alerting")
            .unwrap_or_else(|e| panic!("{body}\n{e}"));
    }
}

/// Each `[alerting.smtp]` key has a row in the docs' table.
#[test]
fn every_smtp_key_is_documented() {
    let doc = include_str!("../../../docs/alerting/notifiers.md");
    let c: NotifyConfig = toml::from_str("[smtp]\nhost = \"h\"\nfrom = \"a@b.c\"").unwrap();
    let smtp = serde_json::to_value(c.smtp.unwrap()).unwrap();
    let keys = smtp.as_object().unwrap().keys();
    // `password` is not serialised (it never prints) but is documented too.
    for key in keys.map(String::as_str).chain(["password"]) {
        assert!(
            doc.contains(&format!("| `{key}` |")),
            "{key} is not documented"
        );
    }
}

fn error_of(toml_text: &str) -> String {
    let c: NotifyConfig = toml::from_str(toml_text).unwrap();
    c.validate("alerting").unwrap_err().to_string()
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (
            "[[receivers]]\nname = \"a\"\n[[receivers.webhook_configs]]\nurl = \"ftp://x\"",
            "alerting.receivers[0].webhook_configs[0].url:",
        ),
        (
            "[[receivers]]\nname = \"a\"\n[[receivers]]\nname = \"a\"",
            "alerting.receivers[1].name:",
        ),
        (
            "[[receivers]]\nname = \"a\"\n[[receivers.email_configs]]\nto = \"not an address\"",
            "alerting.receivers[0].email_configs[0].to:",
        ),
        (
            "[[receivers]]\nname = \"a\"\n[[receivers.email_configs]]\nto = \"a@b.c\"",
            "alerting.smtp: required",
        ),
        (
            "[[receivers]]\nname = \"a\"\n[[receivers.slack_configs]]\nchannel = \"#x\"",
            "alerting.receivers[0].slack_configs[0].api_url_file:",
        ),
        (
            "[notify]\nfallback_receiver = \"nobody\"",
            "alerting.notify.fallback_receiver:",
        ),
        (
            "[notify.retry]\nmax_attempts = 0",
            "alerting.notify.retry.max_attempts:",
        ),
        (
            "[notify.retry]\ninitial_backoff = \"2m\"\nmax_backoff = \"1m\"",
            "alerting.notify.retry.initial_backoff:",
        ),
        (
            "[smtp]\nhost = \"h\"\nfrom = \"x@y.z\"\npassword_file = \"/p\"",
            "alerting.smtp.username:",
        ),
        (
            "[notify]\nexternal_url = \"nope\"",
            "alerting.notify.external_url:",
        ),
        (
            "[smtp]\nhost = \"h\"\nfrom = \"x@y.z\"\ntls = \"none\"\ntls_server_name = \"m\"",
            "alerting.smtp.tls_server_name:",
        ),
    ];
    for (toml_text, key) in cases {
        let e = error_of(toml_text);
        assert!(e.starts_with(key), "{toml_text:?}: {e}");
    }
}

#[test]
fn unknown_keys_and_a_password_in_plain_sight_are_refused() {
    let e = toml::from_str::<NotifyConfig>("[notify]\nretries = 3").unwrap_err();
    assert!(e.to_string().contains("retries"), "{e}");
    // `password` is accepted by the struct because figment fills it from
    // PHAROS_ALERTING__SMTP__PASSWORD; the file loader must refuse it in the file (as it
    // does for the auth tokens), see docs/alerting/notifiers.md.
    let c: NotifyConfig = toml::from_str(
        "[smtp]\nhost = \"h\"\nfrom = \"x@y.z\"\nusername = \"u\"\npassword = \"p\"",
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("\"p\""));
}
