//! `/api/v1/harvest/sources`: the files an organisation publishes on its own portal, which the
//! harvest job turns into submissions when they change.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};

use crate::{
    app::AppState,
    error::AppResult,
    http::auth::Caller,
    services::harvest::{self, NewSource, SourceView},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/harvest/sources", get(list).post(register))
        .route("/api/v1/harvest/sources/{id}", get(show).delete(deactivate))
        .route("/api/v1/harvest/sources/{id}/run", post(run))
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewSource>,
) -> AppResult<(StatusCode, Json<SourceView>)> {
    let source = harvest::register(
        &state.db,
        &state.config.harvest,
        &caller.audit(),
        &caller.actor,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(source)))
}

async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<SourceView>>> {
    Ok(Json(harvest::list(&state.db, &caller.actor).await?))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<SourceView>> {
    Ok(Json(harvest::get(&state.db, &caller.actor, id).await?))
}

async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<SourceView>> {
    Ok(Json(
        harvest::deactivate(&state.db, &caller.audit(), &caller.actor, id).await?,
    ))
}

/// Fetches the source now, without waiting for the job.
async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<SourceView>> {
    Ok(Json(
        harvest::run_now(&state.db, &state.config, &caller.actor, id).await?,
    ))
}
