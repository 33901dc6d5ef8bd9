//! What a newcomer's `ecarto serve` does on an empty database, and the public API over it.

use axum::http::StatusCode;
use ecarto::services::{seed, territories};
use ecarto_tests::TestApp;

#[tokio::test]
async fn first_start_loads_the_real_sample_and_every_documented_endpoint_answers() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    assert!(territories::ensure_loaded(db).await.unwrap().is_some());
    let summary = seed::sample_if_empty(db)
        .await
        .unwrap()
        .expect("sample loaded");
    assert_eq!(summary.lines.len(), 4, "{:?}", summary.lines);
    // A restart, or a database with data, is left alone.
    assert!(seed::sample_if_empty(db).await.unwrap().is_none());
    assert!(territories::ensure_loaded(db).await.unwrap().is_none());

    // Lists keep to the official list: the 993 + 613 schools the annuaires of 35 and 94 list.
    let body = app.get("/api/v1/schools?per_page=1").await.json();
    assert_eq!(body["total"], 993 + 613);
    // With the others: one more collège from the géolocalisation file, and 176
    // second-degree schools of the académie de Montpellier known from ETIC only.
    let body = app
        .get("/api/v1/schools?per_page=1&include=absent")
        .await
        .json();
    assert_eq!(body["total"], 993 + 613 + 1 + 176);
    assert_eq!(
        app.get("/api/v1/datasets/versions").await.json()["latest"],
        4
    );
    // ETIC schools are placed in their académie, since territories came first.
    let montpellier = app
        .get("/api/v1/schools?academie=11&per_page=1&include=absent")
        .await
        .json();
    assert_eq!(montpellier["total"], 176);
    assert_eq!(
        montpellier["schools"][0]["presence_annuaire"],
        serde_json::Value::Null
    );
    let school = app.get("/api/v1/schools/0110067N").await.json();
    assert_eq!(school["annuaire"]["counted"], false);
    assert!(
        school["annuaire"]["message"]
            .as_str()
            .unwrap()
            .starts_with("ne figure dans aucun import de l'annuaire"),
        "{}",
        school["annuaire"]
    );
    let rennes = app.get("/api/v1/territories/academie/14").await.json();
    assert_eq!(rennes["name"], "Rennes");

    // Every path of the OpenAPI document answers (sample values for its parameters).
    let doc = app.get("/api/v1/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 14);
    for (path, item) in paths {
        let Some(get) = item.get("get") else {
            continue;
        };
        // Signed-in paths answer 401 to an anonymous caller (the identity tests cover them).
        if get.get("security").is_some() {
            let res = app.get(path).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{path}");
            continue;
        }
        let uri = path
            .replace("{uai}", "0350122T")
            .replace("{level}", "departement")
            .replace("{code}", "035")
            .replace("{n}", "2")
            .replace("{name}", "inventaire-equipement")
            .replace("{version}", "v1");
        // A path whose query parameters are required.
        let uri = if uri == "/api/v1/datasets/changes" {
            format!("{uri}?from=1&to=2")
        } else {
            uri
        };
        let res = app.get(&uri).await;
        assert_eq!(res.status, StatusCode::OK, "{uri}: {}", res.text());
    }
    // The School schema lists every catalogue field.
    let school = doc["components"]["schemas"]["School"]["properties"]
        .as_object()
        .unwrap();
    assert_eq!(
        school.len(),
        ecarto::domain::catalog::Catalog::get().fields().len()
    );
    assert_eq!(
        school["wifi"]["enum"],
        serde_json::json!(["permanent", "borne_mobile", "non"])
    );

    // The landing page links to the API.
    let home = app.get("/").await;
    home.assert_status(StatusCode::OK);
    assert!(home.text().contains("/api/v1/exports/schools.csv"));
}
