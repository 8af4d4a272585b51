//! Pharos's alerting API (behind the API token): rules (`GET /api/v1/rules`, Prometheus's
//! shape), SLOs (`GET /api/v1/slos`), on-call (`GET /api/v1/oncall`), escalation incidents
//! and acknowledgement (`GET /api/v1/incidents`, `POST /api/v1/incidents/{id}/ack`), the
//! notification log (`GET /api/v1/notifications`), on-call shifts and overrides
//! (`GET /api/v1/oncall/{schedule}/shifts`, `GET|POST /api/v1/oncall/{schedule}/overrides`,
//! `DELETE …/overrides/{id}`) and `POST /-/reload`.
//!
//! The one-click acknowledgement link of an e-mail (`GET|POST /api/v1/ack/{token}`) is in
//! [`ack_link_router`]: its signed, expiring token is the credential, so it needs no API token.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pharos_alertmanager::escalation::{AckError, NewOverride};
use pharos_alertmanager::notify::LogFilter;
use pharos_alertmanager::oncall::OverrideError;
use pharos_alertmanager::{Alerting, Fingerprint};
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, internal_error, parse_time_param};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/slos", get(slos))
        .route("/api/v1/slos/{name}/budget", get(slo_budget))
        .route("/api/v1/oncall", get(oncall))
        .route("/api/v1/oncall/{schedule}/shifts", get(shifts))
        .route(
            "/api/v1/oncall/{schedule}/overrides",
            get(list_overrides).post(create_override),
        )
        .route(
            "/api/v1/oncall/{schedule}/overrides/{id}",
            axum::routing::delete(delete_override),
        )
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/incidents/{id}/ack", post(ack))
        .route("/api/v1/incidents/{id}/resolve", post(resolve))
        .route("/api/v1/notifications", get(notifications))
        .route("/-/reload", post(reload))
}

async fn rules(State(state): State<AppState>) -> Response {
    Json(json!({"status": "success", "data": state.alerting.rules.view()})).into_response()
}

async fn slos(State(state): State<AppState>) -> Response {
    let alerting = state.alerting.clone();
    match tokio::task::spawn_blocking(move || alerting.slos.status(alerting.clock.now_ns())).await {
        Ok(slos) => Json(json!({ "slos": slos })).into_response(),
        Err(e) => internal_error(format!("SLO status: {e}")),
    }
}

#[derive(Deserialize)]
struct BudgetParams {
    /// How many instants over the window (2–200, default 60).
    points: Option<usize>,
}

/// `GET /api/v1/slos/{name}/budget?points=60`: the error budget left at instants spread over
/// the SLO's current window, the last one now (the SLO page's chart).
async fn slo_budget(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<BudgetParams>,
) -> Response {
    let points = p.points.unwrap_or(60);
    if !(2..=200).contains(&points) {
        return bad_request("parameter points: between 2 and 200");
    }
    let alerting = state.alerting.clone();
    let n = name.clone();
    let result = tokio::task::spawn_blocking(move || {
        alerting
            .slos
            .budget_history(&n, alerting.clock.now_ns(), points)
    })
    .await;
    match result {
        Ok(Some(points)) => Json(json!({ "name": name, "points": points })).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no SLO named {name:?}") })),
        )
            .into_response(),
        Err(e) => internal_error(format!("SLO budget: {e}")),
    }
}

async fn oncall(State(state): State<AppState>) -> Response {
    Json(json!({ "schedules": state.alerting.escalator.on_call_now() })).into_response()
}

#[derive(Deserialize)]
struct ShiftParams {
    /// RFC 3339, epoch seconds or milliseconds, `now-1d`; default now.
    from: Option<String>,
    /// Default four weeks after `from`.
    to: Option<String>,
}

/// The most shifts one calendar request lists (a daily rotation over a year and some).
const MAX_SHIFTS: usize = 500;

/// `GET /api/v1/oncall/{schedule}/shifts?from=&to=`: the turns of a schedule (the UI's
/// four-week calendar), overrides included.
async fn shifts(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<ShiftParams>,
) -> Response {
    const WEEK_NS: i64 = 7 * 24 * 3600 * 1_000_000_000;
    let now = state.alerting.clock.now_ns();
    let from = match parse_time_param("from", &p.from) {
        Err(e) => return bad_request(e),
        Ok(t) => t.unwrap_or(now),
    };
    let to = match parse_time_param("to", &p.to) {
        Err(e) => return bad_request(e),
        Ok(t) => t.unwrap_or(from.saturating_add(4 * WEEK_NS)),
    };
    if to <= from {
        return bad_request("parameter to: must be after from");
    }
    let Some(schedule) = state.alerting.escalator.schedules().get(&name) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no on-call schedule named {name:?}") })),
        )
            .into_response();
    };
    match schedule.shifts(from, to, MAX_SHIFTS) {
        Ok(shifts) => Json(json!({
            "schedule": name,
            "truncated": shifts.len() == MAX_SHIFTS,
            "shifts": shifts,
        }))
        .into_response(),
        Err(e) => bad_request(e.to_string()),
    }
}

fn override_error(e: OverrideError) -> Response {
    let status = match e {
        OverrideError::UnknownSchedule(_) | OverrideError::UnknownOverride(_) => {
            StatusCode::NOT_FOUND
        }
        OverrideError::Overlaps { .. } => StatusCode::CONFLICT,
        OverrideError::Invalid(_) => StatusCode::BAD_REQUEST,
        OverrideError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

async fn list_overrides(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.alerting.escalator.schedules().get(&name) {
        Some(s) => Json(json!({ "schedule": name, "overrides": s.overrides() })).into_response(),
        None => override_error(OverrideError::UnknownSchedule(name)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    /// `Name <address>` or an address.
    who: String,
    /// RFC 3339 or epoch seconds / milliseconds.
    start: String,
    end: String,
    created_by: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/oncall/{schedule}/overrides`: someone covers `[start, end)`; stored before
/// the answer, and used for paging from then on.
async fn create_override(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let b: OverrideBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(format!("override body: {e}")),
    };
    let (start, end) = match (
        parse_time_param("start", &Some(b.start.clone())),
        parse_time_param("end", &Some(b.end.clone())),
    ) {
        (Ok(Some(s)), Ok(Some(e))) => (s, e),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
        _ => return bad_request("start and end are required"),
    };
    let alerting = state.alerting.clone();
    let result = tokio::task::spawn_blocking(move || {
        let now = alerting.clock.now_ns();
        alerting.escalator.add_override(
            &name,
            NewOverride {
                who: &b.who,
                start_ns: start,
                end_ns: end,
                created_by: &b.created_by,
                comment: &b.comment,
            },
            now,
        )
    })
    .await;
    match result {
        Ok(Ok(view)) => (StatusCode::CREATED, Json(json!({ "override": view }))).into_response(),
        Ok(Err(e)) => override_error(e),
        Err(e) => internal_error(format!("override: {e}")),
    }
}

async fn delete_override(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let alerting = state.alerting.clone();
    match tokio::task::spawn_blocking(move || alerting.escalator.delete_override(&name, &id)).await
    {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => override_error(e),
        Err(e) => internal_error(format!("override: {e}")),
    }
}

#[derive(Deserialize)]
struct IncidentParams {
    /// Only open incidents (default true).
    open: Option<bool>,
}

async fn incidents(State(state): State<AppState>, Query(p): Query<IncidentParams>) -> Response {
    Json(json!({ "incidents": state.alerting.escalator.incidents(p.open.unwrap_or(true)) }))
        .into_response()
}

fn ack_error(e: AckError) -> Response {
    (
        ack_error_status(&e),
        Json(json!({ "error": e.to_string() })),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct AckBody {
    /// Who acknowledges (shown to everyone later notified).
    by: Option<String>,
    /// Why, or what is being done (kept on the incident, shown in its timeline).
    comment: Option<String>,
}

/// Who acts (default `api`) and their comment, from an ack or resolve body.
fn who_and_why(body: Option<Json<AckBody>>) -> (String, Option<String>) {
    let (by, comment) = body.map_or((None, None), |Json(b)| (b.by, b.comment));
    let by = by
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "api".to_string());
    (by, comment)
}

/// Acknowledges an incident by its id, or every open incident holding the alert with that
/// fingerprint (16 hex digits), which is what `pharos ack` sends.
async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<AckBody>>,
) -> Response {
    let (by, comment) = who_and_why(body);
    let alerting: Arc<Alerting> = state.alerting.clone();
    let now = alerting.clock.now_ns();
    let result = tokio::task::spawn_blocking(move || {
        let esc = &alerting.escalator;
        let comment = comment.as_deref();
        match esc.ack_with_comment(&id, &by, comment, now) {
            Err(AckError::UnknownIncident(_)) if Fingerprint::parse(&id).is_some() => {
                let fp = Fingerprint::parse(&id).unwrap_or(Fingerprint(0));
                esc.ack_by_fingerprint_with_comment(fp, &by, comment, now)
            }
            other => other.map(|v| vec![v]),
        }
    })
    .await;
    match result {
        Ok(Ok(views)) => Json(json!({ "acknowledged": views })).into_response(),
        Ok(Err(e)) => ack_error(e),
        Err(e) => internal_error(format!("acknowledgement: {e}")),
    }
}

/// Resolves an incident by hand (by its id): escalation stops and the incident closes.
async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<AckBody>>,
) -> Response {
    let (by, comment) = who_and_why(body);
    let alerting: Arc<Alerting> = state.alerting.clone();
    let now = alerting.clock.now_ns();
    let result = tokio::task::spawn_blocking(move || {
        alerting
            .escalator
            .resolve(&id, &by, comment.as_deref(), now)
    })
    .await;
    match result {
        Ok(Ok(view)) => Json(json!({ "resolved": view })).into_response(),
        Ok(Err(e)) => ack_error(e),
        Err(e) => internal_error(format!("resolve: {e}")),
    }
}

async fn notifications(State(state): State<AppState>, Query(f): Query<LogFilter>) -> Response {
    Json(json!({ "notifications": state.alerting.notifier.log().list(&f) })).into_response()
}

async fn reload(State(state): State<AppState>) -> Response {
    let alerting = state.alerting.clone();
    match tokio::task::spawn_blocking(move || alerting.reload()).await {
        Ok(Ok(msg)) => Json(json!({ "status": "success", "message": msg })).into_response(),
        Ok(Err(errors)) => bad_request(errors),
        Err(e) => internal_error(format!("reload: {e}")),
    }
}

/// `GET|POST /api/v1/ack/{token}`: the e-mail's one-click acknowledgement.
pub fn ack_link_router(alerting: Arc<Alerting>) -> Router {
    Router::new()
        .route("/api/v1/ack/{token}", get(ack_link).post(ack_link))
        .with_state(alerting)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} · Pharos</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>{t}</h1><p>{b}</p></body></html>",
        t = escape(title),
        b = escape(body)
    );
    (status, Html(html)).into_response()
}

async fn ack_link(State(alerting): State<Arc<Alerting>>, Path(token): Path<String>) -> Response {
    let now = alerting.clock.now_ns();
    let a = alerting.clone();
    let result = tokio::task::spawn_blocking(move || a.escalator.ack_with_token(&token, now)).await;
    match result {
        Ok(Ok(v)) => page(
            StatusCode::OK,
            "Acknowledged",
            &format!(
                "Incident {} ({}) is acknowledged by {}; escalation has stopped.",
                v.id,
                v.group_labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                v.acked_by.as_deref().unwrap_or("you")
            ),
        ),
        Ok(Err(e)) => {
            let status = ack_error_status(&e);
            page(status, "Not acknowledged", &e.to_string())
        }
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not acknowledged",
            &e.to_string(),
        ),
    }
}

fn ack_error_status(e: &AckError) -> StatusCode {
    match e {
        AckError::InvalidToken => StatusCode::FORBIDDEN,
        AckError::Expired { .. } => StatusCode::GONE,
        AckError::UnknownIncident(_) | AckError::NoIncidentForAlert(_) => StatusCode::NOT_FOUND,
        AckError::AlreadyResolved { .. } => StatusCode::CONFLICT,
        AckError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
