//! `pharos search` and `pharos tail` run as real processes against a real server: exact
//! records and rows in every output format, exit codes (0, 1 unreachable, 2 rejected query
//! with a caret), the API token from a file or the environment, and live tail (also across a
//! dropped connection, with a stand-in event server).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use super::common::{bin, post_ndjson, start, wait_total, Server};

const WAIT: Duration = Duration::from_secs(20);

/// The real binary with a clean client environment (no inherited server, token or width).
pub(crate) fn pharos(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("PHAROS_SERVER")
        .env_remove("PHAROS_API_TOKEN")
        .env_remove("PHAROS_CONFIG")
        .env("COLUMNS", "100")
        .stdin(Stdio::null());
    cmd
}

pub(crate) struct Ran {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(cmd: &mut Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run pharos");
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `pharos search QUERY --server … ARGS…`.
fn search(server: &str, query: &str, args: &[&str]) -> Ran {
    let mut all = vec!["search", query, "--server", server];
    all.extend_from_slice(args);
    run(&mut pharos(&all))
}

fn ndjson(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn messages(stdout: &str) -> Vec<String> {
    ndjson(stdout)
        .iter()
        .map(|h| h["message"].as_str().unwrap_or("<none>").to_string())
        .collect()
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Four records in the last hour and one two hours old.
async fn seeded(env: &[(&str, &str)]) -> (Server, i64) {
    let server = start(env);
    let now = now_s();
    let records = [
        (300, "api", "info", "alpha one"),
        (240, "web", "warn", "beta two"),
        (180, "api", "error", "gamma\nthree"),
        (120, "api", "info", "delta four"),
        (7200, "api", "info", "old record"),
    ];
    let body: String = records
        .iter()
        .map(|(ago, service, level, msg)| {
            json!({"ts": (now - ago) * 1000, "service": service, "level": level, "msg": msg})
                .to_string()
                + "\n"
        })
        .collect();
    let (status, answer) = post_ndjson(&server, body).await;
    assert_eq!(status, 200, "{answer}");
    match env.iter().find(|(k, _)| *k == "PHAROS_AUTH__API_TOKEN") {
        None => {
            wait_total(&server, "*", 5, WAIT).await;
        }
        Some((_, token)) => wait_with_token(&server, token, 5),
    }
    (server, now)
}

/// Polls with the CLI itself until `want` records are searchable (the harness's search
/// sends no token).
fn wait_with_token(server: &Server, token: &str, want: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let r = run(pharos(&["search", "*", "--since", "1d", "-o", "ndjson"])
            .env("PHAROS_SERVER", &server.http)
            .env("PHAROS_API_TOKEN", token));
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        if r.stdout.lines().count() >= want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{want} records not searchable in time; server log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_prints_the_exact_records() {
    let (server, now) = seeded(&[]).await;
    let url = server.http.as_str();

    // The default window is the last hour: the two-hour-old record is left out.
    let r = search(url, "service:api", &["--output", "ndjson"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        messages(&r.stdout),
        ["delta four", "gamma\nthree", "alpha one"]
    );
    let hits = ndjson(&r.stdout);
    assert!(hits.iter().all(|h| h["service"] == "api"), "{}", r.stdout);
    assert!(
        hits.iter().all(|h| h["record_id"].is_string()),
        "{}",
        r.stdout
    );
    assert_eq!(hits[1]["level"], "error");
    assert_eq!(hits[1]["timestamp_ns"], (now - 180) * 1_000_000_000);
    assert!(
        r.stderr.contains("3 of 3 records (took"),
        "stderr: {}",
        r.stderr
    );

    let r = search(url, "service:api", &["--output", "ndjson", "--since", "3h"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        messages(&r.stdout),
        ["delta four", "gamma\nthree", "alpha one", "old record"]
    );

    let r = search(url, "service:api", &["--output", "ndjson", "--limit", "1"]);
    assert_eq!(messages(&r.stdout), ["delta four"]);
    assert!(
        r.stderr.contains("1 of 3 records") && r.stderr.contains("--limit"),
        "{}",
        r.stderr
    );

    // An explicit range in epoch seconds; --until is --end.
    let (from, to) = ((now - 250).to_string(), (now - 150).to_string());
    let r = search(
        url,
        "*",
        &["--output", "ndjson", "--start", &from, "--until", &to],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(messages(&r.stdout), ["gamma\nthree", "beta two"]);

    // The table: a header, one line per record, the message on one line; no colour into a
    // pipe, and nothing wider than COLUMNS.
    let r = search(url, "service:api level:error", &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("TIME "), "{}", lines[0]);
    assert!(
        lines[0].ends_with("  LEVEL  SERVICE  MESSAGE"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("Z  error  api      gamma⏎three"),
        "{}",
        lines[1]
    );
    assert!(!r.stdout.contains('\x1b'));

    let long = "w".repeat(300);
    let (status, _) = post_ndjson(
        &server,
        json!({"service": "wide", "msg": long}).to_string() + "\n",
    )
    .await;
    assert_eq!(status, 200);
    wait_total(&server, "service:wide", 1, WAIT).await;
    let r = run(pharos(&["search", "service:wide", "--server", url]).env("COLUMNS", "60"));
    let row = r.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(row.chars().count(), 60, "{row}");
    assert!(row.ends_with("w…"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_prints_aggregation_rows() {
    let (server, _) = seeded(&[]).await;
    let url = server.http.as_str();
    let q = "* | stats count() by service | sort by service";

    let r = search(url, q, &["--output", "json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let answer: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(answer["kind"], "table", "{answer}");
    assert_eq!(answer["columns"], json!(["service", "count"]), "{answer}");
    assert_eq!(answer["rows"], json!([["api", 3], ["web", 1]]), "{answer}");
    assert_eq!(answer["total"], 4, "{answer}");
    assert!(answer["took_ms"].is_number());
    // Pretty-printed, as the server said it.
    assert!(r.stdout.starts_with("{\n  "), "{}", r.stdout);

    let r = search(url, q, &["--output", "ndjson"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "{\"service\":\"api\",\"count\":3}\n{\"service\":\"web\",\"count\":1}\n"
    );
    assert!(r.stderr.contains("2 rows from 4 records"), "{}", r.stderr);

    let r = search(url, q, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "service  count\napi          3\nweb          1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_queries_exit_2_with_a_caret() {
    let server = start(&[]);
    let url = server.http.as_str();

    let r = search(url, "level:loud", &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(
        lines[0].starts_with("pharos: query error: ") && lines[0].contains("not a level"),
        "{}",
        r.stderr
    );
    assert_eq!(lines[1..], ["  level:loud", "        ^"], "{}", r.stderr);

    let r = search(url, "service:api AND (level:error", &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines[0].contains("`)`"), "{}", r.stderr);
    assert_eq!(lines[1], "  service:api AND (level:error", "{}", r.stderr);
    let caret = lines[2].find('^').expect("a caret line");
    let column: usize = lines[0]
        .rsplit("column ")
        .next()
        .and_then(|c| c.trim_end_matches(')').parse().ok())
        .expect("the message names the column");
    assert_eq!(caret - 2 + 1, column, "{}", r.stderr);

    // A bad time from the server is a rejected request too (no caret: no place in the query).
    let r = search(url, "*", &["--start", "yesterday-ish"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("parameter start"), "{}", r.stderr);

    // A bad --since is a usage error before any request.
    let r = search(url, "*", &["--since", "soon"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("not a duration"), "{}", r.stderr);
}

fn unused_url() -> String {
    let port = pharos_tests::harness::free_port().expect("a free port");
    format!("http://127.0.0.1:{port}")
}

#[test]
fn an_unreachable_server_exits_1() {
    let url = unused_url();
    let r = search(&url, "*", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!(
            "pharos: cannot reach the Pharos server at {url}: "
        )),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());

    let r = run(pharos(&["tail", "*"]).env("PHAROS_SERVER", &url));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach the Pharos server"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_token_comes_from_a_file_or_the_environment() {
    let (server, _) = seeded(&[("PHAROS_AUTH__API_TOKEN", "r34d")]).await;
    let url = server.http.as_str();
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("token");
    std::fs::write(&good, "r34d\n").expect("write token");
    let bad = dir.path().join("wrong");
    std::fs::write(&bad, "nope").expect("write token");
    let (good, bad) = (good.to_string_lossy(), bad.to_string_lossy());

    let r = search(url, "service:web", &["--output", "ndjson"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("requires an API token") && r.stderr.contains("PHAROS_API_TOKEN"),
        "{}",
        r.stderr
    );

    let r = search(
        url,
        "service:web",
        &["--output", "ndjson", "--token-file", &bad],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("refused the API token"), "{}", r.stderr);

    let r = search(
        url,
        "service:web",
        &["--output", "ndjson", "--token-file", &good],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(messages(&r.stdout), ["beta two"]);

    let r = run(pharos(&["search", "service:web", "-o", "ndjson"])
        .env("PHAROS_SERVER", url)
        .env("PHAROS_API_TOKEN", "r34d"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(messages(&r.stdout), ["beta two"]);

    let r = search(url, "*", &["--token-file", "/nonexistent/token"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("--token-file"), "{}", r.stderr);
}

#[test]
fn client_variables_are_not_config_keys() {
    // A shell that exports the client's variables can still check and run the server.
    let r = run(pharos(&["check-config"])
        .env("PHAROS_SERVER", "http://127.0.0.1:7070")
        .env("PHAROS_API_TOKEN", "t0k"));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

/// A child's stdout (or stderr) as lines arriving on a channel.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns the lines seen up to it.
fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str, what: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(e) => panic!("{what}: no line with {needle:?} ({e}); saw {seen:?}"),
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_tail(args: &[&str]) -> (Killed, mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let mut all = vec!["tail"];
    all.extend_from_slice(args);
    let mut child = pharos(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pharos tail");
    let out = lines_of(child.stdout.take().expect("stdout"));
    let err = lines_of(child.stderr.take().expect("stderr"));
    (Killed(child), out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_new_matching_records() {
    let server = start(&[]);
    let (_child, out, err) =
        spawn_tail(&["service:x", "--output", "ndjson", "--server", &server.http]);
    // The notice comes once the server has subscribed the stream.
    wait_for_line(&err, "following", "tail start-up");
    let body: String = [
        json!({"service": "x", "level": "error", "msg": "first"}),
        json!({"service": "y", "msg": "not me"}),
        json!({"service": "x", "msg": "second\nline"}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect();
    let (status, answer) = post_ndjson(&server, body).await;
    assert_eq!(status, 200, "{answer}");
    let got: Vec<Value> = (0..2)
        .map(|_| {
            let line = out.recv_timeout(WAIT).expect("a tailed record in time");
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
        })
        .collect();
    let msgs: Vec<&str> = got.iter().filter_map(|h| h["message"].as_str()).collect();
    assert_eq!(msgs, ["first", "second\nline"]);
    assert!(got.iter().all(|h| h["service"] == "x"));
    assert_eq!(got[0]["level"], "error");
    assert!(out.recv_timeout(Duration::from_millis(300)).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_rejects_pipes_with_exit_2() {
    let server = start(&[]);
    let r = run(&mut pharos(&[
        "tail",
        "* | stats count()",
        "--server",
        &server.http,
    ]));
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("not live"), "{}", r.stderr);
}

/// One HTTP request read off `stream` (headers only: tail is a GET).
fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn record_event(msg: &str) -> String {
    let hit = json!({
        "record_id": "1", "timestamp": "2024-05-01T10:00:00.5Z",
        "timestamp_ns": 1_714_557_600_500_000_000_i64, "level": "warn", "service": "svc",
        "message": msg,
    });
    format!("event: record\ndata: {hit}\n\n")
}

#[test]
fn tail_reconnects_after_the_connection_drops() {
    // A stand-in server: the first connection sends a record and a dropped count and then
    // closes; the second sends another record and stays open.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (req_tx, req_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        let mut open = Vec::new();
        for (i, conn) in listener.incoming().take(2).enumerate() {
            let Ok(mut conn) = conn else { return };
            let _ = req_tx.send(read_request(&mut conn));
            let body = if i == 0 {
                format!(
                    ": keep-alive\n\n{}event: dropped\ndata: {{\"dropped\": 7}}\n\n",
                    record_event("before")
                )
            } else {
                record_event("after")
            };
            let _ = conn.write_all(format!("{head}{body}").as_bytes());
            let _ = conn.flush();
            if i == 1 {
                open.push(conn);
            }
        }
        std::thread::sleep(Duration::from_secs(30));
    });

    let (_child, out, err) = spawn_tail(&["service:svc", "--server", &url]);

    let first = out.recv_timeout(WAIT).expect("the first record");
    assert_eq!(first, "2024-05-01T10:00:00.500Z  warn   svc      before");
    let notices = wait_for_line(&err, "reconnected", "reconnect");
    let text = notices.join("\n");
    assert!(
        text.contains("… dropped 7 records (the terminal could not keep up)"),
        "{text}"
    );
    assert!(text.contains("lost the connection"), "{text}");
    let second = out
        .recv_timeout(WAIT)
        .expect("the record after reconnecting");
    assert!(second.ends_with("  warn   svc      after"), "{second}");

    let request = req_rx.recv_timeout(WAIT).expect("a request");
    assert!(
        request.starts_with("GET /api/v1/tail?q=service%3Asvc "),
        "{request}"
    );
}
