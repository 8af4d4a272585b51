//! HTTP metrics ingest: Prometheus remote write 1.0 at `POST /api/v1/write` and OTLP/HTTP at
//! `POST /v1/metrics` (protobuf or JSON), with the bearer-token check and body limits of log
//! ingest.
//!
//! Remote write answers (a sender retries 5xx and 429, and drops anything else):
//! * 204: stored; also when the store's limits refused some series (they are counted in
//!   `pharos_metric_samples_rejected_total{reason="limit"}` and logged), since a 4xx would
//!   make the sender drop the whole request for good and retrying cannot help;
//! * 400 with the series and reasons as text: some series were invalid (bad metric or label
//!   names, duplicate labels, no `__name__`), unsupported (native histograms) or refused by
//!   the store as Prometheus refuses them (out of order, duplicate timestamp, older than the
//!   raw retention, more than `metrics.max_future_secs` ahead) — the valid
//!   series of the request *were* stored, as the spec allows; or the body is not snappy or not
//!   a `WriteRequest`;
//! * 401 wrong or missing token; 413 body over `ingest.max_body_bytes` (as sent or
//!   decompressed); 415 without `Content-Encoding: snappy`, or for Remote-Write 2.0;
//! * 429 with `Retry-After` under backpressure; 503 with `Retry-After` when storage fails.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use super::remote_write::{self, DecodeError};
use super::MetricsIngest;
use crate::ingest::http::{
    authorized, body_error_status, content_encoding, content_type, otlp_error, otlp_reply,
    read_otlp, read_raw_body, with_retry_after, OtlpReadError,
};
use crate::ingest::{IngestError, ENDPOINT_OTLP_HTTP};

/// What the metrics ingest handlers share.
#[derive(Clone)]
pub struct MetricsIngestState {
    pub ingest: Arc<MetricsIngest>,
    /// When set, ingest requests must carry `Authorization: Bearer <token>`.
    pub ingest_token: Option<Arc<str>>,
}

/// `POST /api/v1/write` and `POST /v1/metrics`, for the main API port.
pub fn router(state: MetricsIngestState) -> Router {
    Router::new()
        .route("/api/v1/write", post(remote_write_handler))
        .route("/v1/metrics", post(otlp_handler))
        .with_state(state)
}

/// Only `POST /v1/metrics`, for the dedicated OTLP/HTTP port.
pub fn otlp_router(state: MetricsIngestState) -> Router {
    Router::new()
        .route("/v1/metrics", post(otlp_handler))
        .with_state(state)
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response()
}

/// Remote-Write 2.0 senders name their message in the Content-Type's `proto` parameter.
fn remote_write_v2(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').skip(1).any(|param| {
                param.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"') != "prometheus.WriteRequest"
                })
            })
        })
}

async fn remote_write_handler(
    State(state): State<MetricsIngestState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !authorized(&headers, state.ingest_token.as_deref()) {
        return text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong ingest token (Authorization: Bearer …)",
        );
    }
    let encoding = content_encoding(&headers)
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if encoding != "snappy" {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "remote write bodies must be snappy-compressed (block format) with \
                 Content-Encoding: snappy; got Content-Encoding {encoding:?}"
            ),
        );
    }
    let ctype = content_type(&headers);
    if !matches!(ctype.as_str(), "" | "application/x-protobuf") || remote_write_v2(&headers) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {:?}: Pharos takes Prometheus Remote-Write 1.0 \
                 (application/x-protobuf, prometheus.WriteRequest)",
                headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
            ),
        );
    }
    let ingest = &state.ingest;
    let limit = ingest.max_body_bytes();
    let raw = match read_raw_body(body, limit).await {
        Ok(b) => b,
        Err(e) => return text(body_error_status(&e), e.to_string()),
    };
    let req = match remote_write::decode(&raw, limit) {
        Ok(r) => r,
        Err(e @ DecodeError::TooLarge { .. }) => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match ingest.remote_write(&req).await {
        Ok(outcome) if outcome.invalid.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Ok(outcome) => {
            let n = outcome.invalid.len();
            let mut msg = format!(
                "{n} series not stored ({} samples of the other series were): ",
                outcome.report.accepted_samples
            );
            let listed: Vec<String> = outcome
                .invalid
                .iter()
                .take(10)
                .map(|r| format!("{}: {}", r.series, r.reason))
                .collect();
            msg.push_str(&listed.join("; "));
            if n > 10 {
                msg.push_str(&format!("; and {} more", n - 10));
            }
            text(StatusCode::BAD_REQUEST, msg)
        }
        Err(
            e @ IngestError::Backpressure {
                retry_after_secs, ..
            },
        ) => with_retry_after(
            text(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            retry_after_secs,
        ),
        Err(e) => {
            tracing::error!(error = %e, "remote write ingest failed");
            with_retry_after(text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()), 5)
        }
    }
}

async fn otlp_handler(
    State(state): State<MetricsIngestState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let enc = match crate::ingest::http::otlp_encoding_and_auth(
        &headers,
        state.ingest_token.as_deref(),
    ) {
        Ok(enc) => enc,
        Err(resp) => return resp,
    };
    let ingest = &state.ingest;
    let request = match read_otlp::<ExportMetricsServiceRequest>(
        body,
        &headers,
        enc,
        ingest.max_body_bytes(),
    )
    .await
    {
        Ok((r, _)) => r,
        Err(OtlpReadError::Body(resp) | OtlpReadError::Decode(resp)) => return resp,
    };
    match ingest.export_otlp(&request, ENDPOINT_OTLP_HTTP).await {
        Ok(resp) => otlp_reply(StatusCode::OK, enc, &resp),
        Err(
            e @ IngestError::Backpressure {
                retry_after_secs, ..
            },
        ) => with_retry_after(
            otlp_error(
                StatusCode::TOO_MANY_REQUESTS,
                enc,
                tonic::Code::ResourceExhausted,
                e.to_string(),
            ),
            retry_after_secs,
        ),
        Err(e) => {
            tracing::error!(error = %e, "OTLP metrics ingest failed");
            with_retry_after(
                otlp_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    enc,
                    tonic::Code::Unavailable,
                    e.to_string(),
                ),
                5,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ctype: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, ctype.parse().expect("header"));
        h
    }

    #[test]
    fn remote_write_2_is_recognised_by_its_proto_parameter() {
        assert!(!remote_write_v2(&headers("application/x-protobuf")));
        assert!(!remote_write_v2(&headers(
            "application/x-protobuf;proto=prometheus.WriteRequest"
        )));
        assert!(remote_write_v2(&headers(
            "application/x-protobuf;proto=io.prometheus.write.v2.Request"
        )));
        assert!(remote_write_v2(&headers(
            "application/x-protobuf; Proto=\"io.prometheus.write.v2.Request\""
        )));
    }
}
