//! Stored dashboards (docs/dashboards.md): list, create, read, update with optimistic
//! concurrency, delete, versions and restore, export as a file, and Grafana import. Built-in
//! and provisioned dashboards are read-only here (409 naming why).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pharos_collector::clock::rfc3339;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::internal_error;
use crate::boards::model::{self, Dashboard, MAX_DOCUMENT_BYTES};
use crate::boards::store::{StoreError, Stored};
use crate::boards::{grafana, Boards, BoardsError, Entry};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/dashboards", get(list).post(create))
        .route("/api/v1/dashboards/import/grafana", post(import_grafana))
        .route(
            "/api/v1/dashboards/{uid}",
            get(read).put(update).delete(remove),
        )
        .route("/api/v1/dashboards/{uid}/versions", get(versions))
        .route("/api/v1/dashboards/{uid}/versions/{n}", get(version))
        .route(
            "/api/v1/dashboards/{uid}/versions/{n}/restore",
            post(restore),
        )
        .route("/api/v1/dashboards/{uid}/export", get(export))
        // A document is at most 1 MiB; so is a save or an import body (the handlers answer
        // the limit's rejection with a JSON 413).
        .layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES))
}

/// A refused request: its status and JSON body (small, unlike a `Response`, so the helpers
/// below can return it in their `Err`).
struct Refusal(StatusCode, Value);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn error(status: StatusCode, msg: impl Into<String>) -> Refusal {
    Refusal(status, json!({"error": msg.into()}))
}

fn boards_error(e: BoardsError) -> Refusal {
    match e {
        BoardsError::Invalid(m) => Refusal(
            StatusCode::BAD_REQUEST,
            json!({"error": m.to_string(), "path": m.path}),
        ),
        BoardsError::BadRequest(m) => error(StatusCode::BAD_REQUEST, m),
        BoardsError::ReadOnly(m) => error(StatusCode::CONFLICT, m),
        BoardsError::Store(e) => match e {
            StoreError::Exists(_) => error(StatusCode::CONFLICT, e.to_string()),
            StoreError::Conflict { current, .. } => Refusal(
                StatusCode::CONFLICT,
                json!({"error": e.to_string(), "current_version": current}),
            ),
            StoreError::NotFound(_) | StoreError::NoVersion { .. } => {
                error(StatusCode::NOT_FOUND, e.to_string())
            }
            StoreError::Storage(_) | StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "dashboard store failed");
                error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        },
    }
}

/// Runs store work (sled reads and durable writes) off the async workers.
async fn blocking<T: Send + 'static>(
    boards: &Arc<Boards>,
    work: impl FnOnce(&Boards) -> Result<T, BoardsError> + Send + 'static,
) -> Result<T, Refusal> {
    let boards = boards.clone();
    match tokio::task::spawn_blocking(move || work(&boards)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(boards_error(e)),
        Err(e) => {
            tracing::error!(error = %e, "dashboard task failed");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        }
    }
}

/// The body as JSON, or the response that says why not (413 over the limit).
fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, Refusal> {
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is over the {MAX_DOCUMENT_BYTES}-byte limit of a dashboard"),
            )
        } else {
            error(r.status(), r.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// `{"dashboard": {...}, "message": "...", "version": N}`: the keys a request may carry.
struct SaveBody {
    dashboard: Dashboard,
    message: String,
    version: Option<u32>,
}

fn save_body(value: Value, want_version: bool) -> Result<SaveBody, Refusal> {
    let Value::Object(mut o) = value else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object {\"dashboard\": {...}, \"message\": \"...\"}",
        ));
    };
    let allowed: &[&str] = if want_version {
        &["dashboard", "message", "version"]
    } else {
        &["dashboard", "message"]
    };
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{k}: unknown field"),
        ));
    }
    let message = match o.remove("message") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.len() <= 1000 => s,
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "message: must be a string of at most 1000 bytes",
            ))
        }
    };
    let version = match o.remove("version") {
        None if want_version => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "version: required (the version the edit started from)",
            ))
        }
        None => None,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "version: must be a positive integer",
                ))
            }
        },
    };
    let Some(doc) = o.remove("dashboard") else {
        return Err(error(StatusCode::BAD_REQUEST, "dashboard: required"));
    };
    let dashboard = model::parse_value(doc).map_err(|e| boards_error(e.into()))?;
    Ok(SaveBody {
        dashboard,
        message,
        version,
    })
}

fn saved(status: StatusCode, s: &Stored) -> Response {
    (
        status,
        Json(json!({
            "uid": s.dashboard.uid,
            "version": s.version,
            "updated_at": rfc3339(s.updated_at_ns),
        })),
    )
        .into_response()
}

async fn list(State(state): State<AppState>) -> Response {
    let (entries, errors) = match blocking(&state.boards, |b| b.list()).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let dashboards: Vec<Value> = entries
        .iter()
        .map(|e| {
            let d = &e.stored.dashboard;
            let mut v = json!({
                "uid": d.uid,
                "title": d.title,
                "tags": d.tags,
                "version": e.stored.version,
                "updated_at": rfc3339(e.stored.updated_at_ns),
                "source": e.source.name(),
                "panels": d.panels.len(),
            });
            if let Some(p) = e.source.path() {
                v["path"] = json!(p);
            }
            v
        })
        .collect();
    Json(json!({"dashboards": dashboards, "errors": errors})).into_response()
}

async fn create(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body).and_then(|v| save_body(v, false)) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match blocking(&state.boards, move |b| {
        b.create(body.dashboard, body.message)
    })
    .await
    {
        Ok(s) => saved(StatusCode::CREATED, &s),
        Err(r) => r.into_response(),
    }
}

fn entry_json(e: &Entry) -> Value {
    let mut v = json!({
        "dashboard": e.stored.dashboard,
        "version": e.stored.version,
        "updated_at": rfc3339(e.stored.updated_at_ns),
        "message": e.stored.message,
        "source": e.source.name(),
    });
    if let Some(p) = e.source.path() {
        v["path"] = json!(p);
    }
    v
}

async fn read(State(state): State<AppState>, Path(uid): Path<String>) -> Response {
    match blocking(&state.boards, move |b| b.get(&uid)).await {
        Ok(e) => Json(entry_json(&e)).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn update(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(body).and_then(|v| save_body(v, true)) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let version = body.version.unwrap_or(0);
    match blocking(&state.boards, move |b| {
        b.update(&uid, body.dashboard, version, body.message)
    })
    .await
    {
        Ok(s) => saved(StatusCode::OK, &s),
        Err(r) => r.into_response(),
    }
}

async fn remove(State(state): State<AppState>, Path(uid): Path<String>) -> Response {
    match blocking(&state.boards, move |b| b.delete(&uid)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r.into_response(),
    }
}

async fn versions(State(state): State<AppState>, Path(uid): Path<String>) -> Response {
    match blocking(&state.boards, move |b| b.versions(&uid)).await {
        Ok(vs) => {
            let versions: Vec<Value> = vs
                .iter()
                .map(|s| {
                    json!({
                        "version": s.version,
                        "updated_at": rfc3339(s.updated_at_ns),
                        "message": s.message,
                        "panels": s.dashboard.panels.len(),
                    })
                })
                .collect();
            Json(json!({"versions": versions})).into_response()
        }
        Err(r) => r.into_response(),
    }
}

fn version_number(n: &str) -> Result<u32, Refusal> {
    n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            format!("version: {n:?} is not a positive integer"),
        )
    })
}

async fn version(
    State(state): State<AppState>,
    Path((uid, n)): Path<(String, String)>,
) -> Response {
    let n = match version_number(&n) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    match blocking(&state.boards, move |b| b.version(&uid, n)).await {
        Ok(s) => Json(json!({
            "dashboard": s.dashboard,
            "version": s.version,
            "updated_at": rfc3339(s.updated_at_ns),
            "message": s.message,
        }))
        .into_response(),
        Err(r) => r.into_response(),
    }
}

async fn restore(
    State(state): State<AppState>,
    Path((uid, n)): Path<(String, String)>,
) -> Response {
    let n = match version_number(&n) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    match blocking(&state.boards, move |b| b.restore(&uid, n)).await {
        Ok(s) => saved(StatusCode::OK, &s),
        Err(r) => r.into_response(),
    }
}

async fn export(State(state): State<AppState>, Path(uid): Path<String>) -> Response {
    let entry = match blocking(&state.boards, move |b| b.get(&uid)).await {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    let d = &entry.stored.dashboard;
    let body = match serde_json::to_string_pretty(d) {
        Ok(b) => b,
        Err(e) => return internal_error(e.to_string()),
    };
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            // The uid is [A-Za-z0-9_-] only: nothing to escape in the header.
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.json\"", d.uid),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct ImportParams {
    save: Option<String>,
    overwrite: Option<String>,
}

fn flag(name: &str, v: &Option<String>) -> Result<bool, Refusal> {
    match v.as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("parameter {name}: {other:?} is not true or false"),
        )),
    }
}

async fn import_grafana(
    State(state): State<AppState>,
    Query(params): Query<ImportParams>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (save, overwrite) = match (
        flag("save", &params.save),
        flag("overwrite", &params.overwrite),
    ) {
        (Ok(s), Ok(o)) => (s, o),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let value = match json_body(body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let imported = match grafana::import(&value) {
        Ok(i) => i,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut out = Map::new();
    out.insert("dashboard".into(), json!(imported.dashboard));
    out.insert("skipped".into(), json!(imported.skipped));
    out.insert("warnings".into(), json!(imported.warnings));
    if save {
        let dashboard = imported.dashboard;
        match blocking(&state.boards, move |b| b.save_import(dashboard, overwrite)).await {
            Ok(s) => {
                out.insert("version".into(), json!(s.version));
                out.insert("updated_at".into(), json!(rfc3339(s.updated_at_ns)));
            }
            Err(r) => return r.into_response(),
        }
    }
    Json(Value::Object(out)).into_response()
}
