//! `pharos oncall now` and `pharos oncall override add|list|rm`: who is on call, and
//! overrides ("Carol covers Bob's Friday") through `/api/v1/oncall…`, the same ones the
//! On call page makes.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use super::client::Client;
use super::table::{self, Style};
use super::{Connection, ListOutput, Rejected};

#[derive(Args, Debug)]
pub struct OncallArgs {
    #[command(subcommand)]
    pub command: OncallCommand,
}

#[derive(Subcommand, Debug)]
pub enum OncallCommand {
    /// Who is on call now in each schedule, since when, until when, and who is next.
    Now(NowArgs),
    /// Overrides of a schedule: someone else covers a stretch of time.
    #[command(subcommand)]
    Override(OverrideCommand),
}

#[derive(Args, Debug)]
pub struct NowArgs {
    #[arg(long, short, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Subcommand, Debug)]
pub enum OverrideCommand {
    /// Adds an override and prints its id; it pages from its start.
    Add(AddArgs),
    /// Lists a schedule's overrides (from the config file and made since).
    List(ListArgs),
    /// Deletes overrides by id.
    Rm(RmArgs),
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The schedule (`[[alerting.escalation.schedules]] name`).
    pub schedule: String,
    /// Who covers: `Name <address>` or an address.
    pub who: String,
    /// From: RFC 3339, epoch seconds, `now` or `now+2h`.
    #[arg(long, value_name = "TIME")]
    pub start: String,
    /// Until (same forms).
    #[arg(long, value_name = "TIME")]
    pub end: String,
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Who makes it (default: $USER, else $LOGNAME, else the user id's login name).
    #[arg(long, short)]
    pub author: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    pub schedule: String,
    #[arg(long, short, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    pub schedule: String,
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// A path segment from the command line: a schedule name or id may not change the path.
fn segment(what: &str, s: &str) -> Result<String, Rejected> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(Rejected::new(format!(
            "{what} {s:?}: letters, digits, '-', '_' and '.' only"
        )))
    }
}

fn call(
    conn: &Connection,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let client = Client::new(conn)?;
    super::runtime()?.block_on(client.api(method, path, &[], body))
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

pub fn run(args: OncallArgs) -> anyhow::Result<()> {
    match args.command {
        OncallCommand::Now(a) => {
            let answer = call(&a.conn, Method::GET, "/api/v1/oncall", None)?;
            let schedules = answer["schedules"].as_array().cloned().unwrap_or_default();
            match a.output {
                ListOutput::Json => print_json(&Value::Array(schedules)),
                ListOutput::Table => {
                    let columns =
                        ["SCHEDULE", "ON CALL", "SINCE", "UNTIL", "NEXT"].map(String::from);
                    let rows: Vec<Vec<Value>> = schedules
                        .iter()
                        .map(|s| {
                            let who = match s["by_override"].as_bool() {
                                Some(true) => json!(format!(
                                    "{} (override)",
                                    s["current"]["name"].as_str().unwrap_or("?")
                                )),
                                _ => s["current"]["name"].clone(),
                            };
                            vec![
                                s["schedule"].clone(),
                                who,
                                s["since"].clone(),
                                s["until"].clone(),
                                s["next"]["name"].clone(),
                            ]
                        })
                        .collect();
                    super::print_stdout(&table::rows_table_keeping(
                        &columns,
                        &rows,
                        &Style::detect(),
                        &["SINCE", "UNTIL"],
                    ))
                }
            }
        }
        OncallCommand::Override(OverrideCommand::Add(a)) => {
            let schedule = segment("schedule", &a.schedule)?;
            let by = a
                .author
                .clone()
                .or_else(super::login_name)
                .unwrap_or_else(|| "cli".into());
            let body = json!({"who": a.who, "start": a.start, "end": a.end, "created_by": by, "comment": a.comment});
            let answer = call(
                &a.conn,
                Method::POST,
                &format!("/api/v1/oncall/{schedule}/overrides"),
                Some(&body),
            )?;
            let id = answer["override"]["id"]
                .as_str()
                .ok_or_else(|| anyhow!("the server's answer has no override id: {answer}"))?;
            super::print_stdout(&format!("{id}\n"))
        }
        OncallCommand::Override(OverrideCommand::List(a)) => {
            let schedule = segment("schedule", &a.schedule)?;
            let answer = call(
                &a.conn,
                Method::GET,
                &format!("/api/v1/oncall/{schedule}/overrides"),
                None,
            )?;
            let list = answer["overrides"].as_array().cloned().unwrap_or_default();
            match a.output {
                ListOutput::Json => print_json(&Value::Array(list)),
                ListOutput::Table => {
                    let columns = ["ID", "WHO", "START", "END", "BY", "COMMENT"].map(String::from);
                    let rows: Vec<Vec<Value>> = list
                        .iter()
                        .map(|o| {
                            vec![
                                if o["id"].is_null() {
                                    json!("(config)")
                                } else {
                                    o["id"].clone()
                                },
                                o["who"]["name"].clone(),
                                o["start"].clone(),
                                o["end"].clone(),
                                o["created_by"].clone(),
                                o["comment"].clone(),
                            ]
                        })
                        .collect();
                    super::print_stdout(&table::rows_table_keeping(
                        &columns,
                        &rows,
                        &Style::detect(),
                        &["ID", "START", "END"],
                    ))
                }
            }
        }
        OncallCommand::Override(OverrideCommand::Rm(a)) => {
            let schedule = segment("schedule", &a.schedule)?;
            for id in &a.ids {
                let id = segment("override id", id)?;
                call(
                    &a.conn,
                    Method::DELETE,
                    &format!("/api/v1/oncall/{schedule}/overrides/{id}"),
                    None,
                )?;
            }
            Ok(())
        }
    }
}
