//! Drafts: a file uploaded for a schema and fixed in the browser before it is sent. The file
//! as uploaded stays stored; each fix writes a new file (cells changed in place, or one value
//! replaced on every row that holds it) and the draft points at it. Checking a draft is the
//! check a submission goes through (`submissions::prepare`), plus the diff against the
//! published values; sending it is `submissions::submit` with the fixed file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Utc;
use ecarto_contrib_schemas::{FieldMapping, Registry, Schema};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::{Value, json};

use crate::{
    config::ValidationLimits,
    domain::competence::{self as rules, Actor, Effect},
    entities::{contribution_draft, submission, submission_file, submission_row},
    error::{AppError, AppResult},
    services::{
        audit, competence, completeness,
        submissions::{self, FieldDiff, NewSubmission, Prepared},
    },
    validation::{
        Progress, Stage,
        edit::{self, Replace},
    },
};

/// The schema a draft is for.
pub fn schema_of(d: &contribution_draft::Model) -> AppResult<&'static Schema> {
    Registry::embedded()
        .resolve(&format!("{}@v{}", d.schema_name, d.schema_version))
        .map_err(AppError::internal)
}

async fn store_file<C: sea_orm::ConnectionTrait>(db: &C, bytes: &[u8]) -> AppResult<String> {
    let sha256 = crate::services::auth::hash_bytes(bytes);
    submission_file::Entity::insert(submission_file::ActiveModel {
        sha256: Set(sha256.clone()),
        size: Set(bytes.len() as i64),
        bytes: Set(bytes.to_vec()),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(submission_file::Column::Sha256)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(sha256)
}

/// The size of a stored file, without reading it.
pub async fn file_size(db: &DatabaseConnection, sha256: &str) -> AppResult<i64> {
    use sea_orm::QuerySelect;
    submission_file::Entity::find_by_id(sha256.to_owned())
        .select_only()
        .column(submission_file::Column::Size)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(format!("fichier {sha256} introuvable")))
}

/// The bytes of a stored file.
pub async fn file(db: &DatabaseConnection, sha256: &str) -> AppResult<Vec<u8>> {
    submission_file::Entity::find_by_id(sha256.to_owned())
        .one(db)
        .await?
        .map(|f| f.bytes)
        .ok_or_else(|| AppError::internal(format!("fichier {sha256} introuvable")))
}

/// A new draft of `bytes` (stored once), as uploaded and not fixed yet.
async fn insert<C: sea_orm::ConnectionTrait>(
    db: &C,
    user_id: i64,
    organisation_id: Option<i64>,
    (schema_name, schema_version): (&str, i32),
    file_name: &str,
    bytes: &[u8],
) -> AppResult<contribution_draft::Model> {
    let sha256 = store_file(db, bytes).await?;
    let now = Utc::now();
    Ok(contribution_draft::ActiveModel {
        user_id: Set(user_id),
        organisation_id: Set(organisation_id),
        schema_name: Set(schema_name.to_owned()),
        schema_version: Set(schema_version),
        file_name: Set(file_name.to_owned()),
        original_sha256: Set(sha256.clone()),
        current_sha256: Set(sha256),
        fixes: Set(0),
        submission_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Keeps a file received for `schema` as a new draft of the person.
pub async fn create(
    db: &DatabaseConnection,
    limits: &ValidationLimits,
    ctx: &audit::Context,
    actor: &Actor,
    schema: &str,
    file_name: &str,
    bytes: &[u8],
) -> AppResult<contribution_draft::Model> {
    let schema = Registry::embedded()
        .resolve(schema)
        .map_err(|e| AppError::bad_request("schema", e.to_string()))?;
    if bytes.is_empty() {
        return Err(AppError::bad_request(
            "fichier",
            "choisissez un fichier (CSV, XLSX ou JSON) : celui envoyé est vide",
        ));
    }
    if bytes.len() > limits.max_bytes {
        return Err(AppError::TooLarge(format!(
            "le fichier fait {} octets, plus que la limite de {} octets",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let txn = db.begin().await?;
    let d = insert(
        &txn,
        actor.user_id,
        actor.organisation.as_ref().map(|o| o.id),
        (&schema.name, schema.version as i32),
        file_name.trim(),
        bytes,
    )
    .await?;
    audit::record(
        &txn,
        ctx,
        "draft.created",
        Some(format!("draft:{}", d.id)),
        json!({"schema": schema.id(), "file": d.file_name, "size": bytes.len()}),
    )
    .await?;
    txn.commit().await?;
    Ok(d)
}

/// A draft of the person (another's is unknown to them).
pub async fn get(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> AppResult<contribution_draft::Model> {
    contribution_draft::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|d| d.user_id == actor.user_id)
        .ok_or_else(|| AppError::NotFound(format!("brouillon {id} inconnu")))
}

/// The person's drafts not yet sent, newest first.
pub async fn list_open(
    db: &DatabaseConnection,
    actor: &Actor,
) -> AppResult<Vec<contribution_draft::Model>> {
    Ok(contribution_draft::Entity::find()
        .filter(contribution_draft::Column::UserId.eq(actor.user_id))
        .filter(contribution_draft::Column::SubmissionId.is_null())
        .order_by_desc(contribution_draft::Column::Id)
        .all(db)
        .await?)
}

/// The name the fixed file is sent under: the agent's, marked as corrected.
pub fn sent_file_name(d: &contribution_draft::Model) -> String {
    if d.current_sha256 == d.original_sha256 {
        return d.file_name.clone();
    }
    let stem = d
        .file_name
        .rsplit_once('.')
        .map_or(d.file_name.as_str(), |(s, _)| s);
    format!("{stem}-corrige.csv")
}

/// A draft checked as its submission would be, with what it would change.
pub struct Checked {
    pub draft: contribution_draft::Model,
    pub schema: &'static Schema,
    pub prepared: Prepared,
    /// For each of `prepared.rows`: the fields it would change (empty unless proposed).
    pub diffs: Vec<Vec<FieldDiff>>,
}

/// Checks `draft`, which the caller read with [`get`] (so it is the person's own).
pub async fn check(
    db: &DatabaseConnection,
    limits: &ValidationLimits,
    actor: &Actor,
    draft: contribution_draft::Model,
    progress: Option<Arc<Progress>>,
) -> AppResult<Checked> {
    let schema = schema_of(&draft)?;
    let bytes = file(db, &draft.current_sha256).await?;
    let prepared = submissions::prepare(
        db,
        limits,
        actor,
        schema,
        bytes,
        &sent_file_name(&draft),
        progress.clone(),
    )
    .await?;
    if let Some(p) = &progress {
        p.enter(Stage::Published);
    }
    let values: Vec<Value> = prepared
        .rows
        .iter()
        .map(|r| serde_json::to_value(&r.values).unwrap_or(Value::Null))
        .collect();
    let to_diff: Vec<(Option<&str>, &Value)> = prepared
        .rows
        .iter()
        .zip(&values)
        .map(|(r, v)| (r.uai.as_deref().filter(|_| r.status == "proposed"), v))
        .collect();
    let diffs = submissions::diff_rows(db, &to_diff).await?;
    Ok(Checked {
        draft,
        schema,
        prepared,
        diffs,
    })
}

fn not_sent(d: &contribution_draft::Model) -> AppResult<()> {
    match d.submission_id {
        Some(s) => Err(AppError::Conflict(format!(
            "ce brouillon a déjà été envoyé (envoi n° {s}) : déposez un nouveau fichier pour le corriger"
        ))),
        None => Ok(()),
    }
}

/// Applies fixes made in the browser; returns how many cells changed. The file as it was
/// stays stored.
pub async fn fix(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
    cells: BTreeMap<(u64, usize), String>,
    replace: Option<Replace>,
) -> AppResult<usize> {
    let d = get(db, actor, id).await?;
    not_sent(&d)?;
    let schema = schema_of(&d)?;
    let bytes = file(db, &d.current_sha256).await?;
    let name = d.file_name.clone();
    let hint = schema.name.clone();
    let r = replace.clone();
    let fixed = tokio::task::spawn_blocking(move || {
        edit::apply(&bytes, Some(&name), &hint, &cells, r.as_ref())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    if fixed.changed == 0 {
        return Ok(0);
    }
    let txn = db.begin().await?;
    let sha256 = store_file(&txn, &fixed.bytes).await?;
    let fixes = d.fixes + fixed.changed as i32;
    let mut a: contribution_draft::ActiveModel = d.into();
    a.current_sha256 = Set(sha256);
    a.fixes = Set(fixes);
    a.updated_at = Set(Utc::now());
    a.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        "draft.fixed",
        Some(format!("draft:{id}")),
        json!({"cells": fixed.changed, "replace": replace.map(|r| json!({"column": r.column, "from": r.from, "to": r.to}))}),
    )
    .await?;
    txn.commit().await?;
    Ok(fixed.changed)
}

/// What sending a draft gave: the submission, and the draft of the rows still to fix.
pub struct Sent {
    pub submission: submission::Model,
    pub left: Option<i64>,
}

/// Sends the draft as it now is: its valid rows go to review; its invalid ones are kept as a
/// new draft, to fix and send later. Sending twice gives the first submission back.
pub async fn send(
    db: &DatabaseConnection,
    limits: &ValidationLimits,
    base_url: &str,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
) -> AppResult<Sent> {
    let d = get(db, actor, id).await?;
    if let Some(s) = d.submission_id {
        return Ok(Sent {
            submission: submissions::get(db, s).await?,
            left: None,
        });
    }
    let schema = schema_of(&d)?;
    let bytes = file(db, &d.current_sha256).await?;
    let (s, _) = submissions::submit(
        db,
        limits,
        base_url,
        ctx,
        actor,
        NewSubmission {
            schema: schema.id(),
            file_name: sent_file_name(&d),
            bytes: bytes.clone(),
            // The key makes a retry after a failure below give the same submission back.
            idempotency_key: Some(format!("brouillon-{}-{}", d.id, d.current_sha256)),
            supersedes: None,
        },
    )
    .await?;
    let invalid: BTreeSet<u64> = submission_row::Entity::find()
        .filter(submission_row::Column::SubmissionId.eq(s.id))
        .filter(submission_row::Column::Status.eq("invalid"))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.line as u64)
        .collect();
    let rest = if invalid.is_empty() || s.rows_proposed + s.rows_refused == 0 {
        // Nothing went forward: the draft itself stays to fix (below, it is not marked sent).
        None
    } else {
        let name = d.file_name.clone();
        let hint = schema.name.clone();
        Some(
            tokio::task::spawn_blocking(move || {
                edit::only_rows(&bytes, Some(&name), &hint, &invalid)
            })
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::Unprocessable(e.to_string()))?,
        )
    };
    let nothing_sent = s.rows_proposed + s.rows_refused == 0;
    let txn = db.begin().await?;
    let mut left = None;
    if let Some(rest) = rest {
        let stem = d
            .file_name
            .rsplit_once('.')
            .map_or(d.file_name.as_str(), |(s, _)| s)
            .trim_end_matches("-corrige")
            .trim_end_matches("-lignes-a-corriger");
        let n = insert(
            &txn,
            d.user_id,
            d.organisation_id,
            (&d.schema_name, d.schema_version),
            &format!("{stem}-lignes-a-corriger.csv"),
            &rest,
        )
        .await?;
        left = Some(n.id);
    }
    if !nothing_sent {
        let mut a: contribution_draft::ActiveModel = d.into();
        a.submission_id = Set(Some(s.id));
        a.updated_at = Set(Utc::now());
        a.update(&txn).await?;
    }
    audit::record(
        &txn,
        ctx,
        "draft.sent",
        Some(format!("draft:{id}")),
        json!({"submission": s.id, "left": left}),
    )
    .await?;
    txn.commit().await?;
    Ok(Sent {
        submission: s,
        left,
    })
}

/// The catalogue fields a schema's columns fill.
fn schema_fields(schema: &Schema) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in &schema.columns {
        match &c.field {
            FieldMapping::None => {}
            FieldMapping::Field(f) => {
                out.insert(f.clone());
            }
            FieldMapping::ByValue(m) => {
                out.extend(m.values().flat_map(|fields| fields.keys().cloned()));
            }
        }
    }
    out
}

/// The schools a pre-filled template of `schema` lists: those of the person's competence that
/// miss one of the values it gives (the to-do list of `completeness::missing`), in UAI order.
pub async fn prefilled_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    schema: &str,
) -> AppResult<(&'static Schema, Vec<String>)> {
    let schema = Registry::embedded()
        .resolve(schema)
        .map_err(|e| AppError::bad_request("schema", e.to_string()))?;
    if actor.organisation.is_none() {
        return Err(AppError::Forbidden(
            "le modèle pré-rempli liste les établissements de la compétence de votre organisation : il faut être rattaché(e) à une organisation".into(),
        ));
    }
    let fields = schema_fields(schema);
    let scope = competence::schema_scope(&schema.id())?;
    let territories: BTreeSet<_> = actor
        .competence
        .iter()
        .filter(|l| l.effect == Effect::Grant)
        .map(|l| l.territory.clone())
        .collect();
    let mut schools: BTreeMap<String, ()> = BTreeMap::new();
    let now = Utc::now();
    for t in territories {
        let level = crate::domain::territory::Level::parse(t.level.as_str())
            .map_err(|e| AppError::internal(e.to_string()))?;
        let list =
            completeness::missing(db, level, &t.code, Default::default(), Some(actor)).await?;
        let wanted: Vec<String> = list
            .items
            .into_iter()
            .filter(|s| s.missing.iter().any(|m| fields.contains(*m)))
            .map(|s| s.uai)
            .filter(|u| !schools.contains_key(u))
            .collect();
        let facts = competence::school_facts_many(db, wanted.iter().cloned()).await?;
        for u in wanted {
            if facts
                .get(&u)
                .is_some_and(|f| rules::can_contribute(actor, f, &scope, now).allowed)
            {
                schools.insert(u, ());
            }
        }
    }
    Ok((schema, schools.into_keys().collect()))
}

/// The template of `schema` pre-filled with [`prefilled_schools`]: one row per school, its UAI
/// filled in, the rest to complete (CSV, UTF-8 with BOM, `;`). Also gives how many schools.
pub async fn prefilled_template(
    db: &DatabaseConnection,
    actor: &Actor,
    schema: &str,
) -> AppResult<(String, usize)> {
    let (schema, schools) = prefilled_schools(db, actor, schema).await?;
    let uai_column = schema.columns.iter().position(|c| c.uai).unwrap_or(0);
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(schema.columns.iter().map(|c| c.name.as_str()))
        .map_err(AppError::internal)?;
    let mut row = vec![String::new(); schema.columns.len()];
    for uai in &schools {
        row[uai_column] = uai.clone();
        w.write_record(&row).map_err(AppError::internal)?;
    }
    let bytes = w.into_inner().map_err(AppError::internal)?;
    Ok((
        String::from_utf8(bytes).map_err(AppError::internal)?,
        schools.len(),
    ))
}
