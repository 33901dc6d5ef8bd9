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
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

use crate::domain::export::if_none_match;

/// Answers above this size are sent as they are, without an ETag.
const LARGEST: usize = 4 * 1024 * 1024;

/// The request's validators (`If-None-Match`, `If-Modified-Since`), kept for [`held`] once the
/// request itself has gone to its handler.
pub fn preconditions(request: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE] {
        if let Some(v) = request.get(&name) {
            kept.insert(name, v.clone());
        }
    }
    kept
}

/// Whether the client already holds the answer whose headers are `answer`: its
/// `If-None-Match` names the answer's `ETag`, or, without one, its `If-Modified-Since` is not
/// before the answer's `Last-Modified` (RFC 9110, 13.2.2; HTTP dates have whole seconds).
pub fn held(request: &HeaderMap, answer: &HeaderMap) -> bool {
    fn text(h: &HeaderMap, n: header::HeaderName) -> Option<&str> {
        h.get(n).and_then(|v| v.to_str().ok())
    }
    let date = |h: &HeaderMap, n: header::HeaderName| {
        text(h, n).and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
    };
    match text(request, header::IF_NONE_MATCH) {
        Some(wanted) => text(answer, header::ETAG).is_some_and(|tag| if_none_match(wanted, tag)),
        None => date(request, header::IF_MODIFIED_SINCE)
            .zip(date(answer, header::LAST_MODIFIED))
            .is_some_and(|(since, at)| at.timestamp() <= since.timestamp()),
    }
}

/// The 304 for an answer: its headers (validators, caching, links) without those of a body.
pub fn not_modified(mut headers: HeaderMap) -> Response {
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_DISPOSITION,
    ] {
        headers.remove(name);
    }
    (StatusCode::NOT_MODIFIED, headers).into_response()
}

pub async fn etag(req: Request, next: Next) -> Response {
    let conditional = req.method() == Method::GET || req.method() == Method::HEAD;
    let wanted = preconditions(req.headers());
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
    if held(&wanted, &parts.headers) {
        return not_modified(parts.headers);
    }
    Response::from_parts(parts, Body::from(bytes))
}
