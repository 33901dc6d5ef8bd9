//! Configuration, parsed once at start-up and passed down: nothing below reads the environment.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` (the embedded default) or `postgres://…`.
    pub database_url: String,
    /// Where the embedded default keeps its SQLite file and outbox.
    pub data_dir: PathBuf,
    /// The address the public sees, used in links of the DCAT catalogue and OpenAPI document.
    pub public_base_url: String,
    pub validation: ValidationLimits,
    pub mail: crate::services::mail::MailConfig,
    pub auth: AuthConfig,
    /// Schedules overriding the jobs' defaults (job → 6-field cron, UTC).
    pub cron: std::collections::HashMap<String, String>,
    pub scores: ScoresConfig,
    pub harvest: crate::services::harvest::HarvestConfig,
    /// Bytes of public answers each process keeps between publications (`http::answer_cache`).
    pub answer_cache_bytes: usize,
}

/// The scores job.
#[derive(Debug, Clone)]
pub struct ScoresConfig {
    /// Values dated more than this long ago count as stale in the freshness score.
    pub stale_after: chrono::Duration,
    /// After a merge, the touched territories are recomputed once the dataset has been quiet
    /// this long, so that a burst of merges costs one recompute.
    pub debounce: chrono::Duration,
}

impl Default for ScoresConfig {
    fn default() -> Self {
        Self {
            stale_after: chrono::Duration::days(3 * 365),
            debounce: chrono::Duration::seconds(60),
        }
    }
}

/// Sign-in and sessions.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A session unused for this long ends.
    pub session_idle: chrono::Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: chrono::Duration,
    /// How long a sign-in link sent by e-mail works.
    pub magic_link_ttl: chrono::Duration,
    /// Sign-in links sent to one address per quarter of an hour, and sign-in requests from one
    /// IP address.
    pub magic_links_per_email: u64,
    pub sign_ins_per_ip: u64,
    /// Behind a reverse proxy: the caller's address is the last one of `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// OpenID Connect providers shown on the sign-in page (ProConnect in production).
    pub oidc: Vec<OidcProvider>,
}

/// One OpenID Connect provider, discovered from its issuer URL.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// The name in URLs: `/auth/oidc/{id}/login`.
    pub id: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// ProConnect: `openid email given_name usual_name siret uid`.
    pub scopes: Vec<String>,
}

impl OidcProvider {
    /// ProConnect's scopes: `siret` names the agent's organisation.
    pub const PROCONNECT_SCOPES: &'static str = "openid email given_name usual_name siret uid";

    /// Reads `id=…;label=…;issuer=…;client_id=…;client_secret=…[;scopes=…]`, where
    /// `client_secret_env=VAR` may stand for the secret so that it stays out of process lists.
    /// The scopes default to ProConnect's.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut fields = std::collections::HashMap::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("fournisseur OpenID : « {part} », attendu clé=valeur"))?;
            fields.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        let get = |k: &str| {
            fields
                .get(k)
                .cloned()
                .ok_or_else(|| format!("fournisseur OpenID : {k}= manque dans « {spec} »"))
        };
        let client_secret = match fields.get("client_secret_env") {
            Some(var) => env(var).ok_or_else(|| {
                format!("fournisseur OpenID : la variable d'environnement {var} est vide")
            })?,
            None => get("client_secret")?,
        };
        let id = get("id")?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "fournisseur OpenID : id « {id} », attendu lettres, chiffres et tirets"
            ));
        }
        Ok(Self {
            label: fields.get("label").cloned().unwrap_or_else(|| id.clone()),
            id,
            issuer: get("issuer")?,
            client_id: get("client_id")?,
            client_secret,
            scopes: fields
                .get("scopes")
                .map(String::as_str)
                .unwrap_or(Self::PROCONNECT_SCOPES)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle: chrono::Duration::hours(2),
            session_absolute: chrono::Duration::hours(12),
            magic_link_ttl: chrono::Duration::minutes(15),
            magic_links_per_email: 3,
            sign_ins_per_ip: 20,
            trust_forwarded_for: false,
            oidc: Vec::new(),
        }
    }
}

/// Limits on the files sent for validation, and the mass-change guard.
#[derive(Debug, Clone, Copy)]
pub struct ValidationLimits {
    /// Larger uploads are refused with 413.
    pub max_bytes: usize,
    /// Files with more data rows are refused with 413.
    pub max_rows: u64,
    /// Share of the published values a file may change or blank before it is flagged.
    pub mass_change_share: f64,
    /// Files one address may have checked without signing in, per quarter of an hour
    /// (validation is CPU work: open to all, but not without bound). Signed-in people are not
    /// limited.
    pub anonymous_per_ip: u64,
}

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            max_bytes: 50 * 1024 * 1024,
            max_rows: 1_000_000,
            mass_change_share: 0.2,
            anonymous_per_ip: 30,
        }
    }
}

impl Config {
    /// The embedded default: a SQLite file under `data_dir`.
    pub fn embedded(data_dir: PathBuf, public_base_url: String) -> Self {
        let database_url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("ecarto.sqlite").display()
        );
        Self {
            database_url,
            public_base_url,
            validation: ValidationLimits::default(),
            mail: crate::services::mail::MailConfig {
                from: "eCarto contributions <ne-pas-repondre@ecarto.localhost>".into(),
                smtp_url: None,
                outbox_dir: data_dir.join("outbox"),
            },
            auth: AuthConfig::default(),
            cron: Default::default(),
            scores: ScoresConfig::default(),
            harvest: Default::default(),
            answer_cache_bytes: 1024 * 1024 * 1024,
            data_dir,
        }
    }

    /// Cookies get `Secure` when the public address is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}
