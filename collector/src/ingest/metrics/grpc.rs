//! OTLP/gRPC `MetricsService/Export`, over the same path as OTLP/HTTP metrics: UNAUTHENTICATED
//! without the ingest token, RESOURCE_EXHAUSTED with RetryInfo under backpressure, UNAVAILABLE
//! with RetryInfo when storage fails, `partial_success` for rejected data points.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::MetricsIngest;
use crate::ingest::ENDPOINT_OTLP_GRPC;

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
        crate::ingest::grpc::check_token(&request, self.ingest_token.as_deref())?;
        let request = request.into_inner();
        match self.ingest.export_otlp(&request, ENDPOINT_OTLP_GRPC).await {
            Ok(resp) => Ok(Response::new(resp)),
            Err(e) => Err(crate::ingest::grpc::ingest_status(e, "metrics")),
        }
    }
}
