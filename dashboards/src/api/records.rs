//! The request view (`/api/v1/correlate/{id}`), record context (`/api/v1/context/{record_id}`)
//! and field statistics (`/api/v1/fields`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use pharos_query::context::context;
use pharos_query::correlate::correlate;
use pharos_query::field_stats::{field_stats_limited, DEFAULT_MAX_FIELDS, DEFAULT_TOP};
use serde::Deserialize;

use super::{bad_request, run_query, time_params};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/correlate/{id}", get(correlate_handler))
        .route("/api/v1/context/{record_id}", get(context_handler))
        .route("/api/v1/fields", get(fields_handler))
}

/// Query parameters, or the message for a JSON 400 (axum's own rejection is plain text).
fn params<T>(p: Result<Query<T>, QueryRejection>) -> Result<T, String> {
    p.map(|Query(p)| p)
        .map_err(|e| format!("bad query parameters: {}", e.body_text()))
}

#[derive(Deserialize)]
struct CorrelateParams {
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
}

async fn correlate_handler(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Result<Query<CorrelateParams>, QueryRejection>,
) -> Response {
    let p = match params(p) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let (start_ns, end_ns) = match time_params(&p.start, &p.end) {
        Ok(range) => range,
        Err(e) => return bad_request(e),
    };
    let store = state.collector.store.clone();
    run_query("correlate", move || {
        correlate(&store, &id, start_ns, end_ns, p.limit)
    })
    .await
}

#[derive(Deserialize)]
struct ContextParams {
    before: Option<usize>,
    after: Option<usize>,
}

async fn context_handler(
    State(state): State<AppState>,
    Path(record_id): Path<String>,
    p: Result<Query<ContextParams>, QueryRejection>,
) -> Response {
    let p = match params(p) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    // Record ids are decimal strings in hits (they exceed JavaScript's safe integers).
    let Ok(record_id) = record_id.trim().parse::<u64>() else {
        return bad_request(format!(
            "record id {record_id:?} is not a record id (a decimal number)"
        ));
    };
    let store = state.collector.store.clone();
    run_query("context", move || {
        context(&store, record_id, p.before, p.after)
    })
    .await
}

#[derive(Deserialize)]
struct FieldsParams {
    start: Option<String>,
    end: Option<String>,
    top: Option<usize>,
    /// Most fields returned (the most common); the answer says when more exist.
    limit: Option<usize>,
}

async fn fields_handler(
    State(state): State<AppState>,
    p: Result<Query<FieldsParams>, QueryRejection>,
) -> Response {
    let p = match params(p) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let (start_ns, end_ns) = match time_params(&p.start, &p.end) {
        Ok(range) => range,
        Err(e) => return bad_request(e),
    };
    let store = state.collector.store.clone();
    let top = p.top.unwrap_or(DEFAULT_TOP);
    let limit = p.limit.unwrap_or(DEFAULT_MAX_FIELDS);
    run_query("fields", move || {
        field_stats_limited(&store, start_ns, end_ns, top, limit)
    })
    .await
}
