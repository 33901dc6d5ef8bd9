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
    let inventory = browser
        .find("a[href='/schemas/inventaire-equipement/v1']")
        .await;
    browser.click(&inventory).await;
    let doc = browser.wait_for_text("Règles entre colonnes").await;
    assert!(doc.contains("nb_terminaux_moins_5_ans") && doc.contains("Vérifier un fichier"));

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
}
