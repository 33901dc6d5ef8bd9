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
        .route(
            "/api/v1/territories/national/completeness",
            get(national_completeness),
        )
        .route(
            "/api/v1/territories/{level}/{code}/completeness",
            get(completeness),
        )
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

#[derive(serde::Deserialize)]
struct CompletenessQuery {
    #[serde(flatten)]
    filter: crate::services::completeness::Filter,
    /// json (default) or csv.
    format: Option<String>,
}

async fn national_completeness(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<CompletenessQuery>,
) -> AppResult<axum::response::Response> {
    completeness_of(&state, Level::National, "FR", q).await
}

async fn completeness(
    State(state): State<AppState>,
    Path((level, code)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<CompletenessQuery>,
) -> AppResult<axum::response::Response> {
    let level = Level::parse(&level).map_err(|e| AppError::bad_request("level", e.to_string()))?;
    let code = level
        .normalize_code(&code)
        .map_err(|e| AppError::bad_request("code", e.to_string()))?;
    if territories::territory(&state.db, level, &code)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound(format!(
            "aucun territoire de niveau {} n'a le code « {code} »",
            level.as_str()
        )));
    }
    completeness_of(&state, level, &code, q).await
}

async fn completeness_of(
    state: &AppState,
    level: Level,
    code: &str,
    q: CompletenessQuery,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let scores = crate::services::completeness::territory(&state.db, level, code, q.filter).await?;
    Ok(match q.format.as_deref() {
        None | Some("json") => Json(scores).into_response(),
        Some("csv") => (
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::services::completeness::to_csv(&scores),
        )
            .into_response(),
        Some(other) => {
            return Err(AppError::bad_request(
                "format",
                format!("« {other} » : attendu json ou csv"),
            ));
        }
    })
}
