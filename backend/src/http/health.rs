use axum::{Json, Router, extract::State, routing::get};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{app::AppState, error::AppResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> AppResult<Json<Value>> {
    state.db.execute_unprepared("SELECT 1").await?;
    Ok(Json(
        json!({"status": "ready", "database": state.db.get_database_backend().as_str()}),
    ))
}
