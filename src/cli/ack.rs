//! `pharos ack ID`: acknowledges an escalation incident (`POST /api/v1/incidents/{id}/ack`),
//! by its incident id or by the fingerprint of an alert in it (what a page shows), so the
//! escalation stops paging the next step.

use anyhow::anyhow;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::Client;
use super::{Connection, Rejected};

#[derive(Args, Debug)]
pub struct AckArgs {
    /// An incident id (`pharos alerts incidents`) or an alert's fingerprint (16 hex digits,
    /// `pharos alerts`): every open incident holding that alert is acknowledged.
    #[arg(value_name = "INCIDENT-OR-FINGERPRINT")]
    pub id: String,
    /// Who acknowledges, shown to everyone notified later (default: $USER, else $LOGNAME, else the
    /// user id's login name).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// The request's path and body.
fn request(args: &AckArgs, login: Option<String>) -> Result<(String, Value), Rejected> {
    let id = args.id.trim();
    // Incident ids and fingerprints are hex; refusing anything else keeps `/` or `?` from
    // changing the request's path.
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Rejected::new(format!(
            "{id:?} is not an incident id or alert fingerprint (hex digits, as `pharos alerts \
             incidents` and `pharos alerts` show)"
        )));
    }
    let by = args
        .by
        .clone()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .or(login);
    // Without a name the server records "api".
    let body = match by {
        Some(by) => json!({ "by": by }),
        None => json!({}),
    };
    Ok((format!("/api/v1/incidents/{id}/ack"), body))
}

pub fn run(args: AckArgs) -> anyhow::Result<()> {
    let (path, body) = request(&args, super::login_name())?;
    let client = Client::new(&args.conn)?;
    let answer = super::runtime()?
        .block_on(client.api(Method::POST, &path, &[], Some(&body)))
        .map_err(|e| explain(e, args.id.trim()))?;
    let views = answer["acknowledged"]
        .as_array()
        .ok_or_else(|| anyhow!("the server's answer has no acknowledged list: {answer}"))?;
    let text: String = views.iter().map(|v| describe(v) + "\n").collect();
    super::print_stdout(&text)
}

/// A refusal with what it means for an acknowledgement (the server's reason is kept).
fn explain(e: anyhow::Error, id: &str) -> anyhow::Error {
    let Some(r) = e.downcast_ref::<Rejected>() else {
        return e;
    };
    let hint = match r.status {
        Some(404) => format!("nothing open to acknowledge with id {id}"),
        Some(409) => format!("cannot acknowledge {id}"),
        _ => return e,
    };
    Rejected::new(format!("{hint}: {}", r.message)).into()
}

/// `acknowledged incident 1a2b3c4d5e6f {alertname="DiskFull", team="db"} (2 alerts) by alice`
fn describe(v: &Value) -> String {
    let text = |v: &Value| super::table::sanitize(&super::table::cell_text(v));
    let group = v["group_labels"]
        .as_object()
        .map(|o| {
            let mut pairs: Vec<String> = o
                .iter()
                .map(|(k, val)| format!("{}={:?}", text(&Value::String(k.clone())), text(val)))
                .collect();
            pairs.sort();
            pairs.join(", ")
        })
        .unwrap_or_default();
    let n = v["alerts"].as_array().map_or(0, Vec::len);
    let alerts = if n == 1 {
        "1 alert".to_string()
    } else {
        format!("{n} alerts")
    };
    format!(
        "acknowledged incident {} {{{group}}} ({alerts}) by {}",
        text(&v["id"]),
        match text(&v["acked_by"]) {
            by if by.is_empty() => "?".to_string(),
            by => by,
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: AckArgs,
    }

    fn req(argv: &[&str], login: Option<&str>) -> Result<(String, Value), String> {
        let mut full = vec!["ack"];
        full.extend_from_slice(argv);
        let t = T::try_parse_from(full).map_err(|e| e.to_string())?;
        request(&t.args, login.map(String::from)).map_err(|e| e.to_string())
    }

    #[test]
    fn arguments_map_to_the_request() {
        assert_eq!(
            req(&["0123456789abcdef", "--by", "bob"], Some("alice")),
            Ok((
                "/api/v1/incidents/0123456789abcdef/ack".into(),
                json!({"by": "bob"})
            ))
        );
        assert_eq!(
            req(&["abc123"], Some("alice")),
            Ok((
                "/api/v1/incidents/abc123/ack".into(),
                json!({"by": "alice"})
            ))
        );
        assert_eq!(
            req(&["abc123"], None),
            Ok(("/api/v1/incidents/abc123/ack".into(), json!({})))
        );
        assert!(req(&["../../silences"], None).is_err());
        assert!(req(&[" "], None).is_err());
    }

    #[test]
    fn refusals_say_what_they_mean() {
        let e = explain(
            Rejected {
                message: "no incident \"x\" (404 Not Found)".into(),
                status: Some(404),
                at: None,
            }
            .into(),
            "x",
        );
        assert!(e.is::<Rejected>());
        assert_eq!(
            e.to_string(),
            "nothing open to acknowledge with id x: no incident \"x\" (404 Not Found)"
        );
    }

    #[test]
    fn describes_what_was_acknowledged() {
        let v = json!({
            "id": "1a2b3c4d5e6f", "group_labels": {"team": "db", "alertname": "DiskFull"},
            "alerts": ["a", "b"], "acked_by": "alice"
        });
        assert_eq!(
            describe(&v),
            "acknowledged incident 1a2b3c4d5e6f {alertname=\"DiskFull\", team=\"db\"} (2 alerts) by alice"
        );
    }
}
