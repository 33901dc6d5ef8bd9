//! A beta-tester's pages: report an error on one value of a school (`signalement`), from its
//! page, with a form typed by the field; and « Mes signalements », what became of each.
//! The report is sent as a one-row `signalement` file through the same validation and the
//! same `services::submissions::submit` as the API: no rule of its own here.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use ecarto_contrib_schemas::Registry;
use serde::{Deserialize, Serialize};

use super::{
    auth::{Caller, OptionalCaller},
    public_pages::theme_label,
    ui::{PageError, PageResult, page, sign_in_to},
};
use crate::{
    app::AppState,
    domain::{
        catalog::{Catalog, FieldType, Theme},
        display,
        uai::Uai,
    },
    error::AppError,
    services::{
        schools,
        submissions::{self, NewSubmission},
        validation as register,
    },
    validation::{self, Options},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/etablissements/{uai}/signaler",
            get(report_form).post(report_send),
        )
        .route("/mes-signalements", get(my_reports))
}

const SCHEMA: &str = "signalement";

#[derive(Serialize)]
struct Choice {
    code: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct Group {
    label: &'static str,
    fields: Vec<Choice>,
}

/// The fields a report may name (the schema's list), grouped by theme.
fn field_groups(chosen: Option<&str>) -> Vec<Group> {
    let catalog = Catalog::get();
    let allowed: Vec<String> = Registry::embedded()
        .resolve(SCHEMA)
        .ok()
        .and_then(|s| {
            s.columns
                .iter()
                .find(|c| c.name == "champ")
                .map(|c| c.allowed.clone())
        })
        .unwrap_or_default();
    Theme::ALL
        .iter()
        .map(|theme| Group {
            label: theme_label(*theme),
            fields: catalog
                .fields()
                .iter()
                .filter(|f| f.theme == *theme && allowed.iter().any(|a| a == f.name))
                .map(|f| Choice {
                    code: f.name.to_owned(),
                    label: f.label_fr.to_owned(),
                    selected: chosen == Some(f.name),
                })
                .collect(),
        })
        .filter(|g| !g.fields.is_empty())
        .collect()
}

/// How the value is asked for: a choice list for a coded field, yes/no, a number, a date, or
/// text.
#[derive(Serialize)]
struct Input {
    kind: &'static str,
    choices: Vec<Choice>,
    step: &'static str,
}

fn input_for(field: &str, current: Option<&str>) -> Input {
    let catalog = Catalog::get();
    let f = catalog.field(field);
    let kind = match f.map(|f| f.field_type) {
        Some(FieldType::Enum | FieldType::Band) => "select",
        Some(FieldType::List) if !catalog.choices(field).is_empty() => "checkboxes",
        Some(FieldType::Boolean) => "boolean",
        Some(FieldType::Integer) => "number",
        Some(FieldType::Number) => "decimal",
        Some(FieldType::Date) => "date",
        _ => "text",
    };
    let selected: Vec<&str> = current.map(|c| c.split('|').collect()).unwrap_or_default();
    Input {
        kind,
        choices: catalog
            .choices(field)
            .into_iter()
            .map(|(code, label)| Choice {
                code: code.to_owned(),
                label: label.to_owned(),
                selected: selected.contains(&code),
            })
            .collect(),
        step: if kind == "decimal" { "any" } else { "1" },
    }
}

#[derive(Deserialize, Default)]
struct FormQuery {
    champ: Option<String>,
}

async fn report_form(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Path(raw): Path<String>,
    Query(q): Query<FormQuery>,
) -> Result<Response, PageError> {
    let uai = Uai::parse(&raw).map_err(|e| AppError::bad_request("uai", e.to_string()))?;
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to(&format!(
            "/etablissements/{}/signaler",
            uai.as_str()
        )));
    };
    let values = ReportValues {
        champ: q.champ.unwrap_or_default(),
        ..ReportValues::default()
    };
    Ok(render_form(&state, &caller, &uai, &values, &[])
        .await?
        .into_response())
}

/// What the form holds (sent, or to send again with its errors).
#[derive(Deserialize, Default)]
struct ReportValues {
    #[serde(default)]
    champ: String,
    /// One value, or for a list the checked items (`valeur` repeated).
    #[serde(default)]
    valeur: Vec<String>,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    source_url: String,
}

async fn render_form(
    state: &AppState,
    caller: &Caller,
    uai: &Uai,
    values: &ReportValues,
    errors: &[String],
) -> PageResult {
    let detail = schools::get(&state.db, uai)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("aucun établissement {uai} n'est publié")))?;
    let catalog = Catalog::get();
    let field = catalog.field(&values.champ).filter(|f| {
        field_groups(None)
            .iter()
            .flat_map(|g| &g.fields)
            .any(|c| c.code == f.name)
    });
    let published = field.and_then(|f| {
        detail
            .themes
            .get(f.theme.code())
            .and_then(|t| t.get(f.name))
            .map(|v| {
                let source = v
                    .provenance
                    .as_ref()
                    .map(|p| display::source_and_date(&p.source, p.millesime.as_deref()))
                    .unwrap_or_default();
                (display::value(f.name, &v.value), source)
            })
    });
    let current = values.valeur.join("|");
    let data = serde_json::json!({
        "school": {"uai": detail.uai, "name": detail.name},
        "groups": field_groups(field.map(|f| f.name)),
        "field": field.map(|f| serde_json::json!({"name": f.name, "label": f.label_fr, "unit": f.values_or_unit})),
        "published": published.as_ref().map(|(v, s)| serde_json::json!({"value": v, "source": s})),
        "input": field.map(|f| input_for(f.name, Some(&current))),
        "value": current,
        "justification": values.justification,
        "source_url": values.source_url,
        "errors": errors,
        "csrf_token": caller.csrf_token(),
    });
    page("report.html", "/recherche", data)
}

/// Turns the form into the one-row `signalement` file, as a spreadsheet would write it.
fn report_file(uai: &str, v: &ReportValues) -> Result<Vec<u8>, AppError> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let value = v
        .valeur
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("|");
    w.write_record([
        "uai",
        "champ",
        "valeur_proposee",
        "justification",
        "source_url",
    ])
    .and_then(|()| {
        w.write_record([
            uai,
            v.champ.trim(),
            value.as_str(),
            v.justification.trim(),
            v.source_url.trim(),
        ])
    })
    .map_err(AppError::internal)?;
    w.into_inner().map_err(AppError::internal)
}

async fn report_send(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let uai = Uai::parse(&raw).map_err(|e| AppError::bad_request("uai", e.to_string()))?;
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to(&format!(
            "/etablissements/{}/signaler",
            uai.as_str()
        )));
    };
    // `valeur` may repeat (the items of a list): read the pairs rather than a map.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::bad_request("formulaire", e.to_string()))?;
    let mut values = ReportValues::default();
    for (k, v) in pairs {
        match k.as_str() {
            "champ" => values.champ = v,
            "valeur" => values.valeur.push(v),
            "justification" => values.justification = v,
            "source_url" => values.source_url = v,
            _ => {}
        }
    }
    let bytes = report_file(uai.as_str(), &values)?;
    // Checked first, as the API's validation checks a file: the errors go back to the form,
    // in its words, and nothing is stored until the report is valid.
    let schema = Registry::embedded()
        .resolve(SCHEMA)
        .map_err(AppError::internal)?;
    let limits = state.config.validation;
    let checked = bytes.clone();
    let mut v = tokio::task::spawn_blocking(move || {
        validation::validate(
            schema,
            &checked,
            Some("signalement.csv"),
            &Options::new(limits.max_rows),
        )
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    register::check_against_register(&state.db, schema, &mut v, limits.mass_change_share).await?;
    let errors: Vec<String> = v
        .report
        .errors
        .iter()
        .map(|f| match f.column.as_deref() {
            Some("valeur_proposee") => format!("Valeur proposée : {}", f.note),
            Some("justification") => format!("Justification : {}", f.note),
            Some("source_url") => format!("Lien vers la source : {}", f.note),
            Some("champ") => format!("Donnée : {}", f.note),
            _ => f.note.clone(),
        })
        .collect();
    if !errors.is_empty() {
        let page = render_form(&state, &caller, &uai, &values, &errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let (s, _) = submissions::submit(
        &state.db,
        &state.config.validation,
        &state.config.public_base_url,
        &caller.audit(),
        &caller.actor,
        NewSubmission {
            schema: SCHEMA.to_owned(),
            file_name: format!("signalement-{uai}.csv"),
            bytes,
            idempotency_key: None,
            supersedes: None,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/mes-signalements?envoye={}", s.id)).into_response())
}

#[derive(Deserialize, Default)]
struct MineQuery {
    envoye: Option<i64>,
}

#[derive(Serialize)]
struct ReportShown {
    id: i64,
    date: String,
    uai: String,
    school: String,
    field: String,
    value: String,
    status: String,
    answer: String,
}

/// A submission's decisions as the pages list them: what, why, when.
pub fn decisions_shown(decisions: &[serde_json::Value]) -> Vec<serde_json::Value> {
    decisions
        .iter()
        .map(|d| {
            serde_json::json!({
                "decision": match d["decision"].as_str() {
                    Some("accept") => "Acceptation",
                    Some("reject") => "Refus",
                    Some("request_changes") => "Demande de modifications",
                    Some("revert") => "Annulation",
                    _ => "Décision",
                },
                "reason": d["reason"],
                "at": d["at"]
                    .as_str()
                    .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
                    .map(|a| a.format("%d/%m/%Y %H:%M").to_string()),
            })
        })
        .collect()
}

/// A submission's status in the words of the person who sent it.
pub fn status_label(status: &str, merged_version: Option<i32>) -> String {
    match status {
        "pending" => "En attente de relecture".to_owned(),
        "accepted" => match merged_version {
            Some(v) => format!("Accepté : publié dans la version {v}"),
            None => "Accepté".to_owned(),
        },
        "partially_accepted" => match merged_version {
            Some(v) => format!("Accepté en partie : publié dans la version {v}"),
            None => "Accepté en partie".to_owned(),
        },
        "rejected" => "Refusé".to_owned(),
        "changes_requested" => "Modifications demandées".to_owned(),
        "withdrawn" => "Retiré".to_owned(),
        "reverted" => "Annulé après publication".to_owned(),
        "nothing_to_review" => "Non recevable (aucune ligne valide)".to_owned(),
        other => other.to_owned(),
    }
}

async fn my_reports(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(q): Query<MineQuery>,
) -> Result<Response, PageError> {
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to("/mes-signalements"));
    };
    let catalog = Catalog::get();
    let mine = submissions::list_mine(&state.db, &caller.actor, false).await?;
    let mut shown = Vec::new();
    for s in mine.iter().filter(|s| s.schema.starts_with("signalement@")) {
        let view = submissions::view(&state.db, &caller.actor, s.id).await?;
        let row = view.rows.first();
        let uai = row.and_then(|r| r.uai.clone()).unwrap_or_default();
        let (field, value) = row
            .and_then(|r| r.proposed.as_object())
            .and_then(|m| m.iter().next())
            .map(|(f, v)| {
                (
                    catalog
                        .field(f)
                        .map_or(f.clone(), |c| c.label_fr.to_owned()),
                    display::value(f, v),
                )
            })
            .unwrap_or_default();
        let school = match Uai::parse(&uai) {
            Ok(u) => schools::get(&state.db, &u)
                .await?
                .map(|d| d.name)
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let answer = view
            .latest_reason()
            .map(str::to_owned)
            .or_else(|| row.and_then(|r| r.reason.clone()))
            .unwrap_or_default();
        shown.push(ReportShown {
            id: s.id,
            date: s.created_at.format("%d/%m/%Y").to_string(),
            uai,
            school,
            field,
            value,
            status: status_label(&s.status, s.merged_version),
            answer,
        });
    }
    Ok(page(
        "my_reports.html",
        "/mes-signalements",
        serde_json::json!({ "reports": shown, "sent": q.envoye }),
    )?
    .into_response())
}
