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

/// `N` distinct ports that were free a moment ago: all are held until all are chosen, so the
/// kernel cannot hand out the same one twice.
pub fn free_ports<const N: usize>() -> anyhow::Result<[u16; N]> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?;
        *port = l.local_addr()?.port();
        held.push(l);
    }
    Ok(ports)
}

/// How often a start-up that lost its port to another process is retried on fresh ports.
const PORT_RACE_RETRIES: usize = 5;

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

    /// Starts the binary on fresh ports. A port is only known to be free when it is chosen, so
    /// another process (a client socket of a parallel test, say) can take it before `pharos`
    /// binds it; that start-up failure is retried on new ports. Any other failure is returned.
    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut attempt = 0;
        loop {
            let log_start = std::fs::metadata(&self.log_path)
                .map(|m| m.len())
                .unwrap_or(0);
            match self.spawn_once(log_start) {
                Err(e)
                    if attempt < PORT_RACE_RETRIES
                        && self
                            .log_since(log_start)
                            .contains("pharos: cannot listen on") =>
                {
                    attempt += 1;
                    eprintln!("harness: a port was taken before pharos bound it; retrying: {e:#}");
                }
                other => return other,
            }
        }
    }

    /// One start; its output begins at byte `log_start` of the log.
    fn spawn_once(&mut self, log_start: u64) -> anyhow::Result<()> {
        let [http, otlp_http, grpc] = free_ports()?;
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
        // Only the configuration the test sets: a PHAROS_ variable of the shell that runs
        // the tests (PHAROS_UI_SCREENSHOTS, or a developer's own settings) is not the server's.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PHAROS_") {
                cmd.env_remove(&k);
            }
        }
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
        self.wait_healthy(Duration::from_secs(30), log_start)
    }

    /// Waits for `/health`; a failure names the cause first (the last line `pharos` wrote)
    /// because CI excerpts keep the head of a panic message, then this start's log, newest last.
    fn wait_healthy(&mut self, timeout: Duration, log_start: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/health", self.http);
        let bound = self.http.trim_start_matches("http://").to_string();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = self.log_since(log_start);
                bail!(
                    "pharos exited during start-up ({status}): {}\nits log of this start:\n{}",
                    log.lines().last().unwrap_or("(no output)"),
                    tail(&log, 60)
                );
            }
            // The answer must come from this child: its own log names the address it bound
            // (a port taken by another server would answer /health too).
            if ureq_get(&url).is_ok_and(|code| code == 200) {
                let log = self.log_since(log_start);
                if log.contains("HTTP API and UI listening") && log.contains(&bound) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "pharos did not become healthy within {timeout:?}; its log of this start:\n{}",
                    tail(&self.log_since(log_start), 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// What the server wrote from byte `start` of its log on (one start of several).
    fn log_since(&self, start: u64) -> String {
        let log = std::fs::read(&self.log_path).unwrap_or_default();
        let from = usize::try_from(start).unwrap_or(usize::MAX).min(log.len());
        String::from_utf8_lossy(&log[from..]).into_owned()
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

/// The last `n` lines of `text`, with a marker when lines were left out.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("[… {skip} earlier lines]\n"));
    }
    out.push_str(&lines[skip..].join("\n"));
    out
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
