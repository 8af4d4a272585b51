//! `pharos notice add|list|rm`: announcements and scheduled maintenance windows on the status
//! page (`/api/v1/status/notices`).

use anyhow::anyhow;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

use super::client::Client;
use super::table::{self, Style};
use super::{Connection, ListOutput};

#[derive(Args, Debug)]
pub struct NoticeArgs {
    #[command(subcommand)]
    pub command: NoticeCommand,
}

#[derive(Subcommand, Debug)]
pub enum NoticeCommand {
    /// Posts an announcement, or (with --maintenance) schedules a maintenance window; prints
    /// its id.
    Add(AddArgs),
    /// Lists the notices: in effect, scheduled and ended.
    List(ListArgs),
    /// Deletes notices by id (they leave the status page at once).
    Rm(RmArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    Announcement,
    Maintenance,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The headline shown on the status page.
    pub title: String,
    /// More text under the headline.
    #[arg(long, default_value = "")]
    pub body: String,
    /// A maintenance window (needs --start and --end) instead of an announcement.
    #[arg(long)]
    pub maintenance: bool,
    /// When it starts: RFC 3339, epoch seconds, `now` or `now+2h` (default now).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// When it ends (same forms); an announcement without one stays until removed.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// The components it concerns (repeat, or comma-separated); none: the whole page.
    #[arg(long = "component", value_name = "NAME", value_delimiter = ',')]
    pub components: Vec<String>,
    /// Who (default: $USER, else $LOGNAME, else the user id's login name).
    #[arg(long, short)]
    pub author: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long, short, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub conn: Connection,
}

fn add_body(args: &AddArgs, login: Option<String>) -> Value {
    json!({
        "kind": if args.maintenance { "maintenance" } else { "announcement" },
        "title": args.title,
        "body": args.body,
        "components": args.components.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect::<Vec<_>>(),
        "starts_at": args.start,
        "ends_at": args.end,
        "author": args.author.clone().or(login),
    })
}

pub fn run(args: NoticeArgs) -> anyhow::Result<()> {
    match args.command {
        NoticeCommand::Add(a) => {
            let body = add_body(&a, super::login_name());
            let client = Client::new(&a.conn)?;
            let answer = super::runtime()?.block_on(client.api(
                Method::POST,
                "/api/v1/status/notices",
                &[],
                Some(&body),
            ))?;
            let id = answer["id"]
                .as_str()
                .ok_or_else(|| anyhow!("the server's answer has no id: {answer}"))?;
            super::print_stdout(&format!("{id}\n"))
        }
        NoticeCommand::List(a) => {
            let client = Client::new(&a.conn)?;
            let answer = super::runtime()?.block_on(client.api(
                Method::GET,
                "/api/v1/status/notices",
                &[],
                None,
            ))?;
            let notices = answer["notices"].as_array().cloned().unwrap_or_default();
            match a.output {
                ListOutput::Json => {
                    super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&notices)?))
                }
                ListOutput::Table => {
                    super::print_stdout(&notices_table(&notices, &Style::detect()))
                }
            }
        }
        NoticeCommand::Rm(a) => {
            let client = Client::new(&a.conn)?;
            let rt = super::runtime()?;
            for id in &a.ids {
                if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(super::Rejected::new(format!("{id:?} is not a notice id")).into());
                }
                rt.block_on(client.api(
                    Method::DELETE,
                    &format!("/api/v1/status/notices/{id}"),
                    &[],
                    None,
                ))?;
            }
            Ok(())
        }
    }
}

fn notices_table(notices: &[Value], style: &Style) -> String {
    let columns: Vec<String> = [
        "ID",
        "KIND",
        "STATE",
        "STARTS",
        "ENDS",
        "COMPONENTS",
        "TITLE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<Value>> = notices
        .iter()
        .map(|n| {
            let comps = n["components"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "all".into());
            vec![
                n["id"].clone(),
                n["kind"].clone(),
                n["state"].clone(),
                n["starts_at"].clone(),
                if n["ends_at"].is_null() {
                    json!("-")
                } else {
                    n["ends_at"].clone()
                },
                json!(comps),
                n["title"].clone(),
            ]
        })
        .collect();
    table::rows_table_keeping(&columns, &rows, style, &["ID", "STARTS", "ENDS"])
}
