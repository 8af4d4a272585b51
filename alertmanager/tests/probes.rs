//! The probes against local servers on 127.0.0.1:0: HTTP (status, body, JSON path, latency,
//! refused), TCP, and TLS with self-signed certificates made here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use pharos_alertmanager::checks::probe::Probe;
use pharos_alertmanager::checks::state::Outcome;
use pharos_alertmanager::config::{CheckConfig, CheckKind};
use pharos_collector::clock::{Clock, SystemClock};

type R = Result<(), Box<dyn std::error::Error>>;

async fn serve(app: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn target() -> std::io::Result<SocketAddr> {
    serve(
        Router::new()
            .route("/ok", get(|| async { "all good: version 1.2.3" }))
            .route(
                "/json",
                get(|| async {
                    axum::Json(serde_json::json!({"status": "ok", "data": {"ok": true, "n": 3}}))
                }),
            )
            .route(
                "/fail",
                get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    "late"
                }),
            ),
    )
    .await
}

async fn run(c: &CheckConfig) -> Result<Outcome, String> {
    let probe = Probe::new(c)?;
    Ok(probe
        .run(Duration::from_secs(c.timeout_secs), SystemClock.now_ns())
        .await)
}

fn http(addr: SocketAddr, path: &str) -> CheckConfig {
    CheckConfig::new("t", CheckKind::Http, &format!("http://{addr}{path}"))
}

#[tokio::test]
async fn http_up_wrong_status_and_refused() -> R {
    let addr = target().await?;
    let o = run(&http(addr, "/ok")).await?;
    assert!(o.ok, "{o:?}");
    assert_eq!(o.status, Some(200));
    assert!(o.latency_ms.is_some());

    let o = run(&http(addr, "/fail")).await?;
    assert!(!o.ok);
    assert_eq!(o.status, Some(500));
    assert_eq!(o.reason, "status 500 (expected 2xx)");
    let mut accept = http(addr, "/fail");
    accept.expect_status = vec![500, 503];
    assert!(run(&accept).await?.ok);

    // A port nobody listens on (bound, then closed).
    let free = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let o = run(&http(free, "/ok")).await?;
    assert!(!o.ok);
    assert!(o.reason.starts_with("request failed"), "{o:?}");
    assert!(o.reason.to_lowercase().contains("refused"), "{o:?}");
    Ok(())
}

#[tokio::test]
async fn http_body_checks() -> R {
    let addr = target().await?;
    let mut c = http(addr, "/ok");
    c.body_contains = Some("all good".into());
    assert!(run(&c).await?.ok);
    c.body_contains = Some("all bad".into());
    assert_eq!(run(&c).await?.reason, "body does not contain \"all bad\"");
    c.body_contains = None;
    c.body_regex = Some(r"version \d+\.\d+".into());
    assert!(run(&c).await?.ok);
    c.body_regex = Some(r"version 2\.".into());
    assert_eq!(run(&c).await?.reason, r"body does not match /version 2\./");

    let mut j = http(addr, "/json");
    j.json_path = Some("status".into());
    j.json_equals = Some(serde_json::json!("ok"));
    assert!(run(&j).await?.ok);
    j.json_path = Some("data.ok".into());
    j.json_equals = Some(serde_json::json!(true));
    assert!(run(&j).await?.ok);
    j.json_equals = Some(serde_json::json!("true"));
    assert!(
        run(&j).await?.ok,
        "a string matches a boolean of the same text"
    );
    j.json_path = Some("data.n".into());
    j.json_equals = Some(serde_json::json!(4));
    assert_eq!(run(&j).await?.reason, "JSON data.n is 3, expected 4");
    j.json_path = Some("data.missing".into());
    assert_eq!(
        run(&j).await?.reason,
        "JSON path data.missing not found in the body"
    );
    let mut not_json = http(addr, "/ok");
    not_json.json_path = Some("status".into());
    not_json.json_equals = Some(serde_json::json!("ok"));
    assert!(run(&not_json).await?.reason.starts_with("body is not JSON"));
    Ok(())
}

#[tokio::test]
async fn http_slow_over_max_latency_and_over_timeout() -> R {
    let addr = target().await?;
    let mut c = http(addr, "/slow");
    c.max_latency_ms = Some(500);
    c.timeout_secs = 5;
    let o = run(&c).await?;
    assert!(!o.ok);
    assert_eq!(o.status, Some(200));
    assert!(o.reason.contains("over max_latency_ms = 500"), "{o:?}");
    c.max_latency_ms = None;
    c.timeout_secs = 1;
    let o = run(&c).await?;
    assert!(!o.ok);
    assert!(
        o.reason.contains("timed out") || o.reason.contains("timeout"),
        "{o:?}"
    );
    Ok(())
}

#[tokio::test]
async fn tcp_up_and_down() -> R {
    let addr = target().await?;
    let o = run(&CheckConfig::new("t", CheckKind::Tcp, &addr.to_string())).await?;
    assert!(o.ok, "{o:?}");
    let free = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let o = run(&CheckConfig::new("t", CheckKind::Tcp, &free.to_string())).await?;
    assert!(!o.ok);
    assert!(
        o.reason.starts_with(&format!("connect to {free} failed")),
        "{o:?}"
    );
    Ok(())
}

/// A TLS server whose self-signed certificate for `localhost` expires in `days`.
async fn tls_server(days: i64) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key_der)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
                }
            });
        }
    });
    Ok(addr)
}

#[tokio::test]
async fn tls_certificate_expiry() -> R {
    let soon = tls_server(3).await?;
    let mut c = CheckConfig::new(
        "cert",
        CheckKind::Tls,
        &format!("localhost:{}", soon.port()),
    );
    c.min_days_left = Some(7);
    let o = run(&c).await?;
    assert!(!o.ok, "{o:?}");
    assert!(
        o.reason.starts_with("certificate expires in 3.0 days")
            && o.reason.contains("min_days_left = 7"),
        "{o:?}"
    );
    let later = tls_server(30).await?;
    c.target = format!("localhost:{}", later.port());
    let o = run(&c).await?;
    assert!(o.ok, "{o:?}");
    assert!(
        o.reason.starts_with("certificate valid for 30.0 more days"),
        "{o:?}"
    );
    // Not TLS at all.
    let plain = target().await?;
    c.target = format!("localhost:{}", plain.port());
    let o = run(&c).await?;
    assert!(!o.ok);
    assert!(o.reason.contains("TLS handshake"), "{o:?}");
    Ok(())
}
