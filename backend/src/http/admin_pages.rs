//! The administration pages: access requests and their decision, organisations with their
//! members, roles and competence, moderators and their territories, harvested sources, the
//! jobs with their history and « Lancer maintenant », and the audit log. Each form goes
//! through the same parsing (`http::admin`) and the same services as the admin API; the
//! handlers only read forms, call them and say what came of it (`?fait=` or `?erreur=`).

use std::collections::{BTreeSet, HashMap};

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::{DateTime, NaiveDate, Utc};
use ecarto_contrib_schemas::Registry;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    admin::{GrantBody, NewCompetenceBody, decision_from, grant_from, new_competence},
    auth::{Caller, OptionalCaller},
    ui::{self, PageError, page},
};
use crate::{
    app::AppState,
    domain::competence::{CompetenceLine, Effect, Origin, Role, line_scope},
    entities::user,
    error::{AppError, AppResult},
    services::{
        audit,
        harvest::{self, NewSource},
        organisations, users,
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/demandes", get(requests))
        .route("/admin/demandes/{id}/decision", post(decide_request))
        .route(
            "/admin/organisations",
            get(organisation_list).post(create_organisation),
        )
        .route("/admin/organisations/{id}", get(organisation_page))
        .route("/admin/organisations/{id}/membres", post(add_member))
        .route("/admin/organisations/{id}/identite", post(update_identity))
        .route(
            "/admin/organisations/{id}/competences",
            post(add_competence),
        )
        .route("/admin/competences/{id}/supprimer", post(remove_competence))
        .route(
            "/admin/utilisateurs/{id}/roles/{role}/retirer",
            post(revoke_role),
        )
        .route("/admin/moderateurs", get(moderators).post(grant_moderator))
        .route("/admin/moissonnage", get(sources).post(register_source))
        .route(
            "/admin/moissonnage/{id}/desactiver",
            post(deactivate_source),
        )
        .route("/admin/moissonnage/{id}/lancer", post(run_source))
        .route("/admin/taches", get(jobs_page))
        .route("/admin/taches/{job}/lancer", post(run_job))
        .route("/admin/journal", get(journal))
        // They show personal data: never kept by a browser's or a proxy's cache.
        .layer(axum::middleware::map_response(no_store))
}

async fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// The signed-in admin, or where to go instead (the sign-in page, then back here).
fn admin(caller: OptionalCaller, here: &str) -> Result<Caller, Box<Response>> {
    ui::gate(caller, here, &[Role::Admin], NOT_ADMIN)
}

const NOT_ADMIN: &str = "l'administration est réservée aux administrateurs de la plateforme";

fn not_admin() -> AppError {
    AppError::Forbidden(NOT_ADMIN.into())
}

/// A form's sender must be an admin (the anonymous were refused by the `Caller` extractor).
fn require_admin(caller: &Caller) -> Result<(), PageError> {
    if caller.actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(PageError(not_admin()))
    }
}

fn urlencoded(v: &str) -> String {
    serde_urlencoded::to_string([("", v)]).unwrap_or_default()
}

/// The messages every admin page shows: what was just done, or why it was not.
#[derive(Deserialize, Default)]
struct Said {
    fait: Option<String>,
    erreur: Option<String>,
}

/// The field names of the services' violations, in the words of the forms.
fn field_words(pointer: &str) -> &str {
    match pointer.trim_start_matches('/') {
        "school_types" => "Types d'établissement",
        "secteur" => "Secteur",
        "territory" => "Territoire",
        "origin" => "Origine",
        "effect" => "Effet",
        "delegated_by" => "Organisation qui délègue",
        "valid_until" => "Fin de validité",
        "reason" => "Raison",
        "organisation" => "Organisation",
        "email" => "Adresse e-mail",
        "kind" => "Type d'organisation",
        "name" => "Nom",
        "siren" => "SIREN",
        "school_competence" => "Compétence scolaire",
        "url" => "Adresse du fichier",
        "schema" => "Schéma",
        "decision" => "Décision",
        p if p.starts_with("territories") => "Territoires",
        p if p.starts_with("roles") => "Rôle",
        other => other,
    }
}

/// An error in words, its violations field by field.
fn error_words(e: &AppError) -> String {
    let d = e.describe();
    let mut words = d.detail.clone().unwrap_or(d.title.clone());
    for v in d.errors {
        words.push_str(&format!(" ; {} : {}", field_words(&v.pointer), v.detail));
    }
    words
}

/// Back to `to` with what came of the form: done, or refused for a reason the admin can fix
/// (a value, a conflict, something unknown); anything else is an error page.
fn outcome(to: &str, r: AppResult<String>) -> Result<Response, PageError> {
    let sep = if to.contains('?') { '&' } else { '?' };
    match r {
        Ok(done) => {
            Ok(Redirect::to(&format!("{to}{sep}fait{}", urlencoded(&done))).into_response())
        }
        Err(e @ (AppError::BadRequest { .. } | AppError::Conflict(_) | AppError::NotFound(_))) => {
            Ok(
                Redirect::to(&format!("{to}{sep}erreur{}", urlencoded(&error_words(&e))))
                    .into_response(),
            )
        }
        Err(e) => Err(PageError(e)),
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%d/%m/%Y %H:%M").to_string()
}

pub(super) fn role_label(role: Role) -> &'static str {
    match role {
        Role::BetaTester => "bêta-testeur",
        Role::Contributor => "contributeur",
        Role::Moderator => "modérateur",
        Role::Admin => "administrateur",
    }
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "commune" => "Commune",
        "epci" => "EPCI",
        "departement" => "Département",
        "region" => "Région",
        "collectivite-statut-particulier" => "Collectivité à statut particulier",
        "academie" => "Académie",
        other => other,
    }
}

fn type_label(t: &str) -> &str {
    match t {
        "ecole" => "Écoles",
        "college" => "Collèges",
        "lycee" => "Lycées",
        "erea" => "EREA",
        "autre" => "Autres",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// The dashboard.

async fn dashboard(
    State(state): State<AppState>,
    caller: OptionalCaller,
) -> Result<Response, PageError> {
    let caller = match admin(caller, "/admin") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let pending = users::access_requests(&state.db, Some("pending"))
        .await?
        .len();
    let orgs = organisations::list(&state.db).await?.len();
    let people = users::list(&state.db).await?;
    let moderators = people
        .iter()
        .filter(|u| u.roles.contains(&Role::Moderator))
        .count();
    let sources = harvest::list(&state.db, &caller.actor)
        .await?
        .iter()
        .filter(|s| s.active)
        .count();
    let mut failing = Vec::new();
    for (job, _, _) in crate::jobs::JOBS {
        if let Some(last) = crate::jobs::history(&state, Some(job), 1).await?.first()
            && last.status == "failed"
        {
            failing.push(job);
        }
    }
    let (_, entries) = audit::search(&state.db, &audit::Filter::default(), 0, 0).await?;
    Ok(page(
        "admin_dashboard.html",
        "/admin",
        json!({
            "here": "/admin",
            "pending": pending,
            "organisations": orgs,
            "people": people.len(),
            "moderators": moderators,
            "sources": sources,
            "failing": failing,
            "entries": entries,
        }),
    )?
    .into_response())
}

// ---------------------------------------------------------------------------------------
// Access requests.

async fn requests(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(said): Query<Said>,
) -> Result<Response, PageError> {
    let caller = match admin(caller, "/admin/demandes") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let all = users::access_requests(&state.db, None).await?;
    let orgs = organisations::list(&state.db).await?;
    let by_siren: HashMap<&str, &str> = orgs
        .iter()
        .filter_map(|o| o.siren.as_deref().map(|s| (s, o.name.as_str())))
        .collect();
    let names: HashMap<i64, &str> = orgs.iter().map(|o| (o.id, o.name.as_str())).collect();
    let pending: Vec<Value> = all
        .iter()
        .filter(|r| r.status == "pending")
        .map(|r| {
            let siren = r.siret.get(..9).unwrap_or(&r.siret);
            json!({
                "id": r.id, "email": r.email, "siret": r.siret, "message": r.message,
                "date": when(r.created_at),
                "known": by_siren.get(siren),
                "organisation": siren,
            })
        })
        .collect();
    // Decided ones, the latest first.
    let decided: Vec<Value> = all
        .iter()
        .rev()
        .filter(|r| r.status != "pending")
        .map(|r| {
            json!({
                "id": r.id, "email": r.email, "siret": r.siret,
                "status": if r.status == "approved" { "Acceptée" } else { "Refusée" },
                "date": when(r.created_at),
                "decided": r.decided_at.map(when),
                "organisation": r.organisation_id.and_then(|o| names.get(&o)),
                "reason": r.decision_reason,
            })
        })
        .collect();
    Ok(page(
        "admin_requests.html",
        "/admin",
        json!({
            "here": "/admin/demandes",
            "pending": pending,
            "decided": decided,
            "done": said.fait, "error": said.erreur,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DecisionForm {
    decision: String,
    organisation: Option<String>,
    raison: String,
}

async fn decide_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        let decision = decision_from(&f.decision, f.organisation)?;
        let (r, email) =
            users::decide_access(&state.db, &caller.audit(), id, decision, &f.raison).await?;
        Ok(if r.status == "approved" {
            let org = match r.organisation_id {
                Some(o) => organisations::by_id(&state.db, o).await?.name,
                None => String::new(),
            };
            format!("Demande {id} acceptée : {email} est contributeur de {org}")
        } else {
            format!("Demande {id} refusée ; {email} en est informé(e) par e-mail")
        })
    }
    .await;
    outcome("/admin/demandes", r)
}

// ---------------------------------------------------------------------------------------
// Organisations.

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    fait: Option<String>,
    erreur: Option<String>,
}

async fn organisation_list(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(p): Query<ListQuery>,
) -> Result<Response, PageError> {
    let caller = match admin(caller, "/admin/organisations") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let q = p.q.clone().unwrap_or_default().trim().to_lowercase();
    let all = organisations::list(&state.db).await?;
    let total = all.len();
    let rows: Vec<Value> = all
        .into_iter()
        .filter(|o| {
            q.is_empty()
                || o.name.to_lowercase().contains(&q)
                || o.siren.as_deref().is_some_and(|s| s.contains(&q))
                || format!("{}:{}", o.territory_level, o.territory_code).contains(&q)
        })
        .map(|o| {
            json!({
                "id": o.id, "name": o.name, "kind": kind_label(&o.kind), "siren": o.siren,
                "territory": format!("{}:{}", o.territory_level, o.territory_code),
            })
        })
        .collect();
    let kinds: Vec<Value> = organisations::KINDS
        .iter()
        .map(|k| json!({"code": k, "label": kind_label(k)}))
        .collect();
    Ok(page(
        "admin_organisations.html",
        "/admin",
        json!({
            "here": "/admin/organisations",
            "rows": rows, "total": total, "q": p.q, "kinds": kinds,
            "done": p.fait, "error": p.erreur,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OrganisationForm {
    kind: String,
    name: String,
    siren: String,
    territory: String,
}

async fn create_organisation(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<OrganisationForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        let territory: crate::domain::competence::TerritoryRef = f
            .territory
            .trim()
            .parse()
            .map_err(|e: String| AppError::bad_request("territory", e))?;
        let siren = f.siren.trim();
        let org = organisations::create(
            &state.db,
            &caller.audit(),
            (!siren.is_empty()).then_some(siren),
            f.kind.trim(),
            &f.name,
            &territory,
        )
        .await?;
        Ok(org)
    }
    .await;
    match r {
        Ok(org) => outcome(
            &format!("/admin/organisations/{}", org.id),
            Ok(format!("Organisation « {} » créée", org.name)),
        ),
        Err(e) => outcome("/admin/organisations", Err(e)),
    }
}

#[derive(Serialize)]
struct LineShown {
    id: i64,
    scope: String,
    effect: &'static str,
    origin: String,
    validity: String,
    reason: String,
}

fn line_shown(l: &CompetenceLine) -> LineShown {
    LineShown {
        id: l.id,
        scope: line_scope(l),
        effect: match l.effect {
            Effect::Grant => "Accordée",
            Effect::Exclude => "Exclue",
        },
        origin: match l.origin {
            Origin::Rule => "Règle générale".to_owned(),
            Origin::Override => "Exception".to_owned(),
            Origin::Delegation => {
                format!("Délégation de {}", l.delegated_by.as_deref().unwrap_or("?"))
            }
        },
        validity: match (l.valid_from, l.valid_until) {
            (None, None) => "Sans limite".to_owned(),
            (Some(f), None) => format!("Depuis le {}", f.format("%d/%m/%Y")),
            (None, Some(u)) => format!("Jusqu'au {}", u.format("%d/%m/%Y")),
            (Some(f), Some(u)) => {
                format!("Du {} au {}", f.format("%d/%m/%Y"), u.format("%d/%m/%Y"))
            }
        },
        reason: l.reason.clone(),
    }
}

fn user_shown(u: &users::UserView) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "name": u.display_name,
        "roles": u.roles.iter().map(|r| json!({"code": r.as_str(), "label": role_label(*r)})).collect::<Vec<_>>(),
        "territories": u.moderated_territories,
        "last_login": u.last_login_at.map(when),
    })
}

async fn organisation_page(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Path(id): Path<i64>,
    Query(said): Query<Said>,
) -> Result<Response, PageError> {
    let here = format!("/admin/organisations/{id}");
    let caller = match admin(caller, &here) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let view = organisations::view(&state.db, id).await?;
    let members = users::members(&state.db, id).await?;
    let given: Vec<Value> = organisations::delegations_given(&state.db, id)
        .await?
        .iter()
        .map(|(holder, name, l)| json!({"holder": holder, "name": name, "line": line_shown(l)}))
        .collect();
    let roles: Vec<Value> = [Role::Contributor, Role::Moderator, Role::Admin]
        .iter()
        .map(|r| json!({"code": r.as_str(), "label": role_label(*r)}))
        .collect();
    let types: Vec<Value> = organisations::SCHOOL_TYPES
        .iter()
        .map(|t| json!({"code": t, "label": type_label(t)}))
        .collect();
    Ok(page(
        "admin_organisation.html",
        "/admin",
        json!({
            "here": "/admin/organisations",
            "org": {
                "id": view.id, "name": view.name, "kind": kind_label(&view.kind),
                "siren": view.siren, "territory": view.territory,
                "epci": view.kind == "epci", "school_competence": view.school_competence,
            },
            "lines": view.competence.iter().map(line_shown).collect::<Vec<_>>(),
            "given": given,
            "members": members.iter().map(user_shown).collect::<Vec<_>>(),
            "roles": roles,
            "types": types,
            "done": said.fait, "error": said.erreur,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MemberForm {
    email: String,
    role: String,
}

async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(f): Form<MemberForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        let org = organisations::by_id(&state.db, id).await?;
        let grant = grant_from(GrantBody {
            email: f.email,
            display_name: None,
            organisation: Some(id.to_string()),
            roles: vec![f.role.trim().to_owned()],
            territories: Vec::new(),
        })?;
        let role = grant.roles.first().copied().map(role_label).unwrap_or("");
        let u = users::grant(&state.db, &caller.audit(), grant).await?;
        Ok(format!(
            "{} est membre de {} avec le rôle {role}",
            u.email, org.name
        ))
    }
    .await;
    outcome(&format!("/admin/organisations/{id}"), r)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IdentityForm {
    siren: String,
    /// `oui` or `non`, for an EPCI only.
    competence_scolaire: String,
}

/// The SIREN of an organisation, and whether an EPCI holds the school competence of its
/// communes: the same services as `PATCH /api/v1/admin/organisations/{id}`.
async fn update_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(f): Form<IdentityForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        let holds = match f.competence_scolaire.as_str() {
            "" => None,
            "oui" => Some(true),
            "non" => Some(false),
            other => {
                return Err(AppError::bad_request(
                    "school_competence",
                    format!("« {other} » : attendu oui ou non"),
                ));
            }
        };
        let done =
            organisations::update_identity(&state.db, &caller.audit(), id, Some(&f.siren), holds)
                .await?;
        let org = organisations::by_id(&state.db, id).await?;
        Ok(if done.is_empty() {
            format!("Rien à changer pour {}", org.name)
        } else {
            format!("{} : {}", org.name, done.join(", "))
        })
    }
    .await;
    outcome(&format!("/admin/organisations/{id}"), r)
}

/// A date typed in a form (`AAAA-MM-JJ`), as the instant its day starts (UTC).
fn day(raw: &str, field: &str) -> AppResult<Option<DateTime<Utc>>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
        .map_err(|_| AppError::bad_request(field, format!("« {raw} » : attendu une date")))
}

async fn add_competence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        // `school_types` repeats (one box per type): the pairs, not a map.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| AppError::bad_request("formulaire", e.to_string()))?;
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let input = NewCompetenceBody {
            effect: get("effect"),
            school_types: pairs
                .iter()
                .filter(|(k, _)| k == "school_types")
                .map(|(_, v)| v.clone())
                .collect(),
            secteur: get("secteur"),
            territory: get("territory").unwrap_or_default(),
            origin: get("origin"),
            delegated_by: get("delegated_by"),
            valid_from: day(&get("valid_from").unwrap_or_default(), "valid_from")?,
            valid_until: day(&get("valid_until").unwrap_or_default(), "valid_until")?,
            reason: get("reason").unwrap_or_default(),
        };
        let line = new_competence(&state, input).await?;
        let added = organisations::add_competence(&state.db, &caller.audit(), id, line).await?;
        let shown = organisations::lines(&state.db, id)
            .await?
            .into_iter()
            .find(|l| l.id == added.id)
            .map(|l| line_scope(&l))
            .unwrap_or_default();
        Ok(format!("Compétence ajoutée : {shown}"))
    }
    .await;
    outcome(&format!("/admin/organisations/{id}"), r)
}

async fn remove_competence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let line = organisations::remove_competence(&state.db, &caller.audit(), id).await?;
    outcome(
        &format!("/admin/organisations/{}", line.organisation_id),
        Ok(format!("Ligne de compétence {id} supprimée")),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BackForm {
    retour: String,
}

/// Where a form sent from one of the admin pages goes back to.
fn back_to(raw: &str) -> String {
    let to = crate::services::auth::safe_return_to(Some(raw));
    if to.starts_with("/admin") {
        to
    } else {
        "/admin".to_owned()
    }
}

async fn revoke_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role)): Path<(i64, String)>,
    Form(f): Form<BackForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        let role: Role = role
            .parse()
            .map_err(|e: String| AppError::bad_request("role", e))?;
        let u = users::by_id(&state.db, id).await?;
        users::revoke_role(&state.db, &caller.audit(), id, role).await?;
        Ok(format!("Rôle {} retiré à {}", role_label(role), u.email))
    }
    .await;
    outcome(&back_to(&f.retour), r)
}

// ---------------------------------------------------------------------------------------
// Moderators.

async fn moderators(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(said): Query<Said>,
) -> Result<Response, PageError> {
    let caller = match admin(caller, "/admin/moderateurs") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let people = users::list(&state.db).await?;
    let rows: Vec<Value> = people
        .iter()
        .filter(|u| u.roles.contains(&Role::Moderator))
        .map(user_shown)
        .collect();
    Ok(page(
        "admin_moderators.html",
        "/admin",
        json!({
            "here": "/admin/moderateurs",
            "rows": rows,
            "done": said.fait, "error": said.erreur,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ModeratorForm {
    email: String,
    territoires: String,
}

async fn grant_moderator(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<ModeratorForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r: AppResult<_> = async {
        let territories: Vec<String> = f
            .territoires
            .split([',', ';', ' ', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let grant = grant_from(GrantBody {
            email: f.email,
            display_name: None,
            organisation: None,
            roles: vec![Role::Moderator.as_str().to_owned()],
            territories,
        })?;
        let named = grant
            .territories
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let u = users::grant(&state.db, &caller.audit(), grant).await?;
        Ok(if named.is_empty() {
            format!("{} est modérateur", u.email)
        } else {
            format!("{} est modérateur de {named}", u.email)
        })
    }
    .await;
    outcome("/admin/moderateurs", r)
}

// ---------------------------------------------------------------------------------------
// Harvested sources.

async fn sources(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(said): Query<Said>,
) -> Result<Response, PageError> {
    let caller = match admin(caller, "/admin/moissonnage") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let list = harvest::list(&state.db, &caller.actor).await?;
    let names: HashMap<i64, String> = organisations::list(&state.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let rows: Vec<Value> = list
        .iter()
        .map(|s| {
            let last = s.events.first();
            json!({
                "id": s.id, "label": s.label, "url": s.url, "schema": s.schema,
                "organisation": names.get(&s.organisation_id),
                "active": s.active,
                "last": last.map(|e| json!({
                    "at": when(e.at),
                    "status": match e.status.as_str() {
                        "submitted" => "envoyé à la relecture",
                        "unchanged" => "inchangé",
                        "invalid" => "invalide",
                        "unreachable" => "injoignable",
                        other => other,
                    },
                    "message": e.message,
                })),
            })
        })
        .collect();
    let schemas: Vec<Value> = Registry::embedded()
        .latest()
        .filter(|s| {
            crate::services::competence::schema_scope(&s.name)
                .is_ok_and(|scope| !scope.open_to_beta_testers)
        })
        .map(|s| json!({"code": s.name, "label": s.title}))
        .collect();
    Ok(page(
        "admin_sources.html",
        "/admin",
        json!({
            "here": "/admin/moissonnage",
            "rows": rows,
            "organisation": caller.actor.organisation.as_ref().map(|o| &o.name),
            "schemas": schemas,
            "done": said.fait, "error": said.erreur,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SourceForm {
    url: String,
    schema: String,
    label: String,
}

async fn register_source(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<SourceForm>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r = harvest::register(
        &state.db,
        &state.config.harvest,
        &caller.audit(),
        &caller.actor,
        NewSource {
            url: f.url,
            schema: f.schema,
            label: Some(f.label),
        },
    )
    .await
    .map(|s| format!("Source « {} » enregistrée", s.label));
    outcome("/admin/moissonnage", r)
}

async fn deactivate_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r = harvest::deactivate(&state.db, &caller.audit(), &caller.actor, id)
        .await
        .map(|s| {
            format!(
                "Source « {} » désactivée : elle n'est plus moissonnée",
                s.label
            )
        });
    outcome("/admin/moissonnage", r)
}

async fn run_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r = harvest::run_now(&state.db, &state.config, &caller.actor, id)
        .await
        .map(|s| {
            let last = s.events.first();
            format!(
                "Source « {} » moissonnée : {}",
                s.label,
                last.map_or("", |e| e.message.as_str())
            )
        });
    outcome("/admin/moissonnage", r)
}

// ---------------------------------------------------------------------------------------
// Jobs.

/// How many runs of each job the page shows.
const RUNS_SHOWN: u64 = 10;

fn job_label(job: &str) -> &'static str {
    match job {
        "outbox" => "Envoi des e-mails en attente",
        "digest" => "Résumé quotidien des modérateurs",
        "purge" => "Purge des sessions, liens de connexion et tentatives expirés",
        "completeness" => "Complétude et indicateurs de tous les territoires",
        "completeness_touched" => "Complétude des territoires touchés par des fusions",
        "harvest" => "Moissonnage des fichiers déclarés",
        _ => "",
    }
}

fn trigger_label(trigger: &str) -> &str {
    match trigger {
        "schedule" => "planifiée",
        "api" => "API",
        "cli" => "ligne de commande",
        "page" => "administration",
        other => other,
    }
}

fn status_label(status: &str) -> &str {
    match status {
        "succeeded" => "réussie",
        "failed" => "échouée",
        "running" => "en cours",
        other => other,
    }
}

/// A run's counts in a line (`sources : 2, submitted : 1`).
fn counts_words(counts: &Value) -> String {
    match counts {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k} : {s}"),
                Value::Number(_) | Value::Bool(_) => format!("{k} : {v}"),
                Value::Null => format!("{k} : –"),
                other => format!("{k} : {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn duration(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> String {
    let Some(f) = finished else {
        return "–".to_owned();
    };
    let ms = (f - started).num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0).replace('.', ",")
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

async fn jobs_page(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(said): Query<Said>,
) -> Result<Response, PageError> {
    let caller = match admin(caller, "/admin/taches") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let mut jobs = Vec::new();
    for (job, default_cron, _) in crate::jobs::JOBS {
        let runs = crate::jobs::history(&state, Some(job), RUNS_SHOWN).await?;
        let cron = state
            .config
            .cron
            .get(job)
            .cloned()
            .unwrap_or_else(|| default_cron.to_owned());
        jobs.push(json!({
            "job": job,
            "label": job_label(job),
            "cron": cron,
            "runs": runs.iter().map(|r| json!({
                "id": r.id,
                "started": r.started_at.format("%d/%m/%Y %H:%M:%S").to_string(),
                "trigger": trigger_label(&r.trigger),
                "status": status_label(&r.status),
                "failed": r.status == "failed",
                "attempts": r.attempts,
                "duration": duration(r.started_at, r.finished_at),
                "message": r.error.clone().unwrap_or_else(|| counts_words(&r.counts)),
            })).collect::<Vec<_>>(),
        }));
    }
    Ok(page(
        "admin_jobs.html",
        "/admin",
        json!({
            "here": "/admin/taches",
            "jobs": jobs,
            "shown": RUNS_SHOWN,
            "done": said.fait, "error": said.erreur,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

/// « Lancer maintenant »: `jobs::run_now`, as `POST /api/v1/admin/jobs/{job}/run`.
async fn run_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(job): Path<String>,
) -> Result<Response, PageError> {
    require_admin(&caller)?;
    let r = crate::jobs::run_now(&state, &job, "page").await.map(|run| {
        let what = if run.status == "succeeded" {
            format!("réussie en {}", duration(run.started_at, run.finished_at))
        } else {
            format!("échouée : {}", run.error.unwrap_or_default())
        };
        format!("Tâche {job} lancée : {what}")
    });
    outcome("/admin/taches", r)
}

// ---------------------------------------------------------------------------------------
// The audit log.

const PER_PAGE: u64 = 50;

#[derive(Deserialize, Default, Serialize)]
struct JournalQuery {
    action: Option<String>,
    acteur: Option<String>,
    cible: Option<String>,
    du: Option<String>,
    au: Option<String>,
    page: Option<u64>,
}

async fn journal(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(q): Query<JournalQuery>,
) -> Result<Response, PageError> {
    if let Err(r) = admin(caller, "/admin/journal") {
        return Ok(*r);
    }
    let nonempty = |v: &Option<String>| v.clone().filter(|x| !x.trim().is_empty());
    let mut problems = Vec::new();
    let actor = match nonempty(&q.acteur) {
        Some(a) => match users::normalise_email(&a) {
            Ok(email) => match users::by_email(&state.db, &email).await? {
                Some(u) => Some(u.id),
                None => {
                    problems.push(format!("Acteur : aucun compte n'a l'adresse {email}"));
                    None
                }
            },
            Err(e) => {
                problems.push(format!("Acteur : {}", error_words(&e)));
                None
            }
        },
        None => None,
    };
    let from = day(&q.du.clone().unwrap_or_default(), "du");
    let until = day(&q.au.clone().unwrap_or_default(), "au");
    let (from, until) = match (from, until) {
        (Ok(f), Ok(u)) => (f, u.map(|u| u + chrono::Duration::days(1))),
        _ => {
            problems.push("Dates : attendu des dates (jj/mm/aaaa)".to_owned());
            (None, None)
        }
    };
    let page_no = q.page.unwrap_or(1).max(1);
    let (entries, total) = if problems.is_empty() {
        let filter = audit::Filter {
            event: nonempty(&q.action),
            actor,
            subject: nonempty(&q.cible),
            from,
            until,
        };
        audit::search(&state.db, &filter, (page_no - 1) * PER_PAGE, PER_PAGE).await?
    } else {
        (Vec::new(), 0)
    };
    let actors: BTreeSet<i64> = entries.iter().filter_map(|e| e.actor_user_id).collect();
    let emails: HashMap<i64, String> = if actors.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(actors))
            .all(&state.db)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect()
    };
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "at": e.at.format("%d/%m/%Y %H:%M:%S").to_string(),
                "actor": match e.actor_user_id {
                    Some(a) => emails.get(&a).cloned().unwrap_or_else(|| format!("compte n° {a}")),
                    None if e.ip.as_deref() == Some("cli") => "ligne de commande".to_owned(),
                    None => "–".to_owned(),
                },
                "event": e.event,
                "subject": e.subject,
                "detail": detail_words(&e.detail),
                "ip": e.ip,
            })
        })
        .collect();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let link = |n: u64| {
        let mut q2 = JournalQuery {
            page: Some(n),
            ..JournalQuery::default()
        };
        q2.action = nonempty(&q.action);
        q2.acteur = nonempty(&q.acteur);
        q2.cible = nonempty(&q.cible);
        q2.du = nonempty(&q.du);
        q2.au = nonempty(&q.au);
        format!(
            "/admin/journal?{}",
            serde_urlencoded::to_string(&q2).unwrap_or_default()
        )
    };
    Ok(page(
        "admin_journal.html",
        "/admin",
        json!({
            "here": "/admin/journal",
            "rows": rows,
            "total": total,
            "page": page_no,
            "pages": pages,
            "previous": (page_no > 1).then(|| link(page_no - 1)),
            "next": (page_no < pages).then(|| link(page_no + 1)),
            "events": audit::event_names(&state.db).await.map_err(AppError::from)?,
            "filter": q,
            "problems": problems,
        }),
    )?
    .into_response())
}

/// An entry's detail (JSON) in a line: `clé : valeur` pairs, nested keys dotted, empty
/// values left out.
fn detail_words(detail: &str) -> String {
    fn flatten(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            Value::Null => {}
            Value::Array(items) if items.is_empty() => {}
            Value::Array(items) => out.push(format!(
                "{prefix} : {}",
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Value::String(s) => out.push(format!("{prefix} : {s}")),
            other => out.push(format!("{prefix} : {other}")),
        }
    }
    match serde_json::from_str::<Value>(detail) {
        Ok(v) => {
            let mut out = Vec::new();
            flatten("", &v, &mut out);
            out.join(" ; ")
        }
        Err(_) => detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_detail_reads_in_one_line() {
        assert_eq!(
            detail_words(
                r#"{"line": 3, "detail": {"school_types": ["ecole", "college"], "secteur": null, "reason": "convention"}}"#
            ),
            "detail.reason : convention ; detail.school_types : ecole, college ; line : 3"
        );
        assert_eq!(detail_words("{}"), "");
        assert_eq!(detail_words("pas du JSON"), "pas du JSON");
    }

    #[test]
    fn errors_name_the_fields_of_the_forms() {
        let e = AppError::BadRequest {
            title: "2 champ(s) invalide(s)".into(),
            violations: vec![
                crate::error::Violation {
                    pointer: "school_types".into(),
                    detail: "au moins un type d'établissement".into(),
                },
                crate::error::Violation {
                    pointer: "/territories/0".into(),
                    detail: "inconnu".into(),
                },
            ],
        };
        assert_eq!(
            error_words(&e),
            "2 champ(s) invalide(s) ; Types d'établissement : au moins un type d'établissement ; \
             Territoires : inconnu"
        );
    }
}
