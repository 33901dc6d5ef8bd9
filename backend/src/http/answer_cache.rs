//! A cache of the public API's answers (a school, a page of schools, a territory's figures, an
//! export), in each replica's memory. Without it a school's answer costs about six queries
//! (0.4 ms of the two cores); with it, a hash lookup.
//!
//! These answers are made of the published dataset, the imports, the moderation decisions and
//! the scores only, so an answer stays right as long as [`datasets::published_state`] has not
//! moved. When it moves, only what it moved is forgotten: the answers of the schools whose
//! versions, imports or decisions came in between ([`datasets::schools_changed_between`]), and
//! every answer that is not one school's (lists, territories, exports). The provenance a
//! school's answer shows (an import's file, a contribution's organisation and moderator) is
//! never changed once written.
//!
//! How fresh: after a change made through this replica (any request that is not a read, any
//! job it runs), its next request reads the state again. A change made elsewhere (another
//! replica, the CLI, the jobs process) is seen once the state is read again, at most
//! [`FRESHNESS`] after, so replicas may differ for that long after a publication.
//!
//! Only anonymous reads are kept (no cookie, no `Authorization`): a signed-in caller may see
//! more. Answers setting a cookie, errors and 304s are never kept. Memory is bounded
//! (`ECARTO_ANSWER_CACHE_MB`): beyond it, arbitrary entries are dropped.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use http_body_util::BodyExt;

use super::conditional;
use crate::{app::AppState, domain::uai::Uai, services::datasets};

/// How long a replica trusts the published state it last read before reading it again.
pub const FRESHNESS: Duration = Duration::from_secs(1);

/// The answers kept: the public API's published data.
const PREFIXES: [&str; 3] = [
    "/api/v1/schools",
    "/api/v1/territories/",
    "/api/v1/exports/",
];

/// The published state an answer was made from.
type Generation = datasets::PublishedState;

/// A school's answer: `/api/v1/schools/{uai}`.
const SCHOOL: &str = "/api/v1/schools/";

/// Beyond this many schools changed at once, every answer is forgotten rather than sorted.
const WHOLESALE: usize = 20_000;

struct Entry {
    headers: HeaderMap,
    body: Bytes,
}

impl Entry {
    fn weight(&self, key: &str) -> usize {
        key.len()
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 32)
                .sum::<usize>()
    }
}

#[derive(Default)]
struct Entries {
    /// The state every kept answer was made from.
    generation: Option<Generation>,
    map: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

/// When the published state of the kept answers was read, and when this replica last changed
/// something: the state is trusted for [`FRESHNESS`] after a read begun after the last change.
#[derive(Default)]
struct Reads {
    state_read: Option<Instant>,
    changed: Option<Instant>,
}

pub struct AnswerCache {
    budget: usize,
    entries: RwLock<Entries>,
    reads: Mutex<Reads>,
    /// One reader of the published state at a time; meanwhile the others go to their handler.
    reading: tokio::sync::Mutex<()>,
}

impl AnswerCache {
    /// A cache holding at most `budget` bytes of answers; 0 keeps nothing.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            entries: RwLock::default(),
            reads: Mutex::default(),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// Something may have changed the published answers: this replica's next request reads
    /// them again.
    pub fn changed(&self) {
        self.reads.lock().unwrap_or_else(|p| p.into_inner()).changed = Some(Instant::now());
    }

    /// The answers kept, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let e = self.entries.read().unwrap_or_else(|p| p.into_inner());
        (e.map.len(), e.bytes)
    }

    /// The current generation, reading the published state again when what is known is
    /// older than [`FRESHNESS`]; `None` when the database cannot say (the request then goes
    /// to its handler, which answers what the database allows).
    async fn generation(&self, db: &sea_orm::DatabaseConnection) -> Option<Generation> {
        if let Some(published) = self.known_fresh() {
            return Some(published);
        }
        let _reading = match self.reading.try_lock() {
            Ok(g) => g,
            // Another request is reading it: that request's answer will be kept under the
            // new state, this one goes to its handler.
            Err(_) => return None,
        };
        if let Some(published) = self.known_fresh() {
            return Some(published);
        }
        let read_started = Instant::now();
        let published = match datasets::published_state(db).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "published state unreadable: answers not cached");
                return None;
            }
        };
        let previous = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .generation;
        let changed = match previous {
            Some(previous) if previous.iter().zip(&published).all(|(a, b)| a <= b) => {
                datasets::schools_changed_between(db, previous, published, WHOLESALE)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "changed schools unreadable: all forgotten");
                        None
                    })
            }
            // The first read, or a state gone back (a restored backup): nothing stands.
            _ => None,
        };
        self.move_to(published, changed.as_ref(), read_started);
        Some(published)
    }

    /// The state is now `published`: the answers of the `changed` schools go, and every
    /// answer that is not one school's (lists, territories, exports); all of them when
    /// `changed` is `None`. `read_started`: when the read of `published` began.
    fn move_to(
        &self,
        published: Generation,
        changed: Option<&HashSet<String>>,
        read_started: Instant,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.generation != Some(published) {
            match changed {
                None => entries.map.clear(),
                Some(changed) => entries.map.retain(|key, _| {
                    key.strip_prefix(SCHOOL)
                        .and_then(|rest| rest.split(['?', '/']).next())
                        .and_then(|raw| Uai::parse(raw).ok())
                        .is_some_and(|uai| !changed.contains(uai.as_str()))
                }),
            }
            entries.bytes = entries.map.iter().map(|(k, e)| e.weight(k)).sum();
            entries.generation = Some(published);
        }
        self.reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state_read = Some(read_started);
    }

    /// The state of the kept answers, if its read began less than [`FRESHNESS`] ago and
    /// after this replica's last change.
    fn known_fresh(&self) -> Option<Generation> {
        let reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = reads.state_read.is_some_and(|at| {
            at.elapsed() < FRESHNESS && reads.changed.is_none_or(|changed| changed < at)
        });
        drop(reads);
        if !fresh {
            return None;
        }
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .generation
    }

    fn get(&self, key: &str, generation: Generation) -> Option<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        if entries.generation != Some(generation) {
            return None;
        }
        entries.map.get(key).cloned()
    }

    /// Keeps an answer made from the state `generation`, unless the state has moved since.
    fn insert(&self, key: String, generation: Generation, entry: Entry) {
        let weight = entry.weight(&key);
        // One answer may take a quarter of the room, so that a national export does not
        // push every school out.
        if weight > self.budget / 4 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // Made from a state already replaced: not kept.
        if entries.generation != Some(generation) {
            return;
        }
        if entries.bytes + weight > self.budget {
            let target = self.budget * 3 / 4;
            let mut dropped = Vec::new();
            let mut bytes = entries.bytes;
            for (k, e) in &entries.map {
                if bytes + weight <= target {
                    break;
                }
                bytes -= e.weight(k);
                dropped.push(k.clone());
            }
            for k in dropped {
                entries.map.remove(&k);
            }
            entries.bytes = bytes;
        }
        if let Some(old) = entries.map.insert(key.clone(), Arc::new(entry)) {
            entries.bytes -= old.weight(&key);
        }
        entries.bytes += weight;
    }
}

/// Whether this request's answer may come from, and go to, the cache.
fn cacheable(req: &Request) -> bool {
    let h = req.headers();
    req.method() == Method::GET
        && PREFIXES.iter().any(|p| req.uri().path().starts_with(p))
        && !h.contains_key(header::COOKIE)
        && !h.contains_key(header::AUTHORIZATION)
        && !h.contains_key(header::RANGE)
}

/// The middleware: answers from the cache, or lets the handler answer and keeps a copy.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cache = state.answers.clone();
    if !cacheable(&req) {
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let res = next.run(req).await;
        if writes {
            cache.changed();
        }
        return res;
    }
    if cache.budget == 0 {
        return next.run(req).await;
    }
    let Some(generation) = cache.generation(&state.db).await else {
        return next.run(req).await;
    };
    let key = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    if let Some(entry) = cache.get(&key, generation) {
        return answer(&entry, req.headers());
    }
    let res = next.run(req).await;
    if res.status() != StatusCode::OK || res.headers().contains_key(header::SET_COOKIE) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    parts
        .headers
        .insert("x-cache", HeaderValue::from_static("miss"));
    let headers = parts.headers.clone();
    let limit = cache.budget / 4;
    if body.size_hint().exact().is_some() {
        let bytes = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                tracing::error!(error = %e, "answer could not be read");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        cache.insert(
            key,
            generation,
            Entry {
                headers,
                body: bytes.clone(),
            },
        );
        return Response::from_parts(parts, Body::from(bytes));
    }
    // A streamed answer (an export): copied as it goes, kept once it has all gone well.
    let copy = Arc::new(Mutex::new(Some(Vec::<u8>::new())));
    let taken = copy.clone();
    let stream = body
        .into_data_stream()
        .map(move |chunk| {
            let mut copy = copy.lock().unwrap_or_else(|p| p.into_inner());
            match &chunk {
                Ok(bytes)
                    if copy
                        .as_ref()
                        .is_some_and(|c| c.len() + bytes.len() <= limit) =>
                {
                    if let Some(c) = copy.as_mut() {
                        c.extend_from_slice(bytes);
                    }
                }
                _ => *copy = None,
            }
            chunk
        })
        .chain(futures_util::stream::once(async move {
            let whole = taken.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(whole) = whole {
                cache.insert(
                    key,
                    generation,
                    Entry {
                        headers,
                        body: Bytes::from(whole),
                    },
                );
            }
            Ok::<_, axum::Error>(Bytes::new())
        }));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A kept answer, or 304 when the client holds it already.
fn answer(entry: &Entry, request: &HeaderMap) -> Response {
    let mut headers = entry.headers.clone();
    headers.insert("x-cache", HeaderValue::from_static("hit"));
    if conditional::held(request, &headers) {
        return conditional::not_modified(headers);
    }
    let mut res = Response::new(Body::from(entry.body.clone()));
    *res.headers_mut() = headers;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(cache: &AnswerCache, published: Generation) {
        cache.move_to(published, None, Instant::now());
    }

    fn entry(size: usize) -> Entry {
        Entry {
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; size]),
        }
    }

    const G1: Generation = [1, 1, 1, 1];
    const G2: Generation = [2, 1, 1, 1];

    #[test]
    fn an_answer_is_kept_for_its_published_state_only() {
        let cache = AnswerCache::new(1 << 20);
        known(&cache, G1);
        cache.insert("/a".into(), G1, entry(100));
        assert_eq!(cache.get("/a", G1).map(|e| e.body.len()), Some(100));
        assert!(cache.get("/a", G2).is_none());
        // The state moved: an answer made before is not kept, nor what was kept.
        known(&cache, G2);
        cache.insert("/late".into(), G1, entry(10));
        assert!(cache.get("/late", G2).is_none());
        assert!(cache.get("/a", G2).is_none());
        cache.insert("/b".into(), G2, entry(10));
        assert_eq!(cache.usage(), (1, entry(10).weight("/b")));
        // A change through this replica: the state is to be read again.
        assert_eq!(cache.known_fresh(), Some(G2));
        let begun = Instant::now();
        cache.changed();
        assert_eq!(cache.known_fresh(), None);
        // A read begun before the change ends after it: still to be read again.
        cache.move_to(G2, None, begun);
        assert_eq!(cache.known_fresh(), None);
        cache.move_to(G2, None, Instant::now());
        assert_eq!(cache.known_fresh(), Some(G2));
    }

    #[test]
    fn a_move_forgets_the_changed_schools_and_every_other_answer() {
        let cache = AnswerCache::new(1 << 20);
        known(&cache, G1);
        let keys = [
            "/api/v1/schools/0350017D",
            "/api/v1/schools/0350001l",
            "/api/v1/schools/0350005R?x=1",
            "/api/v1/schools?departement=35",
            "/api/v1/territories/departement/35",
            "/api/v1/exports/schools.csv",
        ];
        for k in keys {
            cache.insert(k.into(), G1, entry(10));
        }
        let changed: HashSet<String> = ["0350001L".to_owned()].into();
        cache.move_to(G2, Some(&changed), Instant::now());
        let kept: Vec<&str> = keys
            .into_iter()
            .filter(|k| cache.get(k, G2).is_some())
            .collect();
        assert_eq!(
            kept,
            ["/api/v1/schools/0350017D", "/api/v1/schools/0350005R?x=1"]
        );
        let bytes: usize = kept.iter().map(|k| entry(10).weight(k)).sum();
        assert_eq!(cache.usage(), (2, bytes));
        // Everything may have changed: nothing stands.
        cache.move_to([3, 1, 1, 1], None, Instant::now());
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn memory_stays_within_the_budget() {
        let cache = AnswerCache::new(100_000);
        known(&cache, G1);
        for i in 0..1_000 {
            cache.insert(format!("/school/{i}"), G1, entry(1_000));
            assert!(cache.usage().1 <= 100_000, "{:?}", cache.usage());
        }
        let (count, bytes) = cache.usage();
        assert!(count > 50, "{count} kept");
        assert!(bytes > 50_000);
        // Too big for a quarter of the room: not kept.
        cache.insert("/export".into(), G1, entry(30_000));
        assert!(cache.get("/export", G1).is_none());
    }

    #[test]
    fn a_kept_answer_is_a_304_for_a_client_holding_it() {
        let mut e = entry(5);
        e.headers
            .insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        e.headers.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static("Thu, 03 Dec 2026 10:00:00 GMT"),
        );
        let mut req = HeaderMap::new();
        assert_eq!(answer(&e, &req).status(), StatusCode::OK);
        req.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        assert_eq!(answer(&e, &req).status(), StatusCode::NOT_MODIFIED);
        req.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"old\""));
        assert_eq!(answer(&e, &req).status(), StatusCode::OK);
        let mut req = HeaderMap::new();
        req.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Thu, 03 Dec 2026 10:00:00 GMT"),
        );
        assert_eq!(answer(&e, &req).status(), StatusCode::NOT_MODIFIED);
        req.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Wed, 02 Dec 2026 10:00:00 GMT"),
        );
        assert_eq!(answer(&e, &req).status(), StatusCode::OK);
    }
}
