//! The request view (`/api/v1/correlate/{id}`), record context (`/api/v1/context/{record_id}`)
//! and field statistics (`/api/v1/fields`).

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
