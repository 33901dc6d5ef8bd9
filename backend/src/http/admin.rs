//! Administration: organisations, their competence (overrides, delegations, exclusions),
//! members and roles, moderators' territories, access requests and the audit log. Admins only.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    app::AppState,
    domain::competence::{Effect, Origin, Role, TerritoryRef},
    error::{AppError, AppResult, Violation},
    http::auth::Caller,
    services::{audit, organisations, users},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/organisations",
            get(list_organisations).post(create_organisation),
        )
        .route(
            "/api/v1/admin/organisations/{id}",
            get(organisation).patch(update_organisation),
        )
        .route(
            "/api/v1/admin/organisations/{id}/competences",
            post(add_competence),
        )
        .route("/api/v1/admin/competences/{id}", delete(remove_competence))
        .route("/api/v1/admin/users", get(list_users).post(grant_user))
        .route("/api/v1/admin/users/{id}/roles/{role}", delete(revoke_role))
        .route("/api/v1/admin/access-requests", get(access_requests))
        .route(
            "/api/v1/admin/access-requests/{id}/decision",
            post(decide_access_request),
        )
        .route("/api/v1/admin/audit", get(audit_log))
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/admin/jobs/{job}/run", post(run_job))
        .route("/api/v1/admin/jobs/runs", get(job_runs))
}

fn admin(caller: &Caller) -> AppResult<()> {
    caller.require(Role::Admin)
}

async fn list_organisations(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Value>> {
    admin(&caller)?;
    let orgs = organisations::list(&state.db).await?;
    Ok(Json(json!(
        orgs.into_iter()
            .map(|o| json!({
                "id": o.id, "siren": o.siren, "kind": o.kind, "name": o.name,
                "territory": format!("{}:{}", o.territory_level, o.territory_code),
                "school_competence": o.school_competence,
            }))
            .collect::<Vec<_>>()
    )))
}

async fn organisation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<organisations::OrganisationView>> {
    admin(&caller)?;
    Ok(Json(organisations::view(&state.db, id).await?))
}

fn parse_territory(raw: &str, pointer: &str) -> AppResult<TerritoryRef> {
    raw.parse()
        .map_err(|e: String| AppError::bad_request(pointer, e))
}

#[derive(Deserialize)]
struct NewOrganisation {
    siren: Option<String>,
    kind: String,
    name: String,
    territory: String,
}

async fn create_organisation(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<NewOrganisation>,
) -> AppResult<(StatusCode, Json<organisations::OrganisationView>)> {
    admin(&caller)?;
    let territory = parse_territory(&b.territory, "territory")?;
    let org = organisations::create(
        &state.db,
        &caller.audit(),
        b.siren.as_deref().filter(|s| !s.trim().is_empty()),
        &b.kind,
        &b.name,
        &territory,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(organisations::view(&state.db, org.id).await?),
    ))
}

#[derive(Deserialize)]
struct OrganisationChange {
    siren: Option<String>,
    school_competence: Option<bool>,
}

async fn update_organisation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<OrganisationChange>,
) -> AppResult<Json<organisations::OrganisationView>> {
    admin(&caller)?;
    if b.siren.is_none() && b.school_competence.is_none() {
        return Err(AppError::bad_request(
            "",
            "rien à changer : attendu siren et/ou school_competence",
        ));
    }
    organisations::update_identity(
        &state.db,
        &caller.audit(),
        id,
        b.siren.as_deref(),
        b.school_competence,
    )
    .await?;
    Ok(Json(organisations::view(&state.db, id).await?))
}

/// A competence line as the API's body or the admin page's form gives it.
#[derive(Deserialize)]
pub(super) struct NewCompetenceBody {
    /// `grant` (default) or `exclude`.
    pub effect: Option<String>,
    pub school_types: Vec<String>,
    pub secteur: Option<String>,
    pub territory: String,
    /// `override` (default) or `delegation`.
    pub origin: Option<String>,
    /// The delegating organisation (id, SIREN or territory), for a delegation.
    pub delegated_by: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub reason: String,
}

async fn add_competence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<NewCompetenceBody>,
) -> AppResult<(StatusCode, Json<organisations::OrganisationView>)> {
    admin(&caller)?;
    let line = new_competence(&state, b).await?;
    organisations::add_competence(&state.db, &caller.audit(), id, line).await?;
    Ok((
        StatusCode::CREATED,
        Json(organisations::view(&state.db, id).await?),
    ))
}

/// Reads a new line's words (every problem at once) and the delegating organisation.
pub(super) async fn new_competence(
    state: &AppState,
    b: NewCompetenceBody,
) -> AppResult<organisations::NewCompetence> {
    let mut violations = Vec::new();
    let effect = match b.effect.as_deref().unwrap_or("grant") {
        "grant" => Effect::Grant,
        "exclude" => Effect::Exclude,
        other => {
            violations.push(Violation {
                pointer: "effect".into(),
                detail: format!("« {other} » : attendu grant ou exclude"),
            });
            Effect::Grant
        }
    };
    let origin = match b.origin.as_deref().unwrap_or("override") {
        "override" => Origin::Override,
        "delegation" => Origin::Delegation,
        other => {
            violations.push(Violation {
                pointer: "origin".into(),
                detail: format!("« {other} » : attendu override ou delegation"),
            });
            Origin::Override
        }
    };
    let territory = match b.territory.parse::<TerritoryRef>() {
        Ok(t) => Some(t),
        Err(e) => {
            violations.push(Violation {
                pointer: "territory".into(),
                detail: e,
            });
            None
        }
    };
    if !violations.is_empty() {
        return Err(AppError::BadRequest {
            title: format!("{} champ(s) invalide(s)", violations.len()),
            violations,
        });
    }
    let delegated_by = match &b.delegated_by {
        Some(d) => Some(organisations::resolve(&state.db, d).await?.id),
        None => None,
    };
    Ok(organisations::NewCompetence {
        effect,
        school_types: b.school_types,
        secteur: b.secteur.filter(|s| !s.is_empty()),
        territory: territory
            .unwrap_or_else(|| TerritoryRef::new(crate::domain::competence::Level::National, "")),
        origin,
        delegated_by,
        valid_from: b.valid_from,
        valid_until: b.valid_until,
        reason: b.reason,
    })
}

async fn remove_competence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    admin(&caller)?;
    organisations::remove_competence(&state.db, &caller.audit(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<users::UserView>>> {
    admin(&caller)?;
    Ok(Json(users::list(&state.db).await?))
}

/// What the API's body or an admin page's form says of a person.
#[derive(Deserialize)]
pub(super) struct GrantBody {
    pub email: String,
    pub display_name: Option<String>,
    pub organisation: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub territories: Vec<String>,
}

async fn grant_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<GrantBody>,
) -> AppResult<Json<Value>> {
    admin(&caller)?;
    let u = users::grant(&state.db, &caller.audit(), grant_from(b)?).await?;
    Ok(Json(json!({"id": u.id, "email": u.email})))
}

/// Reads the roles and territories named (every problem at once).
pub(super) fn grant_from(b: GrantBody) -> AppResult<users::Grant> {
    let mut violations = Vec::new();
    let mut roles = Vec::new();
    for (i, r) in b.roles.iter().enumerate() {
        match r.parse::<Role>() {
            Ok(r) => roles.push(r),
            Err(e) => violations.push(Violation {
                pointer: format!("/roles/{i}"),
                detail: e,
            }),
        }
    }
    let mut territories = Vec::new();
    for (i, t) in b.territories.iter().enumerate() {
        match t.parse::<TerritoryRef>() {
            Ok(t) => territories.push(t),
            Err(e) => violations.push(Violation {
                pointer: format!("/territories/{i}"),
                detail: e,
            }),
        }
    }
    if !violations.is_empty() {
        return Err(AppError::BadRequest {
            title: format!("{} valeur(s) invalide(s)", violations.len()),
            violations,
        });
    }
    Ok(users::Grant {
        email: b.email,
        display_name: b.display_name,
        organisation: b.organisation,
        roles,
        territories,
    })
}

async fn revoke_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role)): Path<(i64, String)>,
) -> AppResult<StatusCode> {
    admin(&caller)?;
    let role: Role = role
        .parse()
        .map_err(|e: String| AppError::bad_request("role", e))?;
    users::revoke_role(&state.db, &caller.audit(), id, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

async fn access_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StatusQuery>,
) -> AppResult<Json<Vec<users::AccessRequestView>>> {
    admin(&caller)?;
    Ok(Json(
        users::access_requests(&state.db, q.status.as_deref()).await?,
    ))
}

#[derive(Deserialize)]
struct DecisionBody {
    /// `approve` or `refuse`.
    decision: String,
    organisation: Option<String>,
    #[serde(default)]
    reason: String,
}

async fn decide_access_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<DecisionBody>,
) -> AppResult<Json<Value>> {
    admin(&caller)?;
    let decision = decision_from(&b.decision, b.organisation)?;
    // The e-mail to the person went to the outbox with the decision.
    let (r, _email) =
        users::decide_access(&state.db, &caller.audit(), id, decision, &b.reason).await?;
    Ok(Json(
        json!({"id": r.id, "status": r.status, "organisation_id": r.organisation_id}),
    ))
}

/// `approve` (with the organisation joined) or `refuse`.
pub(super) fn decision_from(
    decision: &str,
    organisation: Option<String>,
) -> AppResult<users::Decision> {
    Ok(
        match (decision, organisation.filter(|o| !o.trim().is_empty())) {
            ("approve", Some(organisation)) => users::Decision::Approve { organisation },
            ("approve", None) => {
                return Err(AppError::bad_request(
                    "organisation",
                    "une approbation nomme l'organisation rejointe (id, SIREN ou territoire)",
                ));
            }
            ("refuse", _) => users::Decision::Refuse,
            (other, _) => {
                return Err(AppError::bad_request(
                    "decision",
                    format!("« {other} » : attendu approve ou refuse"),
                ));
            }
        },
    )
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<u64>,
    offset: Option<u64>,
    /// An event or a family of events (`competence`).
    event: Option<String>,
    /// The acting user's id.
    actor: Option<i64>,
    /// Words the subject contains.
    subject: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<Value>> {
    admin(&caller)?;
    let filter = audit::Filter {
        event: q.event,
        actor: q.actor,
        subject: q.subject,
        from: q.from,
        until: q.until,
    };
    let (entries, _total) = audit::search(
        &state.db,
        &filter,
        q.offset.unwrap_or(0),
        q.limit.unwrap_or(100).min(1000),
    )
    .await?;
    Ok(Json(json!(
        entries
            .into_iter()
            .map(|e| json!({
                "id": e.id, "at": e.at, "actor_user_id": e.actor_user_id, "event": e.event,
                "subject": e.subject,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
                "ip": e.ip,
            }))
            .collect::<Vec<_>>()
    )))
}

async fn run_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(job): Path<String>,
) -> AppResult<Json<crate::jobs::RunView>> {
    admin(&caller)?;
    Ok(Json(crate::jobs::run_now(&state, &job, "api").await?))
}

#[derive(Deserialize)]
struct RunsQuery {
    job: Option<String>,
    limit: Option<u64>,
}

async fn job_runs(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RunsQuery>,
) -> AppResult<Json<Vec<crate::jobs::RunView>>> {
    admin(&caller)?;
    Ok(Json(
        crate::jobs::history(&state, q.job.as_deref(), q.limit.unwrap_or(50).min(1000)).await?,
    ))
}
