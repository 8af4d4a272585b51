//! `pharos serve`: binds the listeners, opens the collector, serves until SIGTERM/SIGINT,
//! then shuts down gracefully (stop accepting, finish requests, flush the WAL, commit).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pharos_collector::clock::SystemClock;
use pharos_collector::ingest::grpc::OtlpLogsService;
use pharos_collector::ingest::metrics::grpc::OtlpMetricsService;
use pharos_collector::Collector;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::PharosConfig;
use pharos_dashboards::listener::{limited_incoming, serve_http};

/// One OTLP/gRPC export may take this long (a WAL fsync under load takes milliseconds; a
/// request still open after a minute is a stalled client).
const GRPC_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let config = PharosConfig::load(config_path)?;
    init_tracing(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pharos-worker")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))
}

fn init_tracing(config: &PharosConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .map_err(|e| anyhow::anyhow!("log.level: {e}"))?;
    // A failed write to stderr (a full disk under a redirected log, a closed pipe) loses that
    // line and nothing else: with internal-error logging on, tracing-subscriber would report
    // it with `eprintln!`, which panics when stderr cannot be written — in every request.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    if config.log.format == "text" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    }
    .map_err(|e| anyhow::anyhow!("initialising logging: {e}"))
}

/// Every panic (caught by a request's `CatchPanicLayer`, a query's `catch_unwind`, or a task's
/// join) is counted in `pharos_panics_total` and logged as one structured line instead of the
/// default hook's raw stderr text.
fn count_panics(counter: prometheus_client::metrics::counter::Counter) {
    std::panic::set_hook(Box::new(move |info| {
        counter.inc();
        let thread = std::thread::current();
        tracing::error!(
            panic = %info,
            thread = thread.name().unwrap_or("unnamed"),
            "panic caught; the process keeps serving"
        );
    }));
}

async fn bind(key: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({key}): {e}"))
}

/// Fails for a data dir that cannot be created or written (permissions, a read-only mount);
/// a *full* one is not an error — the server starts, serves what it has, and refuses ingest
/// until space is back (`Collector` watches free space) — so that a monitoring system is not
/// down exactly when a disk fills.
fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
    // A reserve left by an earlier run is what makes a full disk recoverable (`reserve`).
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
    let probe = dir.join(".write-probe");
    let written = std::fs::write(&probe, b"ok");
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            let released = pharos_collector::reserve::release(dir);
            tracing::error!(data_dir = %dir.display(), reserve_released = released,
                "the data dir's file system is full: starting anyway (queries, alerting and the UI are served; ingest is refused until space is freed)");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "data dir {} is not writable: {e}",
            dir.display()
        )),
    }
}

/// (Re-)creates the disk reserve whenever there is room for it, once a minute.
async fn keep_reserve(
    storage: pharos_collector::config::StorageConfig,
    keep_free: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut had = None;
    loop {
        let (dir, bytes) = (storage.data_dir.clone(), storage.reserve_bytes);
        let r = tokio::task::spawn_blocking(move || {
            pharos_collector::reserve::ensure(&dir, bytes, keep_free)
        })
        .await;
        let now = matches!(r, Ok(Ok(true)));
        if had != Some(now) && bytes > 0 {
            if now {
                tracing::info!(bytes, "disk reserve in place (storage.reserve_bytes)");
            } else {
                tracing::warn!(bytes, "no room for the disk reserve yet (storage.reserve_bytes); retrying every minute");
            }
            had = Some(now);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}

/// SIGHUP re-reads the alerting rule files (as Prometheus does); a bad file keeps the old
/// rules and is logged with its `file:line`.
async fn reload_on_sighup(alerting: Arc<pharos_alertmanager::Alerting>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload");
            return;
        }
    };
    while hup.recv().await.is_some() {
        let a = alerting.clone();
        match tokio::task::spawn_blocking(move || a.reload()).await {
            Ok(Ok(msg)) => tracing::info!("SIGHUP: {msg}"),
            Ok(Err(errors)) => {
                tracing::error!(errors = %errors, "SIGHUP: rule files invalid; the old rules keep running")
            }
            Err(e) => tracing::error!(error = %e, "SIGHUP: reload failed"),
        }
    }
}

async fn serve(config: PharosConfig) -> anyhow::Result<()> {
    let listeners = config.listeners()?;
    let tokens = config.tokens()?;
    let collector_config = config.collector();
    check_data_dir(&collector_config.storage.data_dir)?;
    let http = bind("server.http_addr", listeners.http).await?;
    let otlp_http = match listeners.otlp_http {
        Some(a) => Some(bind("server.otlp_http_addr", a).await?),
        None => None,
    };
    let otlp_grpc = match listeners.otlp_grpc {
        Some(a) => Some(bind("server.otlp_grpc_addr", a).await?),
        None => None,
    };
    let handle = tokio::runtime::Handle::current();
    let collector = tokio::task::spawn_blocking(move || {
        Collector::open(collector_config, Arc::new(SystemClock), handle)
    })
    .await
    .context("opening the collector")?
    .context("opening the data dir")?;
    let collector = Arc::new(collector);
    count_panics(collector.metrics.panics.clone());
    let checks_dir = collector.config.storage.data_dir.join("checks");
    let (checks, clock) = (config.checks.clone(), collector.clock.clone());
    let checker = tokio::task::spawn_blocking(move || {
        pharos_alertmanager::Checker::open(&checks, &checks_dir, clock)
    })
    .await
    .context("opening the health checks")?
    .map_err(|e| anyhow::anyhow!("health checks: {e}"))?;
    let checker = Arc::new(checker);

    // Alerting: rules, SLOs, the alert store, routing, escalation and notifiers.
    let alerting_dir = collector.config.storage.data_dir.join("alerting");
    let sources = pharos_alertmanager::sources::Sources {
        logs: Some(collector.store.clone()),
        metrics: Some(collector.tsdb.clone()),
        checker: Some(checker.clone()),
    };
    let (alerting_config, clock) = (config.alerting.clone(), collector.clock.clone());
    let alerting = tokio::task::spawn_blocking(move || {
        pharos_alertmanager::Alerting::open(&alerting_config, &alerting_dir, sources, clock)
    })
    .await
    .context("opening alerting")?
    .map_err(|e| anyhow::anyhow!("alerting: {e}"))?;
    let alerting = Arc::new(alerting);

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(keep_reserve(
        collector.config.storage.clone(),
        collector.config.ingest.min_free_disk_bytes,
        stop_rx.clone(),
    ));
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    // Dashboards live in the alerting state database; the provisioning directory is read
    // once here (so the first request sees it) and then re-read until shutdown.
    let settings = config.api_settings();
    let (db, clock, dashboards) = (
        alerting.db.clone(),
        collector.clock.clone(),
        settings.dashboards.clone(),
    );
    let boards = tokio::task::spawn_blocking(move || {
        pharos_dashboards::boards::Boards::open(db, clock, &dashboards)
    })
    .await
    .context("opening the dashboards")?;
    let boards = Arc::new(boards);
    tokio::spawn(boards.clone().run(stop_rx.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    let app_state = pharos_dashboards::app_state(
        collector.clone(),
        checker.clone(),
        alerting.clone(),
        boards,
        &tokens,
        settings,
    );
    let app = pharos_dashboards::app_from(app_state.clone(), &tokens);
    // Pharos observing itself: its own /metrics into its own store, `job="pharos"`.
    if config.server.self_metrics_interval_secs > 0 {
        tokio::spawn(pharos_dashboards::service::scrape_self(
            app_state,
            listeners.http.to_string(),
            Duration::from_secs(config.server.self_metrics_interval_secs),
            stop_rx.clone(),
        ));
    }
    let limits = config.conn_limits();
    tracing::info!(addr = %listeners.http, "HTTP API and UI listening");
    tasks.spawn({
        let stop = stopped(stop_rx.clone());
        let limits = limits.clone();
        async move {
            serve_http(http, app, limits, "http", stop)
                .await
                .context("HTTP server")
        }
    });
    if let Some(listener) = otlp_http {
        let app = pharos_dashboards::otlp_http_app(collector.clone(), &tokens);
        tracing::info!(addr = ?listeners.otlp_http, "OTLP/HTTP listening");
        let stop = stopped(stop_rx.clone());
        let limits = limits.clone();
        tasks.spawn(async move {
            serve_http(listener, app, limits, "otlp_http", stop)
                .await
                .context("OTLP/HTTP server")
        });
    }
    if let Some(listener) = otlp_grpc {
        let service = OtlpLogsService::server(
            collector.ingestor.clone(),
            tokens.ingest.clone(),
            collector.clock.clone(),
        );
        let metrics_service =
            OtlpMetricsService::server(collector.metrics_ingest.clone(), tokens.ingest.clone());
        tracing::info!(addr = ?listeners.otlp_grpc, "OTLP/gRPC listening");
        let stop = stopped(stop_rx.clone());
        let limits = limits.clone();
        tasks.spawn(async move {
            // The same cap and idle bound as the HTTP listeners; HTTP/2 pings find dead
            // peers, and one request may not outlive GRPC_REQUEST_TIMEOUT.
            let idle = limits.idle_timeout;
            tonic::transport::Server::builder()
                .timeout(GRPC_REQUEST_TIMEOUT)
                .http2_keepalive_interval(Some(idle / 2))
                .http2_keepalive_timeout(Some(Duration::from_secs(20)))
                .add_service(service)
                .add_service(metrics_service)
                .serve_with_incoming_shutdown(limited_incoming(listener, limits, "otlp_grpc"), stop)
                .await
                .context("OTLP/gRPC server")
        });
    }

    // Metrics from logs: each closed minute, 30 s after it ends (indexing is about 1 s behind).
    if !config.metrics.from_logs.is_empty() {
        let materializer = pharos_query::derived::Materializer::new(
            collector.store.clone(),
            collector.metric_ingestor.clone(),
            &config.metrics.from_logs,
            collector
                .config
                .storage
                .data_dir
                .join("metrics")
                .join("from_logs.json"),
            collector.clock.clone(),
            Duration::from_secs(30),
        )
        .context("metrics.from_logs")?;
        tokio::spawn(materializer.run(stop_rx.clone()));
    }

    // Health checks and heartbeats; every state change is already durable when decided.
    // Each probe's result also goes to the metrics store (the response-time history).
    tokio::spawn(record_probes(
        checker.probe_results(4096),
        collector.metrics_ingest.clone(),
    ));
    let checks_task = tokio::spawn(checker.clone().run(stop_rx.clone()));
    let alerting_task = tokio::spawn(alerting.clone().run(stop_rx.clone()));
    tokio::spawn(reload_on_sighup(alerting.clone()));

    // Serve until a signal, or until a server fails.
    let mut failure = None;
    tokio::select! {
        _ = shutdown_signal() => {}
        Some(res) = tasks.join_next() => {
            failure = Some(match res { Ok(Err(e)) => e, Ok(Ok(())) => anyhow::anyhow!("a server stopped"), Err(e) => e.into() });
        }
    }
    let _ = stop_tx.send(true);
    collector.ingestor.tail().close();
    let budget = Duration::from_secs(config.server.shutdown_timeout_secs);
    let deadline = tokio::time::Instant::now() + budget;
    // Finish in-flight requests (their records are then in the WAL), then flush and commit.
    let drained = tokio::time::timeout_at(deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still in flight at the shutdown deadline were cut off");
    }
    if tokio::time::timeout_at(deadline, checks_task)
        .await
        .is_err()
    {
        tracing::warn!("health checks still running at the shutdown deadline were cut off");
    }
    if tokio::time::timeout_at(deadline, alerting_task)
        .await
        .is_err()
    {
        tracing::warn!("alerting still running at the shutdown deadline was cut off");
    }
    let c = collector.clone();
    let flushed =
        tokio::time::timeout_at(deadline, tokio::task::spawn_blocking(move || c.shutdown())).await;
    match flushed {
        Ok(Ok(Ok(()))) => tracing::info!("WAL flushed and index committed; bye"),
        Ok(Ok(Err(e))) => return Err(e).context("shutting down the collector"),
        Ok(Err(e)) => return Err(e).context("shutting down the collector"),
        Err(_) => tracing::warn!("index commit did not finish within the shutdown budget; the WAL replays it at next start"),
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Writes the checks' probe results to the metrics store as `probe_success` and
/// `probe_duration_seconds`, a batch per second at most (a check probes every few seconds;
/// one append per result would cost a WAL fsync each).
async fn record_probes(
    mut results: tokio::sync::mpsc::Receiver<pharos_alertmanager::checks::ProbeResult>,
    ingest: Arc<pharos_collector::ingest::metrics::MetricsIngest>,
) {
    while let Some(first) = results.recv().await {
        let mut batch = vec![first];
        tokio::time::sleep(Duration::from_secs(1)).await;
        while let Ok(r) = results.try_recv() {
            batch.push(r);
        }
        let metrics = pharos_alertmanager::checks::probe_series::probe_batch(&batch);
        if let Err(e) = ingest.append_internal(metrics).await {
            tracing::warn!(error = %e, results = batch.len(), "probe results not written to the metrics store");
        }
    }
}
