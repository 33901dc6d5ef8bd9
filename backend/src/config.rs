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
            data_dir,
            public_base_url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}
