//! The Alertmanager API v2, so Prometheus can use Pharos as its Alertmanager and `amtool`
//! works against it: `POST|GET /api/v2/alerts`, `GET /api/v2/alerts/groups`,
//! `GET|POST /api/v2/silences`, `GET|DELETE /api/v2/silence/{id}`, `GET /api/v2/status`,
//! `GET /api/v2/receivers`. Shapes follow Alertmanager's `api/v2/openapi.yaml`.
//!
//! `POST /api/v2/alerts` is an ingest path (behind the ingest token, like log shipping); the
//! rest is behind the API token.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pharos_alertmanager::dispatch::{AlertState, GettableAlert};
use pharos_alertmanager::matcher::Matchers;
use pharos_alertmanager::silence::{PostableSilence, SilenceError};
use pharos_alertmanager::{Alert, Alerting, LabelSet};
use pharos_collector::clock::rfc3339;
use pharos_collector::ingest::http::authorized;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;

/// Behind the API token.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/alerts", get(list_alerts))
        .route("/api/v2/alerts/groups", get(list_groups))
        .route("/api/v2/silences", get(list_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(delete_silence),
        )
        .route("/api/v2/status", get(status))
        .route("/api/v2/receivers", get(receivers))
}

#[derive(Clone)]
struct IngestAlerts {
    alerting: Arc<Alerting>,
    token: Option<Arc<str>>,
}

/// `POST /api/v2/alerts`, behind the ingest token.
pub fn ingest_router(alerting: Arc<Alerting>, token: Option<Arc<str>>) -> Router {
    let state = IngestAlerts { alerting, token };
    Router::new()
        .route("/api/v2/alerts", post(post_alerts))
        .route_layer(middleware::from_fn_with_state(state.clone(), ingest_token))
        .with_state(state)
}

async fn ingest_token(State(s): State<IngestAlerts>, req: Request, next: Next) -> Response {
    if authorized(req.headers(), s.token.as_deref()) {
        next.run(req).await
    } else {
        text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong ingest token (Authorization: Bearer …)",
        )
    }
}

/// Alertmanager answers errors as a JSON string.
fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::Value::String(msg.into()))).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: LabelSet,
    #[serde(default)]
    annotations: LabelSet,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

fn parse_time(field: &str, v: &Option<String>) -> Result<i64, String> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(0);
    };
    // Go's zero time means "not set".
    if s.starts_with("0001-01-01") {
        return Ok(0);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{field}: {s:?} is not an RFC 3339 time: {e}"))?;
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| format!("{field}: {s:?} is out of range"))
}

/// The body of `POST /api/v2/alerts` (`[PostableAlert]`): the valid alerts, received at
/// `now` (the start defaults to the end when only that is given, else to `now`), and
/// for each invalid one why (`alert 3: …`). `Err` when the body is not a JSON array of
/// alerts. Public for the fuzz target (`fuzz/fuzz_targets/alertmanager_api.rs`).
pub fn postable_alerts(body: &[u8], now: i64) -> Result<(Vec<Alert>, Vec<String>), String> {
    let posted: Vec<PostableAlert> =
        serde_json::from_slice(body).map_err(|e| format!("invalid alerts JSON: {e}"))?;
    let mut alerts = Vec::with_capacity(posted.len());
    let mut errors = Vec::new();
    for (i, p) in posted.into_iter().enumerate() {
        let times = parse_time("startsAt", &p.starts_at)
            .and_then(|st| parse_time("endsAt", &p.ends_at).map(|en| (st, en)));
        let (mut starts, ends) = match times {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("alert {i}: {e}"));
                continue;
            }
        };
        if starts == 0 {
            starts = if ends == 0 { now } else { ends };
        }
        let alert = Alert {
            labels: p.labels,
            annotations: p.annotations,
            starts_at_ns: starts,
            ends_at_ns: ends,
            generator_url: p.generator_url.unwrap_or_default(),
            updated_at_ns: now,
            timeout: false,
        };
        match alert.validate() {
            Ok(()) => alerts.push(alert),
            Err(e) => errors.push(format!("alert {i}: {e}")),
        }
    }
    Ok((alerts, errors))
}

/// Stores the valid alerts and reports the invalid ones (400, naming each), as Alertmanager
/// does: one bad alert does not lose the others.
async fn post_alerts(State(s): State<IngestAlerts>, body: axum::body::Bytes) -> Response {
    let (alerts, errors) = match postable_alerts(&body, s.alerting.clock.now_ns()) {
        Ok(v) => v,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    if !alerts.is_empty() {
        let store = s.alerting.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.put(alerts)).await;
        match stored {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    if errors.is_empty() {
        StatusCode::OK.into_response()
    } else {
        text(StatusCode::BAD_REQUEST, errors.join("; "))
    }
}

/// The query parameters of `GET /api/v2/alerts` (and `/alerts/groups`); `filter` repeats.
struct AlertFilter {
    active: bool,
    silenced: bool,
    inhibited: bool,
    unprocessed: bool,
    filter: Matchers,
    receiver: Option<regex::Regex>,
}

fn bool_param(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{name}: expected true or false, not {v:?}")),
    }
}

impl AlertFilter {
    fn from_uri(uri: &Uri) -> Result<AlertFilter, String> {
        let mut f = AlertFilter {
            active: true,
            silenced: true,
            inhibited: true,
            unprocessed: true,
            filter: Matchers(Vec::new()),
            receiver: None,
        };
        let query = uri.query().unwrap_or("");
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "active" => f.active = bool_param("active", &v)?,
                "silenced" => f.silenced = bool_param("silenced", &v)?,
                "inhibited" => f.inhibited = bool_param("inhibited", &v)?,
                "unprocessed" => f.unprocessed = bool_param("unprocessed", &v)?,
                "filter" => {
                    let m = Matchers::parse(&v).map_err(|e| format!("filter {v:?}: {e}"))?;
                    f.filter.0.extend(m.0);
                }
                "receiver" if !v.is_empty() => {
                    f.receiver = Some(
                        regex::Regex::new(&format!("^(?:{v})$"))
                            .map_err(|e| format!("receiver: {e}"))?,
                    );
                }
                _ => {}
            }
        }
        Ok(f)
    }

    fn keeps(&self, a: &GettableAlert) -> bool {
        let st = &a.status;
        if !self.active && st.state == AlertState::Active
            || !self.unprocessed && st.state == AlertState::Unprocessed
            || !self.silenced && !st.silenced_by.is_empty()
            || !self.inhibited && !st.inhibited_by.is_empty()
        {
            return false;
        }
        if let Some(re) = &self.receiver {
            if !a.receivers.iter().any(|r| re.is_match(&r.name)) {
                return false;
            }
        }
        self.filter.matches(&a.labels)
    }
}

/// The alerts that are not resolved, as Alertmanager lists them.
fn current_alerts(alerting: &Alerting, f: &AlertFilter) -> Vec<GettableAlert> {
    let now = alerting.clock.now_ns();
    alerting
        .store
        .list()
        .iter()
        .filter(|a| !a.resolved_at(now))
        .map(|a| alerting.dispatcher.gettable_alert(a))
        .filter(|a| f.keeps(a))
        .collect()
}

async fn list_alerts(State(state): State<AppState>, uri: Uri) -> Response {
    match AlertFilter::from_uri(&uri) {
        Ok(f) => Json(current_alerts(&state.alerting, &f)).into_response(),
        Err(e) => text(StatusCode::BAD_REQUEST, e),
    }
}

async fn list_groups(State(state): State<AppState>, uri: Uri) -> Response {
    let f = match AlertFilter::from_uri(&uri) {
        Ok(f) => f,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let groups: Vec<_> = state
        .alerting
        .dispatcher
        .groups()
        .into_iter()
        .filter_map(|mut g| {
            g.alerts.retain(|a| f.keeps(a));
            (!g.alerts.is_empty()).then_some(g)
        })
        .collect();
    Json(groups).into_response()
}

fn silence_error(e: SilenceError) -> Response {
    match e {
        SilenceError::NotFound(_) => text(StatusCode::NOT_FOUND, e.to_string()),
        SilenceError::Invalid(_) | SilenceError::AlreadyExpired(_) => {
            text(StatusCode::BAD_REQUEST, e.to_string())
        }
        SilenceError::Storage(_) => {
            tracing::error!(error = %e, "silence storage failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

async fn list_silences(State(state): State<AppState>, uri: Uri) -> Response {
    let mut filter = Matchers(Vec::new());
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "filter" {
            match Matchers::parse(&v) {
                Ok(m) => filter.0.extend(m.0),
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("filter {v:?}: {e}")),
            }
        }
    }
    Json(state.alerting.silences.list(&filter)).into_response()
}

async fn post_silence(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let post: PostableSilence = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("invalid silence JSON: {e}"),
            )
        }
    };
    let silences = state.alerting.silences.clone();
    match tokio::task::spawn_blocking(move || silences.set(post)).await {
        Ok(Ok(id)) => Json(json!({ "silenceID": id })).into_response(),
        Ok(Err(e)) => silence_error(e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_silence(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.alerting.silences.get(&id) {
        Some(s) => Json(s).into_response(),
        None => text(StatusCode::NOT_FOUND, format!("silence {id} not found")),
    }
}

async fn delete_silence(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let silences = state.alerting.silences.clone();
    match tokio::task::spawn_blocking(move || silences.expire(&id)).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => silence_error(e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn status(State(state): State<AppState>) -> Response {
    Json(json!({
        "cluster": { "status": "disabled", "peers": [] },
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "none (Pharos, Rust)",
        },
        "config": { "original": state.alerting.config_text() },
        "uptime": rfc3339(state.alerting.started_ns()),
    }))
    .into_response()
}

async fn receivers(State(state): State<AppState>) -> Response {
    let names: Vec<_> = state
        .alerting
        .notifier
        .receiver_names()
        .into_iter()
        .map(|name| json!({ "name": name }))
        .collect();
    Json(names).into_response()
}
