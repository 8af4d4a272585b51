//! `pharos silence add|list|expire`: silences through the Alertmanager v2 API
//! (`POST|GET /api/v2/silences`, `DELETE /api/v2/silence/{id}`), with amtool's flags where
//! they mean the same, so muscle memory carries over.

use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use pharos_alertmanager::matcher::Matcher;
use pharos_alertmanager::silence::{GettableSilence, PostableSilence, SilenceState};
use pharos_alertmanager::PromDuration;
use reqwest::Method;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::client::Client;
use super::table::{self, Style};
use super::{matchers, Connection, ListOutput, Rejected};

/// amtool's default silence length when neither --duration nor --end is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(3600);

#[derive(Args, Debug)]
pub struct SilenceArgs {
    #[command(subcommand)]
    pub command: SilenceCommand,
}

#[derive(Subcommand, Debug)]
pub enum SilenceCommand {
    /// Adds a silence and prints its id. Matchers in amtool's syntax: alertname=Foo
    /// 'team=~"db|infra"' env!=dev (a first word without an operator is the alert name).
    Add(AddArgs),
    /// Lists the active and pending silences (or, with --expired, the expired ones).
    #[command(visible_alias = "query")]
    List(ListArgs),
    /// Expires silences now (the alerts they muted notify again).
    Expire(ExpireArgs),
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// What to silence: every matcher must match an alert's labels.
    #[arg(required = true, value_name = "MATCHER")]
    pub matchers: Vec<String>,
    /// How long the silence lasts from its start (30m, 2h, 1d; default 1h).
    #[arg(long, short, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "end")]
    pub duration: Option<PromDuration>,
    /// When the silence ends, RFC 3339 (2025-03-01T18:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub end: Option<OffsetDateTime>,
    /// When the silence starts, RFC 3339 (default: now; a later start makes it pending).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start: Option<OffsetDateTime>,
    /// Why: shown to everyone who wonders why an alert is quiet.
    // No `-c` (amtool's): that is the global --config.
    #[arg(long)]
    pub comment: String,
    /// Who (default: $USER, else $LOGNAME, else the login name of the user id).
    #[arg(long, short)]
    pub author: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only silences with these matchers (an equality filter matches a silence that has that
    /// label=value among its own equality matchers).
    #[arg(value_name = "MATCHER")]
    pub matchers: Vec<String>,
    /// Show the expired silences instead of the active and pending ones.
    #[arg(long)]
    pub expired: bool,
    /// How to print them.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Args, Debug)]
pub struct ExpireArgs {
    /// The ids of the silences (as `pharos silence add` printed them).
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub conn: Connection,
}

fn parse_duration(s: &str) -> Result<PromDuration, String> {
    match PromDuration::parse(s) {
        Ok(d) if d.is_zero() => Err("a silence must last longer than 0s".into()),
        other => other,
    }
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|e| format!("`{s}` is not an RFC 3339 time like 2025-03-01T18:00:00Z: {e}"))
}

/// In UTC, as the server answers, so what is sent and what is listed look alike.
fn rfc3339(t: OffsetDateTime) -> anyhow::Result<String> {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .with_context(|| format!("formatting {t} as RFC 3339"))
}

pub fn run(args: SilenceArgs) -> anyhow::Result<()> {
    match args.command {
        SilenceCommand::Add(a) => add(a),
        SilenceCommand::List(a) => list(a),
        SilenceCommand::Expire(a) => expire(a),
    }
}

/// The `POST /api/v2/silences` body for `add`'s arguments, `now` being the default start and
/// `login` the default author.
fn add_body(args: &AddArgs, login: Option<String>, now: OffsetDateTime) -> anyhow::Result<Value> {
    let matchers: Vec<Matcher> = matchers::parse_args(&args.matchers)?;
    let start = args.start.unwrap_or(now);
    let end = match (args.end, args.duration) {
        (Some(end), _) => end,
        (None, d) => start + d.map_or(DEFAULT_DURATION, |d| d.0),
    };
    // The server checks these too; saying so here names the flags.
    if end <= start {
        return Err(Rejected::new(format!(
            "--end {} is not after the start {}",
            rfc3339(end)?,
            rfc3339(start)?
        ))
        .into());
    }
    if end <= now {
        return Err(Rejected::new(format!("--end {} is in the past", rfc3339(end)?)).into());
    }
    if args.comment.trim().is_empty() {
        return Err(Rejected::new("--comment must say why (it is shown with the silence)").into());
    }
    let author = args
        .author
        .clone()
        .filter(|a| !a.trim().is_empty())
        .or(login)
        .ok_or_else(|| Rejected::new("--author is needed: cannot tell who you are"))?;
    let post = PostableSilence {
        id: None,
        matchers: matchers::api_matchers(&matchers),
        starts_at: rfc3339(start)?,
        ends_at: rfc3339(end)?,
        created_by: author,
        comment: args.comment.clone(),
    };
    Ok(serde_json::to_value(post)?)
}

fn add(args: AddArgs) -> anyhow::Result<()> {
    let body = add_body(&args, super::login_name(), OffsetDateTime::now_utc())?;
    let client = Client::new(&args.conn)?;
    let answer = super::runtime()?.block_on(client.api(
        Method::POST,
        "/api/v2/silences",
        &[],
        Some(&body),
    ))?;
    let id = answer["silenceID"]
        .as_str()
        .ok_or_else(|| anyhow!("the server's answer has no silenceID: {answer}"))?;
    // Only the id on stdout, as amtool prints it: `id=$(pharos silence add …)`.
    super::print_stdout(&format!("{id}\n"))
}

/// The silences to show: `--expired` picks the expired ones, otherwise the rest; ending
/// soonest first (what will un-mute next is what one looks for).
fn select(mut all: Vec<GettableSilence>, expired: bool) -> Vec<GettableSilence> {
    all.retain(|s| (s.status.state == SilenceState::Expired) == expired);
    all.sort_by(|a, b| (&a.ends_at, &a.id).cmp(&(&b.ends_at, &b.id)));
    all
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let filter = matchers::parse_args(&args.matchers)?;
    let client = Client::new(&args.conn)?;
    let answer = super::runtime()?.block_on(client.api(
        Method::GET,
        "/api/v2/silences",
        &matchers::filter_params(&filter),
        None,
    ))?;
    let all: Vec<GettableSilence> = serde_json::from_value(answer)
        .map_err(|e| anyhow!("the server's silences are not in the v2 API's shape: {e}"))?;
    let shown = select(all, args.expired);
    match args.output {
        ListOutput::Json => {
            super::print_stdout(&super::pretty_json(&serde_json::to_value(&shown)?)?)
        }
        ListOutput::Table => {
            if shown.is_empty() {
                let which = if args.expired {
                    "expired"
                } else {
                    "active or pending"
                };
                eprintln!("no {which} silences");
                return Ok(());
            }
            super::print_stdout(&silence_table(&shown, &Style::detect()))
        }
    }
}

fn silence_table(silences: &[GettableSilence], style: &Style) -> String {
    let columns: Vec<String> = [
        "ID", "MATCHERS", "STATE", "STARTS", "ENDS", "AUTHOR", "COMMENT",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<Value>> = silences
        .iter()
        .map(|s| {
            let state = match s.status.state {
                SilenceState::Active => "active",
                SilenceState::Pending => "pending",
                SilenceState::Expired => "expired",
            };
            [
                s.id.clone(),
                matchers::describe(&s.matchers),
                state.to_string(),
                table::short_time(&s.starts_at),
                table::short_time(&s.ends_at),
                s.created_by.clone(),
                s.comment.clone(),
            ]
            .map(Value::String)
            .to_vec()
        })
        .collect();
    table::rows_table_keeping(&columns, &rows, style, &["ID", "STATE", "ENDS"])
}

/// A silence id as given: the server's are UUIDs; refusing anything else keeps `/` or `?`
/// from changing the request's path.
fn check_id(id: &str) -> Result<&str, Rejected> {
    let id = id.trim();
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(Rejected::new(format!(
            "{id:?} is not a silence id (a UUID, as `pharos silence list` shows)"
        )))
    }
}

fn expire(args: ExpireArgs) -> anyhow::Result<()> {
    let ids = args
        .ids
        .iter()
        .map(|id| check_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let client = Client::new(&args.conn)?;
    let rt = super::runtime()?;
    let mut failed: Vec<anyhow::Error> = Vec::new();
    for id in &ids {
        let path = format!("/api/v2/silence/{id}");
        match rt.block_on(client.api(Method::DELETE, &path, &[], None)) {
            Ok(_) => super::print_stdout(&format!("expired {id}\n"))?,
            // Go on with the others: expiring is what one does in a hurry.
            Err(e) => {
                if ids.len() > 1 {
                    eprintln!("pharos: {id}: {e}");
                }
                failed.push(e);
            }
        }
    }
    match (failed.len(), failed.pop()) {
        (_, None) => Ok(()),
        (1, Some(e)) if ids.len() == 1 => Err(e),
        (n, Some(last)) => {
            let msg = format!("{n} of {} silences were not expired", ids.len());
            if last.is::<Rejected>() {
                Err(Rejected::new(msg).into())
            } else {
                Err(last.context(msg))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;
    use time::macros::datetime;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: SilenceCommand,
    }

    const NOW: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);

    fn body(argv: &[&str]) -> Result<Value, String> {
        let mut full = vec!["silence", "add"];
        full.extend_from_slice(argv);
        let t = T::try_parse_from(full).map_err(|e| e.to_string())?;
        match t.cmd {
            SilenceCommand::Add(a) => {
                add_body(&a, Some("alice".into()), NOW).map_err(|e| e.to_string())
            }
            _ => Err("not add".into()),
        }
    }

    #[test]
    fn add_maps_to_a_postable_silence() {
        assert_eq!(
            body(&[
                "alertname=Foo",
                "team=~db|infra",
                "--duration",
                "2h",
                "--comment",
                "disk swap"
            ]),
            Ok(json!({
                "matchers": [
                    {"name": "alertname", "value": "Foo", "isRegex": false, "isEqual": true},
                    {"name": "team", "value": "db|infra", "isRegex": true, "isEqual": true},
                ],
                "startsAt": "2025-03-01T12:00:00Z",
                "endsAt": "2025-03-01T14:00:00Z",
                "createdBy": "alice",
                "comment": "disk swap",
            }))
        );
        let v = body(&[
            "env!=dev",
            "--start",
            "2025-03-02T00:00:00+01:00",
            "--end",
            "2025-03-02T06:00:00Z",
            "--comment",
            "night",
        ])
        .unwrap_or_default();
        assert_eq!(v["startsAt"], "2025-03-01T23:00:00Z");
        assert_eq!(v["endsAt"], "2025-03-02T06:00:00Z");
        assert_eq!(v["matchers"][0]["isEqual"], false);
        // Neither --duration nor --end: amtool's hour.
        let v = body(&["a=b", "--comment", "x"]).unwrap_or_default();
        assert_eq!(v["endsAt"], "2025-03-01T13:00:00Z");
    }

    #[test]
    fn add_refuses_bad_arguments() {
        let err = |argv: &[&str]| body(argv).err().unwrap_or_default();
        assert!(err(&["a=b"]).contains("--comment"));
        assert!(err(&[
            "a=b",
            "--comment",
            "x",
            "-d",
            "1h",
            "--end",
            "2025-03-02T00:00:00Z"
        ])
        .contains("cannot be used with"));
        assert!(err(&["a=b", "--comment", "x", "-d", "soon"]).contains("invalid duration"));
        assert!(err(&["a=b", "--comment", "x", "-d", "0s"]).contains("longer than 0s"));
        assert!(err(&["a=b", "--comment", "x", "--end", "tomorrow"]).contains("RFC 3339"));
        assert!(
            err(&["a=b", "--comment", "x", "--end", "2025-03-01T11:00:00Z"]).contains("not after")
        );
        assert!(err(&["a=b", "--comment", " "]).contains("must say why"));
        assert!(err(&["a=~(", "--comment", "x"]).contains("at position 3"));
        let t = T::try_parse_from(["silence", "add", "a=b", "--comment", "x"]);
        let Ok(T {
            cmd: SilenceCommand::Add(a),
        }) = t
        else {
            panic!("parse")
        };
        let no_author = add_body(&a, None, NOW).err().map(|e| e.to_string());
        assert_eq!(
            no_author.as_deref(),
            Some("--author is needed: cannot tell who you are")
        );
    }

    fn silence(id: &str, state: SilenceState, ends: &str) -> GettableSilence {
        GettableSilence {
            id: id.into(),
            matchers: Vec::new(),
            starts_at: "2025-03-01T10:00:00Z".into(),
            ends_at: ends.into(),
            created_by: "a".into(),
            comment: "c".into(),
            status: pharos_alertmanager::silence::SilenceStatus { state },
            updated_at: "2025-03-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn list_selects_by_state_ending_soonest_first() {
        let all = vec![
            silence("a", SilenceState::Active, "2025-03-01T15:00:00Z"),
            silence("b", SilenceState::Expired, "2025-03-01T11:00:00Z"),
            silence("c", SilenceState::Pending, "2025-03-01T13:00:00Z"),
        ];
        let ids = |v: Vec<GettableSilence>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(select(all.clone(), false)), vec!["c", "a"]);
        assert_eq!(ids(select(all, true)), vec!["b"]);
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert!(check_id("0b6e4c3a-1f2d-4d3e-9a8b-7c6d5e4f3a2b").is_ok());
        assert!(check_id("../alerts").is_err());
        assert!(check_id("").is_err());
    }
}
