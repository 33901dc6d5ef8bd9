//! Provenance of published values, described for people: which source, which millésime,
//! which import file or contribution.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::{
    domain::record::ProvenanceId,
    entities::{import, provenance},
};

#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceView {
    pub id: ProvenanceId,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millesime: Option<String>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportRef {
    pub id: i64,
    pub kind: String,
    pub file_name: String,
}

/// Describes the given provenances, with the import each one came from.
pub async fn describe<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = ProvenanceId>,
) -> Result<HashMap<ProvenanceId, ProvenanceView>, DbErr> {
    let ids: BTreeSet<ProvenanceId> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let provs = provenance::Entity::find()
        .filter(provenance::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let import_ids: BTreeSet<i64> = provs.iter().filter_map(|p| p.import_id).collect();
    let imports: HashMap<i64, import::Model> = if import_ids.is_empty() {
        HashMap::new()
    } else {
        import::Entity::find()
            .filter(import::Column::Id.is_in(import_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect()
    };
    Ok(provs
        .into_iter()
        .map(|p| {
            let import = p
                .import_id
                .and_then(|id| imports.get(&id))
                .map(|i| ImportRef {
                    id: i.id,
                    kind: i.kind.clone(),
                    file_name: i.file_name.clone(),
                });
            let view = ProvenanceView {
                id: p.id,
                source: p.source,
                millesime: p.millesime,
                recorded_at: p.recorded_at,
                import,
                submission_id: p.submission_id,
            };
            (p.id, view)
        })
        .collect())
}
