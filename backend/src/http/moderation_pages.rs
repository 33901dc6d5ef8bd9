//! The moderation desk: the queue of a moderator's territories (oldest first, with its flags
//! in words and who holds each submission), a submission's page with the diff of every row
//! and field against the published values and their provenance, and the decision: accept all,
//! some rows or some fields, reject or ask for changes with a reason. Every rule (who may
//! review, four eyes, territories, conflicts, the merge) is `services::submissions`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::{
    Router,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::Utc;
use ecarto_contrib_schemas::Registry;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    auth::{Caller, OptionalCaller},
    report_pages::status_label,
    ui::{self, PageError, page},
};
use crate::{
    app::AppState,
    domain::{catalog::Catalog, competence::Role, display},
    entities::{organisation, submission_decision, user},
    error::AppError,
    services::submissions::{self, DecisionInput, QueueFilter, SubmissionSummary},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/moderation", get(queue))
        .route("/moderation/{id}", get(submission))
        .route("/moderation/{id}/prendre", post(claim))
        .route("/moderation/{id}/decision", post(decide))
        .route("/moderation/{id}/groupes", post(decide_groups))
}

/// The reasons moderators give most, offered as choices (a typed one may replace them).
const REASONS: &[&str] = &[
    "Valeur confirmée par l'établissement ou la collectivité",
    "Source insuffisante : merci de joindre un lien ou un document",
    "La valeur publiée est plus récente que la proposition",
    "Valeur incohérente avec les autres données de l'établissement",
    "Merci de préciser la date à laquelle la valeur a été constatée",
    "Doublon d'un envoi déjà relu",
];

/// The signed-in moderator, or where to go instead.
fn moderator(caller: OptionalCaller, here: &str) -> Result<Caller, Box<Response>> {
    ui::gate(
        caller,
        here,
        &[Role::Moderator, Role::Admin],
        "la relecture est réservée aux modérateurs : un administrateur vous donne ce rôle et vos territoires",
    )
}

/// A flag of a submission or of a field, in words.
fn flag_words(flag: &Value) -> String {
    match flag["flag"].as_str().or(flag.as_str()).unwrap_or("") {
        "mass_change" => format!(
            "Changement massif : l'envoi modifierait {} des valeurs publiées qu'il touche, au-delà du seuil de {}",
            display::percent(flag["share"].as_f64()),
            display::percent(flag["threshold"].as_f64())
        ),
        "possible_conflict" => "Conflit possible : un établissement de l'envoi a été publié de nouveau depuis sa préparation".to_owned(),
        "dismissed_before" => format!(
            "Déjà refusé : la même proposition (ligne {}, {}) a été refusée par un envoi antérieur{}",
            flag["line"],
            flag["field"].as_str().unwrap_or(""),
            flag["reason"].as_str().map(|r| format!(" (« {r} »)")).unwrap_or_default()
        ),
        "blanks" => "Efface une valeur publiée".to_owned(),
        "large_change" => "Grand écart : la proposition multiplie ou divise par 10 ou plus la valeur publiée".to_owned(),
        "more_recent_published" => "Une autre source a publié cette valeur après la date dont parle la ligne".to_owned(),
        "conflict" => "Conflit : la valeur publiée a changé depuis la préparation de l'envoi ; choisissez laquelle garder".to_owned(),
        other => other.to_owned(),
    }
}

/// A kind of change (`services::submissions::change_kind`), in words.
fn kind_words(kind: &str) -> &'static str {
    match kind {
        "adds" => "ajout d'une valeur non communiquée",
        "blanks" => "effacement d'une valeur publiée",
        "large_change" => "grand écart (la valeur est multipliée ou divisée par 10 ou plus)",
        _ => "modification d'une valeur publiée",
    }
}

fn schema_title(spec: &str) -> String {
    Registry::embedded()
        .resolve(spec)
        .map_or_else(|_| spec.to_owned(), |s| s.title.clone())
}

fn age(hours: i64) -> String {
    match hours {
        h if h < 1 => "moins d'une heure".to_owned(),
        h if h < 48 => format!("{h} h"),
        h => format!("{} jours", h / 24),
    }
}

async fn names(
    state: &AppState,
    users: BTreeSet<i64>,
    orgs: BTreeSet<i64>,
) -> Result<(HashMap<i64, String>, HashMap<i64, String>), AppError> {
    let users = if users.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(users))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name.unwrap_or(u.email)))
            .collect()
    };
    let orgs = if orgs.is_empty() {
        HashMap::new()
    } else {
        organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(orgs))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect()
    };
    Ok((users, orgs))
}

#[derive(Deserialize, Default)]
struct QueueParams {
    statut: Option<String>,
    schema: Option<String>,
    territoire: Option<String>,
    anciennete: Option<String>,
    fait: Option<String>,
}

#[derive(Serialize)]
struct QueueRow {
    id: i64,
    kind: String,
    from: String,
    date: String,
    age: String,
    rows: i64,
    flags: Vec<String>,
    claimed: Option<String>,
}

async fn queue(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(p): Query<QueueParams>,
) -> Result<Response, PageError> {
    let caller = match moderator(caller, "/moderation") {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let nonempty = |v: &Option<String>| v.clone().filter(|x| !x.trim().is_empty());
    let older_than = match nonempty(&p.anciennete) {
        Some(h) => Some(h.trim().parse::<i64>().map_err(|_| {
            AppError::bad_request(
                "anciennete",
                format!("« {h} » : attendu un nombre d'heures"),
            )
        })?),
        None => None,
    };
    let filter = QueueFilter {
        status: nonempty(&p.statut),
        schema: nonempty(&p.schema),
        territory: nonempty(&p.territoire),
        organisation: None,
        older_than,
    };
    let filtered = filter.status.is_some()
        || filter.schema.is_some()
        || filter.territory.is_some()
        || filter.older_than.is_some();
    let list = submissions::queue(&state.db, &caller.actor, &filter).await?;
    // The statistics are the pending queue's: the list itself unless a filter narrowed it.
    let unfiltered;
    let pending = if filtered {
        unfiltered = submissions::queue(&state.db, &caller.actor, &QueueFilter::default()).await?;
        &unfiltered
    } else {
        &list
    };
    let mut ages: Vec<i64> = pending.iter().map(|s| s.age_hours).collect();
    ages.sort_unstable();
    let median = ages.get(ages.len() / 2).copied();
    let decided_week = submission_decision::Entity::find()
        .filter(submission_decision::Column::ModeratorId.eq(caller.user.id))
        .filter(submission_decision::Column::At.gte(Utc::now() - chrono::Duration::days(7)))
        .count(&state.db)
        .await
        .map_err(AppError::from)?;
    let (users, orgs) = names(
        &state,
        list.iter().filter_map(|s| s.claimed_by).collect(),
        list.iter().filter_map(|s| s.organisation_id).collect(),
    )
    .await?;
    let rows: Vec<QueueRow> = list
        .iter()
        .map(|s| QueueRow {
            id: s.id,
            kind: schema_title(&s.schema),
            from: s
                .organisation_id
                .and_then(|o| orgs.get(&o).cloned())
                .unwrap_or_else(|| "Bêta-testeur".to_owned()),
            date: s.created_at.format("%d/%m/%Y").to_string(),
            age: age(s.age_hours),
            rows: s.rows_proposed,
            flags: s
                .flags
                .as_array()
                .map(|f| f.iter().map(flag_words).collect())
                .unwrap_or_default(),
            claimed: s.claimed_by.map(|u| {
                if u == caller.user.id {
                    "vous".to_owned()
                } else {
                    users
                        .get(&u)
                        .cloned()
                        .unwrap_or_else(|| format!("modérateur n° {u}"))
                }
            }),
        })
        .collect();
    let schemas: Vec<Value> = Registry::embedded()
        .latest()
        .map(|s| serde_json::json!({"code": s.name, "label": s.title}))
        .collect();
    Ok(page(
        "moderation_queue.html",
        "/moderation",
        serde_json::json!({
            "rows": rows,
            "stats": {
                "pending": pending.len(),
                "median_age": median.map(age),
                "decided_week": decided_week,
            },
            "territories": caller.actor.moderated_territories.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "admin": caller.actor.has(Role::Admin),
            "schemas": schemas,
            "filter": {
                "statut": p.statut, "schema": p.schema, "territoire": p.territoire, "anciennete": p.anciennete,
            },
            "done": p.fait,
        }),
    )?
    .into_response())
}

#[derive(Serialize)]
struct FieldShown {
    key: String,
    label: String,
    published: String,
    provenance: String,
    proposed: String,
    flags: Vec<String>,
    conflict: bool,
}

#[derive(Serialize)]
struct RowShown {
    line: i64,
    school: String,
    uai: String,
    status: String,
    reason: Option<String>,
    proposed: bool,
    fields: Vec<FieldShown>,
}

async fn submission(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let caller = match moderator(caller, &format!("/moderation/{id}")) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let view = submissions::view(&state.db, &caller.actor, id).await?;
    let catalog = Catalog::get();
    let s: &SubmissionSummary = &view.summary;
    let (users, orgs) = names(
        &state,
        [Some(s.submitter_id), s.claimed_by]
            .into_iter()
            .flatten()
            .collect(),
        s.organisation_id.into_iter().collect(),
    )
    .await?;
    let school_names =
        crate::services::schools::names(&state.db, view.rows.iter().filter_map(|r| r.uai.clone()))
            .await
            .map_err(AppError::from)?;
    let rows: Vec<RowShown> = view
        .rows
        .iter()
        .map(|r| RowShown {
            line: r.line,
            school: r
                .uai
                .as_ref()
                .and_then(|u| school_names.get(u).cloned())
                .unwrap_or_default(),
            uai: r.uai.clone().unwrap_or_default(),
            status: r.status.clone(),
            reason: r.reason.clone(),
            proposed: r.status == "proposed",
            fields: r
                .diff
                .iter()
                .map(|d| FieldShown {
                    key: format!("{}:{}", r.line, d.field),
                    label: catalog
                        .field(&d.field)
                        .map_or(d.field.clone(), |f| f.label_fr.to_owned()),
                    published: display::value_or_missing(&d.field, d.published.as_ref()),
                    provenance: d
                        .published_provenance
                        .as_ref()
                        .map(|p| display::source_and_date(&p.source, p.millesime.as_deref()))
                        .unwrap_or_default(),
                    proposed: display::value(&d.field, &d.proposed),
                    flags: d
                        .flags
                        .iter()
                        .map(|f| flag_words(&Value::from(*f)))
                        .collect(),
                    conflict: d.flags.contains(&"conflict"),
                })
                .collect(),
        })
        .collect();
    let conflicts = rows.iter().flat_map(|r| &r.fields).any(|f| f.conflict);
    let groups: Vec<Value> = submissions::change_groups(&view.rows)
        .iter()
        .enumerate()
        .map(|(i, g)| {
            serde_json::json!({
                "key": g.key(),
                "id": format!("groupe-{i}"),
                "label": catalog.field(&g.field).map_or(g.field.clone(), |f| f.label_fr.to_owned()),
                "kind": kind_words(g.kind),
                "lines": g.lines.iter().map(|l| {
                    let r = rows.iter().find(|r| r.line == *l);
                    serde_json::json!({
                        "line": l,
                        "id": format!("sauf-{i}-{l}"),
                        "school": r.map(|r| if r.school.is_empty() { r.uai.clone() } else { r.school.clone() }),
                        "change": r.and_then(|r| r.fields.iter().find(|f| f.key == format!("{l}:{}", g.field))).map(|f| format!("{} → {}", f.published, f.proposed)),
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let decisions = super::report_pages::decisions_shown(&view.decisions);
    Ok(page(
        "moderation_submission.html",
        "/moderation",
        serde_json::json!({
            "id": s.id,
            "kind": schema_title(&s.schema),
            "file": s.file_name,
            "date": s.created_at.format("%d/%m/%Y à %H:%M").to_string(),
            "submitter": users.get(&s.submitter_id),
            "organisation": s.organisation_id.and_then(|o| orgs.get(&o)),
            "status": status_label(&s.status, s.merged_version),
            "pending": s.status == "pending",
            "claimed": s.claimed_by.map(|u| if u == caller.user.id { "vous".to_owned() } else { users.get(&u).cloned().unwrap_or_default() }),
            "flags": s.flags.as_array().map(|f| f.iter().map(flag_words).collect::<Vec<_>>()).unwrap_or_default(),
            "rows": rows,
            "conflicts": conflicts,
            "groups": groups,
            "reasons": REASONS,
            "decisions": decisions,
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    submissions::claim(&state.db, &caller.audit(), &caller.actor, id).await?;
    Ok(Redirect::to(&format!("/moderation/{id}")).into_response())
}

/// The decision form: `decision` (accept, accept_all, reject, request_changes), the checked
/// rows (`row`), the checked fields (`field` = `LINE:FIELD`), a reason chosen or typed, and
/// for conflicts which value to keep.
async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::bad_request("formulaire", e.to_string()))?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    let decision = get("decision").unwrap_or_default();
    let typed = get("raison").unwrap_or_default();
    let reason = if typed.is_empty() {
        get("raison_type").unwrap_or_default()
    } else {
        typed
    };
    let view = submissions::view(&state.db, &caller.actor, id).await?;
    let mut input = DecisionInput {
        decision: if decision == "accept_all" {
            "accept".into()
        } else {
            decision.clone()
        },
        rows: None,
        fields: BTreeMap::new(),
        reason,
        conflicts: get("conflits").filter(|c| !c.is_empty()),
    };
    if decision == "accept" {
        let rows: BTreeSet<i64> = pairs
            .iter()
            .filter(|(k, _)| k == "row")
            .filter_map(|(_, v)| v.parse().ok())
            .collect();
        let fields: BTreeSet<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "field")
            .map(|(_, v)| v.as_str())
            .collect();
        if rows.is_empty() {
            return Err(AppError::bad_request(
                "row",
                "cochez au moins une ligne à accepter, ou choisissez « Tout accepter »",
            )
            .into());
        }
        // A row's fields, where some of them only are checked.
        for r in view.rows.iter().filter(|r| rows.contains(&r.line)) {
            let all: Vec<&str> = r.diff.iter().map(|d| d.field.as_str()).collect();
            let kept: Vec<String> = all
                .iter()
                .filter(|f| fields.contains(format!("{}:{f}", r.line).as_str()))
                .map(|f| (*f).to_owned())
                .collect();
            if kept.is_empty() && !all.is_empty() {
                return Err(AppError::bad_request(
                    "field",
                    format!(
                        "ligne {} : cochez au moins un champ, ou décochez la ligne",
                        r.line
                    ),
                )
                .into());
            }
            if kept.len() < all.len() {
                input.fields.insert(r.line.to_string(), kept);
            }
        }
        input.rows = Some(rows.into_iter().collect());
    }
    finish(&state, &caller, id, input).await
}

/// A decision group by group: `groupe:KEY` = `accepter` or `refuser`, and the exceptions
/// `sauf` = `KEY#LINE` (the other answer for that line). What is left is accepted; when
/// nothing is, the submission is refused with the reason.
async fn decide_groups(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::bad_request("formulaire", e.to_string()))?;
    let mut accepted = BTreeMap::new();
    let mut exceptions = BTreeSet::new();
    let mut reason = String::new();
    let mut reason_chosen = String::new();
    let mut conflicts = None;
    for (k, v) in &pairs {
        if let Some(key) = k.strip_prefix("groupe:") {
            accepted.insert(key.to_owned(), v == "accepter");
        } else if k == "sauf" {
            let Some((key, line)) = v.rsplit_once('#') else {
                continue;
            };
            let line = line
                .parse::<i64>()
                .map_err(|_| AppError::bad_request("sauf", format!("« {v} » : ligne illisible")))?;
            exceptions.insert((key.to_owned(), line));
        } else if k == "raison" {
            reason = v.trim().to_owned();
        } else if k == "raison_type" {
            reason_chosen = v.trim().to_owned();
        } else if k == "conflits" && !v.is_empty() {
            conflicts = Some(v.clone());
        }
    }
    if reason.is_empty() {
        reason = reason_chosen;
    }
    let view = submissions::view(&state.db, &caller.actor, id).await?;
    let input = match submissions::accept_by_groups(&view.rows, &accepted, &exceptions) {
        Some((rows, fields)) => DecisionInput {
            decision: "accept".into(),
            rows: Some(rows),
            fields,
            reason,
            conflicts,
        },
        None => DecisionInput {
            decision: "reject".into(),
            rows: None,
            fields: BTreeMap::new(),
            reason,
            conflicts,
        },
    };
    finish(&state, &caller, id, input).await
}

/// Takes the decision and goes back to the queue, saying what became of the submission.
async fn finish(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: DecisionInput,
) -> Result<Response, PageError> {
    let outcome = submissions::decide(
        &state.db,
        &state.config.public_base_url,
        &caller.audit(),
        &caller.actor,
        id,
        input,
    )
    .await?;
    let done = match outcome.merged_version {
        Some(v) => format!(
            "Envoi {id} : {} ; version {v} publiée",
            status_label(&outcome.submission.status, None).to_lowercase()
        ),
        None => format!(
            "Envoi {id} : {}",
            status_label(&outcome.submission.status, None).to_lowercase()
        ),
    };
    Ok(Redirect::to(&format!(
        "/moderation?fait={}",
        serde_urlencoded::to_string([("", done.as_str())])
            .unwrap_or_default()
            .trim_start_matches('=')
    ))
    .into_response())
}
