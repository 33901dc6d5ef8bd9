//! A collectivité's journey in a real headless Chromium: the Ille-et-Vilaine's agent signs in
//! by an e-mail link, downloads the inventory template pre-filled with the collèges missing
//! it, fills it as in a spreadsheet (with mistakes), uploads it, reads the report, fixes two
//! cells in place and one wrong label on several rows at once, sees what will change, sends
//! the valid rows (the one left invalid stays a draft) and follows it in « Mes
//! contributions ». Every page passes axe-core.

use ecarto_tests::{
    TestApp,
    browser::{Browser, sign_in_by_email},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collectivite_fixes_its_file_in_the_browser_and_sends_it() {
    let app = TestApp::with_sample(|_| {}).await;
    // Given by an admin: the département's agent, a contributor for its collèges.
    app.session_for(
        "numerique@ille-et-vilaine.fr",
        Some("departement:35"),
        &["contributor"],
        &[],
    )
    .await;
    let base = app.serve().await;
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/contribuer")).await;
    sign_in_by_email(&app, &browser, &base, "numerique@ille-et-vilaine.fr").await;
    let page = browser.wait_for_text("Choisir ce que vous envoyez").await;
    assert!(
        page.contains("Inventaire de l'équipement numérique des établissements"),
        "{page}"
    );
    assert!(!page.contains("Signalement d'une donnée"), "{page}");
    browser.assert_accessible("contribuer").await;
    browser.screenshot("collectivite-1-contribuer").await;

    // The pre-filled template: the collèges of the département missing an inventory value.
    let href = "/contribuer/inventaire-equipement@v1/modele-pre-rempli.csv";
    browser.find(&format!("a[href='{href}']")).await;
    let template = browser
        .script(
            "return fetch(arguments[0]).then(r => r.text());",
            serde_json::json!([href]),
        )
        .await;
    let template = template.as_str().expect("the template's text");
    let lines: Vec<&str> = template.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("uai;date_inventaire;nb_terminaux;"),
        "{}",
        lines[0]
    );
    assert!(lines.len() > 20, "{} lines", lines.len());
    let uais: Vec<&str> = lines[1..].iter().map(|l| &l[..8]).collect();
    assert!(uais.iter().all(|u| u.starts_with("035")), "{uais:?}");
    assert!(uais.contains(&"0350017D"), "{uais:?}");

    // Filled in a spreadsheet: five collèges kept, three mistakes in cells and a wrong label
    // for the maintenance on three rows; the last row's date left wrong on purpose.
    let header = lines[0];
    let width = header.split(';').count();
    let row = |uai: &str, date: &str, total: &str, maintenance: &str| {
        let mut cells = vec![String::new(); width];
        let names: Vec<&str> = header.split(';').collect();
        let at = |n: &str| names.iter().position(|h| *h == n).unwrap();
        cells[at("uai")] = uai.to_owned();
        cells[at("date_inventaire")] = date.to_owned();
        cells[at("nb_terminaux")] = total.to_owned();
        cells[at("maintenance")] = maintenance.to_owned();
        cells.join(";")
    };
    let file = [
        header.to_owned(),
        row(uais[0], "2026-09-15", "120", "Maintenance ext"),
        row(uais[1], "2026-09-15", "beaucoup", "Maintenance ext"),
        row(uais[2], "2026-09-15", "95", "Maintenance ext"),
        row(uais[3], "2026-09-15", "-4", "collectivite"),
        row(uais[4], "31/02/2026", "60", "collectivite"),
    ]
    .join("\r\n");
    let path = app.dir.path().join("inventaire-35.csv");
    std::fs::write(&path, format!("{file}\r\n")).unwrap();

    upload_inventory(&browser, &path).await;
    let report = browser.wait_for_text("Vérification de votre fichier").await;
    assert!(
        report.contains("5\nligne(s) lue(s)") || report.contains("5 ligne(s) lue(s)"),
        "{report}"
    );
    assert!(
        report.contains("Corriger la même erreur sur plusieurs lignes"),
        "{report}"
    );
    assert!(
        report.contains("« Maintenance ext » sur 3 lignes"),
        "{report}"
    );
    assert!(report.contains("Ligne 3"), "{report}");
    browser.assert_accessible("rapport de validation").await;
    browser.screenshot("collectivite-2-rapport").await;
    browser
        .script(
            "document.querySelector('form.bulk').scrollIntoView();",
            serde_json::json!([]),
        )
        .await;
    browser
        .screenshot("collectivite-2-rapport-corrections")
        .await;
    browser
        .script("window.scrollTo(0, 0);", serde_json::json!([]))
        .await;
    browser.resize(375, 800).await;
    assert!(
        !browser.overflows_horizontally().await,
        "the report is readable at 375 px: {}",
        browser.elements_wider_than_window().await
    );
    browser.screenshot("collectivite-2-rapport-375").await;
    browser.resize(1280, 900).await;

    // Two cells fixed in place: the number of devices of line 3 and line 5.
    let nb = header.split(';').position(|h| h == "nb_terminaux").unwrap();
    for (line, value) in [(3, "88"), (5, "40")] {
        let id = format!("c-{line}-{nb}");
        browser
            .script(
                "document.getElementById(arguments[0]).value = '';",
                serde_json::json!([id]),
            )
            .await;
        let cell = browser.find(&format!("#{id}")).await;
        browser.send_keys(&cell, value).await;
    }
    let save = browser
        .find("form[action$='/corriger'] button[type=submit]")
        .await;
    browser.click(&save).await;
    let after = browser.wait_for_text("2 cellules corrigées").await;
    assert!(
        after.contains("« Maintenance ext » sur 3 lignes"),
        "{after}"
    );

    // The wrong label, fixed on its three rows at once.
    browser
        .script(
            "document.querySelector('form.bulk select').value = 'prestataire';",
            serde_json::json!([]),
        )
        .await;
    let all = browser.find("form.bulk button").await;
    browser.click(&all).await;
    let after = browser.wait_for_text("sur 3 ligne(s)").await;
    assert!(!after.contains("Corriger la même erreur"), "{after}");
    // What is left: line 6's date, and what will change for the four valid rows.
    assert!(after.contains("Ligne 6"), "{after}");
    assert!(
        after.contains("4\nligne(s) valide(s)") || after.contains("4 ligne(s) valide(s)"),
        "{after}"
    );
    assert!(after.contains("Ce qui changera"), "{after}");
    assert!(
        after.contains("Nombre total de terminaux") || after.contains("terminaux"),
        "{after}"
    );
    assert!(
        after.contains("non communiqué") && after.contains("88"),
        "{after}"
    );
    browser.assert_accessible("rapport après corrections").await;
    browser.screenshot("collectivite-3-ce-qui-changera").await;

    // The corrected file is what is sent; the original stays stored.
    let fixed = browser
        .script(
            "return fetch(location.pathname + '/fichier/corrige').then(r => r.text());",
            serde_json::json!([]),
        )
        .await;
    let fixed = fixed.as_str().unwrap();
    assert!(
        fixed.contains(";88;") && fixed.contains("prestataire"),
        "{fixed}"
    );
    let original = browser
        .script(
            "return fetch(location.pathname + '/fichier/original').then(r => r.text());",
            serde_json::json!([]),
        )
        .await;
    assert!(original.as_str().unwrap().contains("beaucoup"));

    let send = browser
        .find("form[action$='/envoyer'] button[type=submit]")
        .await;
    browser.click(&send).await;
    let sent = browser.wait_for_text("Votre fichier est envoyé").await;
    assert!(sent.contains("4 ligne(s) partent en relecture"), "{sent}");
    assert!(sent.contains("En attente de relecture"), "{sent}");
    assert!(sent.contains("Non envoyée : à corriger"), "{sent}");
    assert!(sent.contains("inventaire-35-corrige.csv"), "{sent}");
    browser.assert_accessible("envoi").await;
    browser.screenshot("collectivite-4-envoi").await;

    // The invalid row stays a draft, alone in its file, to fix and send later.
    let left = browser.find("a[href^='/contribuer/brouillons/']").await;
    browser.click(&left).await;
    let rest = browser.wait_for_text("Vérification de votre fichier").await;
    assert!(
        rest.contains("inventaire-35-lignes-a-corriger.csv"),
        "{rest}"
    );
    assert!(
        rest.contains("1\nligne(s) lue(s)") || rest.contains("1 ligne(s) lue(s)"),
        "{rest}"
    );

    browser.goto(&format!("{base}/mes-contributions")).await;
    let mine = browser.wait_for_text("Mes contributions").await;
    assert!(
        mine.contains("inventaire-35-corrige.csv") && mine.contains("En attente de relecture"),
        "{mine}"
    );
    assert!(
        mine.contains("inventaire-35-lignes-a-corriger.csv"),
        "{mine}"
    );
    browser.assert_accessible("mes contributions").await;
    browser.screenshot("collectivite-5-mes-contributions").await;

    // A national-size file: its page shows the check going, then the report below.
    let path = app.dir.path().join("inventaire-national.csv");
    std::fs::write(&path, large_inventory(8_000)).unwrap();
    browser.goto(&format!("{base}/contribuer")).await;
    upload_inventory(&browser, &path).await;
    let report = browser.wait_for_text("ligne(s) lue(s)").await;
    assert!(
        report.contains("Vérification terminée : 8\u{202f}000 ligne(s)"),
        "{report}"
    );
    // Only the last progress line is on screen.
    assert!(!report.contains("Lecture du fichier"), "{report}");
    browser
        .assert_accessible("rapport d'un grand fichier")
        .await;
    browser.screenshot("collectivite-6-grand-fichier").await;
}

/// Chooses the file in « Contribuer »'s inventory form and sends it to be checked.
async fn upload_inventory(browser: &Browser, path: &std::path::Path) {
    let input = browser.find("#file-inventaire-equipement").await;
    browser.send_keys(&input, path.to_str().unwrap()).await;
    let check = browser
        .find("form[action^='/contribuer/inventaire-equipement@v1'] button")
        .await;
    browser.click(&check).await;
}

/// The département's agent, a contributor for its collèges, signed in.
async fn ille_et_vilaine_agent(app: &TestApp) -> ecarto_tests::Session {
    app.session_for(
        "numerique@ille-et-vilaine.fr",
        Some("departement:35"),
        &["contributor"],
        &[],
    )
    .await
}

/// The first row's cells of a workbook's first sheet, and its column of UAIs below.
fn read_book(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    use calamine::{Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("a workbook");
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).expect("its sheet");
    let mut rows = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let header = rows.next().unwrap_or_default();
    (header, rows.collect())
}

#[tokio::test]
async fn the_templates_come_as_workbooks_too_and_the_prefilled_one_lists_the_same_schools() {
    use axum::http::{Method, StatusCode};
    let app = TestApp::with_sample(|_| {}).await;
    let agent = ille_et_vilaine_agent(&app).await;
    let schema = ecarto_contrib_schemas::Registry::embedded()
        .resolve("inventaire-equipement")
        .unwrap();
    let columns: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();

    let empty = app
        .get("/api/v1/schemas/inventaire-equipement/v1/template.xlsx")
        .await;
    empty.assert_status(StatusCode::OK);
    let (header, rows) = read_book(&empty.body);
    assert_eq!(header, columns);
    let at = |n: &str| columns.iter().position(|c| c == n).unwrap();
    assert_eq!(rows[0][at("nb_terminaux")], "48", "the example row");

    let csv = app
        .call(
            Some(&agent),
            Method::GET,
            "/contribuer/inventaire-equipement@v1/modele-pre-rempli.csv",
            None,
        )
        .await;
    csv.assert_status(StatusCode::OK);
    let from_csv: Vec<String> = csv
        .text()
        .trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| l.split(';').next().unwrap().to_owned())
        .collect();
    let book = app
        .call(
            Some(&agent),
            Method::GET,
            "/contribuer/inventaire-equipement@v1/modele-pre-rempli.xlsx",
            None,
        )
        .await;
    book.assert_status(StatusCode::OK);
    let (header, rows) = read_book(&book.body);
    assert_eq!(header, columns);
    let from_book: Vec<String> = rows.iter().map(|r| r[at("uai")].clone()).collect();
    assert!(from_book.len() > 20, "{from_book:?}");
    assert_eq!(from_book, from_csv);

    // Without an organisation there is no competence to pre-fill from: said, not an empty file.
    let parent = app.session_for("parent@exemple.fr", None, &[], &[]).await;
    let refused = app
        .call(
            Some(&parent),
            Method::GET,
            "/contribuer/inventaire-equipement@v1/modele-pre-rempli.csv",
            None,
        )
        .await;
    refused.assert_status(StatusCode::FORBIDDEN);
    assert!(
        refused.text().contains("organisation"),
        "{}",
        refused.text()
    );
}

/// The « Contribuer » form's body with one file, and its content type.
fn multipart(name: &str, content: &str) -> (Vec<u8>, String) {
    let boundary = "ecarto-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    (
        body.into_bytes(),
        format!("multipart/form-data; boundary={boundary}"),
    )
}

/// A national-size file for the inventory: `rows` rows of distinct well-formed UAIs of the
/// Ille-et-Vilaine (most unknown to the register, so the report has plenty to say).
fn large_inventory(rows: usize) -> String {
    let mut file = String::from("uai;date_inventaire;nb_terminaux;maintenance\r\n");
    for i in 0..rows {
        let uai = ecarto_tests::uai(&format!("035{:04}", i % 10_000));
        file.push_str(&format!(
            "{uai};2026-09-15;{};prestataire\r\n",
            10 + i % 300
        ));
    }
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_files_report_comes_after_the_progress_of_its_check() {
    let app = TestApp::with_sample(|_| {}).await;
    let agent = ille_et_vilaine_agent(&app).await;
    let base = app.serve().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!(
        "{}={}",
        ecarto::services::auth::SESSION_COOKIE,
        agent.cookie
    );
    let file = large_inventory(8_000);
    assert!(file.len() > 256 * 1024, "{} bytes", file.len());

    // Sent by the page's script: answered with where to go, not a redirect to follow.
    let (form, content_type) = multipart("inventaire-national.csv", &file);
    let sent = client
        .post(format!(
            "{base}/contribuer/inventaire-equipement@v1?csrf_token={}",
            agent.csrf
        ))
        .header("cookie", &cookie)
        .header("x-requested-with", "ecarto.js")
        .header("content-type", &content_type)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201, "{:?}", sent.text().await);
    let location = sent.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/contribuer/brouillons/"),
        "{location}"
    );

    let mut page = client
        .get(format!("{base}{location}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // The page's start comes before the check is done: the heading and where progress goes.
    let first = page.chunk().await.unwrap().expect("a first part");
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(
        first.contains("<h1>Vérification de votre fichier</h1>"),
        "{first}"
    );
    assert!(first.contains("class=\"checking\""), "{first}");
    assert!(!first.contains("ligne(s) lue(s)"), "{first}");
    let mut rest = first;
    while let Some(chunk) = page.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    let done = rest
        .find("Vérification terminée : 8\u{202f}000 ligne(s)")
        .unwrap_or_else(|| panic!("{rest}"));
    let report = rest.find("ligne(s) lue(s)").expect("the report");
    assert!(done < report);
    // Every progress line counts against the file's lines.
    for line in rest.match_indices("Lignes vérifiées : ") {
        assert!(
            rest[line.0..].contains("sur environ 8\u{202f}000"),
            "{}",
            &rest[line.0..line.0 + 120]
        );
    }
    assert!(
        rest.trim_end().ends_with("</html>"),
        "{}",
        &rest[rest.len() - 300..]
    );

    // Without the script, the form's answer is the usual redirect.
    let (form, content_type) = multipart("petit.csv", &large_inventory(10));
    let plain = client
        .post(format!(
            "{base}/contribuer/inventaire-equipement@v1?csrf_token={}",
            agent.csrf
        ))
        .header("cookie", &cookie)
        .header("content-type", &content_type)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 303);
}
