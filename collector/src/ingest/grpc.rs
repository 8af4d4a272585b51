//! OTLP/gRPC `LogsService/Export`, over the same ingest path as HTTP.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::http::{bearer_matches, export_response};
use super::{IngestError, Ingestor, ENDPOINT_OTLP_GRPC};
use crate::clock::SharedClock;
use crate::normalize::otlp_to_records;

pub struct OtlpLogsService {
    ingestor: Arc<Ingestor>,
    ingest_token: Option<Arc<str>>,
    clock: SharedClock,
}

impl OtlpLogsService {
    /// The tonic service, accepting gzip and zstd, with the body limit as the message limit.
    pub fn server(
        ingestor: Arc<Ingestor>,
        ingest_token: Option<Arc<str>>,
        clock: SharedClock,
    ) -> LogsServiceServer<OtlpLogsService> {
        let limit = ingestor.settings().max_body_bytes;
        LogsServiceServer::new(OtlpLogsService {
            ingestor,
            ingest_token,
            clock,
        })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
    }
}

#[tonic::async_trait]
impl LogsService for OtlpLogsService {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        check_token(&request, self.ingest_token.as_deref())?;
        let request = request.into_inner();
        let size = request.encoded_len();
        let mut parsed = otlp_to_records(&request, self.clock.now_ns());
        self.ingestor.reject_out_of_range(&mut parsed);
        self.ingestor
            .count_rejected(ENDPOINT_OTLP_GRPC, parsed.rejected.len());
        match self
            .ingestor
            .append(&parsed.records, ENDPOINT_OTLP_GRPC, size)
            .await
        {
            Ok(()) => Ok(Response::new(export_response(&parsed.rejected))),
            Err(e) => Err(ingest_status(e, "logs")),
        }
    }
}

/// Checks the ingest token of a gRPC request (logs and metrics).
pub(crate) fn check_token<T>(request: &Request<T>, token: Option<&str>) -> Result<(), Status> {
    if let Some(token) = token {
        let got = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if !bearer_matches(got, Some(token)) {
            return Err(Status::unauthenticated(
                "missing or wrong ingest token (authorization: Bearer …)",
            ));
        }
    }
    Ok(())
}

/// The gRPC status for a failed append (logs and metrics): backpressure is
/// RESOURCE_EXHAUSTED with RetryInfo, which tells OTLP exporters when to retry; anything
/// else is UNAVAILABLE (retryable) and logged.
pub(crate) fn ingest_status(e: IngestError, signal: &'static str) -> Status {
    match e {
        IngestError::Backpressure {
            retry_after_secs, ..
        } => Status::with_error_details(
            Code::ResourceExhausted,
            e.to_string(),
            ErrorDetails::with_retry_info(Some(Duration::from_secs(retry_after_secs))),
        ),
        e => {
            tracing::error!(error = %e, signal, "OTLP/gRPC ingest failed");
            Status::with_error_details(
                Code::Unavailable,
                e.to_string(),
                ErrorDetails::with_retry_info(Some(Duration::from_secs(5))),
            )
        }
    }
}
