//! `GET /api/v1/territories/{level}/{code}`: a territory with its parents, children and counts
//! of schools.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};

use crate::{
    app::AppState,
    domain::territory::Level,
    error::{AppError, AppResult},
    services::territories::{self, TerritoryView},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/territories/national", get(national))
        .route("/api/v1/territories/{level}/{code}", get(territory))
}

async fn national(State(state): State<AppState>) -> AppResult<Json<TerritoryView>> {
    view(&state, Level::National, "FR").await
}

async fn territory(
    State(state): State<AppState>,
    Path((level, code)): Path<(String, String)>,
) -> AppResult<Json<TerritoryView>> {
    let level = Level::parse(&level).map_err(|e| AppError::bad_request("level", e.to_string()))?;
    view(&state, level, &code).await
}

async fn view(state: &AppState, level: Level, code: &str) -> AppResult<Json<TerritoryView>> {
    let normalized = level
        .normalize_code(code)
        .map_err(|e| AppError::bad_request("code", e.to_string()))?;
    territories::territory(&state.db, level, &normalized)
        .await?
        .map(Json)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "aucun territoire de niveau {} n'a le code « {normalized} »",
                level.as_str()
            ))
        })
}
