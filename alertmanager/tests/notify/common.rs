//! Helpers for the notifier tests: a recording HTTP receiver with scripted answers, a sleeper
//! that records the backoff instead of waiting, and alert builders.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use pharos_alertmanager::alert::{labels, Alert};
use pharos_alertmanager::notification::{BoxFuture, Message, Notification};
use pharos_alertmanager::notify::{NotifyConfig, Sleeper};
use serde_json::Value;

pub const S: i64 = 1_000_000_000;
/// 2024-05-01T12:00:00Z
pub const NOW: i64 = 1_714_564_800 * S;

/// One request the HTTP receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

/// An answer to script: status and an optional Retry-After.
#[derive(Clone, Debug)]
pub struct Answer(pub u16, pub Option<&'static str>);

#[derive(Default)]
struct HttpState {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// Answer when the script is spent.
    otherwise: u16,
}

/// A local HTTP server that records every POST and answers as scripted (then `otherwise`).
#[derive(Clone)]
pub struct HttpReceiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<HttpState>>,
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let state = Arc::new(Mutex::new(HttpState {
            otherwise: 200,
            ..HttpState::default()
        }));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpReceiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn script(&self, answers: Vec<Answer>) {
        self.state.lock().script = answers.into();
    }

    pub fn answer_otherwise(&self, status: u16) {
        self.state.lock().otherwise = status;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().received.clone()
    }
}

async fn record(
    State(state): State<Arc<Mutex<HttpState>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut s = state.lock();
    s.received.push(Received {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let answer = s.script.pop_front().unwrap_or(Answer(s.otherwise, None));
    let status = StatusCode::from_u16(answer.0).unwrap();
    match answer.1 {
        Some(after) => (status, [("retry-after", after)], "slow down").into_response(),
        None => (status, "answer").into_response(),
    }
}

/// Records the waits between retries instead of taking them.
#[derive(Debug, Default)]
pub struct NoWait(pub Mutex<Vec<Duration>>);

impl Sleeper for NoWait {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        self.0.lock().push(d);
        Box::pin(async {})
    }
}

impl NoWait {
    pub fn waits(&self) -> Vec<Duration> {
        self.0.lock().clone()
    }
}

/// A firing HighErrorRate alert for pod `pod` of job api, with the usual annotations.
pub fn high_error_rate(pod: &str) -> Alert {
    let mut a = Alert::firing(
        labels([
            ("alertname", "HighErrorRate"),
            ("job", "api"),
            ("pod", pod),
            ("severity", "page"),
        ]),
        NOW - 300 * S,
    );
    a.annotations = labels([
        ("summary", "5xx ratio above 5%"),
        ("description", "api returns <b>errors</b> & worse"),
        (
            "runbook_url",
            "https://runbooks.example.com/high-error-rate",
        ),
        ("value", "0.12"),
    ]);
    a.generator_url = "http://prometheus:9090/graph?g0.expr=x".into();
    a.ends_at_ns = NOW + 300 * S;
    a
}

pub fn resolved(mut a: Alert) -> Alert {
    a.ends_at_ns = NOW - 10 * S;
    a
}

pub fn message(receiver: &str, alerts: Vec<Alert>) -> Message {
    Message {
        notification: Notification {
            receiver: receiver.into(),
            group_key: "{}:{alertname=\"HighErrorRate\"}".into(),
            group_labels: labels([("alertname", "HighErrorRate")]),
            alerts,
            at_ns: NOW,
        },
        escalation: None,
    }
}

/// Parses a TOML `[alerting]` body into the notifier config.
pub fn config(toml_text: &str) -> NotifyConfig {
    toml::from_str(toml_text).unwrap()
}
