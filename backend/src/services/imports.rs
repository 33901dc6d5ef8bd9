//! Importing a source file: parse it, record the import with its report, and publish what it
//! says, all in one transaction.
//!
//! - The `imports` row is written for every attempt, a refused file included, so that its
//!   report can be read later (`ecarto import report ID`); the published data (schools,
//!   observations, provenances, versions) is written only when the file has usable rows.
//! - Importing a file whose values are all already published creates no version (the
//!   publication rule compares values): re-importing is a no-op, status `unchanged`.
//! - A database failure rolls everything back, the `imports` row included.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, NotSet, QueryFilter,
    Set, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::importers::ImportKind;
use crate::{
    entities::{departement, import},
    error::AppError,
    importers::{
        Context, Parsed, parse_file,
        report::{ImportReport, PublicationSummary},
    },
    services::datasets::{self, Publication, PublishOutcome},
};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("erreur de base de données : {0}")]
    Db(#[from] DbErr),
    #[error("rapport de l'import {0} illisible : {1}")]
    Report(i64, String),
}

impl From<ImportError> for AppError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Db(e) => AppError::Db(e),
            other => AppError::internal(other),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// A new dataset version was published.
    Published,
    /// The file was read but changed nothing: no new version.
    Unchanged,
    /// Nothing usable was read; nothing was published.
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Published => "published",
            ImportStatus::Unchanged => "unchanged",
            ImportStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub import_id: i64,
    pub status: ImportStatus,
    pub report: ImportReport,
    /// What the publication did; `None` when the file was refused.
    pub publication: Option<PublishOutcome>,
}

/// Imports one file. File problems are in the outcome's report (status `failed`); only a
/// database failure is an error, and then nothing at all is written.
pub async fn import_file(
    db: &DatabaseConnection,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportOutcome, ImportError> {
    import_file_with_progress(db, kind, file_name, bytes, &mut |_, _| {}).await
}

/// [`import_file`], telling `progress` how far the reading is (bytes done, bytes in all).
pub async fn import_file_with_progress(
    db: &DatabaseConnection,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<ImportOutcome, ImportError> {
    let started_at = Utc::now();
    let sha256 = hex::encode(Sha256::digest(bytes));
    let context = load_context(db, kind).await?;
    let parse_started = std::time::Instant::now();
    let Parsed {
        mut report,
        observations,
    } = parse_file(kind, file_name, bytes, &context, progress);
    tracing::debug!(file_name, elapsed = ?parse_started.elapsed(), rows = report.rows_read, "file parsed");

    let txn = db.begin().await?;
    let inserted = import::Entity::insert(import::ActiveModel {
        id: NotSet,
        kind: Set(kind.source().to_owned()),
        file_name: Set(file_name.to_owned()),
        sha256: Set(sha256),
        started_at: Set(started_at),
        finished_at: Set(None),
        status: Set("running".to_owned()),
        rows_read: Set(0),
        rows_imported: Set(0),
        rows_rejected: Set(0),
        report: Set(String::new()),
        dataset_version: Set(None),
    })
    .exec(&txn)
    .await?;
    let import_id = inserted.last_insert_id;

    let (status, publication) = if report.is_usable() {
        let publication = Publication {
            source: kind.source().to_owned(),
            import_id: Some(import_id),
            submission_id: None,
            kind: "import".to_owned(),
            summary: format!(
                "Import {} : {} ({} ligne{} importée{})",
                kind.source(),
                file_name,
                report.rows_imported,
                if report.rows_imported > 1 { "s" } else { "" },
                if report.rows_imported > 1 { "s" } else { "" },
            ),
        };
        let publish_started = std::time::Instant::now();
        let outcome = datasets::publish(&txn, &publication, observations).await?;
        tracing::debug!(file_name, elapsed = ?publish_started.elapsed(), "observations published");
        report.publication = Some(PublicationSummary {
            version: outcome.version,
            schools_created: outcome.schools_created,
            schools_changed: outcome.schools_changed,
            values_changed: outcome.values_changed,
        });
        let status = if outcome.version.is_some() {
            ImportStatus::Published
        } else {
            ImportStatus::Unchanged
        };
        (status, Some(outcome))
    } else {
        (ImportStatus::Failed, None)
    };

    let report_json = serde_json::to_string(&report)
        .map_err(|e| ImportError::Report(import_id, e.to_string()))?;
    import::ActiveModel {
        id: Set(import_id),
        finished_at: Set(Some(Utc::now())),
        status: Set(status.as_str().to_owned()),
        rows_read: Set(report.rows_read as i64),
        rows_imported: Set(report.rows_imported as i64),
        rows_rejected: Set(report.rows_rejected as i64),
        report: Set(report_json),
        dataset_version: Set(publication.as_ref().and_then(|p| p.version)),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    txn.commit().await?;
    Ok(ImportOutcome {
        import_id,
        status,
        report,
        publication,
    })
}

async fn load_context(db: &DatabaseConnection, kind: ImportKind) -> Result<Context, DbErr> {
    let mut context = Context::default();
    if kind == ImportKind::Etic {
        context.academie_of_departement = departement::Entity::find()
            .filter(departement::Column::AcademieCode.is_not_null())
            .all(db)
            .await?
            .into_iter()
            .filter_map(|d| d.academie_code.map(|a| (d.code, a)))
            .collect();
    }
    Ok(context)
}

/// A recorded import and its report.
#[derive(Debug, Clone)]
pub struct StoredImport {
    pub import: import::Model,
    pub report: ImportReport,
}

pub async fn get_import(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<StoredImport>, ImportError> {
    let Some(model) = import::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let report =
        serde_json::from_str(&model.report).map_err(|e| ImportError::Report(id, e.to_string()))?;
    Ok(Some(StoredImport {
        import: model,
        report,
    }))
}
