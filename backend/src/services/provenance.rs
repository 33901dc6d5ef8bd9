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
    /// For a contribution: who sent it and who reviewed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribution: Option<ContributionRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContributionRef {
    pub schema: String,
    pub organisation: Option<String>,
    /// The moderator's name as they gave it, or their number: addresses are not published.
    pub reviewer: Option<String>,
    pub reviewed_at: Option<chrono::DateTime<chrono::Utc>>,
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
    let contributions =
        contributions(db, provs.iter().filter_map(|p| p.submission_id).collect()).await?;
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
                contribution: p.submission_id.and_then(|s| contributions.get(&s).cloned()),
                submission_id: p.submission_id,
            };
            (p.id, view)
        })
        .collect())
}

async fn contributions<C: ConnectionTrait>(
    db: &C,
    ids: BTreeSet<i64>,
) -> Result<HashMap<i64, ContributionRef>, DbErr> {
    use crate::entities::{organisation, submission, submission_decision, user};
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut out = HashMap::new();
    for s in submission::Entity::find()
        .filter(submission::Column::Id.is_in(ids))
        .all(db)
        .await?
    {
        let organisation = match s.organisation_id {
            Some(o) => organisation::Entity::find_by_id(o)
                .one(db)
                .await?
                .map(|o| o.name),
            None => None,
        };
        let decision = submission_decision::Entity::find()
            .filter(submission_decision::Column::SubmissionId.eq(s.id))
            .filter(submission_decision::Column::Decision.eq("accept"))
            .one(db)
            .await?;
        let reviewer = match &decision {
            Some(d) => Some(
                user::Entity::find_by_id(d.moderator_id)
                    .one(db)
                    .await?
                    .and_then(|u| u.display_name)
                    .unwrap_or_else(|| format!("modérateur n° {}", d.moderator_id)),
            ),
            None => None,
        };
        out.insert(
            s.id,
            ContributionRef {
                schema: format!("{}@v{}", s.schema_name, s.schema_version),
                organisation,
                reviewer,
                reviewed_at: decision.map(|d| d.at),
            },
        );
    }
    Ok(out)
}
