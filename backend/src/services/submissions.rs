//! Contributions: a file submitted for a schema becomes an immutable submission (its bytes,
//! report, rows and what each row proposes), row by row within the submitter's competence;
//! moderators of the territory decide, and accepted rows are merged into a new version of the
//! published dataset with their provenance.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Utc;
use ecarto_contrib_schemas::{ColumnKind, FieldMapping, Registry, Schema};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    config::ValidationLimits,
    domain::{
        catalog::Catalog,
        competence::{self as rules, Actor, Role, SchoolFacts},
        uai::Uai,
    },
    entities::{submission, submission_decision, submission_file, submission_row},
    error::{AppError, AppResult},
    services::{
        audit, competence,
        datasets::{self, Publication, SchoolObservation},
        provenance, validation as register,
    },
    validation::{self, FileError, Options},
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

/// Receives a file: validated, checked against the register and, row by row, against the
/// submitter's competence; stored whole in one transaction. The same file again (while the
/// first is pending) or the same `Idempotency-Key` gives the first submission back.
pub async fn submit(
    db: &DatabaseConnection,
    limits: &ValidationLimits,
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

    let mut options = Options::new(limits.max_rows);
    options.keep_rows = true;
    let bytes = input.bytes;
    let file_name = input.file_name.clone();
    let schema_ref: &'static Schema = schema;
    let (mut v, bytes) = tokio::task::spawn_blocking(move || {
        let v = validation::validate(schema_ref, &bytes, Some(&file_name), &options);
        (v, bytes)
    })
    .await
    .map_err(AppError::internal)?;
    let v = match v.as_mut() {
        Ok(v) => v,
        Err(e) => return Err(file_error(e.clone())),
    };
    register::check_against_register(db, schema, v, limits.mass_change_share).await?;

    // Row by row: within the submitter's competence, or refused with the reason.
    let scope = competence::schema_scope(&schema.id())?;
    let now = Utc::now();
    let mut facts: HashMap<String, Option<SchoolFacts>> = HashMap::new();
    let mut rows: Vec<submission_row::ActiveModel> = Vec::new();
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
    for (line, (typed, _)) in v.rows.iter().filter(|(l, _)| !invalid.contains(l)) {
        let uais = row_uais(schema, typed);
        let mut reason = None;
        for u in &uais {
            if !facts.contains_key(u) {
                let f = competence::school_facts(db, u).await.ok();
                facts.insert(u.clone(), f);
            }
            let decision = match facts.get(u).and_then(Option::as_ref) {
                Some(f) => rules::can_contribute(actor, f, &scope, now),
                None => continue,
            };
            if !decision.allowed {
                reason = Some(decision.reason);
                break;
            }
        }
        let values = proposed_values(schema, typed);
        let status = if reason.is_some() {
            refused += 1;
            "refused"
        } else {
            proposed += 1;
            "proposed"
        };
        rows.push(submission_row::ActiveModel {
            submission_id: Set(0),
            line: Set(*line as i64),
            uai: Set(uais.first().cloned()),
            status: Set(status.into()),
            reason: Set(reason),
            proposed: Set(serde_json::to_string(&values).map_err(AppError::internal)?),
            decision: Set(None),
        });
    }
    for line in &invalid {
        let notes: Vec<String> = file_errors
            .iter()
            .cloned()
            .chain(v.report.findings_of(*line).map(|f| f.note.clone()))
            .collect();
        rows.push(submission_row::ActiveModel {
            submission_id: Set(0),
            line: Set(*line as i64),
            uai: Set(None),
            status: Set("invalid".into()),
            reason: Set(Some(notes.join(" ; "))),
            proposed: Set("{}".into()),
            decision: Set(None),
        });
    }
    let mut flags = Vec::new();
    if let Some(m) = &v.report.mass_change {
        flags.push(json!({"flag": "mass_change", "share": m.share, "threshold": m.threshold}));
    }
    let base_version = datasets::latest_version(db).await?;
    let status = if proposed > 0 {
        "pending"
    } else {
        "nothing_to_review"
    };

    let txn = db.begin().await?;
    if submission_file::Entity::find_by_id(sha256.clone())
        .one(&txn)
        .await?
        .is_none()
    {
        submission_file::ActiveModel {
            sha256: Set(sha256.clone()),
            size: Set(bytes.len() as i64),
            bytes: Set(bytes),
        }
        .insert(&txn)
        .await?;
    }
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
        rows_invalid: Set(invalid.len() as i64),
        rows_refused: Set(refused),
        flags: Set(Value::Array(flags).to_string()),
        idempotency_key: Set(input.idempotency_key),
        supersedes: Set(input.supersedes),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
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
    let mut out = HashMap::new();
    for u in rows.iter().filter_map(|r| r.uai.clone()) {
        if !out.contains_key(&u)
            && let Ok(f) = competence::school_facts(db, &u).await
        {
            out.insert(u, f);
        }
    }
    Ok(out)
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
    pub claimed_by: Option<i64>,
    pub supersedes: Option<i64>,
    pub merged_version: Option<i32>,
}

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
            claimed_by: s.claimed_by,
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

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// A submission with its rows, report, decisions and the diff against the published values.
pub async fn view(db: &DatabaseConnection, actor: &Actor, id: i64) -> AppResult<SubmissionView> {
    let s = get(db, id).await?;
    let rows = rows_of(db, id).await?;
    if !visible(db, actor, &s, &rows).await? {
        return Err(AppError::NotFound(format!("envoi {id} inconnu")));
    }
    let uais: BTreeSet<String> = rows.iter().filter_map(|r| r.uai.clone()).collect();
    let current = datasets::current_records(db, uais).await?;
    let records: HashMap<String, Value> = current
        .into_iter()
        .filter_map(|(u, r)| serde_json::from_str(&r.data).ok().map(|d| (u, d)))
        .collect();
    let mut provenance_ids = BTreeSet::new();
    let mut out_rows = Vec::new();
    for r in &rows {
        let proposed: Value = serde_json::from_str(&r.proposed).unwrap_or(Value::Null);
        let mut diff = Vec::new();
        if r.status == "proposed"
            && let (Some(obj), Some(record)) = (
                proposed.as_object(),
                r.uai.as_ref().and_then(|u| records.get(u)),
            )
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
        out_rows.push((r, proposed, diff));
    }
    let provenances = provenance::describe(db, provenance_ids).await?;
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
                proposed,
                decision: r.decision.clone(),
                diff: diff
                    .into_iter()
                    .map(|(field, published, pid, proposed, flags)| FieldDiff {
                        field,
                        published,
                        published_provenance: pid.and_then(|p| provenances.get(&p).cloned()),
                        proposed,
                        flags,
                    })
                    .collect(),
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

/// The review queue of a moderator: submissions with a school in their territories (all for
/// an admin), oldest first.
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
    let mut out = Vec::new();
    for s in q.all(db).await? {
        let rows = rows_of(db, s.id).await?;
        let schools = schools_of(db, &rows).await?;
        let mine = actor.has(Role::Admin) || schools.values().any(|f| rules::moderates(actor, f));
        let in_territory = territory
            .as_ref()
            .is_none_or(|t| schools.values().any(|f| f.is_in(t)));
        if mine && in_territory {
            out.push((&s).into());
        }
    }
    Ok(out)
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
    if let Some(other) = s.claimed_by
        && other != actor.user_id
    {
        return Err(AppError::Conflict(format!(
            "l'envoi {id} est déjà pris par un autre modérateur"
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
                .filter_map(|(f, v)| catalog.field(&f).map(|field| (field.name, v)))
                .collect();
            if values.is_empty() {
                continue;
            }
            observations.push(SchoolObservation {
                uai,
                millesime: Some(millesime.clone()),
                values,
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
    let status = match decision {
        "accept" if accepted.len() == proposed.len() => "accepted",
        "accept" => "partially_accepted",
        "reject" => "rejected",
        _ => "changes_requested",
    };
    let now = Utc::now();
    submission_decision::ActiveModel {
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
