//! `POST /api/v1/validate/{schema}`: anyone can check a file before submitting it, as on
//! Validata. The file comes as multipart (any file field) or as the raw body; the report
//! comes as JSON, HTML, or the agent's own file annotated (CSV or XLSX).

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::post,
};
use ecarto_contrib_schemas::Registry;
use http_body_util::BodyExt;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::services;
use crate::validation::{self, FileError, Options, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/validate/{schema}", post(validate))
        // The limit is enforced below, with a message that says it.
        .layer(DefaultBodyLimit::disable())
}

#[derive(Deserialize)]
struct ValidateQuery {
    /// json (default), html, csv or xlsx (the annotated file).
    format: Option<String>,
    /// The file's name, for a raw body.
    filename: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Json,
    Html,
    Csv,
    Xlsx,
}

fn wanted(query: Option<&str>, headers: &HeaderMap) -> AppResult<Wanted> {
    match query {
        Some("json") => Ok(Wanted::Json),
        Some("html") => Ok(Wanted::Html),
        Some("csv") => Ok(Wanted::Csv),
        Some("xlsx") => Ok(Wanted::Xlsx),
        Some(other) => Err(AppError::bad_request(
            "format",
            format!("format de rapport inconnu « {other} » : json, html, csv ou xlsx"),
        )),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Ok(if accept.contains("text/html") {
                Wanted::Html
            } else {
                Wanted::Json
            })
        }
    }
}

fn too_large(limit: usize) -> AppError {
    AppError::TooLarge(format!(
        "le fichier dépasse la taille maximale acceptée ({} Mo) : découpez-le en plusieurs fichiers",
        limit / (1024 * 1024)
    ))
}

/// An uploaded file within the size limit, and the form's other fields (the report form a
/// browser's form asked for, the schema of a submission…).
pub(crate) struct Upload {
    pub bytes: Bytes,
    pub file_name: Option<String>,
    pub format: Option<String>,
    pub fields: std::collections::HashMap<String, String>,
}

pub(crate) async fn read_upload(req: Request, limit: usize) -> AppResult<Upload> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit + 64 * 1024) {
        return Err(too_large(limit));
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (parts, body) = req.into_parts();
    // Multipart framing adds a little to the file itself.
    let framing = if is_multipart { 64 * 1024 } else { 0 };
    let bytes = http_body_util::Limited::new(body, limit + framing)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large(limit)
            } else {
                AppError::bad_request("body", format!("envoi interrompu : {e}"))
            }
        })?
        .to_bytes();
    if !is_multipart {
        if bytes.len() > limit {
            return Err(too_large(limit));
        }
        return Ok(Upload {
            bytes,
            file_name: None,
            format: None,
            fields: Default::default(),
        });
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        AppError::bad_request("body", format!("formulaire multipart illisible : {e}"))
    })?;
    let mut format = None;
    let mut fields = std::collections::HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        AppError::bad_request("body", format!("formulaire multipart illisible : {e}"))
    })? {
        if field.name() == Some("format") && field.file_name().is_none() {
            format = field.text().await.ok().filter(|f| !f.is_empty());
            continue;
        }
        if let (Some(name), None) = (field.name().map(str::to_owned), field.file_name())
            && name != "file"
        {
            if let Ok(text) = field.text().await {
                fields.insert(name, text);
            }
            continue;
        }
        let is_file = field.file_name().is_some() || field.name() == Some("file");
        if !is_file {
            continue;
        }
        let file_name = field
            .file_name()
            .map(str::to_owned)
            .filter(|n| !n.is_empty());
        let data = field
            .bytes()
            .await
            .map_err(|e| AppError::bad_request("file", format!("fichier illisible : {e}")))?;
        if data.len() > limit {
            return Err(too_large(limit));
        }
        if data.is_empty() && file_name.is_none() {
            break;
        }
        // Other fields may come after the file.
        while let Ok(Some(rest)) = multipart.next_field().await {
            let Some(name) = rest.name().map(str::to_owned) else {
                continue;
            };
            if let Ok(text) = rest.text().await {
                if name == "format" {
                    format = Some(text).filter(|f| !f.is_empty());
                } else {
                    fields.insert(name, text);
                }
            }
        }
        return Ok(Upload {
            bytes: data,
            file_name,
            format,
            fields,
        });
    }
    Err(AppError::bad_request(
        "file",
        "aucun fichier dans le formulaire : envoyez le fichier dans un champ « file »",
    ))
}

async fn validate(
    State(state): State<AppState>,
    caller: super::auth::OptionalCaller,
    super::auth::ClientIp(ip): super::auth::ClientIp,
    Path(spec): Path<String>,
    Query(query): Query<ValidateQuery>,
    req: Request,
) -> AppResult<Response> {
    let schema = Registry::embedded()
        .resolve(&spec)
        .map_err(|e| AppError::NotFound(e.to_string()))?;
    if caller.0.is_none()
        && let Some(ip) = &ip
    {
        crate::services::auth::rate_limit(
            &state.db,
            &format!("validate:ip:{ip}"),
            chrono::Duration::minutes(15),
            state.config.validation.anonymous_per_ip,
        )
        .await?;
    }
    let accept = req.headers().clone();
    let limits = state.config.validation;
    let upload = read_upload(req, limits.max_bytes).await?;
    let want = wanted(
        query.format.as_deref().or(upload.format.as_deref()),
        &accept,
    )?;
    let bytes = upload.bytes;
    let file_name = upload.file_name.or(query.filename);
    let mut options = Options::new(limits.max_rows);
    options.keep_rows = true;
    let name = file_name.clone();
    // Validation is CPU work on threads of its own: off the server's async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        let v = validation::validate(schema, &bytes, name.as_deref(), &options);
        (v, bytes)
    })
    .await
    .map_err(AppError::internal)?;
    let (result, bytes) = outcome;
    let mut v = result.map_err(file_error)?;
    services::validation::check_against_register(
        &state.db,
        schema,
        &mut v,
        limits.mass_change_share,
    )
    .await?;
    let report = v.report;
    let base = file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.').map(|(b, _)| b).or(Some(n)))
        .unwrap_or("fichier")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    match want {
        Wanted::Json => Ok(axum::Json(report).into_response()),
        Wanted::Html => Ok(super::ui::content_page(
            "/contribuer",
            &render::html_title(&report),
            &render::html_body(&report),
        )
        .into_response()),
        Wanted::Csv | Wanted::Xlsx => {
            let annotated = tokio::task::spawn_blocking(move || {
                if want == Wanted::Csv {
                    render::annotated_csv(schema, &report, &bytes, file_name.as_deref())
                } else {
                    render::annotated_xlsx(schema, &report, &bytes, file_name.as_deref())
                }
            })
            .await
            .map_err(AppError::internal)?
            .map_err(file_error)?;
            let (ext, mime) = if want == Wanted::Csv {
                ("csv", "text/csv; charset=utf-8")
            } else {
                (
                    "xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
            };
            let disposition = format!("attachment; filename=\"{base}-annote.{ext}\"");
            Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition).map_err(AppError::internal)?,
                    ),
                ],
                annotated,
            )
                .into_response())
        }
    }
}

fn file_error(e: FileError) -> AppError {
    match e {
        FileError::TooManyRows { .. } => AppError::TooLarge(e.to_string()),
        FileError::Unusable(_) => AppError::Unprocessable(e.to_string()),
    }
}
