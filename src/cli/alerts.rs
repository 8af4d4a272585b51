//! `pharos alerts [MATCHER…]`: the current alerts (`GET /api/v2/alerts`), and
//! `pharos alerts incidents`: the escalation incidents (`GET /api/v1/incidents`).
//!
//! As in `amtool alert query`, silenced and inhibited alerts are left out unless asked for:
//! the default answers "what is firing and paging right now".

use anyhow::anyhow;
use clap::{Args, Subcommand};
use pharos_alertmanager::dispatch::{AlertState, GettableAlert};
use reqwest::Method;
use serde_json::Value;

use super::client::Client;
use super::table::{self, Style};
use super::{matchers, Connection, ListOutput};

#[derive(Args, Debug)]
// `pharos alerts incidents` is the subcommand, not the matcher `alertname="incidents"` that a
// bare first word would otherwise be (write `alertname=incidents` for that).
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Only alerts whose labels match every matcher (amtool's syntax: alertname=Foo
    /// 'team=~"db|infra"' env!=dev; a first word without an operator is the alert name).
    #[arg(value_name = "MATCHER")]
    pub matchers: Vec<String>,
    /// Also show silenced alerts.
    #[arg(long, short)]
    pub silenced: bool,
    /// Also show inhibited alerts.
    #[arg(long, short)]
    pub inhibited: bool,
    /// Only alerts routed to a receiver whose name matches this regex (anchored).
    #[arg(long, short, value_name = "REGEX")]
    pub receiver: Option<String>,
    /// How to print them.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Lists the open escalation incidents (unacknowledged or acknowledged, not resolved):
    /// what `pharos ack` acknowledges.
    Incidents(IncidentsArgs),
}

#[derive(Args, Debug)]
pub struct IncidentsArgs {
    /// Also show resolved incidents (kept for alerting.escalation.retention).
    #[arg(long, short)]
    pub all: bool,
    /// How to print them.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
    #[command(flatten)]
    pub conn: Connection,
}

pub fn run(args: AlertsArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AlertsCommand::Incidents(a)) => incidents(a),
        None => alerts(args),
    }
}

/// The query parameters of `GET /api/v2/alerts` for the arguments.
fn alert_params(
    args: &AlertsArgs,
    filter: &[pharos_alertmanager::matcher::Matcher],
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("active", "true".to_string()),
        ("unprocessed", "true".to_string()),
        ("silenced", args.silenced.to_string()),
        ("inhibited", args.inhibited.to_string()),
    ];
    params.extend(matchers::filter_params(filter));
    if let Some(r) = &args.receiver {
        params.push(("receiver", r.clone()));
    }
    params
}

fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let filter = matchers::parse_args(&args.matchers)?;
    let client = Client::new(&args.conn)?;
    let answer = super::runtime()?.block_on(client.api(
        Method::GET,
        "/api/v2/alerts",
        &alert_params(&args, &filter),
        None,
    ))?;
    let mut alerts: Vec<GettableAlert> = serde_json::from_value(answer)
        .map_err(|e| anyhow!("the server's alerts are not in the v2 API's shape: {e}"))?;
    // Oldest first: what has been firing longest is usually what matters.
    alerts.sort_by(|a, b| (&a.starts_at, &a.fingerprint).cmp(&(&b.starts_at, &b.fingerprint)));
    match args.output {
        ListOutput::Json => {
            super::print_stdout(&super::pretty_json(&serde_json::to_value(&alerts)?)?)
        }
        ListOutput::Table => {
            if alerts.is_empty() {
                eprintln!("no alerts{}", hidden_note(&args));
                return Ok(());
            }
            super::print_stdout(&alert_table(&alerts, &Style::detect()))?;
            if let Some(note) = Some(hidden_note(&args)).filter(|n| !n.is_empty()) {
                let n = alerts.len();
                eprintln!("{n} alert{}{note}", if n == 1 { "" } else { "s" });
            }
            Ok(())
        }
    }
}

/// Says what the default hides, so an empty list does not read as "all quiet".
fn hidden_note(args: &AlertsArgs) -> String {
    match (args.silenced, args.inhibited) {
        (false, false) => " (silenced and inhibited ones hidden: --silenced, --inhibited)".into(),
        (false, true) => " (silenced ones hidden: --silenced)".into(),
        (true, false) => " (inhibited ones hidden: --inhibited)".into(),
        (true, true) => String::new(),
    }
}

fn state_text(a: &GettableAlert) -> String {
    match a.status.state {
        AlertState::Active => "active".into(),
        AlertState::Unprocessed => "unprocessed".into(),
        AlertState::Suppressed => {
            let mut why = Vec::new();
            if !a.status.silenced_by.is_empty() {
                why.push("silenced");
            }
            if !a.status.inhibited_by.is_empty() {
                why.push("inhibited");
            }
            if why.is_empty() {
                "suppressed".into()
            } else {
                format!("suppressed ({})", why.join(", "))
            }
        }
    }
}

/// `k="v"` pairs, skipping the names already shown in a column of their own.
fn labels_text<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    skip: &[&str],
) -> String {
    let mut pairs: Vec<(&String, &String)> = labels
        .into_iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn alert_table(alerts: &[GettableAlert], style: &Style) -> String {
    let columns: Vec<String> = ["ALERTNAME", "STATE", "STARTED", "LABELS", "FINGERPRINT"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<Value>> = alerts
        .iter()
        .map(|a| {
            [
                a.labels.get("alertname").cloned().unwrap_or_default(),
                state_text(a),
                table::short_time(&a.starts_at),
                labels_text(a.labels.iter(), &["alertname"]),
                a.fingerprint.clone(),
            ]
            .map(Value::String)
            .to_vec()
        })
        .collect();
    table::rows_table_keeping(&columns, &rows, style, &["STATE", "STARTED", "FINGERPRINT"])
}

fn incidents(args: IncidentsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    let open = (!args.all).to_string();
    let answer = super::runtime()?.block_on(client.api(
        Method::GET,
        "/api/v1/incidents",
        &[("open", open)],
        None,
    ))?;
    let list = answer["incidents"]
        .as_array()
        .ok_or_else(|| anyhow!("the server's answer has no incidents list: {answer}"))?;
    match args.output {
        ListOutput::Json => super::print_stdout(&super::pretty_json(&Value::Array(list.clone()))?),
        ListOutput::Table if list.is_empty() => {
            eprintln!("no {}incidents", if args.all { "" } else { "open " });
            Ok(())
        }
        ListOutput::Table => super::print_stdout(&incident_table(list, &Style::detect())),
    }
}

fn incident_table(list: &[Value], style: &Style) -> String {
    let columns: Vec<String> = [
        "ID", "STATE", "GROUP", "ALERTS", "POLICY", "STEP", "OPENED", "ACKED BY",
    ]
    .map(String::from)
    .to_vec();
    let text = |v: &Value| table::cell_text(v);
    let rows: Vec<Vec<Value>> = list
        .iter()
        .map(|i| {
            let group = i["group_labels"]
                .as_object()
                .map(|o| {
                    let pairs: Vec<(String, String)> =
                        o.iter().map(|(k, v)| (k.clone(), text(v))).collect();
                    labels_text(pairs.iter().map(|(k, v)| (k, v)), &[])
                })
                .unwrap_or_default();
            vec![
                Value::String(text(&i["id"])),
                Value::String(text(&i["state"])),
                Value::String(group),
                Value::from(i["alerts"].as_array().map_or(0, Vec::len)),
                Value::String(text(&i["policy"])),
                // Steps are 0-based in the API; people count from 1.
                i["step"]
                    .as_u64()
                    .map_or(Value::Null, |s| Value::from(s + 1)),
                Value::String(table::short_time(&text(&i["opened_at"]))),
                Value::String(text(&i["acked_by"])),
            ]
        })
        .collect();
    table::rows_table_keeping(&columns, &rows, style, &["ID", "STATE", "STEP", "OPENED"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: AlertsArgs,
    }

    fn parsed(argv: &[&str]) -> Result<AlertsArgs, String> {
        let mut full = vec!["alerts"];
        full.extend_from_slice(argv);
        T::try_parse_from(full)
            .map(|t| t.args)
            .map_err(|e| e.to_string())
    }

    fn params(argv: &[&str]) -> Vec<(&'static str, String)> {
        let args = parsed(argv).unwrap_or_else(|e| panic!("{e}"));
        let filter = matchers::parse_args(&args.matchers).unwrap_or_default();
        alert_params(&args, &filter)
    }

    #[test]
    fn arguments_map_to_v2_parameters() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let got = |argv: &[&str]| {
            params(argv)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            got(&[]),
            vec![
                p("active", "true"),
                p("unprocessed", "true"),
                p("silenced", "false"),
                p("inhibited", "false")
            ]
        );
        assert_eq!(
            got(&["DiskFull", "team=~db|infra", "--silenced", "-r", "pager"]),
            vec![
                p("active", "true"),
                p("unprocessed", "true"),
                p("silenced", "true"),
                p("inhibited", "false"),
                p("filter", "alertname=\"DiskFull\""),
                p("filter", "team=~\"db|infra\""),
                p("receiver", "pager"),
            ]
        );
    }

    #[test]
    fn incidents_is_a_subcommand() {
        let a = parsed(&["incidents", "--all"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            a.command,
            Some(AlertsCommand::Incidents(IncidentsArgs { all: true, .. }))
        ));
        let a = parsed(&["alertname=incidents"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.command.is_none());
        assert_eq!(a.matchers, vec!["alertname=incidents"]);
    }

    #[test]
    fn tables() {
        let plain = Style {
            width: None,
            color: false,
        };
        let alerts: Vec<GettableAlert> = serde_json::from_value(json!([{
            "labels": {"alertname": "DiskFull", "team": "db", "env": "prod"},
            "annotations": {},
            "startsAt": "2025-03-01T10:00:00.5Z",
            "endsAt": "2025-03-01T10:05:00Z",
            "updatedAt": "2025-03-01T10:00:00Z",
            "generatorURL": "",
            "fingerprint": "0123456789abcdef",
            "receivers": [{"name": "pager"}],
            "status": {"state": "suppressed", "silencedBy": ["s1"], "inhibitedBy": [], "mutedBy": []}
        }]))
        .unwrap_or_default();
        assert_eq!(
            alert_table(&alerts, &plain),
            "ALERTNAME  STATE                  STARTED               LABELS                FINGERPRINT\n\
             DiskFull   suppressed (silenced)  2025-03-01T10:00:00Z  env=\"prod\" team=\"db\"  0123456789abcdef\n"
        );
        let incidents = [json!({
            "id": "abc123", "state": "acknowledged", "group_labels": {"alertname": "DiskFull"},
            "alerts": ["0123456789abcdef"], "policy": "db", "step": 0,
            "opened_at": "2025-03-01T10:00:00Z", "acked_by": "alice"
        })];
        let out = incident_table(&incidents, &plain);
        assert!(out.ends_with(
            "abc123  acknowledged  alertname=\"DiskFull\"       1  db         1  2025-03-01T10:00:00Z  alice\n"
        ), "{out}");
    }
}
