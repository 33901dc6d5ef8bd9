//! Importing a source file: parse it, record the import with its report, and publish what it
//! says, all in one transaction.
//!
//! - The `imports` row is written for every attempt, a refused file included, so that its
//!   report can be read later (`ecarto import report ID`); the published data (schools,
//!   observations, provenances, versions) is written only when the file has usable rows.
//! - Importing a file whose values are all already published creates no version (the
//!   publication rule compares values): re-importing is a no-op, status `unchanged`.
//! - A database failure rolls everything back, the `imports` row included.
//! - An annuaire file is the official list: the schools it lists are `present`, those of the
//!   départements, types and secteurs it covers that it no longer lists are marked `absent`
//!   (kept, never deleted); the report names both, and every school of any file that the
//!   annuaire does not list (`outside_register`).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, NotSet, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use crate::importers::ImportKind;
use crate::{
    domain::uai::{Uai, uai_key, uai_of_key},
    entities::{departement, import, school},
    error::AppError,
    importers::{
        Context, Parsed,
        annuaire::{Register, ScopeKey},
        parse_file,
        report::{ImportReport, PublicationSummary, RegisterReport},
    },
    services::datasets::{self, Publication, PublishOutcome, SchoolObservation},
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

/// How an import treats what it finds.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// An annuaire that looks partial (cut short, rows rejected, or without more than a tenth
    /// of the schools of what it covers) marks nothing absent unless this is set.
    pub confirm_absences: bool,
}

/// Imports one file. File problems are in the outcome's report (status `failed`); only a
/// database failure is an error, and then nothing at all is written.
pub async fn import_file(
    db: &DatabaseConnection,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportOutcome, ImportError> {
    import_file_with_progress(
        db,
        kind,
        file_name,
        bytes,
        ImportOptions::default(),
        &mut |_, _| {},
    )
    .await
}

/// [`import_file`], telling `progress` how far the reading is (bytes done, bytes in all).
pub async fn import_file_with_progress(
    db: &DatabaseConnection,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
    options: ImportOptions,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<ImportOutcome, ImportError> {
    let started_at = Utc::now();
    let sha256 = hex::encode(Sha256::digest(bytes));
    let context = load_context(db, kind).await?;
    let parse_started = std::time::Instant::now();
    let Parsed {
        mut report,
        mut observations,
        register,
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
        // The register is read under the publication lock, so that no other publication
        // changes what it compares with before this one is written.
        crate::db::lock_publication(&txn).await?;
        // The file's schools in file order, once each (ETIC has a row per millésime), as
        // numbers: a national file holds 65,000 of them.
        let mut seen: HashSet<u64> = HashSet::with_capacity(observations.len());
        let listed: Vec<u64> = observations
            .iter()
            .map(|o| o.uai.key())
            .filter(|k| seen.insert(*k))
            .collect();
        let before = match &register {
            Some(register) => {
                let before = register_scope(&txn, register).await?;
                mark_presence(
                    &mut observations,
                    register,
                    &before,
                    &seen,
                    options,
                    &mut report,
                );
                before
            }
            None => HashMap::new(),
        };
        let publish_started = std::time::Instant::now();
        let outcome = datasets::publish(&txn, &publication, observations).await?;
        tracing::debug!(file_name, elapsed = ?publish_started.elapsed(), "observations published");
        let outside_started = std::time::Instant::now();
        let outside = not_present(&txn).await?;
        tracing::debug!(file_name, elapsed = ?outside_started.elapsed(), outside = outside.len(), "official list read");
        if let Some(r) = report.register.as_mut() {
            // An older file's absence loses to a newer presence: only what took is reported.
            r.marked_absent
                .retain(|uai| uai_key(uai).is_some_and(|k| outside.contains(&k)));
            r.listed_again = listed
                .iter()
                .filter(|k| !outside.contains(k))
                .map(|k| uai_of_key(*k))
                .filter(|uai| {
                    before
                        .get(uai.as_str())
                        .is_some_and(|b| b.presence.as_deref() != Some("present"))
                })
                .collect();
        }
        report.outside_register = listed
            .into_iter()
            .filter(|k| outside.contains(k))
            .map(uai_of_key)
            .collect();
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
    let commit_started = std::time::Instant::now();
    txn.commit().await?;
    tracing::debug!(file_name, elapsed = ?commit_started.elapsed(), "committed");
    Ok(ImportOutcome {
        import_id,
        status,
        report,
        publication,
    })
}

/// A school of the register's départements as read: UAI, département, type, secteur and
/// `presence_annuaire`.
type KnownRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A school of the register's départements, as published before the import.
struct Known {
    scope: ScopeKey,
    presence: Option<String>,
}

/// The published schools of the départements an annuaire file covers.
async fn register_scope<C: ConnectionTrait>(
    txn: &C,
    register: &Register,
) -> Result<HashMap<String, Known>, DbErr> {
    let departements: BTreeSet<&str> = register
        .scope
        .iter()
        .filter_map(|(d, _, _)| d.as_deref())
        .collect();
    let mut out = HashMap::new();
    for chunk in departements.into_iter().collect::<Vec<_>>().chunks(200) {
        let rows: Vec<KnownRow> = school::Entity::find()
            .select_only()
            .columns([
                school::Column::Uai,
                school::Column::CodeDepartement,
                school::Column::TypeEtablissement,
                school::Column::Secteur,
                school::Column::PresenceAnnuaire,
            ])
            .filter(school::Column::CodeDepartement.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        for (uai, dep, kind, secteur, presence) in rows {
            out.insert(
                uai,
                Known {
                    scope: (dep, kind, secteur),
                    presence,
                },
            );
        }
    }
    Ok(out)
}

/// Adds to an annuaire's observations the presence of every school it covers: `present` for
/// the schools it lists, `absent` for the published schools of its scope (département ×
/// type × secteur) that it does not list — kept with all their values, never deleted. Both
/// are dated as of the file (its latest `date_maj_ligne`), so that an older file imported
/// after a newer one does not undo what the newer one says.
fn mark_presence(
    observations: &mut Vec<SchoolObservation>,
    register: &Register,
    before: &HashMap<String, Known>,
    listed: &HashSet<u64>,
    options: ImportOptions,
    report: &mut ImportReport,
) {
    let as_of = register
        .as_of
        .clone()
        .unwrap_or_else(|| Utc::now().date_naive().format("%Y-%m-%d").to_string());
    let present = || ("presence_annuaire", Value::from("present"));
    let mut extra = Vec::new();
    for o in observations.iter_mut() {
        // One observation per school and millésime: the presence joins the row's own when
        // the row is dated as the file is.
        if o.millesime.as_deref() == Some(as_of.as_str()) {
            o.values.push(present());
        } else {
            extra.push(SchoolObservation {
                uai: o.uai.clone(),
                millesime: Some(as_of.clone()),
                values: vec![present()],
                raw: Vec::new(),
            });
        }
    }
    // A school already absent stays absent since the import that first found it so.
    let mut absent: Vec<&String> = before
        .iter()
        .filter(|(uai, k)| {
            uai_key(uai).is_some_and(|key| !listed.contains(&key))
                && register.scope.contains(&k.scope)
                && k.presence.as_deref() != Some("absent")
        })
        .map(|(uai, _)| uai)
        .collect();
    absent.sort();
    // Only a whole, clean file says a school is gone: a cut file, a row whose UAI could not
    // be read (it may be the missing school's), or an extract narrower than what it seems
    // to cover (the écoles of a few communes) would mark schools absent wrongly; such
    // absences wait for a confirmed import.
    let in_scope = before
        .values()
        .filter(|k| register.scope.contains(&k.scope) && k.presence.as_deref() != Some("absent"))
        .count();
    let partial = report.truncated
        || report.rows_rejected > 0
        || (absent.len() > 5 && absent.len() * 10 > in_scope);
    let withheld = if partial && !options.confirm_absences {
        std::mem::take(&mut absent)
    } else {
        Vec::new()
    };
    for uai in &absent {
        if let Ok(uai) = Uai::parse(uai) {
            extra.push(SchoolObservation {
                uai,
                millesime: Some(as_of.clone()),
                values: vec![("presence_annuaire", Value::from("absent"))],
                raw: Vec::new(),
            });
        }
    }
    observations.extend(extra);
    let label = |v: &Option<String>| v.clone().unwrap_or_else(|| "non renseigné".to_owned());
    report.register = Some(RegisterReport {
        scope: register
            .scope
            .iter()
            .map(|(d, t, s)| format!("{} · {} · {}", label(d), label(t), label(s)))
            .collect(),
        as_of,
        listed: listed.len() as u64,
        marked_absent: absent.into_iter().cloned().collect(),
        listed_again: Vec::new(),
        withheld: withheld.into_iter().cloned().collect(),
    });
}

/// The schools not in the official list: absent from the annuaire, or never listed.
async fn not_present<C: ConnectionTrait>(txn: &C) -> Result<HashSet<u64>, DbErr> {
    Ok(school::Entity::find()
        .select_only()
        .column(school::Column::Uai)
        .filter(
            Condition::any()
                .add(school::Column::PresenceAnnuaire.is_null())
                .add(school::Column::PresenceAnnuaire.ne("present")),
        )
        .into_tuple::<String>()
        .all(txn)
        .await?
        .iter()
        .filter_map(|u| uai_key(u))
        .collect())
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

/// Schools published before presence in the annuaire was recorded (migration 14): an
/// annuaire was imported, yet no school has a presence. `None` when there is nothing to do.
/// They count nowhere until the annuaire is imported again, which the operator is told.
pub async fn schools_awaiting_the_annuaire(db: &DatabaseConnection) -> Result<Option<u64>, DbErr> {
    use sea_orm::PaginatorTrait;
    let annuaire_imported = import::Entity::find()
        .filter(import::Column::Kind.eq("annuaire"))
        .filter(import::Column::Status.ne("failed"))
        .count(db)
        .await?
        > 0;
    if !annuaire_imported {
        return Ok(None);
    }
    let with_presence = school::Entity::find()
        .filter(school::Column::PresenceAnnuaire.is_not_null())
        .count(db)
        .await?;
    if with_presence > 0 {
        return Ok(None);
    }
    let schools = school::Entity::find().count(db).await?;
    Ok((schools > 0).then_some(schools))
}
