//! Open-data exports (`/api/v1/exports/schools.{csv,json,geojson}?version=N`) and the DCAT
//! catalogue that describes them (`/api/v1/catalog.jsonld`).

use axum::{
    Json, Router,
    body::Body,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::TryStreamExt;
use serde::Deserialize;

use crate::{
    app::AppState,
    domain::export::{ExportFormat, LICENCE_URL},
    error::{AppError, AppResult},
    services::{dcat, exports},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exports/schools.csv", get(csv))
        .route("/api/v1/exports/schools.json", get(json))
        .route("/api/v1/exports/schools.geojson", get(geojson))
        .route("/api/v1/catalog.jsonld", get(catalog))
}

#[derive(Deserialize)]
struct ExportQuery {
    version: Option<String>,
    /// `absent`: also the schools the annuaire does not list.
    include: Option<String>,
}

type ExportParams = Result<Query<ExportQuery>, QueryRejection>;

async fn csv(state: State<AppState>, q: ExportParams, headers: HeaderMap) -> AppResult<Response> {
    export(state, q, headers, ExportFormat::Csv).await
}

async fn json(state: State<AppState>, q: ExportParams, headers: HeaderMap) -> AppResult<Response> {
    export(state, q, headers, ExportFormat::Json).await
}

async fn geojson(
    state: State<AppState>,
    q: ExportParams,
    headers: HeaderMap,
) -> AppResult<Response> {
    export(state, q, headers, ExportFormat::GeoJson).await
}

async fn export(
    State(state): State<AppState>,
    query: ExportParams,
    headers: HeaderMap,
    format: ExportFormat,
) -> AppResult<Response> {
    let Query(query) = query.map_err(|e| AppError::bad_request("query", e.body_text()))?;
    let requested = match query.version.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(exports::parse_version(raw)?),
    };
    let include_absent = match query.include.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(raw) => crate::services::schools::parse_include(raw)
            .map_err(|e| AppError::bad_request("include", e))?,
    };
    let mut snapshot = exports::snapshot(&state.db, requested).await?;
    snapshot.include_absent = include_absent;
    let etag = snapshot.etag(format);
    // An explicit version never changes; "the latest" must be revalidated, which the ETag
    // makes a cheap 304.
    let cache_control = if requested.is_some() {
        "public, max-age=86400"
    } else {
        "public, no-cache"
    };
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, header_value(&etag)?);
    common.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    common.insert(
        header::LINK,
        header_value(&format!(
            "<{LICENCE_URL}>; rel=\"license\", <{}/api/v1/catalog.jsonld>; rel=\"describedby\"",
            state.config.public_base_url.trim_end_matches('/')
        ))?,
    );
    common.insert(
        "x-dataset-version",
        header_value(&snapshot.version.to_string())?,
    );
    if let Some(at) = snapshot.published_at {
        common.insert(
            header::LAST_MODIFIED,
            header_value(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())?,
        );
    }
    if super::conditional::held(&headers, &common) {
        return Ok(super::conditional::not_modified(common));
    }

    common.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    common.insert(
        header::CONTENT_DISPOSITION,
        header_value(&format!(
            "attachment; filename=\"{}\"",
            snapshot.file_name(format)
        ))?,
    );
    let version = snapshot.version;
    let stream = exports::body_stream(state.db.clone(), snapshot, format).inspect_err(move |e| {
        // Headers are gone by now: the client sees a truncated body, the log says why.
        tracing::error!(error = %e, %format, version, "export interrupted");
    });
    Ok((common, Body::from_stream(stream)).into_response())
}

fn header_value(s: &str) -> AppResult<HeaderValue> {
    HeaderValue::from_str(s).map_err(AppError::internal)
}

async fn catalog(State(state): State<AppState>) -> AppResult<Response> {
    let doc = dcat::catalogue(&state.db, &state.config.public_base_url).await?;
    Ok(([(header::CONTENT_TYPE, "application/ld+json")], Json(doc)).into_response())
}
