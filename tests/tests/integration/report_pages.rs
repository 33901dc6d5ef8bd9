//! A beta-tester's journey in a real headless Chromium: from a school's page, « Signaler une
//! erreur », sign in by an e-mail link read from the outbox, a form typed by the field (a
//! refused first try, then a valid one), « Mes signalements »; a moderator signs in the same
//! way, finds it in the queue, sees the diff and accepts it; the value is published, the
//! reporter is told by e-mail and sees it in « Mes signalements ». Every page passes axe-core.

use ecarto_tests::{
    TestApp,
    browser::{Browser, sign_in_by_email, sign_out},
    node::wait_for_messages,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_goes_from_the_school_page_to_the_published_dataset() {
    let app = TestApp::with_sample(|_| {}).await;
    // The académie de Rennes' moderator for the Ille-et-Vilaine (given by an admin).
    app.session_for(
        "moderatrice@ac-rennes.fr",
        None,
        &["moderator"],
        &["departement:35"],
    )
    .await;
    let base = app.serve().await;
    let browser = Browser::start().await;

    browser
        .goto(&format!("{base}/etablissements/0350017D"))
        .await;
    browser.wait_for_text("Collège du Querpon").await;
    let report = browser
        .find("a[href='/etablissements/0350017D/signaler']")
        .await;
    browser.click(&report).await;
    // Not signed in: the sign-in page first, then back to the form.
    sign_in_by_email(&app, &browser, &base, "parent.eleve@exemple.fr").await;
    browser
        .wait_for_text("Quelle donnée est fausse ou manquante ?")
        .await;
    assert!(
        browser
            .url()
            .await
            .ends_with("/etablissements/0350017D/signaler")
    );
    browser
        .assert_accessible("signalement : choix de la donnée")
        .await;

    // The field, then a value typed by it: wifi is a choice list.
    browser
        .script(
            "document.querySelector('#champ').value = 'wifi';",
            serde_json::json!([]),
        )
        .await;
    let choose = browser.find("form[method=get] button").await;
    browser.click(&choose).await;
    let form = browser.wait_for_text("La bonne valeur").await;
    assert!(
        form.contains("Aucune valeur n'est publiée pour cette donnée"),
        "{form}"
    );
    let options = browser
        .script(
            "return [...document.querySelectorAll('#valeur option')].map(o => o.textContent);",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(
        options,
        serde_json::json!([
            "Choisissez",
            "Oui, permanent",
            "Oui, par borne mobile",
            "Non"
        ])
    );
    browser.assert_accessible("signalement : la valeur").await;
    browser
        .script(
            "document.querySelector('#valeur').value = 'permanent';",
            serde_json::json!([]),
        )
        .await;
    // Too short a justification: refused, said next to the form, nothing sent. (The
    // browser's own check is lifted to see the server's.)
    browser
        .script(
            "document.querySelector('#justification').removeAttribute('minlength');",
            serde_json::json!([]),
        )
        .await;
    let why = browser.find("#justification").await;
    browser.send_keys(&why, "Vu.").await;
    let send = browser.find("form[method=post] button[type=submit]").await;
    browser.click(&send).await;
    let refused = browser
        .wait_for_text("Le signalement n'est pas envoyé")
        .await;
    assert!(refused.contains("Justification"), "{refused}");
    browser.assert_accessible("signalement refusé").await;
    browser.screenshot("beta-1-signalement-refuse").await;
    let why = browser.find("#justification").await;
    browser
        .script(
            "document.querySelector('#justification').value = '';",
            serde_json::json!([]),
        )
        .await;
    browser
        .send_keys(
            &why,
            "Le wifi couvre toutes les salles depuis la rentrée de septembre 2026.",
        )
        .await;
    let send = browser.find("form[method=post] button[type=submit]").await;
    browser.click(&send).await;
    let mine = browser.wait_for_text("est envoyé").await;
    assert!(mine.contains("En attente de relecture"), "{mine}");
    assert!(
        mine.contains("Oui, permanent") && mine.contains("Collège du Querpon"),
        "{mine}"
    );
    browser.assert_accessible("mes signalements").await;
    browser.screenshot("beta-2-mes-signalements").await;
    sign_out(&browser, &base).await;

    // The moderator, signed in the same way, finds it in the queue.
    browser.goto(&format!("{base}/moderation")).await;
    sign_in_by_email(&app, &browser, &base, "moderatrice@ac-rennes.fr").await;
    let queue = browser.wait_for_text("File de relecture").await;
    assert!(
        queue.contains("Signalement d'une donnée erronée"),
        "{queue}"
    );
    assert!(queue.contains("Bêta-testeur"), "{queue}");
    browser.assert_accessible("file de relecture").await;
    browser.screenshot("beta-3-file").await;
    let open = browser.find("table a[href^='/moderation/']").await;
    browser.click(&open).await;
    let diff = browser.wait_for_text("Ce qui changerait").await;
    assert!(
        diff.contains("Wifi") && diff.contains("non communiqué") && diff.contains("Oui, permanent"),
        "{diff}"
    );
    browser.assert_accessible("envoi à relire").await;
    browser.screenshot("beta-4-relecture").await;
    let accept = browser.find("button[value=accept_all]").await;
    browser.click(&accept).await;
    let done = browser.wait_for_text("version").await;
    assert!(done.contains("accepté"), "{done}");
    sign_out(&browser, &base).await;

    // Published, with its provenance; the reporter is told, by e-mail and on their page.
    browser
        .goto(&format!("{base}/etablissements/0350017D"))
        .await;
    let school = browser.wait_for_text("Wifi").await;
    assert!(
        school.contains("Oui, permanent") && school.contains("Contribution relue"),
        "{school}"
    );
    // A public page: the value's source, never who sent it nor who decided.
    let html = browser
        .script(
            "return document.documentElement.outerHTML;",
            serde_json::json!([]),
        )
        .await;
    let html = html.as_str().unwrap_or_default();
    for someone in ["parent.eleve@exemple.fr", "@ac-rennes.fr", "@exemple.fr"] {
        assert!(
            !html.contains(someone),
            "« {someone} » on a public page: {school}"
        );
    }
    ecarto_tests::run_job(&app.state, "outbox").await;
    let mails = wait_for_messages(&app.dir.path().join("outbox"), 1);
    let told = mails
        .iter()
        .map(|m| ecarto_tests::node::decoded(m))
        .find(|m| m.contains("parent.eleve@exemple.fr") && m.contains("a été acceptée"))
        .unwrap_or_else(|| panic!("the reporter is told of the decision: {mails:#?}"));
    assert!(told.contains("/mes-signalements"), "{told}");
    browser.goto(&format!("{base}/mes-signalements")).await;
    sign_in_by_email(&app, &browser, &base, "parent.eleve@exemple.fr").await;
    // (Not « Mes signalements »: the footer of every page, the confirmation's too, says it.)
    let mine = browser
        .wait_for_text("Accepté : publié dans la version")
        .await;
    assert!(mine.contains("Collège du Querpon"), "{mine}");
}
