//! The `pharos` binary: the command line and the wiring of the crates. No logic lives here.

mod cli;
mod config;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Indexing allocates and frees many small strings per record; glibc's allocator was ~15% of
// ingest CPU in the profile (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pharos",
    version,
    about = "Logs, metrics, alerts and uptime in one binary"
)]
struct Cli {
    /// The TOML config file (optional: every key has a default and a PHAROS_… variable).
    #[arg(long, short, global = true, env = "PHAROS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the whole stack: ingest, indexing, query API and UI.
    Serve,
    /// Validates the configuration (file and environment) and exits; non-zero names the bad key.
    CheckConfig {
        /// Also print the effective configuration (secrets are never printed).
        #[arg(long)]
        print: bool,
    },
    /// Searches the logs on a running server and prints the records (or the table of a
    /// `| stats`, `| timechart` or `| top` query). Exits 2 when the server rejects the query.
    Search(cli::search::SearchArgs),
    /// Follows the records matching a filter as they arrive (Ctrl-C to stop).
    Tail(cli::tail::TailArgs),
    /// Lists the current alerts (silenced and inhibited ones with --silenced, --inhibited);
    /// `pharos alerts incidents` lists the open escalation incidents.
    Alerts(cli::alerts::AlertsArgs),
    /// Adds, lists and expires silences (amtool's matcher syntax).
    Silence(cli::silence::SilenceArgs),
    /// Acknowledges an escalation incident, by its id or an alert's fingerprint, so it stops
    /// paging the next step.
    Ack(cli::ack::AckArgs),
    /// Announcements and scheduled maintenance windows on the status page.
    Notice(cli::notice::NoticeArgs),
}

fn main() -> ExitCode {
    pharos_collector::allocator::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve::run(cli.config.as_deref()),
        Command::CheckConfig { print } => check_config(cli.config.as_deref(), print),
        Command::Search(args) => cli::search::run(args),
        Command::Tail(args) => cli::tail::run(args),
        Command::Alerts(args) => cli::alerts::run(args),
        Command::Silence(args) => cli::silence::run(args),
        Command::Ack(args) => cli::ack::run(args),
        Command::Notice(args) => cli::notice::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The request (or its arguments) was refused: asking again the same way will not help.
        Err(e) if e.is::<cli::QueryRejected>() || e.is::<cli::Rejected>() => {
            eprintln!("pharos: {}", error_chain(&e));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("pharos: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text an outer message already
/// includes (library errors often quote their source).
fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

fn check_config(path: Option<&std::path::Path>, print: bool) -> anyhow::Result<()> {
    let config = config::PharosConfig::load(path)?;
    let rules = config.validate_rule_files()?;
    if print {
        println!("{}", toml_string(&config)?);
    }
    // The summary on stderr keeps stdout exactly the printed config and "config OK".
    eprintln!(
        "alerting rules: {} file(s), {} group(s), {} rule(s)",
        rules.files, rules.groups, rules.rules
    );
    println!("config OK");
    Ok(())
}

fn toml_string(config: &config::PharosConfig) -> anyhow::Result<String> {
    let value = serde_json::to_value(config)?;
    Ok(serde_json::to_string_pretty(&value)?)
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (duplicate short flags, e.g. a
    /// subcommand's `-c` against the global `--config`), which otherwise only fire when that
    /// subcommand is run.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
