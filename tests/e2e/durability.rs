//! Durability: nothing acknowledged is lost by a crash (SIGKILL), a torn WAL tail or a
//! graceful shutdown, and WAL replay indexes every record exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::common::{client, post_ndjson, search, start, wait_total};

fn line(rid: &str) -> String {
    format!(r#"{{"level":"info","service":"crash","msg":"durability probe","rid":"{rid}"}}"#)
}

/// Every `rid` attribute in the index, with how often it occurs.
async fn rid_counts(server: &super::common::Server) -> HashMap<String, usize> {
    let body = search(server, "*", 10_000).await;
    let mut counts = HashMap::new();
    for hit in body["hits"].as_array().expect("hits") {
        if let Some(rid) = hit["attributes"]["rid"].as_str() {
            *counts.entry(rid.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_loses_nothing_acknowledged_and_duplicates_nothing() {
    // A long commit interval keeps most acknowledged records only in the WAL at the kill.
    let mut server = start(&[("PHAROS_INDEX__COMMIT_INTERVAL_MS", "700")]);
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let url = format!("{}/api/v1/logs", server.http);
    let mut clients = Vec::new();
    for c in 0..4 {
        let (acked, url) = (acked.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            for batch in 0..40 {
                let rids: Vec<String> = (0..50).map(|i| format!("c{c}-b{batch}-r{i}")).collect();
                let body: String = rids.iter().map(|r| line(r) + "\n").collect();
                match http
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(resp) if resp.status() == 200 => acked.lock().expect("lock").extend(rids),
                    _ => return, // the server is gone: stop
                }
            }
        }));
    }
    // Kill once a good part, but not all, of the load is acknowledged.
    for _ in 0..400 {
        if acked.lock().expect("lock").len() >= 2_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9().expect("kill -9");
    for c in clients {
        c.await.expect("client task");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 2_000 && acked.len() < 8_000,
        "the kill should land mid-load: {} acked",
        acked.len()
    );

    // Crash again in the middle of replay, then let it finish.
    server.restart().expect("restart 1");
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill9().expect("kill -9 during replay");
    server.restart().expect("restart 2");

    wait_total(
        &server,
        "service:crash",
        acked.len() as u64,
        Duration::from_secs(60),
    )
    .await;
    // Let any replayed-but-unacknowledged tail be committed too, then check exact counts.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let counts = rid_counts(&server).await;
    for rid in &acked {
        assert_eq!(
            counts.get(rid).copied().unwrap_or(0),
            1,
            "acknowledged record {rid} must be found exactly once"
        );
    }
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "records indexed twice: {dupes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_wal_tail_is_truncated_and_the_rest_survives() {
    let mut server = start(&[]);
    let body: String = (0..100).map(|i| line(&format!("t{i}")) + "\n").collect();
    assert_eq!(post_ndjson(&server, body).await.0, 200);
    server.kill9().expect("kill -9");

    // A crash in the middle of a write leaves a partial frame at the end of the last segment.
    let wal_dir = server.data_dir.join("wal");
    let mut segments: Vec<_> = std::fs::read_dir(&wal_dir)
        .expect("wal dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    segments.sort();
    let last = segments.last().expect("a WAL segment");
    let mut bytes = std::fs::read(last).expect("read segment");
    let len_before = bytes.len();
    // A plausible frame start (what a real partial write leaves), then garbage.
    bytes.extend_from_slice(&[
        b'P', b'W', b'A', b'L', 0xff, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7,
    ]);
    std::fs::write(last, &bytes).expect("write torn tail");

    server.restart().expect("restart after torn tail");
    let found = wait_total(&server, "service:crash", 100, Duration::from_secs(30)).await;
    assert_eq!(found["total"], 100, "{found}");
    let len_after = std::fs::metadata(last)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    assert!(
        len_after <= len_before || !last.exists(),
        "the torn bytes must be cut off"
    );

    // The WAL keeps working after the repair.
    let more: String = (100..110).map(|i| line(&format!("t{i}")) + "\n").collect();
    assert_eq!(post_ndjson(&server, more).await.0, 200);
    wait_total(&server, "service:crash", 110, Duration::from_secs(30)).await;
    let counts = rid_counts(&server).await;
    assert_eq!(counts.len(), 110);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_commits_everything_and_restart_keeps_it() {
    // A commit interval far longer than the test: only the shutdown can have committed.
    let mut server = start(&[("PHAROS_INDEX__COMMIT_INTERVAL_MS", "600000")]);
    let body: String = (0..500).map(|i| line(&format!("g{i}")) + "\n").collect();
    let (status, reply) = post_ndjson(&server, body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 500);
    let (exit, took) = server.terminate(Duration::from_secs(15)).expect("SIGTERM");
    assert!(exit.success(), "exit status {exit}; log:\n{}", server.log());
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    let checkpoint = std::fs::read_to_string(server.data_dir.join("index/checkpoint"))
        .expect("checkpoint written");
    assert_eq!(
        checkpoint.trim(),
        "500",
        "the shutdown must index and commit all 500 records"
    );

    server.restart().expect("restart on the existing data dir");
    let found = search(&server, "service:crash", 0).await;
    assert_eq!(
        found["total"], 500,
        "all records searchable right after restart: {found}"
    );
    let more: String = (500..520).map(|i| line(&format!("g{i}")) + "\n").collect();
    assert_eq!(post_ndjson(&server, more).await.0, 200);
    let (exit, _) = server.terminate(Duration::from_secs(15)).expect("SIGTERM");
    assert!(exit.success());
    server.restart().expect("second restart");
    let found: Value = search(&server, "service:crash", 0).await;
    assert_eq!(found["total"], 520, "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_dir_refuses_to_start() {
    let mut first = start(&[]);
    let out = std::process::Command::new(super::common::bin())
        .arg("serve")
        .env("PHAROS_STORAGE__DATA_DIR", &first.data_dir)
        .env("PHAROS_SERVER__HTTP_ADDR", "127.0.0.1:0")
        .env("PHAROS_SERVER__OTLP_GRPC_ADDR", "")
        .env("PHAROS_SERVER__OTLP_HTTP_ADDR", "")
        .output()
        .expect("run a second server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("in use by another Pharos process")
            && last.contains(&format!("pid {}", first.pid().unwrap_or(0))),
        "{err}"
    );
    // The first one is unharmed, and after a crash the lock does not linger.
    assert_eq!(post_ndjson(&first, line("lock-1") + "\n").await.0, 200);
    first.kill9().expect("kill -9");
    first
        .restart()
        .expect("restart after a crash: the lock went with the process");
    wait_total(&first, "service:crash", 1, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_shuts_down_as_gracefully_as_sigterm() {
    let mut server = start(&[("PHAROS_INDEX__COMMIT_INTERVAL_MS", "600000")]);
    let body: String = (0..50).map(|i| line(&format!("i{i}")) + "\n").collect();
    assert_eq!(post_ndjson(&server, body).await.0, 200);
    let (exit, took) = server
        .stop_with("INT", Duration::from_secs(15))
        .expect("SIGINT");
    assert!(
        exit.success() && took < Duration::from_secs(10),
        "{exit} after {took:?}"
    );
    let checkpoint =
        std::fs::read_to_string(server.data_dir.join("index/checkpoint")).expect("checkpoint");
    assert_eq!(checkpoint.trim(), "50");
}
