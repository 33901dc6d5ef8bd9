//! People: accounts, roles, membership of an organisation, moderators' territories, requests
//! to join an organisation, and the `Actor` every authorisation decision reads.

use std::collections::BTreeSet;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;

use crate::{
    domain::competence::{Actor, OrganisationSummary, Role, TerritoryRef},
    entities::{access_request, moderator_territory, organisation, user, user_role},
    error::{AppError, AppResult},
    services::{audit, organisations},
};

/// Lower-cased and checked enough to be a deliverable address; the e-mail itself proves it.
pub fn normalise_email(raw: &str) -> AppResult<String> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok {
        Ok(e)
    } else {
        Err(AppError::bad_request(
            "email",
            format!("« {} » n'est pas une adresse e-mail", raw.trim()),
        ))
    }
}

pub async fn by_email<C: ConnectionTrait>(db: &C, email: &str) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

pub async fn by_id<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("utilisateur {id} inconnu")))
}

/// The account of an address, created on first sign-in: every signed-in person is a
/// beta-tester.
pub async fn find_or_create<C: ConnectionTrait>(
    db: &C,
    email: &str,
    display_name: Option<String>,
) -> AppResult<(user::Model, bool)> {
    if let Some(u) = by_email(db, email).await? {
        return Ok((u, false));
    }
    let u = user::ActiveModel {
        email: Set(email.to_owned()),
        display_name: Set(display_name),
        organisation_id: Set(None),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        disabled: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?;
    grant_role(db, u.id, Role::BetaTester).await?;
    Ok((u, true))
}

pub async fn roles<C: ConnectionTrait>(db: &C, user_id: i64) -> AppResult<BTreeSet<Role>> {
    Ok(user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| r.role.parse().ok())
        .collect())
}

async fn grant_role<C: ConnectionTrait>(db: &C, user_id: i64, role: Role) -> AppResult<bool> {
    let exists = user_role::Entity::find_by_id((user_id, role.as_str().to_owned()))
        .one(db)
        .await?
        .is_some();
    if !exists {
        user_role::ActiveModel {
            user_id: Set(user_id),
            role: Set(role.as_str().to_owned()),
        }
        .insert(db)
        .await?;
    }
    Ok(!exists)
}

pub async fn count<C: ConnectionTrait>(db: &C) -> AppResult<u64> {
    Ok(user::Entity::find().count(db).await?)
}

pub async fn moderated_territories<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> AppResult<Vec<TerritoryRef>> {
    moderator_territory::Entity::find()
        .filter(moderator_territory::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| {
            Ok(TerritoryRef::new(
                t.level.parse().map_err(AppError::internal)?,
                t.code,
            ))
        })
        .collect()
}

/// Everything a decision needs about a person, read in one place.
pub async fn actor<C: ConnectionTrait>(db: &C, user: &user::Model) -> AppResult<Actor> {
    let organisation = match user.organisation_id {
        Some(id) => Some(organisations::by_id(db, id).await?),
        None => None,
    };
    let competence = match &organisation {
        Some(o) => organisations::lines(db, o.id).await?,
        None => Vec::new(),
    };
    Ok(Actor {
        user_id: user.id,
        roles: roles(db, user.id).await?,
        organisation: organisation.map(|o| OrganisationSummary {
            id: o.id,
            name: o.name,
            kind: o.kind,
            siren: o.siren,
        }),
        competence,
        moderated_territories: moderated_territories(db, user.id).await?,
    })
}

/// What an admin (or `ecarto users add`) says of a person: the account is created if needed,
/// and the roles, organisation and territories are added to what it has.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    pub email: String,
    pub display_name: Option<String>,
    /// An id, SIREN or territory naming the organisation (see `organisations::resolve`).
    pub organisation: Option<String>,
    pub roles: Vec<Role>,
    pub territories: Vec<TerritoryRef>,
}

pub async fn grant(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    g: Grant,
) -> AppResult<user::Model> {
    let email = normalise_email(&g.email)?;
    if !g.territories.is_empty() && !g.roles.contains(&Role::Moderator) {
        return Err(AppError::bad_request(
            "territory",
            "seuls les modérateurs ont des territoires (ajoutez --role moderator)",
        ));
    }
    if g.roles.contains(&Role::Contributor) && g.organisation.is_none() {
        let existing = by_email(db, &email).await?;
        if existing.and_then(|u| u.organisation_id).is_none() {
            return Err(AppError::bad_request(
                "organisation",
                "un contributeur est membre d'une organisation (ajoutez --org SIREN)",
            ));
        }
    }
    let org = match &g.organisation {
        Some(o) => Some(organisations::resolve(db, o).await?),
        None => None,
    };
    let txn = db.begin().await?;
    let (mut u, created) = find_or_create(&txn, &email, g.display_name.clone()).await?;
    if created {
        audit::record(&txn, ctx, "user.created", Some(email.clone()), json!({})).await?;
    }
    if let Some(org) = &org
        && u.organisation_id != Some(org.id)
    {
        let mut m: user::ActiveModel = u.into();
        m.organisation_id = Set(Some(org.id));
        u = m.update(&txn).await?;
        audit::record(
            &txn,
            ctx,
            "organisation.member-set",
            Some(email.clone()),
            json!({"organisation_id": org.id, "organisation": org.name}),
        )
        .await?;
    }
    for role in &g.roles {
        if grant_role(&txn, u.id, *role).await? {
            audit::record(
                &txn,
                ctx,
                "role.granted",
                Some(email.clone()),
                json!({"role": role.as_str()}),
            )
            .await?;
        }
    }
    for t in &g.territories {
        let exists = moderator_territory::Entity::find_by_id((
            u.id,
            t.level.as_str().to_owned(),
            t.code.clone(),
        ))
        .one(&txn)
        .await?
        .is_some();
        if !exists {
            moderator_territory::ActiveModel {
                user_id: Set(u.id),
                level: Set(t.level.as_str().to_owned()),
                code: Set(t.code.clone()),
            }
            .insert(&txn)
            .await?;
            audit::record(
                &txn,
                ctx,
                "moderator.territory-added",
                Some(email.clone()),
                json!({"territory": t.to_string()}),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(u)
}

/// Takes a role away (and a moderator's territories with the moderator role).
pub async fn revoke_role(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    user_id: i64,
    role: Role,
) -> AppResult<()> {
    let u = by_id(db, user_id).await?;
    let txn = db.begin().await?;
    let gone = user_role::Entity::delete_by_id((user_id, role.as_str().to_owned()))
        .exec(&txn)
        .await?
        .rows_affected;
    if role == Role::Moderator {
        moderator_territory::Entity::delete_many()
            .filter(moderator_territory::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
    }
    if gone > 0 {
        audit::record(
            &txn,
            ctx,
            "role.revoked",
            Some(u.email),
            json!({"role": role.as_str()}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// After a sign-in that names a SIRET (ProConnect): a person without an organisation joins the
/// one of that SIREN, as a contributor. Returns the organisation, or `None` when the SIREN is
/// not recognised.
pub async fn join_by_siret(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    u: &user::Model,
    siret: &str,
) -> AppResult<Option<organisation::Model>> {
    let Some(org) = organisations::by_siren(db, siret).await? else {
        return Ok(None);
    };
    if u.organisation_id.is_none() {
        let txn = db.begin().await?;
        let mut m: user::ActiveModel = u.clone().into();
        m.organisation_id = Set(Some(org.id));
        m.update(&txn).await?;
        grant_role(&txn, u.id, Role::Contributor).await?;
        audit::record(
            &txn,
            ctx,
            "organisation.joined",
            Some(u.email.clone()),
            json!({"organisation_id": org.id, "organisation": org.name, "siret": siret}),
        )
        .await?;
        txn.commit().await?;
    }
    Ok(Some(org))
}

#[derive(Debug, Serialize)]
pub struct AccessRequestView {
    pub id: i64,
    pub email: String,
    pub siret: String,
    pub message: String,
    pub status: String,
    pub created_at: chrono::DateTime<Utc>,
    pub decided_at: Option<chrono::DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub organisation_id: Option<i64>,
}

/// "Organisation not recognised — request access": one pending request per person.
pub async fn request_access(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    u: &user::Model,
    siret: &str,
    message: &str,
) -> AppResult<access_request::Model> {
    if u.organisation_id.is_some() {
        return Err(AppError::Conflict(
            "vous êtes déjà membre d'une organisation".into(),
        ));
    }
    let digits: String = siret.chars().filter(|c| !c.is_whitespace()).collect();
    if !(digits.len() == 9 || digits.len() == 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_request(
            "siret",
            format!("« {siret} » : attendu un SIRET (14 chiffres) ou un SIREN (9 chiffres)"),
        ));
    }
    if access_request::Entity::find()
        .filter(access_request::Column::UserId.eq(u.id))
        .filter(access_request::Column::Status.eq("pending"))
        .count(db)
        .await?
        > 0
    {
        return Err(AppError::Conflict(
            "une demande d'accès est déjà en attente de décision".into(),
        ));
    }
    let txn = db.begin().await?;
    let r = access_request::ActiveModel {
        user_id: Set(u.id),
        siret: Set(digits.clone()),
        message: Set(message.trim().to_owned()),
        status: Set("pending".into()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        ctx,
        "access-request.created",
        Some(u.email.clone()),
        json!({"request": r.id, "siret": digits}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn access_requests<C: ConnectionTrait>(
    db: &C,
    status: Option<&str>,
) -> AppResult<Vec<AccessRequestView>> {
    let mut q = access_request::Entity::find().order_by_asc(access_request::Column::Id);
    if let Some(s) = status {
        q = q.filter(access_request::Column::Status.eq(s));
    }
    let mut out = Vec::new();
    for r in q.all(db).await? {
        let u = by_id(db, r.user_id).await?;
        out.push(AccessRequestView {
            id: r.id,
            email: u.email,
            siret: r.siret,
            message: r.message,
            status: r.status,
            created_at: r.created_at,
            decided_at: r.decided_at,
            decision_reason: r.decision_reason,
            organisation_id: r.organisation_id,
        });
    }
    Ok(out)
}

pub enum Decision {
    /// Joins the organisation (named as `organisations::resolve` reads it); an organisation
    /// without a SIREN takes the request's.
    Approve {
        organisation: String,
    },
    Refuse,
}

/// An admin's decision on a request; the person becomes a contributor of the organisation on
/// approval. Returns the request and the person's address, to tell them.
pub async fn decide_access(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    id: i64,
    decision: Decision,
    reason: &str,
) -> AppResult<(access_request::Model, String)> {
    let r = access_request::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("demande d'accès {id} inconnue")))?;
    if r.status != "pending" {
        return Err(AppError::Conflict(format!(
            "la demande {id} a déjà été traitée ({})",
            r.status
        )));
    }
    let u = by_id(db, r.user_id).await?;
    let org = match &decision {
        Decision::Approve { organisation } => Some(organisations::resolve(db, organisation).await?),
        Decision::Refuse => None,
    };
    if matches!(decision, Decision::Refuse) && reason.trim().is_empty() {
        return Err(AppError::bad_request(
            "reason",
            "un refus est motivé : la raison est envoyée à la personne",
        ));
    }
    let txn = db.begin().await?;
    if let Some(org) = &org {
        if org.siren.is_none() {
            organisations::set_siren(&txn, org.id, &r.siret[..9]).await?;
        }
        let mut m: user::ActiveModel = u.clone().into();
        m.organisation_id = Set(Some(org.id));
        m.update(&txn).await?;
        grant_role(&txn, u.id, Role::Contributor).await?;
    }
    let status = if org.is_some() { "approved" } else { "refused" };
    let mut m: access_request::ActiveModel = r.into();
    m.status = Set(status.into());
    m.decided_by = Set(ctx.actor);
    m.decided_at = Set(Some(Utc::now()));
    m.decision_reason = Set(Some(reason.trim().to_owned()).filter(|s| !s.is_empty()));
    m.organisation_id = Set(org.as_ref().map(|o| o.id));
    let r = m.update(&txn).await?;
    let body = if org.is_some() {
        "Bonjour,\n\nVotre demande d'accès à eCarto contributions a été acceptée : vous pouvez \
         désormais déposer des données pour les établissements de votre organisation.\n"
            .to_string()
    } else {
        format!(
            "Bonjour,\n\nVotre demande d'accès à eCarto contributions a été refusée, pour la \
             raison suivante :\n\n{}\n",
            reason.trim()
        )
    };
    crate::services::outbox::enqueue(
        &txn,
        &format!("access-request:{id}:decision"),
        &u.email,
        "Votre demande d'accès à eCarto contributions",
        body,
    )
    .await?;
    audit::record(
        &txn,
        ctx,
        &format!("access-request.{status}"),
        Some(u.email.clone()),
        json!({"request": id, "organisation": org.as_ref().map(|o| &o.name), "reason": reason}),
    )
    .await?;
    txn.commit().await?;
    Ok((r, u.email))
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: Option<String>,
    pub organisation_id: Option<i64>,
    pub roles: Vec<Role>,
    pub moderated_territories: Vec<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub last_login_at: Option<chrono::DateTime<Utc>>,
}

pub async fn list<C: ConnectionTrait>(db: &C) -> AppResult<Vec<UserView>> {
    views(
        db,
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(db)
            .await?,
    )
    .await
}

/// The members of an organisation, oldest account first.
pub async fn members<C: ConnectionTrait>(db: &C, organisation_id: i64) -> AppResult<Vec<UserView>> {
    views(
        db,
        user::Entity::find()
            .filter(user::Column::OrganisationId.eq(organisation_id))
            .order_by_asc(user::Column::Id)
            .all(db)
            .await?,
    )
    .await
}

async fn views<C: ConnectionTrait>(db: &C, list: Vec<user::Model>) -> AppResult<Vec<UserView>> {
    let mut out = Vec::new();
    for u in list {
        out.push(UserView {
            roles: roles(db, u.id).await?.into_iter().collect(),
            moderated_territories: moderated_territories(db, u.id)
                .await?
                .iter()
                .map(ToString::to_string)
                .collect(),
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            organisation_id: u.organisation_id,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        });
    }
    Ok(out)
}

pub async fn set_daily_digest(
    db: &DatabaseConnection,
    u: &user::Model,
    daily_digest: bool,
) -> AppResult<()> {
    let mut m: user::ActiveModel = u.clone().into();
    m.daily_digest = Set(daily_digest);
    m.update(db).await?;
    Ok(())
}
