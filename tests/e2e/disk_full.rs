//! A full disk against the real binary, on a small tmpfs: ingest is refused with a reason and
//! resumes by itself when space is freed (no restart), and a restart on a full disk comes up
//! serving queries with `/ready` saying why ingest is refused.
//!
//! Mounting needs root (as CI runs); elsewhere the test skips, and fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::common::{bin, client, post_ndjson, wait_total, Server};

/// A tmpfs mounted for the test (as the data dir itself, so that the server's log, beside
/// it, stays writable), unmounted when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    mount: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tmp");
        let mount = dir.path().join("data");
        std::fs::create_dir(&mount).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cannot mount a tmpfs (CI runs as root and must)"
            );
            eprintln!("skipping: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(Tmpfs { _dir: dir, mount })
    }

    fn path(&self) -> &Path {
        &self.mount
    }

    /// Fills the file system (a filler file until ENOSPC).
    fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=1M"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// One record with a 16 KB attribute: more than a partly written page of the WAL holds.
async fn ingest_status(server: &Server, msg: &str) -> (u16, Value) {
    let pad = "p".repeat(16 * 1024);
    post_ndjson(
        server,
        format!("{{\"msg\":\"{msg}\",\"service\":\"disk\",\"pad\":\"{pad}\"}}\n"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_ingest_with_a_reason_and_recovers_without_a_restart() {
    let Some(fs) = Tmpfs::mount("48m") else {
        return;
    };
    let data = fs.path().to_path_buf();
    let env = [
        ("PHAROS_INDEX__COMMIT_INTERVAL_MS", "100"),
        ("PHAROS_INDEX__WRITER_MEMORY_MB", "15"),
        ("PHAROS_INDEX__WRITER_THREADS", "1"),
        ("PHAROS_INGEST__MIN_FREE_DISK_BYTES", "0"),
        ("PHAROS_STORAGE__RESERVE_BYTES", "8388608"),
    ];
    let mut server = Server::start_in(bin(), &data, &env).expect("start");
    let (status, body) = ingest_status(&server, "before").await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "before", 1, Duration::from_secs(20)).await;
    // The reserve is in place once the server runs.
    let reserve = data.join(".disk-reserve");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !reserve.exists() {
        assert!(std::time::Instant::now() < deadline, "no disk reserve");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Full: the WAL write fails, the request is refused (retryable), nothing is acknowledged.
    let filler = fs.fill();
    let (status, body) = ingest_status(&server, "whilefull").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains("No space left"), "{body}");
    // Space back: ingest resumes by itself.
    std::fs::remove_file(&filler).expect("rm filler");
    let (status, body) = ingest_status(&server, "afterfree").await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "afterfree", 1, Duration::from_secs(20)).await;
    assert_eq!(
        super::common::search(&server, "whilefull", 10).await["total"],
        0
    );

    // A restart on a full disk: up, serving queries; ingest refused with the reason.
    server.terminate(Duration::from_secs(20)).expect("stop");
    let filler = fs.fill();
    server.restart().expect("a start on a full disk");
    let ready = client()
        .get(format!("{}/ready", server.http))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["components"]["disk"]["ok"], false, "{ready}");
    assert!(
        ready["components"]["disk"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("ingest refused")),
        "{ready}"
    );
    assert_eq!(
        super::common::search(&server, "service:disk", 10).await["total"],
        2
    );
    let (status, body) = ingest_status(&server, "fullstart").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.to_string().contains("storage.reserve_bytes"), "{body}");
    std::fs::remove_file(&filler).expect("rm filler");
    let (status, body) = ingest_status(&server, "fullstartafter").await;
    assert_eq!(status, 200, "{body}");
    wait_total(&server, "fullstartafter", 1, Duration::from_secs(20)).await;
    server.terminate(Duration::from_secs(20)).expect("stop");
}
