//! The Prometheus HTTP API (`/prometheus/api/v1/…`) through its router, over the in-memory
//! metric store: exact JSON envelopes, form-encoded POSTs as Grafana sends them, parameter
//! formats, and the error types and status codes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use pharos_collector::clock::ManualClock;
use pharos_collector::tsdb::MetricKind;
use pharos_dashboards::api::prom::{
    format_ts, format_value, parse_duration, parse_time, router, PromState,
};
use pharos_query::promql::testing::{labels, MemStore};
use pharos_query::promql::PromOptions;
use serde_json::{json, Value};
use tower::ServiceExt;

/// 2023-11-14T22:00:00Z.
const T0_S: i64 = 1_699_999_200;

fn app(opts: PromOptions) -> Router {
    let mut s = MemStore::new();
    let t = |secs: i64| (T0_S + secs) * 1000;
    s.add(
        labels(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")]),
        MetricKind::Gauge,
        &[(t(0), 1.0), (t(60), 1.0), (t(120), 0.0)],
    );
    s.add(
        labels(&[("__name__", "up"), ("job", "db"), ("instance", "b:1")]),
        MetricKind::Gauge,
        &[(t(0), 1.0), (t(60), 1.0), (t(120), 1.0)],
    );
    s.add(
        labels(&[("__name__", "reqs_total"), ("job", "api")]),
        MetricKind::Counter,
        &[(t(0), 0.0), (t(60), 60.0), (t(120), 120.0)],
    );
    let state = PromState {
        store: Arc::new(s),
        clock: Arc::new(ManualClock::new((T0_S + 130) * 1_000_000_000)),
        opts,
        metrics: None,
    };
    router::<PromState>().with_state(state)
}

async fn call(app: Router, req: Request<Body>) -> (StatusCode, Value, String) {
    let res = match app.oneshot(req).await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let status = res.status();
    let bytes = match res.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => panic!("{e}"),
    };
    let text = String::from_utf8_lossy(&bytes).to_string();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, v, text)
}

fn get(uri: &str) -> Request<Body> {
    match Request::get(uri).body(Body::empty()) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

fn post_form(uri: &str, form: &str) -> Request<Body> {
    match Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
    {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn instant_queries_answer_prometheus_envelopes() {
    let (status, _, text) = call(
        app(PromOptions::default()),
        get(&format!(
            "/prometheus/api/v1/query?query=sum(up)&time={}",
            T0_S + 60
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        text,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1699999260,"2"]}]}}"#
    );
    // Grafana's form POST; the time as RFC 3339 with milliseconds; labels sorted.
    let (status, v, _) = call(
        app(PromOptions::default()),
        post_form(
            "/prometheus/api/v1/query",
            "query=up%7Bjob%3D%22api%22%7D&time=2023-11-14T22%3A02%3A00.500Z",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "instance": "a:1", "job": "api"},
             "value": [1699999320.5, "0"]}
        ]}})
    );
    // No time: the clock's now (T0 + 130 s).
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/query?query=1%2B1"),
    )
    .await;
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "scalar", "result": [1699999330, "2"]}})
    );
    // NaN and infinities as strings.
    for (q, want) in [("0/0", "NaN"), ("1/0", "+Inf"), ("-1/0", "-Inf")] {
        let (_, v, _) = call(
            app(PromOptions::default()),
            post_form(
                "/prometheus/api/v1/query",
                &format!("query={}&time=0", form(q)),
            ),
        )
        .await;
        assert_eq!(v["data"]["result"][1], json!(want), "{q}");
    }
    let (_, v, _) = call(
        app(PromOptions::default()),
        post_form("/prometheus/api/v1/query", "query=%22hi%22&time=10"),
    )
    .await;
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "string", "result": [10, "hi"]}})
    );
}

fn form(s: &str) -> String {
    form_encode(s)
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn range_queries_answer_matrices() {
    let body = format!(
        "query={}&start={}&end={}&step=1m",
        form("rate(reqs_total[2m])"),
        T0_S + 60,
        T0_S + 120
    );
    let (status, _, text) = call(
        app(PromOptions::default()),
        post_form("/prometheus/api/v1/query_range", &body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // (T0-60 s, T0+60 s] holds 0@0 and 60@60: the counter started at 0 s, so no
    // extrapolation to the start: 60 / 120 s. (T0, T0+120 s] holds 60@60 and 120@120,
    // extrapolated 60 s back (not past zero): 120 / 120 s.
    assert_eq!(
        text,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"api"},"values":[[1699999260,"0.5"],[1699999320,"1"]]}]}}"#
    );
    // The step as float seconds, GET.
    let (status, v, _) = call(
        app(PromOptions::default()),
        get(&format!(
            "/prometheus/api/v1/query_range?query=up&start={}&end={}&step=60",
            T0_S,
            T0_S + 60
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["result"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["data"]["result"][0]["values"],
        json!([[1699999200, "1"], [1699999260, "1"]])
    );
}

#[tokio::test]
async fn errors_have_prometheus_types_and_statuses() {
    let cases = [
        ("query=sum(", StatusCode::BAD_REQUEST, "bad_data"),
        // limitk is behind a feature flag in Prometheus 3: answered unsupported.
        ("query=limitk(1,%20up)", StatusCode::BAD_REQUEST, "bad_data"),
        (
            "query=up&time=yesterday",
            StatusCode::BAD_REQUEST,
            "bad_data",
        ),
    ];
    for (q, status, kind) in &cases {
        let (s, v, text) = call(
            app(PromOptions::default()),
            post_form(
                "/prometheus/api/v1/query",
                &format!("{q}&time={}", T0_S + 60),
            ),
        )
        .await;
        assert_eq!(s, *status, "{q}: {text}");
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], *kind, "{q}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (_, v, _) = call(
        app(PromOptions::default()),
        post_form("/prometheus/api/v1/query", "query=limitk(1,%20up)"),
    )
    .await;
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("unsupported: ")),
        "{v}"
    );
    // An execution error: many-to-many matching.
    let (s, v, _) = call(
        app(PromOptions::default()),
        post_form(
            "/prometheus/api/v1/query",
            &format!("query={}&time={}", form("reqs_total / on() up"), T0_S + 60),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errorType"], "execution");
    // A timeout.
    let (s, v, _) = call(
        app(PromOptions {
            timeout: Some(Duration::ZERO),
            ..PromOptions::default()
        }),
        get("/prometheus/api/v1/query?query=up"),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["errorType"], "timeout");
    // A range query needs start, end and a positive step.
    for q in [
        "query=up&start=0&end=60",
        "query=up&start=0&end=60&step=0",
        "query=up&start=0&end=60&step=1x",
        "query=up%5B5m%5D&start=0&end=60&step=15s",
    ] {
        let (s, v, _) = call(
            app(PromOptions::default()),
            post_form("/prometheus/api/v1/query_range", q),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_eq!(v["errorType"], "bad_data");
    }
}

#[tokio::test]
async fn series_labels_and_label_values() {
    let (s, v, _) = call(
        app(PromOptions::default()),
        post_form(
            "/prometheus/api/v1/series",
            &format!(
                "match[]={}&match[]={}&start={}&end={}",
                form(r#"up{job="api"}"#),
                form("reqs_total"),
                T0_S,
                T0_S + 600
            ),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"status": "success", "data": [
            {"__name__": "reqs_total", "job": "api"},
            {"__name__": "up", "instance": "a:1", "job": "api"}
        ]})
    );
    let (s, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/series"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "no match[] parameter provided");
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/labels"),
    )
    .await;
    assert_eq!(
        v,
        json!({"status": "success", "data": ["__name__", "instance", "job"]})
    );
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/labels?match[]=reqs_total"),
    )
    .await;
    assert_eq!(v["data"], json!(["__name__", "job"]));
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/label/job/values"),
    )
    .await;
    assert_eq!(v, json!({"status": "success", "data": ["api", "db"]}));
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/label/__name__/values?limit=1"),
    )
    .await;
    assert_eq!(v["data"], json!(["reqs_total"]));
    let (_, v, _) = call(
        app(PromOptions::default()),
        get(&format!(
            "/prometheus/api/v1/label/instance/values?match[]={}",
            form(r#"up{job="db"}"#)
        )),
    )
    .await;
    assert_eq!(v["data"], json!(["b:1"]));
}

#[tokio::test]
async fn probes_grafana_makes() {
    let (s, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/status/buildinfo"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["version"], "3.0.0");
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/metadata"),
    )
    .await;
    assert_eq!(v, json!({"status": "success", "data": {}}));
    let (_, v, _) = call(
        app(PromOptions::default()),
        get("/prometheus/api/v1/query_exemplars?query=up"),
    )
    .await;
    assert_eq!(v, json!({"status": "success", "data": []}));
}

#[test]
fn parameter_and_value_formats() {
    assert_eq!(parse_time("t", "1699999200").ok(), Some(1_699_999_200_000));
    assert_eq!(
        parse_time("t", "1699999200.123").ok(),
        Some(1_699_999_200_123)
    );
    assert_eq!(
        parse_time("t", "2023-11-14T22:00:00+01:00").ok(),
        Some(1_699_995_600_000)
    );
    assert!(parse_time("t", "NaN").is_err());
    assert!(parse_time("t", "now").is_err());
    assert_eq!(parse_duration("d", "15s").ok(), Some(15_000));
    assert_eq!(parse_duration("d", "1h30m").ok(), Some(5_400_000));
    assert_eq!(parse_duration("d", "1d2h3m4s5ms").ok(), Some(93_784_005));
    assert_eq!(parse_duration("d", "2.5").ok(), Some(2_500));
    assert_eq!(parse_duration("d", "100ms").ok(), Some(100));
    assert!(parse_duration("d", "30m1h").is_err());
    assert!(parse_duration("d", "5").is_ok());
    assert!(parse_duration("d", "").is_err());
    assert!(parse_duration("d", "m").is_err());
    assert_eq!(format_ts(1_699_999_200_000), "1699999200");
    assert_eq!(format_ts(1_699_999_200_050), "1699999200.050");
    assert_eq!(format_ts(-1_500), "-1.500");
    assert_eq!(format_value(0.1), "0.1");
    assert_eq!(format_value(1e21), "1000000000000000000000");
    assert_eq!(format_value(-0.0), "-0");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
}
