//! Real OTLP clients: the OpenTelemetry Python SDK with its OTLP/HTTP and OTLP/gRPC log
//! exporters (`tests/clients/otlp_python.py`). `.ci/run` installs them; with `CI=true` a
//! missing SDK fails the test instead of skipping it.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::common::{search, start, wait_total};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/otlp_python.py");

fn python_sdk_available() -> bool {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk._logs, opentelemetry.exporter.otlp.proto.http._log_exporter, \
             opentelemetry.exporter.otlp.proto.grpc._log_exporter",
        ])
        .output();
    let ok = matches!(probe, Ok(ref out) if out.status.success());
    if !ok {
        let hint = "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the OpenTelemetry Python SDK is missing: {hint}"
        );
        eprintln!("skipping: the OpenTelemetry Python SDK is not installed ({hint})");
    }
    ok
}

fn run_client(protocol: &str, endpoint: &str, tag: &str, token: Option<&str>) -> Value {
    let mut cmd = Command::new("python3");
    cmd.args([
        SCRIPT,
        "--protocol",
        protocol,
        "--endpoint",
        endpoint,
        "--tag",
        tag,
    ]);
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    let out = cmd.output().expect("run the Python client");
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("client summary JSON")
}

async fn check_records(server: &super::common::Server, sent: &Value, tag: &str) {
    let service = sent["service"].as_str().expect("service");
    let q = format!("service:{service}");
    wait_total(server, &q, 3, Duration::from_secs(30)).await;
    let body = search(server, &q, 10).await;
    assert_eq!(body["total"], 3, "{body}");
    let hits = body["hits"].as_array().expect("hits");
    let find = |level: &str| {
        hits.iter()
            .find(|h| h["level"] == level)
            .unwrap_or_else(|| panic!("no {level} record: {body}"))
    };

    let warn = find("warn");
    assert_eq!(warn["message"], format!("payment retry {tag} for order 42"));
    assert_eq!(warn["trace_id"], sent["trace_id"], "{warn}");
    assert_eq!(warn["span_id"], sent["span_id"], "{warn}");
    assert_eq!(warn["correlation_id"], format!("req-{tag}"), "{warn}");
    assert_eq!(warn["attributes"]["order.id"], 42, "{warn}");
    assert_eq!(warn["host"], "py-host");
    assert_eq!(warn["resource"]["deployment.environment"], "e2e");
    assert_eq!(warn["resource"]["telemetry.sdk.language"], "python");
    assert_eq!(warn["severity_number"], 13);

    let error = find("error");
    assert_eq!(error["trace_id"], sent["trace_id"]);
    let info = find("info");
    assert_eq!(
        info["trace_id"], "",
        "a record outside any span has no trace: {info}"
    );

    // The request view's question: every record of the trace.
    let by_trace = search(
        server,
        &format!("trace_id:{}", sent["trace_id"].as_str().unwrap_or_default()),
        10,
    )
    .await;
    assert_eq!(by_trace["total"], 2, "{by_trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_otlp_http_and_grpc() {
    if !python_sdk_available() {
        return;
    }
    let server = start(&[]);
    let sent = run_client("http", &server.otlp_http, "h1", None);
    check_records(&server, &sent, "h1").await;
    // The OTLP/HTTP paths are served on the main port too.
    let sent = run_client("http", &server.http, "h2", None);
    check_records(&server, &sent, "h2").await;
    let sent = run_client("grpc", &server.otlp_grpc, "g1", None);
    check_records(&server, &sent, "g1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_with_an_ingest_token() {
    if !python_sdk_available() {
        return;
    }
    let server = start(&[("PHAROS_AUTH__INGEST_TOKEN", "tok-123")]);
    let sent = run_client("grpc", &server.otlp_grpc, "t1", Some("tok-123"));
    check_records(&server, &sent, "t1").await;
    let sent = run_client("http", &server.otlp_http, "t2", Some("tok-123"));
    check_records(&server, &sent, "t2").await;
    // Without the token the exporter's records are refused and never stored.
    run_client("http", &server.otlp_http, "t3", None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(search(&server, "service:py-t3", 0).await["total"], 0);
}
