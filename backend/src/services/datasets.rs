//! Publication of the open dataset: observed values become published values, and every
//! publication that changes something is a new immutable dataset version with its changelog.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    db,
    domain::{
        catalog::Catalog,
        record::{Origin, ProvenanceId, SchoolRecord, StoredValue, should_replace},
        text::fold,
        uai::Uai,
    },
    entities::{dataset_version, provenance, school, school_revision},
};

/// What one source says of one school at one millésime.
#[derive(Debug, Clone)]
pub struct SchoolObservation {
    pub uai: Uai,
    pub millesime: Option<String>,
    /// Catalogue machine names and their canonical values; empty cells are left out.
    pub values: Vec<(&'static str, Value)>,
}

/// Who publishes: an import of a source file, or (later) a reviewed contribution.
#[derive(Debug, Clone)]
pub struct Publication {
    pub source: String,
    pub import_id: Option<i64>,
    pub submission_id: Option<i64>,
    /// `import`, `merge` or `revert`.
    pub kind: String,
    pub summary: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The new dataset version, or `None` when nothing changed.
    pub version: Option<i32>,
    pub schools_created: u64,
    pub schools_changed: u64,
    pub values_changed: u64,
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const CHUNK: usize = 500;

/// Publishes observations in the caller's transaction. The caller owns the transaction so that
/// the import record and the new version are written together or not at all.
pub async fn publish<C: ConnectionTrait>(
    txn: &C,
    publication: &Publication,
    observations: Vec<SchoolObservation>,
) -> Result<PublishOutcome, DbErr> {
    db::lock_publication(txn).await?;
    let catalog = Catalog::get();
    let version = next_version(txn).await?;
    let mut origins = load_origins(txn).await?;
    let mut provenance_ids: HashMap<Option<String>, ProvenanceId> = HashMap::new();
    let now = Utc::now();

    // Group by school, earlier millésimes first, so that the latest is applied last.
    let mut by_school: BTreeMap<String, Vec<SchoolObservation>> = BTreeMap::new();
    for o in observations {
        by_school
            .entry(o.uai.as_str().to_owned())
            .or_default()
            .push(o);
    }
    for list in by_school.values_mut() {
        list.sort_by(|a, b| a.millesime.cmp(&b.millesime));
    }

    let mut outcome = PublishOutcome::default();
    let uais: Vec<String> = by_school.keys().cloned().collect();
    for chunk in uais.chunks(CHUNK) {
        let existing: HashMap<String, school::Model> = school::Entity::find()
            .filter(school::Column::Uai.is_in(chunk.iter().cloned()))
            .all(txn)
            .await?
            .into_iter()
            .map(|s| (s.uai.clone(), s))
            .collect();

        let mut observation_rows = Vec::new();
        let mut school_rows = Vec::new();
        let mut revision_rows = Vec::new();
        for uai in chunk {
            let current = existing.get(uai);
            let mut record: SchoolRecord = match current {
                Some(s) => serde_json::from_str(&s.data)
                    .map_err(|e| DbErr::Custom(format!("corrupt record of {uai}: {e}")))?,
                None => SchoolRecord::default(),
            };
            let mut changes: BTreeMap<String, Option<StoredValue>> = BTreeMap::new();
            for obs in &by_school[uai] {
                let raw: BTreeMap<&str, &Value> = obs.values.iter().map(|(f, v)| (*f, v)).collect();
                observation_rows.push((
                    uai.clone(),
                    obs.millesime.clone().unwrap_or_default(),
                    serde_json::to_string(&raw).map_err(|e| DbErr::Custom(e.to_string()))?,
                ));
                let new_origin = Origin {
                    source: publication.source.clone(),
                    millesime: obs.millesime.clone(),
                    from_contribution: publication.submission_id.is_some(),
                };
                for (name, value) in &obs.values {
                    let Some(field) = catalog.field(name) else {
                        return Err(DbErr::Custom(format!("unknown catalogue field {name}")));
                    };
                    let replace = match record.0.get(*name) {
                        None => true,
                        Some(StoredValue(cur, pid)) => match origins.get(pid) {
                            Some(cur_origin) => {
                                should_replace(field, cur, cur_origin, value, &new_origin)
                            }
                            None => cur != value,
                        },
                    };
                    if !replace {
                        continue;
                    }
                    let pid = match provenance_ids.get(&obs.millesime) {
                        Some(id) => *id,
                        None => {
                            let id =
                                insert_provenance(txn, publication, &obs.millesime, now).await?;
                            origins.insert(id, new_origin.clone());
                            provenance_ids.insert(obs.millesime.clone(), id);
                            id
                        }
                    };
                    let previous = record
                        .0
                        .insert((*name).to_owned(), StoredValue(value.clone(), pid));
                    // Keep the value as it was before this publication, not an intermediate one.
                    changes.entry((*name).to_owned()).or_insert(previous);
                }
            }
            // A value replaced and then restored within one publication is no change.
            changes.retain(|name, before| {
                before.as_ref().map(|b| &b.0) != record.0.get(name).map(|v| &v.0)
            });
            if changes.is_empty() {
                continue;
            }
            outcome.values_changed += changes.len() as u64;
            if current.is_some() {
                outcome.schools_changed += 1;
            } else {
                outcome.schools_created += 1;
            }
            let data = serde_json::to_string(&record).map_err(|e| DbErr::Custom(e.to_string()))?;
            let changes_json =
                serde_json::to_string(&changes).map_err(|e| DbErr::Custom(e.to_string()))?;
            revision_rows.push((uai.clone(), data.clone(), changes_json));
            school_rows.push(school_row(
                uai,
                &record,
                data,
                version,
                current.map_or(version, |s| s.created_version),
            ));
        }
        write_observations(
            txn,
            &publication.source,
            publication.import_id,
            observation_rows,
        )
        .await?;
        write_schools(txn, school_rows).await?;
        write_revisions(txn, version, revision_rows).await?;
    }

    if outcome.values_changed > 0 {
        dataset_version::Entity::insert(dataset_version::ActiveModel {
            version: sea_orm::Set(version),
            created_at: sea_orm::Set(now),
            kind: sea_orm::Set(publication.kind.clone()),
            summary: sea_orm::Set(publication.summary.clone()),
            import_id: sea_orm::Set(publication.import_id),
            schools_created: sea_orm::Set(outcome.schools_created as i64),
            schools_changed: sea_orm::Set(outcome.schools_changed as i64),
            values_changed: sea_orm::Set(outcome.values_changed as i64),
        })
        .exec_without_returning(txn)
        .await?;
        outcome.version = Some(version);
    }
    Ok(outcome)
}

async fn next_version<C: ConnectionTrait>(txn: &C) -> Result<i32, DbErr> {
    let last = dataset_version::Entity::find()
        .order_by_desc(dataset_version::Column::Version)
        .one(txn)
        .await?;
    Ok(last.map_or(1, |v| v.version + 1))
}

/// Every provenance as an origin to rank values by. The table holds one row per source
/// millésime of each import or contribution, so it stays small.
async fn load_origins<C: ConnectionTrait>(txn: &C) -> Result<HashMap<ProvenanceId, Origin>, DbErr> {
    Ok(provenance::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|p| {
            let origin = Origin {
                from_contribution: p.submission_id.is_some(),
                source: p.source,
                millesime: p.millesime,
            };
            (p.id, origin)
        })
        .collect())
}

async fn insert_provenance<C: ConnectionTrait>(
    txn: &C,
    publication: &Publication,
    millesime: &Option<String>,
    now: chrono::DateTime<Utc>,
) -> Result<ProvenanceId, DbErr> {
    let res = provenance::Entity::insert(provenance::ActiveModel {
        id: sea_orm::NotSet,
        source: sea_orm::Set(publication.source.clone()),
        millesime: sea_orm::Set(millesime.clone()),
        import_id: sea_orm::Set(publication.import_id),
        submission_id: sea_orm::Set(publication.submission_id),
        recorded_at: sea_orm::Set(now),
    })
    .exec(txn)
    .await?;
    Ok(res.last_insert_id)
}

fn school_row(
    uai: &str,
    record: &SchoolRecord,
    data: String,
    version: i32,
    created_version: i32,
) -> school::Model {
    let name = record
        .str("appellation_officielle")
        .or_else(|| record.str("denomination"))
        .unwrap_or("")
        .to_owned();
    let s = |f: &str| record.str(f).map(str::to_owned);
    school::Model {
        uai: uai.to_owned(),
        name_folded: fold(&name),
        name,
        type_etablissement: s("type_etablissement"),
        secteur: s("secteur"),
        etat: s("etat"),
        code_commune: s("code_commune"),
        code_departement: s("code_departement"),
        code_academie: s("code_academie"),
        code_region: s("code_region"),
        latitude: record.f64("latitude"),
        longitude: record.f64("longitude"),
        data,
        version,
        created_version,
    }
}

async fn write_observations<C: ConnectionTrait>(
    txn: &C,
    source: &str,
    import_id: Option<i64>,
    rows: Vec<(String, String, String)>,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(CHUNK) {
        let mut stmt = Query::insert();
        stmt.into_table("observations").columns([
            "uai",
            "source",
            "millesime",
            "import_id",
            "data",
        ]);
        for (uai, millesime, data) in chunk {
            stmt.values_panic([
                uai.clone().into(),
                source.into(),
                millesime.clone().into(),
                import_id.unwrap_or(0).into(),
                data.clone().into(),
            ]);
        }
        // An unchanged observation keeps the import that first brought it.
        stmt.on_conflict(
            OnConflict::columns(["uai", "source", "millesime"])
                .update_columns(["data", "import_id"])
                .action_and_where(ExprTrait::ne(
                    Expr::col(("observations", "data")),
                    Expr::col(("excluded", "data")),
                ))
                .to_owned(),
        );
        txn.execute(&stmt).await?;
    }
    Ok(())
}

async fn write_schools<C: ConnectionTrait>(txn: &C, rows: Vec<school::Model>) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let models: Vec<school::ActiveModel> = rows.into_iter().map(Into::into).collect();
    school::Entity::insert_many(models)
        .on_conflict(
            OnConflict::column(school::Column::Uai)
                .update_columns([
                    school::Column::Name,
                    school::Column::NameFolded,
                    school::Column::TypeEtablissement,
                    school::Column::Secteur,
                    school::Column::Etat,
                    school::Column::CodeCommune,
                    school::Column::CodeDepartement,
                    school::Column::CodeAcademie,
                    school::Column::CodeRegion,
                    school::Column::Latitude,
                    school::Column::Longitude,
                    school::Column::Data,
                    school::Column::Version,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn write_revisions<C: ConnectionTrait>(
    txn: &C,
    version: i32,
    rows: Vec<(String, String, String)>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows
        .into_iter()
        .map(|(uai, data, changes)| school_revision::ActiveModel {
            uai: sea_orm::Set(uai),
            version: sea_orm::Set(version),
            data: sea_orm::Set(data),
            changes: sea_orm::Set(changes),
        });
    school_revision::Entity::insert_many(models)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The published versions, newest first.
pub async fn versions<C: ConnectionTrait>(db: &C) -> Result<Vec<dataset_version::Model>, DbErr> {
    dataset_version::Entity::find()
        .order_by_desc(dataset_version::Column::Version)
        .all(db)
        .await
}

pub async fn latest_version<C: ConnectionTrait>(db: &C) -> Result<Option<i32>, DbErr> {
    Ok(dataset_version::Entity::find()
        .select_only()
        .column_as(dataset_version::Column::Version.max(), "v")
        .into_tuple::<Option<i32>>()
        .one(db)
        .await?
        .flatten())
}

/// One changed value in a version's changelog.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub uai: String,
    pub field: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub old_provenance: Option<ProvenanceId>,
    pub new_provenance: Option<ProvenanceId>,
}

/// The changelog of one version, school by school in UAI order, paginated by school.
pub async fn changes<C: ConnectionTrait>(
    db: &C,
    version: i32,
    page: u64,
    per_page: u64,
) -> Result<(u64, Vec<Change>), DbErr> {
    let q = school_revision::Entity::find()
        .filter(school_revision::Column::Version.eq(version))
        .order_by_asc(school_revision::Column::Uai);
    let total_schools = q.clone().count(db).await?;
    let revisions = q
        .paginate(db, per_page)
        .fetch_page(page.saturating_sub(1))
        .await?;
    let mut out = Vec::new();
    for r in revisions {
        let record: SchoolRecord =
            serde_json::from_str(&r.data).map_err(|e| DbErr::Custom(e.to_string()))?;
        let changes: BTreeMap<String, Option<StoredValue>> =
            serde_json::from_str(&r.changes).map_err(|e| DbErr::Custom(e.to_string()))?;
        for (field, before) in changes {
            let after = record.0.get(&field);
            out.push(Change {
                uai: r.uai.clone(),
                old: before.as_ref().map(|b| b.0.clone()),
                old_provenance: before.as_ref().map(|b| b.1),
                new: after.map(|a| a.0.clone()),
                new_provenance: after.map(|a| a.1),
                field,
            });
        }
    }
    Ok((total_schools, out))
}
