//! What an operator writes on the status page: announcements ("we are investigating slow
//! checkouts") and scheduled maintenance windows, each for the whole page or for named
//! components. Stored durably in the alerting state database (space `status_notices`), shown
//! on `/status` while they apply (maintenance also ahead of time, under "Scheduled
//! maintenance"), and managed through `GET|POST /api/v1/status/notices`,
//! `PUT|DELETE /api/v1/status/notices/{id}`, `pharos notice …` and the Checks view.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use pharos_alertmanager::storage::SharedStateDb;
use pharos_collector::clock::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::StatusPageConfig;
use crate::AppState;

pub(crate) const SPACE: &str = "status_notices";
/// Notices kept at once; ended ones beyond it are dropped oldest first.
const MAX_NOTICES: usize = 500;
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    Announcement,
    Maintenance,
}

/// What a client sends to create or replace a notice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    pub kind: NoticeKind,
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// Component names (`[status_page] components`, or check ids when none are configured);
    /// empty: the whole page.
    #[serde(default)]
    pub components: Vec<String>,
    /// RFC 3339, epoch seconds or `now`/`now+2h`; default now. A maintenance window needs both.
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
}

/// A stored notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    pub components: Vec<String>,
    pub starts_ns: i64,
    pub ends_ns: Option<i64>,
    pub author: String,
    pub created_ns: i64,
    pub updated_ns: i64,
}

impl Notice {
    pub fn active(&self, now_ns: i64) -> bool {
        self.starts_ns <= now_ns && self.ends_ns.is_none_or(|e| now_ns < e)
    }

    pub fn ended(&self, now_ns: i64) -> bool {
        self.ends_ns.is_some_and(|e| e <= now_ns)
    }

    /// Whether it concerns component `name` (a notice without components concerns all).
    pub fn covers(&self, name: &str) -> bool {
        self.components.is_empty() || self.components.iter().any(|c| c == name)
    }

    fn json(&self, now_ns: i64) -> serde_json::Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "components": self.components,
            "starts_at": rfc3339(self.starts_ns),
            "ends_at": self.ends_ns.map(rfc3339),
            "author": self.author,
            "created_at": rfc3339(self.created_ns),
            "updated_at": rfc3339(self.updated_ns),
            "state": if self.active(now_ns) { "active" } else if self.ended(now_ns) { "ended" } else { "scheduled" },
        })
    }
}

/// The component names a notice may name.
pub(crate) fn component_names(cfg: &StatusPageConfig, check_ids: Vec<String>) -> Vec<String> {
    if cfg.components.is_empty() {
        check_ids
    } else {
        cfg.components.iter().map(|c| c.name.clone()).collect()
    }
}

/// The input checked and resolved to a notice; the error names the field.
pub(crate) fn resolve(
    input: NoticeInput,
    known_components: &[String],
    id: String,
    created_ns: i64,
    now_ns: i64,
) -> Result<Notice, String> {
    let title = input.title.trim().to_string();
    if title.is_empty() || title.len() > MAX_TITLE {
        return Err(format!("title: between 1 and {MAX_TITLE} bytes"));
    }
    if input.body.len() > MAX_BODY {
        return Err(format!("body: at most {MAX_BODY} bytes"));
    }
    if let Some(bad) = input
        .components
        .iter()
        .find(|c| !known_components.contains(c))
    {
        return Err(format!(
            "components: no component {bad:?} on the status page (known: {})",
            known_components.join(", ")
        ));
    }
    let time = |field: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => pharos_query::time::parse_time_literal(s, now_ns)
                .map(Some)
                .map_err(|e| format!("{field}: {e}")),
        }
    };
    let starts = time("starts_at", &input.starts_at)?;
    let ends = time("ends_at", &input.ends_at)?;
    if input.kind == NoticeKind::Maintenance && (starts.is_none() || ends.is_none()) {
        return Err("a maintenance window needs starts_at and ends_at".into());
    }
    let starts_ns = starts.unwrap_or(now_ns);
    if let Some(e) = ends {
        if e <= starts_ns {
            return Err("ends_at: must be after starts_at".into());
        }
    }
    Ok(Notice {
        id,
        kind: input.kind,
        title,
        body: input.body.trim().to_string(),
        components: input.components,
        starts_ns,
        ends_ns: ends,
        author: input
            .author
            .map(|a| a.trim().chars().take(100).collect::<String>())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "api".into()),
        created_ns,
        updated_ns: now_ns,
    })
}

/// Every stored notice, oldest start first.
pub(crate) fn list(db: &SharedStateDb) -> Result<Vec<Notice>, String> {
    let mut out: Vec<Notice> = db
        .scan(SPACE, b"")
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|(k, v)| match serde_json::from_slice(&v) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(key = %String::from_utf8_lossy(&k), error = %e, "unreadable status notice skipped");
                None
            }
        })
        .collect();
    out.sort_by_key(|n: &Notice| (n.starts_ns, n.created_ns));
    Ok(out)
}

fn save(db: &SharedStateDb, notice: &Notice, now_ns: i64) -> Result<(), String> {
    let value = serde_json::to_vec(notice).map_err(|e| e.to_string())?;
    let mut ops = vec![pharos_alertmanager::storage::StateOp::Put(
        SPACE,
        notice.id.as_bytes().to_vec(),
        value,
    )];
    // Bounded: past the cap, the notices that ended longest ago go in the same batch.
    let existing = list(db)?;
    if existing.len() >= MAX_NOTICES {
        let mut ended: Vec<&Notice> = existing.iter().filter(|n| n.ended(now_ns)).collect();
        ended.sort_by_key(|n| n.ends_ns);
        for n in ended.iter().take(existing.len() + 1 - MAX_NOTICES) {
            ops.push(pharos_alertmanager::storage::StateOp::Delete(
                SPACE,
                n.id.as_bytes().to_vec(),
            ));
        }
        if ended.len() < existing.len() + 1 - MAX_NOTICES {
            return Err(format!(
                "at most {MAX_NOTICES} notices that have not ended: delete some first"
            ));
        }
    }
    db.write(ops).map_err(|e| e.to_string())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/status/notices", get(list_handler).post(create))
        .route(
            "/api/v1/status/notices/{id}",
            put(update).delete(delete).get(get_one),
        )
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

fn known(state: &AppState) -> Vec<String> {
    component_names(
        &state.settings.status_page,
        state.checker.list().into_iter().map(|c| c.id).collect(),
    )
}

fn now(state: &AppState) -> i64 {
    state.checker.clock().now_ns()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "status notices");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, e))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn list_handler(State(state): State<AppState>) -> Response {
    let db = state.alerting.db.clone();
    let now = now(&state);
    match blocking(move || list(&db)).await {
        Ok(all) => Json(json!({
            "notices": all.iter().map(|n| n.json(now)).collect::<Vec<_>>(),
            "components": known(&state),
        }))
        .into_response(),
        Err(r) => r,
    }
}

async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let db = state.alerting.db.clone();
    let now = now(&state);
    match blocking(move || list(&db)).await {
        Ok(all) => match all.iter().find(|n| n.id == id) {
            Some(n) => Json(n.json(now)).into_response(),
            None => error(StatusCode::NOT_FOUND, format!("no notice {id}")),
        },
        Err(r) => r,
    }
}

fn parse_input(body: &[u8]) -> Result<NoticeInput, Response> {
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, format!("body: {e}")))
}

async fn create(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let input = match parse_input(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let now = now(&state);
    // Checked now for the answer; the id is settled below against what is stored.
    let notice = match resolve(input, &known(&state), String::new(), now, now) {
        Ok(n) => n,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let db = state.alerting.db.clone();
    let result = blocking(move || {
        let taken: Vec<String> = list(&db)?.into_iter().map(|n| n.id).collect();
        // The creation time in hex, unique among the stored ones.
        let mut t = now;
        while taken.contains(&format!("{t:x}")) {
            t += 1;
        }
        let n = Notice {
            id: format!("{t:x}"),
            ..notice
        };
        save(&db, &n, now)?;
        Ok(n)
    })
    .await;
    match result {
        Ok(n) => (StatusCode::CREATED, Json(n.json(now))).into_response(),
        Err(r) => r,
    }
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let input = match parse_input(&body) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let db = state.alerting.db.clone();
    let now = now(&state);
    let known = known(&state);
    let result = blocking(move || {
        let Some(old) = list(&db)?.into_iter().find(|n| n.id == id) else {
            return Ok(Err(error(StatusCode::NOT_FOUND, format!("no notice {id}"))));
        };
        match resolve(input, &known, id, old.created_ns, now) {
            Ok(n) => {
                save(&db, &n, now)?;
                Ok(Ok(n))
            }
            Err(e) => Ok(Err(error(StatusCode::BAD_REQUEST, e))),
        }
    })
    .await;
    match result {
        Ok(Ok(n)) => Json(n.json(now)).into_response(),
        Ok(Err(r)) | Err(r) => r,
    }
}

async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let db = state.alerting.db.clone();
    let result = blocking(move || {
        if !list(&db)?.iter().any(|n| n.id == id) {
            return Ok(false);
        }
        db.delete(SPACE, id.as_bytes()).map_err(|e| e.to_string())?;
        Ok(true)
    })
    .await;
    match result {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "no such notice"),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: NoticeKind, starts: Option<&str>, ends: Option<&str>) -> NoticeInput {
        NoticeInput {
            kind,
            title: "Database upgrade".into(),
            body: String::new(),
            components: vec!["api".into()],
            starts_at: starts.map(str::to_string),
            ends_at: ends.map(str::to_string),
            author: None,
        }
    }

    const NOW: i64 = 1_800_000_000 * 1_000_000_000;
    const H: i64 = 3600 * 1_000_000_000;

    #[test]
    fn times_are_resolved_and_states_follow_the_clock() {
        let known = vec!["api".to_string()];
        let n = resolve(
            input(NoticeKind::Maintenance, Some("now+1h"), Some("now+3h")),
            &known,
            "a".into(),
            NOW,
            NOW,
        )
        .unwrap();
        assert_eq!((n.starts_ns, n.ends_ns), (NOW + H, Some(NOW + 3 * H)));
        assert!(!n.active(NOW) && !n.ended(NOW));
        assert!(n.active(NOW + 2 * H));
        assert!(n.ended(NOW + 3 * H));
        assert!(n.covers("api") && !n.covers("web"));
        let a = resolve(
            input(NoticeKind::Announcement, None, None),
            &known,
            "b".into(),
            NOW,
            NOW,
        )
        .unwrap();
        assert!(a.active(NOW) && a.active(NOW + 1000 * H));
    }

    #[test]
    fn bad_input_names_the_field() {
        let known = vec!["api".to_string()];
        let cases = [
            (
                input(NoticeKind::Maintenance, Some("now"), None),
                "starts_at and ends_at",
            ),
            (
                input(NoticeKind::Announcement, Some("now"), Some("now-1h")),
                "ends_at: must be after",
            ),
            (
                input(NoticeKind::Announcement, Some("tomorrow-ish"), None),
                "starts_at:",
            ),
        ];
        for (i, want) in cases {
            let e = resolve(i, &known, "x".into(), NOW, NOW).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        let mut i = input(NoticeKind::Announcement, None, None);
        i.components = vec!["nope".into()];
        let e = resolve(i, &known, "x".into(), NOW, NOW).unwrap_err();
        assert!(e.contains("no component \"nope\""), "{e}");
        let mut i = input(NoticeKind::Announcement, None, None);
        i.title = "  ".into();
        assert!(resolve(i, &known, "x".into(), NOW, NOW)
            .unwrap_err()
            .starts_with("title"));
    }

    #[test]
    fn stored_and_listed_in_start_order() {
        let db: SharedStateDb =
            std::sync::Arc::new(pharos_alertmanager::storage::MemStateDb::default());
        let known = vec!["api".to_string()];
        for (id, start) in [("late", "now+2h"), ("early", "now+1h")] {
            let n = resolve(
                input(NoticeKind::Maintenance, Some(start), Some("now+5h")),
                &known,
                id.into(),
                NOW,
                NOW,
            )
            .unwrap();
            save(&db, &n, NOW).unwrap();
        }
        let ids: Vec<String> = list(&db).unwrap().into_iter().map(|n| n.id).collect();
        assert_eq!(ids, ["early", "late"]);
    }
}
