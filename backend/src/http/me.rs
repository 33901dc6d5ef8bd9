//! The signed-in person: who they are, what they may do, their API tokens and their request
//! to join an organisation.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    app::AppState,
    domain::competence::{CompetenceLine, Decision, Role},
    entities::access_request,
    error::{AppError, AppResult},
    http::auth::{Caller, Via},
    services::{auth, competence, users},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/competence", get(check_competence))
        .route("/api/v1/me/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/me/tokens/{id}", delete(revoke_token))
        .route("/api/v1/me/preferences", post(preferences))
        .route(
            "/api/v1/me/access-requests",
            get(my_access_requests).post(request_access),
        )
}

#[derive(Serialize)]
struct Me {
    id: i64,
    email: String,
    display_name: Option<String>,
    roles: Vec<Role>,
    organisation: Option<crate::domain::competence::OrganisationSummary>,
    /// `member`, `access-requested` or `none`.
    organisation_status: &'static str,
    /// One sentence per line of the organisation's competence.
    competence_summary: Vec<String>,
    competence: Vec<CompetenceLine>,
    moderated_territories: Vec<String>,
    /// For scripts of this site's pages: send it back as `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    signed_in_with: String,
}

fn line_summary(l: &CompetenceLine) -> String {
    let prefix = match l.effect {
        crate::domain::competence::Effect::Grant => "",
        crate::domain::competence::Effect::Exclude => "sauf ",
    };
    let until = l
        .valid_until
        .map(|u| format!(" jusqu'au {}", u.format("%d/%m/%Y")))
        .unwrap_or_default();
    format!(
        "{prefix}{}{until} — {}",
        crate::domain::competence::line_scope(l),
        l.reason
    )
}

async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Me>> {
    let pending = access_request::Entity::find()
        .filter(access_request::Column::UserId.eq(caller.user.id))
        .filter(access_request::Column::Status.eq("pending"))
        .count(&state.db)
        .await?;
    let status = match (&caller.actor.organisation, pending) {
        (Some(_), _) => "member",
        (None, 0) => "none",
        (None, _) => "access-requested",
    };
    let (csrf_token, signed_in_with) = match &caller.via {
        Via::Session(s) => (Some(s.csrf_token.clone()), s.method.clone()),
        Via::Token => (None, "api-token".into()),
    };
    Ok(Json(Me {
        id: caller.user.id,
        email: caller.user.email.clone(),
        display_name: caller.user.display_name.clone(),
        roles: caller.actor.roles.iter().copied().collect(),
        organisation: caller.actor.organisation.clone(),
        organisation_status: status,
        competence_summary: caller.actor.competence.iter().map(line_summary).collect(),
        competence: caller.actor.competence.clone(),
        moderated_territories: caller
            .actor
            .moderated_territories
            .iter()
            .map(ToString::to_string)
            .collect(),
        csrf_token,
        signed_in_with,
    }))
}

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

#[derive(Deserialize)]
struct CompetenceQuery {
    uai: Option<String>,
    schema: Option<String>,
}

#[derive(Serialize)]
struct CompetenceAnswer {
    uai: String,
    schema: String,
    #[serde(flatten)]
    decision: Decision,
}

async fn check_competence(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CompetenceQuery>,
) -> AppResult<Json<CompetenceAnswer>> {
    let mut violations = Vec::new();
    if q.uai.as_deref().is_none_or(|u| u.trim().is_empty()) {
        violations.push(crate::error::Violation {
            pointer: "uai".into(),
            detail: "le paramètre uai est obligatoire (ex. 0350001A)".into(),
        });
    }
    if q.schema.as_deref().is_none_or(|s| s.trim().is_empty()) {
        violations.push(crate::error::Violation {
            pointer: "schema".into(),
            detail: "le paramètre schema est obligatoire (ex. inventaire-equipement)".into(),
        });
    }
    if !violations.is_empty() {
        return Err(AppError::BadRequest {
            title: "paramètres manquants".into(),
            violations,
        });
    }
    let uai = q.uai.unwrap_or_default();
    let schema = q.schema.unwrap_or_default();
    let decision = competence::can_contribute(&state.db, &caller.actor, &uai, &schema).await?;
    Ok(Json(CompetenceAnswer {
        uai: uai.trim().to_uppercase(),
        schema,
        decision,
    }))
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<auth::ApiTokenView>>> {
    Ok(Json(auth::api_tokens(&state.db, caller.user.id).await?))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let (view, secret) =
        auth::create_api_token(&state.db, &caller.audit(), &caller.user, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": view,
            "secret": secret,
            "note": "ce secret n'est affiché qu'une fois : conservez-le maintenant",
        })),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<auth::ApiTokenView>> {
    Ok(Json(
        auth::revoke_api_token(&state.db, &caller.audit(), &caller.user, id).await?,
    ))
}

#[derive(Deserialize)]
struct AccessRequestBody {
    siret: String,
    #[serde(default)]
    message: String,
}

async fn request_access(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AccessRequestBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let r = users::request_access(
        &state.db,
        &caller.audit(),
        &caller.user,
        &body.siret,
        &body.message,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": r.id, "status": r.status, "siret": r.siret})),
    ))
}

async fn my_access_requests(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Value>> {
    let rows = access_request::Entity::find()
        .filter(access_request::Column::UserId.eq(caller.user.id))
        .order_by_asc(access_request::Column::Id)
        .all(&state.db)
        .await?;
    Ok(Json(json!(
        rows.into_iter()
            .map(|r| json!({
                "id": r.id, "siret": r.siret, "message": r.message, "status": r.status,
                "created_at": r.created_at, "decided_at": r.decided_at,
                "decision_reason": r.decision_reason,
            }))
            .collect::<Vec<_>>()
    )))
}

#[derive(Deserialize)]
struct Preferences {
    /// Moderators: one digest a day instead of an e-mail per new submission.
    daily_digest: bool,
}

async fn preferences(
    State(state): State<AppState>,
    caller: Caller,
    Json(p): Json<Preferences>,
) -> AppResult<Json<Value>> {
    users::set_daily_digest(&state.db, &caller.user, p.daily_digest).await?;
    Ok(Json(json!({"daily_digest": p.daily_digest})))
}
