use axum::{
    Json, Router,
    extract::{Path, Query, State},
    routing::get,
};
use serde::Serialize;

use crate::{
    app::AppState,
    domain::uai::Uai,
    error::{AppError, AppResult},
    services::schools::{self, SchoolDetail, SchoolQuery, SchoolSummary},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schools", get(list))
        .route("/api/v1/schools/{uai}", get(show))
        .route_layer(axum::middleware::from_fn(super::conditional::etag))
}

#[derive(Serialize)]
struct Page {
    total: u64,
    page: u64,
    per_page: u64,
    results: Vec<SchoolSummary>,
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<SchoolQuery>,
) -> AppResult<Json<Page>> {
    let filter = query.parse().map_err(|violations| AppError::BadRequest {
        title: "Paramètres de recherche invalides".into(),
        violations,
    })?;
    let (total, results) = schools::search(&state.db, &filter).await?;
    Ok(Json(Page {
        total,
        page: filter.page,
        per_page: filter.per_page,
        results,
    }))
}

async fn show(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> AppResult<Json<SchoolDetail>> {
    let uai = Uai::parse(&raw).map_err(|e| AppError::bad_request("uai", e.to_string()))?;
    schools::get(&state.db, &uai)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("aucun établissement n'a le code UAI {uai}")))
}
