//! Pharos dashboards: composes the HTTP API of every crate into one router, adds the service
//! endpoints (`/health`, `/ready`, `/metrics`) and serves the embedded web UI.

pub mod api;
pub mod boards;
pub mod listener;
pub mod service;
pub mod status;
pub mod ui;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use pharos_alertmanager::{Alerting, Checker};
use pharos_collector::ingest::http::{authorized, IngestState};
use pharos_collector::ingest::metrics::http::{self as metrics_ingest, MetricsIngestState};
use pharos_collector::Collector;
use prometheus_client::registry::Registry;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    pub collector: Arc<Collector>,
    /// When set, the query API needs `Authorization: Bearer <token>`.
    pub api_token: Option<Arc<str>>,
    pub registry: Arc<Registry>,
    /// Health checks and heartbeats.
    pub checker: Arc<Checker>,
    /// Rules, alerts, silences, escalation, notifications.
    pub alerting: Arc<Alerting>,
    /// Stored, provisioned and built-in dashboards.
    pub boards: Arc<boards::Boards>,
    pub settings: ApiSettings,
    /// Query latency by kind (`pharos_query_duration_seconds`).
    pub query_metrics: Arc<api::query_metrics::QueryMetrics>,
}

/// Limits of the query API (`[query]` in the config file).
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// A log or PromQL query stops with a clear error after this long (`query.timeout_secs`).
    pub query_timeout: std::time::Duration,
    /// `[status_page]`: who sees `/status` and the badges, and what they show.
    pub status_page: status::StatusPageConfig,
    /// `[dashboards]`: the provisioning directory and how often it is re-read.
    pub dashboards: boards::DashboardsConfig,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            query_timeout: pharos_query::budget::DEFAULT_TIMEOUT,
            status_page: status::StatusPageConfig::default(),
            dashboards: boards::DashboardsConfig::default(),
        }
    }
}

/// Tokens, read from env or files by the binary; never logged.
#[derive(Clone, Default)]
pub struct Tokens {
    pub ingest: Option<Arc<str>>,
    pub api: Option<Arc<str>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("ingest", &self.ingest.as_ref().map(|_| "<set>"))
            .field("api", &self.api.as_ref().map(|_| "<set>"))
            .finish()
    }
}

fn registry_for(
    collector: &Collector,
    checker: &Checker,
    queries: &api::query_metrics::QueryMetrics,
) -> Arc<Registry> {
    let mut registry = Registry::default();
    collector.metrics.register(&mut registry);
    checker.register_metrics(&mut registry);
    queries.register(&mut registry);
    Arc::new(registry)
}

const REQUEST_ID: &str = "x-request-id";

/// A handler's panic becomes this request's 500 (the panic hook has counted and logged it);
/// the connection and every other request carry on.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"error": "internal error: the request failed (logged as a panic); please report it"})),
    )
        .into_response()
}

/// Adds a request id to every request (kept if the client sent one), echoes it in the
/// response, logs each request in a span that carries it, and turns a panic into a 500.
fn observed(router: Router) -> Router {
    let header_name = header::HeaderName::from_static(REQUEST_ID);
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                // One access-log line per request, carrying the span's request id, status and
                // latency (`log.level = "info,tower_http=warn"` turns it off).
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(PropagateRequestIdLayer::new(header_name.clone()))
        .layer(SetRequestIdLayer::new(header_name, MakeRequestUuid))
}

async fn require_api_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if authorized(req.headers(), state.api_token.as_deref()) {
        next.run(req).await
    } else {
        (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"error": "missing or wrong API token (Authorization: Bearer …)"})))
            .into_response()
    }
}

/// The main port: UI, query API, ingest (and heartbeats), service endpoints. `boards` is
/// opened by the caller (it reads the provisioning directory, and its re-scan task runs
/// beside the server: [`boards::Boards::open`], [`boards::Boards::run`]).
pub fn app(
    collector: Arc<Collector>,
    checker: Arc<Checker>,
    alerting: Arc<Alerting>,
    boards: Arc<boards::Boards>,
    tokens: &Tokens,
    settings: ApiSettings,
) -> Router {
    app_from(
        app_state(collector, checker, alerting, boards, tokens, settings),
        tokens,
    )
}

/// The handlers' shared state; the binary keeps a clone for [`service::scrape_self`].
pub fn app_state(
    collector: Arc<Collector>,
    checker: Arc<Checker>,
    alerting: Arc<Alerting>,
    boards: Arc<boards::Boards>,
    tokens: &Tokens,
    settings: ApiSettings,
) -> AppState {
    let query_metrics = Arc::new(api::query_metrics::QueryMetrics::default());
    AppState {
        settings,
        registry: registry_for(&collector, &checker, &query_metrics),
        query_metrics,
        collector,
        api_token: tokens.api.clone(),
        checker,
        alerting,
        boards,
    }
}

/// [`app`] on a state built by [`app_state`].
pub fn app_from(state: AppState, tokens: &Tokens) -> Router {
    let (collector, checker, alerting) = (
        state.collector.clone(),
        state.checker.clone(),
        state.alerting.clone(),
    );
    let ingest = pharos_collector::ingest::http::router(IngestState {
        ingestor: collector.ingestor.clone(),
        ingest_token: tokens.ingest.clone(),
        clock: collector.clock.clone(),
    })
    .merge(metrics_ingest::router(metrics_ingest_state(
        &collector, tokens,
    )))
    .merge(api::checks::heartbeat_router(
        checker,
        tokens.ingest.clone(),
    ))
    .merge(api::alertmanager_v2::ingest_router(
        alerting.clone(),
        tokens.ingest.clone(),
    ))
    .merge(api::alerting::ack_link_router(alerting));
    let api = api::router()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_token,
        ))
        .with_state(state.clone());
    let max_body = collector.config.ingest.max_body_bytes;
    observed(
        Router::new()
            .merge(ingest)
            .merge(api)
            .merge(status::router(state.clone()))
            .merge(service::router(state))
            .merge(ui::router()),
    )
    .layer(middleware::from_fn_with_state(
        max_body,
        check_declared_length,
    ))
}

/// A request whose `Content-Length` is over the body limit is answered `413` at once,
/// before a byte of its body is read or waited for (the handlers' own limits still bound
/// chunked and compressed bodies as they are read).
async fn check_declared_length(
    State(max_body): State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > max_body as u64 => (
            // n is only compared: the answer does not echo a client's number.
            StatusCode::PAYLOAD_TOO_LARGE,
            // The same words as the handlers' own limit, whichever refuses it.
            axum::Json(serde_json::json!({"error": format!(
                "request body is over the {max_body}-byte limit"
            )})),
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

/// The dedicated OTLP/HTTP port: only `/v1/logs` and `/v1/metrics`.
pub fn otlp_http_app(collector: Arc<Collector>, tokens: &Tokens) -> Router {
    observed(
        pharos_collector::ingest::http::otlp_router(IngestState {
            ingestor: collector.ingestor.clone(),
            ingest_token: tokens.ingest.clone(),
            clock: collector.clock.clone(),
        })
        .merge(metrics_ingest::otlp_router(metrics_ingest_state(
            &collector, tokens,
        ))),
    )
    .layer(middleware::from_fn_with_state(
        collector.config.ingest.max_body_bytes,
        check_declared_length,
    ))
}

fn metrics_ingest_state(collector: &Collector, tokens: &Tokens) -> MetricsIngestState {
    MetricsIngestState {
        ingest: collector.metrics_ingest.clone(),
        ingest_token: tokens.ingest.clone(),
    }
}
