//! Publication of the open dataset: observed values become published values, and every
//! publication that changes something is a new immutable dataset version with its changelog.

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
    sea_query::{Condition, Expr, ExprTrait, JoinType, Query, UnionType},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    db,
    domain::{
        catalog::Catalog,
        record::{FieldName, Origin, ProvenanceId, SchoolRecord, StoredValue, should_replace},
        scores::{self, ProvenanceMap, SchoolFacts, Values},
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
    /// The source's own spelling of the coded values it wrote otherwise than the catalogue
    /// (`50OuPlus` for `50_plus`), and the codes no known spelling matches (those have no
    /// value): kept with the observation (`observations.raw`), never published.
    pub raw: Vec<(&'static str, String)>,
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

/// Schools per chunk: one read and three writes each, one JSON document per write.
const CHUNK: usize = 500;

/// Schools written by one publication above which PostgreSQL's statistics are refreshed.
const ANALYZE_AFTER: u64 = 5_000;

/// What the merge needs, shared read-only with the blocking threads that compute it.
struct MergeContext {
    source: String,
    origins: HashMap<ProvenanceId, Origin>,
    /// The provenance of each millésime of this publication, created up front.
    provenance_ids: HashMap<Option<String>, ProvenanceId>,
    /// The same provenances as the scores read them, for each school's score facts.
    scoring: ProvenanceMap,
    version: i32,
}

/// The rows one chunk of schools writes, and what it changed.
#[derive(Default)]
struct ChunkRows {
    /// `[uai, millésime, {field: value}, {field: raw spelling}]`
    observations: Vec<(String, String, String, Option<String>)>,
    /// Each school's row and its score facts.
    schools: Vec<(school::Model, String)>,
    /// `[uai, record, changes]`; changes is `null` for a school this version creates.
    revisions: Vec<(String, String, String)>,
    used_provenances: HashSet<ProvenanceId>,
    created: u64,
    changed: u64,
    values: u64,
}

/// Publishes observations in the caller's transaction. The caller owns the transaction so that
/// the import record and the new version are written together or not at all.
///
/// Schools go through in chunks; the merge of a chunk (CPU: JSON and precedence rules) runs on
/// a blocking thread while the previous chunk is written, so both cores work.
pub async fn publish<C: ConnectionTrait>(
    txn: &C,
    publication: &Publication,
    observations: Vec<SchoolObservation>,
) -> Result<PublishOutcome, DbErr> {
    db::lock_publication(txn).await?;
    let version = next_version(txn).await?;
    let now = Utc::now();

    // By school, earlier millésimes first, so that the latest is applied last; sorted in
    // place (stable: same-dated observations keep their order) and grouped a chunk at a time,
    // rather than grouped up front, which cost a map entry and a list per school.
    let mut observations = observations;
    observations.sort_by(|a, b| {
        a.uai
            .cmp(&b.uai)
            .then_with(|| a.millesime.cmp(&b.millesime))
    });
    let millesimes: BTreeSet<Option<String>> =
        observations.iter().map(|o| o.millesime.clone()).collect();

    let mut origins = load_origins(txn).await?;
    let provenance_ids = insert_provenances(txn, publication, &millesimes, now).await?;
    for (millesime, id) in &provenance_ids {
        origins.insert(
            *id,
            Origin {
                source: publication.source.clone(),
                millesime: millesime.clone(),
                from_contribution: publication.submission_id.is_some(),
            },
        );
    }
    let ctx = Arc::new(MergeContext {
        source: publication.source.clone(),
        scoring: scoring_provenance(&origins),
        origins,
        provenance_ids,
        version,
    });

    let mut outcome = PublishOutcome::default();
    let mut used: HashSet<ProvenanceId> = HashSet::new();
    let mut schools = observations.into_iter().peekable();
    let mut pending: Option<ChunkRows> = None;
    loop {
        let mut chunk: Vec<(String, Vec<SchoolObservation>)> = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            let Some(first) = schools.next() else {
                break;
            };
            let uai = first.uai.as_str().to_owned();
            let mut list = vec![first];
            while let Some(o) = schools.next_if(|o| o.uai.as_str() == uai) {
                list.push(o);
            }
            chunk.push((uai, list));
        }
        if chunk.is_empty() {
            break;
        }
        let existing = current_records(txn, chunk.iter().map(|(u, _)| u.clone())).await?;
        let merge_ctx = Arc::clone(&ctx);
        let merge = tokio::task::spawn_blocking(move || merge_chunk(&merge_ctx, chunk, existing));
        let write = write_rows(txn, publication, version, pending.take());
        let (written, merged) = tokio::join!(write, merge);
        written?;
        let rows = merged.map_err(|e| DbErr::Custom(format!("merge task failed: {e}")))??;
        outcome.schools_created += rows.created;
        outcome.schools_changed += rows.changed;
        outcome.values_changed += rows.values;
        used.extend(rows.used_provenances.iter().copied());
        pending = Some(rows);
    }
    write_rows(txn, publication, version, pending.take()).await?;

    // Provenances of millésimes whose values all lost to better ones are not kept.
    let unused: Vec<ProvenanceId> = ctx
        .provenance_ids
        .values()
        .copied()
        .filter(|id| !used.contains(id))
        .collect();
    for ids in unused.chunks(CHUNK) {
        provenance::Entity::delete_many()
            .filter(provenance::Column::Id.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
    }

    // After a bulk load PostgreSQL's planner has no statistics until autovacuum comes by, and
    // picks whole-table scans for the exports' primary-key lookups meanwhile.
    if txn.get_database_backend() == DbBackend::Postgres
        && outcome.schools_created + outcome.schools_changed >= ANALYZE_AFTER
    {
        txn.execute_unprepared("ANALYZE schools, school_revisions")
            .await?;
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

/// Puts back, in a new version, the values a merged contribution replaced — where the
/// contribution's value is still the published one (a value published since stays). Runs in
/// the caller's transaction.
pub async fn revert_submission<C: ConnectionTrait>(
    txn: &C,
    publication: &Publication,
    submission_id: i64,
    merged_version: i32,
) -> Result<PublishOutcome, DbErr> {
    db::lock_publication(txn).await?;
    let version = next_version(txn).await?;
    let ours: HashSet<ProvenanceId> = provenance::Entity::find()
        .filter(provenance::Column::SubmissionId.eq(submission_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let merged = school_revision::Entity::find()
        .filter(school_revision::Column::Version.eq(merged_version))
        .all(txn)
        .await?;
    let mut current = current_records(txn, merged.iter().map(|r| r.uai.clone())).await?;
    let scoring = scoring_provenance(&load_origins(txn).await?);
    let json_err = |e: serde_json::Error| DbErr::Custom(e.to_string());
    let mut rows = ChunkRows::default();
    let mut outcome = PublishOutcome::default();
    for r in merged {
        // `null`: the merge created the school; contributions never do, nothing to undo.
        let Ok(before) = serde_json::from_str::<BTreeMap<String, Option<StoredValue>>>(&r.changes)
        else {
            continue;
        };
        let Some(cur) = current.remove(&r.uai) else {
            continue;
        };
        let mut record: SchoolRecord = serde_json::from_str(&cur.data).map_err(json_err)?;
        let mut changes: BTreeMap<FieldName, Option<StoredValue>> = BTreeMap::new();
        for (field, previous) in before {
            let key = crate::domain::record::field_name(&field);
            if !record.0.get(&key).is_some_and(|v| ours.contains(&v.1)) {
                continue;
            }
            let replaced = match previous {
                Some(p) => record.0.insert(key.clone(), p),
                None => record.0.remove(&key),
            };
            changes.insert(key, replaced);
        }
        if changes.is_empty() {
            continue;
        }
        outcome.values_changed += changes.len() as u64;
        outcome.schools_changed += 1;
        rows.schools.push(school_row(
            &r.uai,
            &record,
            version,
            cur.created_version,
            &scoring,
        )?);
        rows.revisions.push((
            r.uai.clone(),
            serde_json::to_string(&record).map_err(json_err)?,
            serde_json::to_string(&changes).map_err(json_err)?,
        ));
    }
    write_rows(txn, publication, version, Some(rows)).await?;
    if outcome.values_changed > 0 {
        dataset_version::Entity::insert(dataset_version::ActiveModel {
            version: sea_orm::Set(version),
            created_at: sea_orm::Set(Utc::now()),
            kind: sea_orm::Set(publication.kind.clone()),
            summary: sea_orm::Set(publication.summary.clone()),
            import_id: sea_orm::Set(None),
            schools_created: sea_orm::Set(0),
            schools_changed: sea_orm::Set(outcome.schools_changed as i64),
            values_changed: sea_orm::Set(outcome.values_changed as i64),
        })
        .exec_without_returning(txn)
        .await?;
        outcome.version = Some(version);
    }
    Ok(outcome)
}

/// Applies the observations of a chunk of schools to their records: pure computation.
fn merge_chunk(
    ctx: &MergeContext,
    chunk: Vec<(String, Vec<SchoolObservation>)>,
    mut existing: HashMap<String, CurrentRecord>,
) -> Result<ChunkRows, DbErr> {
    let catalog = Catalog::get();
    let json_err = |e: serde_json::Error| DbErr::Custom(e.to_string());
    let mut rows = ChunkRows::default();
    for (uai, list) in chunk {
        let current = existing.remove(&uai);
        let mut record: SchoolRecord = match &current {
            Some(s) => serde_json::from_str(&s.data)
                .map_err(|e| DbErr::Custom(format!("corrupt record of {uai}: {e}")))?,
            None => SchoolRecord::default(),
        };
        let creating = current.is_none();
        let mut changes: BTreeMap<FieldName, Option<StoredValue>> = BTreeMap::new();
        for obs in &list {
            let pid = ctx
                .provenance_ids
                .get(&obs.millesime)
                .copied()
                .ok_or_else(|| {
                    DbErr::Custom(format!("no provenance for millésime {:?}", obs.millesime))
                })?;
            let Some(new_origin) = ctx.origins.get(&pid) else {
                return Err(DbErr::Custom(format!("unknown provenance {pid}")));
            };
            for (name, value) in &obs.values {
                let Some(field) = catalog.field(name) else {
                    return Err(DbErr::Custom(format!("unknown catalogue field {name}")));
                };
                let replace = match record.0.get(field.name) {
                    None => true,
                    Some(StoredValue(cur, cur_pid)) => match ctx.origins.get(cur_pid) {
                        Some(cur_origin) => {
                            should_replace(field, cur, cur_origin, value, new_origin)
                        }
                        None => cur != value,
                    },
                };
                if !replace {
                    continue;
                }
                let key = Cow::Borrowed(field.name);
                let previous = record
                    .0
                    .insert(key.clone(), StoredValue(value.clone(), pid));
                if !creating {
                    // Keep the value as it was before this publication, not an intermediate one.
                    changes.entry(key).or_insert(previous);
                }
            }
        }
        let publication_source = &ctx.source;
        // What a source said that is not what is published (an earlier millésime, a value a
        // higher-ranked source overrides) is kept as an observation; what is published lives
        // in the revisions already.
        for obs in &list {
            // Published as observed: same value, same source and millésime (perhaps from an
            // earlier import of the same file).
            let published = obs.values.iter().all(|(f, v)| {
                record.0.get(*f).is_some_and(|s| {
                    &s.0 == v
                        && ctx.origins.get(&s.1).is_some_and(|o| {
                            &o.source == publication_source && o.millesime == obs.millesime
                        })
                })
            });
            // The source's own spellings are kept with what it said, published or not.
            if !published || !obs.raw.is_empty() {
                let said: BTreeMap<&str, &Value> =
                    obs.values.iter().map(|(f, v)| (*f, v)).collect();
                let raw = (!obs.raw.is_empty())
                    .then(|| {
                        let raw: BTreeMap<&str, &str> =
                            obs.raw.iter().map(|(f, r)| (*f, r.as_str())).collect();
                        serde_json::to_string(&raw)
                    })
                    .transpose()
                    .map_err(json_err)?;
                rows.observations.push((
                    uai.clone(),
                    obs.millesime.clone().unwrap_or_default(),
                    serde_json::to_string(&said).map_err(json_err)?,
                    raw,
                ));
            }
        }
        let values = if creating {
            record.0.len()
        } else {
            // A value replaced and then restored within one publication is no change.
            changes.retain(|name, before| {
                before.as_ref().map(|b| &b.0) != record.0.get(name).map(|v| &v.0)
            });
            changes.len()
        };
        if values == 0 {
            continue;
        }
        rows.values += values as u64;
        if creating {
            rows.created += 1;
        } else {
            rows.changed += 1;
        }
        rows.used_provenances.extend(record.0.values().map(|v| v.1));
        let data = serde_json::to_string(&record).map_err(json_err)?;
        let changes_json = if creating {
            "null".to_owned()
        } else {
            serde_json::to_string(&changes).map_err(json_err)?
        };
        rows.revisions.push((uai.clone(), data, changes_json));
        rows.schools.push(school_row(
            &uai,
            &record,
            ctx.version,
            current.map_or(ctx.version, |s| s.created_version),
            &ctx.scoring,
        )?);
    }
    Ok(rows)
}

/// The published record of a school (its revision at the version that last changed it).
pub struct CurrentRecord {
    pub data: String,
    pub created_version: i32,
}

/// The published records of the given schools, the unknown ones left out.
pub async fn current_records<C: ConnectionTrait>(
    db: &C,
    uais: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, CurrentRecord>, DbErr> {
    let q = Query::select()
        .column(("s", "uai"))
        .column(("s", "created_version"))
        .column(("r", "data"))
        .from_as("schools", "s")
        .join_as(
            JoinType::InnerJoin,
            "school_revisions",
            "r",
            Condition::all()
                .add(Expr::col(("r", "uai")).equals(("s", "uai")))
                .add(Expr::col(("r", "version")).equals(("s", "version"))),
        )
        .and_where(Expr::col(("s", "uai")).is_in(uais))
        .to_owned();
    let mut out = HashMap::new();
    for row in db.query_all(&q).await? {
        let uai: String = row.try_get("", "uai")?;
        out.insert(
            uai,
            CurrentRecord {
                data: row.try_get("", "data")?,
                created_version: row.try_get("", "created_version")?,
            },
        );
    }
    Ok(out)
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

/// Creates one provenance per millésime, with ids chosen here so that thousands of them (an
/// annuaire dates every row) go in a few statements. Safe because every writer of provenances
/// holds the publication lock; PostgreSQL's sequence is moved past the ids taken.
async fn insert_provenances<C: ConnectionTrait>(
    txn: &C,
    publication: &Publication,
    millesimes: &BTreeSet<Option<String>>,
    now: chrono::DateTime<Utc>,
) -> Result<HashMap<Option<String>, ProvenanceId>, DbErr> {
    let max: Option<i64> = provenance::Entity::find()
        .select_only()
        .column_as(provenance::Column::Id.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(txn)
        .await?
        .flatten();
    let first = max.unwrap_or(0) + 1;
    let ids: HashMap<Option<String>, ProvenanceId> =
        millesimes.iter().cloned().zip(first..).collect();
    let models: Vec<provenance::ActiveModel> = millesimes
        .iter()
        .zip(first..)
        .map(|(m, id)| provenance::ActiveModel {
            id: sea_orm::Set(id),
            source: sea_orm::Set(publication.source.clone()),
            millesime: sea_orm::Set(m.clone()),
            import_id: sea_orm::Set(publication.import_id),
            submission_id: sea_orm::Set(publication.submission_id),
            recorded_at: sea_orm::Set(now),
        })
        .collect();
    for chunk in models.chunks(CHUNK) {
        provenance::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    if txn.get_database_backend() == DbBackend::Postgres && !millesimes.is_empty() {
        txn.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('provenances', 'id'), (SELECT max(id) FROM provenances))",
        )
        .await?;
    }
    Ok(ids)
}

/// Every provenance as the scores read them.
fn scoring_provenance(origins: &HashMap<ProvenanceId, Origin>) -> ProvenanceMap {
    origins
        .iter()
        .map(|(id, o)| {
            (
                *id,
                scores::provenance_entry(o.millesime.as_deref(), o.from_contribution),
            )
        })
        .collect()
}

/// A school's row: what lists and searches read, and its score facts (JSON).
fn school_row(
    uai: &str,
    record: &SchoolRecord,
    version: i32,
    created_version: i32,
    scoring: &ProvenanceMap,
) -> Result<(school::Model, String), DbErr> {
    let facts = serde_json::to_string(&SchoolFacts::of(&Values::of_record(record), scoring))
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let name = record
        .str("appellation_officielle")
        .or_else(|| record.str("denomination"))
        .or_else(|| record.str("libelle_nature"))
        .unwrap_or("")
        .to_owned();
    let s = |f: &str| record.str(f).map(str::to_owned);
    let model = school::Model {
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
        presence_annuaire: s("presence_annuaire"),
        version,
        created_version,
    };
    Ok((model, facts))
}

/// One multi-row `INSERT … VALUES (…), …` with every cell bound: nothing for the database to
/// parse but the statement, which the driver prepares once per shape. NULLs must be typed
/// (`Value::Double(None)`…) so that PostgreSQL reads each parameter as its column's type.
pub(crate) async fn bulk_insert<C: ConnectionTrait>(
    txn: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<sea_orm::Value>>,
    suffix: &str,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for (i, _) in rows.iter().enumerate() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..columns.len() {
            n += 1;
            if j > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => sql.push_str(&format!("${n}")),
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(suffix);
    let params: Vec<sea_orm::Value> = rows.into_iter().flatten().collect();
    txn.execute_raw(Statement::from_sql_and_values(backend, &sql, params))
        .await?;
    Ok(())
}

async fn write_rows<C: ConnectionTrait>(
    txn: &C,
    publication: &Publication,
    version: i32,
    rows: Option<ChunkRows>,
) -> Result<(), DbErr> {
    use sea_orm::Value as V;
    let Some(rows) = rows else { return Ok(()) };
    let source = V::from(publication.source.clone());
    let import_id = V::from(publication.import_id.unwrap_or(0));
    let facts_key = V::from(SchoolFacts::key());
    // An unchanged observation keeps the import that first brought it.
    bulk_insert(
        txn,
        "observations",
        &["uai", "millesime", "data", "raw", "source", "import_id"],
        rows.observations
            .into_iter()
            .map(|(u, m, d, r)| {
                vec![
                    u.into(),
                    m.into(),
                    d.into(),
                    V::String(r),
                    source.clone(),
                    import_id.clone(),
                ]
            })
            .collect(),
        "ON CONFLICT (uai, source, millesime) DO UPDATE SET data = excluded.data, \
         raw = excluded.raw, import_id = excluded.import_id \
         WHERE observations.data <> excluded.data \
         OR COALESCE(observations.raw, '') <> COALESCE(excluded.raw, '')",
    )
    .await?;
    bulk_insert(
        txn,
        "schools",
        &[
            "uai",
            "name",
            "name_folded",
            "type_etablissement",
            "secteur",
            "etat",
            "code_commune",
            "code_departement",
            "code_academie",
            "code_region",
            "latitude",
            "longitude",
            "presence_annuaire",
            "version",
            "created_version",
            "score_facts",
            "score_facts_key",
        ],
        rows.schools
            .into_iter()
            .map(|(s, facts)| {
                vec![
                    s.uai.into(),
                    s.name.into(),
                    s.name_folded.into(),
                    V::String(s.type_etablissement),
                    V::String(s.secteur),
                    V::String(s.etat),
                    V::String(s.code_commune),
                    V::String(s.code_departement),
                    V::String(s.code_academie),
                    V::String(s.code_region),
                    V::Double(s.latitude),
                    V::Double(s.longitude),
                    V::String(s.presence_annuaire),
                    s.version.into(),
                    s.created_version.into(),
                    facts.into(),
                    facts_key.clone(),
                ]
            })
            .collect(),
        "ON CONFLICT (uai) DO UPDATE SET name = excluded.name, \
         name_folded = excluded.name_folded, type_etablissement = excluded.type_etablissement, \
         secteur = excluded.secteur, etat = excluded.etat, code_commune = excluded.code_commune, \
         code_departement = excluded.code_departement, code_academie = excluded.code_academie, \
         code_region = excluded.code_region, latitude = excluded.latitude, \
         longitude = excluded.longitude, presence_annuaire = excluded.presence_annuaire, \
         version = excluded.version, \
         score_facts = excluded.score_facts, score_facts_key = excluded.score_facts_key",
    )
    .await?;
    let version = V::from(version);
    bulk_insert(
        txn,
        "school_revisions",
        &["uai", "data", "changes", "version"],
        rows.revisions
            .into_iter()
            .map(|(u, d, c)| vec![u.into(), d.into(), c.into(), version.clone()])
            .collect(),
        "",
    )
    .await
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

/// What the public answers are made of, as numbers that grow whenever it changes: the latest
/// dataset version (merges, reverts, annuaire and survey publications), import (observations
/// not published), scores run and moderation decision (a contribution's observations, even
/// when they change no published value). Each is written in the transaction of the change it
/// stands for, so a reader that sees the numbers sees the change.
pub type PublishedState = [i64; 4];

pub async fn published_state<C: ConnectionTrait>(db: &C) -> Result<PublishedState, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT (SELECT COALESCE(MAX(version), 0) FROM dataset_versions) AS v, \
             (SELECT COALESCE(MAX(id), 0) FROM imports) AS i, \
             (SELECT COALESCE(MAX(id), 0) FROM score_runs) AS s, \
             (SELECT COALESCE(MAX(id), 0) FROM submission_decisions) AS d",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no row for the published state".into()))?;
    let get = |c: &str| -> Result<i64, DbErr> {
        // PostgreSQL gives MAX(int4) as int4, SQLite every integer as i64.
        row.try_get::<i64>("", c)
            .or_else(|_| row.try_get::<i32>("", c).map(i64::from))
    };
    Ok([get("v")?, get("i")?, get("s")?, get("d")?])
}

/// The schools whose published values, history or observations changed from one published
/// state to a later one: those of the versions, imports and decisions in between. `None` when
/// there are more than `limit` (a national import): then everything may have changed.
pub async fn schools_changed_between<C: ConnectionTrait>(
    db: &C,
    from: PublishedState,
    to: PublishedState,
    limit: usize,
) -> Result<Option<HashSet<String>>, DbErr> {
    use crate::entities::{observation, submission_decision, submission_school};
    // Only the parts whose range is not empty: `observations.import_id` has no index, and
    // imports are rare.
    let mut parts = Vec::new();
    if to[0] > from[0] {
        parts.push(
            Query::select()
                .column(school_revision::Column::Uai)
                .from(school_revision::Entity)
                .and_where(Expr::col(school_revision::Column::Version).gt(from[0] as i32))
                .and_where(Expr::col(school_revision::Column::Version).lte(to[0] as i32))
                .to_owned(),
        );
    }
    if to[1] > from[1] {
        parts.push(
            Query::select()
                .column(observation::Column::Uai)
                .from(observation::Entity)
                .and_where(Expr::col(observation::Column::ImportId).gt(from[1]))
                .and_where(Expr::col(observation::Column::ImportId).lte(to[1]))
                .to_owned(),
        );
    }
    if to[3] > from[3] {
        let decided = Query::select()
            .column(submission_decision::Column::SubmissionId)
            .from(submission_decision::Entity)
            .and_where(Expr::col(submission_decision::Column::Id).gt(from[3]))
            .and_where(Expr::col(submission_decision::Column::Id).lte(to[3]))
            .to_owned();
        parts.push(
            Query::select()
                .column(submission_school::Column::Uai)
                .from(submission_school::Entity)
                .and_where(Expr::col(submission_school::Column::SubmissionId).in_subquery(decided))
                .to_owned(),
        );
    }
    let Some(mut query) = parts.pop() else {
        return Ok(Some(HashSet::new()));
    };
    for part in parts {
        query.union(UnionType::Distinct, part);
    }
    let rows = db.query_all(&query).await?;
    if rows.len() > limit {
        return Ok(None);
    }
    rows.iter()
        .map(|r| r.try_get::<String>("", "uai"))
        .collect::<Result<HashSet<_>, _>>()
        .map(Some)
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

/// What changed from version `from` to version `to` (`from` < `to`), school by school in UAI
/// order, paginated by school: each field's value in `from` and in `to`, whatever versions in
/// between touched it (a value changed and changed back is no change).
pub async fn changes_between<C: ConnectionTrait>(
    db: &C,
    from: i32,
    to: i32,
    page: u64,
    per_page: u64,
) -> Result<(u64, Vec<Change>), DbErr> {
    let in_range = Condition::all()
        .add(school_revision::Column::Version.gt(from))
        .add(school_revision::Column::Version.lte(to));
    let schools = school_revision::Entity::find()
        .select_only()
        .column(school_revision::Column::Uai)
        .distinct()
        .filter(in_range.clone())
        .order_by_asc(school_revision::Column::Uai);
    let total_schools = schools.clone().into_tuple::<String>().count(db).await?;
    let uais: Vec<String> = schools
        .into_tuple::<String>()
        .paginate(db, per_page)
        .fetch_page(page.saturating_sub(1))
        .await?;
    let revisions = school_revision::Entity::find()
        .filter(in_range)
        .filter(school_revision::Column::Uai.is_in(uais))
        .order_by_asc(school_revision::Column::Uai)
        .order_by_asc(school_revision::Column::Version)
        .all(db)
        .await?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < revisions.len() {
        let uai = revisions[i].uai.clone();
        // Each field's value before the range: from the first revision in it that touched it.
        let mut before: BTreeMap<String, Option<StoredValue>> = BTreeMap::new();
        let mut last = &revisions[i];
        while i < revisions.len() && revisions[i].uai == uai {
            let r = &revisions[i];
            let changes: Option<BTreeMap<String, Option<StoredValue>>> =
                serde_json::from_str(&r.changes).map_err(|e| DbErr::Custom(e.to_string()))?;
            match changes {
                Some(c) => {
                    for (field, old) in c {
                        before.entry(field).or_insert(old);
                    }
                }
                None => {
                    // Created in the range: nothing before.
                    let record: SchoolRecord =
                        serde_json::from_str(&r.data).map_err(|e| DbErr::Custom(e.to_string()))?;
                    for k in record.0.keys() {
                        before.entry(k.clone().into_owned()).or_insert(None);
                    }
                }
            }
            last = r;
            i += 1;
        }
        let record: SchoolRecord =
            serde_json::from_str(&last.data).map_err(|e| DbErr::Custom(e.to_string()))?;
        for (field, old) in before {
            let after = record.0.get(field.as_str());
            if old.as_ref().map(|o| &o.0) == after.map(|a| &a.0) {
                continue;
            }
            out.push(Change {
                uai: uai.clone(),
                old: old.as_ref().map(|b| b.0.clone()),
                old_provenance: old.as_ref().map(|b| b.1),
                new: after.map(|a| a.0.clone()),
                new_provenance: after.map(|a| a.1),
                field,
            });
        }
    }
    Ok((total_schools, out))
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
        // `null`: the version created the school, every value is new.
        let changes: Option<BTreeMap<String, Option<StoredValue>>> =
            serde_json::from_str(&r.changes).map_err(|e| DbErr::Custom(e.to_string()))?;
        let changes = changes.unwrap_or_else(|| {
            record
                .0
                .keys()
                .map(|k| (k.clone().into_owned(), None))
                .collect()
        });
        for (field, before) in changes {
            let after = record.0.get(field.as_str());
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
