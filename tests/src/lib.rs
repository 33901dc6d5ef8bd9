//! The test harness: a `TestApp` built exactly as `ecarto serve` builds it, on a fresh
//! database per test — a SQLite file in a temporary folder, or, when `DATABASE_URL` names a
//! PostgreSQL server, a new database on that server dropped when the test ends.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use ecarto::{
    app::AppState,
    config::Config,
    domain::uai::Uai,
    services::datasets::{self, Publication, PublishOutcome, SchoolObservation},
};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::Value;
use tower::ServiceExt;

pub mod browser;
pub mod node;

pub struct TestApp {
    pub state: AppState,
    router: Router,
    pub dir: tempfile::TempDir,
    _db: TestDatabase,
}

/// A PostgreSQL database made for one test, dropped with it.
struct TestDatabase {
    admin_url: Option<String>,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs outside any runtime the test may still hold: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(db) = Database::connect(&admin_url).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = db.close().await;
                    }
                });
            }
        })
        .join();
    }
}

/// The root of the repository, to find shared test data beside it.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A file of the real open data in `../shared/data`.
pub fn shared_data(rel: &str) -> PathBuf {
    repo_root().join("../shared/data").join(rel)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A `;`-separated file of `../shared/data` as rows of `{header: trimmed cell}`, read here
/// rather than through the importers, so that tests can count from the raw files.
pub fn raw_rows(rel: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(shared_data(rel)).expect("shared data file");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().expect("header line").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.trim().to_owned()))
                .collect()
        })
        .collect()
}

/// Runs a job now, as `ecarto jobs run` does, and returns its counts; it must succeed.
pub async fn run_job(state: &ecarto::app::AppState, job: &str) -> Value {
    let r = ecarto::jobs::run_now(state, job, "cli")
        .await
        .expect("the job runs");
    assert_eq!(r.status, "succeeded", "{job}: {:?}", r.error);
    r.counts
}

/// One field's row of a completeness answer (`by_field`).
pub fn field_score<'a>(scores: &'a Value, name: &str) -> Option<&'a Value> {
    scores["by_field"]
        .as_array()
        .expect("by_field")
        .iter()
        .find(|f| f["field"] == name)
}

pub fn is_postgres() -> bool {
    std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// As `with_config`, with the territory reference and the bundled sample of real schools
    /// loaded, as a first start of `serve` has them.
    pub async fn with_sample(adjust: impl FnOnce(&mut Config)) -> Self {
        let app = Self::with_config(adjust).await;
        ecarto::services::territories::ensure_loaded(&app.state.db)
            .await
            .expect("territories");
        ecarto::services::seed::sample_if_empty(&app.state.db)
            .await
            .expect("sample");
        app
    }

    /// As `new`, with the configuration adjusted first (limits, thresholds…).
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::embedded(dir.path().to_path_buf(), "http://127.0.0.1:8080".into());
        adjust(&mut config);
        let mut test_db = TestDatabase {
            admin_url: None,
            name: String::new(),
        };
        if let Ok(url) = std::env::var("DATABASE_URL")
            && url.starts_with("postgres")
        {
            let (server, _) = url
                .rsplit_once('/')
                .expect("DATABASE_URL has a database name");
            let name = format!(
                "ecarto_t_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            );
            let admin = Database::connect(&url)
                .await
                .expect("connect to DATABASE_URL");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .expect("drop stale test database");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            config.database_url = format!("{server}/{name}");
            test_db = TestDatabase {
                admin_url: Some(url),
                name,
            };
        }
        let state = AppState::start(config).await.expect("app starts");
        let router = state.router();
        Self {
            state,
            router,
            dir,
            _db: test_db,
        }
    }

    /// Publishes values as an import of `source` would, in one transaction. Schools
    /// published as `annuaire` are listed in it (`presence_annuaire`), as an annuaire import
    /// lists the schools it brings, unless the values say otherwise.
    pub async fn publish(
        &self,
        source: &str,
        millesime: Option<&str>,
        rows: Vec<(&str, Vec<(&'static str, Value)>)>,
    ) -> PublishOutcome {
        let observations = rows
            .into_iter()
            .map(|(uai, mut values)| {
                if source == "annuaire" && !values.iter().any(|(f, _)| *f == "presence_annuaire") {
                    values.push(("presence_annuaire", Value::from("present")));
                }
                SchoolObservation {
                    uai: Uai::parse(uai).expect("valid UAI in test data"),
                    millesime: millesime.map(str::to_owned),
                    values,
                    raw: Vec::new(),
                }
            })
            .collect();
        let publication = Publication {
            source: source.to_owned(),
            import_id: None,
            submission_id: None,
            kind: "import".into(),
            summary: format!("test publication of {source}"),
        };
        let txn = self.state.db.begin().await.expect("begin");
        let outcome = datasets::publish(&txn, &publication, observations)
            .await
            .expect("publish");
        txn.commit().await.expect("commit");
        self.written_beside();
        outcome
    }

    /// Imports a file as `ecarto import` does.
    pub async fn import_file(
        &self,
        kind: ecarto::services::imports::ImportKind,
        name: &str,
        bytes: &[u8],
    ) -> ecarto::services::imports::ImportOutcome {
        let outcome = ecarto::services::imports::import_file(&self.state.db, kind, name, bytes)
            .await
            .expect("import");
        self.written_beside();
        outcome
    }

    /// Data was written beside the platform, not through it: tell it, as a handler or a job
    /// would, so that its next answer reads the published state again.
    pub fn written_beside(&self) {
        self.state.answers.changed();
    }

    /// Serves the app on a real socket (for a browser), and returns its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let addr = listener.local_addr().expect("bound address");
        let router = self.router.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{addr}")
    }

    pub async fn request(&self, req: Request<Body>) -> TestResponse {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.request(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(Body::from(body)).expect("request"))
            .await
    }
}

/// A signed-in browser: its session cookie and the session's CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub email: String,
}

/// A UAI with its right check letter, from 7 digits.
pub fn uai(digits: &str) -> String {
    format!(
        "{digits}{}",
        ecarto::domain::uai::expected_check_letter(digits)
    )
}

impl TestApp {
    /// Gives a person an account, organisation, roles and territories (as `ecarto users add`
    /// does) and opens a real session for them.
    pub async fn session_for(
        &self,
        email: &str,
        organisation: Option<&str>,
        roles: &[&str],
        territories: &[&str],
    ) -> Session {
        use ecarto::services::{audit, auth, users};
        let ctx = audit::Context::cli();
        let u = users::grant(
            &self.state.db,
            &ctx,
            users::Grant {
                email: email.to_owned(),
                display_name: None,
                organisation: organisation.map(str::to_owned),
                roles: roles.iter().map(|r| r.parse().expect("role")).collect(),
                territories: territories
                    .iter()
                    .map(|t| t.parse().expect("territory"))
                    .collect(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("grant {email}: {e:?}"));
        let cookie = auth::open_session(
            &self.state.db,
            &ctx,
            &self.state.config.auth,
            &u,
            "test",
            None,
        )
        .await
        .expect("session");
        // Read from the table, not through `auth::session`: tests of expiry make sessions that
        // are dead on arrival.
        use sea_orm::EntityTrait;
        let row = ecarto::entities::session::Entity::find_by_id(auth::hash(&cookie))
            .one(&self.state.db)
            .await
            .expect("session read")
            .expect("session stored");
        Session {
            cookie,
            csrf: row.csrf_token,
            email: email.to_owned(),
        }
    }

    /// A request as a signed-in browser would send it (cookie and CSRF header) with a JSON
    /// body; `None` sends it anonymously.
    pub async fn call(
        &self,
        session: Option<&Session>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> TestResponse {
        let (headers, bytes): (&[(&str, &str)], Vec<u8>) = match body {
            Some(b) => (
                &[("content-type", "application/json")],
                b.to_string().into_bytes(),
            ),
            None => (&[], Vec::new()),
        };
        self.call_raw(session, method, uri, headers, bytes).await
    }

    /// [`call`](Self::call) with any body and headers (a CSV upload, an idempotency key…).
    pub async fn call_raw(
        &self,
        session: Option<&Session>,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> TestResponse {
        let cookie =
            session.map(|s| format!("{}={}", ecarto::services::auth::SESSION_COOKIE, s.cookie));
        let mut all: Vec<(&str, &str)> = Vec::new();
        if let (Some(c), Some(s)) = (&cookie, session) {
            all.push(("cookie", c));
            all.push(("x-csrf-token", &s.csrf));
        }
        all.extend_from_slice(headers);
        self.send(method, uri, &all, body).await
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(self.status, expected, "body: {}", self.text());
        self
    }
}
