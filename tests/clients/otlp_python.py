#!/usr/bin/env python3
"""Sends logs to Pharos with the real OpenTelemetry Python SDK and OTLP exporter.

Used by the end-to-end test `otlp_real_clients`. Prints one JSON line describing what it sent
(trace id, span id, messages) so the test can look the records up.

usage: otlp_python.py --protocol http|grpc --endpoint URL --tag TAG [--token TOKEN]
"""
import argparse
import json
import logging
import sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", choices=["http", "grpc"], required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--token")
    args = ap.parse_args()

    headers = {"authorization": f"Bearer {args.token}"} if args.token else None
    if args.protocol == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=args.endpoint.rstrip("/") + "/v1/logs", headers=headers)
    else:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=args.endpoint, insecure=True, headers=headers)

    resource = Resource.create({"service.name": f"py-{args.tag}", "host.name": "py-host", "deployment.environment": "e2e"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    log = logging.getLogger(f"pharos-e2e-{args.tag}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)

    tracer = TracerProvider(resource=resource).get_tracer("pharos-e2e")
    with tracer.start_as_current_span("checkout") as span:
        ctx = span.get_span_context()
        log.warning("payment retry %s for order %s", args.tag, 42, extra={"order.id": 42, "request_id": f"req-{args.tag}"})
        log.error("payment failed %s", args.tag)
    log.info("outside any span %s", args.tag)
    provider.force_flush()
    provider.shutdown()
    print(json.dumps({
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "service": f"py-{args.tag}",
        "sent": 3,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
