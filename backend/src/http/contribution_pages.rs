//! A collectivité's pages: « Contribuer » (choose a schema, its template or the template
//! pre-filled with what is missing for the schools of one's competence, upload), the draft's
//! validation report (the row beside each error, counts per column, cells fixed in place, one
//! value replaced on many rows, the annotated file), « ce qui changera », sending the valid
//! rows while the invalid ones stay a draft, and « Mes contributions ». The rules are
//! `services::drafts` and `services::submissions`'s; nothing is decided here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Path, Query, Request, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use ecarto_contrib_schemas::{Registry, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    auth::{Caller, OptionalCaller},
    report_pages::status_label,
    ui::{PageError, page, sign_in_to},
    validate::read_upload,
};
use crate::{
    app::AppState,
    domain::{catalog::Catalog, display},
    error::AppError,
    services::{drafts, submissions},
    validation::{Progress, Stage, edit::Replace, render, report::Severity},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contribuer", get(index))
        .route(
            "/contribuer/{schema}",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/contribuer/{schema}/modele-pre-rempli.csv",
            get(|state, caller, Path(schema)| prefilled(state, caller, schema, false)),
        )
        .route(
            "/contribuer/{schema}/modele-pre-rempli.xlsx",
            get(|state, caller, Path(schema)| prefilled(state, caller, schema, true)),
        )
        .route("/contribuer/brouillons/{id}", get(draft))
        .route("/contribuer/brouillons/{id}/corriger", post(fix_cells))
        .route("/contribuer/brouillons/{id}/remplacer", post(replace))
        .route("/contribuer/brouillons/{id}/envoyer", post(send))
        .route("/contribuer/brouillons/{id}/fichier/{which}", get(download))
        .route("/mes-contributions", get(mine))
        .route("/mes-contributions/{id}", get(contribution))
}

/// The schemas a collectivité or an académie sends files for (reports have their own form).
fn contribution_schemas() -> impl Iterator<Item = &'static Schema> {
    Registry::embedded()
        .latest()
        .filter(|s| s.name != "signalement")
}

fn draft_title(d: &crate::entities::contribution_draft::Model) -> String {
    drafts::schema_of(d).map_or_else(|_| d.schema_name.clone(), |s| s.title.clone())
}

#[derive(Deserialize, Default)]
struct Notice {
    fait: Option<String>,
}

async fn index(
    State(state): State<AppState>,
    caller: OptionalCaller,
) -> Result<Response, PageError> {
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to("/contribuer"));
    };
    let schemas: Vec<Value> = contribution_schemas()
        .map(|s| {
            json!({
                "name": s.name,
                "version": s.version,
                "title": s.title,
                "description": s.description,
            })
        })
        .collect();
    let open: Vec<Value> = drafts::list_open(&state.db, &caller.actor)
        .await?
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "title": draft_title(d),
                "file": d.file_name,
                "date": d.updated_at.format("%d/%m/%Y %H:%M").to_string(),
            })
        })
        .collect();
    Ok(page(
        "contribute.html",
        "/contribuer",
        json!({
            "schemas": schemas,
            "drafts": open,
            "organisation": caller.actor.organisation.as_ref().map(|o| &o.name),
            "csrf_token": caller.csrf_token(),
        }),
    )?
    .into_response())
}

/// The pre-filled template, as CSV or as a workbook.
async fn prefilled(
    State(state): State<AppState>,
    caller: OptionalCaller,
    schema: String,
    xlsx: bool,
) -> Result<Response, PageError> {
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to("/contribuer"));
    };
    let (bytes, kind, ext) = match xlsx {
        false => {
            let (csv, _) = drafts::prefilled_template(&state.db, &caller.actor, &schema).await?;
            (csv.into_bytes(), "text/csv; charset=utf-8", "csv")
        }
        true => {
            let (s, uais) = drafts::prefilled_schools(&state.db, &caller.actor, &schema).await?;
            let book = tokio::task::spawn_blocking(move || render::template_xlsx(s, &uais))
                .await
                .map_err(AppError::internal)?
                .map_err(AppError::internal)?;
            (book, XLSX, "xlsx")
        }
    };
    let name = Registry::embedded()
        .resolve(&schema)
        .map_or(schema.clone(), |s| s.name.clone());
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!(
                    "attachment; filename=\"{name}-a-completer.{ext}\""
                ))
                .map_err(AppError::internal)?,
            ),
        ],
        bytes,
    )
        .into_response())
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The file input of the « Contribuer » page (multipart; the CSRF token comes in the query,
/// as the guard reads it there for uploads).
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(schema): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    let req_from_script = req
        .headers()
        .get("x-requested-with")
        .is_some_and(|v| v == "ecarto.js");
    let upload = read_upload(req, state.config.validation.max_bytes).await?;
    let name = upload
        .file_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "fichier.csv".into());
    let d = drafts::create(
        &state.db,
        &state.config.validation,
        &caller.audit(),
        &caller.actor,
        &schema,
        &name,
        &upload.bytes,
    )
    .await?;
    let location = format!("/contribuer/brouillons/{}", d.id);
    // Sent in the background by ecarto.js, which then goes to the draft's page itself: a
    // redirect would have the request fetch the whole report before the browser shows it.
    if req_from_script {
        return Ok((
            axum::http::StatusCode::CREATED,
            [(
                header::LOCATION,
                HeaderValue::from_str(&location).map_err(AppError::internal)?,
            )],
        )
            .into_response());
    }
    Ok(Redirect::to(&location).into_response())
}

#[derive(Serialize)]
struct CellShown {
    header: String,
    value: String,
    /// The input's name when the cell has an error.
    input: Option<String>,
    id: String,
    errors: Vec<String>,
    choices: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ErrorRow {
    line: u64,
    cells: Vec<CellShown>,
    /// Errors about the row, not one cell.
    notes: Vec<String>,
}

#[derive(Serialize)]
struct Bulk {
    column: usize,
    header: String,
    value: String,
    rows: usize,
    note: String,
    choices: Vec<(String, String)>,
    id: String,
}

/// How many rows with errors the page shows to fix by hand; the rest are fixed in the file
/// or by a replacement on many rows.
const ROWS_SHOWN: usize = 50;

/// How many replacements on many rows are offered.
const BULK_SHOWN: usize = 20;

/// How many rows « ce qui changera » (and the list of rows out of competence) shows; a national file would make the page too long.
const CHANGES_SHOWN: usize = 200;

/// Above this size a draft's page is sent as the check goes: its start and the check's
/// progress first, the report when it is ready (a 65,000-row file takes seconds).
const STREAMED_ABOVE: i64 = 256 * 1024;

async fn draft(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Path(id): Path<i64>,
    Query(n): Query<Notice>,
) -> Result<Response, PageError> {
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to(&format!("/contribuer/brouillons/{id}")));
    };
    let d = drafts::get(&state.db, &caller.actor, id).await?;
    let size = drafts::file_size(&state.db, &d.current_sha256).await?;
    if size > STREAMED_ABOVE {
        return streamed_draft(state, caller, d, size, n.fait);
    }
    let checked =
        drafts::check(&state.db, &state.config.validation, &caller.actor, d, None).await?;
    let data = report_data(&state, &caller, &checked, n.fait).await?;
    Ok(page("draft.html", "/contribuer", data)?.into_response())
}

/// The draft's page for a large file: the layout and a progress line at once, a new line
/// about every second (each replaces the previous one on screen, by CSS), then the report and
/// the rest of the page. One request, so any replica can serve it and nothing is kept.
fn streamed_draft(
    state: AppState,
    caller: Caller,
    d: crate::entities::contribution_draft::Model,
    size: i64,
    done: Option<String>,
) -> Result<Response, PageError> {
    let schema = drafts::schema_of(&d)?;
    let shell = page(
        "draft_checking.html",
        "/contribuer",
        json!({"file": d.file_name, "title": schema.title, "size": display::bytes(size)}),
    )?
    .0;
    let broken = || PageError(AppError::internal("draft_checking.html sans ses repères"));
    let (head, rest) = shell.split_once(PROGRESS_MARK).ok_or_else(broken)?;
    let (between, tail) = rest.split_once(REPORT_MARK).ok_or_else(broken)?;
    let (head, between, tail) = (head.to_owned(), between.to_owned(), tail.to_owned());
    let progress = Arc::new(Progress::default());
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    let work = {
        let progress = progress.clone();
        async move {
            let checked = drafts::check(
                &state.db,
                &state.config.validation,
                &caller.actor,
                d,
                Some(progress),
            )
            .await?;
            let data = report_data(&state, &caller, &checked, done).await?;
            super::ui::fragment("draft_report.html", data)
        }
    };
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        if tx.send(head).await.is_err() {
            return;
        }
        let mut work = tokio::spawn(work);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(900));
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = tick.tick() => {
                    if tx.send(progress_line(&progress)).await.is_err() {
                        // The person left: the check is of no use to anyone.
                        work.abort();
                        return;
                    }
                }
            }
        };
        // (A fault of the service is logged by `describe`.)
        let interrupted = |e: AppError| {
            format!(
                "<p class=\"step\">Vérification interrompue.</p>{between}<div class=\"callout error\" role=\"alert\"><p>{}</p><p><a href=\"/contribuer\">Revenir à « Contribuer »</a></p></div>{tail}",
                render::escape(&super::ui::error_detail(&e))
            )
        };
        let end = match outcome {
            Ok(Ok(report)) => {
                let (rows, _) = progress.rows();
                format!(
                    "<p class=\"step\">Vérification terminée : {} ligne(s) en {} s.</p>{between}{report}{tail}",
                    display::number(rows as f64),
                    display::number((started.elapsed().as_secs_f64() * 10.0).round() / 10.0),
                )
            }
            Ok(Err(PageError(e))) => interrupted(e),
            Err(join) => interrupted(AppError::internal(format!("draft check task: {join}"))),
        };
        let _ = tx.send(end).await;
    });
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    }));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // Proxies must not hold the progress lines back until the end.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response())
}

const PROGRESS_MARK: &str = "<!--ecarto:progress-->";
const REPORT_MARK: &str = "<!--ecarto:report-->";

fn progress_line(p: &Progress) -> String {
    match p.stage() {
        Stage::Rows if p.rows().1 == 0 => {
            "<p class=\"step\">Lecture du fichier… <progress></progress></p>\n".to_owned()
        }
        Stage::Rows => {
            let (read, expected) = p.rows();
            format!(
                "<p class=\"step\">Lignes vérifiées : {} sur environ {} <progress max=\"{expected}\" value=\"{read}\">{}</progress></p>\n",
                display::number(read as f64),
                display::number(expected as f64),
                display::percent(Some(read as f64 / expected.max(1) as f64)),
            )
        }
        Stage::Register => format!(
            "<p class=\"step\">{} ligne(s) lues ; vérification des établissements dans l'annuaire et de votre compétence… <progress></progress></p>\n",
            display::number(p.rows().0 as f64)
        ),
        Stage::Published => {
            "<p class=\"step\">Comparaison avec les valeurs publiées… <progress></progress></p>\n"
                .to_owned()
        }
    }
}

/// What the report (`draft_report.html`) shows of a checked draft.
async fn report_data(
    state: &AppState,
    caller: &Caller,
    checked: &drafts::Checked,
    done: Option<String>,
) -> Result<Value, PageError> {
    let report = &checked.prepared.validation.report;
    let schema = checked.schema;
    let catalog = Catalog::get();
    let headers: Vec<String> = report.columns.iter().map(|c| c.header.clone()).collect();
    let column_of = |number: usize| {
        report
            .columns
            .get(number.saturating_sub(1))
            .and_then(|c| c.column.as_deref())
            .and_then(|name| schema.columns.iter().find(|c| c.name == name))
    };
    let choices_of = |number: usize| -> Vec<(String, String)> {
        column_of(number)
            .map(|c| {
                c.allowed
                    .iter()
                    .map(|a| {
                        (
                            a.clone(),
                            c.labels.get(a).cloned().unwrap_or_else(|| a.clone()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    // The rows with errors, each cell beside its error, the faulty ones editable.
    let mut by_row: BTreeMap<u64, Vec<&crate::validation::report::Finding>> = BTreeMap::new();
    for f in &report.errors {
        if let Some(r) = f.row {
            by_row.entry(r).or_default().push(f);
        }
    }
    let error_rows: Vec<ErrorRow> = by_row
        .iter()
        .take(ROWS_SHOWN)
        .map(|(line, findings)| {
            let cells = report.rows.get(line).cloned().unwrap_or_default();
            ErrorRow {
                line: *line,
                cells: headers
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let errors: Vec<String> = findings
                            .iter()
                            .filter(|f| f.field_number == Some(i + 1))
                            .map(|f| f.note.clone())
                            .collect();
                        CellShown {
                            header: h.clone(),
                            value: cells.get(i).cloned().unwrap_or_default(),
                            input: (!errors.is_empty()).then(|| format!("c:{line}:{i}")),
                            id: format!("c-{line}-{i}"),
                            choices: if errors.is_empty() {
                                Vec::new()
                            } else {
                                choices_of(i + 1)
                            },
                            errors,
                        }
                    })
                    .collect(),
                notes: findings
                    .iter()
                    .filter(|f| f.field_number.is_none())
                    .map(|f| f.note.clone())
                    .collect(),
            }
        })
        .collect();

    // The same wrong value in the same column on several rows: one replacement fixes all.
    let mut groups: BTreeMap<(usize, String), (usize, String)> = BTreeMap::new();
    for f in &report.errors {
        if let (Some(_), Some(n), Some(cell)) = (f.row, f.field_number, f.cell.as_ref())
            && !cell.trim().is_empty()
        {
            let e = groups
                .entry((n, cell.clone()))
                .or_insert((0, f.note.clone()));
            e.0 += 1;
        }
    }
    // The values wrong on most rows first, and only so many: the rest are fixed in the file.
    let mut groups: Vec<_> = groups
        .into_iter()
        .filter(|(_, (count, _))| *count >= 2)
        .collect();
    groups.sort_by_key(|(_, (count, _))| std::cmp::Reverse(*count));
    let bulk: Vec<Bulk> = groups
        .into_iter()
        .take(BULK_SHOWN)
        .enumerate()
        .map(|(k, ((n, value), (rows, note)))| Bulk {
            column: n - 1,
            header: headers.get(n - 1).cloned().unwrap_or_default(),
            value,
            rows,
            note,
            choices: choices_of(n),
            id: format!("bulk-{k}"),
        })
        .collect();

    let per_column: Vec<Value> = report
        .by_column
        .iter()
        .filter(|(_, c)| c.errors + c.warnings > 0)
        .map(|(col, c)| json!({"column": col, "errors": c.errors, "warnings": c.warnings}))
        .collect();
    let file_errors: Vec<String> = report
        .file_findings()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.message.clone())
        .collect();
    let warnings: Vec<String> = report
        .warnings
        .iter()
        .take(ROWS_SHOWN)
        .map(|f| f.message.clone())
        .collect();

    // « Ce qui changera »: the proposed rows' fields against the published values, the
    // first rows only (a national file's would fill megabytes), the rest counted.
    let p = &checked.prepared;
    let mut shown = Vec::new();
    let (mut more_changes, mut unchanged) = (0usize, 0usize);
    let (mut refused, mut more_refused) = (Vec::new(), 0usize);
    for (r, diff) in p.rows.iter().zip(&checked.diffs) {
        let uai = r.uai.clone().unwrap_or_default();
        match r.status {
            "proposed" if diff.is_empty() => unchanged += 1,
            "proposed" if shown.len() >= CHANGES_SHOWN => more_changes += 1,
            "proposed" => shown.push((r, diff, uai)),
            "refused" if refused.len() >= CHANGES_SHOWN => more_refused += 1,
            "refused" => refused.push(json!({"line": r.line, "uai": uai, "reason": r.reason})),
            _ => {}
        }
    }
    let names =
        crate::services::schools::names(&state.db, shown.iter().map(|(_, _, uai)| uai.clone()))
            .await
            .map_err(AppError::from)?;
    let changes: Vec<Value> = shown
        .iter()
        .map(|(r, diff, uai)| json!({
            "line": r.line,
            "uai": uai,
            "school": names.get(uai),
            "fields": diff.iter().map(|d| json!({
                "label": catalog.field(&d.field).map_or(d.field.clone(), |f| f.label_fr.to_owned()),
                "published": display::value_or_missing(&d.field, d.published.as_ref()),
                "provenance": d.published_provenance.as_ref().map(|p| display::source_and_date(&p.source, p.millesime.as_deref())),
                "proposed": display::value(&d.field, &d.proposed),
            })).collect::<Vec<_>>(),
        }))
        .collect();
    let d = &checked.draft;
    Ok(json!({
        "id": d.id,
        "title": schema.title,
        "schema": schema.id(),
        "file": d.file_name,
        "fixes": d.fixes,
        "fixed": d.current_sha256 != d.original_sha256,
        "sent": d.submission_id,
        "stats": {
            "rows": report.stats.rows,
            "valid": report.stats.valid_rows,
            "invalid": report.stats.invalid_rows,
            "errors": report.stats.errors,
            "warnings": report.stats.warnings,
            "proposed": p.proposed,
            "refused": p.refused,
        },
        "file_errors": file_errors,
        "per_column": per_column,
        "error_rows": error_rows,
        "more_rows": by_row.len().saturating_sub(ROWS_SHOWN),
        "bulk": bulk,
        "warnings": warnings,
        "changes": changes,
        "more_changes": more_changes,
        "unchanged": unchanged,
        "refused": refused,
        "more_refused": more_refused,
        "mass_change": report.mass_change.as_ref().map(|m| format!(
            "Cet envoi modifierait {} des valeurs publiées qu'il touche (seuil : {}) : un modérateur le regardera de près.",
            display::percent(Some(m.share)), display::percent(Some(m.threshold)))),
        "done": done,
        "csrf_token": caller.csrf_token(),
    }))
}

fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::bad_request("formulaire", e.to_string()))
}

fn back(id: i64, done: &str) -> Response {
    Redirect::to(&format!(
        "/contribuer/brouillons/{id}?{}",
        serde_urlencoded::to_string([("fait", done)]).unwrap_or_default()
    ))
    .into_response()
}

/// The cells edited on the page: `c:LINE:COLUMN` = new text.
async fn fix_cells(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let mut cells = BTreeMap::new();
    for (k, v) in form_pairs(&body)? {
        let Some(rest) = k.strip_prefix("c:") else {
            continue;
        };
        let parsed = rest
            .split_once(':')
            .and_then(|(l, c)| Some((l.parse::<u64>().ok()?, c.parse::<usize>().ok()?)));
        let Some(at) = parsed else {
            return Err(
                AppError::bad_request(k.clone(), "cellule illisible : rechargez la page").into(),
            );
        };
        cells.insert(at, v.trim().to_owned());
    }
    let changed = drafts::fix(&state.db, &caller.audit(), &caller.actor, id, cells, None).await?;
    Ok(back(
        id,
        &match changed {
            0 => "Aucune cellule n'a changé.".to_owned(),
            1 => "1 cellule corrigée ; le fichier a été vérifié de nouveau.".to_owned(),
            n => format!("{n} cellules corrigées ; le fichier a été vérifié de nouveau."),
        },
    ))
}

/// One value replaced by another in a column, on every row.
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let pairs = form_pairs(&body)?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let column = get("colonne")
        .and_then(|c| c.parse::<usize>().ok())
        .ok_or_else(|| AppError::bad_request("colonne", "colonne manquante : rechargez la page"))?;
    let from = get("valeur").unwrap_or_default();
    let to = get("remplacement").unwrap_or_default().trim().to_owned();
    if to.is_empty() {
        return Err(AppError::bad_request(
            "remplacement",
            "choisissez ou écrivez la valeur qui remplacera « ".to_owned() + &from + " »",
        )
        .into());
    }
    let changed = drafts::fix(
        &state.db,
        &caller.audit(),
        &caller.actor,
        id,
        BTreeMap::new(),
        Some(Replace {
            column,
            from: from.clone(),
            to: to.clone(),
        }),
    )
    .await?;
    Ok(back(
        id,
        &format!(
            "« {from} » remplacé par « {to} » sur {changed} ligne(s) ; le fichier a été vérifié de nouveau."
        ),
    ))
}

async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let sent = drafts::send(
        &state.db,
        &state.config.validation,
        &state.config.public_base_url,
        &caller.audit(),
        &caller.actor,
        id,
    )
    .await?;
    let mut to = format!("/mes-contributions/{}?envoye=1", sent.submission.id);
    if let Some(left) = sent.left {
        to.push_str(&format!("&reste={left}"));
    }
    Ok(Redirect::to(&to).into_response())
}

/// The file as uploaded (`original`), as fixed (`corrige`), or annotated (`annote.csv`,
/// `annote.xlsx`).
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, which)): Path<(i64, String)>,
) -> Result<Response, PageError> {
    let d = drafts::get(&state.db, &caller.actor, id).await?;
    let stem = d
        .file_name
        .rsplit_once('.')
        .map_or(d.file_name.clone(), |(s, _)| s.to_owned());
    let (bytes, name, kind) = match which.as_str() {
        "original" => (
            drafts::file(&state.db, &d.original_sha256).await?,
            d.file_name.clone(),
            "application/octet-stream",
        ),
        "corrige" => (
            drafts::file(&state.db, &d.current_sha256).await?,
            drafts::sent_file_name(&d),
            "text/csv; charset=utf-8",
        ),
        "annote.csv" | "annote.xlsx" => {
            let checked = drafts::check(
                &state.db,
                &state.config.validation,
                &caller.actor,
                d.clone(),
                None,
            )
            .await?;
            // The file the report was made from, already read by the check.
            let bytes = checked.prepared.bytes;
            let schema = checked.schema;
            let report = checked.prepared.validation.report;
            let file_name = drafts::sent_file_name(&d);
            let xlsx = which.ends_with("xlsx");
            let out = tokio::task::spawn_blocking(move || {
                if xlsx {
                    render::annotated_xlsx(schema, &report, &bytes, Some(&file_name))
                } else {
                    render::annotated_csv(schema, &report, &bytes, Some(&file_name))
                }
            })
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::Unprocessable(e.to_string()))?;
            if xlsx {
                (out, format!("{stem}-annote.xlsx"), XLSX)
            } else {
                (out, format!("{stem}-annote.csv"), "text/csv; charset=utf-8")
            }
        }
        other => return Err(AppError::NotFound(format!("fichier « {other} » inconnu")).into()),
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\""))
                    .map_err(AppError::internal)?,
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn mine(
    State(state): State<AppState>,
    caller: OptionalCaller,
) -> Result<Response, PageError> {
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to("/mes-contributions"));
    };
    let list = submissions::list_mine(&state.db, &caller.actor, true).await?;
    let rows: Vec<Value> = list
        .iter()
        .filter(|s| !s.schema.starts_with("signalement@"))
        .map(|s| {
            json!({
                "id": s.id,
                "date": s.created_at.format("%d/%m/%Y").to_string(),
                "kind": Registry::embedded().resolve(&s.schema).map_or(s.schema.clone(), |x| x.title.clone()),
                "file": s.file_name,
                "rows": s.rows_total,
                "proposed": s.rows_proposed,
                "invalid": s.rows_invalid,
                "refused": s.rows_refused,
                "status": status_label(&s.status, s.merged_version),
            })
        })
        .collect();
    let open: Vec<Value> = drafts::list_open(&state.db, &caller.actor)
        .await?
        .iter()
        .map(|d| json!({"id": d.id, "title": draft_title(d), "file": d.file_name}))
        .collect();
    Ok(page(
        "my_contributions.html",
        "/contribuer",
        json!({"rows": rows, "drafts": open}),
    )?
    .into_response())
}

#[derive(Deserialize, Default)]
struct SentQuery {
    envoye: Option<String>,
    reste: Option<i64>,
}

/// A row's fate in the words of the person who sent it.
fn row_label(row_status: &str, decision: Option<&str>, submission_status: &str) -> &'static str {
    match (row_status, decision, submission_status) {
        ("invalid", _, _) => "Non envoyée : à corriger",
        ("refused", _, _) => "Non envoyée : hors de la compétence de votre organisation",
        (_, Some("accepted"), _) => "Acceptée",
        (_, _, "pending") => "En attente de relecture",
        (_, _, "rejected") => "Refusée",
        (_, _, "changes_requested") => "Modifications demandées",
        (_, _, "accepted" | "partially_accepted") => "Non retenue",
        (_, _, "withdrawn") => "Retirée",
        _ => "Envoyée",
    }
}

async fn contribution(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Path(id): Path<i64>,
    Query(q): Query<SentQuery>,
) -> Result<Response, PageError> {
    let Some(caller) = caller.0 else {
        return Ok(sign_in_to(&format!("/mes-contributions/{id}")));
    };
    let view = submissions::view(&state.db, &caller.actor, id).await?;
    let s = &view.summary;
    let catalog = Catalog::get();
    let reason = view.latest_reason().map(str::to_owned);
    let rows: Vec<Value> = view
        .rows
        .iter()
        .map(|r| {
            json!({
                "line": r.line,
                "uai": r.uai,
                "status": row_label(&r.status, r.decision.as_deref(), &s.status),
                "reason": r.reason,
                "values": r.proposed.as_object().map(|o| o.iter()
                    .filter(|(f, _)| !f.starts_with('$'))
                    .map(|(f, v)| format!("{} : {}", catalog.field(f).map_or(f.as_str(), |c| c.label_fr), display::value(f, v)))
                    .collect::<Vec<_>>()).unwrap_or_default(),
            })
        })
        .collect();
    let decisions = super::report_pages::decisions_shown(&view.decisions);
    Ok(page(
        "my_contribution.html",
        "/contribuer",
        json!({
            "id": s.id,
            "kind": Registry::embedded().resolve(&s.schema).map_or(s.schema.clone(), |x| x.title.clone()),
            "file": s.file_name,
            "date": s.created_at.format("%d/%m/%Y à %H:%M").to_string(),
            "status": status_label(&s.status, s.merged_version),
            "counts": {"rows": s.rows_total, "proposed": s.rows_proposed, "invalid": s.rows_invalid, "refused": s.rows_refused},
            "reason": reason,
            "rows": rows,
            "decisions": decisions,
            "sent": q.envoye.is_some(),
            "left_draft": q.reste,
        }),
    )?
    .into_response())
}
