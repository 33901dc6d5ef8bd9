//! The scores job: completeness, quality and indicators per territory, checked against counts
//! made here from the raw files of `../shared/data`; history; recompute after merges; one run
//! per tick across replicas; the to-do list of missing values.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use ecarto::{app::AppState, jobs};
use ecarto_tests::TestApp;
use serde_json::{Value, json};

type Row = HashMap<String, String>;
fn raw(rel: &str) -> Vec<Row> {
    ecarto_tests::raw_rows(rel)
}

async fn seeded(adjust: impl FnOnce(&mut ecarto::config::Config)) -> TestApp {
    TestApp::with_sample(adjust).await
}

async fn run(state: &AppState, job: &str) -> Value {
    ecarto_tests::run_job(state, job).await
}

use ecarto_tests::field_score as field;

/// Completeness, indicators and quality of the ETIC survey's schools, as stored by the job,
/// against counts made from the survey file itself. (Completeness of the annuaire's fields
/// against the annuaire files: `official_list.rs`.)
#[tokio::test]
async fn stored_scores_match_counts_from_the_raw_files() {
    let app = seeded(|_| {}).await;
    // The sample holds no annuaire of the académie de Montpellier: its schools, known from
    // ETIC only, count nowhere. An extract of the annuaire listing the Aude's collèges the
    // survey answered for puts them in the official list.
    let mut extract = "Identifiant_de_l_etablissement;Nom_etablissement;Type_etablissement;Statut_public_prive;Code_departement;etat;date_maj_ligne\n".to_owned();
    let mut listed = std::collections::BTreeSet::new();
    for r in raw("etic/etic-2d-academie-montpellier.csv") {
        if r["Departement"] == "AUDE"
            && r["typ_etab"] == "C"
            && listed.insert(r["Code_UAI"].clone())
        {
            extract.push_str(&format!(
                "{};Collège;Collège;Public;011;OUVERT;2025-06-01\n",
                r["Code_UAI"]
            ));
        }
    }
    let o = app
        .import_file(
            ecarto::services::imports::ImportKind::Annuaire,
            "annuaire-aude-colleges.csv",
            extract.as_bytes(),
        )
        .await;
    assert!(o.report.register.as_ref().unwrap().marked_absent.is_empty());
    let counts = run(&app.state, "completeness").await;
    assert!(counts["written"].as_u64().unwrap() > 5, "{counts}");

    // ETIC, the académie de Montpellier's survey: the Aude's collèges.
    // The file holds 2018 and 2019: a school's value is its latest communicated one (an
    // empty cell is "not communicated", it does not erase the year before).
    let mut etic_rows: Vec<Row> = raw("etic/etic-2d-academie-montpellier.csv")
        .into_iter()
        .filter(|r| r["Departement"] == "AUDE" && r["typ_etab"] == "C")
        .collect();
    etic_rows.sort_by(|a, b| a["Millesime"].cmp(&b["Millesime"]));
    let mut latest: std::collections::BTreeMap<String, Row> = Default::default();
    for r in etic_rows {
        let school = latest.entry(r["Code_UAI"].clone()).or_default();
        for (k, v) in r {
            if !v.is_empty() || !school.contains_key(&k) {
                school.insert(k, v);
            }
        }
    }
    let etic: Vec<Row> = latest.into_values().collect();
    assert!(etic.len() > 10);
    let scores = app
        .get("/api/v1/territories/departement/11/completeness?type=college&field=nb_terminaux")
        .await
        .json();
    let got = field(&scores, "nb_terminaux").unwrap();
    assert_eq!(got["expected"], etic.len());
    assert_eq!(
        got["filled"],
        etic.iter().filter(|r| !r["NbTerminaux"].is_empty()).count()
    );
    let num = |s: &str| s.replace(',', ".").parse::<f64>().ok();
    let indicators = app
        .get("/api/v1/territories/departement/11/indicators?type=college")
        .await
        .json();
    let ind = |name: &str| {
        indicators["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap()
            .clone()
    };
    let tni = ind("au_moins_un_tni");
    let answered: Vec<f64> = etic.iter().filter_map(|r| num(&r["NbTBI"])).collect();
    assert_eq!(tni["denominator"], answered.len() as f64);
    assert_eq!(
        tni["numerator"],
        answered.iter().filter(|n| **n > 0.0).count() as f64
    );
    assert_eq!(tni["expected"], etic.len());
    let (pupils, terminals) = etic
        .iter()
        .filter_map(|r| Some((num(&r["NbEleve"])?, num(&r["NbTerminaux"])?)))
        .filter(|(_, t)| *t > 0.0)
        .fold((0.0, 0.0), |(p, t), (a, b)| (p + a, t + b));
    let ratio = ind("eleves_par_terminal");
    assert_eq!(ratio["numerator"], pupils);
    assert_eq!(ratio["denominator"], terminals);
    assert!((ratio["value"].as_f64().unwrap() - pupils / terminals).abs() < 1e-9);
    // Every indicator states its n.c. rate beside its counts.
    assert!(tni["nc_rate"].as_f64().is_some());

    // Quality and CSV exports.
    let quality = app
        .get("/api/v1/territories/departement/35/quality")
        .await
        .json();
    assert!(quality["stale"]["total"].as_u64().unwrap() > 0, "{quality}");
    assert_eq!(
        quality["by_rule"].as_array().unwrap().len(),
        ecarto::domain::scores::RULES.len()
    );
    for view in [
        "completeness",
        "quality",
        "indicators",
        "completeness/history",
    ] {
        let res = app
            .get(&format!("/api/v1/territories/region/53/{view}?format=csv"))
            .await;
        res.assert_status(StatusCode::OK);
        assert!(res.text().lines().count() > 1, "{view}: {}", res.text());
    }
}

/// A merge recomputes its territories once the dataset is quiet; the history keeps each run,
/// and a full recompute afterwards finds nothing to change.
#[tokio::test]
async fn merges_update_the_touched_territories_and_history_keeps_each_run() {
    let app = seeded(|c| c.scores.debounce = chrono::Duration::zero()).await;
    let first = run(&app.state, "completeness").await;
    let v1 = first["dataset_version"].as_i64().unwrap();
    // Unchanged data: the run writes nothing.
    let again = run(&app.state, "completeness").await;
    assert_eq!(again["written"], 0, "{again}");
    let idle = run(&app.state, "completeness_touched").await;
    assert!(idle["skipped"].is_string(), "{idle}");

    let before = app
        .get("/api/v1/territories/departement/35/completeness?field=nb_terminaux")
        .await
        .json();
    let uai = app
        .get("/api/v1/territories/departement/35/missing?field=nb_terminaux&type=college")
        .await
        .json()["items"][0]["uai"]
        .as_str()
        .unwrap()
        .to_owned();
    let outcome = app
        .publish(
            "etic",
            Some("2026"),
            vec![(
                uai.as_str(),
                vec![
                    ("nb_terminaux", json!(40)),
                    ("nb_tablettes", json!(55)),
                    ("nb_operateurs_4g", json!(9)),
                ],
            )],
        )
        .await;
    let v2 = outcome.version.unwrap();
    let touched = run(&app.state, "completeness_touched").await;
    assert_eq!(touched["scope"], "touched", "{touched}");
    // The département, its EPCI, académie, région and the nation.
    assert_eq!(touched["written"], 5, "{touched}");

    let filled = |v: &Value| {
        field(v, "nb_terminaux").unwrap()["filled"]
            .as_u64()
            .unwrap()
    };
    let after = app
        .get("/api/v1/territories/departement/35/completeness?field=nb_terminaux")
        .await
        .json();
    assert_eq!(filled(&after), filled(&before) + 1);
    assert_eq!(after["version"], v2);
    let then = app
        .get(&format!(
            "/api/v1/territories/departement/35/completeness?field=nb_terminaux&at=v{v1}"
        ))
        .await
        .json();
    assert_eq!(filled(&then), filled(&before));
    let national_then = app
        .get(&format!(
            "/api/v1/territories/national/completeness?at=v{v1}&field=nb_terminaux"
        ))
        .await
        .json();
    let national_now = app
        .get("/api/v1/territories/national/completeness?field=nb_terminaux")
        .await
        .json();
    assert_eq!(filled(&national_now), filled(&national_then) + 1);
    let history = app
        .get("/api/v1/territories/academie/14/completeness/history?field=nb_terminaux")
        .await
        .json();
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{history}");
    assert_eq!(
        points[1]["filled"].as_u64().unwrap(),
        points[0]["filled"].as_u64().unwrap() + 1
    );
    // A commune is computed on request, at a version too, and so is its history.
    let code = after_commune(&app, &uai).await;
    let commune = app
        .get(&format!(
            "/api/v1/territories/commune/{code}/completeness?field=nb_terminaux&at=v{v1}"
        ))
        .await
        .json();
    assert_eq!(commune["basis"]["source"], "live");
    assert_eq!(commune["version"], v1);
    let commune_now = app
        .get(&format!(
            "/api/v1/territories/commune/{code}/completeness?field=nb_terminaux"
        ))
        .await
        .json();
    assert_eq!(filled(&commune_now), filled(&commune) + 1);
    let history = app
        .get(&format!(
            "/api/v1/territories/commune/{code}/completeness/history?field=nb_terminaux"
        ))
        .await
        .json();
    assert_eq!(history["source"], "live");
    let points = history["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        2,
        "the first run and the run after the merge: {history}"
    );
    assert_eq!(points[0]["dataset_version"], v1);
    assert_eq!(points[1]["dataset_version"], v2);
    assert_eq!(
        points[0]["filled"],
        field(&commune, "nb_terminaux").unwrap()["filled"]
    );
    assert_eq!(
        points[1]["filled"],
        field(&commune_now, "nb_terminaux").unwrap()["filled"]
    );
    let csv = app
        .get(&format!(
            "/api/v1/territories/commune/{code}/completeness/history?field=nb_terminaux&format=csv"
        ))
        .await
        .text();
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // Quality sees the broken rule and the invalid value.
    let quality = app
        .get("/api/v1/territories/departement/35/quality?theme=equipement&type=college")
        .await
        .json();
    let rule = quality["by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "tablettes_sous_terminaux")
        .unwrap();
    assert_eq!(
        (rule["checked"].as_u64(), rule["violated"].as_u64()),
        (Some(1), Some(1))
    );
    let connectivity = app
        .get("/api/v1/territories/departement/35/quality?field=nb_operateurs_4g")
        .await
        .json();
    assert_eq!(connectivity["invalid"]["count"], 1, "{connectivity}");

    // The touched départements summed into académie, région and nation agree with a full
    // recompute: it finds nothing to write.
    let full = run(&app.state, "completeness").await;
    assert_eq!(full["written"], 0, "{full}");
    app.get("/api/v1/territories/departement/35/completeness?at=hier")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

async fn after_commune(app: &TestApp, uai: &str) -> String {
    let school = app.get(&format!("/api/v1/schools/{uai}")).await.json();
    school["themes"]["etablissement"]["code_commune"]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_compute_each_tick_once() {
    let app = seeded(|_| {}).await;
    let other = AppState::start(app.state.config.as_ref().clone())
        .await
        .expect("second replica");
    let tick = jobs::tick_of(chrono::Utc::now(), 86_400);
    let (a, b) = tokio::join!(
        jobs::run(&app.state, "completeness", &tick, "schedule"),
        jobs::run(&other, "completeness", &tick, "schedule"),
    );
    let ran: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(ran.len(), 1, "exactly one replica ran the tick");
    assert_eq!(ran[0].status, "succeeded");
    let runs = ecarto::services::scores::runs(&app.state.db, 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
}

/// The to-do list: every school missing a value, or, for a collectivité, those it may fill.
#[tokio::test]
async fn the_missing_list_is_restricted_to_what_a_collectivite_can_fill() {
    let app = seeded(|_| {}).await;
    let all = app
        .get("/api/v1/territories/departement/35/missing?field=nb_terminaux")
        .await
        .json();
    let types: std::collections::BTreeSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains("ecole") && types.contains("college"),
        "{types:?}"
    );
    assert!(all["restricted_to"].is_null());
    let scores = app
        .get("/api/v1/territories/departement/35/completeness?field=nb_terminaux")
        .await
        .json();
    let f = field(&scores, "nb_terminaux").unwrap();
    assert_eq!(
        all["schools"].as_u64().unwrap(),
        f["expected"].as_u64().unwrap() - f["filled"].as_u64().unwrap(),
        "one line per school missing the value"
    );

    let departement = app
        .session_for(
            "college@ille-et-vilaine.fr",
            Some("departement:35"),
            &["contributor"],
            &[],
        )
        .await;
    let mine = app
        .call(
            Some(&departement),
            Method::GET,
            "/api/v1/territories/departement/35/missing?field=nb_terminaux",
            None,
        )
        .await
        .json();
    assert!(
        mine["restricted_to"]
            .as_str()
            .unwrap()
            .contains("Ille-et-Vilaine")
    );
    let items = mine["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for i in items {
        assert_eq!(
            (i["type"].as_str(), i["secteur"].as_str()),
            (Some("college"), Some("public")),
            "{i}"
        );
    }
    let csv = app
        .call(
            Some(&departement),
            Method::GET,
            "/api/v1/territories/departement/35/missing?theme=equipement&format=csv",
            None,
        )
        .await;
    let text = csv.text();
    assert!(text.starts_with("uai;nom;type_etablissement;secteur;code_commune;champ"));
    assert!(
        text.lines().count() > items.len(),
        "one line per missing value"
    );
    app.get("/api/v1/territories/departement/35/missing?field=inconnu")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

/// Each school's score facts are worked out when it is published; facts missing (a school
/// published before they were kept), of other rules or unreadable are worked out again from
/// the record by the next full recompute, which stores them and finds the same scores.
#[tokio::test]
async fn score_facts_are_kept_at_publication_and_worked_out_again_when_stale() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = seeded(|c| c.scores.debounce = chrono::Duration::zero()).await;
    let db = &app.state.db;
    let count = async |sql: &str| -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    let key = ecarto::domain::scores::SchoolFacts::key();
    let total = count("SELECT COUNT(*) FROM schools").await;
    assert!(total > 100);
    let current = format!("SELECT COUNT(*) FROM schools WHERE score_facts_key = '{key}'");
    assert_eq!(
        count(&current).await,
        total,
        "every published school has its facts"
    );
    let first = run(&app.state, "completeness").await;
    assert!(first.get("refreshed_facts").is_none(), "{first}");
    let before = app
        .get("/api/v1/territories/national/completeness")
        .await
        .json();

    let missing = count("SELECT COUNT(*) FROM schools WHERE code_departement = '35'").await;
    let other = count("SELECT COUNT(*) FROM schools WHERE code_departement = '29'").await;
    for sql in [
        "UPDATE schools SET score_facts = NULL, score_facts_key = NULL \
         WHERE code_departement = '35'",
        "UPDATE schools SET score_facts_key = 'ancien' WHERE code_departement = '29'",
        "UPDATE schools SET score_facts = '{\"g\": \"ecole|public\"}' \
         WHERE uai IN (SELECT uai FROM schools \
         WHERE code_departement NOT IN ('35', '29') LIMIT 3)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    let again = run(&app.state, "completeness").await;
    assert_eq!(
        again["refreshed_facts"].as_i64().unwrap(),
        missing + other + 3,
        "{again}"
    );
    assert_eq!(again["written"], 0, "the same scores: {again}");
    assert_eq!(count(&current).await, total, "the facts are stored again");
    let third = run(&app.state, "completeness").await;
    assert!(third.get("refreshed_facts").is_none(), "{third}");
    assert_eq!(
        app.get("/api/v1/territories/national/completeness")
            .await
            .json()["by_field"],
        before["by_field"]
    );

    // The recompute after a merge works out the facts it lacks as well, and agrees with a
    // full recompute.
    db.execute_unprepared("UPDATE schools SET score_facts = NULL WHERE code_departement = '35'")
        .await
        .unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT uai FROM schools WHERE code_departement = '35' \
             AND type_etablissement = 'college' AND secteur = 'public' ORDER BY uai",
        ))
        .await
        .unwrap()
        .unwrap();
    let uai: String = row.try_get_by_index(0).unwrap();
    app.publish(
        "etic",
        Some("2026"),
        vec![(uai.as_str(), vec![("nb_terminaux", json!(33))])],
    )
    .await;
    let touched = run(&app.state, "completeness_touched").await;
    assert_eq!(touched["scope"], "touched", "{touched}");
    assert!(touched["written"].as_i64().unwrap() > 0, "{touched}");
    assert_eq!(count(&current).await, total, "the facts are stored again");
    let full = run(&app.state, "completeness").await;
    assert_eq!(full["written"], 0, "{full}");
    assert!(full.get("refreshed_facts").is_none(), "{full}");
}

/// A filter naming no real type, secteur, theme or field is a clear 400, page and API alike.
#[tokio::test]
async fn unknown_filters_are_named_in_the_error() {
    let app = seeded(|_| {}).await;
    for (path, pointer) in [
        (
            "/api/v1/territories/departement/35/completeness?type=licorne",
            "type",
        ),
        (
            "/api/v1/territories/departement/35/quality?secteur=mixte",
            "secteur",
        ),
        (
            "/api/v1/territories/national/indicators?theme=cantine",
            "theme",
        ),
        (
            "/api/v1/territories/departement/35/missing?field=nb_licornes",
            "field",
        ),
    ] {
        let res = app.get(path).await;
        res.assert_status(StatusCode::BAD_REQUEST);
        let body = res.json();
        assert_eq!(body["errors"][0]["pointer"], pointer, "{path}: {body}");
    }
    // The page says it as a page, naming the parameter and what it accepts.
    let res = app.get("/territoires/departement/35?type=licorne").await;
    res.assert_status(StatusCode::BAD_REQUEST);
    let html = res.text();
    assert!(html.contains("<main id=\"contenu\""), "{html}");
    assert!(html.contains("licorne") && html.contains("ecole"), "{html}");
    let body = app
        .get("/api/v1/territories/national/completeness?type=licorne")
        .await
        .json();
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("ecole, college, lycee, erea, autre"),
        "{body}"
    );
    app.get("/api/v1/territories/national/completeness?secteur=inconnu&type=autre")
        .await
        .assert_status(StatusCode::OK);
}
