//! Harvesting: an organisation registers the URL of a file it already publishes on its own
//! open-data portal, following a contribution schema; the harvest job fetches it, and when it
//! changed, sends it as a submission in the name of the member who registered it — validated,
//! checked against their competence and queued for review like any upload.
//!
//! Outbound requests are the platform reaching into other people's networks: only `http(s)`,
//! only to public addresses (checked on every resolution, and the connection pinned to the
//! address checked, so that DNS cannot swap in an internal one afterwards), with timeouts, a
//! size limit and a bounded number of redirects, each checked again.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use crate::{
    config::Config,
    domain::competence::{Actor, Role},
    entities::{harvest_event, harvest_source, user},
    error::{AppError, AppResult},
    services::{audit, competence, submissions, users},
};

/// Outbound requests of the harvest job.
#[derive(Debug, Clone)]
pub struct HarvestConfig {
    /// Lets sources on loopback and private addresses through: for tests, never in production.
    pub allow_private: bool,
    pub connect_timeout: Duration,
    /// The whole fetch, body included.
    pub timeout: Duration,
    pub max_bytes: usize,
}

impl Default for HarvestConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_bytes: 50 * 1024 * 1024,
        }
    }
}

const MAX_REDIRECTS: usize = 3;

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), documentation, multicast or unspecified, in IPv4 or IPv6 (mapped addresses
/// included).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// A URL a source may have: absolute `http(s)` with a host, no credentials.
pub fn check_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("adresse illisible ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "seules les adresses http:// et https:// sont moissonnées, pas « {}: »",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("l'adresse n'a pas de nom d'hôte".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("l'adresse ne doit pas contenir d'identifiants".into());
    }
    Ok(url)
}

/// Resolves the URL's host and refuses it unless every address is public (or private ones
/// are allowed): the address to connect to.
async fn resolve(url: &reqwest::Url, cfg: &HarvestConfig) -> Result<SocketAddr, String> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host_for_lookup, port))
        .await
        .map_err(|e| format!("le nom « {host} » ne se résout pas ({e})"))?
        .collect();
    let Some(first) = addrs.first().copied() else {
        return Err(format!("le nom « {host} » ne se résout pas"));
    };
    if !cfg.allow_private
        && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
    {
        return Err(format!(
            "« {host} » désigne une adresse non publique ({}) : refusée",
            bad.ip()
        ));
    }
    Ok(first)
}

/// What one fetch gave.
enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

async fn fetch(cfg: &HarvestConfig, source: &harvest_source::Model) -> Result<Fetched, String> {
    let mut url = check_url(&source.url)?;
    for _ in 0..=MAX_REDIRECTS {
        let addr = resolve(&url, cfg).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .resolve(&host, addr)
            .user_agent("eCarto-contributions-moissonnage/1")
            .build()
            .map_err(|e| e.to_string())?;
        let mut req = client.get(url.clone());
        if let Some(etag) = &source.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &source.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        let mut res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                format!("pas de réponse dans les délais ({e})")
            } else {
                format!("serveur injoignable ({e})")
            }
        })?;
        let status = res.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if status.is_redirection() {
            let location = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("redirection {status} sans adresse"))?;
            url = check_url(
                url.join(location)
                    .map_err(|e| format!("redirection illisible ({e})"))?
                    .as_str(),
            )?;
            continue;
        }
        if !status.is_success() {
            return Err(format!("le serveur a répondu {status}"));
        }
        if res
            .content_length()
            .is_some_and(|n| n > cfg.max_bytes as u64)
        {
            return Err(format!(
                "le fichier annonce {} octets, plus que la limite de {} octets",
                res.content_length().unwrap_or(0),
                cfg.max_bytes
            ));
        }
        let header = |name| {
            res.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let mut bytes = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| format!("lecture interrompue ({e})"))?
        {
            if bytes.len() + chunk.len() > cfg.max_bytes {
                return Err(format!(
                    "le fichier dépasse la limite de {} octets",
                    cfg.max_bytes
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        });
    }
    Err(format!("plus de {MAX_REDIRECTS} redirections"))
}

#[derive(Debug, Deserialize)]
pub struct NewSource {
    pub url: String,
    pub schema: String,
    pub label: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SourceView {
    pub id: i64,
    pub organisation_id: i64,
    pub url: String,
    pub schema: String,
    pub label: String,
    pub active: bool,
    pub created_at: chrono::DateTime<Utc>,
    /// The latest fetches, newest first.
    pub events: Vec<EventView>,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub at: chrono::DateTime<Utc>,
    pub status: String,
    pub message: String,
    pub submission_id: Option<i64>,
}

async fn view(db: &DatabaseConnection, s: harvest_source::Model) -> AppResult<SourceView> {
    let events = harvest_event::Entity::find()
        .filter(harvest_event::Column::SourceId.eq(s.id))
        .order_by_desc(harvest_event::Column::Id)
        .limit(20)
        .all(db)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: e.at,
            status: e.status,
            message: e.message,
            submission_id: e.submission_id,
        })
        .collect();
    Ok(SourceView {
        id: s.id,
        organisation_id: s.organisation_id,
        url: s.url,
        schema: s.schema,
        label: s.label,
        active: s.active,
        created_at: s.created_at,
        events,
    })
}

/// A contributor registers a file of their organisation's.
pub async fn register(
    db: &DatabaseConnection,
    cfg: &HarvestConfig,
    ctx: &audit::Context,
    actor: &Actor,
    input: NewSource,
) -> AppResult<SourceView> {
    let Some(org) = &actor.organisation else {
        return Err(AppError::Forbidden(
            "seuls les membres d'une organisation déclarent un fichier à moissonner".into(),
        ));
    };
    if !actor.has(Role::Contributor) && !actor.has(Role::Admin) {
        return Err(AppError::Forbidden(
            "déclarer un fichier à moissonner demande le rôle de contributeur".into(),
        ));
    }
    let url = check_url(&input.url).map_err(|e| AppError::bad_request("url", e))?;
    if !cfg.allow_private {
        resolve(&url, cfg)
            .await
            .map_err(|e| AppError::bad_request("url", e))?;
    }
    let scope = competence::schema_scope(&input.schema)?;
    if scope.open_to_beta_testers {
        return Err(AppError::bad_request(
            "schema",
            format!(
                "le schéma « {} » sert aux signalements d'une personne, pas aux fichiers moissonnés",
                scope.name
            ),
        ));
    }
    let model = harvest_source::ActiveModel {
        organisation_id: Set(org.id),
        created_by: Set(actor.user_id),
        url: Set(url.to_string()),
        schema: Set(input.schema.trim().to_owned()),
        label: Set(input
            .label
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| url.to_string())),
        active: Set(true),
        etag: Set(None),
        last_modified: Set(None),
        sha256: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        ctx,
        "harvest.register",
        Some(format!("harvest_source:{}", model.id)),
        serde_json::json!({"url": model.url, "schema": model.schema}),
    )
    .await?;
    view(db, model).await
}

/// The sources an actor sees: their organisation's, or all for an admin.
pub async fn list(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<SourceView>> {
    let mut q = harvest_source::Entity::find().order_by_asc(harvest_source::Column::Id);
    if !actor.has(Role::Admin) {
        let Some(org) = &actor.organisation else {
            return Ok(Vec::new());
        };
        q = q.filter(harvest_source::Column::OrganisationId.eq(org.id));
    }
    let mut out = Vec::new();
    for s in q.all(db).await? {
        out.push(view(db, s).await?);
    }
    Ok(out)
}

async fn own(db: &DatabaseConnection, actor: &Actor, id: i64) -> AppResult<harvest_source::Model> {
    let s = harvest_source::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| {
            actor.has(Role::Admin)
                || actor
                    .organisation
                    .as_ref()
                    .is_some_and(|o| o.id == s.organisation_id)
        })
        .ok_or_else(|| AppError::NotFound(format!("source moissonnée {id} inconnue")))?;
    Ok(s)
}

pub async fn get(db: &DatabaseConnection, actor: &Actor, id: i64) -> AppResult<SourceView> {
    view(db, own(db, actor, id).await?).await
}

/// Stops harvesting a source; its history stays.
pub async fn deactivate(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
) -> AppResult<SourceView> {
    let s = own(db, actor, id).await?;
    let mut m: harvest_source::ActiveModel = s.into();
    m.active = Set(false);
    let s = m.update(db).await?;
    audit::record(
        db,
        ctx,
        "harvest.deactivate",
        Some(format!("harvest_source:{id}")),
        serde_json::json!({}),
    )
    .await?;
    view(db, s).await
}

#[derive(Debug, Default, Serialize)]
pub struct HarvestCounts {
    pub sources: u32,
    pub submitted: u32,
    pub unchanged: u32,
    pub invalid: u32,
    pub unreachable: u32,
}

/// Fetches one source and records what came of it.
pub async fn harvest_one(
    db: &DatabaseConnection,
    config: &Config,
    source: harvest_source::Model,
) -> AppResult<harvest_event::Model> {
    let (status, message, submission_id, validators) = match fetch(&config.harvest, &source).await {
        Err(e) if e.contains("limite de") => ("invalid", e, None, None),
        Err(e) => ("unreachable", e, None, None),
        Ok(Fetched::NotModified) => (
            "unchanged",
            "fichier inchangé (le serveur répond 304)".to_owned(),
            None,
            None,
        ),
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        }) => {
            let sha = crate::services::auth::hash_bytes(&bytes);
            let validators = Some((etag, last_modified, sha.clone()));
            if source.sha256.as_deref() == Some(sha.as_str()) {
                (
                    "unchanged",
                    "contenu identique à la dernière récolte".to_owned(),
                    None,
                    validators,
                )
            } else {
                let (status, message, id) = submit(db, config, &source, bytes).await?;
                (status, message, id, validators)
            }
        }
    };
    if let Some((etag, last_modified, sha)) = validators {
        let mut m: harvest_source::ActiveModel = source.clone().into();
        m.etag = Set(etag);
        m.last_modified = Set(last_modified);
        m.sha256 = Set(Some(sha));
        m.update(db).await?;
    }
    Ok(harvest_event::ActiveModel {
        source_id: Set(source.id),
        at: Set(Utc::now()),
        status: Set(status.to_owned()),
        message: Set(message),
        submission_id: Set(submission_id),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Sends the fetched file as a submission of the member who registered the source.
async fn submit(
    db: &DatabaseConnection,
    config: &Config,
    source: &harvest_source::Model,
    bytes: Vec<u8>,
) -> AppResult<(&'static str, String, Option<i64>)> {
    let Some(u) = user::Entity::find_by_id(source.created_by).one(db).await? else {
        return Ok((
            "invalid",
            "le membre qui a déclaré la source n'existe plus".into(),
            None,
        ));
    };
    let actor = users::actor(db, &u).await?;
    let file_name = reqwest::Url::parse(&source.url)
        .ok()
        .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "moissonnage".into());
    let ctx = audit::Context {
        actor: Some(u.id),
        ip: Some("moissonnage".into()),
    };
    let outcome = submissions::submit(
        db,
        &config.validation,
        &config.public_base_url,
        &ctx,
        &actor,
        submissions::NewSubmission {
            schema: source.schema.clone(),
            file_name,
            bytes,
            idempotency_key: None,
            supersedes: None,
        },
    )
    .await;
    Ok(match outcome {
        Ok((s, true)) if s.rows_proposed > 0 => (
            "submitted",
            format!(
                "envoi {} : {} ligne(s) proposée(s) à la revue, {} invalide(s), {} hors compétence",
                s.id, s.rows_proposed, s.rows_invalid, s.rows_refused
            ),
            Some(s.id),
        ),
        Ok((s, true)) => (
            "invalid",
            format!(
                "envoi {} : aucune ligne recevable ({} invalide(s), {} hors compétence) — voir son rapport",
                s.id, s.rows_invalid, s.rows_refused
            ),
            Some(s.id),
        ),
        Ok((s, false)) => (
            "unchanged",
            format!("le même fichier attend déjà sa revue (envoi {})", s.id),
            Some(s.id),
        ),
        // A file the validator cannot read at all, or too large: reported, not stored.
        Err(
            e @ (AppError::BadRequest { .. } | AppError::Unprocessable(_) | AppError::TooLarge(_)),
        ) => ("invalid", describe(&e), None),
        Err(e) => return Err(e),
    })
}

/// An error with its details, for a report read later.
fn describe(e: &AppError) -> String {
    match e {
        AppError::BadRequest { title, violations } => std::iter::once(title.clone())
            .chain(
                violations
                    .iter()
                    .map(|v| format!("{} : {}", v.pointer, v.detail)),
            )
            .collect::<Vec<_>>()
            .join(" ; "),
        other => other.to_string(),
    }
}

/// The harvest job: every active source, one after the other.
pub async fn harvest_all(db: &DatabaseConnection, config: &Config) -> AppResult<HarvestCounts> {
    let sources = harvest_source::Entity::find()
        .filter(harvest_source::Column::Active.eq(true))
        .order_by_asc(harvest_source::Column::Id)
        .all(db)
        .await?;
    let mut counts = HarvestCounts::default();
    for s in sources {
        counts.sources += 1;
        let event = harvest_one(db, config, s).await?;
        match event.status.as_str() {
            "submitted" => counts.submitted += 1,
            "unchanged" => counts.unchanged += 1,
            "invalid" => counts.invalid += 1,
            _ => counts.unreachable += 1,
        }
    }
    Ok(counts)
}

/// Fetches one source now, for its organisation.
pub async fn run_now(
    db: &DatabaseConnection,
    config: &Config,
    actor: &Actor,
    id: i64,
) -> AppResult<SourceView> {
    let s = own(db, actor, id).await?;
    if !s.active {
        return Err(AppError::Conflict(format!(
            "la source {id} n'est plus moissonnée"
        )));
    }
    harvest_one(db, config, s.clone()).await?;
    view(db, s).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["185.24.185.1", "2a01:e0a::1", "8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert!(check_url("https://data.example.fr/f.csv").is_ok());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("ftp://example.fr/f.csv").is_err());
        assert!(check_url("https://user:pw@example.fr/f.csv").is_err());
        assert!(check_url("pas une adresse").is_err());
    }
}
