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
}

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            max_bytes: 50 * 1024 * 1024,
            max_rows: 1_000_000,
            mass_change_share: 0.2,
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
            data_dir,
            public_base_url,
            validation: ValidationLimits::default(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}
