//! The web UI, embedded in the binary (no CDN). For now one search page; the dashboards
//! issue grows it.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX_HTML: &str = include_str!("assets/index.html");

pub fn router() -> Router {
    Router::new().route(
        "/",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                INDEX_HTML,
            )
                .into_response()
        }),
    )
}
