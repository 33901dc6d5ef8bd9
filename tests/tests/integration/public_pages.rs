//! The public pages in a real headless Chromium, as a visitor uses them: the home page's
//! national figures, a search by name, by commune and by UAI, a school's page with every
//! value, its source and date, the downloads. Every page passes axe-core's serious and
//! critical checks, reads at 375 px, and is kept as a screenshot under `target/screenshots`.

use axum::http::{StatusCode, header};
use ecarto_tests::{TestApp, browser::Browser};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_goes_from_the_home_page_to_a_school_and_to_the_downloads() {
    let app = TestApp::with_sample(|_| {}).await;
    ecarto_tests::run_job(&app.state, "completeness").await;
    let base = app.serve().await;
    let browser = Browser::start().await;

    // The map first: every département is a link, with a table of the same values.
    browser.goto(&format!("{base}/carte")).await;
    let map = browser.wait_for_text("Carte des départements").await;
    assert!(
        map.contains("Ille-et-Vilaine") && map.contains("La Réunion"),
        "{map}"
    );
    let links = browser
        .script(
            "return document.querySelectorAll('svg a[href^=\"/territoires/departement/\"]:not([tabindex])').length;",
            json!([]),
        )
        .await;
    // One keyboard-reachable link per département (Île-de-France's zoom repeats eight of them
    // for the mouse only).
    assert_eq!(links, 101);
    browser.assert_accessible("carte").await;
    browser.screenshot("visiteur-0-carte").await;
    // The map's département leads to its page, and its page to its schools.
    let ille = browser
        .find("svg a[href='/territoires/departement/35']")
        .await;
    browser.click(&ille).await;
    browser.wait_for_text("Ille-et-Vilaine").await;
    browser.screenshot("visiteur-0b-departement").await;
    let list = browser
        .find("a[href^='/etablissements?departement=35']")
        .await;
    browser.click(&list).await;
    let schools = browser.wait_for_text("établissements").await;
    assert!(schools.contains("993 établissements"), "{schools}");
    browser.assert_accessible("liste d'un département").await;

    browser.goto(&base).await;
    let home = browser.wait_for_text("En France").await;
    assert!(
        home.contains("1\u{202f}606 établissements ouverts de l'annuaire"),
        "{home}"
    );
    assert!(
        home.contains("des valeurs attendues sont renseignées"),
        "{home}"
    );
    browser.assert_accessible("accueil").await;
    browser.screenshot("visiteur-1-accueil").await;

    // The first Tab reaches the skip link.
    let body = browser.find("body").await;
    browser.send_keys(&body, "\u{E004}").await;
    let focused = browser
        .script("return document.activeElement.textContent;", json!([]))
        .await;
    assert_eq!(focused, "Aller au contenu");

    // A search by name, typed without accents.
    let q = browser.find("#q").await;
    browser.send_keys(&q, "college du querpon\u{E007}").await;
    // (The home page says « établissement » too: wait for the results themselves.)
    let results = browser.wait_for_text("Collège du Querpon").await;
    assert!(results.contains("établissement"), "{results}");
    assert!(
        browser
            .url()
            .await
            .contains("/recherche?q=college+du+querpon")
    );
    browser.assert_accessible("recherche").await;
    browser.screenshot("visiteur-2-recherche").await;

    let link = browser.find("a[href='/etablissements/0350017D']").await;
    browser.click(&link).await;
    let school = browser.wait_for_text("Code UAI").await;
    assert!(school.contains("Collège du Querpon"), "{school}");
    assert!(school.contains("0350017D"));
    for heading in [
        "Établissement",
        "Connectivité",
        "Équipement",
        "Services et ressources",
        "Historique",
    ] {
        assert!(school.contains(heading), "{heading}: {school}");
    }
    // Each value with its source and its date, in French.
    assert!(school.contains("Annuaire de l'éducation"), "{school}");
    assert!(school.contains("08/06/2023"), "{school}");
    assert!(school.contains("Collège"), "{school}");
    assert!(school.contains("des valeurs attendues de cet établissement sont renseignées"));
    assert!(
        school.contains(
            "Figure dans l'annuaire de l'éducation depuis l'import 1 (annuaire au 08/06/2023)"
        ),
        "{school}"
    );
    browser.assert_accessible("établissement").await;
    browser.screenshot("visiteur-3-etablissement").await;

    // Readable on a phone: nothing wider than the screen.
    browser.resize(375, 812).await;
    assert!(
        !browser.overflows_horizontally().await,
        "the school page is wider than 375 px"
    );
    browser.screenshot("visiteur-4-etablissement-375px").await;
    browser.resize(1280, 900).await;

    // Its breadcrumb leads to its territories.
    let dept = browser
        .find("nav.breadcrumb a[href='/territoires/departement/35']")
        .await;
    browser.click(&dept).await;
    browser.wait_for_text("Ille-et-Vilaine").await;
    browser.assert_accessible("territoire").await;
    browser.screenshot("visiteur-4b-departement").await;

    // The downloads, from the menu.
    let downloads = browser.find("nav.main a[href='/telechargements']").await;
    browser.click(&downloads).await;
    let page = browser.wait_for_text("Toutes les versions").await;
    assert!(page.contains("Licence Ouverte"), "{page}");
    assert!(
        page.contains("Import annuaire : annuaire-ille-et-vilaine.csv"),
        "{page}"
    );
    browser.assert_accessible("téléchargements").await;
    browser.screenshot("visiteur-5-telechargements").await;

    // The national export's download says how far along it is, then how many schools.
    let csv = browser.find("a.export").await;
    browser.click(&csv).await;
    let done = browser.wait_for_text("Téléchargement terminé").await;
    let exported = app.get("/api/v1/exports/schools.csv").await.text();
    let schools = exported.trim_end().lines().count() - 1;
    let expected = format!("Téléchargement terminé : {} établissements", {
        // As the page writes it: French thousands with a narrow no-break space.
        let digits = schools.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        out
    });
    assert!(done.contains(&expected), "{expected} in {done}");
    assert!(
        done.contains(&format!("{schools} établissements)")),
        "the expected count beside the link: {done}"
    );

    // The changelog between two versions (by default the two latest).
    let see = browser
        .find("form[action='/telechargements/changements'] button")
        .await;
    browser.click(&see).await;
    let changes = browser.wait_for_text("Ce qui a changé de la version").await;
    assert!(
        changes.contains("ont touché") && changes.contains("Version"),
        "{changes}"
    );
    browser
        .assert_accessible("changements entre deux versions")
        .await;
    browser.screenshot("visiteur-6-changements").await;
}

#[tokio::test]
async fn the_changelog_between_two_versions_gives_each_value_before_and_after() {
    let app = TestApp::new().await;
    let a = ecarto_tests::uai("0350001");
    let b = ecarto_tests::uai("0350002");
    let name = |n: &str| vec![("appellation_officielle", serde_json::json!(n))];
    // 1: both created; 2: a renamed; 3: a renamed back, b renamed.
    app.publish(
        "annuaire",
        Some("2026-01-01"),
        vec![(&a, name("Collège A")), (&b, name("Collège B"))],
    )
    .await;
    app.publish(
        "annuaire",
        Some("2026-02-01"),
        vec![(&a, name("Collège A2"))],
    )
    .await;
    app.publish(
        "annuaire",
        Some("2026-03-01"),
        vec![(&a, name("Collège A")), (&b, name("Collège B3"))],
    )
    .await;
    let between = app.get("/api/v1/datasets/changes?from=1&to=3").await;
    between.assert_status(StatusCode::OK);
    let j = between.json();
    // a changed and changed back: no change from 1 to 3; b's name did change.
    assert_eq!(j["total_schools"], 2, "{j}");
    let changes = j["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{j}");
    assert_eq!(changes[0]["uai"], b.as_str());
    assert_eq!(changes[0]["old"], "Collège B");
    assert_eq!(changes[0]["new"], "Collège B3");
    let j = app.get("/api/v1/datasets/changes?from=1&to=2").await.json();
    assert_eq!(j["changes"][0]["new"], "Collège A2", "{j}");
    let page = app.get("/telechargements/changements?de=1&a=3").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("Collège B3"), "{}", page.text());
    for (query, status, words) in [
        ("from=3&to=1", StatusCode::BAD_REQUEST, "plus ancienne"),
        ("from=1&to=9", StatusCode::NOT_FOUND, "version 9"),
        ("from=x&to=", StatusCode::BAD_REQUEST, "numéro de version"),
    ] {
        let r = app.get(&format!("/api/v1/datasets/changes?{query}")).await;
        r.assert_status(status);
        assert!(r.text().contains(words), "{query}: {}", r.text());
    }
}

#[tokio::test]
async fn the_search_finds_schools_by_commune_and_by_uai_and_pages_say_what_went_wrong() {
    let app = TestApp::with_sample(|_| {}).await;
    // A commune, typed without its accents and hyphen: its schools, and the commune itself.
    let page = app.get("/recherche?q=saint%20erblon").await;
    page.assert_status(StatusCode::OK);
    assert_eq!(
        page.header(header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(
        html.contains("href=\"/territoires/commune/35266\""),
        "{html}"
    );
    assert!(html.contains("Saint-Erblon"));
    // By UAI: one school.
    let html = app.get("/recherche?q=0350122t").await.text();
    assert!(html.contains("1 établissement<"), "{html}");
    assert!(html.contains("/etablissements/0350122T"));
    // The API's search finds schools by commune too.
    let api = app
        .get("/api/v1/schools?q=saint-erblon&per_page=5")
        .await
        .json();
    assert!(api["total"].as_u64().unwrap() >= 1, "{api}");

    // What is typed comes back escaped.
    let html = app
        .get("/recherche?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await
        .text();
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;"));

    // A school the annuaire does not list says so; an unknown or malformed UAI is a page.
    let html = app.get("/etablissements/0110067N").await.text();
    assert!(html.contains("Hors de la liste officielle"), "{html}");
    let missing = app.get("/etablissements/0350122A").await;
    missing.assert_status(StatusCode::BAD_REQUEST);
    assert!(
        missing
            .text()
            .contains("la lettre attendue pour 0350122 est T")
    );
    assert!(missing.text().contains("<main id=\"contenu\""));
    let unknown = app
        .get(&format!("/etablissements/{}", ecarto_tests::uai("0999999")))
        .await;
    unknown.assert_status(StatusCode::NOT_FOUND);
    assert!(
        unknown.text().contains("aucun établissement"),
        "{}",
        unknown.text()
    );
    let css = app.get("/static/ecarto.css").await;
    css.assert_status(StatusCode::OK);
    assert_eq!(
        css.header(header::CONTENT_TYPE),
        Some("text/css; charset=utf-8")
    );
    app.get("/static/nope.css")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

/// The map's outlines shipped in the repository are exactly what the command draws from the
/// shared GeoJSON (`ecarto import map-outlines … --bundle backend/reference/departements-carte.tsv`).
#[test]
fn the_shipped_map_is_drawn_from_the_shared_outlines() {
    let geojson = std::fs::read_to_string(ecarto_tests::shared_data(
        "geo/departements-avec-outre-mer.geojson",
    ))
    .expect("the shared outlines");
    let drawn = ecarto::reference::map::outlines(&geojson).expect("outlines drawn");
    let shipped = std::fs::read_to_string(
        ecarto_tests::repo_root().join("backend/reference/departements-carte.tsv"),
    )
    .expect("the shipped bundle");
    assert!(
        ecarto::reference::map::to_bundle(&drawn) == shipped,
        "backend/reference/departements-carte.tsv is not what the command draws: run it again"
    );
}
