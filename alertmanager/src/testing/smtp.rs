//! A small SMTP receiver for tests and benchmarks: listens on 127.0.0.1 (a free port),
//! speaks enough SMTP for real clients (EHLO/HELO, AUTH PLAIN and LOGIN accepted, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT; no STARTTLS), records every accepted
//! message, and can be told to refuse the next messages with 451 (transient) or 550
//! (permanent) to exercise retries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
    /// The user that authenticated, when the client did.
    pub auth_user: Option<String>,
    pub accepted_at: SystemTime,
}

/// How the server answers the end of the next messages' DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `451 4.3.0`: the client should try again later.
    Transient,
    /// `550 5.7.1`: the client should give up.
    Permanent,
}

#[derive(Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    /// Refuse this many more messages this way.
    refuse: Option<(Refusal, usize)>,
    refused: usize,
}

/// The running server; dropping it stops accepting connections.
pub struct TestSmtpServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<ReceivedMail>>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TestSmtpServer {
    /// Starts listening on 127.0.0.1 on a free port.
    pub async fn start() -> std::io::Result<TestSmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let task_shared = shared.clone();
        let accept_task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = task_shared.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    // A client that misbehaves only ends its own session.
                    let _ = session(stream, shared, tx).await;
                });
            }
        });
        Ok(TestSmtpServer {
            addr,
            shared,
            rx: tokio::sync::Mutex::new(rx),
            accept_task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Refuses the next `count` messages (at the end of DATA) with `how`.
    pub fn refuse_next(&self, how: Refusal, count: usize) {
        self.shared.lock().refuse = Some((how, count));
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.lock().received.clone()
    }

    /// How many messages were refused.
    pub fn refused(&self) -> usize {
        self.shared.lock().refused
    }

    /// The next accepted message not yet returned by this method, or `None` after `timeout`.
    pub async fn next_message(&self, timeout: Duration) -> Option<ReceivedMail> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }
}

async fn session(
    stream: TcpStream,
    shared: Arc<Mutex<Shared>>,
    tx: mpsc::UnboundedSender<ReceivedMail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 pharos-test-smtp ESMTP ready\r\n")
        .await?;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut auth_user: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let upper = command.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply: String = match verb {
            "EHLO" => {
                "250-pharos-test-smtp\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8"
                    .into()
            }
            "HELO" => "250 pharos-test-smtp".into(),
            "AUTH" => {
                let args: Vec<&str> = command.split_whitespace().skip(1).collect();
                match args.first().map(|m| m.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let initial = match args.get(1) {
                            Some(v) => v.to_string(),
                            None => prompt(&mut write, &mut lines, "334 ").await?,
                        };
                        // authzid \0 authcid \0 password
                        let decoded = decode(&initial);
                        auth_user = decoded.split('\0').nth(1).map(str::to_string);
                        "235 2.7.0 Authentication successful".into()
                    }
                    Some("LOGIN") => {
                        let user = match args.get(1) {
                            Some(v) => v.to_string(),
                            None => prompt(&mut write, &mut lines, "334 VXNlcm5hbWU6").await?,
                        };
                        let _password = prompt(&mut write, &mut lines, "334 UGFzc3dvcmQ6").await?;
                        auth_user = Some(decode(&user));
                        "235 2.7.0 Authentication successful".into()
                    }
                    _ => "504 5.5.4 Unrecognized authentication type".into(),
                }
            }
            "MAIL" => {
                mail_from = Some(angle_address(command));
                rcpt_to.clear();
                "250 2.1.0 Ok".into()
            }
            "RCPT" if mail_from.is_some() => {
                rcpt_to.push(angle_address(command));
                "250 2.1.5 Ok".into()
            }
            "RCPT" => "503 5.5.1 MAIL first".into(),
            "DATA" if rcpt_to.is_empty() => "503 5.5.1 RCPT first".into(),
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut lines).await?;
                let refusal = {
                    let mut s = shared.lock();
                    match s.refuse {
                        Some((how, n)) if n > 0 => {
                            s.refuse = if n > 1 { Some((how, n - 1)) } else { None };
                            s.refused += 1;
                            Some(how)
                        }
                        _ => None,
                    }
                };
                let from = mail_from.take().unwrap_or_default();
                let to = std::mem::take(&mut rcpt_to);
                match refusal {
                    Some(Refusal::Transient) => "451 4.3.0 Try again later".into(),
                    Some(Refusal::Permanent) => "550 5.7.1 Rejected".into(),
                    None => {
                        let mail = ReceivedMail {
                            mail_from: from,
                            rcpt_to: to,
                            data,
                            auth_user: auth_user.clone(),
                            accepted_at: SystemTime::now(),
                        };
                        shared.lock().received.push(mail.clone());
                        let _ = tx.send(mail);
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
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 Command not recognized".into(),
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
    }
}

/// Sends a 334 challenge and reads the client's answer line.
async fn prompt(
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    challenge: &str,
) -> std::io::Result<String> {
    write.write_all(challenge.as_bytes()).await?;
    write.write_all(b"\r\n").await?;
    let mut answer = String::new();
    lines.read_line(&mut answer).await?;
    Ok(answer.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads DATA up to the lone dot, undoing dot-stuffing (RFC 5321 §4.5.2).
async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn speaks_smtp_with_dot_unstuffing_and_refusals() {
        let server = TestSmtpServer::start().await.unwrap();
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let mut transcript = String::new();
        let mut line = String::new();
        lines.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("220"));
        server.refuse_next(Refusal::Transient, 1);
        write
            .write_all(b"HELO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
            .await
            .unwrap();
        write
            .write_all(b"Subject: hi\r\n\r\n..dot\r\n.\r\n")
            .await
            .unwrap();
        for _ in 0..5 {
            line.clear();
            lines.read_line(&mut line).await.unwrap();
            transcript.push_str(&line);
        }
        assert!(
            transcript.ends_with("451 4.3.0 Try again later\r\n"),
            "{transcript}"
        );
        write
            .write_all(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n..dot\r\n.\r\nQUIT\r\n")
            .await
            .unwrap();
        let mail = server.next_message(Duration::from_secs(5)).await.unwrap();
        assert_eq!(mail.mail_from, "a@x");
        assert_eq!(mail.rcpt_to, vec!["b@y".to_string()]);
        assert_eq!(mail.data, ".dot\r\n");
        assert_eq!(server.refused(), 1);
    }
}
