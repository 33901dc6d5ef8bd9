//! Submissions and their review: thin handlers over `services::submissions`.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, Query, Request, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    app::AppState,
    error::{AppError, AppResult},
    http::{auth::Caller, validate::read_upload},
    services::submissions::{self, DecisionInput, NewSubmission, QueueFilter},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/submissions",
            get(list).post(submit).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/submissions/{id}", get(show))
        .route("/api/v1/submissions/{id}/withdraw", post(withdraw))
        .route("/api/v1/submissions/{id}/claim", post(claim))
        .route("/api/v1/submissions/{id}/decision", post(decide))
        .route("/api/v1/submissions/{id}/revert", post(revert))
        .route("/api/v1/reviews", get(reviews))
        .route("/api/v1/experimentations", get(experimentations))
}

#[derive(Deserialize)]
struct SubmitQuery {
    schema: Option<String>,
    filename: Option<String>,
    supersedes: Option<i64>,
}

/// Multipart (fields `schema`, `file`, optionally `supersedes`) or the raw file with
/// `?schema=&filename=`; an `Idempotency-Key` header makes retries safe.
async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SubmitQuery>,
    req: Request,
) -> AppResult<(StatusCode, Json<Value>)> {
    let idempotency_key = idempotency_key(req.headers())?;
    let upload = read_upload(req, state.config.validation.max_bytes).await?;
    let schema = q
        .schema
        .or_else(|| upload.fields.get("schema").cloned())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            AppError::bad_request(
                "schema",
                "le schéma est obligatoire (ex. inventaire-equipement)",
            )
        })?;
    let supersedes = match (q.supersedes, upload.fields.get("supersedes")) {
        (Some(id), _) => Some(id),
        (None, Some(raw)) if !raw.trim().is_empty() => Some(raw.trim().parse().map_err(|_| {
            AppError::bad_request(
                "supersedes",
                format!("« {raw} » : attendu un numéro d'envoi"),
            )
        })?),
        _ => None,
    };
    let (s, created) = submissions::submit(
        &state.db,
        &state.config.validation,
        &state.config.public_base_url,
        &caller.audit(),
        &caller.actor,
        NewSubmission {
            schema,
            file_name: upload
                .file_name
                .or(q.filename)
                .unwrap_or_else(|| "fichier".into()),
            bytes: upload.bytes.to_vec(),
            idempotency_key,
            supersedes,
        },
    )
    .await?;
    let view = submissions::view(&state.db, &caller.actor, s.id).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!(view)),
    ))
}

fn idempotency_key(headers: &HeaderMap) -> AppResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v.to_str().unwrap_or("").trim();
            if k.is_empty() || k.len() > 200 {
                return Err(AppError::bad_request(
                    "Idempotency-Key",
                    "une clé de 1 à 200 caractères",
                ));
            }
            Ok(Some(k.to_owned()))
        }
    }
}

/// `?mine=true` (the default: one's own submissions) or `?organisation=true` (all of one's
/// organisation's).
#[derive(Deserialize)]
struct ListQuery {
    organisation: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    let list =
        submissions::list_mine(&state.db, &caller.actor, q.organisation.unwrap_or(false)).await?;
    Ok(Json(json!(list)))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        submissions::view(&state.db, &caller.actor, id).await?
    )))
}

async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        submissions::withdraw(&state.db, &caller.audit(), &caller.actor, id).await?
    )))
}

async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        submissions::claim(&state.db, &caller.audit(), &caller.actor, id).await?
    )))
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(input): Json<DecisionInput>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        submissions::decide(
            &state.db,
            &state.config.public_base_url,
            &caller.audit(),
            &caller.actor,
            id,
            input
        )
        .await?
    )))
}

async fn reviews(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<QueueFilter>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        submissions::queue(&state.db, &caller.actor, &filter).await?
    )))
}

#[derive(Deserialize)]
struct RevertBody {
    #[serde(default)]
    reason: String,
}

async fn revert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<RevertBody>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        submissions::revert(
            &state.db,
            &state.config.public_base_url,
            &caller.audit(),
            &caller.actor,
            id,
            &body.reason
        )
        .await?
    )))
}

#[derive(Deserialize)]
struct ExperimentationQuery {
    /// `LEVEL:CODE`, e.g. `departement:35`.
    territory: Option<String>,
}

/// Public: the published local experimentations, with their schools.
async fn experimentations(
    State(state): State<AppState>,
    Query(q): Query<ExperimentationQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(json!(
        crate::services::experimentations::list(&state.db, q.territory.as_deref()).await?
    )))
}
