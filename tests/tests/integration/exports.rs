//! Open-data exports of the latest and past versions, and the DCAT catalogue.

use std::collections::HashMap;

use axum::http::{Method, StatusCode, header};
use ecarto::{
    domain::{
        catalog::Catalog,
        export::ExportFormat,
        uai::{Uai, expected_check_letter},
    },
    services::{
        datasets::{self, Publication, SchoolObservation},
        exports,
    },
};
use ecarto_tests::TestApp;
use sea_orm::TransactionTrait;
use serde_json::{Value, json};

/// A valid UAI from its 7 digits.
fn uai(digits: &str) -> Uai {
    Uai::parse(&format!("{digits}{}", expected_check_letter(digits))).expect("valid UAI")
}

fn observation(
    digits: &str,
    millesime: &str,
    values: &[(&'static str, Value)],
) -> SchoolObservation {
    let uai = uai(digits);
    // Schools of the annuaire, unless the values say otherwise.
    let mut all = vec![
        ("uai", Value::from(uai.as_str())),
        ("presence_annuaire", Value::from("present")),
    ];
    for (f, v) in values {
        all.retain(|(g, _)| g != f);
        all.push((f, v.clone()));
    }
    SchoolObservation {
        uai,
        millesime: Some(millesime.into()),
        values: all,
        raw: Vec::new(),
    }
}

async fn publish(app: &TestApp, summary: &str, observations: Vec<SchoolObservation>) -> i32 {
    let version = publish_beside(app, summary, observations).await;
    app.written_beside();
    version
}

/// A publication as another process (a replica, the CLI) makes it: this one is not told.
async fn publish_beside(app: &TestApp, summary: &str, observations: Vec<SchoolObservation>) -> i32 {
    let txn = app.state.db.begin().await.expect("begin");
    let outcome = datasets::publish(
        &txn,
        &Publication {
            source: "annuaire".into(),
            import_id: None,
            submission_id: None,
            kind: "import".into(),
            summary: summary.into(),
        },
        observations,
    )
    .await
    .expect("publish");
    txn.commit().await.expect("commit");
    outcome.version.expect("a new version")
}

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"clic\")";

/// Version 1: three schools; version 2: the first one renamed, a fourth one added.
async fn two_versions(app: &TestApp) {
    let v1 = publish(
        app,
        "annuaire 2025",
        vec![
            observation(
                "0350001",
                "2025-06-01",
                &[
                    ("appellation_officielle", json!("École Jules Ferry")),
                    ("type_etablissement", json!("ecole")),
                    ("secteur", json!("public")),
                    ("latitude", json!(48.1113)),
                    ("longitude", json!(-1.6800)),
                    ("nb_terminaux", json!(10)),
                ],
            ),
            observation(
                "0350002",
                "2025-06-01",
                &[
                    ("appellation_officielle", json!(FORMULA)),
                    ("type_etablissement", json!("college")),
                    ("latitude", json!(48.0)),
                    ("longitude", json!(-1.7)),
                ],
            ),
            observation(
                "0350003",
                "2025-06-01",
                &[
                    ("appellation_officielle", json!("Lycée sans coordonnées")),
                    ("type_etablissement", json!("lycee")),
                    ("ent_disponible", json!(true)),
                ],
            ),
        ],
    )
    .await;
    assert_eq!(v1, 1);
    let v2 = publish(
        app,
        "annuaire 2026",
        vec![
            observation(
                "0350001",
                "2026-06-01",
                &[(
                    "appellation_officielle",
                    json!("École élémentaire Jules Ferry"),
                )],
            ),
            observation(
                "0350004",
                "2026-06-01",
                &[
                    ("appellation_officielle", json!("École Nouvelle")),
                    ("latitude", json!(47.5)),
                    ("longitude", json!(-2.25)),
                ],
            ),
        ],
    )
    .await;
    assert_eq!(v2, 2);
}

/// A CSV data line as the export writes it: cells (already CSV-escaped) at their catalogue
/// columns, empty elsewhere.
/// A school's line; a school of the annuaire unless the cells say otherwise.
fn csv_line(cells: &[(&str, &str)]) -> String {
    let mut by_name: HashMap<&str, &str> = HashMap::from([("presence_annuaire", "present")]);
    by_name.extend(cells.iter().copied());
    Catalog::get()
        .fields()
        .iter()
        .map(|f| by_name.get(f.name).copied().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(";")
}

fn header_line() -> String {
    Catalog::get()
        .fields()
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(";")
}

fn expected_csv(lines: &[String]) -> String {
    let mut out = header_line() + "\r\n";
    for l in lines {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out
}

fn school_a(name: &str) -> String {
    csv_line(&[
        ("uai", uai("0350001").as_str()),
        ("appellation_officielle", name),
        ("type_etablissement", "ecole"),
        ("secteur", "public"),
        ("latitude", "48.1113"),
        ("longitude", "-1.68"),
        ("nb_terminaux", "10"),
    ])
}

fn school_b() -> String {
    csv_line(&[
        ("uai", uai("0350002").as_str()),
        // Neutralised with a leading quote, then quoted by CSV because of its `"`.
        (
            "appellation_officielle",
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"clic\"\")\"",
        ),
        ("type_etablissement", "college"),
        ("latitude", "48.0"),
        ("longitude", "-1.7"),
    ])
}

fn school_c() -> String {
    csv_line(&[
        ("uai", uai("0350003").as_str()),
        ("appellation_officielle", "Lycée sans coordonnées"),
        ("type_etablissement", "lycee"),
        ("ent_disponible", "oui"),
    ])
}

fn school_d() -> String {
    csv_line(&[
        ("uai", uai("0350004").as_str()),
        ("appellation_officielle", "École Nouvelle"),
        ("latitude", "47.5"),
        ("longitude", "-2.25"),
    ])
}

#[tokio::test]
async fn csv_of_the_latest_and_of_a_past_version() {
    let app = TestApp::new().await;
    two_versions(&app).await;

    let latest = app.get("/api/v1/exports/schools.csv").await;
    latest.assert_status(StatusCode::OK);
    assert_eq!(
        latest.header(header::CONTENT_TYPE),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        latest.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"ecarto-etablissements-v2.csv\"")
    );
    assert_eq!(
        latest.header("x-dataset-version".parse().expect("name")),
        Some("2")
    );
    let link = latest.header(header::LINK).expect("Link header");
    assert!(
        link.contains("<https://www.etalab.gouv.fr/licence-ouverte-open-licence>; rel=\"license\""),
        "{link}"
    );
    let v2_expected = expected_csv(&[
        school_a("École élémentaire Jules Ferry"),
        school_b(),
        school_c(),
        school_d(),
    ]);
    assert_eq!(latest.text(), v2_expected);
    assert!(!latest.body.starts_with(b"\xEF\xBB\xBF"), "no BOM");

    let v2 = app.get("/api/v1/exports/schools.csv?version=2").await;
    v2.assert_status(StatusCode::OK);
    assert_eq!(v2.text(), v2_expected);

    let v1 = app.get("/api/v1/exports/schools.csv?version=1").await;
    v1.assert_status(StatusCode::OK);
    assert_eq!(
        v1.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"ecarto-etablissements-v1.csv\"")
    );
    assert_eq!(
        v1.text(),
        expected_csv(&[school_a("École Jules Ferry"), school_b(), school_c()])
    );

    // Exactly one changed line and one added line between the two versions.
    let old: Vec<&str> = v1.body_lines();
    let new: Vec<&str> = v2.body_lines();
    assert_eq!(old[0], header_line());
    let removed: Vec<&&str> = old.iter().filter(|l| !new.contains(l)).collect();
    let added: Vec<&&str> = new.iter().filter(|l| !old.contains(l)).collect();
    assert_eq!(removed.len(), 1);
    assert!(removed[0].contains(";École Jules Ferry;"));
    assert_eq!(added.len(), 2);
    assert!(added[0].contains(";École élémentaire Jules Ferry;"));
    assert!(added[1].starts_with(uai("0350004").as_str()));
}

trait Lines {
    fn body_lines(&self) -> Vec<&str>;
}

impl Lines for ecarto_tests::TestResponse {
    fn body_lines(&self) -> Vec<&str> {
        std::str::from_utf8(&self.body)
            .expect("UTF-8")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .collect()
    }
}

#[tokio::test]
async fn json_and_geojson_carry_the_values_and_the_licence() {
    let app = TestApp::new().await;
    two_versions(&app).await;

    let res = app.get("/api/v1/exports/schools.json").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.header(header::CONTENT_TYPE), Some("application/json"));
    let doc = res.json();
    assert_eq!(doc["version"], json!(2));
    assert_eq!(
        doc["license"]["url"],
        json!("https://www.etalab.gouv.fr/licence-ouverte-open-licence")
    );
    assert_eq!(
        doc["license"]["title"],
        json!("Licence Ouverte / Open Licence 2.0")
    );
    let schools = doc["schools"].as_array().expect("array");
    assert_eq!(schools.len(), 4);
    assert_eq!(
        schools[0],
        json!({
            "uai": uai("0350001").as_str(),
            "appellation_officielle": "École élémentaire Jules Ferry",
            "type_etablissement": "ecole",
            "secteur": "public",
            "latitude": 48.1113,
            "longitude": -1.68,
            "nb_terminaux": 10,
            "presence_annuaire": "present",
        })
    );
    // JSON carries the canonical value as is: no spreadsheet neutralisation there.
    assert_eq!(schools[1]["appellation_officielle"], json!(FORMULA));
    assert_eq!(schools[2]["ent_disponible"], json!(true));
    // Keys come in catalogue order.
    let first = std::str::from_utf8(&res.body).expect("UTF-8");
    assert!(first.find("\"uai\"") < first.find("\"appellation_officielle\""));

    let v1 = app
        .get("/api/v1/exports/schools.json?version=1")
        .await
        .json();
    assert_eq!(v1["version"], json!(1));
    assert_eq!(v1["schools"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        v1["schools"][0]["appellation_officielle"],
        json!("École Jules Ferry")
    );

    let res = app.get("/api/v1/exports/schools.geojson").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.header(header::CONTENT_TYPE),
        Some("application/geo+json")
    );
    assert_eq!(
        res.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"ecarto-etablissements-v2.geojson\"")
    );
    let geo = res.json();
    assert_eq!(geo["type"], json!("FeatureCollection"));
    assert_eq!(geo["version"], json!(2));
    assert_eq!(
        geo["license"]["url"],
        json!("https://www.etalab.gouv.fr/licence-ouverte-open-licence")
    );
    let features = geo["features"].as_array().expect("features");
    assert_eq!(features.len(), 4);
    assert_eq!(features[0]["type"], json!("Feature"));
    assert_eq!(features[0]["id"], json!(uai("0350001").as_str()));
    assert_eq!(
        features[0]["geometry"],
        json!({"type": "Point", "coordinates": [-1.68, 48.1113]})
    );
    assert_eq!(features[0]["properties"], schools[0]);
    assert_eq!(features[2]["geometry"], Value::Null, "no coordinates");
    assert_eq!(
        features[2]["properties"]["appellation_officielle"],
        json!("Lycée sans coordonnées")
    );
    assert_eq!(features[3]["geometry"]["coordinates"], json!([-2.25, 47.5]));
}

#[tokio::test]
async fn etag_is_stable_and_answers_304() {
    let app = TestApp::new().await;
    two_versions(&app).await;

    let a = app.get("/api/v1/exports/schools.csv").await;
    let etag = a.header(header::ETAG).expect("ETag").to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_eq!(a.header(header::CACHE_CONTROL), Some("public, no-cache"));
    let b = app.get("/api/v1/exports/schools.csv?version=2").await;
    assert_eq!(b.header(header::ETAG), Some(etag.as_str()));
    assert_eq!(
        b.header(header::CACHE_CONTROL),
        Some("public, max-age=86400")
    );
    let json_etag = app.get("/api/v1/exports/schools.json").await;
    assert_ne!(json_etag.header(header::ETAG), Some(etag.as_str()));
    let v1 = app.get("/api/v1/exports/schools.csv?version=1").await;
    let v1_etag = v1.header(header::ETAG).expect("ETag").to_owned();
    assert_ne!(v1_etag, etag);

    let not_modified = app
        .send(
            Method::GET,
            "/api/v1/exports/schools.csv",
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    not_modified.assert_status(StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header(header::ETAG), Some(etag.as_str()));
    let other = app
        .send(
            Method::GET,
            "/api/v1/exports/schools.csv",
            &[("if-none-match", "\"something-else\"")],
            Vec::new(),
        )
        .await;
    other.assert_status(StatusCode::OK);
    assert_eq!(other.body, a.body);

    // A new publication: the latest export changes, version 2's ETag does not.
    publish(
        &app,
        "contribution",
        vec![observation(
            "0350005",
            "2026-09-01",
            &[("appellation_officielle", json!("Collège ajouté"))],
        )],
    )
    .await;
    let latest = app
        .send(
            Method::GET,
            "/api/v1/exports/schools.csv",
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    latest.assert_status(StatusCode::OK);
    assert_ne!(latest.header(header::ETAG), Some(etag.as_str()));
    let still_v2 = app
        .send(
            Method::GET,
            "/api/v1/exports/schools.csv?version=2",
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    still_v2.assert_status(StatusCode::NOT_MODIFIED);
    let v1_again = app.get("/api/v1/exports/schools.csv?version=1").await;
    assert_eq!(v1_again.header(header::ETAG), Some(v1_etag.as_str()));
    assert_eq!(v1_again.body, v1.body);
}

#[tokio::test]
async fn exports_say_when_their_version_was_published_and_answer_if_modified_since() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    let a = app.get("/api/v1/exports/schools.csv?version=2").await;
    let modified = a
        .header(header::LAST_MODIFIED)
        .expect("Last-Modified")
        .to_owned();
    assert!(modified.ends_with(" GMT"), "{modified}");
    let at = chrono::DateTime::parse_from_rfc2822(&modified).expect("an HTTP date");
    let ask = |since: String| {
        let app = &app;
        async move {
            app.send(
                Method::GET,
                "/api/v1/exports/schools.csv?version=2",
                &[("if-modified-since", &since)],
                Vec::new(),
            )
            .await
        }
    };
    let same = ask(modified.clone()).await;
    same.assert_status(StatusCode::NOT_MODIFIED);
    assert!(same.body.is_empty());
    let before = (at - chrono::Duration::hours(1))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let older = ask(before).await;
    older.assert_status(StatusCode::OK);
    assert_eq!(older.body, a.body);
    // A date that is not one is ignored, not an error.
    ask("hier".into()).await.assert_status(StatusCode::OK);
    // If-None-Match wins over If-Modified-Since (RFC 9110).
    let both = app
        .send(
            Method::GET,
            "/api/v1/exports/schools.csv?version=2",
            &[
                ("if-none-match", "\"something-else\""),
                ("if-modified-since", &modified),
            ],
            Vec::new(),
        )
        .await;
    both.assert_status(StatusCode::OK);
}

async fn with_territories_and_two_versions() -> TestApp {
    let app = TestApp::new().await;
    ecarto::services::territories::ensure_loaded(&app.state.db)
        .await
        .expect("territories");
    two_versions(&app).await;
    app
}

/// The public answers kept in memory (`http::answer_cache`): the same bytes and ETag, a 304
/// from the cache, anonymous reads only, a change made by another process seen within
/// `FRESHNESS`, and only what it changed forgotten.
#[tokio::test]
async fn public_answers_come_from_the_cache_until_the_published_state_moves() {
    let app = with_territories_and_two_versions().await;
    let school = format!("/api/v1/schools/{}", uai("0350001"));
    let cache = |r: &ecarto_tests::TestResponse| {
        r.header(header::HeaderName::from_static("x-cache"))
            .map(str::to_owned)
    };
    for uri in [
        school.as_str(),
        "/api/v1/schools?departement=35",
        "/api/v1/territories/departement/35/completeness",
        "/api/v1/exports/schools.csv",
        "/api/v1/exports/schools.geojson?version=1",
    ] {
        let first = app.get(uri).await;
        first.assert_status(StatusCode::OK);
        assert_eq!(cache(&first).as_deref(), Some("miss"), "{uri}");
        let again = app.get(uri).await;
        assert_eq!(cache(&again).as_deref(), Some("hit"), "{uri}");
        assert_eq!(again.body, first.body, "{uri}");
        for h in [header::ETAG, header::CONTENT_TYPE, header::CACHE_CONTROL] {
            assert_eq!(
                again.header(h.clone()),
                first.header(h.clone()),
                "{uri}: {h}"
            );
        }
        // Security headers are added to kept answers too.
        assert!(
            again.header(header::CONTENT_SECURITY_POLICY).is_some(),
            "{uri}"
        );
        let etag = first.header(header::ETAG).expect("an ETag").to_owned();
        let held = app
            .send(Method::GET, uri, &[("if-none-match", &etag)], Vec::new())
            .await;
        held.assert_status(StatusCode::NOT_MODIFIED);
        assert!(held.body.is_empty(), "{uri}");
        assert_eq!(held.header(header::ETAG), Some(etag.as_str()), "{uri}");
        // A caller with credentials is answered by the handler, never from the cache.
        let signed = app
            .send(
                Method::GET,
                uri,
                &[("authorization", "Bearer inconnu")],
                Vec::new(),
            )
            .await;
        assert_eq!(cache(&signed), None, "{uri}");
    }
    // Errors are not kept.
    let unknown = format!("/api/v1/schools/{}", uai("0359999"));
    for _ in 0..2 {
        let r = app.get(&unknown).await;
        r.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(cache(&r), None);
    }

    let other = format!("/api/v1/schools/{}", uai("0350003"));
    app.get(&other).await.assert_status(StatusCode::OK);
    assert_eq!(cache(&app.get(&other).await).as_deref(), Some("hit"));
    app.get("/api/v1/schools")
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        cache(&app.get("/api/v1/schools").await).as_deref(),
        Some("hit")
    );

    // Another process publishes (a replica, the CLI): the old answer may be given for at
    // most FRESHNESS, then the new one.
    let before = datasets::published_state(&app.state.db).await.unwrap();
    publish_beside(
        &app,
        "ailleurs",
        vec![observation(
            "0350001",
            "2027-01-01",
            &[("appellation_officielle", json!("Collège d'ailleurs"))],
        )],
    )
    .await;
    let published_at = std::time::Instant::now();
    let after = datasets::published_state(&app.state.db).await.unwrap();
    assert_eq!(after[0], before[0] + 1, "{before:?} → {after:?}");
    let changed = datasets::schools_changed_between(&app.state.db, before, after, 10)
        .await
        .unwrap();
    assert_eq!(changed, Some([uai("0350001").as_str().to_owned()].into()));
    // Every part of the query at once (revisions, imports' observations, decisions).
    let all = datasets::schools_changed_between(&app.state.db, [0, -1, 0, -1], after, 100)
        .await
        .unwrap()
        .expect("under the limit");
    assert!(all.contains(uai("0350003").as_str()), "{all:?}");
    assert_eq!(
        datasets::schools_changed_between(&app.state.db, [0, -1, 0, -1], after, 1)
            .await
            .unwrap(),
        None
    );
    loop {
        let r = app.get(&school).await;
        if r.text().contains("Collège d'ailleurs") {
            assert_eq!(cache(&r).as_deref(), Some("miss"));
            break;
        }
        assert!(
            published_at.elapsed() < ecarto::http::answer_cache::FRESHNESS * 3,
            "still the old answer: {}",
            r.text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Only what the publication changed is forgotten: the other school's answer stands, the
    // lists, territories and exports are made again.
    assert_eq!(cache(&app.get(&other).await).as_deref(), Some("hit"));
    let list = app.get("/api/v1/schools").await;
    assert_eq!(cache(&list).as_deref(), Some("miss"));
    assert!(
        list.text().contains("Collège d'ailleurs"),
        "{}",
        list.text()
    );
    let csv = app.get("/api/v1/exports/schools.csv").await;
    assert_eq!(cache(&csv).as_deref(), Some("miss"));
    assert!(csv.text().contains("Collège d'ailleurs"), "{}", csv.text());
    // A version's export never changes: kept under the new state, identical.
    let v1 = app.get("/api/v1/exports/schools.geojson?version=1").await;
    assert!(!v1.text().contains("Collège d'ailleurs"));
}

#[tokio::test]
async fn a_school_and_a_territory_answer_304_to_the_etag_they_gave() {
    let app = with_territories_and_two_versions().await;
    let school = format!("/api/v1/schools/{}", uai("0350001"));
    for uri in [
        school.as_str(),
        "/api/v1/schools?departement=35",
        "/api/v1/territories/departement/35",
        "/api/v1/territories/national",
    ] {
        let first = app.get(uri).await;
        first.assert_status(StatusCode::OK);
        let etag = first
            .header(header::ETAG)
            .unwrap_or_else(|| panic!("{uri}: no ETag"))
            .to_owned();
        assert!(etag.starts_with('"') && etag.len() == 34, "{uri}: {etag}");
        assert_eq!(
            first.header(header::CACHE_CONTROL),
            Some("public, no-cache")
        );
        let again = app
            .send(Method::GET, uri, &[("if-none-match", &etag)], Vec::new())
            .await;
        again.assert_status(StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty(), "{uri}");
        assert_eq!(again.header(header::ETAG), Some(etag.as_str()));
        let weak = app
            .send(
                Method::GET,
                uri,
                &[("if-none-match", &format!("W/{etag}"))],
                Vec::new(),
            )
            .await;
        weak.assert_status(StatusCode::NOT_MODIFIED);
        let other = app
            .send(
                Method::GET,
                uri,
                &[("if-none-match", "\"autre\"")],
                Vec::new(),
            )
            .await;
        other.assert_status(StatusCode::OK);
        assert_eq!(other.body, first.body, "{uri}");
    }

    // The school changes: its ETag with it.
    let before = app.get(&school).await;
    let etag = before.header(header::ETAG).unwrap().to_owned();
    publish(
        &app,
        "contribution",
        vec![observation(
            "0350001",
            "2026-09-01",
            &[("appellation_officielle", json!("Collège renommé"))],
        )],
    )
    .await;
    let after = app
        .send(
            Method::GET,
            &school,
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    after.assert_status(StatusCode::OK);
    assert!(after.text().contains("Collège renommé"), "{}", after.text());
    assert_ne!(after.header(header::ETAG), Some(etag.as_str()));
    // An error is not given an ETag.
    let unknown = app
        .get(&format!("/api/v1/schools/{}", uai("0359999")))
        .await;
    unknown.assert_status(StatusCode::NOT_FOUND);
    assert!(unknown.header(header::ETAG).is_none());
}

#[tokio::test]
async fn malformed_and_unknown_versions_are_errors() {
    let app = TestApp::new().await;
    two_versions(&app).await;

    for (query, shown) in [("0", "0"), ("-2", "-2"), ("abc", "abc"), ("1.5", "1.5")] {
        let res = app
            .get(&format!("/api/v1/exports/schools.csv?version={query}"))
            .await;
        res.assert_status(StatusCode::BAD_REQUEST);
        assert_eq!(
            res.header(header::CONTENT_TYPE),
            Some("application/problem+json")
        );
        let body = res.json();
        let expected = format!(
            "la version doit être un nombre entier supérieur ou égal à 1, « {shown} » n'en est pas un"
        );
        assert_eq!(body["detail"], json!(expected));
        assert_eq!(body["errors"][0]["pointer"], json!("version"));
    }
    for format in ["csv", "json", "geojson"] {
        let res = app
            .get(&format!("/api/v1/exports/schools.{format}?version=999"))
            .await;
        res.assert_status(StatusCode::NOT_FOUND);
        assert_eq!(
            res.json()["detail"],
            json!(
                "la version 999 du jeu de données n'existe pas : les versions publiées vont de 1 à 2"
            )
        );
    }
    let res = app.get("/api/v1/exports/schools.csv?version=3").await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert!(matches!(
        exports::snapshot(&app.state.db, Some(0)).await,
        Err(exports::ExportError::InvalidVersion(_))
    ));
}

#[tokio::test]
async fn the_empty_dataset_exports_empty_collections() {
    let app = TestApp::new().await;
    let csv = app.get("/api/v1/exports/schools.csv").await;
    csv.assert_status(StatusCode::OK);
    assert_eq!(csv.text(), header_line() + "\r\n");
    assert_eq!(
        csv.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"ecarto-etablissements-v0.csv\"")
    );
    let json = app.get("/api/v1/exports/schools.json").await.json();
    assert_eq!(json["schools"], json!([]));
    assert_eq!(json["version"], Value::Null);
    let geo = app.get("/api/v1/exports/schools.geojson").await.json();
    assert_eq!(geo["type"], json!("FeatureCollection"));
    assert_eq!(geo["features"], json!([]));
    let res = app.get("/api/v1/exports/schools.csv?version=1").await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(
        res.json()["detail"],
        json!(
            "la version 1 du jeu de données n'existe pas : aucune version n'a encore été publiée"
        )
    );
}

#[tokio::test]
async fn the_cli_writer_produces_the_http_bytes() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    for format in ExportFormat::ALL {
        for version in [None, Some(1)] {
            let uri = match version {
                Some(n) => format!("/api/v1/exports/schools.{format}?version={n}"),
                None => format!("/api/v1/exports/schools.{format}"),
            };
            let http = app.get(&uri).await;
            http.assert_status(StatusCode::OK);
            let path = app.dir.path().join(format!("export-{format}-{version:?}"));
            let snapshot = exports::snapshot(&app.state.db, version)
                .await
                .expect("snapshot");
            let summary = exports::write_file(app.state.db.clone(), snapshot, format, &path)
                .await
                .expect("written");
            let written = std::fs::read(&path).expect("file");
            assert_eq!(written, http.body, "{uri}");
            assert_eq!(summary.schools, if version == Some(1) { 3 } else { 4 });
            assert_eq!(summary.bytes, written.len() as u64);
            let mut part = path.as_os_str().to_owned();
            part.push(".part");
            assert!(!std::path::Path::new(&part).exists());
        }
    }
}

/// An export started on the latest version stays that version even when a publication
/// commits while it runs: changed schools are read from their revision, new ones left out.
#[tokio::test]
async fn an_export_is_one_version_even_if_a_publication_commits_meanwhile() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    let before = app.get("/api/v1/exports/schools.csv").await;

    let snapshot = exports::snapshot(&app.state.db, None)
        .await
        .expect("snapshot");
    assert_eq!(snapshot.version, 2);
    assert!(snapshot.is_latest);
    publish(
        &app,
        "later",
        vec![
            observation(
                "0350002",
                "2027-01-01",
                &[("appellation_officielle", json!("Collège renommé"))],
            ),
            observation(
                "0350006",
                "2027-01-01",
                &[("appellation_officielle", json!("Nouvelle école"))],
            ),
        ],
    )
    .await;
    let mut out = Vec::new();
    exports::write_to(app.state.db.clone(), snapshot, ExportFormat::Csv, &mut out)
        .await
        .expect("export");
    assert_eq!(out, before.body);
    let v3 = app.get("/api/v1/exports/schools.csv").await;
    assert!(v3.text().contains(";Collège renommé;"));
    assert_eq!(v3.body_lines().len(), 1 + 5);
}

/// More schools than one database batch: keyset pagination covers each exactly once, in UAI
/// order, for the latest version and for a past one.
#[tokio::test]
async fn exports_span_several_batches() {
    let app = TestApp::new().await;
    let first: Vec<SchoolObservation> = (0..2100)
        .map(|i| {
            observation(
                &format!("07{i:05}"),
                "2025-01-01",
                &[("nombre_eleves", json!(i))],
            )
        })
        .collect();
    publish(&app, "many", first).await;
    // Version 2 changes every third school and adds 10.
    let second: Vec<SchoolObservation> = (0..2110)
        .filter(|i| i % 3 == 0 || *i >= 2100)
        .map(|i| {
            observation(
                &format!("07{i:05}"),
                "2026-01-01",
                &[("nombre_eleves", json!(i + 100_000))],
            )
        })
        .collect();
    publish(&app, "more", second).await;

    for (version, count) in [(None, 2110), (Some(1), 2100), (Some(2), 2110)] {
        let uri = match version {
            Some(n) => format!("/api/v1/exports/schools.json?version={n}"),
            None => "/api/v1/exports/schools.json".into(),
        };
        let doc = app.get(&uri).await.json();
        let schools = doc["schools"].as_array().expect("array");
        assert_eq!(schools.len(), count, "{uri}");
        for (i, s) in schools.iter().enumerate() {
            assert_eq!(s["uai"], json!(uai(&format!("07{i:05}")).as_str()), "{uri}");
            let expected = if version != Some(1) && (i % 3 == 0 || i >= 2100) {
                i + 100_000
            } else {
                i
            };
            assert_eq!(s["nombre_eleves"], json!(expected), "{uri} {i}");
        }
    }
}

#[tokio::test]
async fn dcat_catalogue_describes_the_dataset_and_its_distributions() {
    let app = TestApp::new().await;
    let empty = app.get("/api/v1/catalog.jsonld").await;
    empty.assert_status(StatusCode::OK);
    assert!(
        empty.json()["dcat:dataset"][0]
            .get("owl:versionInfo")
            .is_none()
    );

    two_versions(&app).await;
    let res = app.get("/api/v1/catalog.jsonld").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.header(header::CONTENT_TYPE),
        Some("application/ld+json")
    );
    let doc = res.json();
    assert_eq!(doc["@type"], json!("dcat:Catalog"));
    assert_eq!(doc["@context"]["dcat"], json!("http://www.w3.org/ns/dcat#"));
    let dataset = &doc["dcat:dataset"][0];
    assert_eq!(dataset["@type"], json!("dcat:Dataset"));
    assert_eq!(dataset["dct:title"]["@language"], json!("fr"));
    assert_eq!(
        dataset["dct:license"]["@id"],
        json!("https://www.etalab.gouv.fr/licence-ouverte-open-licence")
    );
    assert_eq!(
        dataset["dct:spatial"]["@id"],
        json!("http://publications.europa.eu/resource/authority/country/FRA")
    );
    assert_eq!(dataset["owl:versionInfo"], json!("2"));

    let versions = datasets::versions(&app.state.db).await.expect("versions");
    let modified = versions[0]
        .created_at
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(dataset["dct:modified"]["@value"], json!(modified));
    assert_eq!(dataset["dct:modified"]["@type"], json!("xsd:dateTime"));

    let distributions = dataset["dcat:distribution"].as_array().expect("array");
    let urls: Vec<&str> = distributions
        .iter()
        .map(|d| d["dcat:downloadURL"]["@id"].as_str().expect("url"))
        .collect();
    assert_eq!(
        urls,
        [
            "http://127.0.0.1:8080/api/v1/exports/schools.csv",
            "http://127.0.0.1:8080/api/v1/exports/schools.json",
            "http://127.0.0.1:8080/api/v1/exports/schools.geojson",
        ]
    );
    let media: Vec<&str> = distributions
        .iter()
        .map(|d| d["dcat:mediaType"]["@id"].as_str().expect("media type"))
        .collect();
    assert_eq!(
        media,
        [
            "https://www.iana.org/assignments/media-types/text/csv",
            "https://www.iana.org/assignments/media-types/application/json",
            "https://www.iana.org/assignments/media-types/application/geo+json",
        ]
    );
    assert_eq!(
        distributions[2]["dct:format"]["@id"],
        json!("http://publications.europa.eu/resource/authority/file-type/GEOJSON")
    );

    let has_version = dataset["dcat:hasVersion"].as_array().expect("versions");
    assert_eq!(has_version.len(), 2);
    assert_eq!(has_version[1]["owl:versionInfo"], json!("1"));
    assert_eq!(
        has_version[1]["adms:versionNotes"]["@value"],
        json!("annuaire 2025")
    );
    assert_eq!(
        has_version[1]["dcat:distribution"][0]["dcat:downloadURL"]["@id"],
        json!("http://127.0.0.1:8080/api/v1/exports/schools.csv?version=1")
    );
    // Every advertised download answers.
    for d in distributions.iter().chain(
        has_version
            .iter()
            .flat_map(|v| v["dcat:distribution"].as_array().into_iter().flatten()),
    ) {
        let url = d["dcat:downloadURL"]["@id"].as_str().expect("url");
        let path = url.trim_start_matches("http://127.0.0.1:8080");
        app.get(path).await.assert_status(StatusCode::OK);
    }
}

/// The importers keep the UAI as the record's key, not as a stored value: every export must
/// still carry it (it once went out empty).
#[tokio::test]
async fn every_export_names_each_school_by_its_uai() {
    let app = TestApp::with_sample(|_| {}).await;
    let csv = app.get("/api/v1/exports/schools.csv").await.text();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.trim_start_matches('\u{feff}').starts_with("uai;"),
        "{header}"
    );
    let mut n = 0;
    for line in lines {
        let first = line.split(';').next().unwrap();
        assert!(Uai::parse(first).is_ok(), "not a UAI: {line}");
        n += 1;
    }
    assert!(n > 1_500, "{n} schools");
    let json = app.get("/api/v1/exports/schools.json").await.json();
    let schools = json
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_array))
        .unwrap();
    assert!(
        schools
            .iter()
            .all(|s| s["uai"].as_str().is_some_and(|u| Uai::parse(u).is_ok()))
    );
    let geo = app.get("/api/v1/exports/schools.geojson").await.json();
    let features = geo["features"].as_array().unwrap();
    assert!(
        features
            .iter()
            .all(|f| f["id"].is_string() && f["properties"]["uai"] == f["id"])
    );
}

/// Schools the annuaire no longer lists, or never listed, are out of the exports by default
/// (the official list); `include=absent` puts them back, with another ETag and file name.
/// Past versions keep what they said: a school listed then is in their export.
#[tokio::test]
async fn exports_keep_to_the_official_list_unless_asked() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    let v3 = publish(
        &app,
        "annuaire 2027",
        vec![
            observation(
                "0350003",
                "2027-06-01",
                &[("presence_annuaire", json!("absent"))],
            ),
            // Known from the ETIC survey only.
            SchoolObservation {
                uai: uai("0350009"),
                millesime: Some("2027".into()),
                values: vec![("nb_terminaux", json!(12))],
                raw: Vec::new(),
            },
        ],
    )
    .await;
    assert_eq!(v3, 3);
    for format in ["csv", "json", "geojson"] {
        let official = app.get(&format!("/api/v1/exports/schools.{format}")).await;
        official.assert_status(StatusCode::OK);
        let all = app
            .get(&format!("/api/v1/exports/schools.{format}?include=absent"))
            .await;
        all.assert_status(StatusCode::OK);
        let (o, a) = (official.text(), all.text());
        for absent in [uai("0350003"), uai("0350009")] {
            assert!(
                !o.contains(absent.as_str()),
                "{format}: {absent} in the official list"
            );
            assert!(
                a.contains(absent.as_str()),
                "{format}: {absent} missing with include=absent"
            );
        }
        assert!(o.contains(uai("0350001").as_str()));
        assert_ne!(official.header(header::ETAG), all.header(header::ETAG));
        assert_eq!(
            all.header(header::CONTENT_DISPOSITION).map(str::to_owned),
            Some(format!(
                "attachment; filename=\"ecarto-etablissements-v3-avec-absents.{format}\""
            ))
        );
        if format != "csv" {
            // Still valid JSON whichever schools are left out.
            let doc: Value = serde_json::from_str(&o).expect("valid JSON");
            let key = if format == "json" {
                "schools"
            } else {
                "features"
            };
            assert_eq!(doc[key].as_array().map(Vec::len), Some(3), "{format}");
            let doc: Value = serde_json::from_str(&a).expect("valid JSON");
            assert_eq!(doc[key].as_array().map(Vec::len), Some(5), "{format}");
        }
    }
    // Version 2 listed 0350003: its export still holds it.
    let v2 = app
        .get("/api/v1/exports/schools.csv?version=2")
        .await
        .text();
    assert!(v2.contains(uai("0350003").as_str()));
    let bad = app.get("/api/v1/exports/schools.csv?include=tout").await;
    bad.assert_status(StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("include"), "{}", bad.text());
}

/// A whole first batch left out (its schools all outside the official list) leaves the JSON
/// array well formed: the separator goes before every school but the first one written.
#[tokio::test]
async fn a_json_export_whose_first_batch_is_all_absent_is_well_formed() {
    let app = TestApp::new().await;
    let absent: Vec<SchoolObservation> = (0..1100)
        .map(|i| SchoolObservation {
            uai: uai(&format!("{:07}", 100_000 + i)),
            millesime: Some("2027".into()),
            values: vec![("nb_terminaux", json!(i))],
            raw: Vec::new(),
        })
        .chain([observation(
            "0999001",
            "2027-06-01",
            &[("nb_terminaux", json!(1))],
        )])
        .collect();
    publish(&app, "ETIC et annuaire", absent).await;
    let doc = app.get("/api/v1/exports/schools.json").await.json();
    assert_eq!(doc["schools"].as_array().map(Vec::len), Some(1));
    let all = app
        .get("/api/v1/exports/schools.json?include=absent")
        .await
        .json();
    assert_eq!(all["schools"].as_array().map(Vec::len), Some(1101));
}
