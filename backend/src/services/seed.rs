//! What `ecarto serve` loads on the first start of an empty database, so that a newcomer sees
//! real schools at once: the bundled real sample, through the same importers as the CLI.

use std::io::Read;

use flate2::read::GzDecoder;
use sea_orm::{DatabaseConnection, DbErr};

use crate::{
    importers::ImportKind,
    services::{datasets, imports},
};

/// The bundled sample, in import order: the register first, then what completes it.
const SAMPLE: &[(&str, ImportKind, &[u8])] = &[
    (
        "annuaire-ille-et-vilaine.csv",
        ImportKind::Annuaire,
        include_bytes!("../../reference/sample/annuaire-ille-et-vilaine.csv.gz"),
    ),
    (
        "annuaire-val-de-marne.csv",
        ImportKind::Annuaire,
        include_bytes!("../../reference/sample/annuaire-val-de-marne.csv.gz"),
    ),
    (
        "geolocalisation-colleges-ille-et-vilaine.csv",
        ImportKind::Annuaire,
        include_bytes!("../../reference/sample/geolocalisation-colleges-ille-et-vilaine.csv.gz"),
    ),
    (
        "etic-2d-academie-montpellier.csv",
        ImportKind::Etic,
        include_bytes!("../../reference/sample/etic-2d-academie-montpellier.csv.gz"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("erreur de base de données : {0}")]
    Db(#[from] DbErr),
    #[error("import de l'échantillon : {0}")]
    Import(#[from] imports::ImportError),
    #[error("échantillon {0} illisible : {1}")]
    Sample(&'static str, std::io::Error),
}

/// One line per sample file imported: file name, import id, rows imported, version.
#[derive(Debug, Clone, Default)]
pub struct SeedSummary {
    pub lines: Vec<String>,
}

/// Imports the bundled sample if no dataset version was ever published; does nothing otherwise,
/// so that a restart, or a database that already holds real data, is left alone.
pub async fn sample_if_empty(db: &DatabaseConnection) -> Result<Option<SeedSummary>, SeedError> {
    if datasets::latest_version(db).await?.is_some() {
        return Ok(None);
    }
    let mut summary = SeedSummary::default();
    for (name, kind, gz) in SAMPLE {
        let mut bytes = Vec::new();
        GzDecoder::new(*gz)
            .read_to_end(&mut bytes)
            .map_err(|e| SeedError::Sample(name, e))?;
        let outcome = imports::import_file(db, *kind, name, &bytes).await?;
        summary.lines.push(format!(
            "{name}: import {} — {} lignes importées, {} rejetées, version {}",
            outcome.import_id,
            outcome.report.rows_imported,
            outcome.report.rows_rejected,
            outcome
                .publication
                .as_ref()
                .and_then(|p| p.version)
                .map_or_else(|| "inchangée".to_owned(), |v| v.to_string()),
        ));
    }
    Ok(Some(summary))
}
