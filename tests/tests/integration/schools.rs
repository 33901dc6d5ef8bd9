use axum::http::StatusCode;
use ecarto_tests::TestApp;
use serde_json::{Value, json};

fn school(
    name: &str,
    kind: &str,
    secteur: &str,
    commune: &str,
    dep: &str,
    aca: &str,
    reg: &str,
) -> Vec<(&'static str, Value)> {
    vec![
        ("appellation_officielle", json!(name)),
        ("type_etablissement", json!(kind)),
        ("secteur", json!(secteur)),
        ("code_commune", json!(commune)),
        ("code_departement", json!(dep)),
        ("code_academie", json!(aca)),
        ("code_region", json!(reg)),
    ]
}

async fn app_with_schools() -> TestApp {
    let app = TestApp::new().await;
    app.publish(
        "annuaire",
        Some("2023-06-08"),
        vec![
            (
                "0350122T",
                school(
                    "École primaire publique les Lucioles",
                    "ecole",
                    "public",
                    "35016",
                    "35",
                    "14",
                    "53",
                ),
            ),
            (
                "0350017D",
                school(
                    "Collège du Querpon",
                    "college",
                    "public",
                    "35168",
                    "35",
                    "14",
                    "53",
                ),
            ),
            (
                "0940176F",
                school(
                    "École élémentaire Robert Doisneau",
                    "ecole",
                    "public",
                    "94034",
                    "94",
                    "24",
                    "11",
                ),
            ),
            (
                "0110067N",
                school(
                    "Collège Émile Zola",
                    "college",
                    "prive",
                    "11069",
                    "11",
                    "11",
                    "76",
                ),
            ),
        ],
    )
    .await;
    app
}

#[tokio::test]
async fn school_detail_groups_fields_by_theme_with_provenance() {
    let app = app_with_schools().await;
    app.publish(
        "etic",
        Some("2018"),
        vec![("0350017D", vec![("nb_terminaux", json!(150))])],
    )
    .await;
    app.publish(
        "etic",
        Some("2019"),
        vec![("0350017D", vec![("nb_terminaux", json!(190))])],
    )
    .await;

    let res = app.get("/api/v1/schools/0350017d").await;
    res.assert_status(StatusCode::OK);
    let body = res.json();
    assert_eq!(body["uai"], "0350017D");
    assert_eq!(body["name"], "Collège du Querpon");
    let etab = &body["themes"]["etablissement"];
    assert_eq!(etab["type_etablissement"]["value"], "college");
    assert_eq!(etab["code_departement"]["provenance"]["source"], "annuaire");
    assert_eq!(
        etab["code_departement"]["provenance"]["millesime"],
        "2023-06-08"
    );
    let terminals = &body["themes"]["equipement"]["nb_terminaux"];
    assert_eq!(terminals["value"], 190);
    assert_eq!(terminals["label"], "Nombre total de terminaux");
    assert_eq!(terminals["provenance"]["source"], "etic");
    assert_eq!(terminals["provenance"]["millesime"], "2019");
    // Themes without data are present and empty, so that what is missing shows.
    assert_eq!(body["themes"]["byod"], json!({}));
    // The earlier millésime stays as history, with its provenance and the version that
    // replaced it.
    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["field"], "nb_terminaux");
    assert_eq!(history[0]["value"], 150);
    assert_eq!(history[0]["provenance"]["millesime"], "2018");
    assert_eq!(history[0]["replaced_in_version"], 3);
    assert_eq!(body["other_observations"], json!([]));
}

#[tokio::test]
async fn malformed_and_unknown_uais() {
    let app = app_with_schools().await;
    let res = app.get("/api/v1/schools/0350122A").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(
        res.header(axum::http::header::CONTENT_TYPE),
        Some("application/problem+json")
    );
    let body = res.json();
    assert_eq!(body["status"], 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("la lettre attendue pour 0350122 est T"),
        "{body}"
    );
    let res = app.get("/api/v1/schools/12345").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    assert!(
        res.json()["detail"]
            .as_str()
            .unwrap()
            .contains("8 caractères")
    );
    let res = app.get("/api/v1/schools/0350123U").await;
    res.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(res.json()["status"], 404);
}

async fn uais(app: &TestApp, query: &str) -> (u64, Vec<String>) {
    let res = app.get(&format!("/api/v1/schools?{query}")).await;
    res.assert_status(StatusCode::OK);
    let body = res.json();
    let list = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uai"].as_str().unwrap().to_owned());
    (body["total"].as_u64().unwrap(), list.collect())
}

#[tokio::test]
async fn search_combines_filters_and_ignores_case_and_accents() {
    let app = app_with_schools().await;
    assert_eq!(uais(&app, "").await.0, 4);
    assert_eq!(
        uais(&app, "departement=035").await,
        (2, vec!["0350017D".into(), "0350122T".into()])
    );
    assert_eq!(
        uais(&app, "departement=35&type=college").await,
        (1, vec!["0350017D".into()])
    );
    assert_eq!(
        uais(&app, "region=53&type=ecole&secteur=public").await,
        (1, vec!["0350122T".into()])
    );
    assert_eq!(
        uais(&app, "academie=24").await,
        (1, vec!["0940176F".into()])
    );
    assert_eq!(uais(&app, "commune=94034").await.0, 1);
    assert_eq!(
        uais(&app, "secteur=prive").await,
        (1, vec!["0110067N".into()])
    );
    assert_eq!(
        uais(&app, "q=EMILE%20zola").await,
        (1, vec!["0110067N".into()])
    );
    assert_eq!(
        uais(&app, "q=%C3%A9cole").await.0,
        2,
        "« école » matches both écoles"
    );
    assert_eq!(
        uais(&app, "q=100%25").await.0,
        0,
        "LIKE wildcards are taken literally"
    );
    assert_eq!(uais(&app, "q=0350").await.0, 2, "a UAI prefix matches");
    let (total, page2) = uais(&app, "per_page=3&page=2").await;
    assert_eq!((total, page2), (4, vec!["0940176F".into()]));
}

#[tokio::test]
async fn bad_filters_are_all_reported() {
    let app = app_with_schools().await;
    let res = app
        .get("/api/v1/schools?type=universite&departement=20&per_page=0")
        .await;
    res.assert_status(StatusCode::BAD_REQUEST);
    let body = res.json();
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["departement", "type", "per_page"]);
    assert!(
        body["errors"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("ecole, college, lycee, erea, autre")
    );
}

#[tokio::test]
async fn versions_and_changelog() {
    let app = app_with_schools().await;
    let outcome = app
        .publish(
            "annuaire",
            Some("2024-01-15"),
            vec![(
                "0350017D",
                vec![(
                    "appellation_officielle",
                    json!("Collège du Querpon (Val d'Anast)"),
                )],
            )],
        )
        .await;
    assert_eq!(outcome.version, Some(2));
    assert_eq!(
        (
            outcome.schools_created,
            outcome.schools_changed,
            outcome.values_changed
        ),
        (0, 1, 1)
    );
    // The same values again change nothing and publish no version.
    let again = app
        .publish(
            "annuaire",
            Some("2024-01-15"),
            vec![(
                "0350017D",
                vec![(
                    "appellation_officielle",
                    json!("Collège du Querpon (Val d'Anast)"),
                )],
            )],
        )
        .await;
    assert_eq!(again.version, None);

    let body = app.get("/api/v1/datasets/versions").await.json();
    assert_eq!(body["latest"], 2);
    assert_eq!(body["versions"][0]["version"], 2);
    assert_eq!(body["versions"][1]["schools_created"], 4);
    // 28 values, and each of the 4 schools' presence in the annuaire.
    assert_eq!(body["versions"][1]["values_changed"], 28 + 4);

    let body = app.get("/api/v1/datasets/versions/2/changes").await.json();
    assert_eq!(body["total_schools"], 1);
    let changes = body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["uai"], "0350017D");
    assert_eq!(changes[0]["field"], "appellation_officielle");
    assert_eq!(changes[0]["old"], "Collège du Querpon");
    assert_eq!(changes[0]["new"], "Collège du Querpon (Val d'Anast)");
    assert_eq!(changes[0]["old_source"]["millesime"], "2023-06-08");
    assert_eq!(changes[0]["new_source"]["millesime"], "2024-01-15");
    // The search sees the new name.
    assert_eq!(uais(&app, "q=val%20d%27anast").await.0, 1);

    let body = app
        .get("/api/v1/datasets/versions/1/changes?per_page=2")
        .await
        .json();
    assert_eq!(body["total_schools"], 4);
    // Two schools of 7 values each and their presence in the annuaire.
    assert_eq!(body["changes"].as_array().unwrap().len(), 2 * (7 + 1));
    assert!(body["changes"][0]["old"].is_null());

    app.get("/api/v1/datasets/versions/3/changes")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.get("/api/v1/datasets/versions/x/changes")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn field_catalogue_is_served() {
    let app = TestApp::new().await;
    let body = app.get("/api/v1/fields").await.json();
    let fields = body["fields"].as_array().unwrap();
    assert_eq!(fields[0]["name"], "uai");
    let wifi = fields.iter().find(|f| f["name"] == "wifi").unwrap();
    assert_eq!(wifi["theme"], "connectivite");
    assert_eq!(wifi["allowed"], json!(["permanent", "borne_mobile", "non"]));
    assert_eq!(wifi["expected_for"]["kind"], "etic");
    assert!(
        body["licence"]
            .as_str()
            .unwrap()
            .contains("Licence Ouverte")
    );
}

/// A school's completeness, checked against a count made here from the catalogue file and the
/// school's published values.
#[tokio::test]
async fn a_school_states_its_completeness_against_what_is_expected_of_it() {
    let app = TestApp::with_sample(|_| {}).await;
    let catalogue =
        std::fs::read_to_string(ecarto_tests::repo_root().join("backend/catalog/fields.csv"))
            .unwrap();
    let rows: Vec<Vec<String>> = catalogue
        .lines()
        .skip(1)
        .map(|l| l.split(';').map(str::to_owned).collect())
        .collect();
    let mut schools = Vec::new();
    for q in [
        "departement=035&per_page=150",
        "departement=035&secteur=prive&per_page=50",
    ] {
        let list = app.get(&format!("/api/v1/schools?{q}")).await.json();
        schools.extend(list["results"].as_array().unwrap().clone());
    }
    let mut checked = (0, 0);
    for summary in &schools {
        let uai = summary["uai"].as_str().unwrap();
        let school = app.get(&format!("/api/v1/schools/{uai}")).await.json();
        let value = |field: &str| {
            school["themes"]
                .as_object()
                .unwrap()
                .values()
                .find_map(|t| t.get(field))
                .map(|v| v["value"].clone())
                .filter(|v| !v.is_null() && v.as_str() != Some(""))
        };
        let secteur = summary["secteur"].as_str().unwrap_or("");
        let school_type = summary["type_etablissement"].as_str().unwrap_or("");
        let ministere = value("ministere_tutelle")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let (mut expected, mut filled) = (0, 0);
        for r in &rows {
            let is_expected = match r[5].as_str() {
                "all" => true,
                "public" => secteur == "public",
                "prive" => secteur == "prive",
                "none" => false,
                "etic" => {
                    secteur == "public"
                        && ["ecole", "college", "lycee", "erea"].contains(&school_type)
                        && (ministere.is_empty() || ministere.contains("EDUCATION NATIONALE"))
                }
                types => types.split(',').any(|t| t == school_type),
            };
            if is_expected {
                expected += 1;
                // The UAI is the record's key: always known.
                if r[0] == "uai" || value(&r[0]).is_some() {
                    filled += 1;
                }
            }
        }
        let c = &school["completeness"]["total"];
        assert_eq!(c["expected"], expected, "{uai}: {c}");
        assert_eq!(c["filled"], filled, "{uai}: {c}");
        if secteur == "prive" {
            checked.1 += 1;
            assert!(
                !school["completeness"]["missing"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("nb_terminaux")),
                "ETIC does not survey private schools: {uai}"
            );
        } else {
            checked.0 += 1;
        }
    }
    assert!(checked.0 > 50 && checked.1 > 10, "{checked:?}");
}
