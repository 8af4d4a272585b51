//! `/health` (liveness), `/ready` (per component) and `/metrics` (Prometheus text).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> Response {
    let c = &state.collector;
    let ingestor = &c.ingestor;
    let indexer_failed = c.progress().failed.load(Ordering::SeqCst);
    let backlog = ingestor.backlog();
    let high_water = ingestor.settings().backlog_high_water_records;
    let free = ingestor.disk_free();
    let min_free = ingestor.settings().min_free_disk_bytes;
    let wal_ok = !c.wal.is_broken();
    let index_ok = !indexer_failed && backlog < high_water;
    let disk_ok = free.map(|f| f >= min_free).unwrap_or(false);
    let all_ok = wal_ok && index_ok && disk_ok;
    let body = json!({
        "status": if all_ok { "ready" } else { "not_ready" },
        "components": {
            "wal": {"ok": wal_ok, "durable_lsn": c.wal.durable_lsn(), "bytes": c.wal.disk_bytes()},
            "index": {
                "ok": index_ok,
                "indexer_failed": indexer_failed,
                "backlog_records": backlog,
                "backlog_high_water_records": high_water,
                "committed_lsn": c.progress().committed_lsn.load(Ordering::SeqCst),
                "partitions": c.store.all().len(),
            },
            "disk": {"ok": disk_ok, "free_bytes": free, "min_free_bytes": min_free},
        }
    });
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let c = &state.collector;
    c.metrics
        .index_backlog_records
        .set(c.ingestor.backlog() as i64);
    c.metrics.wal_bytes.set(c.wal.disk_bytes() as i64);
    // Walking the partition directories costs a few dozen stat calls: cheap at scrape rate.
    c.metrics
        .disk_used_bytes
        .set((c.store.disk_bytes() + c.wal.disk_bytes()) as i64);
    c.metrics.partitions.set(c.store.all().len() as i64);
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
