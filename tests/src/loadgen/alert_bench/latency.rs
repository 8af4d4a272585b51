//! `alert-latency`: from a failing health check to the e-mail, through the real `pharos`
//! binary. The bench owns both ends: an HTTP target whose `/health/{lane}` it turns
//! healthy or failing, and a [`TestSmtpServer`] on loopback.
//!
//! Each lane is one check (`lane-N`, probed every second, `fail_after = 2`,
//! `recover_after = 1`) with one `check:` rule (`for: 0s`); the route groups by
//! `alertname, check` with `group_wait = "0s"`, so an incident is a group of its own that
//! flushes at once. A lane runs its incidents one after the other: fail the target, wait
//! for the firing e-mail, recover it, wait for the resolved e-mail (sent at the group's
//! next `group_interval`, 1 s, after which the empty group is removed, so the next
//! incident is again a new group notified at once). Lanes run side by side.
//!
//! **Detection** is the `start` of the incident in the server's uptime ledger
//! (`GET /api/v1/checks/{id}/uptime`): the time stamped on the probe result that made the
//! `fail_after`-th consecutive failure, i.e. the moment the server knew the check was down
//! (it is recorded after the probe returned). **Delivery** is the SMTP server's accept time
//! of the firing message. Both are this machine's wall clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use pharos_alertmanager::testing::TestSmtpServer;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::gen::parse_rfc3339_ns;
use crate::loadgen::proc::Server;
use crate::loadgen::query_bench::Machine;
use crate::loadgen::stats::percentile;

/// The API token given to the server (the read API needs one).
const API_TOKEN: &str = "alert-bench-api-token";
/// Longest wait for one e-mail before the bench gives up.
const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct LatencyOpts {
    pub pharos_bin: PathBuf,
    pub incidents: usize,
    /// Checks failing independently at the same time.
    pub lanes: usize,
    pub command_line: String,
}

/// One incident's timings, ms after detection.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub lane: usize,
    pub detected: String,
    /// Detection → the alert's `updatedAt` in the alert store (`None` when a later
    /// re-send had already replaced that stamp).
    pub store_ms: Option<f64>,
    /// Detection → the SMTP server accepted the firing e-mail.
    pub email_ms: f64,
    /// Target turned failing → detection (two probe intervals at most).
    pub fail_to_detect_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyReport {
    pub command_line: String,
    pub machine: Machine,
    pub lanes: usize,
    pub incidents: Vec<Incident>,
    pub firing_emails: usize,
    pub resolved_emails: usize,
    /// Incidents that got more or fewer than one firing e-mail.
    pub wrong_count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub store_p50_ms: f64,
    pub store_p99_ms: f64,
}

/// A received e-mail, as the lanes see it.
#[derive(Clone, Debug)]
struct Mail {
    firing: bool,
    accepted_ns: i64,
}

fn ns_of(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `[FIRING:1] CheckDown (CheckDown lane-3)` → (firing, lane).
fn parse_subject(data: &str) -> Option<(bool, usize)> {
    let subject = data
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Subject: "))?;
    let firing = subject.starts_with("[FIRING");
    if !firing && !subject.starts_with("[RESOLVED") {
        return None;
    }
    let rest = &subject[subject.find("lane-")? + "lane-".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((firing, digits.parse().ok()?))
}

fn write_config(dir: &Path, target: &str, smtp_port: u16, lanes: usize) -> Result<PathBuf> {
    let rules = dir.join("rules.yml");
    let mut yml = String::from("groups:\n  - name: checks\n    rules:\n");
    for i in 0..lanes {
        yml.push_str(&format!(
            "      - alert: CheckDown\n        check: lane-{i}\n        for: 0s\n"
        ));
    }
    std::fs::write(&rules, yml).context("writing the rule file")?;
    let mut toml = String::new();
    for i in 0..lanes {
        toml.push_str(&format!(
            "[[checks]]\nid = \"lane-{i}\"\nkind = \"http\"\ntarget = \"http://{target}/health/{i}\"\n\
             interval_secs = 1\ntimeout_secs = 1\nfail_after = 2\nrecover_after = 1\n\n"
        ));
    }
    toml.push_str(&format!(
        "[alerting.rules]\nfiles = [{rules:?}]\n\n\
         [alerting.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\nfrom = \"pharos@bench.invalid\"\n\n\
         [[alerting.receivers]]\nname = \"mail\"\n[[alerting.receivers.email_configs]]\nto = \"oncall@bench.invalid\"\n\n\
         [alerting.route]\nreceiver = \"mail\"\ngroup_by = [\"alertname\", \"check\"]\n\
         group_wait = \"0s\"\ngroup_interval = \"1s\"\nrepeat_interval = \"1h\"\n"
    ));
    let path = dir.join("pharos.toml");
    std::fs::write(&path, toml).context("writing the config")?;
    Ok(path)
}

/// The target: `/health/{lane}` answers 200 while the lane is healthy, else 503.
async fn start_target(lanes: usize) -> Result<(String, Arc<Vec<AtomicBool>>)> {
    let healthy: Arc<Vec<AtomicBool>> =
        Arc::new((0..lanes).map(|_| AtomicBool::new(true)).collect());
    let app = axum::Router::new()
        .route(
            "/health/{lane}",
            axum::routing::get(
                |State(h): State<Arc<Vec<AtomicBool>>>, UrlPath(lane): UrlPath<usize>| async move {
                    match h.get(lane) {
                        Some(b) if b.load(Ordering::SeqCst) => StatusCode::OK,
                        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
                        None => StatusCode::NOT_FOUND,
                    }
                },
            ),
        )
        .with_state(healthy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the target")?;
    let addr = listener.local_addr().context("target address")?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr.to_string(), healthy))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value> {
    let resp = client
        .get(url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json()
        .await
        .with_context(|| format!("GET {url}: body"))
}

/// The start of the lane's incident that began at or after `after_ns`.
async fn incident_start(
    client: &reqwest::Client,
    http: &str,
    lane: usize,
    after_ns: i64,
) -> Result<i64> {
    let from = after_ns / 1_000_000_000 - 5;
    let v = get_json(
        client,
        &format!("{http}/api/v1/checks/lane-{lane}/uptime?from={from}"),
    )
    .await?;
    let starts = v["incidents"]
        .as_array()
        .context("uptime: no incidents array")?
        .iter()
        .filter_map(|i| i["start"].as_str().and_then(parse_rfc3339_ns))
        .filter(|s| *s >= after_ns);
    starts
        .min()
        .with_context(|| format!("lane-{lane}: no incident after the target failed: {v}"))
}

/// The firing alert's `updatedAt` (when the store received it).
async fn alert_updated(client: &reqwest::Client, http: &str, lane: usize) -> Result<Option<i64>> {
    let v = get_json(client, &format!("{http}/api/v2/alerts")).await?;
    let id = format!("lane-{lane}");
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["check"] == id.as_str() && a["status"]["state"] != "resolved")
        .and_then(|a| a["updatedAt"].as_str())
        .and_then(parse_rfc3339_ns))
}

fn now_ns() -> i64 {
    ns_of(SystemTime::now())
}

struct Lane {
    id: usize,
    healthy: Arc<Vec<AtomicBool>>,
    mails: mpsc::UnboundedReceiver<Mail>,
    client: reqwest::Client,
    http: String,
}

impl Lane {
    async fn next_mail(&mut self) -> Result<Mail> {
        tokio::time::timeout(MAIL_TIMEOUT, self.mails.recv())
            .await
            .ok()
            .flatten()
            .with_context(|| format!("lane-{}: no e-mail within {MAIL_TIMEOUT:?}", self.id))
    }

    fn set_healthy(&self, ok: bool) {
        if let Some(b) = self.healthy.get(self.id) {
            b.store(ok, Ordering::SeqCst);
        }
    }

    /// One incident; also returns how many extra firing e-mails it produced.
    async fn incident(&mut self) -> Result<(Incident, usize)> {
        let failed_at = now_ns();
        self.set_healthy(false);
        let fire = self.next_mail().await?;
        ensure!(
            fire.firing,
            "lane-{}: a resolved e-mail before the firing one",
            self.id
        );
        let detected = incident_start(&self.client, &self.http, self.id, failed_at).await?;
        let updated = alert_updated(&self.client, &self.http, self.id).await?;
        self.set_healthy(true);
        let mut extra = 0;
        loop {
            let m = self.next_mail().await?;
            if !m.firing {
                break;
            }
            extra += 1;
        }
        let ms = |ns: i64| ns as f64 / 1e6;
        Ok((
            Incident {
                lane: self.id,
                detected: pharos_collector::clock::rfc3339(detected),
                store_ms: updated
                    .filter(|u| *u <= fire.accepted_ns)
                    .map(|u| ms(u - detected)),
                email_ms: ms(fire.accepted_ns - detected),
                fail_to_detect_ms: ms(detected - failed_at),
            },
            extra,
        ))
    }
}

pub async fn run(o: &LatencyOpts) -> Result<LatencyReport> {
    ensure!(
        o.lanes > 0 && o.incidents > 0,
        "--lanes and --incidents must be at least 1"
    );
    let smtp = Arc::new(
        TestSmtpServer::start()
            .await
            .context("starting the SMTP server")?,
    );
    let (target, healthy) = start_target(o.lanes).await?;
    let dir = tempfile::Builder::new()
        .prefix("pharos-alert-bench-")
        .tempdir()
        .context("temp dir")?;
    let config = write_config(dir.path(), &target, smtp.port(), o.lanes)?;
    let env = [
        ("PHAROS_CONFIG".to_string(), config.display().to_string()),
        ("PHAROS_AUTH__API_TOKEN".to_string(), API_TOKEN.to_string()),
    ];
    let mut server = Server::start(&o.pharos_bin, &env)?;
    let client = reqwest::Client::new();
    server
        .wait_healthy(&client, Duration::from_secs(60))
        .await?;
    // Every check must have decided `up` first: from `unknown`, a failure would be a
    // first decision, not an incident.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = get_json(&client, &format!("{}/api/v1/checks", server.http)).await?;
        let up = v["checks"]
            .as_array()
            .map_or(0, |c| c.iter().filter(|c| c["state"] == "up").count());
        if up == o.lanes {
            break;
        }
        ensure!(Instant::now() < deadline, "checks not up after 30 s: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // One reader of the SMTP server routes each message to its lane, and keeps counts.
    let mut senders = Vec::new();
    let mut lanes = Vec::new();
    for id in 0..o.lanes {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        lanes.push(Lane {
            id,
            healthy: healthy.clone(),
            mails: rx,
            client: client.clone(),
            http: server.http.clone(),
        });
    }
    let counts = Arc::new(parking_lot::Mutex::new((0usize, 0usize, 0usize)));
    let reader = {
        let (smtp, counts) = (smtp.clone(), counts.clone());
        tokio::spawn(async move {
            loop {
                let Some(m) = smtp.next_message(Duration::from_secs(3600)).await else {
                    continue;
                };
                let mut c = counts.lock();
                match parse_subject(&m.data) {
                    Some((firing, lane)) => {
                        if firing {
                            c.0 += 1;
                        } else {
                            c.1 += 1;
                        }
                        if let Some(tx) = senders.get(lane) {
                            let _ = tx.send(Mail {
                                firing,
                                accepted_ns: ns_of(m.accepted_at),
                            });
                        }
                    }
                    None => c.2 += 1,
                }
            }
        })
    };

    let per_lane: Vec<usize> = (0..o.lanes)
        .map(|i| o.incidents / o.lanes + usize::from(i < o.incidents % o.lanes))
        .collect();
    let mut tasks = Vec::new();
    for (mut lane, n) in lanes.into_iter().zip(per_lane) {
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            // Lanes start staggered, so their probes and e-mails do not all line up.
            tokio::time::sleep(Duration::from_millis(250 * lane.id as u64)).await;
            for _ in 0..n {
                out.push(lane.incident().await?);
                // Different phases relative to the probe interval between incidents.
                tokio::time::sleep(Duration::from_millis(300 + 137 * (out.len() as u64 % 5))).await;
            }
            anyhow::Ok(out)
        }));
    }
    let mut incidents = Vec::new();
    let mut extra = 0;
    for t in tasks {
        match t.await.context("lane task")? {
            Ok(v) => {
                for (inc, x) in v {
                    extra += x;
                    incidents.push(inc);
                }
            }
            Err(e) => bail!("{e:#}\nserver log tail:\n{}", server.log_tail(3000)),
        }
    }
    // Late duplicates would show up here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    reader.abort();
    server.stop(Duration::from_secs(20))?;
    let (firing, resolved, unknown) = *counts.lock();
    ensure!(unknown == 0, "{unknown} e-mails with an unexpected subject");
    let lat: Vec<f64> = incidents.iter().map(|i| i.email_ms).collect();
    let store: Vec<f64> = incidents.iter().filter_map(|i| i.store_ms).collect();
    let p = |v: &[f64], q: f64| {
        if v.is_empty() {
            f64::NAN
        } else {
            percentile(v, q)
        }
    };
    Ok(LatencyReport {
        command_line: o.command_line.clone(),
        machine: Machine::detect(),
        lanes: o.lanes,
        firing_emails: firing,
        resolved_emails: resolved,
        wrong_count: extra + incidents.len().abs_diff(firing.min(incidents.len())),
        p50_ms: p(&lat, 50.0),
        p99_ms: p(&lat, 99.0),
        max_ms: p(&lat, 100.0),
        store_p50_ms: p(&store, 50.0),
        store_p99_ms: p(&store, 99.0),
        incidents,
    })
}

impl LatencyReport {
    pub fn markdown(&self) -> String {
        let n = self.incidents.len();
        let by_lane = self.incidents.iter().fold(BTreeMap::new(), |mut m, i| {
            *m.entry(i.lane).or_insert(0usize) += 1;
            m
        });
        let detect: Vec<f64> = self.incidents.iter().map(|i| i.fail_to_detect_ms).collect();
        let met = self.p99_ms <= 1000.0 && self.firing_emails == n && self.wrong_count == 0;
        format!(
            "### alert-latency: {n} incidents over {} lanes ({} per lane)\n\n\
             `{}`\n\nMachine: {}\n\n\
             | stage (ms after detection) | p50 | p99 | max |\n|---|---:|---:|---:|\n\
             | alert in the store (`updatedAt`, {} of {n} readable) | {:.1} | {:.1} | — |\n\
             | e-mail accepted by the SMTP server | {:.1} | {:.1} | {:.1} |\n\n\
             Target failing → detection (probe interval 1 s, `fail_after = 2`): p50 {:.0} ms, max {:.0} ms.\n\n\
             E-mails: {} firing, {} resolved for {n} incidents; incidents with other than exactly one \
             firing e-mail: {}.\n\nTarget (p99 ≤ 1 s, one firing e-mail per incident): **{}**.\n",
            self.lanes,
            by_lane.values().map(ToString::to_string).collect::<Vec<_>>().join("/"),
            self.command_line,
            format_args!("{} cores, {}", self.machine.nproc, self.machine.cpu_model),
            self.incidents.iter().filter(|i| i.store_ms.is_some()).count(),
            if self.store_p50_ms.is_nan() { 0.0 } else { self.store_p50_ms },
            if self.store_p99_ms.is_nan() { 0.0 } else { self.store_p99_ms },
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            percentile(&detect, 50.0),
            percentile(&detect, 100.0),
            self.firing_emails,
            self.resolved_emails,
            self.wrong_count,
            if met { "met" } else { "not met" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_status_and_lane() {
        let data =
            "From: a\r\nSubject: [FIRING:1] CheckDown (CheckDown lane-12)\r\n\r\nbody lane-3";
        assert_eq!(parse_subject(data), Some((true, 12)));
        let data = "Subject: [RESOLVED] CheckDown (CheckDown lane-0)\r\n\r\n";
        assert_eq!(parse_subject(data), Some((false, 0)));
        assert_eq!(parse_subject("Subject: hello\r\n\r\n"), None);
    }
}
