//! The application, built once from a parsed configuration; the server and tests share it.

use std::sync::Arc;

use axum::Router;
use sea_orm::DatabaseConnection;

use crate::{config::Config, db, http};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
}

impl AppState {
    /// Connects and brings the schema up to date.
    pub async fn start(config: Config) -> Result<Self, sea_orm::DbErr> {
        let db = db::connect(&config.database_url).await?;
        db::migrate(&db).await?;
        Ok(Self {
            db,
            config: Arc::new(config),
        })
    }

    pub fn router(&self) -> Router {
        http::router(self.clone())
    }
}
