//! Signing in with an e-mail link and signing out, in a real headless Chromium.

use ecarto_tests::{
    TestApp,
    browser::Browser,
    node::{link_in, wait_for_messages},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_with_an_e_mail_link_and_signs_out() {
    let app = TestApp::new().await;
    let base = app.serve().await;
    let browser = Browser::start().await;

    browser.goto(&base).await;
    let link = browser.find("a[href='/connexion']").await;
    browser.click(&link).await;
    browser.wait_for_text("Recevoir un lien de connexion").await;
    browser.assert_accessible("connexion").await;
    let email = browser.find("input[name=email]").await;
    browser.send_keys(&email, "agent@exemple.fr").await;
    let submit = browser.find("form button").await;
    browser.click(&submit).await;
    browser.wait_for_text("Vérifiez votre messagerie").await;
    browser.assert_accessible("lien envoyé").await;

    let mails = wait_for_messages(&app.dir.path().join("outbox"), 1);
    let link = link_in(&mails[0], "http://127.0.0.1:8080/auth/email/confirm?token=")
        .expect("a link in the e-mail");
    browser
        .goto(&link.replace("http://127.0.0.1:8080", &base))
        .await;
    let confirm = browser.find("#confirm").await;
    browser.click(&confirm).await;
    browser
        .wait_for_text("Le numérique éducatif dans les écoles")
        .await;

    browser.goto(&format!("{base}/connexion")).await;
    let page = browser.wait_for_text("Vous êtes connecté(e)").await;
    assert!(page.contains("agent@exemple.fr"), "{page}");
    let logout = browser.find("form[action='/auth/logout'] button").await;
    browser.click(&logout).await;
    browser
        .wait_for_text("Le numérique éducatif dans les écoles")
        .await;
    browser.goto(&format!("{base}/connexion")).await;
    let page = browser.wait_for_text("Recevoir un lien de connexion").await;
    assert!(!page.contains("Vous êtes connecté(e)"), "{page}");
}
