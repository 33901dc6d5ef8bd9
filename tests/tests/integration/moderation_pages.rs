//! A moderator's journey in a real headless Chromium: three inventories of the
//! Ille-et-Vilaine wait in the queue (sent by its agent beforehand); the académie's moderator
//! signs in by an e-mail link, reads the queue and its statistics, accepts part of the first
//! (one row, and one field only of another), refuses the second with a reason chosen from the
//! reusable ones, and decides the third group by group with an exception. What was accepted
//! is published, the rest is not. Every page passes axe-core.

use axum::http::{Method, StatusCode};
use ecarto_tests::{
    Session, TestApp,
    browser::{Browser, sign_in_by_email},
};

async fn send_inventory(app: &TestApp, agent: &Session, name: &str, csv: &str) -> i64 {
    let res = app
        .call_raw(
            Some(agent),
            Method::POST,
            &format!("/api/v1/submissions?schema=inventaire-equipement&filename={name}"),
            &[("content-type", "text/csv")],
            csv.as_bytes().to_vec(),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    res.json()["id"].as_i64().unwrap()
}

async fn published(app: &TestApp, uai: &str, field: &str) -> serde_json::Value {
    let s = app.get(&format!("/api/v1/schools/{uai}")).await.json();
    s["themes"]
        .as_object()
        .unwrap()
        .values()
        .find_map(|t| t.get(field))
        .map(|v| v["value"].clone())
        .unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_accepts_part_refuses_and_decides_by_group() {
    let app = TestApp::with_sample(|_| {}).await;
    let agent = app
        .session_for(
            "numerique@ille-et-vilaine.fr",
            Some("departement:35"),
            &["contributor"],
            &[],
        )
        .await;
    app.session_for(
        "moderatrice@ac-rennes.fr",
        None,
        &["moderator"],
        &["departement:35"],
    )
    .await;
    let [a, b, c, d, e, f] = [
        "0352958A", "0350003N", "0351795L", "0350033W", "0350027P", "0351847T",
    ];
    let first = send_inventory(
        &app,
        &agent,
        "inventaire-rentree.csv",
        &format!(
            "uai;date_inventaire;nb_terminaux;nb_tni\n{a};2026-09-15;120;6\n{b};2026-09-15;80;4\n{c};2026-09-15;95;3\n"
        ),
    )
    .await;
    let second = send_inventory(
        &app,
        &agent,
        "inventaire-doublon.csv",
        &format!("uai;date_inventaire;nb_terminaux\n{d};2026-09-15;45\n"),
    )
    .await;
    let third = send_inventory(
        &app,
        &agent,
        "inventaire-complet.csv",
        &format!(
            "uai;date_inventaire;nb_terminaux;nb_tni\n{d};2026-10-01;50;2\n{e};2026-10-01;60;3\n{f};2026-10-01;70;4\n"
        ),
    )
    .await;

    let base = app.serve().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/moderation")).await;
    sign_in_by_email(&app, &browser, &base, "moderatrice@ac-rennes.fr").await;
    let queue = browser.wait_for_text("File de relecture").await;
    for n in ["inventaire", "Département de l'Ille-et-Vilaine"] {
        assert!(
            queue.to_lowercase().contains(&n.to_lowercase()),
            "{n}: {queue}"
        );
    }
    assert!(
        queue.contains("3\nenvois en attente") || queue.contains("3 envois en attente"),
        "{queue}"
    );
    browser.assert_accessible("file de relecture").await;
    browser.screenshot("moderation-1-file").await;

    // The first: line 2 accepted whole, line 3 for its number of devices only, line 4 not.
    browser.goto(&format!("{base}/moderation/{first}")).await;
    let diff = browser.wait_for_text("Ce qui changerait").await;
    assert!(
        diff.contains("non communiqué") && diff.contains("120"),
        "{diff}"
    );
    browser.assert_accessible("envoi à relire").await;
    browser.screenshot("moderation-2-envoi").await;
    browser
        .script(
            "document.getElementById('row-4').checked = false;\
             document.getElementById('field-3:nb_tni').checked = false;",
            serde_json::json!([]),
        )
        .await;
    let accept = browser.find("button[value=accept]").await;
    browser.click(&accept).await;
    browser
        .wait_for_text(&format!("Envoi {first} : accepté en partie ; version"))
        .await;
    assert_eq!(published(&app, a, "nb_terminaux").await, 120);
    assert_eq!(published(&app, a, "nb_tni").await, 6);
    assert_eq!(published(&app, b, "nb_terminaux").await, 80);
    assert_eq!(published(&app, b, "nb_tni").await, serde_json::Value::Null);
    assert_eq!(
        published(&app, c, "nb_terminaux").await,
        serde_json::Value::Null
    );

    // The second, refused with a reusable reason.
    browser.goto(&format!("{base}/moderation/{second}")).await;
    browser.wait_for_text("Ce qui changerait").await;
    browser
        .script(
            "document.getElementById('raison_type').value = \"Doublon d'un envoi déjà relu\";",
            serde_json::json!([]),
        )
        .await;
    let reject = browser
        .find("form[action$='/decision'] button[value=reject]")
        .await;
    browser.click(&reject).await;
    browser
        .wait_for_text(&format!("Envoi {second} : refusé"))
        .await;
    let view = app
        .call(
            Some(&agent),
            Method::GET,
            &format!("/api/v1/submissions/{second}"),
            None,
        )
        .await
        .json();
    assert_eq!(view["status"], "rejected");
    assert_eq!(
        view["decisions"][0]["reason"],
        "Doublon d'un envoi déjà relu"
    );

    // The third, by group (the groups: the inventory's date, the number of devices, the
    // interactive boards, each added on three rows): the dates accepted, the numbers of
    // devices too but for line 3 (school e), the boards not, but for line 4 (school f).
    browser.goto(&format!("{base}/moderation/{third}")).await;
    let page = browser
        .wait_for_text("Décider par groupe de changements semblables")
        .await;
    assert!(
        page.contains("ajout d'une valeur non communiquée (3 lignes)"),
        "{page}"
    );
    browser.assert_accessible("décision par groupe").await;
    browser.screenshot("moderation-3-groupes").await;
    browser
        .script(
            "document.getElementById('sauf-1-3').checked = true;\
             document.getElementById('groupe-2-non').checked = true;\
             document.getElementById('sauf-2-4').checked = true;",
            serde_json::json!([]),
        )
        .await;
    let by_group = browser
        .find("form[action$='/groupes'] button[type=submit]")
        .await;
    browser.click(&by_group).await;
    browser
        // Every row keeps a field (its date at least): the submission counts as accepted.
        .wait_for_text(&format!("Envoi {third} : accepté ; version"))
        .await;
    assert_eq!(published(&app, d, "nb_terminaux").await, 50);
    assert_eq!(published(&app, d, "nb_tni").await, serde_json::Value::Null);
    assert_eq!(
        published(&app, e, "nb_terminaux").await,
        serde_json::Value::Null
    );
    assert_eq!(published(&app, f, "nb_terminaux").await, 70);
    assert_eq!(published(&app, f, "nb_tni").await, 4);
    let queue = browser.text().await;
    assert!(
        queue.contains("0\nenvois en attente") || queue.contains("0 envois en attente"),
        "{queue}"
    );
}
