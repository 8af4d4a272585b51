//! The web UI: the single-page application built in `ui/` and embedded by `build.rs` (no CDN,
//! no Node at Rust build time). Files are sent pre-compressed (brotli or gzip, by
//! `Accept-Encoding`); hashed assets are cached forever, `index.html` is revalidated. Any
//! other GET path that is not the server's own serves `index.html`, so client-side routes
//! work on reload; server paths (`/api/…`, `/prometheus/…`, …) keep JSON 404s.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// One file of the bundle, with its pre-compressed forms.
pub(crate) struct Asset {
    pub path: &'static str,
    pub identity: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// First path segments that belong to the server, never to the UI's client-side routes.
const SERVER_PREFIXES: &[&str] = &[
    "api",
    "prometheus",
    "loki",
    "v1",
    "-",
    "health",
    "ready",
    "metrics",
    "otlp",
    "_bulk",
    "status",
    "badge",
];

pub fn router() -> Router {
    Router::new()
        // The UI shows the version in its header; public, as `/health` is.
        .route(
            "/api/v1/buildinfo",
            get(|| async { Json(json!({"version": env!("CARGO_PKG_VERSION")})) }),
        )
        .fallback(fallback)
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn not_found(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("no such endpoint: {path}")})),
    )
        .into_response()
}

async fn fallback(req: Request) -> Response {
    let path = req.uri().path().to_string();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if SERVER_PREFIXES.contains(&first) {
        return not_found(&path);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return not_found(&path);
    }
    let rel = path.trim_start_matches('/');
    if let Some(asset) = find(rel).filter(|_| rel != "index.html") {
        return serve(asset, req.headers(), true);
    }
    // A missing hashed file is a stale page asking for an old build: HTML would not help it.
    if first == "assets" {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    match find("index.html") {
        Some(index) => serve(index, req.headers(), false),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the web UI is not in this build (dashboards/ui/dist is empty); the API works",
        )
            .into_response(),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether `Accept-Encoding` allows `coding` (present, and not `;q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !q_zero
        })
}

fn serve(asset: &'static Asset, headers: &HeaderMap, immutable: bool) -> Response {
    let cache = if immutable && asset.path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = Response::builder()
        .header(header::CONTENT_TYPE, content_type(asset.path))
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "accept-encoding")
        .header(header::ETAG, asset.etag);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes())
    {
        return resp
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let (body, encoding) = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts(headers, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(headers, "gzip") => (gz, Some("gzip")),
        _ => (asset.identity, None),
    };
    if let Some(encoding) = encoding {
        resp = resp.header(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    resp.header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        h
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts(&headers("gzip, deflate, br"), "br"));
        assert!(accepts(&headers("gzip;q=0.5"), "gzip"));
        assert!(!accepts(&headers("gzip, br;q=0"), "br"));
        assert!(accepts(&headers("*"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn the_bundle_has_an_index_and_its_assets_are_compressed() {
        let index = find("index.html").expect("dashboards/ui/dist/index.html is committed");
        let html = std::str::from_utf8(index.identity).unwrap();
        for asset in ASSETS.iter().filter(|a| a.path.starts_with("assets/")) {
            if asset.identity.len() > 4096 {
                assert!(
                    asset.gzip.is_some() && asset.brotli.is_some(),
                    "{}",
                    asset.path
                );
            }
        }
        assert!(html.contains("/assets/"), "index.html names the bundle");
    }
}
