//! Signing in and staying signed in: server-side sessions, single-use sign-in links (e-mail
//! and the first admin's bootstrap link), personal API tokens and rate limits. Secrets are
//! random 256-bit tokens; only their SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    config::AuthConfig,
    domain::competence::Role,
    entities::{api_token, login_token, rate_event, session, user, user_role},
    error::{AppError, AppResult},
    services::{audit, mail::Mailer, users},
};

pub const SESSION_COOKIE: &str = "ecarto_session";
/// API tokens start with this, so that a leaked one is recognisable by secret scanners.
pub const API_TOKEN_PREFIX: &str = "ecarto_";

pub fn random_token() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal(format!("aléa : {e}")))?;
    Ok(hex::encode(bytes))
}

pub fn hash(token: &str) -> String {
    hash_bytes(token.as_bytes())
}

pub fn hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A live session and its person.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: user::Model,
    pub csrf_token: String,
    pub id_hash: String,
    pub method: String,
    pub id_token_hint: Option<String>,
}

/// Opens a session after a successful sign-in, ending the one the browser had (a new id at
/// each sign-in, so that an id planted before cannot be ridden). Returns the cookie value.
pub async fn open_session(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    cfg: &AuthConfig,
    u: &user::Model,
    method: &str,
    previous: Option<&str>,
) -> AppResult<String> {
    open_session_with_hint(db, ctx, cfg, u, method, previous, None).await
}

/// [`open_session`], keeping an OpenID Connect ID token for the provider's logout.
pub async fn open_session_with_hint(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    cfg: &AuthConfig,
    u: &user::Model,
    method: &str,
    previous: Option<&str>,
    id_token_hint: Option<String>,
) -> AppResult<String> {
    let id = random_token()?;
    let now = Utc::now();
    let txn = db.begin().await?;
    if let Some(prev) = previous {
        session::Entity::delete_by_id(hash(prev)).exec(&txn).await?;
    }
    session::ActiveModel {
        id_hash: Set(hash(&id)),
        user_id: Set(u.id),
        csrf_token: Set(random_token()?),
        method: Set(method.to_owned()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + cfg.session_absolute),
        id_token_hint: Set(id_token_hint),
    }
    .insert(&txn)
    .await?;
    let mut m: user::ActiveModel = u.clone().into();
    m.last_login_at = Set(Some(now));
    m.update(&txn).await?;
    let ctx = audit::Context {
        actor: Some(u.id),
        ip: ctx.ip.clone(),
    };
    audit::record(
        &txn,
        &ctx,
        "login.succeeded",
        Some(u.email.clone()),
        json!({"method": method}),
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// The session of a cookie, if it is still alive (idle and absolute expiry).
pub async fn session<C: ConnectionTrait>(
    db: &C,
    cfg: &AuthConfig,
    cookie: &str,
) -> AppResult<Option<SessionInfo>> {
    let id_hash = hash(cookie);
    let Some(s) = session::Entity::find_by_id(id_hash.clone()).one(db).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if now >= s.expires_at || now - s.last_seen_at >= cfg.session_idle {
        session::Entity::delete_by_id(id_hash).exec(db).await?;
        return Ok(None);
    }
    let Some(u) = user::Entity::find_by_id(s.user_id).one(db).await? else {
        return Ok(None);
    };
    if u.disabled {
        return Ok(None);
    }
    // Writing on every request would serialise readers on SQLite; a minute is precise enough.
    if now - s.last_seen_at > Duration::seconds(60) {
        let mut m: session::ActiveModel = s.clone().into();
        m.last_seen_at = Set(now);
        m.update(db).await?;
    }
    Ok(Some(SessionInfo {
        user: u,
        csrf_token: s.csrf_token,
        id_hash: s.id_hash,
        method: s.method,
        id_token_hint: s.id_token_hint,
    }))
}

pub async fn close_session<C: ConnectionTrait>(
    db: &C,
    ctx: &audit::Context,
    info: &SessionInfo,
) -> AppResult<()> {
    session::Entity::delete_by_id(info.id_hash.clone())
        .exec(db)
        .await?;
    audit::record(db, ctx, "logout", Some(info.user.email.clone()), json!({})).await?;
    Ok(())
}

/// Counts an attempt under `key` and refuses beyond `max` in the last `window`. Kept in the
/// database so that every replica counts the same attempts.
pub async fn rate_limit<C: ConnectionTrait>(
    db: &C,
    key: &str,
    window: Duration,
    max: u64,
) -> AppResult<()> {
    let now = Utc::now();
    let since = now - window;
    rate_event::Entity::delete_many()
        .filter(rate_event::Column::Key.eq(key))
        .filter(rate_event::Column::At.lt(since))
        .exec(db)
        .await?;
    let recent = rate_event::Entity::find()
        .filter(rate_event::Column::Key.eq(key))
        .count(db)
        .await?;
    if recent >= max {
        return Err(AppError::TooManyRequests(format!(
            "trop de demandes : réessayez dans {} minutes",
            window.num_minutes()
        )));
    }
    rate_event::ActiveModel {
        key: Set(key.to_owned()),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Only paths of this site: an absolute URL, `//host` or a backslash trick would send the
/// person elsewhere after signing in.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw.map(str::trim) {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Sends a single-use sign-in link. The answer is the same whether the address has an account
/// or not; only the rate limits can refuse.
#[allow(clippy::too_many_arguments)]
pub async fn request_magic_link<C: ConnectionTrait>(
    db: &C,
    mailer: &Mailer,
    cfg: &AuthConfig,
    base_url: &str,
    ctx: &audit::Context,
    email: &str,
    return_to: Option<&str>,
) -> AppResult<()> {
    let email = users::normalise_email(email)?;
    let quarter = Duration::minutes(15);
    if let Some(ip) = &ctx.ip {
        rate_limit(
            db,
            &format!("sign-in:ip:{ip}"),
            quarter,
            cfg.sign_ins_per_ip,
        )
        .await?;
    }
    rate_limit(
        db,
        &format!("magic-link:{email}"),
        quarter,
        cfg.magic_links_per_email,
    )
    .await?;
    if users::by_email(db, &email)
        .await?
        .is_some_and(|u| u.disabled)
    {
        audit::record(
            db,
            ctx,
            "magic-link.refused",
            Some(email),
            json!({"why": "disabled"}),
        )
        .await?;
        return Ok(());
    }
    let token = random_token()?;
    let now = Utc::now();
    login_token::ActiveModel {
        token_hash: Set(hash(&token)),
        email: Set(email.clone()),
        purpose: Set("magic-link".into()),
        return_to: Set(Some(safe_return_to(return_to))),
        created_at: Set(now),
        expires_at: Set(now + cfg.magic_link_ttl),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    let link = format!(
        "{}/auth/email/confirm?token={token}",
        base_url.trim_end_matches('/')
    );
    let body = format!(
        "Bonjour,\n\nPour vous connecter à eCarto contributions, ouvrez ce lien dans les {} \
         minutes :\n\n{link}\n\nIl ne sert qu'une fois. Si vous n'avez rien demandé, ignorez cet \
         e-mail : personne ne peut se connecter sans lui.\n\n-- \neCarto contributions\n",
        cfg.magic_link_ttl.num_minutes()
    );
    mailer
        .send(
            &email,
            "Votre lien de connexion à eCarto contributions",
            body,
        )
        .await
        .map_err(AppError::internal)?;
    audit::record(db, ctx, "magic-link.sent", Some(email), json!({})).await?;
    Ok(())
}

/// Consumes a sign-in link: valid, unused, unexpired, and used by one request only even when
/// two race. Returns the person (created on first sign-in) and where to send them.
pub async fn consume_magic_link(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    token: &str,
) -> AppResult<(user::Model, String)> {
    let t = take_token(db, ctx, token, "magic-link").await?;
    let txn = db.begin().await?;
    let (u, created) = users::find_or_create(&txn, &t.email, None).await?;
    if created {
        audit::record(
            &txn,
            ctx,
            "user.created",
            Some(u.email.clone()),
            json!({"via": "magic-link"}),
        )
        .await?;
    }
    txn.commit().await?;
    if u.disabled {
        return Err(AppError::Forbidden("ce compte est désactivé".into()));
    }
    Ok((u, t.return_to.unwrap_or_else(|| "/".into())))
}

async fn take_token<C: ConnectionTrait>(
    db: &C,
    ctx: &audit::Context,
    token: &str,
    purpose: &str,
) -> AppResult<login_token::Model> {
    let invalid = || {
        AppError::Unauthorized(
            "ce lien de connexion n'est pas valable (déjà utilisé, expiré ou incomplet) : \
             demandez-en un nouveau"
                .into(),
        )
    };
    let h = hash(token.trim());
    let Some(t) = login_token::Entity::find_by_id(h.clone()).one(db).await? else {
        audit::record(
            db,
            ctx,
            "login.failed",
            None,
            json!({"method": purpose, "why": "unknown token"}),
        )
        .await?;
        return Err(invalid());
    };
    let now = Utc::now();
    if t.purpose != purpose || t.used_at.is_some() || now >= t.expires_at {
        audit::record(
            db,
            ctx,
            "login.failed",
            Some(t.email.clone()),
            json!({"method": purpose, "why": if t.used_at.is_some() { "used" } else { "expired" }}),
        )
        .await?;
        return Err(invalid());
    }
    // The conditional update is what makes the link single-use when two requests race.
    let taken = login_token::Entity::update_many()
        .col_expr(
            login_token::Column::UsedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(login_token::Column::TokenHash.eq(h))
        .filter(login_token::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if taken != 1 {
        return Err(invalid());
    }
    Ok(t)
}

/// On a database with no admin: a fresh single-use link that makes whoever opens it the first
/// admin (earlier unused ones stop working). `None` once an admin exists.
pub async fn bootstrap_link<C: ConnectionTrait>(
    db: &C,
    base_url: &str,
) -> AppResult<Option<String>> {
    if has_admin(db).await? {
        return Ok(None);
    }
    login_token::Entity::delete_many()
        .filter(login_token::Column::Purpose.eq("bootstrap-admin"))
        .exec(db)
        .await?;
    let token = random_token()?;
    let now = Utc::now();
    login_token::ActiveModel {
        token_hash: Set(hash(&token)),
        email: Set(String::new()),
        purpose: Set("bootstrap-admin".into()),
        return_to: Set(Some("/".into())),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(7)),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(Some(format!(
        "{}/auth/bootstrap?token={token}",
        base_url.trim_end_matches('/')
    )))
}

pub async fn has_admin<C: ConnectionTrait>(db: &C) -> AppResult<bool> {
    Ok(user_role::Entity::find()
        .filter(user_role::Column::Role.eq(Role::Admin.as_str()))
        .count(db)
        .await?
        > 0)
}

/// Uses the bootstrap link: the address given becomes the first admin.
pub async fn consume_bootstrap(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    token: &str,
    email: &str,
    display_name: Option<String>,
) -> AppResult<user::Model> {
    let email = users::normalise_email(email)?;
    if has_admin(db).await? {
        return Err(AppError::Conflict(
            "un administrateur existe déjà : ce lien ne sert plus".into(),
        ));
    }
    take_token(db, ctx, token, "bootstrap-admin").await?;
    users::grant(
        db,
        ctx,
        users::Grant {
            email,
            display_name,
            organisation: None,
            roles: vec![Role::Admin],
            territories: vec![],
        },
    )
    .await
}

#[derive(Debug, Serialize)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    /// The first characters, to recognise it in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_token::Model> for ApiTokenView {
    fn from(t: api_token::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Creates a token for its owner; the secret is returned here and never again.
pub async fn create_api_token(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    owner: &user::Model,
    name: &str,
) -> AppResult<(ApiTokenView, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad_request(
            "name",
            "un nom de 1 à 100 caractères, pour reconnaître le jeton",
        ));
    }
    let secret = format!("{API_TOKEN_PREFIX}{}", random_token()?);
    let txn = db.begin().await?;
    let t = api_token::ActiveModel {
        user_id: Set(owner.id),
        name: Set(name.to_owned()),
        token_hash: Set(hash(&secret)),
        prefix: Set(secret[..API_TOKEN_PREFIX.len() + 6].to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        ctx,
        "api-token.created",
        Some(owner.email.clone()),
        json!({"token": t.id, "name": name}),
    )
    .await?;
    txn.commit().await?;
    Ok((t.into(), secret))
}

pub async fn api_tokens<C: ConnectionTrait>(db: &C, owner: i64) -> AppResult<Vec<ApiTokenView>> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(owner))
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Revokes one of the owner's tokens; someone else's is "not found", not "forbidden", so that
/// ids do not reveal what exists.
pub async fn revoke_api_token(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    owner: &user::Model,
    id: i64,
) -> AppResult<ApiTokenView> {
    let t = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|t| t.user_id == owner.id)
        .ok_or_else(|| AppError::NotFound(format!("jeton {id} inconnu")))?;
    if t.revoked_at.is_some() {
        return Ok(t.into());
    }
    let txn = db.begin().await?;
    let mut m: api_token::ActiveModel = t.into();
    m.revoked_at = Set(Some(Utc::now()));
    let t = m.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        "api-token.revoked",
        Some(owner.email.clone()),
        json!({"token": t.id}),
    )
    .await?;
    txn.commit().await?;
    Ok(t.into())
}

/// The owner of a bearer token, recording its use.
pub async fn user_for_api_token<C: ConnectionTrait>(
    db: &C,
    secret: &str,
) -> AppResult<Option<user::Model>> {
    let Some(t) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash(secret.trim())))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if t.revoked_at.is_some() {
        return Ok(None);
    }
    let Some(u) = user::Entity::find_by_id(t.user_id).one(db).await? else {
        return Ok(None);
    };
    if u.disabled {
        return Ok(None);
    }
    let now = Utc::now();
    if t.last_used_at
        .is_none_or(|at| now - at > Duration::seconds(60))
    {
        let mut m: api_token::ActiveModel = t.into();
        m.last_used_at = Set(Some(now));
        m.update(db).await?;
    }
    Ok(Some(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_stay_on_this_site() {
        assert_eq!(safe_return_to(Some("/schemas?x=1")), "/schemas?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = random_token().expect("token");
        let b = random_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(hash(&a), a);
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Purged {
    pub idle_job_runs: u64,
    pub sessions: u64,
    pub login_tokens: u64,
    pub oidc_attempts: u64,
    pub rate_events: u64,
}

/// Deletes what can no longer serve: ended sessions, sign-in links and OpenID attempts past
/// their expiry (kept a day, for the audit trail's sake of a recent failure), and rate-limit
/// events older than any window.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> AppResult<Purged> {
    use crate::entities::oidc_attempt;
    let now = Utc::now();
    let day_ago = now - Duration::days(1);
    Ok(Purged {
        sessions: session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lt(now))
            .exec(db)
            .await?
            .rows_affected,
        login_tokens: login_token::Entity::delete_many()
            .filter(login_token::Column::ExpiresAt.lt(day_ago))
            .exec(db)
            .await?
            .rows_affected,
        oidc_attempts: oidc_attempt::Entity::delete_many()
            .filter(oidc_attempt::Column::ExpiresAt.lt(now))
            .exec(db)
            .await?
            .rows_affected,
        rate_events: rate_event::Entity::delete_many()
            .filter(rate_event::Column::At.lt(now - Duration::hours(1)))
            .exec(db)
            .await?
            .rows_affected,
        // The per-minute check after merges mostly finds nothing to do: those runs are kept
        // a week, enough to see that the job is alive.
        idle_job_runs: crate::entities::job_run::Entity::delete_many()
            .filter(crate::entities::job_run::Column::Job.eq("completeness_touched"))
            .filter(crate::entities::job_run::Column::Status.eq("succeeded"))
            .filter(crate::entities::job_run::Column::Counts.contains("\"skipped\""))
            .filter(crate::entities::job_run::Column::StartedAt.lt(now - Duration::days(7)))
            .exec(db)
            .await?
            .rows_affected,
    })
}
