//! Contributions: a file submitted for a schema becomes an immutable submission (its bytes,
//! report, rows and what each row proposes), row by row within the submitter's competence;
//! moderators of the territory decide, and accepted rows are merged into a new version of the
//! published dataset with their provenance.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use ecarto_contrib_schemas::{ColumnKind, FieldMapping, Registry, Schema};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    config::ValidationLimits,
    domain::{
        catalog::Catalog,
        competence::{self as rules, Actor, Level, Role, SchoolFacts},
        uai::Uai,
    },
    entities::{
        submission, submission_decision, submission_file, submission_row, submission_school,
    },
    error::{AppError, AppResult},
    services::{
        audit, competence,
        datasets::{self, Publication, SchoolObservation},
        outbox, provenance,
        validation::{self as register, same},
    },
    validation::{self, FileError, Options, Progress, Stage},
};

/// What a person sends.
pub struct NewSubmission {
    pub schema: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub idempotency_key: Option<String>,
    /// The submission this one corrects.
    pub supersedes: Option<i64>,
}

/// The values a row proposes, by catalogue field.
fn proposed_values(schema: &Schema, row: &Map<String, Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for col in &schema.columns {
        if let Some(by) = &col.typed_by {
            if let (Some(field), Some(v)) =
                (row.get(by).and_then(Value::as_str), row.get(&col.name))
            {
                out.insert(field.to_owned(), v.clone());
            }
            continue;
        }
        match &col.field {
            FieldMapping::None => {}
            FieldMapping::Field(f) => {
                if let Some(v) = row.get(&col.name) {
                    out.insert(f.clone(), v.clone());
                }
            }
            FieldMapping::ByValue(by_value) => {
                if let Some(m) = row
                    .get(&col.name)
                    .and_then(Value::as_str)
                    .and_then(|v| by_value.get(v))
                {
                    for (f, v) in m {
                        out.insert(f.clone(), v.clone());
                    }
                }
            }
        }
    }
    out
}

/// Where an entity row (an experimentation) keeps its typed columns among the proposed values.
const ENTITY_KEY: &str = "$row";

/// Schemas whose rows are things of their own naming several schools (experimentations).
fn is_entity_schema(schema: &Schema) -> bool {
    schema
        .columns
        .iter()
        .any(|c| c.uai && matches!(c.kind, ColumnKind::List(_)))
}

/// The UAIs a row names (one, or a list for experimentations).
fn row_uais(schema: &Schema, row: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for col in schema.columns.iter().filter(|c| c.uai) {
        match (row.get(&col.name), &col.kind) {
            (Some(Value::String(s)), _) => out.push(s.clone()),
            (Some(Value::Array(items)), ColumnKind::List(_)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    out
}

fn file_error(e: FileError) -> AppError {
    match e {
        FileError::TooManyRows { .. } => AppError::TooLarge(e.to_string()),
        FileError::Unusable(_) => AppError::Unprocessable(e.to_string()),
    }
}

/// A row of a file as a submission would store it.
pub struct PreparedRow {
    pub line: i64,
    pub uai: Option<String>,
    /// `proposed`, `refused` (outside the submitter's competence) or `invalid`.
    pub status: &'static str,
    pub reason: Option<String>,
    pub values: BTreeMap<String, Value>,
}

/// A file checked as a submission is: validated, against the register, and row by row
/// against the submitter's competence. Nothing is stored.
pub struct Prepared {
    pub validation: validation::Validation,
    pub rows: Vec<PreparedRow>,
    pub facts: HashMap<String, SchoolFacts>,
    /// The schools the proposed rows touch.
    pub touched: BTreeSet<String>,
    proposals: Vec<(i64, String, BTreeMap<String, Value>)>,
    pub proposed: i64,
    pub refused: i64,
    pub invalid: i64,
    pub bytes: Vec<u8>,
}

pub async fn prepare(
    db: &DatabaseConnection,
    limits: &ValidationLimits,
    actor: &Actor,
    schema: &'static Schema,
    bytes: Vec<u8>,
    file_name: &str,
    progress: Option<Arc<Progress>>,
) -> AppResult<Prepared> {
    let mut options = Options::new(limits.max_rows);
    options.keep_rows = true;
    options.progress = progress.clone();
    let file_name = file_name.to_owned();
    let schema_ref: &'static Schema = schema;
    let (v, bytes) = tokio::task::spawn_blocking(move || {
        let v = validation::validate(schema_ref, &bytes, Some(&file_name), &options);
        (v, bytes)
    })
    .await
    .map_err(AppError::internal)?;
    let mut v = v.map_err(file_error)?;
    if let Some(p) = &progress {
        p.enter(Stage::Register);
    }
    register::check_against_register(db, schema, &mut v, limits.mass_change_share).await?;

    // Row by row: within the submitter's competence, or refused with the reason.
    let scope = competence::schema_scope(&schema.id())?;
    let now = Utc::now();
    let mut rows: Vec<PreparedRow> = Vec::new();
    let (mut proposed, mut refused) = (0i64, 0i64);
    // An error about the file as a whole (a required column missing…) holds every row back.
    let file_errors: Vec<String> = v
        .report
        .file_findings()
        .filter(|f| f.severity == crate::validation::report::Severity::Error)
        .map(|f| f.note.clone())
        .collect();
    let mut invalid: BTreeSet<u64> = v.report.invalid_rows.iter().copied().collect();
    if !file_errors.is_empty() {
        invalid.extend(v.rows.keys().copied());
    }
    let all_uais: BTreeSet<String> = v
        .rows
        .values()
        .flat_map(|(typed, _)| row_uais(schema, typed))
        .collect();
    let facts = competence::school_facts_many(db, all_uais).await?;
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut proposals: Vec<(i64, String, BTreeMap<String, Value>)> = Vec::new();
    for (line, (typed, _)) in v.rows.iter().filter(|(l, _)| !invalid.contains(l)) {
        let uais = row_uais(schema, typed);
        let mut reason = None;
        for u in &uais {
            let Some(f) = facts.get(u) else { continue };
            let decision = rules::can_contribute(actor, f, &scope, now);
            if !decision.allowed {
                reason = Some(decision.reason);
                break;
            }
        }
        if reason.is_none() {
            touched.extend(uais.iter().filter(|u| facts.contains_key(*u)).cloned());
        }
        let mut values = proposed_values(schema, typed);
        if is_entity_schema(schema) {
            // An experimentation is published as itself, not as school fields.
            values.insert(ENTITY_KEY.into(), Value::Object(typed.clone()));
        }
        if reason.is_none()
            && let Some(u) = uais.first()
        {
            proposals.push((*line as i64, u.clone(), values.clone()));
        }
        let status = if reason.is_some() {
            refused += 1;
            "refused"
        } else {
            proposed += 1;
            "proposed"
        };
        rows.push(PreparedRow {
            line: *line as i64,
            uai: uais.first().cloned(),
            status,
            reason,
            values,
        });
    }
    for line in &invalid {
        let notes: Vec<String> = file_errors
            .iter()
            .cloned()
            .chain(v.report.findings_of(*line).map(|f| f.note.clone()))
            .collect();
        rows.push(PreparedRow {
            line: *line as i64,
            uai: None,
            status: "invalid",
            reason: Some(notes.join(" ; ")),
            values: BTreeMap::new(),
        });
    }
    Ok(Prepared {
        invalid: invalid.len() as i64,
        validation: v,
        rows,
        facts,
        touched,
        proposals,
        proposed,
        refused,
        bytes,
    })
}

/// Receives a file: validated, checked against the register and, row by row, against the
/// submitter's competence; stored whole in one transaction. The same file again (while the
/// first is pending) or the same `Idempotency-Key` gives the first submission back.
pub async fn submit(
    db: &DatabaseConnection,
    limits: &ValidationLimits,
    base_url: &str,
    ctx: &audit::Context,
    actor: &Actor,
    input: NewSubmission,
) -> AppResult<(submission::Model, bool)> {
    let schema = Registry::embedded()
        .resolve(&input.schema)
        .map_err(|e| AppError::bad_request("schema", e.to_string()))?;
    if input.bytes.len() > limits.max_bytes {
        return Err(AppError::TooLarge(format!(
            "le fichier fait {} octets, plus que la limite de {} octets",
            input.bytes.len(),
            limits.max_bytes
        )));
    }
    let sha256 = crate::services::auth::hash_bytes(&input.bytes);
    if let Some(key) = &input.idempotency_key
        && let Some(existing) = submission::Entity::find()
            .filter(submission::Column::SubmitterId.eq(actor.user_id))
            .filter(submission::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
    {
        return Ok((existing, false));
    }
    if let Some(existing) = submission::Entity::find()
        .filter(submission::Column::SubmitterId.eq(actor.user_id))
        .filter(submission::Column::Sha256.eq(&sha256))
        .filter(submission::Column::SchemaName.eq(&schema.name))
        .filter(submission::Column::Status.eq("pending"))
        .one(db)
        .await?
    {
        return Ok((existing, false));
    }
    if let Some(prev) = input.supersedes {
        let p = get(db, prev).await?;
        if p.submitter_id != actor.user_id
            && p.organisation_id
                .is_none_or(|o| actor.organisation.as_ref().is_none_or(|mine| mine.id != o))
        {
            return Err(AppError::NotFound(format!("envoi {prev} inconnu")));
        }
    }

    let Prepared {
        validation: v,
        rows: prepared,
        facts,
        touched,
        proposals,
        proposed,
        refused,
        invalid,
        bytes,
    } = prepare(
        db,
        limits,
        actor,
        schema,
        input.bytes,
        &input.file_name,
        None,
    )
    .await?;
    let rows: Vec<submission_row::ActiveModel> = prepared
        .iter()
        .map(|r| {
            Ok(submission_row::ActiveModel {
                submission_id: Set(0),
                line: Set(r.line),
                uai: Set(r.uai.clone()),
                status: Set(r.status.into()),
                reason: Set(r.reason.clone()),
                proposed: Set(if r.status == "invalid" {
                    "{}".to_owned()
                } else {
                    serde_json::to_string(&r.values).map_err(AppError::internal)?
                }),
                decision: Set(None),
            })
        })
        .collect::<AppResult<_>>()?;
    let now = Utc::now();
    let mut flags = Vec::new();
    if let Some(m) = &v.report.mass_change {
        flags.push(json!({"flag": "mass_change", "share": m.share, "threshold": m.threshold}));
    }
    flags.extend(dismissed_before(db, &proposals).await?);
    let base_version = datasets::latest_version(db).await?;
    let status = if proposed > 0 {
        "pending"
    } else {
        "nothing_to_review"
    };

    let txn = db.begin().await?;
    // Content-addressed: a file received twice (or by two requests at once) is stored once.
    submission_file::Entity::insert(submission_file::ActiveModel {
        sha256: Set(sha256.clone()),
        size: Set(bytes.len() as i64),
        bytes: Set(bytes),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(submission_file::Column::Sha256)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let s = submission::ActiveModel {
        schema_name: Set(schema.name.clone()),
        schema_version: Set(schema.version as i32),
        file_name: Set(input.file_name),
        sha256: Set(sha256),
        submitter_id: Set(actor.user_id),
        organisation_id: Set(actor.organisation.as_ref().map(|o| o.id)),
        base_version: Set(base_version),
        status: Set(status.into()),
        report: Set(serde_json::to_string(&v.report).map_err(AppError::internal)?),
        rows_total: Set(v.report.stats.rows as i64),
        rows_proposed: Set(proposed),
        rows_invalid: Set(invalid),
        rows_refused: Set(refused),
        flags: Set(Value::Array(flags).to_string()),
        idempotency_key: Set(input.idempotency_key.clone()),
        supersedes: Set(input.supersedes),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let s = match s {
        Ok(s) => s,
        Err(e) => {
            // The same key retried while the first request was still running: the unique
            // index let one through; the other gets it back.
            txn.rollback().await?;
            if let Some(key) = &input.idempotency_key
                && let Some(existing) = submission::Entity::find()
                    .filter(submission::Column::SubmitterId.eq(actor.user_id))
                    .filter(submission::Column::IdempotencyKey.eq(key))
                    .one(db)
                    .await?
            {
                return Ok((existing, false));
            }
            return Err(e.into());
        }
    };
    for chunk in rows.chunks(500) {
        let chunk: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|mut r| {
                r.submission_id = Set(s.id);
                r
            })
            .collect();
        submission_row::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    let schools: Vec<submission_school::ActiveModel> = touched
        .iter()
        .filter_map(|u| facts.get(u))
        .map(|f| submission_school::ActiveModel {
            submission_id: Set(s.id),
            uai: Set(f.uai.clone()),
            commune: Set(f.commune.clone()),
            commune_parent: Set(f.commune_parent.clone()),
            epci: Set(f.epci.clone()),
            departement: Set(f.departement.clone()),
            academie: Set(f.academie.clone()),
            region: Set(f.region.clone()),
        })
        .collect();
    for chunk in schools.chunks(500) {
        submission_school::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    if let Some(prev) = s.supersedes {
        // The corrected file replaces the first while it waits.
        submission::Entity::update_many()
            .col_expr(
                submission::Column::Status,
                sea_orm::sea_query::Expr::value("superseded"),
            )
            .filter(submission::Column::Id.eq(prev))
            .filter(submission::Column::Status.is_in(["pending", "changes_requested"]))
            .exec(&txn)
            .await?;
    }
    notify_received(&txn, base_url, actor, &s, &touched, &facts).await?;
    audit::record(
        &txn,
        ctx,
        "submission.created",
        Some(format!("submission:{}", s.id)),
        json!({"schema": schema.id(), "rows": s.rows_total, "proposed": proposed,
            "invalid": s.rows_invalid, "refused": refused}),
    )
    .await?;
    txn.commit().await?;
    Ok((s, true))
}

pub async fn get(db: &DatabaseConnection, id: i64) -> AppResult<submission::Model> {
    submission::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("envoi {id} inconnu")))
}

async fn rows_of(db: &DatabaseConnection, id: i64) -> AppResult<Vec<submission_row::Model>> {
    Ok(submission_row::Entity::find()
        .filter(submission_row::Column::SubmissionId.eq(id))
        .order_by_asc(submission_row::Column::Line)
        .all(db)
        .await?)
}

/// The schools of a submission's proposed rows, for the moderators' territories.
async fn schools_of(
    db: &DatabaseConnection,
    rows: &[submission_row::Model],
) -> AppResult<HashMap<String, SchoolFacts>> {
    let uais: BTreeSet<String> = rows.iter().filter_map(|r| r.uai.clone()).collect();
    competence::school_facts_many(db, uais).await
}

/// Who may see a submission: its submitter, the members of its organisation, the moderators
/// of one of its schools, admins. The others get 404, not 403: ids reveal nothing.
async fn visible(
    db: &DatabaseConnection,
    actor: &Actor,
    s: &submission::Model,
    rows: &[submission_row::Model],
) -> AppResult<bool> {
    if actor.user_id == s.submitter_id || actor.has(Role::Admin) {
        return Ok(true);
    }
    if let (Some(mine), Some(theirs)) = (&actor.organisation, s.organisation_id)
        && mine.id == theirs
    {
        return Ok(true);
    }
    if actor.has(Role::Moderator) {
        let schools = schools_of(db, rows).await?;
        return Ok(schools.values().any(|f| rules::moderates(actor, f)));
    }
    Ok(false)
}

#[derive(Debug, Serialize)]
pub struct SubmissionSummary {
    pub id: i64,
    pub schema: String,
    pub file_name: String,
    pub status: String,
    pub submitter_id: i64,
    pub organisation_id: Option<i64>,
    pub base_version: Option<i32>,
    pub rows_total: i64,
    pub rows_proposed: i64,
    pub rows_invalid: i64,
    pub rows_refused: i64,
    pub flags: Value,
    pub created_at: chrono::DateTime<Utc>,
    /// Age in hours, for the queue.
    pub age_hours: i64,
    /// The moderator holding the submission, while their claim lasts ([`CLAIM_TTL`]).
    pub claimed_by: Option<i64>,
    pub claimed_until: Option<chrono::DateTime<Utc>>,
    pub supersedes: Option<i64>,
    pub merged_version: Option<i32>,
}

/// How long a moderator's claim keeps the others off a submission: long enough to review it,
/// short enough that a forgotten claim does not block the queue.
pub const CLAIM_TTL: chrono::Duration = chrono::Duration::hours(4);

impl From<&submission::Model> for SubmissionSummary {
    fn from(s: &submission::Model) -> Self {
        Self {
            id: s.id,
            schema: format!("{}@v{}", s.schema_name, s.schema_version),
            file_name: s.file_name.clone(),
            status: s.status.clone(),
            submitter_id: s.submitter_id,
            organisation_id: s.organisation_id,
            base_version: s.base_version,
            rows_total: s.rows_total,
            rows_proposed: s.rows_proposed,
            rows_invalid: s.rows_invalid,
            rows_refused: s.rows_refused,
            flags: serde_json::from_str(&s.flags).unwrap_or(Value::Null),
            created_at: s.created_at,
            age_hours: (Utc::now() - s.created_at).num_hours(),
            claimed_by: s
                .claimed_at
                .filter(|at| *at + CLAIM_TTL > Utc::now())
                .and(s.claimed_by),
            claimed_until: s
                .claimed_at
                .map(|at| at + CLAIM_TTL)
                .filter(|until| *until > Utc::now())
                .filter(|_| s.claimed_by.is_some()),
            supersedes: s.supersedes,
            merged_version: s.merged_version,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RowView {
    pub line: i64,
    pub uai: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub proposed: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// For each proposed field that differs from the published value: both, with the
    /// published value's provenance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FieldDiff>,
}

#[derive(Debug, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub published: Option<Value>,
    pub published_provenance: Option<provenance::ProvenanceView>,
    pub proposed: Value,
    /// `blanks`, `large_change`…
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct SubmissionView {
    #[serde(flatten)]
    pub summary: SubmissionSummary,
    pub report: Value,
    pub rows: Vec<RowView>,
    pub decisions: Vec<Value>,
}

impl SubmissionView {
    /// The moderator's last reason given, the answer the sender reads.
    pub fn latest_reason(&self) -> Option<&str> {
        self.decisions
            .iter()
            .rev()
            .filter_map(|d| d["reason"].as_str())
            .find(|r| !r.trim().is_empty())
    }
}

/// The date a row speaks of: its first date field (inventory, measure…), as `YYYY-MM-DD`.
fn row_date(proposed: &Value) -> Option<String> {
    let catalog = Catalog::get();
    proposed.as_object()?.iter().find_map(|(f, v)| {
        let field = catalog.field(f)?;
        (field.field_type == crate::domain::catalog::FieldType::Date)
            .then(|| v.as_str().map(str::to_owned))
            .flatten()
    })
}

/// Whether another source published the value after the date the row speaks of (a survey of
/// 2027 against an inventory of 2026): the proposal would contradict more recent data.
fn is_more_recent(published: Option<&provenance::ProvenanceView>, row_date: Option<&str>) -> bool {
    let (Some(p), Some(date)) = (published, row_date) else {
        return false;
    };
    let Some(m) = &p.millesime else { return false };
    let as_of = if m.len() == 4 {
        format!("{m}-12-31")
    } else {
        m.clone()
    };
    p.source != "contribution" && as_of.as_str() > date
}

/// For each row (the school it is about, `None` to skip it, and the values it proposes): the
/// fields whose proposal differs from the published value, with both values, the published
/// one's provenance and the flags a moderator should see.
pub async fn diff_rows(
    db: &DatabaseConnection,
    rows: &[(Option<&str>, &Value)],
) -> AppResult<Vec<Vec<FieldDiff>>> {
    let uais: BTreeSet<String> = rows
        .iter()
        .filter_map(|(u, _)| u.map(str::to_owned))
        .collect();
    let current = datasets::current_records(db, uais).await?;
    let records: HashMap<String, Value> = current
        .into_iter()
        .filter_map(|(u, r)| serde_json::from_str(&r.data).ok().map(|d| (u, d)))
        .collect();
    let mut provenance_ids = BTreeSet::new();
    let mut raw = Vec::with_capacity(rows.len());
    for (uai, proposed) in rows {
        let mut diff = Vec::new();
        if let (Some(obj), Some(record)) = (proposed.as_object(), uai.and_then(|u| records.get(u)))
        {
            for (field, new) in obj {
                let old = record
                    .get(field)
                    .and_then(|v| v.get(0))
                    .filter(|v| !v.is_null());
                if old.is_some_and(|o| same(o, new)) {
                    continue;
                }
                let pid = record
                    .get(field)
                    .and_then(|v| v.get(1))
                    .and_then(Value::as_i64);
                provenance_ids.extend(pid);
                let mut flags = Vec::new();
                if new.is_null() && old.is_some() {
                    flags.push("blanks");
                }
                if let (Some(o), Some(n)) = (old.and_then(Value::as_f64), new.as_f64())
                    && o > 0.0
                    && (n / o >= 10.0 || n / o <= 0.1)
                {
                    flags.push("large_change");
                }
                diff.push((field.clone(), old.cloned(), pid, new.clone(), flags));
            }
        }
        raw.push((row_date(proposed), diff));
    }
    let provenances = provenance::describe(db, provenance_ids).await?;
    Ok(raw
        .into_iter()
        .map(|(as_of, diff)| {
            diff.into_iter()
                .map(|(field, published, pid, proposed, mut flags)| {
                    let provenance = pid.and_then(|p| provenances.get(&p).cloned());
                    if is_more_recent(provenance.as_ref(), as_of.as_deref()) {
                        flags.push("more_recent_published");
                    }
                    FieldDiff {
                        field,
                        published,
                        published_provenance: provenance,
                        proposed,
                        flags,
                    }
                })
                .collect()
        })
        .collect())
}

/// A submission with its rows, report, decisions and the diff against the published values.
pub async fn view(db: &DatabaseConnection, actor: &Actor, id: i64) -> AppResult<SubmissionView> {
    let s = get(db, id).await?;
    let rows = rows_of(db, id).await?;
    if !visible(db, actor, &s, &rows).await? {
        return Err(AppError::NotFound(format!("envoi {id} inconnu")));
    }
    let proposed_values: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(&r.proposed).unwrap_or(Value::Null))
        .collect();
    let to_diff: Vec<(Option<&str>, &Value)> = rows
        .iter()
        .zip(&proposed_values)
        .map(|(r, p)| (r.uai.as_deref().filter(|_| r.status == "proposed"), p))
        .collect();
    let diffs = diff_rows(db, &to_diff).await?;
    let mut out_rows: Vec<(&submission_row::Model, Value, Vec<FieldDiff>)> = rows
        .iter()
        .zip(proposed_values.iter().cloned())
        .zip(diffs)
        .map(|((r, p), d)| (r, p, d))
        .collect();
    let proposed_rows: Vec<&submission_row::Model> =
        rows.iter().filter(|r| r.status == "proposed").collect();
    let conflicts = if s.status == "pending" {
        conflicts_of(db, &s, &proposed_rows).await?
    } else {
        Vec::new()
    };
    let summary_flags: Vec<Value> = serde_json::from_str(&s.flags).unwrap_or_default();
    for (r, _, diff) in out_rows.iter_mut() {
        for d in diff.iter_mut() {
            if conflicts
                .iter()
                .any(|c| c.line == r.line && c.field == d.field)
            {
                d.flags.push("conflict");
            }
            if summary_flags.iter().any(|f| {
                f["flag"] == "dismissed_before"
                    && f["line"] == r.line
                    && f["field"] == d.field.as_str()
            }) {
                d.flags.push("dismissed_before");
            }
        }
    }
    let decisions = submission_decision::Entity::find()
        .filter(submission_decision::Column::SubmissionId.eq(id))
        .order_by_asc(submission_decision::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|d| {
            json!({"decision": d.decision, "moderator_id": d.moderator_id, "reason": d.reason,
                "rows": serde_json::from_str::<Value>(&d.rows).unwrap_or(Value::Null),
                "at": d.at, "merged_version": d.merged_version})
        })
        .collect();
    Ok(SubmissionView {
        summary: (&s).into(),
        report: serde_json::from_str(&s.report).unwrap_or(Value::Null),
        rows: out_rows
            .into_iter()
            .map(|(r, proposed, diff)| RowView {
                line: r.line,
                uai: r.uai.clone(),
                status: r.status.clone(),
                reason: r.reason.clone(),
                decision: r.decision.clone(),
                diff,
                proposed,
            })
            .collect(),
        decisions,
    })
}

/// The submissions of a person (and, with `organisation`, of their organisation).
pub async fn list_mine(
    db: &DatabaseConnection,
    actor: &Actor,
    organisation: bool,
) -> AppResult<Vec<SubmissionSummary>> {
    let mut q = submission::Entity::find().order_by_desc(submission::Column::Id);
    q = match (&actor.organisation, organisation) {
        (Some(o), true) => q.filter(submission::Column::OrganisationId.eq(o.id)),
        _ => q.filter(submission::Column::SubmitterId.eq(actor.user_id)),
    };
    Ok(q.all(db).await?.iter().map(Into::into).collect())
}

pub async fn withdraw(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
) -> AppResult<SubmissionSummary> {
    let s = get(db, id).await?;
    if s.submitter_id != actor.user_id {
        return Err(AppError::NotFound(format!("envoi {id} inconnu")));
    }
    if !matches!(s.status.as_str(), "pending" | "changes_requested") {
        return Err(AppError::Conflict(format!(
            "l'envoi {id} ne peut plus être retiré : il est « {} »",
            s.status
        )));
    }
    let txn = db.begin().await?;
    let mut m: submission::ActiveModel = s.into();
    m.status = Set("withdrawn".into());
    let s = m.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        "submission.withdrawn",
        Some(format!("submission:{id}")),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok((&s).into())
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueFilter {
    pub status: Option<String>,
    pub schema: Option<String>,
    /// `LEVEL:CODE`: submissions with a school in it.
    pub territory: Option<String>,
    pub organisation: Option<i64>,
    /// Hours.
    pub older_than: Option<i64>,
}

const POSSIBLE_CONFLICTS: &str = "SELECT DISTINCT ss.submission_id FROM submission_schools ss \
     JOIN submissions sub ON sub.id = ss.submission_id JOIN schools s ON s.uai = ss.uai \
     WHERE sub.status = ? AND s.version > COALESCE(sub.base_version, 0)";

/// Schools of `submission_schools` inside a territory.
fn in_territory(t: &rules::TerritoryRef) -> Condition {
    use submission_school::Column as C;
    let code = t.code.clone();
    match t.level {
        Level::National => Condition::all(),
        Level::Region => Condition::all().add(C::Region.eq(code)),
        Level::Academie => Condition::all().add(C::Academie.eq(code)),
        Level::Departement => Condition::all().add(C::Departement.eq(code)),
        Level::Epci => Condition::all().add(C::Epci.eq(code)),
        Level::Commune => Condition::any()
            .add(C::Commune.eq(code.clone()))
            .add(C::CommuneParent.eq(code)),
    }
}

/// The review queue of a moderator: submissions with a school in their territories (all for
/// an admin), oldest first. One query: the schools' territories were copied at submission.
pub async fn queue(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &QueueFilter,
) -> AppResult<Vec<SubmissionSummary>> {
    if !actor.has(Role::Moderator) && !actor.has(Role::Admin) {
        return Err(AppError::Forbidden(
            "la file de relecture est celle des modérateurs".into(),
        ));
    }
    let territory = match &filter.territory {
        Some(t) => Some(
            t.parse::<rules::TerritoryRef>()
                .map_err(|e| AppError::bad_request("territory", e))?,
        ),
        None => None,
    };
    let mut q = submission::Entity::find()
        .filter(submission::Column::Status.eq(filter.status.clone().unwrap_or("pending".into())))
        .order_by_asc(submission::Column::CreatedAt);
    if let Some(s) = &filter.schema {
        q = q.filter(submission::Column::SchemaName.eq(s.split('@').next().unwrap_or(s)));
    }
    if let Some(o) = filter.organisation {
        q = q.filter(submission::Column::OrganisationId.eq(o));
    }
    if let Some(h) = filter.older_than {
        q = q.filter(submission::Column::CreatedAt.lt(Utc::now() - chrono::Duration::hours(h)));
    }
    let schools_where = |cond: Condition| {
        sea_orm::sea_query::Query::select()
            .column(submission_school::Column::SubmissionId)
            .from(submission_school::Entity)
            .cond_where(cond)
            .to_owned()
    };
    if !actor.has(Role::Admin) {
        let mut mine = Condition::any();
        for t in &actor.moderated_territories {
            mine = mine.add(in_territory(t));
        }
        if actor.moderated_territories.is_empty() {
            return Ok(Vec::new());
        }
        q = q.filter(submission::Column::Id.in_subquery(schools_where(mine)));
    }
    if let Some(t) = &territory {
        q = q.filter(submission::Column::Id.in_subquery(schools_where(in_territory(t))));
    }
    let list = q.all(db).await?;
    // Submissions with a school published anew since their base version may conflict; the
    // diff says which fields. One query for the whole queue.
    let status = filter.status.clone().unwrap_or("pending".into());
    let changed: BTreeSet<i64> = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => POSSIBLE_CONFLICTS.replace('?', "$1"),
                _ => POSSIBLE_CONFLICTS.to_owned(),
            },
            [status.into()],
        ))
        .await?
        .into_iter()
        .filter_map(|r| r.try_get::<i64>("", "submission_id").ok())
        .collect();
    Ok(list
        .iter()
        .map(|s| {
            let mut summary: SubmissionSummary = s.into();
            if changed.contains(&s.id)
                && let Value::Array(flags) = &mut summary.flags
            {
                flags.push(json!({"flag": "possible_conflict"}));
            }
            summary
        })
        .collect())
}

/// A moderator takes a submission, so that two do not review it at once.
pub async fn claim(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
) -> AppResult<SubmissionSummary> {
    let s = get(db, id).await?;
    let rows = rows_of(db, id).await?;
    check_reviewer(db, actor, &s, &rows).await?;
    // A claim expires: after `CLAIM_TTL`, another moderator may take the submission.
    if let (Some(other), Some(at)) = (s.claimed_by, s.claimed_at)
        && other != actor.user_id
        && at + CLAIM_TTL > Utc::now()
    {
        return Err(AppError::Conflict(format!(
            "l'envoi {id} est déjà pris par un autre modérateur, jusqu'au {} UTC",
            (at + CLAIM_TTL).format("%d/%m/%Y à %H:%M")
        )));
    }
    let mut m: submission::ActiveModel = s.into();
    m.claimed_by = Set(Some(actor.user_id));
    m.claimed_at = Set(Some(Utc::now()));
    let s = m.update(db).await?;
    audit::record(
        db,
        ctx,
        "submission.claimed",
        Some(format!("submission:{id}")),
        json!({}),
    )
    .await?;
    Ok((&s).into())
}

/// A moderator of the submission's schools, from another organisation (four eyes).
async fn check_reviewer(
    db: &DatabaseConnection,
    actor: &Actor,
    s: &submission::Model,
    rows: &[submission_row::Model],
) -> AppResult<HashMap<String, SchoolFacts>> {
    if !actor.has(Role::Moderator) && !actor.has(Role::Admin) {
        return Err(AppError::Forbidden(
            "seuls les modérateurs décident des envois".into(),
        ));
    }
    if s.submitter_id == actor.user_id
        || matches!((&actor.organisation, s.organisation_id), (Some(mine), Some(theirs)) if mine.id == theirs)
    {
        return Err(AppError::Forbidden(
            "quatre yeux : personne ne relit un envoi de sa propre organisation".into(),
        ));
    }
    let schools = schools_of(db, rows).await?;
    if !actor.has(Role::Admin) && !schools.values().any(|f| rules::moderates(actor, f)) {
        return Err(AppError::Forbidden(
            "aucun établissement de cet envoi n'est dans vos territoires de modération".into(),
        ));
    }
    Ok(schools)
}

#[derive(Debug, Deserialize)]
pub struct DecisionInput {
    /// `accept`, `reject` or `request_changes`.
    pub decision: String,
    /// Line numbers to accept; absent: every proposed row.
    pub rows: Option<Vec<i64>>,
    /// For some rows, only these fields.
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub reason: String,
    /// When published values changed since the submission's base version: `take_proposed`
    /// or `keep_published`. Required then; the decision is refused (409) without it.
    pub conflicts: Option<String>,
}

/// What kind of change a proposed field makes, for deciding alike changes together.
pub fn change_kind(d: &FieldDiff) -> &'static str {
    if d.flags.contains(&"blanks") {
        "blanks"
    } else if d.flags.contains(&"large_change") {
        "large_change"
    } else if d.published.is_none() {
        "adds"
    } else {
        "changes"
    }
}

/// Proposed changes of the same field and the same kind, across the rows of a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeGroup {
    pub field: String,
    pub kind: &'static str,
    pub lines: Vec<i64>,
}

impl ChangeGroup {
    /// How a form names it.
    pub fn key(&self) -> String {
        format!("{}|{}", self.field, self.kind)
    }
}

/// The groups of alike changes among the proposed rows (two rows or more each).
pub fn change_groups(rows: &[RowView]) -> Vec<ChangeGroup> {
    let mut groups: BTreeMap<(String, &'static str), Vec<i64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "proposed") {
        for d in &r.diff {
            groups
                .entry((d.field.clone(), change_kind(d)))
                .or_default()
                .push(r.line);
        }
    }
    groups
        .into_iter()
        .filter(|(_, lines)| lines.len() >= 2)
        .map(|((field, kind), lines)| ChangeGroup { field, kind, lines })
        .collect()
}

/// The rows to accept, and for some of them (by line) only these fields: a
/// [`DecisionInput`]'s `rows` and `fields`.
pub type Acceptance = (Vec<i64>, BTreeMap<String, Vec<String>>);

/// A decision taken group by group: each group accepted or not, with exceptions (lines
/// where the other answer holds); changes in no group are accepted. Gives the rows and
/// fields to accept, or `None` when nothing is left to accept.
pub fn accept_by_groups(
    rows: &[RowView],
    accepted: &BTreeMap<String, bool>,
    exceptions: &BTreeSet<(String, i64)>,
) -> Option<Acceptance> {
    let groups = change_groups(rows);
    let mut lines = Vec::new();
    let mut fields = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "proposed") {
        let kept: Vec<String> = r
            .diff
            .iter()
            .filter(|d| {
                let group = groups.iter().find(|g| {
                    g.field == d.field && g.kind == change_kind(d) && g.lines.contains(&r.line)
                });
                match group {
                    None => true,
                    Some(g) => {
                        let yes = accepted.get(&g.key()).copied().unwrap_or(true);
                        yes != exceptions.contains(&(g.key(), r.line))
                    }
                }
            })
            .map(|d| d.field.clone())
            .collect();
        if kept.is_empty() && !r.diff.is_empty() {
            continue;
        }
        if kept.len() < r.diff.len() {
            fields.insert(r.line.to_string(), kept);
        }
        lines.push(r.line);
    }
    (!lines.is_empty()).then_some((lines, fields))
}

#[derive(Debug, Serialize)]
pub struct DecisionOutcome {
    pub submission: SubmissionSummary,
    pub accepted_rows: Vec<i64>,
    pub merged_version: Option<i32>,
}

/// Accept (all or some rows and fields, merged into a new dataset version), reject or ask for
/// changes; one transaction, recorded with who, when and why.
pub async fn decide(
    db: &DatabaseConnection,
    base_url: &str,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
    input: DecisionInput,
) -> AppResult<DecisionOutcome> {
    let s = get(db, id).await?;
    let rows = rows_of(db, id).await?;
    let schools = check_reviewer(db, actor, &s, &rows).await?;
    if s.status != "pending" {
        return Err(AppError::Conflict(format!(
            "l'envoi {id} est « {} » : il n'attend pas de décision",
            s.status
        )));
    }
    let decision = input.decision.as_str();
    if !matches!(decision, "accept" | "reject" | "request_changes") {
        return Err(AppError::bad_request(
            "decision",
            format!("« {decision} » : attendu accept, reject ou request_changes"),
        ));
    }
    if decision != "accept" && input.reason.trim().is_empty() {
        return Err(AppError::bad_request(
            "reason",
            "un refus ou une demande de modification est motivé : la raison est envoyée au contributeur",
        ));
    }
    let proposed: BTreeMap<i64, &submission_row::Model> = rows
        .iter()
        .filter(|r| r.status == "proposed")
        .map(|r| (r.line, r))
        .collect();
    let mut accepted: Vec<i64> = Vec::new();
    if decision == "accept" {
        let wanted: Vec<i64> = input
            .rows
            .clone()
            .unwrap_or_else(|| proposed.keys().copied().collect());
        let mut violations = Vec::new();
        for line in &wanted {
            match proposed.get(line) {
                None => violations.push(crate::error::Violation {
                    pointer: format!("/rows/{line}"),
                    detail: format!("la ligne {line} n'est pas une ligne proposée de cet envoi"),
                }),
                Some(r) => {
                    let f = r.uai.as_ref().and_then(|u| schools.get(u));
                    if !actor.has(Role::Admin) && !f.is_some_and(|f| rules::moderates(actor, f)) {
                        violations.push(crate::error::Violation {
                            pointer: format!("/rows/{line}"),
                            detail: format!(
                                "la ligne {line} ({}) est hors de vos territoires de modération",
                                r.uai.clone().unwrap_or_default()
                            ),
                        });
                    } else {
                        accepted.push(*line);
                    }
                }
            }
        }
        if !violations.is_empty() {
            return Err(AppError::BadRequest {
                title: format!(
                    "{} ligne(s) ne peuvent pas être acceptées",
                    violations.len()
                ),
                violations,
            });
        }
    }

    let accepted_rows: Vec<&submission_row::Model> = accepted
        .iter()
        .filter_map(|l| proposed.get(l).copied())
        .collect();
    let conflicts = if decision == "accept" {
        conflicts_of(db, &s, &accepted_rows).await?
    } else {
        Vec::new()
    };
    let keep_published = match (conflicts.is_empty(), input.conflicts.as_deref()) {
        (true, _) => false,
        (false, Some("take_proposed")) => false,
        (false, Some("keep_published")) => true,
        (false, other) => {
            let list: Vec<String> = conflicts
                .iter()
                .map(|c| {
                    format!(
                        "ligne {} ({}), {} : {} à la base de l'envoi, {} publié depuis, {} proposé",
                        c.line,
                        c.uai,
                        c.field,
                        c.at_base.as_ref().map_or("vide".into(), Value::to_string),
                        c.published.as_ref().map_or("vide".into(), Value::to_string),
                        c.proposed
                    )
                })
                .collect();
            return Err(AppError::Conflict(format!(
                "{}des valeurs ont changé depuis l'envoi : choisissez \"conflicts\": \
                 \"take_proposed\" ou \"keep_published\" — {}",
                other
                    .map(|o| format!("« {o} » n'est pas un choix ; "))
                    .unwrap_or_default(),
                list.join(" ; ")
            )));
        }
    };
    let txn = db.begin().await?;
    // Taken again inside the transaction: of two moderators deciding at once, one wins.
    let taken = submission::Entity::update_many()
        .col_expr(
            submission::Column::Status,
            sea_orm::sea_query::Expr::value("deciding"),
        )
        .filter(submission::Column::Id.eq(id))
        .filter(submission::Column::Status.eq("pending"))
        .exec(&txn)
        .await?
        .rows_affected;
    if taken != 1 {
        return Err(AppError::Conflict(format!(
            "l'envoi {id} vient d'être décidé par quelqu'un d'autre"
        )));
    }
    let mut merged_version = None;
    if decision == "accept" && !accepted.is_empty() {
        let catalog = Catalog::get();
        let millesime = Utc::now().date_naive().format("%Y-%m-%d").to_string();
        let mut observations = Vec::new();
        for line in &accepted {
            let r = proposed[line];
            let Some(uai) = r.uai.as_ref().and_then(|u| Uai::parse(u).ok()) else {
                continue;
            };
            let values: BTreeMap<String, Value> =
                serde_json::from_str(&r.proposed).map_err(AppError::internal)?;
            let only = input.fields.get(&line.to_string());
            let values: Vec<(&'static str, Value)> = values
                .into_iter()
                .filter(|(f, _)| only.is_none_or(|o| o.contains(f)))
                .filter(|(f, _)| {
                    !keep_published || !conflicts.iter().any(|c| c.line == *line && &c.field == f)
                })
                .filter_map(|(f, v)| catalog.field(&f).map(|field| (field.name, v)))
                .collect();
            if values.is_empty() {
                continue;
            }
            observations.push(SchoolObservation {
                uai,
                millesime: Some(millesime.clone()),
                values,
                raw: Vec::new(),
            });
        }
        let outcome = datasets::publish(
            &txn,
            &Publication {
                source: "contribution".into(),
                import_id: None,
                submission_id: Some(id),
                kind: "merge".into(),
                summary: format!(
                    "envoi {id} ({}@v{}, {}) : {} ligne(s) acceptée(s)",
                    s.schema_name,
                    s.schema_version,
                    s.file_name,
                    accepted.len()
                ),
            },
            observations,
        )
        .await?;
        merged_version = outcome.version;
        crate::services::experimentations::publish(
            &txn,
            &s,
            accepted.iter().filter_map(|l| proposed.get(l).copied()),
        )
        .await?;
        for chunk in accepted.chunks(500) {
            submission_row::Entity::update_many()
                .col_expr(
                    submission_row::Column::Decision,
                    sea_orm::sea_query::Expr::value("accepted"),
                )
                .filter(submission_row::Column::SubmissionId.eq(id))
                .filter(submission_row::Column::Line.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    if decision == "reject" {
        use crate::entities::dismissed_proposal;
        let mut dismissed = Vec::new();
        for r in proposed.values() {
            let Some(uai) = &r.uai else { continue };
            let values: BTreeMap<String, Value> =
                serde_json::from_str(&r.proposed).unwrap_or_default();
            for (field, value) in values.into_iter().filter(|(f, _)| !f.starts_with('$')) {
                dismissed.push(dismissed_proposal::ActiveModel {
                    uai: Set(uai.clone()),
                    field: Set(field),
                    value: Set(value.to_string()),
                    submission_id: Set(id),
                    reason: Set(input.reason.trim().to_owned()),
                    at: Set(Utc::now()),
                    ..Default::default()
                });
            }
        }
        for chunk in dismissed.chunks(500) {
            dismissed_proposal::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
    }
    let status = match decision {
        "accept" if accepted.len() == proposed.len() => "accepted",
        "accept" => "partially_accepted",
        "reject" => "rejected",
        _ => "changes_requested",
    };
    let now = Utc::now();
    let recorded = submission_decision::ActiveModel {
        submission_id: Set(id),
        moderator_id: Set(actor.user_id),
        decision: Set(decision.into()),
        reason: Set(input.reason.trim().to_owned()),
        rows: Set(json!(accepted).to_string()),
        fields: Set(json!(input.fields).to_string()),
        merged_version: Set(merged_version),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    notify_decision(&txn, base_url, &s, &recorded, status, accepted.len()).await?;
    let mut m: submission::ActiveModel = s.into();
    m.status = Set(status.into());
    m.decided_at = Set(Some(now));
    m.merged_version = Set(merged_version);
    let s = m.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        &format!("submission.{status}"),
        Some(format!("submission:{id}")),
        json!({"decision": decision, "rows": accepted, "reason": input.reason,
            "merged_version": merged_version}),
    )
    .await?;
    txn.commit().await?;
    Ok(DecisionOutcome {
        submission: (&s).into(),
        accepted_rows: accepted,
        merged_version,
    })
}

/// The published records of these schools as of `version` (their latest revision up to it).
async fn records_at<C: sea_orm::ConnectionTrait>(
    db: &C,
    uais: &BTreeSet<String>,
    version: i32,
) -> AppResult<HashMap<String, Value>> {
    use crate::entities::school_revision;
    let mut out: HashMap<String, (i32, Value)> = HashMap::new();
    let list: Vec<String> = uais.iter().cloned().collect();
    for chunk in list.chunks(500) {
        for r in school_revision::Entity::find()
            .filter(school_revision::Column::Uai.is_in(chunk.iter().cloned()))
            .filter(school_revision::Column::Version.lte(version))
            .all(db)
            .await?
        {
            if out.get(&r.uai).is_none_or(|(v, _)| *v < r.version) {
                let data = serde_json::from_str(&r.data).unwrap_or(Value::Null);
                out.insert(r.uai.clone(), (r.version, data));
            }
        }
    }
    Ok(out.into_iter().map(|(u, (_, d))| (u, d)).collect())
}

/// A field whose published value changed after the submission's base version, and that the
/// proposal would overwrite.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub line: i64,
    pub uai: String,
    pub field: String,
    pub at_base: Option<Value>,
    pub published: Option<Value>,
    pub proposed: Value,
}

fn value_of(record: Option<&Value>, field: &str) -> Option<Value> {
    record
        .and_then(|r| r.get(field))
        .and_then(|v| v.get(0))
        .filter(|v| !v.is_null())
        .cloned()
}

async fn conflicts_of(
    db: &DatabaseConnection,
    s: &submission::Model,
    rows: &[&submission_row::Model],
) -> AppResult<Vec<Conflict>> {
    let (Some(base), Some(latest)) = (s.base_version, datasets::latest_version(db).await?) else {
        return Ok(Vec::new());
    };
    if latest <= base {
        return Ok(Vec::new());
    }
    let uais: BTreeSet<String> = rows.iter().filter_map(|r| r.uai.clone()).collect();
    let then = records_at(db, &uais, base).await?;
    let now: HashMap<String, Value> = datasets::current_records(db, uais.iter().cloned())
        .await?
        .into_iter()
        .filter_map(|(u, r)| serde_json::from_str(&r.data).ok().map(|d| (u, d)))
        .collect();
    let mut out = Vec::new();
    for r in rows {
        let Some(uai) = &r.uai else { continue };
        let proposed: BTreeMap<String, Value> =
            serde_json::from_str(&r.proposed).unwrap_or_default();
        for (field, new) in proposed.into_iter().filter(|(f, _)| !f.starts_with('$')) {
            let at_base = value_of(then.get(uai), &field);
            let published = value_of(now.get(uai), &field);
            let changed_since = match (&at_base, &published) {
                (Some(a), Some(b)) => !same(a, b),
                (None, None) => false,
                _ => true,
            };
            if changed_since && published.as_ref().is_none_or(|p| !same(p, &new)) {
                out.push(Conflict {
                    line: r.line,
                    uai: uai.clone(),
                    field,
                    at_base,
                    published,
                    proposed: new,
                });
            }
        }
    }
    Ok(out)
}

/// Earlier rejections of the same (school, field, value), for the rows of a new submission.
async fn dismissed_before<C: sea_orm::ConnectionTrait>(
    db: &C,
    proposals: &[(i64, String, BTreeMap<String, Value>)],
) -> AppResult<Vec<Value>> {
    use crate::entities::dismissed_proposal;
    let uais: BTreeSet<String> = proposals.iter().map(|(_, u, _)| u.clone()).collect();
    let list: Vec<String> = uais.into_iter().collect();
    let mut known: HashMap<(String, String, String), dismissed_proposal::Model> = HashMap::new();
    for chunk in list.chunks(500) {
        for d in dismissed_proposal::Entity::find()
            .filter(dismissed_proposal::Column::Uai.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            known.insert((d.uai.clone(), d.field.clone(), d.value.clone()), d);
        }
    }
    let mut out = Vec::new();
    for (line, uai, values) in proposals {
        for (field, value) in values {
            if let Some(d) = known.get(&(uai.clone(), field.clone(), value.to_string())) {
                out.push(json!({
                    "flag": "dismissed_before", "line": line, "uai": uai, "field": field,
                    "value": value, "submission": d.submission_id, "reason": d.reason,
                    "at": d.at,
                }));
            }
        }
    }
    Ok(out)
}

/// An admin undoes a merged submission: a new version puts back the values it replaced
/// (where they were not replaced again since); the submission becomes `reverted`.
pub async fn revert(
    db: &DatabaseConnection,
    base_url: &str,
    ctx: &audit::Context,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> AppResult<DecisionOutcome> {
    if !actor.has(Role::Admin) {
        return Err(AppError::Forbidden(
            "seul un administrateur annule une publication".into(),
        ));
    }
    if reason.trim().is_empty() {
        return Err(AppError::bad_request(
            "reason",
            "une annulation est motivée : la raison est envoyée au contributeur",
        ));
    }
    let s = get(db, id).await?;
    let Some(merged) = s.merged_version else {
        return Err(AppError::Conflict(format!(
            "l'envoi {id} n'a rien publié (« {} ») : rien à annuler",
            s.status
        )));
    };
    if s.status == "reverted" {
        return Err(AppError::Conflict(format!("l'envoi {id} est déjà annulé")));
    }
    let txn = db.begin().await?;
    let outcome = datasets::revert_submission(
        &txn,
        &Publication {
            source: "contribution".into(),
            import_id: None,
            submission_id: Some(id),
            kind: "revert".into(),
            summary: format!(
                "annulation de l'envoi {id} (version {merged}) : {}",
                reason.trim()
            ),
        },
        id,
        merged,
    )
    .await?;
    let now = Utc::now();
    let recorded = submission_decision::ActiveModel {
        submission_id: Set(id),
        moderator_id: Set(actor.user_id),
        decision: Set("revert".into()),
        reason: Set(reason.trim().to_owned()),
        rows: Set("[]".into()),
        fields: Set("{}".into()),
        merged_version: Set(outcome.version),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut m: submission::ActiveModel = s.into();
    m.status = Set("reverted".into());
    let s = m.update(&txn).await?;
    notify_decision(&txn, base_url, &s, &recorded, "reverted", 0).await?;
    audit::record(
        &txn,
        ctx,
        "submission.reverted",
        Some(format!("submission:{id}")),
        json!({"merged_version": merged, "revert_version": outcome.version, "reason": reason}),
    )
    .await?;
    txn.commit().await?;
    Ok(DecisionOutcome {
        submission: (&s).into(),
        accepted_rows: Vec::new(),
        merged_version: outcome.version,
    })
}

/// Where the submitter follows a submission: their page of reports for a `signalement`, the
/// submission itself otherwise.
fn link(base_url: &str, id: i64) -> String {
    format!("{}/api/v1/submissions/{id}", base_url.trim_end_matches('/'))
}

fn submitter_link(base_url: &str, s: &submission::Model) -> String {
    if s.schema_name == "signalement" {
        format!("{}/mes-signalements", base_url.trim_end_matches('/'))
    } else {
        link(base_url, s.id)
    }
}

/// Where a moderator reviews a submission: its page on the moderation desk.
fn review_link(base_url: &str, id: i64) -> String {
    format!("{}/moderation/{id}", base_url.trim_end_matches('/'))
}

/// The submitter learns the result of the checks; the moderators of the schools' territories
/// who want every submission at once learn there is one to review.
async fn notify_received<C: sea_orm::ConnectionTrait>(
    txn: &C,
    base_url: &str,
    actor: &Actor,
    s: &submission::Model,
    touched: &BTreeSet<String>,
    facts: &HashMap<String, SchoolFacts>,
) -> AppResult<()> {
    let submitter = crate::entities::user::Entity::find_by_id(actor.user_id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::internal("submitter vanished"))?;
    let next = if s.status == "pending" {
        "Les lignes proposées attendent la relecture d'un modérateur de leur territoire ; vous \
         recevrez un e-mail à sa décision."
    } else {
        "Aucune ligne ne peut être relue : corrigez le fichier et envoyez-le de nouveau."
    };
    outbox::enqueue(
        txn,
        &format!("submission:{}:received", s.id),
        &submitter.email,
        &format!("Envoi n° {} reçu : {}", s.id, s.file_name),
        format!(
            "Bonjour,\n\nVotre envoi n° {id} ({file}, schéma {schema}@v{v}) a été vérifié :\n\n\
             - {proposed} ligne(s) proposée(s) à la relecture ;\n\
             - {invalid} ligne(s) à corriger (voir le rapport) ;\n\
             - {refused} ligne(s) hors de la compétence de votre organisation.\n\n{next}\n\n\
             Le détail, ligne par ligne : {link}\n\n-- \neCarto contributions\n",
            id = s.id,
            file = s.file_name,
            schema = s.schema_name,
            v = s.schema_version,
            proposed = s.rows_proposed,
            invalid = s.rows_invalid,
            refused = s.rows_refused,
            link = submitter_link(base_url, s),
        ),
    )
    .await?;
    if s.status != "pending" {
        return Ok(());
    }
    for (moderator, email) in moderators_of(txn, touched, facts, false).await? {
        outbox::enqueue(
            txn,
            &format!("submission:{}:moderator:{moderator}", s.id),
            &email,
            &format!("À relire : envoi n° {} ({})", s.id, s.schema_name),
            format!(
                "Bonjour,\n\nUn nouvel envoi attend votre relecture : n° {id}, {file}, schéma \
                 {schema}@v{v}, {proposed} ligne(s) proposée(s) pour des établissements de vos \
                 territoires.\n\n{link}\n\nVous pouvez choisir de recevoir plutôt un résumé \
                 quotidien.\n\n-- \neCarto contributions\n",
                id = s.id,
                file = s.file_name,
                schema = s.schema_name,
                v = s.schema_version,
                proposed = s.rows_proposed,
                link = review_link(base_url, s.id),
            ),
        )
        .await?;
    }
    Ok(())
}

/// Moderators (id, address) whose territories hold one of the schools, by preference.
async fn moderators_of<C: sea_orm::ConnectionTrait>(
    db: &C,
    touched: &BTreeSet<String>,
    facts: &HashMap<String, SchoolFacts>,
    daily_digest: bool,
) -> AppResult<Vec<(i64, String)>> {
    use crate::entities::{moderator_territory, user, user_role};
    let ids: Vec<i64> = user_role::Entity::find()
        .filter(user_role::Column::Role.eq(Role::Moderator.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.clone()))
        .filter(user::Column::Disabled.eq(false))
        .filter(user::Column::DailyDigest.eq(daily_digest))
        .all(db)
        .await?;
    // Every moderator's territories in one query, not one per moderator.
    let mut territories: HashMap<i64, Vec<rules::TerritoryRef>> = HashMap::new();
    for t in moderator_territory::Entity::find()
        .filter(moderator_territory::Column::UserId.is_in(ids))
        .all(db)
        .await?
    {
        if let Ok(level) = t.level.parse() {
            territories
                .entry(t.user_id)
                .or_default()
                .push(rules::TerritoryRef::new(level, t.code));
        }
    }
    let mut out = Vec::new();
    for u in users {
        let theirs = territories
            .get(&u.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let concerned = touched
            .iter()
            .filter_map(|uai| facts.get(uai))
            .any(|f| theirs.iter().any(|t| f.is_in(t)));
        if concerned {
            out.push((u.id, u.email));
        }
    }
    Ok(out)
}

async fn notify_decision<C: sea_orm::ConnectionTrait>(
    txn: &C,
    base_url: &str,
    s: &submission::Model,
    d: &submission_decision::Model,
    status: &str,
    accepted: usize,
) -> AppResult<()> {
    let submitter = crate::entities::user::Entity::find_by_id(s.submitter_id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::internal("submitter vanished"))?;
    let what = match status {
        "accepted" => format!("a été acceptée : ses {accepted} ligne(s) proposée(s) sont publiées"),
        "partially_accepted" => format!(
            "a été acceptée en partie : {accepted} ligne(s) sur {} sont publiées",
            s.rows_proposed
        ),
        "rejected" => "a été refusée".to_owned(),
        "reverted" => "a été annulée par un administrateur : les valeurs qu'elle avait \
                       remplacées sont publiées de nouveau"
            .to_owned(),
        _ => "appelle des modifications de votre part".to_owned(),
    };
    let version = d
        .merged_version
        .map(|v| format!("\nVersion publiée du jeu de données : {v}.\n"))
        .unwrap_or_default();
    let reason = if d.reason.is_empty() {
        String::new()
    } else {
        format!("\nMotif du modérateur :\n\n{}\n", d.reason)
    };
    outbox::enqueue(
        txn,
        &format!("submission:{}:decision:{}", s.id, d.id),
        &submitter.email,
        &format!("Envoi n° {} : décision du modérateur", s.id),
        format!(
            "Bonjour,\n\nVotre envoi n° {id} ({file}) {what}.\n{reason}{version}\nLe détail : \
             {link}\n\n-- \neCarto contributions\n",
            id = s.id,
            file = s.file_name,
            link = submitter_link(base_url, s),
        ),
    )
    .await?;
    Ok(())
}

/// One e-mail a day to each moderator who prefers it: the submissions of the last 24 hours
/// still waiting in their territories.
pub async fn daily_digest(db: &DatabaseConnection, base_url: &str) -> AppResult<u64> {
    let since = Utc::now() - chrono::Duration::hours(24);
    let recent = submission::Entity::find()
        .filter(submission::Column::Status.eq("pending"))
        .filter(submission::Column::CreatedAt.gte(since))
        .order_by_asc(submission::Column::Id)
        .all(db)
        .await?;
    if recent.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = recent.iter().map(|s| s.id).collect();
    let schools = submission_school::Entity::find()
        .filter(submission_school::Column::SubmissionId.is_in(ids))
        .all(db)
        .await?;
    let facts_of = |s: &submission_school::Model| SchoolFacts {
        uai: s.uai.clone(),
        commune: s.commune.clone(),
        commune_parent: s.commune_parent.clone(),
        epci: s.epci.clone(),
        departement: s.departement.clone(),
        academie: s.academie.clone(),
        region: s.region.clone(),
        ..Default::default()
    };
    let facts: HashMap<String, SchoolFacts> = schools
        .iter()
        .map(|s| (format!("{}/{}", s.submission_id, s.uai), facts_of(s)))
        .collect();
    let all: BTreeSet<String> = facts.keys().cloned().collect();
    let day = Utc::now().date_naive();
    let mut sent = 0;
    for (moderator, email) in moderators_of(db, &all, &facts, true).await? {
        let territories = crate::services::users::moderated_territories(db, moderator).await?;
        let mine: Vec<&submission::Model> = recent
            .iter()
            .filter(|s| {
                schools.iter().any(|sc| {
                    sc.submission_id == s.id && territories.iter().any(|t| facts_of(sc).is_in(t))
                })
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let lines: Vec<String> = mine
            .iter()
            .map(|s| {
                format!(
                    "- n° {} — {} ({}), {} ligne(s) : {}",
                    s.id,
                    s.file_name,
                    s.schema_name,
                    s.rows_proposed,
                    review_link(base_url, s.id)
                )
            })
            .collect();
        outbox::enqueue(
            db,
            &format!("digest:{moderator}:{day}"),
            &email,
            &format!("eCarto : {} envoi(s) à relire", mine.len()),
            format!(
                "Bonjour,\n\nEnvois reçus ces dernières 24 heures pour vos territoires :\n\n{}\n\n\
                 -- \neCarto contributions\n",
                lines.join("\n")
            ),
        )
        .await?;
        sent += 1;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: i64, diffs: &[(&str, Option<i64>, i64)]) -> RowView {
        RowView {
            line,
            uai: Some(format!("035000{line}X")),
            status: "proposed".into(),
            reason: None,
            proposed: Value::Null,
            decision: None,
            diff: diffs
                .iter()
                .map(|(field, old, new)| FieldDiff {
                    field: (*field).into(),
                    published: old.map(Value::from),
                    published_provenance: None,
                    proposed: Value::from(*new),
                    flags: match old {
                        Some(o) if *o > 0 && (*new / *o >= 10) => vec!["large_change"],
                        _ => vec![],
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn alike_changes_are_decided_together_with_exceptions() {
        let rows = vec![
            row(2, &[("nb_terminaux", None, 40), ("nb_tni", Some(2), 3)]),
            row(3, &[("nb_terminaux", None, 50), ("nb_tni", Some(1), 30)]),
            row(4, &[("nb_terminaux", None, 60), ("nb_tni", Some(4), 5)]),
        ];
        let groups = change_groups(&rows);
        assert_eq!(
            groups,
            vec![
                ChangeGroup {
                    field: "nb_terminaux".into(),
                    kind: "adds",
                    lines: vec![2, 3, 4]
                },
                ChangeGroup {
                    field: "nb_tni".into(),
                    kind: "changes",
                    lines: vec![2, 4]
                },
            ]
        );
        // The additions accepted but for line 3; the changes of nb_tni refused but for line 4;
        // line 3's tenfold nb_tni is in no group: accepted.
        let accepted: BTreeMap<String, bool> = [
            ("nb_terminaux|adds".to_owned(), true),
            ("nb_tni|changes".to_owned(), false),
        ]
        .into();
        let exceptions: BTreeSet<(String, i64)> = [
            ("nb_terminaux|adds".to_owned(), 3),
            ("nb_tni|changes".to_owned(), 4),
        ]
        .into();
        let (lines, fields) = accept_by_groups(&rows, &accepted, &exceptions).unwrap();
        assert_eq!(lines, vec![2, 3, 4]);
        assert_eq!(fields["2"], vec!["nb_terminaux".to_owned()]);
        assert_eq!(fields["3"], vec!["nb_tni".to_owned()]);
        assert!(!fields.contains_key("4"), "{fields:?}");
        // Everything refused: nothing to accept.
        let none: BTreeMap<String, bool> = [
            ("nb_terminaux|adds".to_owned(), false),
            ("nb_tni|changes".to_owned(), false),
        ]
        .into();
        let only_big = vec![rows[0].clone_for_test(), rows[2].clone_for_test()];
        assert!(accept_by_groups(&only_big, &none, &BTreeSet::new()).is_none());
    }

    impl RowView {
        fn clone_for_test(&self) -> RowView {
            RowView {
                line: self.line,
                uai: self.uai.clone(),
                status: self.status.clone(),
                reason: None,
                proposed: self.proposed.clone(),
                decision: None,
                diff: self
                    .diff
                    .iter()
                    .map(|d| FieldDiff {
                        field: d.field.clone(),
                        published: d.published.clone(),
                        published_provenance: None,
                        proposed: d.proposed.clone(),
                        flags: d.flags.clone(),
                    })
                    .collect(),
            }
        }
    }
}
