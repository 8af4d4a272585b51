//! `pharos tail QUERY`: follows `GET /api/v1/tail` (Server-Sent Events) and prints each
//! matching record as it arrives; reconnects with backoff when the connection drops.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;

use super::client::{root_cause, Client, SseParser, Transient};
use super::table::{self, Style};
use super::{Connection, TailOutput};

/// The server sends a keep-alive every 15 s: this long without a byte means the connection
/// is dead even if TCP has not noticed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct TailArgs {
    /// A filter without pipes, e.g. 'service:api level:>=warn'; '*' follows every record.
    pub query: String,
    /// How to print records.
    #[arg(long, short, value_enum, default_value_t = TailOutput::Table)]
    pub output: TailOutput,
    #[command(flatten)]
    pub conn: Connection,
}

pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    super::runtime()?.block_on(async {
        tokio::select! {
            r = follow(&client, &args) => r,
            r = tokio::signal::ctrl_c() => r.map_err(|e| anyhow!("waiting for Ctrl-C: {e}")),
        }
    })
}

/// How one connection ended.
enum End {
    /// The reader of stdout went away (`pharos tail … | head`): stop quietly.
    StdoutClosed,
    /// The connection dropped or the server ended the stream: reconnect.
    Lost(String),
}

async fn follow(client: &Client, args: &TailArgs) -> anyhow::Result<()> {
    let mut printer = Printer {
        style: Style::detect(),
        output: args.output,
        service_width: table::service_width([]),
    };
    let mut connected = false;
    let mut backoff = FIRST_BACKOFF;
    loop {
        match client.tail(&args.query).await {
            Ok(resp) => {
                if connected {
                    eprintln!("pharos: reconnected to {}", client.base);
                } else {
                    eprintln!(
                        "pharos: following {:?} on {} (Ctrl-C to stop)",
                        args.query, client.base
                    );
                }
                connected = true;
                backoff = FIRST_BACKOFF;
                match read_events(resp, &mut printer).await? {
                    End::StdoutClosed => return Ok(()),
                    End::Lost(why) => eprintln!(
                        "pharos: lost the connection to {} ({why}); reconnecting in {} \
                         (records sent meanwhile are not shown)",
                        client.base,
                        secs(backoff)
                    ),
                }
            }
            // A server that was never reached is a wrong address, not a dropped connection;
            // a rejected query or token does not get better by retrying.
            Err(e) if !connected || !e.is::<Transient>() => return Err(e),
            Err(e) => eprintln!("pharos: {e}; retrying in {}", secs(backoff)),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

async fn read_events(mut resp: reqwest::Response, printer: &mut Printer) -> anyhow::Result<End> {
    let mut parser = SseParser::default();
    loop {
        let chunk = match tokio::time::timeout(IDLE_TIMEOUT, resp.chunk()).await {
            Err(_) => {
                return Ok(End::Lost(format!(
                    "nothing received for {}s",
                    IDLE_TIMEOUT.as_secs()
                )))
            }
            Ok(Ok(None)) => return Ok(End::Lost("the server ended the stream".into())),
            Ok(Err(e)) => return Ok(End::Lost(root_cause(&e))),
            Ok(Ok(Some(chunk))) => chunk,
        };
        for ev in parser.feed(&chunk) {
            match ev.event.as_str() {
                "record" => match serde_json::from_str::<Value>(&ev.data) {
                    Ok(hit) => match printer.record(&hit) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                            return Ok(End::StdoutClosed)
                        }
                        Err(e) => return Err(anyhow!("writing to stdout: {e}")),
                    },
                    Err(e) => eprintln!("pharos: skipped a record that is not JSON: {e}"),
                },
                "dropped" => {
                    let n = serde_json::from_str::<Value>(&ev.data)
                        .ok()
                        .and_then(|v| v["dropped"].as_u64())
                        .unwrap_or(0);
                    eprintln!("… dropped {n} records (the terminal could not keep up)");
                }
                _ => {}
            }
        }
    }
}

struct Printer {
    style: Style,
    output: TailOutput,
    /// Grows with the services seen, so later lines stay aligned with earlier ones.
    service_width: usize,
}

impl Printer {
    fn record(&mut self, hit: &Value) -> std::io::Result<()> {
        let line = match self.output {
            TailOutput::Ndjson => hit.to_string(),
            TailOutput::Table => {
                self.service_width = self
                    .service_width
                    .max(table::service_width(std::iter::once(hit)));
                table::hit_line(hit, self.service_width, &self.style)
            }
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}
