//! The one error type of the application, answered over HTTP as RFC 9457 problem+json.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::DbErr;
use serde::Serialize;

/// One violation of a request or file: where it is and what was expected.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Violation {
    /// A JSON pointer, a query parameter or a column name.
    pub pointer: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{title}")]
    BadRequest {
        title: String,
        violations: Vec<Violation>,
    },
    #[error("{0}")]
    Conflict(String),
    /// A body or file over a configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// A file that was read but cannot be used at all.
    #[error("{0}")]
    Unprocessable(String),
    /// Not signed in, or the credentials are not (or no longer) valid.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed: the message says why.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        AppError::BadRequest {
            title: detail.clone(),
            violations: vec![Violation {
                pointer: pointer.into(),
                detail,
            }],
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Violation]>::is_empty")]
    errors: &'a [Violation],
}

/// What an error says to whoever asked: its status, kind, title, detail and violations, the
/// same for the API's problem+json and for a page.
pub struct Described<'a> {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: String,
    pub detail: Option<String>,
    pub errors: &'a [Violation],
}

impl AppError {
    /// How the error is told; a database or internal error is logged in full here and told
    /// as an internal error, never leaked.
    pub fn describe(&self) -> Described<'_> {
        let (status, kind, title, detail, errors): (_, _, String, Option<String>, &[Violation]) =
            match self {
                AppError::NotFound(what) => (
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Introuvable".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::BadRequest { title, violations } => (
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    "Requête invalide".into(),
                    Some(title.clone()),
                    violations,
                ),
                AppError::Conflict(what) => (
                    StatusCode::CONFLICT,
                    "conflict",
                    "Conflit".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::TooLarge(what) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "Fichier trop volumineux".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::Unprocessable(what) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unusable-file",
                    "Fichier inutilisable".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::Unauthorized(what) => (
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Connexion requise".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::Forbidden(what) => (
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "Action non autorisée".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::TooManyRequests(what) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-requests",
                    "Trop de demandes".into(),
                    Some(what.clone()),
                    &[],
                ),
                AppError::Db(e) if is_out_of_space(e) => {
                    tracing::error!(error = %self, "database out of disk space");
                    (
                        StatusCode::INSUFFICIENT_STORAGE,
                        "out-of-space",
                        "Espace disque insuffisant".into(),
                        Some(
                            "Le serveur n'a plus de place pour enregistrer : rien n'a été enregistré de cet envoi. Réessayez plus tard ; l'équipe de la plateforme est prévenue."
                                .into(),
                        ),
                        &[],
                    )
                }
                AppError::Db(e) if is_unavailable(e) => {
                    tracing::warn!(error = %self, "database unavailable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "Service momentanément indisponible".into(),
                        Some(
                            "La base de données ne répond pas pour l'instant (redémarrage ou maintenance) ; rien n'a été enregistré. Réessayez dans quelques secondes."
                                .into(),
                        ),
                        &[],
                    )
                }
                AppError::Db(_) | AppError::Internal(_) => {
                    tracing::error!(error = %self, "request failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Erreur interne".into(),
                        None,
                        &[],
                    )
                }
            };
        Described {
            status,
            kind,
            title,
            detail,
            errors,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let Described {
            status,
            kind,
            title,
            detail,
            errors,
        } = self.describe();
        // A relative reference (RFC 9457 §4.1): resolved against wherever the platform is served.
        let kind = format!("/problems/{kind}");
        let body = Problem {
            kind: &kind,
            title: &title,
            status: status.as_u16(),
            detail: detail.as_deref(),
            errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Whether a database error means the database cannot be reached right now (restarting,
/// shutting down, the pool without a live connection), rather than a fault of the request:
/// answered 503, to be retried, not 500.
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let sqlx_gone = |e: &sqlx::Error| match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        // PostgreSQL's classes 08 (connection exception) and 57P (operator intervention:
        // shutting down, starting up).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    };
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(x))
        | DbErr::Exec(RuntimeErr::SqlxError(x))
        | DbErr::Query(RuntimeErr::SqlxError(x)) => sqlx_gone(x),
        DbErr::Conn(_) => true,
        _ => false,
    }
}

/// Whether the database could not write for want of disk space: SQLite's SQLITE_FULL (13),
/// PostgreSQL's 53100 (disk_full).
pub fn is_out_of_space(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(x))
        | DbErr::Query(RuntimeErr::SqlxError(x))
        | DbErr::Conn(RuntimeErr::SqlxError(x)) => match x.as_ref() {
            sea_orm::sqlx::Error::Database(d) => {
                matches!(d.code().as_deref(), Some("13" | "53100"))
                    || d.message().contains("database or disk is full")
            }
            sea_orm::sqlx::Error::Io(io) => io.raw_os_error() == Some(28),
            _ => false,
        },
        _ => false,
    }
}
