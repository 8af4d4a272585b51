//! HTTP ingest: `POST /api/v1/logs` (NDJSON or a JSON array) and OTLP/HTTP `POST /v1/logs`
//! (protobuf or JSON), answered per the OTLP spec.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use serde::Serialize;

use super::body::{decode_body, BodyError};
use super::{IngestError, Ingestor, ENDPOINT_NDJSON, ENDPOINT_OTLP_HTTP};
use crate::clock::SharedClock;
use crate::normalize::{otlp_to_records, parse_json_body, JsonLimits, Rejection};

/// What the ingest handlers share.
#[derive(Clone)]
pub struct IngestState {
    pub ingestor: Arc<Ingestor>,
    /// When set, ingest requests must carry `Authorization: Bearer <token>`.
    pub ingest_token: Option<Arc<str>>,
    pub clock: SharedClock,
}

/// `POST /api/v1/logs` and `POST /v1/logs`, for the main API port.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/api/v1/logs", post(ingest_json))
        .route("/v1/logs", post(ingest_otlp))
        .with_state(state)
}

/// Only the OTLP/HTTP paths, for the dedicated OTLP/HTTP port.
pub fn otlp_router(state: IngestState) -> Router {
    Router::new()
        .route("/v1/logs", post(ingest_otlp))
        .with_state(state)
}

/// Checks a bearer token in constant time. `None` configured = open.
pub fn authorized(headers: &HeaderMap, token: Option<&str>) -> bool {
    bearer_matches(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        token,
    )
}

/// True when `authorization` is `Bearer <token>` (scheme in any case, RFC 7235) for the
/// configured token, compared in constant time; always true when no token is configured.
pub fn bearer_matches(authorization: Option<&str>, token: Option<&str>) -> bool {
    let Some(expected) = token else { return true };
    let Some(value) = authorization.map(str::trim) else {
        return false;
    };
    let Some((scheme, got)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(got.trim().as_bytes(), expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

pub(crate) fn json_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: msg.into() })).into_response()
}

pub(crate) fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

pub(crate) fn body_error_status(e: &BodyError) -> StatusCode {
    match e {
        BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        BodyError::Corrupt { .. } => StatusCode::BAD_REQUEST,
    }
}

/// Reads the body, refusing more than `limit` bytes as sent, and decodes its
/// `Content-Encoding`, refusing more than `limit` bytes decompressed.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let raw = read_raw_body(body, limit).await?;
    decode_body(content_encoding(headers), raw, limit)
}

/// Reads the body as sent, refusing more than `limit` bytes.
pub(crate) async fn read_raw_body(body: Body, limit: usize) -> Result<bytes::Bytes, BodyError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
            .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            BodyError::TooLarge {
                limit,
                decompressed: false,
            }
        } else {
            BodyError::Corrupt {
                encoding: "request",
                reason: e.to_string(),
            }
        }
    })
}

pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

pub(crate) fn content_encoding(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
}

#[derive(Serialize)]
struct IngestReply {
    accepted: usize,
    rejected: Vec<Rejection>,
}

const JSON_TYPES: &[&str] = &[
    "",
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "text/plain",
    // curl's default for -d; accepted so the quickstart's `curl --data-binary` works as is.
    "application/x-www-form-urlencoded",
];

async fn ingest_json(State(state): State<IngestState>, headers: HeaderMap, body: Body) -> Response {
    if !authorized(&headers, state.ingest_token.as_deref()) {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong ingest token (Authorization: Bearer …)",
        );
    }
    let ctype = content_type(&headers);
    if !JSON_TYPES.contains(&ctype.as_str()) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {ctype:?}: send application/x-ndjson or application/json (OTLP goes to /v1/logs)"),
        );
    }
    let ingestor = &state.ingestor;
    let limit = ingestor.settings().max_body_bytes;
    let body = match read_body(body, &headers, limit).await {
        Ok(b) => b,
        Err(e) => return json_error(body_error_status(&e), e.to_string()),
    };
    let limits = JsonLimits {
        max_line_bytes: ingestor.settings().max_line_bytes,
    };
    let mut parsed = match parse_json_body(&body, state.clock.now_ns(), &limits) {
        Ok(p) => p,
        Err(e) => {
            ingestor.count_rejected(ENDPOINT_NDJSON, 1);
            return json_error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    if parsed.records.is_empty() && parsed.rejected.is_empty() {
        return json_error(StatusCode::BAD_REQUEST, "empty body: no log records");
    }
    ingestor.reject_out_of_range(&mut parsed);
    ingestor.count_rejected(ENDPOINT_NDJSON, parsed.rejected.len());
    if let Err(e) = ingestor
        .append(&parsed.records, ENDPOINT_NDJSON, body.len())
        .await
    {
        return ingest_error_response(e);
    }
    // Loki's convention: the valid records are stored, and any rejection makes the answer a
    // 400 that lists them, so a client never mistakes a partly bad batch for a clean one.
    let status = if parsed.rejected.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        Json(IngestReply {
            accepted: parsed.records.len(),
            rejected: parsed.rejected,
        }),
    )
        .into_response()
}

fn ingest_error_response(e: IngestError) -> Response {
    match e {
        IngestError::Backpressure {
            retry_after_secs, ..
        } => with_retry_after(
            json_error(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            retry_after_secs,
        ),
        other => {
            tracing::error!(error = %other, "ingest failed");
            with_retry_after(
                json_error(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
                5,
            )
        }
    }
}

/// `google.rpc.Status`, which OTLP/HTTP error responses carry.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum OtlpEncoding {
    Protobuf,
    Json,
}

pub(crate) fn otlp_reply<T: Message + Serialize>(
    status: StatusCode,
    enc: OtlpEncoding,
    msg: &T,
) -> Response {
    match enc {
        OtlpEncoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            msg.encode_to_vec(),
        )
            .into_response(),
        OtlpEncoding::Json => (status, Json(msg)).into_response(),
    }
}

pub(crate) fn otlp_error(
    status: StatusCode,
    enc: OtlpEncoding,
    grpc_code: tonic::Code,
    message: String,
) -> Response {
    otlp_reply(
        status,
        enc,
        &RpcStatus {
            code: grpc_code as i32,
            message,
        },
    )
}

/// The start of every OTLP/HTTP request (logs and metrics): the token first (an
/// unauthenticated caller learns nothing about the endpoint), then the encoding from the
/// Content-Type, or the response that refuses the request.
#[allow(clippy::result_large_err)] // the error is the final response, built once per request
pub(crate) fn otlp_encoding_and_auth(
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<OtlpEncoding, Response> {
    let ctype = content_type(headers);
    let enc = match ctype.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(OtlpEncoding::Protobuf),
        "application/json" => Some(OtlpEncoding::Json),
        _ => None,
    };
    if !authorized(headers, token) {
        return Err(otlp_error(
            StatusCode::UNAUTHORIZED,
            enc.unwrap_or(OtlpEncoding::Json),
            tonic::Code::Unauthenticated,
            "missing or wrong ingest token".into(),
        ));
    }
    enc.ok_or_else(|| {
        json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {ctype:?}: OTLP/HTTP takes application/x-protobuf or application/json"),
        )
    })
}

/// Why an OTLP/HTTP body was not read: the body itself (size, encoding), or its decoding.
pub(crate) enum OtlpReadError {
    Body(Response),
    Decode(Response),
}

/// Reads and decodes an OTLP/HTTP request body (logs and metrics): decompression and the
/// size limit, then protobuf or JSON; returns the request and the body's decoded length.
pub(crate) async fn read_otlp<T>(
    body: Body,
    headers: &HeaderMap,
    enc: OtlpEncoding,
    limit: usize,
) -> Result<(T, usize), OtlpReadError>
where
    T: prost::Message + Default + serde::de::DeserializeOwned,
{
    let body = read_body(body, headers, limit).await.map_err(|e| {
        OtlpReadError::Body(otlp_error(
            body_error_status(&e),
            enc,
            tonic::Code::InvalidArgument,
            e.to_string(),
        ))
    })?;
    let request = match enc {
        OtlpEncoding::Protobuf => {
            T::decode(&body[..]).map_err(|e| format!("invalid OTLP protobuf: {e}"))
        }
        OtlpEncoding::Json => {
            serde_json::from_slice::<T>(&body).map_err(|e| format!("invalid OTLP JSON: {e}"))
        }
    };
    request.map(|r| (r, body.len())).map_err(|msg| {
        OtlpReadError::Decode(otlp_error(
            StatusCode::BAD_REQUEST,
            enc,
            tonic::Code::InvalidArgument,
            msg,
        ))
    })
}

async fn ingest_otlp(State(state): State<IngestState>, headers: HeaderMap, body: Body) -> Response {
    let enc = match otlp_encoding_and_auth(&headers, state.ingest_token.as_deref()) {
        Ok(enc) => enc,
        Err(resp) => return resp,
    };
    let ingestor = &state.ingestor;
    let (request, body_len) = match read_otlp::<ExportLogsServiceRequest>(
        body,
        &headers,
        enc,
        ingestor.settings().max_body_bytes,
    )
    .await
    {
        Ok(r) => r,
        Err(OtlpReadError::Body(resp)) => return resp,
        Err(OtlpReadError::Decode(resp)) => {
            ingestor.count_rejected(ENDPOINT_OTLP_HTTP, 1);
            return resp;
        }
    };
    let mut parsed = otlp_to_records(&request, state.clock.now_ns());
    state.ingestor.reject_out_of_range(&mut parsed);
    ingestor.count_rejected(ENDPOINT_OTLP_HTTP, parsed.rejected.len());
    if let Err(e) = ingestor
        .append(&parsed.records, ENDPOINT_OTLP_HTTP, body_len)
        .await
    {
        return match e {
            IngestError::Backpressure {
                retry_after_secs, ..
            } => with_retry_after(
                otlp_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    enc,
                    tonic::Code::ResourceExhausted,
                    e.to_string(),
                ),
                retry_after_secs,
            ),
            other => {
                tracing::error!(error = %other, "OTLP ingest failed");
                with_retry_after(
                    otlp_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        enc,
                        tonic::Code::Unavailable,
                        other.to_string(),
                    ),
                    5,
                )
            }
        };
    }
    otlp_reply(StatusCode::OK, enc, &export_response(&parsed.rejected))
}

/// The OTLP answer: `partial_success` only when something was rejected.
pub fn export_response(rejected: &[Rejection]) -> ExportLogsServiceResponse {
    if rejected.is_empty() {
        return ExportLogsServiceResponse {
            partial_success: None,
        };
    }
    let mut message: String = rejected
        .iter()
        .take(10)
        .map(|r| r.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    if rejected.len() > 10 {
        message.push_str(&format!("; and {} more", rejected.len() - 10));
    }
    ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: rejected.len() as i64,
            error_message: message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_exact() {
        assert!(bearer_matches(None, None), "no token configured: open");
        assert!(bearer_matches(Some("Bearer s3cret"), Some("s3cret")));
        assert!(bearer_matches(Some("bearer s3cret"), Some("s3cret")));
        assert!(bearer_matches(Some("BEARER  s3cret "), Some("s3cret")));
        assert!(!bearer_matches(Some("Bearer s3cre"), Some("s3cret")));
        assert!(!bearer_matches(Some("Bearer s3cretX"), Some("s3cret")));
        assert!(!bearer_matches(Some("Basic s3cret"), Some("s3cret")));
        assert!(!bearer_matches(Some("s3cret"), Some("s3cret")));
        assert!(!bearer_matches(None, Some("s3cret")));
    }

    #[test]
    fn export_response_reports_partial_success_only_when_rejecting() {
        assert_eq!(export_response(&[]).partial_success, None);
        let rejected: Vec<Rejection> = (1..=12)
            .map(|line| Rejection {
                line,
                reason: format!("bad {line}"),
            })
            .collect();
        let p = export_response(&rejected)
            .partial_success
            .expect("partial success");
        assert_eq!(p.rejected_log_records, 12);
        assert!(
            p.error_message.starts_with("bad 1; bad 2"),
            "{}",
            p.error_message
        );
        assert!(
            p.error_message.ends_with("; and 2 more"),
            "{}",
            p.error_message
        );
    }
}
