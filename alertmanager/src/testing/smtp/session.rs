//! One SMTP session of the test server, over a plain or TLS stream; STARTTLS swaps the
//! stream under the session.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use super::{ReceivedMail, Refusal, Shared};

/// A TCP stream or a TLS stream over one, so STARTTLS can replace one with the other.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Reads lines and writes replies on the same (buffered) stream.
type Conn = BufReader<Box<dyn Stream>>;

pub(super) struct Session {
    pub shared: Arc<Mutex<Shared>>,
    pub tx: mpsc::UnboundedSender<ReceivedMail>,
    /// Offer STARTTLS with this (plain sessions only).
    pub starttls: Option<TlsAcceptor>,
}

const EHLO_TAIL: &str = "250-8BITMIME\r\n250 SMTPUTF8";

impl Session {
    /// Runs the session to QUIT or the client's end; `tls` says whether `stream` is already
    /// encrypted (implicit TLS).
    pub async fn run(self, stream: Box<dyn Stream>, mut tls: bool) -> std::io::Result<()> {
        let mut conn: Conn = BufReader::new(stream);
        send(&mut conn, "220 pharos-test-smtp ESMTP ready").await?;
        let mut mail_from: Option<String> = None;
        let mut rcpt_to: Vec<String> = Vec::new();
        let mut auth_user: Option<String> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if conn.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end_matches(['\r', '\n']).to_string();
            let upper = command.to_ascii_uppercase();
            let verb = upper.split_whitespace().next().unwrap_or("");
            // Like a real submission server, AUTH waits for encryption when it is on offer,
            // so the password never crosses the wire in clear.
            let needs_tls_first = self.starttls.is_some() && !tls;
            let reply: String = match verb {
                "EHLO" if needs_tls_first => {
                    format!("250-pharos-test-smtp\r\n250-STARTTLS\r\n{EHLO_TAIL}")
                }
                "EHLO" => format!("250-pharos-test-smtp\r\n250-AUTH PLAIN LOGIN\r\n{EHLO_TAIL}"),
                "HELO" => "250 pharos-test-smtp".into(),
                "STARTTLS" => match &self.starttls {
                    Some(acceptor) if !tls => {
                        if !conn.buffer().is_empty() {
                            // Commands pipelined behind STARTTLS were sent in clear; taking
                            // them as if encrypted is the classic injection bug.
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "data pipelined after STARTTLS",
                            ));
                        }
                        send(&mut conn, "220 2.0.0 Ready to start TLS").await?;
                        let encrypted = acceptor.accept(conn.into_inner()).await?;
                        conn = BufReader::new(Box::new(encrypted));
                        tls = true;
                        // RFC 3207 §4.2: forget everything the client said before; it
                        // starts over with EHLO.
                        mail_from = None;
                        rcpt_to.clear();
                        auth_user = None;
                        continue;
                    }
                    Some(_) => "503 5.5.1 TLS already active".into(),
                    None => "502 5.5.2 Command not recognized".into(),
                },
                "AUTH" if needs_tls_first => "530 5.7.0 Must issue a STARTTLS command first".into(),
                "AUTH" => {
                    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
                    match args.first().map(|m| m.to_ascii_uppercase()).as_deref() {
                        Some("PLAIN") => {
                            let initial = match args.get(1) {
                                Some(v) => v.to_string(),
                                None => prompt(&mut conn, "334 ").await?,
                            };
                            // authzid \0 authcid \0 password
                            let decoded = decode(&initial);
                            auth_user = decoded.split('\0').nth(1).map(str::to_string);
                            "235 2.7.0 Authentication successful".into()
                        }
                        Some("LOGIN") => {
                            let user = match args.get(1) {
                                Some(v) => v.to_string(),
                                None => prompt(&mut conn, "334 VXNlcm5hbWU6").await?,
                            };
                            let _password = prompt(&mut conn, "334 UGFzc3dvcmQ6").await?;
                            auth_user = Some(decode(&user));
                            "235 2.7.0 Authentication successful".into()
                        }
                        _ => "504 5.5.4 Unrecognized authentication type".into(),
                    }
                }
                "MAIL" => {
                    mail_from = Some(angle_address(&command));
                    rcpt_to.clear();
                    "250 2.1.0 Ok".into()
                }
                "RCPT" if mail_from.is_some() => {
                    rcpt_to.push(angle_address(&command));
                    "250 2.1.5 Ok".into()
                }
                "RCPT" => "503 5.5.1 MAIL first".into(),
                "DATA" if rcpt_to.is_empty() => "503 5.5.1 RCPT first".into(),
                "DATA" => {
                    send(&mut conn, "354 End data with <CR><LF>.<CR><LF>").await?;
                    let data = read_data(&mut conn).await?;
                    let from = mail_from.take().unwrap_or_default();
                    let to = std::mem::take(&mut rcpt_to);
                    match self.refusal() {
                        Some(Refusal::Transient) => "451 4.3.0 Try again later".into(),
                        Some(Refusal::Permanent) => "550 5.7.1 Rejected".into(),
                        None => {
                            let mail = ReceivedMail {
                                mail_from: from,
                                rcpt_to: to,
                                data,
                                auth_user: auth_user.clone(),
                                tls,
                                accepted_at: SystemTime::now(),
                            };
                            self.shared.lock().received.push(mail.clone());
                            let _ = self.tx.send(mail);
                            "250 2.0.0 Ok: queued".into()
                        }
                    }
                }
                "RSET" => {
                    mail_from = None;
                    rcpt_to.clear();
                    "250 2.0.0 Ok".into()
                }
                "NOOP" => "250 2.0.0 Ok".into(),
                "QUIT" => {
                    send(&mut conn, "221 2.0.0 Bye").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 Command not recognized".into(),
            };
            send(&mut conn, &reply).await?;
        }
    }

    /// Whether (and how) to refuse the message just received, counting it down.
    fn refusal(&self) -> Option<Refusal> {
        let mut s = self.shared.lock();
        match s.refuse {
            Some((how, n)) if n > 0 => {
                s.refuse = if n > 1 { Some((how, n - 1)) } else { None };
                s.refused += 1;
                Some(how)
            }
            _ => None,
        }
    }
}

/// Writes one reply and flushes it: over TLS, written bytes may otherwise wait in the
/// session's buffer while the client waits for them.
async fn send(conn: &mut Conn, reply: &str) -> std::io::Result<()> {
    // One write per reply: a reply split over two small writes waits for the client's
    // delayed ACK of the first (Nagle), ~40 ms per reply on loopback.
    let mut line = String::with_capacity(reply.len() + 2);
    line.push_str(reply);
    line.push_str("\r\n");
    conn.write_all(line.as_bytes()).await?;
    conn.flush().await
}

/// Sends a 334 challenge and reads the client's answer line.
async fn prompt(conn: &mut Conn, challenge: &str) -> std::io::Result<String> {
    send(conn, challenge).await?;
    let mut answer = String::new();
    conn.read_line(&mut answer).await?;
    Ok(answer.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads DATA up to the lone dot, undoing dot-stuffing (RFC 5321 §4.5.2).
async fn read_data(conn: &mut Conn) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed during DATA",
            ));
        }
        let content = line.trim_end_matches(['\r', '\n']);
        if content == "." {
            return Ok(data);
        }
        data.push_str(content.strip_prefix('.').unwrap_or(content));
        data.push_str("\r\n");
    }
}

/// `MAIL FROM:<a@b> SIZE=12` → `a@b`.
fn angle_address(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(start), Some(end)) if start < end => command[start + 1..end].to_string(),
        _ => command
            .split_once(':')
            .map(|(_, a)| a.trim().to_string())
            .unwrap_or_default(),
    }
}

fn decode(b64: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
