//! Health checks: `GET /api/v1/checks`, `GET /api/v1/checks/{id}/uptime` (behind the API
//! token), and the heartbeat ping `POST|GET /api/v1/heartbeat/{id}` (behind the ingest token,
//! so cron jobs need only the token they already have for shipping logs).

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pharos_alertmanager::checks::heartbeat::PingError;
use pharos_alertmanager::checks::ledger::Uptime;
use pharos_alertmanager::Checker;
use pharos_collector::clock::{rfc3339, NANOS_PER_DAY};
use pharos_collector::ingest::http::authorized;
use serde::Deserialize;
use serde_json::json;

use super::{bad_request, internal_error, parse_time_param};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/checks", get(list))
        .route("/api/v1/checks/{id}/uptime", get(uptime))
        .route("/api/v1/checks/{id}/daily", get(daily))
}

/// Every check with its state, last result and uptime over 24 h, 7 d, 30 d and 90 d.
async fn list(State(state): State<AppState>) -> Response {
    let checker = state.checker.clone();
    let result = tokio::task::spawn_blocking(move || {
        const WINDOWS: [(&str, i64); 4] = [
            ("24h", NANOS_PER_DAY),
            ("7d", 7 * NANOS_PER_DAY),
            ("30d", 30 * NANOS_PER_DAY),
            ("90d", 90 * NANOS_PER_DAY),
        ];
        let spans: Vec<i64> = WINDOWS.iter().map(|w| w.1).collect();
        checker
            .list()
            .into_iter()
            .map(|c| {
                let uptime = match checker.uptime_windows(&c.id, &spans) {
                    Some(Ok(u)) => WINDOWS
                        .iter()
                        .zip(&u)
                        .map(|((name, _), u)| (name.to_string(), json!(u.uptime_percent)))
                        .collect::<serde_json::Map<_, _>>(),
                    _ => serde_json::Map::new(),
                };
                let mut v = serde_json::to_value(&c).unwrap_or_default();
                v["uptime_percent"] = serde_json::Value::Object(uptime);
                v
            })
            .collect::<Vec<_>>()
    })
    .await;
    match result {
        Ok(checks) => Json(json!({ "checks": checks })).into_response(),
        Err(e) => internal_error(e.to_string()),
    }
}

#[derive(Deserialize)]
struct DailyParams {
    days: Option<usize>,
    /// An IANA time zone whose midnights bound the days (default UTC).
    tz: Option<String>,
}

/// `GET /api/v1/checks/{id}/daily?days=90&tz=Europe/Berlin`: each day's uptime (UTC days
/// unless `tz` names a time zone), oldest first, the last being today so far (the 90 bars).
async fn daily(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<DailyParams>,
) -> Response {
    let days = p.days.unwrap_or(90);
    if !(1..=400).contains(&days) {
        return bad_request("parameter days: between 1 and 400");
    }
    let tz = match p.tz.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(tz) => tz,
            Err(_) => {
                return bad_request(format!(
                    "parameter tz: unknown time zone {name:?} (an IANA name such as Europe/Berlin)"
                ))
            }
        },
    };
    let checker = state.checker.clone();
    let id2 = id.clone();
    let tz2 = tz.clone();
    match tokio::task::spawn_blocking(move || checker.daily_uptime_in(&id2, days, &tz2)).await {
        Ok(None) => not_found(format!("no check {id:?}")),
        Ok(Some(Ok(list))) => Json(json!({
            "id": id,
            "days": list
                .iter()
                .map(|u| json!({
                    "date": jiff::Timestamp::from_nanosecond(i128::from(u.from_ns))
                        .map(|t| t.to_zoned_datetime(tz.clone()).date().to_string())
                        .unwrap_or_else(|_| rfc3339(u.from_ns)[..10].to_string()),
                    "uptime_percent": u.uptime_percent,
                    "downtime_secs": u.downtime_secs,
                    "unknown_secs": u.unknown_secs,
                    "incidents": u.incidents.len(),
                }))
                .collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(Some(Err(e))) => internal_error(e.to_string()),
        Err(e) => internal_error(e.to_string()),
    }
}

fn not_found(msg: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": msg}))).into_response()
}

#[derive(Deserialize)]
struct UptimeParams {
    from: Option<String>,
    to: Option<String>,
}

/// `from` defaults to 30 days before `to`; `to` to now (and is clipped to now).
async fn uptime(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<UptimeParams>,
) -> Response {
    let (from, to) = match (
        parse_time_param("from", &p.from),
        parse_time_param("to", &p.to),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let now = state.checker.clock().now_ns();
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to.saturating_sub(30 * NANOS_PER_DAY));
    if from > to {
        return bad_request("parameter from: after to");
    }
    let checker = state.checker.clone();
    let id2 = id.clone();
    match tokio::task::spawn_blocking(move || checker.uptime(&id2, from, to)).await {
        Ok(None) => not_found(format!("no check {id:?}")),
        Ok(Some(Ok(u))) => Json(uptime_json(&id, &u)).into_response(),
        Ok(Some(Err(e))) => internal_error(e.to_string()),
        Err(e) => internal_error(e.to_string()),
    }
}

fn uptime_json(id: &str, u: &Uptime) -> serde_json::Value {
    let incidents: Vec<_> = u
        .incidents
        .iter()
        .map(|i| {
            json!({
                "start": rfc3339(i.start_ns),
                "end": i.end_ns.map(rfc3339),
                "open": i.end_ns.is_none(),
                "duration_secs": i.duration_secs,
                "reason": i.reason,
                "status": i.status,
                "latency_ms": i.latency_ms,
            })
        })
        .collect();
    json!({
        "id": id,
        "from": rfc3339(u.from_ns),
        "to": rfc3339(u.to_ns),
        "uptime_percent": u.uptime_percent,
        "up_secs": u.up_secs,
        "downtime_secs": u.downtime_secs,
        "unknown_secs": u.unknown_secs,
        "incidents": incidents,
    })
}

#[derive(Clone)]
struct HeartbeatState {
    checker: Arc<Checker>,
    ingest_token: Option<Arc<str>>,
}

async fn require_ingest_token(
    State(state): State<HeartbeatState>,
    req: Request,
    next: Next,
) -> Response {
    if authorized(req.headers(), state.ingest_token.as_deref()) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "missing or wrong ingest token (Authorization: Bearer …)"})),
        )
            .into_response()
    }
}

/// `POST|GET /api/v1/heartbeat/{id}`, behind the ingest token.
pub fn heartbeat_router(checker: Arc<Checker>, ingest_token: Option<Arc<str>>) -> Router {
    let state = HeartbeatState {
        checker,
        ingest_token,
    };
    Router::new()
        .route("/api/v1/heartbeat/{id}", get(ping).post(ping))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_ingest_token,
        ))
        .with_state(state)
}

async fn ping(State(state): State<HeartbeatState>, Path(id): Path<String>) -> Response {
    // The ledger write on a change is a short fsync.
    let checker = state.checker.clone();
    let id2 = id.clone();
    match tokio::task::spawn_blocking(move || checker.ping(&id2)).await {
        Ok(Ok(s)) => Json(json!({"id": id, "state": s})).into_response(),
        Ok(Err(e @ (PingError::Unknown(_) | PingError::NotHeartbeat(..)))) => {
            not_found(format!("no heartbeat check {id:?} ({e})"))
        }
        Err(e) => internal_error(e.to_string()),
    }
}
