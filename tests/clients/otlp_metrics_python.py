#!/usr/bin/env python3
"""Sends metrics to Pharos with the real OpenTelemetry Python SDK and its OTLP metric exporter.

Used by the end-to-end test `metrics_ingest::python_sdk_metrics_over_http_and_grpc`. Records a
counter, an up-down counter, a histogram and an observable gauge, exports twice (two
collections), and prints one JSON line: the export results and the data points sent.

usage: otlp_metrics_python.py --protocol http|grpc --endpoint URL --tag TAG
           [--token TOKEN] [--delta] [--exponential]
"""
import argparse
import json
import sys

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", choices=["http", "grpc"], required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--token")
    ap.add_argument("--delta", action="store_true", help="delta temporality for counters and histograms")
    ap.add_argument("--exponential", action="store_true", help="exponential histograms")
    args = ap.parse_args()

    options = {}
    if args.token:
        options["headers"] = {"authorization": f"Bearer {args.token}"}
    if args.delta:
        options["preferred_temporality"] = {
            Counter: AggregationTemporality.DELTA,
            Histogram: AggregationTemporality.DELTA,
        }
    if args.exponential:
        options["preferred_aggregation"] = {Histogram: ExponentialBucketHistogramAggregation()}

    if args.protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        base = OTLPMetricExporter
        endpoint = {"endpoint": args.endpoint.rstrip("/") + "/v1/metrics"}
    else:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        base = OTLPMetricExporter
        endpoint = {"endpoint": args.endpoint, "insecure": True}

    results = []
    points = [0]

    class Recording(base):
        """The real exporter, remembering each export's result and data point count."""

        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            for rm in metrics_data.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        points[0] += len(m.data.data_points)
            result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            results.append(result == MetricExportResult.SUCCESS)
            return result

    exporter = Recording(**endpoint, **options)
    # A long interval: exports happen only on force_flush (and shutdown).
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({
        "service.name": f"py-{args.tag}",
        "service.namespace": "e2e",
        "service.instance.id": f"inst-{args.tag}",
        "deployment.environment": "e2e",
    })
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("pharos-e2e", "1.0")

    requests = meter.create_counter("http.server.requests", unit="{request}", description="requests")
    active = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
    duration = meter.create_histogram("http.server.request.duration", unit="s")
    meter.create_observable_gauge(
        "process.memory.utilization",
        callbacks=[lambda _options: [Observation(0.25, {"pool": "heap"})]],
        unit="1",
    )

    for round_ in range(2):
        for i in range(5):
            attrs = {"http.route": "/pay", "http.response.status_code": 200 + i % 2}
            requests.add(1, attrs)
            duration.record(0.002 * (i + 1) * (round_ + 1), attrs)
        active.add(3)
        active.add(-1)
        provider.force_flush()

    provider.shutdown()
    print(json.dumps({
        "job": f"e2e/py-{args.tag}",
        "instance": f"inst-{args.tag}",
        "exports": len(results),
        "all_ok": bool(results) and all(results),
        "data_points": points[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
