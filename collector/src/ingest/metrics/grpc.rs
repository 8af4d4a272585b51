//! OTLP/gRPC `MetricsService/Export`, over the same path as OTLP/HTTP metrics: UNAUTHENTICATED
//! without the ingest token, RESOURCE_EXHAUSTED with RetryInfo under backpressure, UNAVAILABLE
//! with RetryInfo when storage fails, `partial_success` for rejected data points.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::MetricsIngest;
use crate::ingest::http::bearer_matches;
use crate::ingest::{IngestError, ENDPOINT_OTLP_GRPC};

pub struct OtlpMetricsService {
    ingest: Arc<MetricsIngest>,
    ingest_token: Option<Arc<str>>,
}

impl OtlpMetricsService {
    /// The tonic service, accepting gzip and zstd, with the body limit as the message limit.
    pub fn server(
        ingest: Arc<MetricsIngest>,
        ingest_token: Option<Arc<str>>,
    ) -> MetricsServiceServer<OtlpMetricsService> {
        let limit = ingest.max_body_bytes();
        MetricsServiceServer::new(OtlpMetricsService {
            ingest,
            ingest_token,
        })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpMetricsService {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        if let Some(token) = self.ingest_token.as_deref() {
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
        let request = request.into_inner();
        match self.ingest.export_otlp(&request, ENDPOINT_OTLP_GRPC).await {
            Ok(resp) => Ok(Response::new(resp)),
            Err(
                e @ IngestError::Backpressure {
                    retry_after_secs, ..
                },
            ) => {
                let details =
                    ErrorDetails::with_retry_info(Some(Duration::from_secs(retry_after_secs)));
                Err(Status::with_error_details(
                    Code::ResourceExhausted,
                    e.to_string(),
                    details,
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "OTLP/gRPC metrics ingest failed");
                let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(5)));
                Err(Status::with_error_details(
                    Code::Unavailable,
                    e.to_string(),
                    details,
                ))
            }
        }
    }
}
