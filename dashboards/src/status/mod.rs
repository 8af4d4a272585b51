//! The public status page (`GET /status`, server-rendered HTML with no script, for anyone
//! when `status_page.public = true`, otherwise behind the API token) and SVG badges of a
//! check (`GET /badge/{id}/status`, `/badge/{id}/uptime/{24h|7d|30d|90d}`, `/badge/{id}/latency`).
//! Both read the same uptime ledger as the checks API and the reports.

pub mod badge;
pub mod notices;
mod page;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pharos_alertmanager::checks::state::State as CheckState;
use pharos_collector::clock::NANOS_PER_DAY;
use pharos_collector::ingest::http::authorized;
use serde::{Deserialize, Serialize};

use crate::AppState;

/// `[status_page]` in the config file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StatusPageConfig {
    /// Serve `/status` and `/badge/…` without the API token.
    pub public: bool,
    pub title: String,
    /// The uptime objective (percent) the bars and badges are coloured against.
    pub objective_percent: f64,
    /// Groups of checks shown as one line each; empty: every check is its own component.
    pub components: Vec<ComponentConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComponentConfig {
    pub name: String,
    /// Check ids (`[[checks]] id`).
    pub checks: Vec<String>,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        StatusPageConfig {
            public: false,
            title: "Status".into(),
            objective_percent: 99.9,
            components: Vec::new(),
        }
    }
}

impl StatusPageConfig {
    /// Names the key that is wrong; `has_check` says whether a check id exists.
    pub fn validate(&self, has_check: &dyn Fn(&str) -> bool) -> Result<(), String> {
        if self.title.trim().is_empty() || self.title.len() > 200 {
            return Err("status_page.title: between 1 and 200 bytes".into());
        }
        if !(self.objective_percent > 0.0 && self.objective_percent <= 100.0) {
            return Err("status_page.objective_percent: must be in (0, 100]".into());
        }
        for (i, c) in self.components.iter().enumerate() {
            if c.name.trim().is_empty() {
                return Err(format!(
                    "status_page.components[{i}].name: must not be empty"
                ));
            }
            if c.checks.is_empty() {
                return Err(format!(
                    "status_page.components[{i}].checks: name at least one check"
                ));
            }
            if let Some(bad) = c.checks.iter().find(|id| !has_check(id)) {
                return Err(format!(
                    "status_page.components[{i}].checks: no check {bad:?} ([[checks]] id)"
                ));
            }
        }
        Ok(())
    }
}

/// Escapes text for HTML and SVG (element text and quoted attributes).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn require_token_unless_public(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if state.settings.status_page.public || authorized(req.headers(), state.api_token.as_deref()) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "This status page is private: send the API token (Authorization: Bearer …), or set \
         status_page.public = true to show it to everyone.\n",
    )
        .into_response()
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/status", get(page::status_page))
        .route("/badge/{id}/status", get(status_badge))
        .route("/badge/{id}/uptime/{window}", get(uptime_badge))
        .route("/badge/{id}/latency", get(latency_badge))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_token_unless_public,
        ))
        .with_state(state)
}

fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            // READMEs cache images through proxies (GitHub's camo): keep them fresh.
            (header::CACHE_CONTROL, "no-cache, max-age=0"),
        ],
        svg,
    )
        .into_response()
}

fn no_check(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        svg_response(badge::svg("check", &format!("no check {id}"), badge::GREY)),
    )
        .into_response()
}

async fn status_badge(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(view) = state.checker.list().into_iter().find(|c| c.id == id) else {
        return no_check(&id);
    };
    let (text, color) = match view.state {
        CheckState::Up => ("up", badge::GREEN),
        CheckState::Down => ("down", badge::RED),
        CheckState::Unknown => ("unknown", badge::GREY),
    };
    svg_response(badge::svg(&id, text, color))
}

/// `24h`, `7d`, `30d`, `90d`.
pub(crate) fn window_ns(w: &str) -> Option<i64> {
    Some(match w {
        "24h" | "1d" => NANOS_PER_DAY,
        "7d" => 7 * NANOS_PER_DAY,
        "30d" => 30 * NANOS_PER_DAY,
        "90d" => 90 * NANOS_PER_DAY,
        _ => return None,
    })
}

/// Uptime with three decimals, as the reports state it, trailing zeros kept off.
pub(crate) fn percent(p: f64) -> String {
    let s = format!("{p:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

async fn uptime_badge(
    State(state): State<AppState>,
    Path((id, window)): Path<(String, String)>,
) -> Response {
    let window = window.trim_end_matches(".svg").to_string();
    let Some(w) = window_ns(&window) else {
        return (
            StatusCode::BAD_REQUEST,
            svg_response(badge::svg(
                "uptime",
                "window: 24h, 7d, 30d or 90d",
                badge::GREY,
            )),
        )
            .into_response();
    };
    let checker = state.checker.clone();
    let id2 = id.clone();
    let result = tokio::task::spawn_blocking(move || checker.uptime_windows(&id2, &[w])).await;
    let label = format!("uptime {window}");
    match result {
        Ok(None) => no_check(&id),
        Ok(Some(Ok(u))) => match u.first().and_then(|u| u.uptime_percent) {
            Some(p) => svg_response(badge::svg(
                &label,
                &percent(p),
                badge::uptime_color(p, state.settings.status_page.objective_percent),
            )),
            None => svg_response(badge::svg(&label, "no data", badge::GREY)),
        },
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            svg_response(badge::svg(&label, "error", badge::GREY)),
        )
            .into_response(),
    }
}

async fn latency_badge(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(view) = state.checker.list().into_iter().find(|c| c.id == id) else {
        return no_check(&id);
    };
    match view.last_latency_ms {
        Some(ms) => {
            let color = if ms < 300.0 {
                badge::GREEN
            } else if ms < 1000.0 {
                badge::YELLOW
            } else {
                badge::RED
            };
            svg_response(badge::svg("latency", &format!("{ms:.0} ms"), color))
        }
        None => svg_response(badge::svg("latency", "no data", badge::GREY)),
    }
}
