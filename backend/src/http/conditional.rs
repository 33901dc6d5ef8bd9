//! Conditional GETs for the public API's JSON answers (a school, a page of schools, a
//! territory's figures): a strong `ETag` made from the answer itself, and `304 Not Modified`
//! when the client already holds it. Computed from the bytes rather than from a version
//! number because these answers mix the published version, the annuaire and the scores
//! recomputed by the job, which change at different moments; hashing a few kilobytes costs
//! microseconds. The exports, whose versions never change, have their own ETag and
//! `Last-Modified` without reading a school (`http::exports`).

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

use crate::domain::export::if_none_match;

/// Answers above this size are sent as they are, without an ETag.
const LARGEST: usize = 4 * 1024 * 1024;

pub async fn etag(req: Request, next: Next) -> Response {
    let conditional = req.method() == Method::GET || req.method() == Method::HEAD;
    let wanted = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let res = next.run(req).await;
    if !conditional || res.status() != StatusCode::OK || res.headers().contains_key(header::ETAG) {
        return res;
    }
    // Only answers already whole in memory (JSON): a streamed one is sent as it comes.
    let whole = axum::body::HttpBody::size_hint(res.body())
        .exact()
        .is_some_and(|n| n as usize <= LARGEST);
    if !whole {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::error!(error = %e, "answer could not be read for its ETag");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let digest = Sha256::digest(&bytes);
    let tag = format!("\"{}\"", hex::encode(&digest[..16]));
    let Ok(value) = HeaderValue::from_str(&tag) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.insert(header::ETAG, value);
    // Shared caches may keep it, but must ask again each time: a new version can come any
    // moment, and asking costs a 304.
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, no-cache"),
    );
    if wanted.as_deref().is_some_and(|w| if_none_match(w, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}
