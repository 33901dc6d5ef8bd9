//! The application, built once from a parsed configuration; the server and tests share it.

use std::sync::Arc;

use axum::Router;
use sea_orm::DatabaseConnection;

use crate::{
    config::Config,
    db,
    error::AppError,
    http::{self, answer_cache::AnswerCache},
    services::{mail::Mailer, organisations},
};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub mailer: Mailer,
    /// The public answers kept until the published state moves.
    pub answers: Arc<AnswerCache>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("base de données : {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Mail(#[from] crate::services::mail::MailError),
    #[error("organisations : {0}")]
    Seed(#[from] AppError),
}

impl AppState {
    /// Connects and brings the schema up to date.
    /// Connects, brings the schema up to date and seeds the organisations on a new database.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let mailer = Mailer::new(&config.mail)?;
        let db = db::connect(&config.database_url).await?;
        db::migrate(&db).await?;
        organisations::ensure_seeded(&db).await?;
        Ok(Self {
            db,
            answers: Arc::new(AnswerCache::new(config.answer_cache_bytes)),
            config: Arc::new(config),
            mailer,
        })
    }

    pub fn router(&self) -> Router {
        http::router(self.clone())
    }
}
