//! Process helpers: peak RSS from /proc, directory sizes, free ports, and
//! starting/stopping a `pharos serve` child process.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Reads a `kB` field (e.g. `VmHWM`) of `/proc/<pid>/status` and returns bytes.
pub fn status_kb_field(pid: &str, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("parsing {field} in {path}: {line:?}"))?;
            return Ok(kb * 1024);
        }
    }
    bail!("{field} not found in {path}")
}

/// Peak resident set size (VmHWM) of this process, in bytes.
pub fn self_peak_rss() -> Result<u64> {
    status_kb_field("self", "VmHWM")
}

/// Current resident set size (VmRSS) of this process, in bytes.
pub fn self_rss() -> Result<u64> {
    status_kb_field("self", "VmRSS")
}

/// Peak resident set size (VmHWM) of process `pid`, in bytes.
pub fn peak_rss_of(pid: u32) -> Result<u64> {
    status_kb_field(&pid.to_string(), "VmHWM")
}

/// Resets this process's VmHWM to its current RSS (Linux ≥ 4.0). Best effort.
pub fn reset_self_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Total size in bytes of all regular files below `dir`.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            // Files may vanish while the server merges or compacts.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", d.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", d.display()))?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("stat {}", entry.path().display()))
                }
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// Finds `n` distinct free loopback ports by binding port 0.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0"))
        .collect::<Result<_>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr().context("local_addr")?.port()))
        .collect()
}

/// A running `pharos serve` child with its own data dir.
pub struct Server {
    pub child: Child,
    pub http: String,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// Starts `binary serve` on fresh loopback ports with a fresh data dir.
    /// `extra_env` is passed through (KEY=VALUE pairs).
    pub fn start(binary: &Path, extra_env: &[(String, String)]) -> Result<Server> {
        let tmp = tempfile::Builder::new()
            .prefix("pharos-bench-")
            .tempdir()
            .context("creating temp dir for server")?;
        let data_dir = tmp.path().join("data");
        fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let log_path = tmp.path().join("server.log");
        let log = fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone().context("cloning log file handle")?;
        let ports = free_ports(3)?;
        let http_addr = format!("127.0.0.1:{}", ports[0]);
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .env("PHAROS_SERVER__HTTP_ADDR", &http_addr)
            .env(
                "PHAROS_SERVER__OTLP_HTTP_ADDR",
                format!("127.0.0.1:{}", ports[1]),
            )
            .env(
                "PHAROS_SERVER__OTLP_GRPC_ADDR",
                format!("127.0.0.1:{}", ports[2]),
            )
            .env("PHAROS_STORAGE__DATA_DIR", &data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", binary.display()))?;
        Ok(Server {
            child,
            http: format!("http://{http_addr}"),
            data_dir,
            log_path,
            _tmp: tmp,
        })
    }

    /// Last `max` bytes of the server log, for error messages.
    pub fn log_tail(&self, max: usize) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let start = text.len().saturating_sub(max);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// Waits until `GET /health` answers 200, failing if the child exits.
    pub async fn wait_healthy(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/health", self.http);
        loop {
            if let Some(status) = self.child.try_wait().context("polling server process")? {
                bail!(
                    "server exited early with {status}; log tail:\n{}",
                    self.log_tail(4000)
                );
            }
            if let Ok(resp) = client.get(&url).send().await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "server not healthy after {timeout:?}; log tail:\n{}",
                    self.log_tail(4000)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (via `kill -TERM`) and waits up to `timeout` for exit,
    /// then SIGKILLs. Returns whether it exited on its own after SIGTERM.
    pub fn stop(&mut self, timeout: Duration) -> Result<bool> {
        self.stop_tracking_peak(timeout).map(|(clean, _)| clean)
    }

    /// Like [`Server::stop`], and also returns the server's peak RSS (VmHWM,
    /// bytes) as last seen while it was shutting down, so that memory used by
    /// the final flush counts too. `None` if it could never be read.
    pub fn stop_tracking_peak(&mut self, timeout: Duration) -> Result<(bool, Option<u64>)> {
        let pid = self.pid();
        let mut peak = None::<u64>;
        let track = |peak: &mut Option<u64>| {
            // Fails once the process is a zombie or gone; keep the last value.
            if let Ok(v) = peak_rss_of(pid) {
                *peak = Some(peak.map_or(v, |p| p.max(v)));
            }
        };
        track(&mut peak);
        if self.child.try_wait().context("polling server")?.is_some() {
            return Ok((true, peak));
        }
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            eprintln!("warning: kill -TERM {pid} exited with {status}");
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            track(&mut peak);
            if self
                .child
                .try_wait()
                .context("waiting for server")?
                .is_some()
            {
                return Ok((true, peak));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("warning: server {pid} did not exit within {timeout:?} of SIGTERM; killing");
        self.child.kill().context("killing server")?;
        self.child.wait().context("reaping server")?;
        Ok((false, peak))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_rss_and_dir_size() {
        assert!(self_peak_rss().expect("VmHWM") > 0);
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("a"), [0u8; 10]).expect("write");
        fs::write(dir.path().join("sub/b"), [0u8; 5]).expect("write");
        assert_eq!(dir_size(dir.path()).expect("size"), 15);
        let ports = free_ports(3).expect("ports");
        assert_eq!(ports.len(), 3);
    }
}
