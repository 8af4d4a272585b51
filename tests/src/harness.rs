//! Starts the real `pharos` binary on free loopback ports with a temp data dir, for the
//! end-to-end tests and the benchmark.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?;
    Ok(l.local_addr()?.port())
}

/// A running `pharos serve`.
pub struct Server {
    bin: PathBuf,
    child: Option<Child>,
    pub data_dir: PathBuf,
    /// `http://127.0.0.1:PORT` of the API/UI port.
    pub http: String,
    /// `http://127.0.0.1:PORT` of the OTLP/HTTP port.
    pub otlp_http: String,
    /// `http://127.0.0.1:PORT` of the OTLP/gRPC port.
    pub otlp_grpc: String,
    env: Vec<(String, String)>,
    log_path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh temp data dir; `env` adds `PHAROS_…` settings.
    pub fn start(bin: &Path, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let tmp = tempfile::tempdir().context("creating a temp dir")?;
        let data_dir = tmp.path().join("data");
        let mut s = Server::start_in(bin, &data_dir, env)?;
        s._tmp = Some(tmp);
        Ok(s)
    }

    /// Starts a server on the given data dir (which may hold data from an earlier run).
    pub fn start_in(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let log_path = data_dir.with_extension(format!("log.{}", std::process::id()));
        let mut s = Server {
            bin: bin.to_path_buf(),
            child: None,
            data_dir: data_dir.to_path_buf(),
            http: String::new(),
            otlp_http: String::new(),
            otlp_grpc: String::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log_path,
            _tmp: None,
        };
        s.spawn()?;
        Ok(s)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let (http, otlp_http, grpc) = (free_port()?, free_port()?, free_port()?);
        self.http = format!("http://127.0.0.1:{http}");
        self.otlp_http = format!("http://127.0.0.1:{otlp_http}");
        self.otlp_grpc = format!("http://127.0.0.1:{grpc}");
        if let Some(parent) = self.log_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .env("PHAROS_SERVER__HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env(
                "PHAROS_SERVER__OTLP_HTTP_ADDR",
                format!("127.0.0.1:{otlp_http}"),
            )
            .env("PHAROS_SERVER__OTLP_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("PHAROS_STORAGE__DATA_DIR", &self.data_dir)
            .env("PHAROS_INGEST__MIN_FREE_DISK_BYTES", "1048576")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        self.wait_healthy(Duration::from_secs(30))
    }

    fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/health", self.http);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "pharos exited during start-up ({status}); its log:\n{}",
                    self.log()
                );
            }
            if let Ok(resp) = ureq_get(&url) {
                if resp == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "pharos did not become healthy within {timeout:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL: a crash. Waits for the process to be gone.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill().context("SIGKILL")?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `timeout` for the exit; returns its status and how long it took.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<(ExitStatus, Duration)> {
        self.stop_with("TERM", timeout)
    }

    /// Sends the signal `name` ("TERM", "INT", …), then waits up to `timeout` for the exit.
    pub fn stop_with(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<(ExitStatus, Duration)> {
        let Some(mut c) = self.child.take() else {
            bail!("server not running")
        };
        let started = Instant::now();
        signal(c.id(), name)?;
        loop {
            if let Some(status) = c.try_wait()? {
                return Ok((status, started.elapsed()));
            }
            if started.elapsed() > timeout {
                let _ = c.kill();
                let _ = c.wait();
                bail!(
                    "pharos did not exit within {timeout:?} of SIG{name}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the binary again on the same data dir (new ports).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("server still running");
        }
        self.spawn()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends a signal with kill(1): no libc dependency.
pub fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

/// A tiny blocking GET returning the status code (std only, so start-up polling needs no runtime).
fn ureq_get(url: &str) -> anyhow::Result<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").context("http only")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    Ok(code)
}
