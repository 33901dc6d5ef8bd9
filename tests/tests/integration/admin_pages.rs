//! An admin's journey in a real headless Chromium: signed in by an e-mail link, they find on
//! /admin/demandes the access request an agent of the Département d'Ille-et-Vilaine filed on
//! /acces, approve it into the département's organisation, give that organisation the public
//! lycées of Vitré on its page (the agent may then contribute for one of them), name a
//! moderator, run the outbox job with « Lancer maintenant » (the agent's e-mail leaves) and
//! see its run on /admin/taches, then find all of it in the audit log, filtered. Every admin
//! page passes axe-core and one is read at 375 px. And the services' read functions these
//! pages added: the audit log's filters and pages, an organisation's members.

use axum::http::{Method, StatusCode};
use ecarto::{
    domain::competence::Role,
    services::{audit, organisations, users},
};
use ecarto_tests::{
    TestApp,
    browser::{Browser, sign_in_by_email, sign_out},
    node::{decoded, wait_for_messages},
};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

const ADMIN: &str = "admin@ecarto.test";
const AGENT: &str = "agent.numerique@ille-et-vilaine.fr";
/// The Département d'Ille-et-Vilaine's SIRET: its seeded organisation has no SIREN yet.
const SIRET: &str = "22350001800013";
/// Lycée Bertrand d'Argentré, public, in Vitré (commune 35360), in the bundled sample.
const LYCEE: &str = "0350053T";

async fn set_value(browser: &Browser, css: &str, value: &str) {
    browser
        .script(
            "document.querySelector(arguments[0]).value = arguments[1];",
            json!([css, value]),
        )
        .await;
}

async fn submit(browser: &Browser, css: &str) {
    let button = browser.find(css).await;
    browser.click(&button).await;
}

async fn may_contribute_to_the_lycee(app: &TestApp) -> serde_json::Value {
    let agent = app.session_for(AGENT, None, &[], &[]).await;
    app.call(
        Some(&agent),
        Method::GET,
        &format!("/api/v1/me/competence?uai={LYCEE}&schema=inventaire-equipement"),
        None,
    )
    .await
    .assert_status(StatusCode::OK)
    .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_approves_a_request_gives_competence_runs_a_job_and_reads_the_log() {
    let app = TestApp::with_sample(|_| {}).await;
    app.session_for(ADMIN, None, &["admin"], &[]).await;
    let base = app.serve().await;
    let browser = Browser::start().await;

    // The agent's organisation is not recognised: they ask for access on /acces.
    browser.goto(&format!("{base}/acces")).await;
    assert!(browser.text().await.contains("connectez-vous"));
    browser
        .goto(&format!("{base}/connexion?return_to=/acces"))
        .await;
    sign_in_by_email(&app, &browser, &base, AGENT).await;
    browser.wait_for_text("Organisation non reconnue").await;
    browser.assert_accessible("demande d'accès").await;
    let siret = browser.find("input[name=siret]").await;
    browser.send_keys(&siret, SIRET).await;
    let message = browser.find("textarea[name=message]").await;
    browser
        .send_keys(
            &message,
            "Chargée de mission numérique éducatif, direction des collèges",
        )
        .await;
    submit(&browser, "form[action='/acces'] button").await;
    browser.wait_for_text("est enregistrée").await;
    browser
        .assert_accessible("demande d'accès enregistrée")
        .await;
    sign_out(&browser, &base).await;
    let before = may_contribute_to_the_lycee(&app).await;
    assert_eq!(before["allowed"], false, "{before}");

    // The admin, sent to sign in first, lands on the page they asked for.
    browser.goto(&format!("{base}/admin")).await;
    sign_in_by_email(&app, &browser, &base, ADMIN).await;
    let dashboard = browser.wait_for_text("Tableau de bord").await;
    assert!(browser.url().await.ends_with("/admin"));
    assert!(
        dashboard.contains("demande d'accès en attente"),
        "{dashboard}"
    );
    let pending_figure = browser
        .script(
            "return document.querySelector(\"a[href='/admin/demandes'] .figure\").textContent;",
            json!([]),
        )
        .await;
    assert_eq!(pending_figure, "1");
    browser
        .assert_accessible("administration : tableau de bord")
        .await;
    browser.screenshot("admin-1-tableau-de-bord").await;

    // The request, approved into the département's organisation.
    submit(&browser, "a[href='/admin/demandes']").await;
    let requests = browser.wait_for_text("En attente (1)").await;
    assert!(
        requests.contains(AGENT) && requests.contains(SIRET),
        "{requests}"
    );
    assert!(
        requests.contains("aucune organisation connue n'a ce SIREN"),
        "{requests}"
    );
    browser.assert_accessible("administration : demandes").await;
    browser.screenshot("admin-2-demandes").await;
    let pending = users::access_requests(&app.state.db, Some("pending"))
        .await
        .unwrap();
    let request = pending[0].id;
    set_value(&browser, &format!("#org-{request}"), "departement:35").await;
    submit(
        &browser,
        &format!("form[action='/admin/demandes/{request}/decision'] button"),
    )
    .await;
    let done = browser.wait_for_text("acceptée").await;
    assert!(
        done.contains(&format!(
            "Demande {request} acceptée : {AGENT} est contributeur de Département de l'Ille-et-Vilaine"
        )),
        "{done}"
    );
    assert!(done.contains("Aucune demande en attente"), "{done}");
    let agent = users::by_email(&app.state.db, AGENT)
        .await
        .unwrap()
        .unwrap();
    assert!(
        users::roles(&app.state.db, agent.id)
            .await
            .unwrap()
            .contains(&Role::Contributor)
    );
    let org = organisations::resolve(&app.state.db, "departement:35")
        .await
        .unwrap();
    assert_eq!(agent.organisation_id, Some(org.id));
    assert_eq!(
        org.siren.as_deref(),
        Some("223500018"),
        "the request's SIREN"
    );

    // The organisations, then the département's page: its member, and a competence line.
    browser
        .goto(&format!("{base}/admin/organisations?q=ille"))
        .await;
    let list = browser
        .wait_for_text("Département de l'Ille-et-Vilaine")
        .await;
    assert!(list.contains("223500018"), "{list}");
    browser
        .assert_accessible("administration : organisations")
        .await;
    browser.screenshot("admin-3-organisations").await;
    submit(
        &browser,
        &format!("a[href='/admin/organisations/{}']", org.id),
    )
    .await;
    let page = browser.wait_for_text("Membres et rôles").await;
    assert!(
        page.contains(AGENT) && page.contains("contributeur"),
        "{page}"
    );
    assert!(
        page.contains("Collèges publics du département 35") || page.contains("collèges publics"),
        "{page}"
    );
    browser
        .assert_accessible("administration : une organisation")
        .await;
    let public_lycees = browser.find("#type-lycee").await;
    browser.click(&public_lycees).await;
    set_value(&browser, "#secteur", "public").await;
    let territory = browser.find("#line-territory").await;
    // A typo first: refused with the reason, and what was typed is still in the form.
    browser.send_keys(&territory, "commune:Atlantide").await;
    let reason = browser.find("#reason").await;
    browser
        .send_keys(
            &reason,
            "Convention avec la Région : inventaire des lycées de Vitré",
        )
        .await;
    submit(&browser, "form[action$='/competences'] button[type=submit]").await;
    // Boxed: the journey's future is large enough already for a test thread's stack.
    Box::pin(the_refused_form_kept_what_was_typed(&browser)).await;
    browser
        .script(
            "document.getElementById('line-territory').value = '';",
            json!([]),
        )
        .await;
    let territory = browser.find("#line-territory").await;
    browser.send_keys(&territory, "commune:35360").await;
    submit(&browser, "form[action$='/competences'] button[type=submit]").await;
    let added = browser.wait_for_text("Compétence ajoutée").await;
    assert!(added.contains("Exception"), "{added}");
    assert!(
        added.contains("Convention avec la Région : inventaire des lycées de Vitré"),
        "{added}"
    );
    browser
        .assert_accessible("administration : compétence ajoutée")
        .await;
    browser.screenshot("admin-4-organisation").await;
    let lines = organisations::lines(&app.state.db, org.id).await.unwrap();
    let line = lines
        .iter()
        .find(|l| l.territory.to_string() == "commune:35360")
        .expect("the line is stored");
    assert_eq!(line.school_types, vec!["lycee".to_owned()]);
    assert_eq!(line.secteur.as_deref(), Some("public"));
    let after = may_contribute_to_the_lycee(&app).await;
    assert_eq!(after["allowed"], true, "{after}");
    assert_eq!(after["competence_id"], line.id, "{after}");

    // Read at 375 px, the widest page of all: nothing runs off the side.
    browser.resize(375, 800).await;
    browser
        .goto(&format!("{base}/admin/organisations/{}", org.id))
        .await;
    browser.wait_for_text("Membres et rôles").await;
    if browser.overflows_horizontally().await {
        let wide = browser
            .script(
                "return [...document.querySelectorAll('body *')]\
                   .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)\
                   .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))\
                   .slice(0, 10);",
                json!([]),
            )
            .await;
        panic!("the organisation page is wider than a phone: {wide}");
    }
    browser.screenshot("admin-5-organisation-375px").await;
    browser.resize(1280, 900).await;

    // A moderator, with two territories.
    browser.goto(&format!("{base}/admin/moderateurs")).await;
    browser.wait_for_text("Nommer un modérateur").await;
    let email = browser.find("#mod-email").await;
    browser.send_keys(&email, "moderateur@ac-rennes.fr").await;
    let territories = browser.find("#territoires").await;
    browser
        .send_keys(&territories, "departement:35, departement:22")
        .await;
    submit(&browser, "form[action='/admin/moderateurs'] button").await;
    let mods = browser.wait_for_text("est modérateur de").await;
    assert!(
        mods.contains("departement:35, departement:22")
            || mods.contains("departement:22, departement:35"),
        "{mods}"
    );
    browser
        .assert_accessible("administration : modérateurs")
        .await;
    browser.screenshot("admin-6-moderateurs").await;

    browser.goto(&format!("{base}/admin/moissonnage")).await;
    browser.wait_for_text("Aucune source déclarée").await;
    browser
        .assert_accessible("administration : moissonnage")
        .await;

    // « Lancer maintenant » on the outbox: the agent's decision e-mail leaves.
    browser.goto(&format!("{base}/admin/taches")).await;
    browser.wait_for_text("Envoi des e-mails en attente").await;
    browser.assert_accessible("administration : tâches").await;
    submit(
        &browser,
        "form[action='/admin/taches/outbox/lancer'] button",
    )
    .await;
    let jobs = browser.wait_for_text("Tâche outbox lancée").await;
    assert!(jobs.contains("réussie"), "{jobs}");
    let runs = browser
        .script(
            "return [...document.querySelectorAll('#tache-outbox ~ .table-wrap tbody tr')].map(r => r.innerText);",
            json!([]),
        )
        .await;
    let first = runs[0].as_str().unwrap_or_default();
    assert!(
        first.contains("administration") && first.contains("réussie") && first.contains("sent"),
        "{runs}"
    );
    browser
        .assert_accessible("administration : tâche lancée")
        .await;
    browser.screenshot("admin-7-taches").await;
    let history = ecarto::jobs::history(&app.state, Some("outbox"), 1)
        .await
        .unwrap();
    assert_eq!(history[0].trigger, "page");
    assert_eq!(history[0].status, "succeeded");
    let told = wait_for_messages(&app.dir.path().join("outbox"), 1)
        .iter()
        .map(|m| decoded(m))
        .find(|m| m.contains(AGENT) && m.contains("a été acceptée"))
        .is_some();
    assert!(told, "the agent is told by e-mail");

    // The log: the admin's actions, filtered by action, by actor and target, by date.
    browser.goto(&format!("{base}/admin/journal")).await;
    let log = browser.wait_for_text("les plus récentes d'abord").await;
    assert!(log.contains("competence.added"), "{log}");
    browser.assert_accessible("administration : journal").await;
    set_value(&browser, "#action", "access-request.approved").await;
    submit(&browser, "form.search button").await;
    let approved = browser.wait_for_text("1 entrée,").await;
    assert!(
        approved.contains(AGENT) && approved.contains(ADMIN),
        "{approved}"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    browser
        .goto(&format!(
            "{base}/admin/journal?acteur={ADMIN}&cible=organisation:{}&du={today}&au={today}",
            org.id
        ))
        .await;
    browser.wait_for_text("les plus récentes d'abord").await;
    let mine = browser
        .script(
            "return document.querySelector('table tbody').innerText;",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(mine.contains("competence.added"), "{mine}");
    assert!(!mine.contains("access-request.approved"), "{mine}");
    assert!(!mine.contains("login."), "{mine}");
    browser
        .assert_accessible("administration : journal filtré")
        .await;
    browser.screenshot("admin-8-journal").await;
    browser
        .goto(&format!("{base}/admin/journal?acteur=inconnu@exemple.fr"))
        .await;
    let unknown = browser.wait_for_text("Aucune entrée ne correspond").await;
    assert!(unknown.contains("aucun compte n'a l'adresse"), "{unknown}");
    browser
        .assert_accessible("administration : journal, filtre refusé")
        .await;
    sign_out(&browser, &base).await;
}

#[tokio::test]
async fn the_admin_pages_are_for_admins_and_their_forms_need_the_csrf_token() {
    let app = TestApp::new().await;
    ecarto::services::territories::ensure_loaded(&app.state.db)
        .await
        .unwrap();
    let admin = app.session_for(ADMIN, None, &["admin"], &[]).await;
    let beta = app
        .session_for("beta@exemple.fr", None, &["beta-tester"], &[])
        .await;
    for path in [
        "/admin",
        "/admin/demandes",
        "/admin/organisations",
        "/admin/organisations/1",
        "/admin/moderateurs",
        "/admin/moissonnage",
        "/admin/taches",
        "/admin/journal",
    ] {
        let anonymous = app.get(path).await;
        anonymous.assert_status(StatusCode::SEE_OTHER);
        assert_eq!(
            anonymous.header(axum::http::header::LOCATION),
            Some(format!("/connexion?return_to={}", path.replace('/', "%2F")).as_str()),
        );
        let refused = app.call(Some(&beta), Method::GET, path, None).await;
        refused.assert_status(StatusCode::FORBIDDEN);
        assert!(refused.text().contains("réservée aux administrateurs"));
        let shown = app.call(Some(&admin), Method::GET, path, None).await;
        shown.assert_status(StatusCode::OK);
        assert!(
            shown
                .text()
                .contains("<nav class=\"sub\" aria-label=\"Administration\">")
        );
    }
    // A form without its token is refused before anything is done.
    let cookie = format!("ecarto_session={}", admin.cookie);
    let res = app
        .send(
            Method::POST,
            "/admin/moderateurs",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            b"email=x%40exemple.fr&territoires=departement%3A35".to_vec(),
        )
        .await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert!(res.text().contains("CSRF"));
    assert!(
        users::by_email(&app.state.db, "x@exemple.fr")
            .await
            .unwrap()
            .is_none()
    );
    // With it: done, and said so on the page it goes back to.
    let res = app
        .send(
            Method::POST,
            "/admin/moderateurs",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            format!(
                "csrf_token={}&email=x%40exemple.fr&territoires=departement%3A35",
                admin.csrf
            )
            .into_bytes(),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let to = res.header(axum::http::header::LOCATION).unwrap().to_owned();
    assert!(to.starts_with("/admin/moderateurs?fait="), "{to}");
    let page = app.call(Some(&admin), Method::GET, &to, None).await;
    assert!(
        page.text()
            .contains("x@exemple.fr est modérateur de departement:35"),
        "{}",
        page.text()
    );
    // A value the service refuses comes back as an alert, nothing changed.
    let res = app
        .call_raw(
            Some(&admin),
            Method::POST,
            "/admin/moderateurs",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"email=y%40exemple.fr&territoires=canton%3A12".to_vec(),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let to = res.header(axum::http::header::LOCATION).unwrap().to_owned();
    let page = app.call(Some(&admin), Method::GET, &to, None).await.text();
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(
        page.contains("Territoires : niveau de territoire inconnu"),
        "{page}"
    );
    assert!(
        users::by_email(&app.state.db, "y@exemple.fr")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_audit_log_is_read_by_action_actor_target_date_and_page_and_members_by_organisation() {
    let app = TestApp::new().await;
    ecarto::services::territories::ensure_loaded(&app.state.db)
        .await
        .unwrap();
    let db = &app.state.db;
    let admin = app.session_for(ADMIN, None, &["admin"], &[]).await;
    let admin_id = users::by_email(db, ADMIN).await.unwrap().unwrap().id;
    let rhone = organisations::resolve(db, "departement:69").await.unwrap();
    for n in 0..3 {
        app.session_for(
            &format!("agent{n}@rhone.fr"),
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    }
    app.session_for("autre@exemple.fr", None, &[], &[]).await;
    let members = users::members(db, rhone.id).await.unwrap();
    assert_eq!(
        members.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(),
        ["agent0@rhone.fr", "agent1@rhone.fr", "agent2@rhone.fr"]
    );
    assert!(members[0].roles.contains(&Role::Contributor));

    // Two lines added by the admin through the API, which reads the log the same way.
    for territory in ["commune:69123", "commune:69264"] {
        app.call(
            Some(&admin),
            Method::POST,
            &format!("/api/v1/admin/organisations/{}/competences", rhone.id),
            Some(json!({"school_types": ["ecole"], "territory": territory, "reason": "test"})),
        )
        .await
        .assert_status(StatusCode::CREATED);
    }
    let by = |f: audit::Filter| async move { audit::search(db, &f, 0, 100).await.unwrap() };
    let (all, total) = by(audit::Filter::default()).await;
    assert_eq!(all.len() as u64, total);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let (family, _) = by(audit::Filter {
        event: Some("competence".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(family.len(), 2);
    assert!(family.iter().all(|e| e.event == "competence.added"));
    let (exact, _) = by(audit::Filter {
        event: Some("role.granted".into()),
        subject: Some("agent1@".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(exact.len(), 1, "{exact:?}");
    let (mine, _) = by(audit::Filter {
        actor: Some(admin_id),
        ..Default::default()
    })
    .await;
    assert!(mine.iter().all(|e| e.actor_user_id == Some(admin_id)));
    assert_eq!(
        mine.iter()
            .filter(|e| e.event == "competence.added")
            .count(),
        2,
        "{mine:?}"
    );
    let (tomorrow, n) = by(audit::Filter {
        from: Some(chrono::Utc::now() + chrono::Duration::days(1)),
        ..Default::default()
    })
    .await;
    assert!(tomorrow.is_empty() && n == 0);
    let (yesterday, n) = by(audit::Filter {
        until: Some(chrono::Utc::now() - chrono::Duration::days(1)),
        ..Default::default()
    })
    .await;
    assert!(yesterday.is_empty() && n == 0);
    // Pages: the same order, cut.
    let (second, n) = audit::search(db, &audit::Filter::default(), 2, 2)
        .await
        .unwrap();
    assert_eq!(n, total);
    assert_eq!(
        second.iter().map(|e| e.id).collect::<Vec<_>>(),
        all[2..4].iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let events = audit::event_names(db).await.unwrap();
    assert!(events.contains(&"competence.added".to_owned()));
    assert!(events.windows(2).all(|w| w[0] < w[1]), "{events:?}");
    // A delegation, listed on both sides: received by the Région, given by the Département.
    let region = organisations::resolve(db, "region:84").await.unwrap();
    app.call(
        Some(&admin),
        Method::POST,
        &format!("/api/v1/admin/organisations/{}/competences", region.id),
        Some(json!({"school_types": ["college"], "secteur": "public",
            "territory": "departement:69", "origin": "delegation",
            "delegated_by": "departement:69", "reason": "convention"})),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let given = organisations::delegations_given(db, rhone.id)
        .await
        .unwrap();
    assert_eq!(given.len(), 1);
    assert_eq!(given[0].0, region.id);
    assert_eq!(
        given[0].2.delegated_by.as_deref(),
        Some("Département du Rhône")
    );
    assert!(
        organisations::delegations_given(db, region.id)
            .await
            .unwrap()
            .is_empty()
    );
    let page = app
        .call(
            Some(&admin),
            Method::GET,
            &format!("/admin/organisations/{}", rhone.id),
            None,
        )
        .await;
    assert_eq!(
        page.header(axum::http::header::CACHE_CONTROL),
        Some("no-store")
    );
    let page = page.text();
    assert!(
        page.contains("Délégations accordées par Département du Rhône"),
        "{page}"
    );
    assert!(page.contains("Région Auvergne-Rhône-Alpes"), "{page}");

    // The API's filters are the same.
    let api = app
        .call(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/admin/audit?event=competence&actor={admin_id}&limit=1"),
            None,
        )
        .await
        .json();
    assert_eq!(api.as_array().unwrap().len(), 1);
    assert_eq!(api[0]["event"], "competence.added");
}

/// After a refused competence line: the reason said, and every field as the admin typed it.
async fn the_refused_form_kept_what_was_typed(browser: &Browser) {
    let refused = browser.wait_for_text("Rien n'a été changé").await;
    assert!(refused.contains("Atlantide"), "{refused}");
    let kept = browser
        .script(
            "return [document.getElementById('reason').value, \
                     document.getElementById('type-lycee').checked, \
                     document.getElementById('secteur').value, \
                     document.getElementById('line-territory').value];",
            json!([]),
        )
        .await;
    assert_eq!(
        kept,
        json!([
            "Convention avec la Région : inventaire des lycées de Vitré",
            true,
            "public",
            "commune:Atlantide"
        ])
    );
    browser
        .assert_accessible("administration : formulaire refusé")
        .await;
}

/// An organisation is made for a territory of the reference only, from the API as from the
/// page, and a refused one leaves nothing behind.
#[tokio::test]
async fn an_organisation_for_a_territory_the_reference_does_not_know_is_refused() {
    let app = TestApp::with_sample(|_| {}).await;
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let count = || async {
        ecarto::entities::organisation::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap()
    };
    let before = count().await;
    let api = app
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/admin/organisations",
            Some(json!({"kind": "commune", "name": "Commune d'Atlantide",
                        "territory": "commune:99999"})),
        )
        .await;
    api.assert_status(StatusCode::BAD_REQUEST);
    let problem = api.json();
    assert_eq!(problem["errors"][0]["pointer"], "territory", "{problem}");
    assert!(
        problem["errors"][0]["detail"]
            .as_str()
            .is_some_and(|m| m.contains("commune:99999") && m.contains("référentiel")),
        "{problem}"
    );
    let page = app
        .call_raw(
            Some(&admin),
            Method::POST,
            "/admin/organisations",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"kind=commune&name=Commune+d%27Atlantide&siren=&territory=commune%3A99999".to_vec(),
        )
        .await;
    page.assert_status(StatusCode::SEE_OTHER);
    let to = page
        .header(axum::http::header::LOCATION)
        .unwrap()
        .to_owned();
    let shown = app.call(Some(&admin), Method::GET, &to, None).await.text();
    assert!(shown.contains("Rien n'a été changé"), "{shown}");
    assert!(
        shown.contains("commune:99999 » n&#39;est pas dans le référentiel"),
        "{shown}"
    );
    assert_eq!(count().await, before);
    // A territory it knows is accepted.
    app.call(
        Some(&admin),
        Method::POST,
        "/api/v1/admin/organisations",
        Some(json!({"kind": "commune", "name": "Commune de Bruz", "territory": "commune:35047"})),
    )
    .await
    .assert_status(StatusCode::CREATED);
    assert_eq!(count().await, before + 1);
}

#[tokio::test]
async fn an_admin_records_a_siren_and_an_epcis_school_competence_from_its_page() {
    let app = TestApp::with_sample(|_| {}).await;
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let post = |id: i64, body: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let res = app
                .call_raw(
                    Some(admin),
                    Method::POST,
                    &format!("/admin/organisations/{id}/identite"),
                    &[("content-type", "application/x-www-form-urlencoded")],
                    body.as_bytes().to_vec(),
                )
                .await;
            res.assert_status(StatusCode::SEE_OTHER);
            let to = res.header(axum::http::header::LOCATION).unwrap().to_owned();
            app.call(Some(admin), Method::GET, &to, None).await.text()
        }
    };

    // Rennes Métropole, made from the territory reference by its SIREN.
    let epci = organisations::resolve(&app.state.db, "243500139")
        .await
        .expect("the EPCI");
    let page = app
        .call(
            Some(&admin),
            Method::GET,
            &format!("/admin/organisations/{}", epci.id),
            None,
        )
        .await;
    page.assert_status(StatusCode::OK);
    assert!(
        page.text().contains("name=\"competence_scolaire\""),
        "{}",
        page.text()
    );
    let (body, holds): (&'static str, bool) = if epci.school_competence {
        ("siren=243500139&competence_scolaire=non", false)
    } else {
        ("siren=243500139&competence_scolaire=oui", true)
    };
    let done = post(epci.id, body).await;
    assert!(done.contains("compétence scolaire"), "{done}");
    let after = organisations::by_id(&app.state.db, epci.id).await.unwrap();
    assert_eq!(after.school_competence, holds);

    // The département's organisation, seeded without a SIREN: recorded from its page.
    let dep = organisations::resolve(&app.state.db, "departement:35")
        .await
        .unwrap();
    let page = app
        .call(
            Some(&admin),
            Method::GET,
            &format!("/admin/organisations/{}", dep.id),
            None,
        )
        .await
        .text();
    assert!(!page.contains("name=\"competence_scolaire\""), "{page}");
    let done = post(dep.id, "siren=223500018").await;
    assert!(done.contains("SIREN 223500018"), "{done}");
    let after = organisations::by_id(&app.state.db, dep.id).await.unwrap();
    assert_eq!(after.siren.as_deref(), Some("223500018"));

    // A SIREN that is not one: refused, said, nothing changed.
    let refused = post(dep.id, "siren=12").await;
    assert!(
        refused.contains("Rien n&#39;a été changé") || refused.contains("Rien n'a été changé"),
        "{refused}"
    );
    let still = organisations::by_id(&app.state.db, dep.id).await.unwrap();
    assert_eq!(still.siren.as_deref(), Some("223500018"));
}
