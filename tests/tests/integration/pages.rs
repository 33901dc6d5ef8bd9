//! Pages in a real headless Chromium: from the home page to a schema's documentation, then a
//! file checked through the page's form, as an agent would.

use ecarto_tests::{TestApp, browser::Browser};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_checks_a_file_from_the_documentation_page() {
    let app = TestApp::new().await;
    app.publish(
        "annuaire",
        Some("2026"),
        vec![(
            "0350006S",
            vec![
                ("type_etablissement", Value::from("ecole")),
                ("etat", Value::from("ouvert")),
            ],
        )],
    )
    .await;
    let base = app.serve().await;
    let browser = Browser::start().await;

    browser.goto(&base).await;
    let link = browser.find("a[href='/schemas']").await;
    browser.click(&link).await;
    browser.wait_for_text("Schémas de contribution").await;
    browser.assert_accessible("schémas de contribution").await;
    let inventory = browser
        .find("a[href='/schemas/inventaire-equipement/v1']")
        .await;
    browser.click(&inventory).await;
    let doc = browser.wait_for_text("Règles entre colonnes").await;
    assert!(doc.contains("nb_terminaux_moins_5_ans") && doc.contains("Vérifier un fichier"));
    browser.assert_accessible("documentation d'un schéma").await;

    // The agent's file, from their spreadsheet: Windows-1252, `;`, a French date, two errors.
    let file = app.dir.path().join("inventaire école.csv");
    let text = "UAI;Date inventaire;Nb terminaux;Nb terminaux moins 5 ans;Maintenance\r\n\
                0350006S;01/09/2025;12;15;Collectivité\r\n\
                0350008U;2025-09-01;-1;;\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    std::fs::write(&file, &bytes).expect("file written");
    let input = browser.find("input[type=file]").await;
    browser.send_keys(&input, &file.to_string_lossy()).await;
    browser
        .script(
            "document.querySelector('select[name=format]').value = arguments[0];",
            json!(["html"]),
        )
        .await;
    let submit = browser.find("form button[type=submit]").await;
    browser.click(&submit).await;
    let report = browser.wait_for_text("Rapport de validation").await;
    assert!(
        browser
            .url()
            .await
            .contains("/api/v1/validate/inventaire-equipement@v1")
    );
    assert!(report.contains("inventaire école.csv"), "{report}");
    assert!(report.contains("Windows-1252"), "{report}");
    assert!(
        report.contains("Ligne 2") && report.contains("Ligne 3"),
        "{report}"
    );
    // Cross-field rule, unknown school and the French date's warning, in plain words.
    assert!(
        report.contains("plus de terminaux de moins de 5 ans (15) que de terminaux au total (12)"),
        "{report}"
    );
    assert!(report.contains("ne figure pas dans l'annuaire"), "{report}");
    assert!(report.contains("préférez le format AAAA-MM-JJ"), "{report}");
    browser
        .assert_accessible("rapport de validation (API)")
        .await;
    browser.screenshot("agent-rapport-api").await;
}

/// A rate as the page writes it: `87,3 %`.
fn percent(rate: &Value) -> String {
    format!("{:.1} %", rate.as_f64().unwrap() * 100.0).replace('.', ",")
}

/// A collectivité's agent goes from the home page down to their département's scores, filters
/// them to collèges, and finds the numbers the API gives, with the list of missing values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reads_the_scores_of_their_departement_down_from_the_nation() {
    let app = TestApp::with_sample(|_| {}).await;
    let run = ecarto::jobs::run_now(&app.state, "completeness", "cli")
        .await
        .unwrap();
    assert_eq!(run.status, "succeeded");
    let base = app.serve().await;
    let browser = Browser::start().await;

    browser.goto(&base).await;
    let link = browser.find("a[href='/territoires']").await;
    browser.click(&link).await;
    let national = browser
        .wait_for_text("Indicateurs de l'état des lieux")
        .await;
    let api = app
        .get("/api/v1/territories/national/completeness")
        .await
        .json();
    assert!(
        national.contains(&percent(&api["total"]["rate"])),
        "{national}"
    );
    let region = browser.find("a[href='/territoires/region/53']").await;
    browser.click(&region).await;
    browser.wait_for_text("Bretagne – Région").await;
    let departement = browser.find("a[href='/territoires/departement/35']").await;
    browser.click(&departement).await;
    let page = browser.wait_for_text("Ille-et-Vilaine – Département").await;
    assert!(page.contains("Région Bretagne"), "the way back up: {page}");

    // Collèges only, through the page's form.
    browser
        .script(
            "document.querySelector('select[name=type]').value = arguments[0];",
            json!(["college"]),
        )
        .await;
    let submit = browser.find("form button[type=submit]").await;
    browser.click(&submit).await;
    let page = browser.wait_for_text("retenus par le filtre").await;
    assert!(browser.url().await.contains("type=college"));
    let api = app
        .get("/api/v1/territories/departement/35/completeness?type=college")
        .await
        .json();
    let total = &api["total"];
    assert!(
        page.contains(&format!(
            "{} valeurs renseignées sur {} attendues",
            total["filled"], total["expected"]
        )),
        "{page}"
    );
    assert!(page.contains(&format!("{} établissements ouverts", api["schools"])));
    let terminaux = api["by_field"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "nb_terminaux")
        .unwrap();
    let missing = terminaux["expected"].as_u64().unwrap() - terminaux["filled"].as_u64().unwrap();
    assert!(missing > 0);
    // The to-do list of that field, for collèges, as the page links it.
    let href =
        "/api/v1/territories/departement/35/missing?field=nb_terminaux&type=college&format=csv";
    let csv_link = browser.find(&format!("a[href='{href}']")).await;
    let label = browser
        .script(
            "return document.querySelector(`a[href='${arguments[0]}']`).innerText;",
            json!([href]),
        )
        .await;
    assert_eq!(label, format!("{missing} (CSV)"), "{csv_link}");
    let csv = app.get(href).await.text();
    assert_eq!(csv.lines().count() as u64, missing + 1, "{csv}");
    assert!(page.contains("Évolution") && page.contains("Qualité"));
}
