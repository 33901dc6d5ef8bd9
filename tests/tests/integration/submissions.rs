//! Submissions end to end through HTTP: a département's inventory with bad rows and a school
//! outside its competence, the review queue, four eyes, partial acceptance merged into a new
//! dataset version with its provenance, rejection, withdrawal, idempotency, signalements.

use axum::http::{Method, StatusCode};
use ecarto::services::territories;
use ecarto_tests::{Session, TestApp, TestResponse, uai};
use serde_json::{Value, json};

/// Collèges of the Rhône: two outside the Métropole de Lyon, one inside; one in Ille-et-Vilaine.
struct Schools {
    villefranche: String,
    tarare: String,
    lyon: String,
    rennes: String,
}

async fn setup() -> (TestApp, Schools) {
    let app = TestApp::new().await;
    territories::ensure_loaded(&app.state.db).await.unwrap();
    let s = Schools {
        villefranche: uai("0692001"),
        tarare: uai("0692002"),
        lyon: uai("0692003"),
        rennes: uai("0352001"),
    };
    let school = |u: &str, name: &str, commune: &str, dep: &str, acad: &str, reg: &str| {
        (
            u.to_owned(),
            vec![
                ("appellation_officielle", json!(name)),
                ("type_etablissement", json!("college")),
                ("secteur", json!("public")),
                ("etat", json!("ouvert")),
                ("code_commune", json!(commune)),
                ("code_departement", json!(dep)),
                ("code_academie", json!(acad)),
                ("code_region", json!(reg)),
            ],
        )
    };
    let rows = [
        school(
            &s.villefranche,
            "Collège Claude Bernard",
            "69264",
            "69",
            "10",
            "84",
        ),
        school(&s.tarare, "Collège Jacques Cœur", "69243", "69", "10", "84"),
        school(&s.lyon, "Collège Jean Moulin", "69381", "69", "10", "84"),
        school(
            &s.rennes,
            "Collège des Gayeulles",
            "35238",
            "35",
            "14",
            "53",
        ),
    ];
    app.publish(
        "annuaire",
        Some("2026-09-01"),
        rows.iter().map(|(u, v)| (u.as_str(), v.clone())).collect(),
    )
    .await;
    // What the ETIC survey said, to be corrected.
    app.publish(
        "etic",
        Some("2019"),
        vec![(s.villefranche.as_str(), vec![("nb_terminaux", json!(40))])],
    )
    .await;
    (app, s)
}

async fn upload(
    app: &TestApp,
    who: &Session,
    schema: &str,
    csv: &str,
    key: Option<&str>,
) -> TestResponse {
    let mut headers = vec![("content-type", "text/csv")];
    if let Some(k) = key {
        headers.push(("idempotency-key", k));
    }
    app.call_raw(
        Some(who),
        Method::POST,
        &format!("/api/v1/submissions?schema={schema}&filename=inventaire.csv"),
        &headers,
        csv.as_bytes().to_vec(),
    )
    .await
}

fn row(view: &Value, line: i64) -> &Value {
    view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == line)
        .unwrap_or_else(|| panic!("line {line} in {view}"))
}

#[tokio::test]
async fn a_departement_inventory_is_partly_accepted_and_published_with_its_provenance() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let colleague = app
        .session_for(
            "colleague@rhone.fr",
            Some("departement:69"),
            &["contributor", "moderator"],
            &["departement:69"],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    let other_moderator = app
        .session_for(
            "modo@ac-rennes.fr",
            None,
            &["moderator"],
            &["departement:35"],
        )
        .await;

    // Line 2 valid, 3 outside the competence (Lyon), 4 invalid, 5 valid.
    let csv = format!(
        "uai;date_inventaire;nb_terminaux;nb_tablettes;maintenance\n\
         {};2026-09-15;120;30;collectivite\n\
         {};2026-09-15;80;;collectivite\n\
         {};2026-09-15;-4;;\n\
         {};2026-09-15;95;10;prestataire\n",
        s.villefranche, s.lyon, s.tarare, s.tarare
    );
    let res = upload(&app, &rhone, "inventaire-equipement", &csv, Some("envoi-1")).await;
    res.assert_status(StatusCode::CREATED);
    let view = res.json();
    let id = view["id"].as_i64().unwrap();
    assert_eq!(view["status"], "pending");
    assert_eq!(view["rows_total"], 4);
    assert_eq!(view["rows_proposed"], 1, "{view}");
    assert_eq!(view["rows_refused"], 1, "{view}");
    assert_eq!(view["rows_invalid"], 2, "{view}");
    assert_eq!(row(&view, 2)["status"], "proposed");
    assert_eq!(row(&view, 3)["status"], "refused");
    assert!(
        row(&view, 3)["reason"]
            .as_str()
            .unwrap()
            .contains("Métropole de Lyon"),
        "{view}"
    );
    assert_eq!(row(&view, 4)["status"], "invalid");
    // Line 5 repeats line 4's school: the duplicate key makes it invalid too.
    assert_eq!(row(&view, 5)["status"], "invalid", "{view}");
    assert_eq!(view["base_version"], 2);

    // Retried with the same key, or the same file again: the same submission.
    let again = upload(&app, &rhone, "inventaire-equipement", &csv, Some("envoi-1")).await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["id"], id);
    let again = upload(&app, &rhone, "inventaire-equipement", &csv, None).await;
    assert_eq!(again.json()["id"], id);

    // The queue of the territory's moderators, not the others'.
    let queue = app
        .call(Some(&moderator), Method::GET, "/api/v1/reviews", None)
        .await
        .json();
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    let queue = app
        .call(Some(&other_moderator), Method::GET, "/api/v1/reviews", None)
        .await
        .json();
    assert!(queue.as_array().unwrap().is_empty(), "{queue}");
    app.call(Some(&rhone), Method::GET, "/api/v1/reviews", None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.call(
        Some(&other_moderator),
        Method::GET,
        &format!("/api/v1/submissions/{id}"),
        None,
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);

    // The diff: published value and its provenance beside the proposal.
    let detail = app
        .call(
            Some(&moderator),
            Method::GET,
            &format!("/api/v1/submissions/{id}"),
            None,
        )
        .await
        .json();
    let diff = row(&detail, 2)["diff"].as_array().unwrap().clone();
    let terminaux = diff.iter().find(|d| d["field"] == "nb_terminaux").unwrap();
    assert_eq!(terminaux["published"], 40);
    assert_eq!(terminaux["published_provenance"]["source"], "etic");
    assert_eq!(terminaux["proposed"], 120);

    // Four eyes: a moderator of the submitting organisation may not decide.
    let res = app
        .call(
            Some(&colleague),
            Method::POST,
            &format!("/api/v1/submissions/{id}/decision"),
            Some(json!({"decision": "accept"})),
        )
        .await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert!(res.text().contains("quatre yeux"), "{}", res.text());
    // A refused row cannot be accepted.
    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/decision"),
        Some(json!({"decision": "accept", "rows": [3]})),
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);

    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/claim"),
        None,
    )
    .await
    .assert_status(StatusCode::OK);
    // Accept line 2, but only its number of terminals.
    let res = app
        .call(
            Some(&moderator),
            Method::POST,
            &format!("/api/v1/submissions/{id}/decision"),
            Some(
                json!({"decision": "accept", "rows": [2], "fields": {"2": ["nb_terminaux"]},
                "reason": "inventaire conforme"}),
            ),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let outcome = res.json();
    assert_eq!(outcome["submission"]["status"], "accepted");
    let version = outcome["merged_version"].as_i64().unwrap();
    assert_eq!(version, 3);

    let school = app
        .get(&format!("/api/v1/schools/{}", s.villefranche))
        .await
        .json();
    let value = &school["themes"]["equipement"]["nb_terminaux"];
    assert_eq!(value["value"], 120, "{school}");
    assert_eq!(value["provenance"]["source"], "contribution");
    assert_eq!(value["provenance"]["submission_id"], id);
    assert!(
        school["themes"]["equipement"]["nb_tablettes"]["value"].is_null(),
        "a field left out of the decision is not published: {school}"
    );
    let changes = app
        .get(&format!("/api/v1/datasets/versions/{version}/changes"))
        .await
        .json();
    assert!(changes.to_string().contains("120"), "{changes}");

    // Decided once.
    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/decision"),
        Some(json!({"decision": "reject", "reason": "x"})),
    )
    .await
    .assert_status(StatusCode::CONFLICT);
    let mine = app
        .call(
            Some(&rhone),
            Method::GET,
            "/api/v1/submissions?mine=true",
            None,
        )
        .await
        .json();
    assert_eq!(mine[0]["status"], "accepted");
    let audit_admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let events: Vec<String> = app
        .call(
            Some(&audit_admin),
            Method::GET,
            "/api/v1/admin/audit?limit=1000",
            None,
        )
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    for e in [
        "submission.created",
        "submission.claimed",
        "submission.accepted",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
}

#[tokio::test]
async fn rejection_needs_a_reason_and_a_withdrawn_submission_waits_for_nobody() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;50\n",
        s.tarare
    );
    let id = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let url = format!("/api/v1/submissions/{id}/decision");
    app.call(
        Some(&moderator),
        Method::POST,
        &url,
        Some(json!({"decision": "reject"})),
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);
    app.call(
        Some(&moderator),
        Method::POST,
        &url,
        Some(json!({"decision": "maybe"})),
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);
    let res = app
        .call(
            Some(&moderator),
            Method::POST,
            &url,
            Some(json!({"decision": "reject", "reason": "date d'inventaire manquante"})),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["submission"]["status"], "rejected");
    let school = app
        .get(&format!("/api/v1/schools/{}", s.tarare))
        .await
        .json();
    assert!(school["themes"]["equipement"]["nb_terminaux"]["value"].is_null());

    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;60\n",
        s.tarare
    );
    let id = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    // Only the submitter withdraws.
    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/withdraw"),
        None,
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);
    let res = app
        .call(
            Some(&rhone),
            Method::POST,
            &format!("/api/v1/submissions/{id}/withdraw"),
            None,
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["status"], "withdrawn");
    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/decision"),
        Some(json!({"decision": "accept"})),
    )
    .await
    .assert_status(StatusCode::CONFLICT);
    // A corrected file linked to the first.
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-20;61\n",
        s.tarare
    );
    let res = app
        .call_raw(
            Some(&rhone),
            Method::POST,
            &format!("/api/v1/submissions?schema=inventaire-equipement&supersedes={id}"),
            &[("content-type", "text/csv")],
            csv.into_bytes(),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json()["supersedes"], id);
}

#[tokio::test]
async fn anyone_signed_in_reports_an_error_on_any_school() {
    let (app, s) = setup().await;
    let citizen = app
        .session_for("parent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let moderator = app
        .session_for(
            "modo@ac-rennes.fr",
            None,
            &["moderator"],
            &["departement:35"],
        )
        .await;
    let csv = format!(
        "uai;champ;valeur_proposee;justification\n{};wifi;permanent;le wifi est installé depuis la rentrée\n",
        s.rennes
    );
    let res = upload(&app, &citizen, "signalement", &csv, None).await;
    res.assert_status(StatusCode::CREATED);
    let view = res.json();
    assert_eq!(view["rows_proposed"], 1, "{view}");
    assert_eq!(row(&view, 2)["proposed"], json!({"wifi": "permanent"}));
    // An inventory is not theirs to send: every row refused, nothing to review.
    let res = upload(
        &app,
        &citizen,
        "inventaire-equipement",
        &format!(
            "uai;date_inventaire;nb_terminaux\n{};2026-09-15;12\n",
            s.rennes
        ),
        None,
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    let refused = res.json();
    assert_eq!(refused["status"], "nothing_to_review");
    assert!(
        row(&refused, 2)["reason"]
            .as_str()
            .unwrap()
            .contains("aucune organisation")
    );

    let id = view["id"].as_i64().unwrap();
    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/decision"),
        Some(json!({"decision": "accept"})),
    )
    .await
    .assert_status(StatusCode::OK);
    let school = app
        .get(&format!("/api/v1/schools/{}", s.rennes))
        .await
        .json();
    assert_eq!(
        school["themes"]["connectivite"]["wifi"]["value"], "permanent",
        "{school}"
    );

    // Bad input: unknown schema, no schema, an unusable file.
    let csv = [("content-type", "text/csv")];
    for (uri, body, status) in [
        (
            "/api/v1/submissions?schema=inconnu",
            b"a;b\n".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/submissions",
            b"a;b\n".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/submissions?schema=signalement",
            vec![0, 159, 146, 150, 0, 1],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        app.call_raw(Some(&citizen), Method::POST, uri, &csv, body)
            .await
            .assert_status(status);
    }
    app.send(
        Method::POST,
        "/api/v1/submissions?schema=signalement",
        &[("content-type", "text/csv")],
        b"x".to_vec(),
    )
    .await
    .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn people_are_told_by_e_mail_through_the_outbox_and_a_failed_smtp_server_loses_nothing() {
    use ecarto::services::{
        mail::{MailConfig, Mailer},
        outbox,
    };
    use ecarto_tests::node::{SmtpServer, decoded};
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    let digest_moderator = app
        .session_for("modo2@ac-lyon.fr", None, &["moderator"], &["academie:10"])
        .await;
    app.call(
        Some(&digest_moderator),
        Method::POST,
        "/api/v1/me/preferences",
        Some(json!({"daily_digest": true})),
    )
    .await
    .assert_status(StatusCode::OK);
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;120\n",
        s.villefranche
    );
    let id = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();

    // The SMTP server is down: nothing is lost, the messages wait for the next attempt.
    let dead = Mailer::new(&MailConfig {
        from: "eCarto <ne-pas-repondre@ecarto.localhost>".into(),
        smtp_url: Some("smtp://127.0.0.1:9".into()),
        outbox_dir: app.dir.path().join("unused"),
    })
    .unwrap();
    let r = outbox::drain(&app.state.db, &dead).await.unwrap();
    assert_eq!(
        (r.sent, r.retried),
        (0, 2),
        "submitter and moderator: {r:?}"
    );
    assert_eq!(outbox::counts(&app.state.db).await.unwrap().pending, 2);

    let smtp = SmtpServer::start();
    let live = Mailer::new(&MailConfig {
        from: "eCarto <ne-pas-repondre@ecarto.localhost>".into(),
        smtp_url: Some(smtp.url()),
        outbox_dir: app.dir.path().join("unused"),
    })
    .unwrap();
    // Not due yet (the retry waits); due a few minutes later.
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    let r = outbox::drain_at(&app.state.db, &live, later).await.unwrap();
    assert_eq!(r.sent, 2, "{r:?}");
    let mails: Vec<String> = smtp.messages(2).iter().map(|m| decoded(m)).collect();
    let to_submitter = mails
        .iter()
        .find(|m| m.contains("To: dsi@rhone.fr"))
        .unwrap();
    assert!(
        to_submitter.contains(&format!("Votre envoi n° {id}")),
        "{to_submitter}"
    );
    assert!(
        to_submitter.contains("1 ligne(s) proposée(s)"),
        "{to_submitter}"
    );
    assert!(to_submitter.contains(&format!("/api/v1/submissions/{id}")));
    let to_moderator = mails
        .iter()
        .find(|m| m.contains("To: modo@ac-lyon.fr"))
        .unwrap();
    assert!(
        to_moderator.contains("attend votre relecture"),
        "{to_moderator}"
    );
    assert!(
        !mails.iter().any(|m| m.contains("modo2@ac-lyon.fr")),
        "the digest moderator gets no e-mail per submission"
    );

    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/decision"),
        Some(json!({"decision": "reject", "reason": "la date d'inventaire est celle de l'an dernier"})),
    )
    .await
    .assert_status(StatusCode::OK);
    let n = ecarto::services::submissions::daily_digest(&app.state.db, "http://127.0.0.1:8080")
        .await
        .unwrap();
    assert_eq!(n, 0, "the submission was decided: nothing left to digest");
    let r = outbox::drain_at(&app.state.db, &live, later).await.unwrap();
    assert_eq!(r.sent, 1);
    let mails: Vec<String> = smtp.messages(3).iter().map(|m| decoded(m)).collect();
    assert!(
        mails
            .iter()
            .any(|m| m.contains("a été refusée") && m.contains("celle de l'an dernier")),
        "{mails:?}"
    );
    // Never twice.
    let r = outbox::drain_at(&app.state.db, &live, later).await.unwrap();
    assert_eq!(r.sent, 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.messages(0).len(), 3);

    // The daily digest for the moderator who chose it.
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;90\n",
        s.tarare
    );
    upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .assert_status(StatusCode::CREATED);
    let n = ecarto::services::submissions::daily_digest(&app.state.db, "http://127.0.0.1:8080")
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Queued once a day, however often the job runs.
    ecarto::services::submissions::daily_digest(&app.state.db, "http://127.0.0.1:8080")
        .await
        .unwrap();
    outbox::drain_at(&app.state.db, &live, later).await.unwrap();
    let mails: Vec<String> = smtp.messages(6).iter().map(|m| decoded(m)).collect();
    let digests = mails
        .iter()
        .filter(|m| m.contains("To: modo2@ac-lyon.fr"))
        .count();
    assert_eq!(digests, 1, "{mails:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_moderators_at_once_neither_decide_twice_nor_lose_an_update() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let academie = app
        .session_for(
            "dane@ac-lyon.fr",
            Some("academie:10"),
            &["contributor"],
            &[],
        )
        .await;
    let m1 = app
        .session_for(
            "modo1@ac-lyon.fr",
            None,
            &["moderator"],
            &["departement:69"],
        )
        .await;
    let m2 = app
        .session_for("modo2@ac-lyon.fr", None, &["moderator"], &["academie:10"])
        .await;

    // The same submission decided by both at once: one decision, the other is told.
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;70\n",
        s.tarare
    );
    let id = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let url = format!("/api/v1/submissions/{id}/decision");
    let accept = Some(json!({"decision": "accept"}));
    let (a, b) = tokio::join!(
        app.call(Some(&m1), Method::POST, &url, accept.clone()),
        app.call(Some(&m2), Method::POST, &url, accept.clone()),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} / {}",
        a.text(),
        b.text()
    );
    let versions = app.get("/api/v1/datasets/versions").await.json();
    let merges = versions
        .as_array()
        .or_else(|| versions["versions"].as_array())
        .unwrap()
        .iter()
        .filter(|v| v["kind"] == "merge")
        .count();
    assert_eq!(merges, 1, "{versions}");

    // Two submissions on the same school merged at once: both values survive.
    let one = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;130\n",
        s.villefranche
    );
    let two = format!(
        "uai;date_inventaire;nb_terminaux;nb_tablettes\n{};2026-09-15;130;44\n",
        s.villefranche
    );
    let id1 = upload(&app, &rhone, "inventaire-equipement", &one, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let id2 = upload(&app, &academie, "inventaire-equipement", &two, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let (url1, url2) = (
        format!("/api/v1/submissions/{id1}/decision"),
        format!("/api/v1/submissions/{id2}/decision"),
    );
    let (a, b) = tokio::join!(
        app.call(Some(&m2), Method::POST, &url1, accept.clone()),
        app.call(Some(&m1), Method::POST, &url2, accept.clone()),
    );
    a.assert_status(StatusCode::OK);
    b.assert_status(StatusCode::OK);
    let school = app
        .get(&format!("/api/v1/schools/{}", s.villefranche))
        .await
        .json();
    let equipement = &school["themes"]["equipement"];
    assert_eq!(equipement["nb_terminaux"]["value"], 130, "{school}");
    assert_eq!(equipement["nb_tablettes"]["value"], 44, "{school}");
    assert_eq!(
        equipement["nb_tablettes"]["provenance"]["submission_id"],
        id2
    );
}

#[tokio::test]
async fn values_changed_since_the_submission_are_conflicts_the_reviewer_resolves() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    let csv = format!(
        "uai;date_inventaire;nb_terminaux;nb_tablettes\n{};2026-09-15;120;30\n",
        s.villefranche
    );
    let id = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    // Meanwhile the survey of 2020 publishes another number of terminals.
    app.publish(
        "etic",
        Some("2020"),
        vec![(s.villefranche.as_str(), vec![("nb_terminaux", json!(55))])],
    )
    .await;
    let queue = app
        .call(Some(&moderator), Method::GET, "/api/v1/reviews", None)
        .await
        .json();
    assert!(
        queue[0]["flags"].to_string().contains("possible_conflict"),
        "{queue}"
    );
    let detail = app
        .call(
            Some(&moderator),
            Method::GET,
            &format!("/api/v1/submissions/{id}"),
            None,
        )
        .await
        .json();
    let diff = row(&detail, 2)["diff"].as_array().unwrap().clone();
    let terminaux = diff.iter().find(|d| d["field"] == "nb_terminaux").unwrap();
    assert_eq!(terminaux["published"], 55);
    assert!(
        terminaux["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("conflict")),
        "{terminaux}"
    );

    let url = format!("/api/v1/submissions/{id}/decision");
    let res = app
        .call(
            Some(&moderator),
            Method::POST,
            &url,
            Some(json!({"decision": "accept"})),
        )
        .await;
    res.assert_status(StatusCode::CONFLICT);
    assert!(res.text().contains("nb_terminaux"), "{}", res.text());
    assert!(res.text().contains("keep_published"), "{}", res.text());
    // Keep the newer published value; the rest of the row goes through.
    app.call(
        Some(&moderator),
        Method::POST,
        &url,
        Some(json!({"decision": "accept", "conflicts": "keep_published"})),
    )
    .await
    .assert_status(StatusCode::OK);
    let school = app
        .get(&format!("/api/v1/schools/{}", s.villefranche))
        .await
        .json();
    assert_eq!(school["themes"]["equipement"]["nb_terminaux"]["value"], 55);
    assert_eq!(school["themes"]["equipement"]["nb_tablettes"]["value"], 30);
}

#[tokio::test]
async fn a_rejected_proposal_sent_again_comes_with_the_earlier_decision() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;5000\n",
        s.tarare
    );
    let id = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    app.call(
        Some(&moderator),
        Method::POST,
        &format!("/api/v1/submissions/{id}/decision"),
        Some(json!({"decision": "reject", "reason": "5 000 terminaux pour un collège : erreur de saisie"})),
    )
    .await
    .assert_status(StatusCode::OK);
    // The same proposal again (another file: a different date).
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-10-01;5000\n",
        s.tarare
    );
    let again = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json();
    let flag = again["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flag"] == "dismissed_before")
        .unwrap_or_else(|| panic!("{again}"));
    assert_eq!(flag["field"], "nb_terminaux");
    assert_eq!(flag["submission"], id);
    assert!(
        flag["reason"]
            .as_str()
            .unwrap()
            .contains("erreur de saisie")
    );
    let detail = app
        .call(
            Some(&moderator),
            Method::GET,
            &format!("/api/v1/submissions/{}", again["id"]),
            None,
        )
        .await
        .json();
    let diff = row(&detail, 2)["diff"].as_array().unwrap().clone();
    let terminaux = diff.iter().find(|d| d["field"] == "nb_terminaux").unwrap();
    assert!(
        terminaux["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("dismissed_before")),
        "{terminaux}"
    );
}

#[tokio::test]
async fn an_admin_reverts_a_merged_submission_and_later_values_stay() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let accept = |id: i64| {
        let app = &app;
        let moderator = &moderator;
        async move {
            app.call(
                Some(moderator),
                Method::POST,
                &format!("/api/v1/submissions/{id}/decision"),
                Some(json!({"decision": "accept", "conflicts": "take_proposed"})),
            )
            .await
            .assert_status(StatusCode::OK);
        }
    };
    let first = format!(
        "uai;date_inventaire;nb_terminaux;nb_tablettes\n{};2026-09-15;120;30\n",
        s.villefranche
    );
    let id1 = upload(&app, &rhone, "inventaire-equipement", &first, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    accept(id1).await;
    let second = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-10-15;130\n",
        s.villefranche
    );
    let id2 = upload(&app, &rhone, "inventaire-equipement", &second, None)
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    accept(id2).await;

    let url = format!("/api/v1/submissions/{id1}/revert");
    app.call(
        Some(&moderator),
        Method::POST,
        &url,
        Some(json!({"reason": "x"})),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    app.call(Some(&admin), Method::POST, &url, Some(json!({})))
        .await
        .assert_status(StatusCode::BAD_REQUEST);
    let res = app
        .call(
            Some(&admin),
            Method::POST,
            &url,
            Some(json!({"reason": "inventaire envoyé pour le mauvais collège"})),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let outcome = res.json();
    assert_eq!(outcome["submission"]["status"], "reverted");
    let version = outcome["merged_version"].as_i64().unwrap();

    let school = app
        .get(&format!("/api/v1/schools/{}", s.villefranche))
        .await
        .json();
    let equipement = &school["themes"]["equipement"];
    // Replaced since by the second submission: stays.
    assert_eq!(equipement["nb_terminaux"]["value"], 130, "{school}");
    assert_eq!(
        equipement["nb_terminaux"]["provenance"]["submission_id"],
        id2
    );
    // Brought by the first only: gone again.
    assert!(equipement["nb_tablettes"]["value"].is_null(), "{school}");
    let versions = app.get("/api/v1/datasets/versions").await.json();
    assert!(versions.to_string().contains("\"revert\""), "{versions}");
    let changes = app
        .get(&format!("/api/v1/datasets/versions/{version}/changes"))
        .await
        .json();
    assert!(changes.to_string().contains("nb_tablettes"), "{changes}");
    app.call(
        Some(&admin),
        Method::POST,
        &url,
        Some(json!({"reason": "encore"})),
    )
    .await
    .assert_status(StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_proposal_older_than_the_published_value_is_flagged() {
    let (app, s) = setup().await;
    app.publish(
        "etic",
        Some("2027"),
        vec![(s.tarare.as_str(), vec![("nb_terminaux", json!(60))])],
    )
    .await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let csv = format!(
        "uai;date_inventaire;nb_terminaux;nb_tablettes\n{};2026-09-15;70;5\n",
        s.tarare
    );
    let view = upload(&app, &rhone, "inventaire-equipement", &csv, None)
        .await
        .json();
    let diff = row(&view, 2)["diff"].as_array().unwrap().clone();
    let terminaux = diff.iter().find(|d| d["field"] == "nb_terminaux").unwrap();
    assert!(
        terminaux["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("more_recent_published")),
        "the survey of 2027 is more recent than the inventory of 2026-09-15: {terminaux}"
    );
    let tablettes = diff.iter().find(|d| d["field"] == "nb_tablettes").unwrap();
    assert!(tablettes.get("flags").is_none(), "{tablettes}");
}

#[tokio::test]
async fn accepted_experimentations_are_listed_by_territory() {
    let (app, s) = setup().await;
    let academie = app
        .session_for(
            "dane@ac-rennes.fr",
            Some("academie:14"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for(
            "modo@ac-rennes.fr",
            None,
            &["moderator"],
            &["departement:35"],
        )
        .await;
    let send = |name: &str| {
        let body = json!([{
            "identifiant": "robotique-35",
            "nom": name,
            "description": "Initiation à la programmation de robots.",
            "thematiques": ["robotique"],
            "uai": [s.rennes],
            "date_debut": "2026-09-01"
        }])
        .to_string();
        let app = &app;
        let academie = &academie;
        async move {
            let res = app
                .call_raw(
                    Some(academie),
                    Method::POST,
                    "/api/v1/submissions?schema=experimentation-locale&filename=experimentations.json",
                    &[("content-type", "application/json")],
                    body.into_bytes(),
                )
                .await;
            res.assert_status(StatusCode::CREATED);
            res.json()["id"].as_i64().unwrap()
        }
    };
    for name in ["Robots en classe", "Robots en classe de CM"] {
        let id = send(name).await;
        app.call(
            Some(&moderator),
            Method::POST,
            &format!("/api/v1/submissions/{id}/decision"),
            Some(json!({"decision": "accept"})),
        )
        .await
        .assert_status(StatusCode::OK);
    }
    let list = app
        .get("/api/v1/experimentations?territory=departement:35")
        .await
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "the second replaced the first: {list:?}");
    assert_eq!(list[0]["nom"], "Robots en classe de CM");
    assert_eq!(list[0]["schools"][0]["uai"], s.rennes.as_str());
    assert_eq!(list[0]["schools"][0]["name"], "Collège des Gayeulles");
    assert_eq!(list[0]["organisation"], "Académie de Rennes");
    let elsewhere = app
        .get("/api/v1/experimentations?territory=departement:69")
        .await
        .json();
    assert!(elsewhere.as_array().unwrap().is_empty());
    app.get("/api/v1/experimentations?territory=canton:1")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

/// BYOD policies and measured connectivity: sent, accepted, and then in the school's record,
/// its provenance (organisation, reviewer) and the open-data export.
#[tokio::test]
async fn byod_and_measured_connectivity_reach_the_published_dataset() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@ac-lyon.fr", None, &["moderator"], &["departement:69"])
        .await;
    for (schema, body) in [
        (
            "byod",
            json!([{"uai": s.villefranche, "politique": "experimentation",
                "date_debut": "2025-09-01", "niveaux": ["4e", "3e"]}]),
        ),
        (
            "connectivite-mesuree",
            json!([{"uai": s.villefranche, "date_mesure": "2026-10-06",
                "debit_descendant_mbps": 940, "debit_montant_mbps": 860.2, "methode": "sonde",
                "wifi": "permanent", "part_classes_wifi": 100}]),
        ),
    ] {
        let res = app
            .call_raw(
                Some(&rhone),
                Method::POST,
                &format!("/api/v1/submissions?schema={schema}&filename={schema}.json"),
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            )
            .await;
        res.assert_status(StatusCode::CREATED);
        let view = res.json();
        assert_eq!(view["rows_proposed"], 1, "{schema}: {view}");
        app.call(
            Some(&moderator),
            Method::POST,
            &format!("/api/v1/submissions/{}/decision", view["id"]),
            Some(json!({"decision": "accept"})),
        )
        .await
        .assert_status(StatusCode::OK);
    }
    let school = app
        .get(&format!("/api/v1/schools/{}", s.villefranche))
        .await
        .json();
    let themes = &school["themes"];
    let politique = &themes["byod"]["byod_politique"];
    assert_eq!(politique["value"], "experimentation", "{school}");
    let contribution = &politique["provenance"]["contribution"];
    assert_eq!(contribution["organisation"], "Département du Rhône");
    assert!(
        contribution["reviewer"]
            .as_str()
            .unwrap()
            .starts_with("modérateur")
    );
    assert_eq!(contribution["schema"], "byod@v1");
    assert_eq!(
        themes["connectivite"]["wifi"]["value"], "permanent",
        "{school}"
    );
    let csv = app.get("/api/v1/exports/schools.csv").await.text();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let line = lines
        .find(|l| l.starts_with(s.villefranche.as_str()))
        .unwrap();
    let cells: Vec<&str> = line.split(';').collect();
    let col = |name: &str| cells[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(col("byod_politique"), "experimentation");
    assert_eq!(
        col("debit_mesure_descendant").parse::<f64>().unwrap(),
        940.0
    );
    // The audit log of submissions and decisions, for admins.
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let audit = app
        .call(Some(&admin), Method::GET, "/api/v1/audit", None)
        .await;
    audit.assert_status(StatusCode::OK);
    assert!(audit.text().contains("submission.accepted"));
    app.call(Some(&rhone), Method::GET, "/api/v1/audit", None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_retried_while_the_first_runs_is_one_submission() {
    let (app, s) = setup().await;
    let rhone = app
        .session_for(
            "dsi@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let csv = format!(
        "uai;date_inventaire;nb_terminaux\n{};2026-09-15;33\n",
        s.tarare
    );
    let (a, b) = tokio::join!(
        upload(&app, &rhone, "inventaire-equipement", &csv, Some("retry-1")),
        upload(&app, &rhone, "inventaire-equipement", &csv, Some("retry-1")),
    );
    assert!(
        a.status.is_success() && b.status.is_success(),
        "{} / {}",
        a.text(),
        b.text()
    );
    assert_eq!(a.json()["id"], b.json()["id"]);
    let mine = app
        .call(
            Some(&rhone),
            Method::GET,
            "/api/v1/submissions?mine=true",
            None,
        )
        .await
        .json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
}
