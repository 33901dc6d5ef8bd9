//! Harvesting against a real local HTTP server serving a valid file (with an ETag), a file
//! without validators, an invalid file, a file over the size limit, a redirect, and a port
//! where nothing listens.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use axum::{
    Router,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use ecarto::jobs;
use ecarto_tests::TestApp;
use serde_json::{Value, json};

struct Portal {
    base: String,
    /// Requests of the file with an ETag answered 200 (not 304).
    full_fetches: Arc<AtomicU32>,
}

async fn portal(school: String) -> Portal {
    let full = Arc::new(AtomicU32::new(0));
    let counter = full.clone();
    let valid = format!("uai;date_inventaire;nb_terminaux\n{school};2026-10-01;48\n");
    let plain = format!("uai;date_inventaire;nb_terminaux\n{school};2026-10-02;49\n");
    let router = Router::new()
        .route(
            "/inventaire.csv",
            get(move |headers: HeaderMap| {
                let valid = valid.clone();
                let counter = counter.clone();
                async move {
                    if headers
                        .get(header::IF_NONE_MATCH)
                        .is_some_and(|v| v == "\"v1\"")
                    {
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    ([(header::ETAG, "\"v1\"")], valid).into_response()
                }
            }),
        )
        .route("/sans-etag.csv", get(move || async move { plain }))
        .route(
            "/invalide.csv",
            get(|| async { "uai;date_inventaire;nb_terminaux\n0350000X;2026-13-45;-3\n" }),
        )
        .route(
            "/trop-gros.csv",
            get(|| async { "uai;date_inventaire;nb_terminaux\n".repeat(40_000) }),
        )
        .route(
            "/ancienne-adresse",
            get(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/sans-etag.csv")],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Portal {
        base: format!("http://{addr}"),
        full_fetches: full,
    }
}

/// A port where nothing listens.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn status_of(source: &Value) -> &str {
    source["events"][0]["status"].as_str().unwrap_or("")
}

#[tokio::test]
async fn registered_files_become_submissions_when_they_change() {
    let app = TestApp::with_sample(|c| {
        c.harvest.allow_private = true;
        c.harvest.max_bytes = 1024 * 1024;
    })
    .await;
    let school = app
        .get("/api/v1/territories/departement/35/missing?type=college&secteur=public")
        .await
        .json()["items"][0]["uai"]
        .as_str()
        .unwrap()
        .to_owned();
    let portal = portal(school.clone()).await;
    let agent = app
        .session_for(
            "opendata@ille-et-vilaine.fr",
            Some("departement:35"),
            &["contributor"],
            &[],
        )
        .await;
    let port = closed_port().await;
    let mut ids = std::collections::BTreeMap::new();
    for (name, url) in [
        ("etag", format!("{}/inventaire.csv", portal.base)),
        ("plain", format!("{}/sans-etag.csv", portal.base)),
        ("invalid", format!("{}/invalide.csv", portal.base)),
        ("big", format!("{}/trop-gros.csv", portal.base)),
        ("moved", format!("{}/ancienne-adresse", portal.base)),
        ("down", format!("http://127.0.0.1:{port}/inventaire.csv")),
    ] {
        let res = app
            .call(
                Some(&agent),
                axum::http::Method::POST,
                "/api/v1/harvest/sources",
                Some(json!({"url": url, "schema": "inventaire-equipement", "label": name})),
            )
            .await;
        res.assert_status(StatusCode::CREATED);
        ids.insert(name, res.json()["id"].as_i64().unwrap());
    }
    // Not http(s), or not a contribution schema: refused with the reason.
    for (url, schema, param) in [
        ("file:///etc/passwd", "inventaire-equipement", "url"),
        ("gopher://exemple.fr/x", "inventaire-equipement", "url"),
        ("http://127.0.0.1/x.csv", "inconnu", "schema"),
    ] {
        let res = app
            .call(
                Some(&agent),
                axum::http::Method::POST,
                "/api/v1/harvest/sources",
                Some(json!({"url": url, "schema": schema})),
            )
            .await;
        res.assert_status(StatusCode::BAD_REQUEST);
        assert!(res.text().contains(param), "{}", res.text());
    }

    let first = jobs::run_now(&app.state, "harvest", "cli").await.unwrap();
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    assert_eq!(
        first.counts,
        json!({"sources": 6, "submitted": 2, "unchanged": 1, "invalid": 2, "unreachable": 1}),
        "the redirect leads to the same file as another source, already waiting for review"
    );
    let source = |name: &'static str| {
        let id = ids[name];
        let app = &app;
        let agent = &agent;
        async move {
            app.call(
                Some(agent),
                axum::http::Method::GET,
                &format!("/api/v1/harvest/sources/{id}"),
                None,
            )
            .await
            .json()
        }
    };
    let etag = source("etag").await;
    assert_eq!(status_of(&etag), "submitted", "{etag}");
    let submission = etag["events"][0]["submission_id"].as_i64().unwrap();
    let view = app
        .call(
            Some(&agent),
            axum::http::Method::GET,
            &format!("/api/v1/submissions/{submission}"),
            None,
        )
        .await
        .json();
    assert_eq!(view["status"], "pending", "{view}");
    assert_eq!(view["rows_proposed"], 1);
    // Redirects are followed (and checked again): it found the file another source sent.
    let moved = source("moved").await;
    assert_eq!(status_of(&moved), "unchanged");
    assert!(
        moved["events"][0]["message"]
            .as_str()
            .unwrap()
            .contains("attend déjà"),
        "{moved}"
    );
    let invalid = source("invalid").await;
    assert_eq!(status_of(&invalid), "invalid");
    assert!(
        invalid["events"][0]["submission_id"].is_i64(),
        "the report is the submission's"
    );
    let big = source("big").await;
    assert_eq!(status_of(&big), "invalid");
    assert!(
        big["events"][0]["message"]
            .as_str()
            .unwrap()
            .contains("limite"),
        "{big}"
    );
    let down = source("down").await;
    assert_eq!(status_of(&down), "unreachable");
    assert!(!down["events"][0]["message"].as_str().unwrap().is_empty());

    // Second pass: the ETag gives a 304, the other files hash the same: nothing is sent.
    let second = jobs::run_now(&app.state, "harvest", "cli").await.unwrap();
    assert_eq!(
        second.counts,
        json!({"sources": 6, "submitted": 0, "unchanged": 4, "invalid": 1, "unreachable": 1})
    );
    assert_eq!(status_of(&source("etag").await), "unchanged");
    assert_eq!(portal.full_fetches.load(Ordering::SeqCst), 1);
    let mine = app
        .call(
            Some(&agent),
            axum::http::Method::GET,
            "/api/v1/submissions",
            None,
        )
        .await
        .json();
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(3),
        "two files submitted once each, and the invalid one's report: {mine}"
    );

    // Deactivated, a source is no longer fetched; its history stays.
    app.call(
        Some(&agent),
        axum::http::Method::DELETE,
        &format!("/api/v1/harvest/sources/{}", ids["down"]),
        None,
    )
    .await
    .assert_status(StatusCode::OK);
    let third = jobs::run_now(&app.state, "harvest", "cli").await.unwrap();
    assert_eq!(third.counts["sources"], 5);
    assert_eq!(source("down").await["events"].as_array().unwrap().len(), 2);
    // Another organisation does not see them.
    let other = app
        .session_for(
            "agent@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let theirs = app
        .call(
            Some(&other),
            axum::http::Method::GET,
            "/api/v1/harvest/sources",
            None,
        )
        .await
        .json();
    assert_eq!(theirs, json!([]));
}
