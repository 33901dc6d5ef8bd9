//! `GET /api/v1/territories/{level}/{code}`: a territory with its parents, children and counts
//! of schools; its completeness (current, at a date, over time), quality, indicators and the
//! list of its missing values, each in JSON or CSV.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    app::AppState,
    domain::{scores, territory::Level},
    error::{AppError, AppResult},
    http::auth::{Caller, OptionalCaller},
    services::{
        completeness,
        scores::At,
        territories::{self, TerritoryView},
    },
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
        .route(
            "/api/v1/territories/national/completeness/history",
            get(national_history),
        )
        .route(
            "/api/v1/territories/{level}/{code}/completeness/history",
            get(history),
        )
        .route(
            "/api/v1/territories/national/quality",
            get(national_quality),
        )
        .route("/api/v1/territories/{level}/{code}/quality", get(quality))
        .route(
            "/api/v1/territories/national/indicators",
            get(national_indicators),
        )
        .route(
            "/api/v1/territories/{level}/{code}/indicators",
            get(indicators),
        )
        .route(
            "/api/v1/territories/national/missing",
            get(national_missing),
        )
        .route("/api/v1/territories/{level}/{code}/missing", get(missing))
        .route_layer(axum::middleware::from_fn(super::conditional::etag))
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
struct ScoresQuery {
    #[serde(flatten)]
    filter: completeness::Filter,
    /// json (default) or csv.
    format: Option<String>,
    /// A date, an instant or a dataset version (`v12`): the scores as they were then.
    at: Option<String>,
}

/// What a scores route shows.
#[derive(Clone, Copy)]
enum View {
    Completeness,
    History,
    Quality,
    Indicators,
    Missing,
}

/// A territory named in a path: its level parsed and its code normalised, or 404.
async fn resolve(state: &AppState, level: &str, code: &str) -> AppResult<(Level, String)> {
    let level = Level::parse(level).map_err(|e| AppError::bad_request("level", e.to_string()))?;
    let code = level
        .normalize_code(code)
        .map_err(|e| AppError::bad_request("code", e.to_string()))?;
    if level != Level::National
        && territories::territory(&state.db, level, &code)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound(format!(
            "aucun territoire de niveau {} n'a le code « {code} »",
            level.as_str()
        )));
    }
    Ok((level, code))
}

fn respond<T: serde::Serialize>(
    format: Option<&str>,
    value: T,
    csv: impl FnOnce(&T) -> String,
    name: &str,
) -> AppResult<Response> {
    Ok(match format {
        None | Some("json") => Json(value).into_response(),
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            csv(&value),
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

async fn scores_view(
    state: &AppState,
    caller: Option<&Caller>,
    (level, code): (Level, String),
    view: View,
    q: ScoresQuery,
) -> AppResult<Response> {
    let (db, cfg) = (&state.db, &state.config.scores);
    let at = At::parse(q.at.as_deref())?;
    let name = format!("{}-{}", level.as_str(), code);
    let format = q.format.as_deref();
    match view {
        View::Completeness => respond(
            format,
            completeness::view(db, cfg, (level, &code), q.filter, at, scores::completeness).await?,
            completeness::to_csv,
            &format!("completude-{name}"),
        ),
        View::History => respond(
            format,
            completeness::history(db, cfg, level, &code, q.filter).await?,
            completeness::history_csv,
            &format!("historique-{name}"),
        ),
        View::Quality => respond(
            format,
            completeness::view(db, cfg, (level, &code), q.filter, at, scores::quality).await?,
            completeness::quality_csv,
            &format!("qualite-{name}"),
        ),
        View::Indicators => respond(
            format,
            completeness::view(db, cfg, (level, &code), q.filter, at, scores::indicators).await?,
            completeness::indicators_csv,
            &format!("indicateurs-{name}"),
        ),
        View::Missing => {
            if q.at.is_some() {
                return Err(AppError::bad_request(
                    "at",
                    "la liste des valeurs manquantes porte sur le jeu publié actuel",
                ));
            }
            respond(
                format,
                completeness::missing(db, level, &code, q.filter, caller.map(|c| &c.actor)).await?,
                completeness::missing_csv,
                &format!("a-completer-{name}"),
            )
        }
    }
}

macro_rules! scores_handlers {
    ($national:ident, $territory:ident, $view:expr) => {
        async fn $national(
            State(state): State<AppState>,
            OptionalCaller(caller): OptionalCaller,
            Query(q): Query<ScoresQuery>,
        ) -> AppResult<Response> {
            scores_view(
                &state,
                caller.as_ref(),
                (Level::National, "FR".into()),
                $view,
                q,
            )
            .await
        }

        async fn $territory(
            State(state): State<AppState>,
            OptionalCaller(caller): OptionalCaller,
            Path((level, code)): Path<(String, String)>,
            Query(q): Query<ScoresQuery>,
        ) -> AppResult<Response> {
            let territory = resolve(&state, &level, &code).await?;
            scores_view(&state, caller.as_ref(), territory, $view, q).await
        }
    };
}

scores_handlers!(national_completeness, completeness, View::Completeness);
scores_handlers!(national_history, history, View::History);
scores_handlers!(national_quality, quality, View::Quality);
scores_handlers!(national_indicators, indicators, View::Indicators);
scores_handlers!(national_missing, missing, View::Missing);
