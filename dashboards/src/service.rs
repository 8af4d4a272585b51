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
    let min_free = ingestor.required_free_bytes();
    let wal_ok = !c.wal.is_broken();
    let index_ok = !indexer_failed && backlog < high_water;
    let disk_ok = free.map(|f| f >= min_free).unwrap_or(false);
    let m = &c.metric_ingestor;
    let metrics_backlog = m.backlog();
    let metrics_high_water = c.config.metrics.backlog_high_water;
    let metrics_ok = m.healthy() && metrics_backlog < metrics_high_water;
    let all_ok = wal_ok && index_ok && disk_ok && metrics_ok;
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
            "disk": {
                "ok": disk_ok,
                "free_bytes": free,
                "min_free_bytes": min_free,
                "reason": (!disk_ok).then(|| match free {
                    Some(f) => format!("ingest refused: the data dir's file system has {f} bytes free, below the {min_free} needed (ingest.min_free_disk_bytes, plus storage.reserve_bytes while the reserve is given back); queries, alerting and the UI are served"),
                    None => "the data dir's free space cannot be read".to_string(),
                }),
            },
            "metrics": {
                "ok": metrics_ok,
                "backlog_records": metrics_backlog,
                "backlog_high_water_records": metrics_high_water,
                "applied_lsn": m.applied_lsn(),
            },
        }
    });
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The registry as OpenMetrics text, with the gauges read at this moment set first.
fn render_metrics(state: &AppState) -> Result<String, std::fmt::Error> {
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
    prometheus_client::encoding::text::encode(&mut out, &state.registry)?;
    Ok(out)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let out = match render_metrics(&state) {
        Ok(out) => out,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding metrics: {e}"),
            )
                .into_response()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus_text(&out),
    )
        .into_response()
}

/// Pharos observing itself: every `interval`, what `/metrics` shows is written to its own
/// metrics store as `{job="pharos", instance}` (durable, with rollups and retention, like any
/// scraped target), so the built-in "Pharos" dashboard and rules can use PromQL over its own
/// history. Ends when `stop` turns true.
pub async fn scrape_self(
    state: AppState,
    instance: String,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|v| *v) => return,
        }
        let text = match render_metrics(&state) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "self-scrape: encoding metrics failed");
                continue;
            }
        };
        let now_ms = state.collector.clock.now_ns() / 1_000_000;
        let target = [("job", "pharos"), ("instance", instance.as_str())];
        match pharos_collector::ingest::metrics::exposition::to_batch(&text, now_ms, &target) {
            Ok(batch) => {
                if let Err(e) = state.collector.metrics_ingest.append_internal(batch).await {
                    tracing::warn!(error = %e, "self-scrape: samples not written to the metrics store");
                }
            }
            Err(e) => tracing::warn!(error = %e, "self-scrape: own metrics did not parse"),
        }
    }
}

/// prometheus-client writes OpenMetrics (a counter family `x` with samples `x_total`, `# EOF`),
/// but `/metrics` is served as the classic text format 0.0.4, which every scraper and
/// `promtool check metrics` read: there a counter's HELP and TYPE name the `_total` samples,
/// and `# UNIT` / `# EOF` do not exist.
fn prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let lines: Vec<&str> = openmetrics.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line == "# EOF" || line.starts_with("# UNIT ") {
            i += 1;
            continue;
        }
        // A HELP followed by a counter TYPE: rename both to the `_total` samples' name.
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            let is_counter = lines
                .get(i + 1)
                .is_some_and(|t| *t == format!("# TYPE {name} counter"));
            if is_counter && !name.ends_with("_total") {
                out.push_str(&format!("# HELP {name}_total{}\n", &rest[name.len()..]));
                out.push_str(&format!("# TYPE {name}_total counter\n"));
                i += 2;
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::prometheus_text;

    #[test]
    fn counters_are_named_by_their_total_samples_and_openmetrics_markers_go() {
        let om = "# HELP reqs Requests.\n# TYPE reqs counter\nreqs_total{a=\"1\"} 2\n\
                  # HELP lat Latency.\n# TYPE lat histogram\n# UNIT lat seconds\nlat_count 1\n# EOF\n";
        assert_eq!(
            prometheus_text(om),
            "# HELP reqs_total Requests.\n# TYPE reqs_total counter\nreqs_total{a=\"1\"} 2\n\
             # HELP lat Latency.\n# TYPE lat histogram\nlat_count 1\n"
        );
    }
}
