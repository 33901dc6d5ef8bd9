//! The authorization matrix: every state-changing endpoint × role, and the competence of
//! organisations × schools inside and outside it (Lyon/Rhône, Corse, Paris, an EPCI with and
//! without the school competence, a delegation before and after its end), each from one table.
//! A state-changing route added to the code without a row here fails
//! `every_state_changing_route_is_in_the_matrix`.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use ecarto::services::territories;
use ecarto_tests::{Session, TestApp, repo_root, uai};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

/// The kinds of caller every endpoint is tried with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    BetaTester,
    Contributor,
    Moderator,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::BetaTester,
    Who::Contributor,
    Who::Moderator,
    Who::Admin,
];

struct Endpoint {
    method: Method,
    /// The route as declared in the router (`{id}` placeholders).
    route: &'static str,
    /// The path called, placeholders filled from the fixtures.
    path: fn(&Fixtures) -> String,
    body: fn(&Fixtures, Who) -> Body,
    expect: fn(Who) -> StatusCode,
}

enum Body {
    None,
    Json(Value),
    Form(String),
    Csv(String),
}

struct Fixtures {
    /// A collège of the Rhône outside the Métropole de Lyon.
    school: String,
    /// Pending submissions of the contributor (Département du Rhône).
    withdrawable: i64,
    reviewable: i64,
    pending_request: i64,
    competence_line: i64,
    organisation: i64,
    moderator_id: i64,
    /// A harvested source of the contributor's organisation.
    harvest_source: i64,
    /// A file the contributor is fixing in the browser (theirs alone).
    draft: i64,
    /// For the admin pages' forms: another pending request and another competence line.
    page_request: i64,
    page_line: i64,
}

fn admin_only(ok: StatusCode) -> fn(Who) -> StatusCode {
    // Function pointers cannot capture: one per success status.
    match ok.as_u16() {
        200 => |w| admin_gate(w, StatusCode::OK),
        201 => |w| admin_gate(w, StatusCode::CREATED),
        _ => |w| admin_gate(w, StatusCode::NO_CONTENT),
    }
}

fn admin_gate(w: Who, ok: StatusCode) -> StatusCode {
    match w {
        Who::Anonymous => StatusCode::UNAUTHORIZED,
        Who::Admin => ok,
        _ => StatusCode::FORBIDDEN,
    }
}

/// An admin page's form: the anonymous are refused by the session check, the others by the
/// admin check; the admin is sent back to the page (with what was done, or why not).
fn admin_form(w: Who) -> StatusCode {
    match w {
        Who::Anonymous => StatusCode::UNAUTHORIZED,
        Who::Admin => StatusCode::SEE_OTHER,
        _ => StatusCode::FORBIDDEN,
    }
}

fn form(s: &str) -> Body {
    Body::Form(s.to_owned())
}

fn signed_in(w: Who, ok: StatusCode) -> StatusCode {
    if w == Who::Anonymous {
        StatusCode::UNAUTHORIZED
    } else {
        ok
    }
}

/// THE table: one row per state-changing route.
fn matrix() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: Method::POST,
            route: "/api/v1/harvest/sources",
            path: |_| "/api/v1/harvest/sources".into(),
            body: |_, _| {
                Body::Json(json!({"url": "http://127.0.0.1:9/inventaire.csv",
                    "schema": "inventaire-equipement"}))
            },
            // Members of an organisation only; the contributor's address is refused because
            // it is not public.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/harvest/sources/{id}/run",
            path: |f| format!("/api/v1/harvest/sources/{}/run", f.harvest_source),
            body: |_, _| Body::None,
            // Its organisation and admins; to the others it does not exist.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor | Who::Admin => StatusCode::OK,
                _ => StatusCode::NOT_FOUND,
            },
        },
        Endpoint {
            method: Method::DELETE,
            route: "/api/v1/harvest/sources/{id}",
            path: |f| format!("/api/v1/harvest/sources/{}", f.harvest_source),
            body: |_, _| Body::None,
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor | Who::Admin => StatusCode::OK,
                _ => StatusCode::NOT_FOUND,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/validate/{schema}",
            path: |_| "/api/v1/validate/inventaire-equipement".into(),
            body: |_, _| {
                Body::Csv("uai;date_inventaire;nb_terminaux\n0350006S;2025-09-01;12\n".into())
            },
            // Checking a file before sending it is open to all.
            expect: |_| StatusCode::OK,
        },
        Endpoint {
            method: Method::POST,
            route: "/auth/email",
            path: |_| "/auth/email".into(),
            body: |_, w| Body::Form(format!("email=form-{w:?}@exemple.fr")),
            expect: |_| StatusCode::OK,
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/auth/magic-link",
            path: |_| "/api/v1/auth/magic-link".into(),
            body: |_, w| Body::Json(json!({"email": format!("json-{w:?}@exemple.fr")})),
            expect: |_| StatusCode::ACCEPTED,
        },
        Endpoint {
            method: Method::POST,
            route: "/auth/email/confirm",
            path: |_| "/auth/email/confirm".into(),
            body: |_, _| Body::Form("token=not-a-token".into()),
            expect: |_| StatusCode::UNAUTHORIZED,
        },
        Endpoint {
            method: Method::POST,
            route: "/auth/bootstrap",
            path: |_| "/auth/bootstrap".into(),
            body: |_, _| Body::Form("token=x&email=a%40exemple.fr".into()),
            // An admin exists: the bootstrap link is over for everyone.
            expect: |_| StatusCode::CONFLICT,
        },
        Endpoint {
            method: Method::POST,
            route: "/acces",
            path: |_| "/acces".into(),
            body: |_, _| Body::Form("siret=99999999900011&message=test".into()),
            // Members of an organisation have nothing to request; the others file a request
            // (the beta-tester's is created by this row, so it is the only 200).
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::BetaTester | Who::Moderator | Who::Admin => StatusCode::OK,
                Who::Contributor => StatusCode::CONFLICT,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/me/access-requests",
            path: |_| "/api/v1/me/access-requests".into(),
            body: |_, _| Body::Json(json!({"siret": "99999999900011"})),
            // The /acces row above left a pending request for those without organisation.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                _ => StatusCode::CONFLICT,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/me/tokens",
            path: |_| "/api/v1/me/tokens".into(),
            body: |_, _| Body::Json(json!({"name": "matrice"})),
            expect: |w| signed_in(w, StatusCode::CREATED),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/me/preferences",
            path: |_| "/api/v1/me/preferences".into(),
            body: |_, _| Body::Json(json!({"daily_digest": false})),
            expect: |w| signed_in(w, StatusCode::OK),
        },
        Endpoint {
            method: Method::DELETE,
            route: "/api/v1/me/tokens/{id}",
            // Nobody owns token 999999: a caller only ever sees their own.
            path: |_| "/api/v1/me/tokens/999999".into(),
            body: |_, _| Body::None,
            expect: |w| signed_in(w, StatusCode::NOT_FOUND),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/admin/organisations",
            path: |_| "/api/v1/admin/organisations".into(),
            body: |_, w| {
                Body::Json(
                    json!({"kind": "commune", "name": format!("Commune test {w:?}"),
                    "territory": "commune:35047"}),
                )
            },
            expect: admin_only(StatusCode::CREATED),
        },
        Endpoint {
            method: Method::PATCH,
            route: "/api/v1/admin/organisations/{id}",
            path: |f| format!("/api/v1/admin/organisations/{}", f.organisation),
            body: |_, _| Body::Json(json!({"school_competence": true})),
            expect: admin_only(StatusCode::OK),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/admin/organisations/{id}/competences",
            path: |f| format!("/api/v1/admin/organisations/{}/competences", f.organisation),
            body: |_, _| {
                Body::Json(json!({"school_types": ["ecole"], "secteur": "public",
                    "territory": "commune:35238", "reason": "test de la matrice"}))
            },
            expect: admin_only(StatusCode::CREATED),
        },
        Endpoint {
            method: Method::DELETE,
            route: "/api/v1/admin/competences/{id}",
            path: |f| format!("/api/v1/admin/competences/{}", f.competence_line),
            body: |_, _| Body::None,
            expect: admin_only(StatusCode::NO_CONTENT),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/admin/users",
            path: |_| "/api/v1/admin/users".into(),
            body: |_, _| {
                Body::Json(json!({"email": "nouveau@exemple.fr", "roles": ["beta-tester"]}))
            },
            expect: admin_only(StatusCode::OK),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/admin/access-requests/{id}/decision",
            path: |f| {
                format!(
                    "/api/v1/admin/access-requests/{}/decision",
                    f.pending_request
                )
            },
            body: |_, _| Body::Json(json!({"decision": "refuse", "reason": "matrice"})),
            expect: admin_only(StatusCode::OK),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/submissions",
            path: |_| "/api/v1/submissions?schema=inventaire-equipement".into(),
            body: |f, _| {
                Body::Csv(format!(
                    "uai;date_inventaire;nb_terminaux\n{};2026-09-15;77\n",
                    f.school
                ))
            },
            // Everyone signed in may send; rows outside their competence are refused row by
            // row (the competence test says which).
            expect: |w| signed_in(w, StatusCode::CREATED),
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/submissions/{id}/withdraw",
            path: |f| format!("/api/v1/submissions/{}/withdraw", f.withdrawable),
            body: |_, _| Body::None,
            // Only its submitter; to the others it does not exist.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor => StatusCode::OK,
                _ => StatusCode::NOT_FOUND,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/submissions/{id}/claim",
            path: |f| format!("/api/v1/submissions/{}/claim", f.reviewable),
            body: |_, _| Body::None,
            // The territory's moderator takes it first; the admin then finds it taken.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::BetaTester | Who::Contributor => StatusCode::FORBIDDEN,
                Who::Moderator => StatusCode::OK,
                Who::Admin => StatusCode::CONFLICT,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/submissions/{id}/decision",
            path: |f| format!("/api/v1/submissions/{}/decision", f.reviewable),
            body: |_, _| Body::Json(json!({"decision": "reject", "reason": "matrice"})),
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::BetaTester | Who::Contributor => StatusCode::FORBIDDEN,
                Who::Moderator => StatusCode::OK,
                Who::Admin => StatusCode::CONFLICT,
            },
        },
        // The moderation desk's forms: the same services, so the same answers, as pages.
        Endpoint {
            method: Method::POST,
            route: "/moderation/{id}/prendre",
            path: |f| format!("/moderation/{}/prendre", f.reviewable),
            body: |_, _| Body::Form(String::new()),
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::BetaTester | Who::Contributor => StatusCode::FORBIDDEN,
                Who::Moderator => StatusCode::SEE_OTHER,
                Who::Admin => StatusCode::CONFLICT,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/moderation/{id}/decision",
            path: |f| format!("/moderation/{}/decision", f.reviewable),
            body: |_, _| Body::Form("decision=reject&raison=matrice".into()),
            // Decided above through the API: the moderator is let through and told so; the
            // submitting organisation's member sees it but may not decide (four eyes); to
            // others it does not exist.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::BetaTester => StatusCode::NOT_FOUND,
                Who::Contributor => StatusCode::FORBIDDEN,
                Who::Moderator | Who::Admin => StatusCode::CONFLICT,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/moderation/{id}/groupes",
            path: |f| format!("/moderation/{}/groupes", f.reviewable),
            body: |_, _| Body::Form("groupe:nb_terminaux%7Cchanges=refuser&raison=matrice".into()),
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::BetaTester => StatusCode::NOT_FOUND,
                Who::Contributor => StatusCode::FORBIDDEN,
                Who::Moderator | Who::Admin => StatusCode::CONFLICT,
            },
        },
        // A collectivité's pages: uploading makes a draft of one's own; a draft is its
        // author's alone (to anyone else it does not exist), and once sent it is not changed.
        Endpoint {
            method: Method::POST,
            route: "/contribuer/{schema}",
            path: |_| "/contribuer/inventaire-equipement".into(),
            body: |f, _| {
                Body::Csv(format!(
                    "uai;date_inventaire;nb_terminaux\n{};2026-09-15;78\n",
                    f.school
                ))
            },
            expect: |w| signed_in(w, StatusCode::SEE_OTHER),
        },
        Endpoint {
            method: Method::POST,
            route: "/contribuer/brouillons/{id}/corriger",
            path: |f| format!("/contribuer/brouillons/{}/corriger", f.draft),
            body: |_, _| Body::Form("c%3A2%3A2=79".into()),
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor => StatusCode::SEE_OTHER,
                _ => StatusCode::NOT_FOUND,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/contribuer/brouillons/{id}/remplacer",
            path: |f| format!("/contribuer/brouillons/{}/remplacer", f.draft),
            body: |_, _| Body::Form("colonne=2&valeur=79&remplacement=80".into()),
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor => StatusCode::SEE_OTHER,
                _ => StatusCode::NOT_FOUND,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/contribuer/brouillons/{id}/envoyer",
            path: |f| format!("/contribuer/brouillons/{}/envoyer", f.draft),
            body: |_, _| Body::Form(String::new()),
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Contributor => StatusCode::SEE_OTHER,
                _ => StatusCode::NOT_FOUND,
            },
        },
        // Reporting an error is anyone's once signed in; the anonymous are sent to sign in.
        Endpoint {
            method: Method::POST,
            route: "/etablissements/{uai}/signaler",
            path: |f| format!("/etablissements/{}/signaler", f.school),
            body: |_, w| {
                Body::Form(format!(
                    "champ=wifi&valeur=non&justification=Constat+de+la+matrice+{w:?}"
                ))
            },
            expect: |_| StatusCode::SEE_OTHER,
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/submissions/{id}/revert",
            path: |f| format!("/api/v1/submissions/{}/revert", f.reviewable),
            body: |_, _| Body::Json(json!({"reason": "matrice"})),
            // Admins only; the fixture was rejected above, so there is nothing to undo.
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                Who::Admin => StatusCode::CONFLICT,
                _ => StatusCode::FORBIDDEN,
            },
        },
        Endpoint {
            method: Method::DELETE,
            route: "/api/v1/admin/users/{id}/roles/{role}",
            path: |f| format!("/api/v1/admin/users/{}/roles/moderator", f.moderator_id),
            body: |_, _| Body::None,
            // Near the end: the moderator used above loses the role here.
            expect: admin_only(StatusCode::NO_CONTENT),
        },
        // The admin pages' forms: the same services as the admin API.
        Endpoint {
            method: Method::POST,
            route: "/admin/demandes/{id}/decision",
            path: |f| format!("/admin/demandes/{}/decision", f.page_request),
            body: |_, _| form("decision=refuse&raison=matrice"),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/organisations",
            path: |_| "/admin/organisations".into(),
            body: |_, w| {
                Body::Form(format!(
                    "kind=commune&name=Commune+page+{w:?}&territory=commune%3A35047"
                ))
            },
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/organisations/{id}/membres",
            path: |f| format!("/admin/organisations/{}/membres", f.organisation),
            body: |_, _| form("email=membre-page%40exemple.fr&role=contributor"),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/organisations/{id}/identite",
            path: |f| format!("/admin/organisations/{}/identite", f.organisation),
            body: |_, _| form("siren="),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/organisations/{id}/competences",
            path: |f| format!("/admin/organisations/{}/competences", f.organisation),
            body: |_, _| {
                form("school_types=ecole&secteur=public&territory=commune%3A35238&reason=matrice")
            },
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/competences/{id}/supprimer",
            path: |f| format!("/admin/competences/{}/supprimer", f.page_line),
            body: |_, _| form(""),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/utilisateurs/{id}/roles/{role}/retirer",
            path: |f| {
                format!(
                    "/admin/utilisateurs/{}/roles/moderator/retirer",
                    f.moderator_id
                )
            },
            body: |_, _| form("retour=%2Fadmin%2Fmoderateurs"),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/moderateurs",
            path: |_| "/admin/moderateurs".into(),
            body: |_, _| form("email=modo-page%40exemple.fr&territoires=departement%3A35"),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/moissonnage",
            path: |_| "/admin/moissonnage".into(),
            body: |_, _| {
                form("url=http%3A%2F%2F127.0.0.1%3A9%2Ff.csv&schema=inventaire-equipement")
            },
            // A source is its organisation's: an admin who belongs to none may not declare one
            // (the page says so instead of showing the form).
            expect: |w| match w {
                Who::Anonymous => StatusCode::UNAUTHORIZED,
                _ => StatusCode::FORBIDDEN,
            },
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/moissonnage/{id}/lancer",
            path: |f| format!("/admin/moissonnage/{}/lancer", f.harvest_source),
            body: |_, _| form(""),
            // Deactivated above through the API: the admin is sent back and told so.
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/moissonnage/{id}/desactiver",
            path: |f| format!("/admin/moissonnage/{}/desactiver", f.harvest_source),
            body: |_, _| form(""),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/admin/taches/{job}/lancer",
            path: |_| "/admin/taches/outbox/lancer".into(),
            body: |_, _| form(""),
            expect: admin_form,
        },
        Endpoint {
            method: Method::POST,
            route: "/api/v1/admin/jobs/{job}/run",
            path: |_| "/api/v1/admin/jobs/outbox/run".into(),
            body: |_, _| Body::None,
            expect: admin_only(StatusCode::OK),
        },
        Endpoint {
            method: Method::POST,
            route: "/auth/logout",
            path: |_| "/auth/logout".into(),
            body: |_, _| Body::None,
            // Last: it ends the sessions used above.
            expect: |_| StatusCode::SEE_OTHER,
        },
    ]
}

/// Every `.route("…", …)` of the HTTP modules with a method other than GET.
fn declared_state_changing_routes() -> BTreeSet<(String, String)> {
    let dir = repo_root().join("backend/src/http");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            let after = &rest[at + ".route(".len()..];
            // The call's text: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let call = &after[..end];
            let path = call.split('"').nth(1).unwrap_or("").to_owned();
            for (method, needle) in [
                ("POST", "post("),
                ("PUT", "put("),
                ("PATCH", "patch("),
                ("DELETE", "delete("),
            ] {
                let found = call.match_indices(needle).any(|(i, _)| {
                    i == 0
                        || !call[..i]
                            .chars()
                            .last()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if found {
                    out.insert((method.to_owned(), path.clone()));
                }
            }
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_state_changing_route_is_in_the_matrix() {
    let declared = declared_state_changing_routes();
    assert!(
        declared.contains(&("POST".into(), "/api/v1/admin/users".into())),
        "the scanner reads the routers: {declared:?}"
    );
    let covered: BTreeSet<(String, String)> = matrix()
        .iter()
        .map(|e| (e.method.to_string(), e.route.to_owned()))
        .collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "state-changing routes without a row in the matrix: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&declared).collect();
    assert!(
        stale.is_empty(),
        "matrix rows for routes that do not exist: {stale:?}"
    );
}

async fn call(
    app: &TestApp,
    who: Option<&Session>,
    e: &Endpoint,
    f: &Fixtures,
    w: Who,
) -> StatusCode {
    let path = (e.path)(f);
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(s) = who {
        headers.push(("cookie".into(), format!("ecarto_session={}", s.cookie)));
        headers.push(("x-csrf-token".into(), s.csrf.clone()));
    }
    let body = match (e.body)(f, w) {
        Body::None => vec![],
        Body::Json(v) => {
            headers.push(("content-type".into(), "application/json".into()));
            v.to_string().into_bytes()
        }
        Body::Form(s) => {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            s.into_bytes()
        }
        Body::Csv(s) => {
            headers.push(("content-type".into(), "text/csv".into()));
            s.into_bytes()
        }
    };
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = app.send(e.method.clone(), &path, &h, body).await;
    if res.status.is_server_error() {
        panic!("{} {path} as {w:?}: {}", e.method, res.text());
    }
    res.status
}

#[tokio::test]
async fn every_state_changing_endpoint_answers_each_role_as_the_table_says() {
    let app = TestApp::new().await;
    territories::ensure_loaded(&app.state.db).await.unwrap();
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let beta = app
        .session_for("beta@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let contributor = app
        .session_for(
            "agent@rhone.fr",
            Some("departement:69"),
            &["contributor"],
            &[],
        )
        .await;
    let moderator = app
        .session_for("modo@exemple.fr", None, &["moderator"], &["departement:69"])
        .await;
    let requester = app
        .session_for("demandeur@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let mut requests = Vec::new();
    for requester in [
        requester,
        app.session_for("demandeur2@exemple.fr", None, &["beta-tester"], &[])
            .await,
    ] {
        requests.push(
            app.call(
                Some(&requester),
                Method::POST,
                "/api/v1/me/access-requests",
                Some(json!({"siret": "99999999900011"})),
            )
            .await
            .json()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let epci = app
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/admin/users",
            Some(
                json!({"email": "agent@rennesmetropole.fr", "organisation": "243500139",
                "roles": ["contributor"]}),
            ),
        )
        .await;
    epci.assert_status(StatusCode::OK);
    let org = app
        .call(
            Some(&admin),
            Method::GET,
            "/api/v1/admin/organisations",
            None,
        )
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["siren"] == "243500139")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut lines = Vec::new();
    for territory in ["commune:35238", "commune:35047"] {
        lines.push(
            app.call(
                Some(&admin),
                Method::POST,
                &format!("/api/v1/admin/organisations/{org}/competences"),
                Some(json!({"school_types": ["college"], "territory": territory,
                    "reason": "à supprimer par la matrice"})),
            )
            .await
            .json()["competence"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let users = app
        .call(Some(&admin), Method::GET, "/api/v1/admin/users", None)
        .await
        .json();
    let moderator_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "modo@exemple.fr")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let school = uai("0692001");
    app.publish(
        "annuaire",
        Some("2026-09-01"),
        vec![(
            school.as_str(),
            vec![
                ("appellation_officielle", json!("Collège Claude Bernard")),
                ("type_etablissement", json!("college")),
                ("secteur", json!("public")),
                ("code_commune", json!("69264")),
                ("code_departement", json!("69")),
                ("code_academie", json!("10")),
                ("code_region", json!("84")),
            ],
        )],
    )
    .await;
    let mut pending = Vec::new();
    for n in [11, 22] {
        let res = app
            .call_raw(
                Some(&contributor),
                Method::POST,
                "/api/v1/submissions?schema=inventaire-equipement",
                &[("content-type", "text/csv")],
                format!("uai;date_inventaire;nb_terminaux\n{school};2026-09-15;{n}\n").into_bytes(),
            )
            .await;
        res.assert_status(StatusCode::CREATED);
        assert_eq!(res.json()["status"], "pending");
        pending.push(res.json()["id"].as_i64().unwrap());
    }
    let rhone = ecarto::services::users::actor(
        &app.state.db,
        &ecarto::entities::user::Entity::find()
            .filter(ecarto::entities::user::Column::Email.eq("agent@rhone.fr"))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap(),
    )
    .await
    .unwrap();
    // Registered directly: through the API the matrix's address would be refused (it is
    // private, and the matrix checks exactly that).
    let harvest_source = ecarto::entities::harvest_source::ActiveModel {
        organisation_id: Set(rhone.organisation.as_ref().unwrap().id),
        created_by: Set(rhone.user_id),
        url: Set("http://127.0.0.1:9/inventaire.csv".into()),
        schema: Set("inventaire-equipement".into()),
        label: Set("Inventaire".into()),
        active: Set(true),
        etag: Set(None),
        last_modified: Set(None),
        sha256: Set(None),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap()
    .id;
    let draft = ecarto::services::drafts::create(
        &app.state.db,
        &app.state.config.validation,
        &ecarto::services::audit::Context::cli(),
        &rhone,
        "inventaire-equipement",
        "inventaire.csv",
        format!("uai;date_inventaire;nb_terminaux\n{school};2026-09-15;33\n").as_bytes(),
    )
    .await
    .unwrap()
    .id;
    let fixtures = Fixtures {
        draft,
        harvest_source,
        school,
        withdrawable: pending[0],
        reviewable: pending[1],
        pending_request: requests[0],
        competence_line: lines[0],
        page_request: requests[1],
        page_line: lines[1],
        organisation: org,
        moderator_id,
    };

    let mut failures = Vec::new();
    for e in matrix() {
        for w in EVERYONE {
            let session = match w {
                Who::Anonymous => None,
                Who::BetaTester => Some(&beta),
                Who::Contributor => Some(&contributor),
                Who::Moderator => Some(&moderator),
                Who::Admin => Some(&admin),
            };
            // Admin rows that consume their fixture run for the admin last, after the others
            // were refused.
            let got = call(&app, session, &e, &fixtures, w).await;
            let want = (e.expect)(w);
            if got != want {
                failures.push(format!(
                    "{} {} as {w:?}: got {got}, want {want}",
                    e.method, e.route
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every form of the admin pages, sent by a signed-in admin without the session's CSRF token,
/// is refused before its handler runs.
#[tokio::test]
async fn the_admin_pages_forms_are_refused_without_the_csrf_token() {
    let app = TestApp::new().await;
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    // The guard answers before anything is read: any ids do.
    let fixtures = Fixtures {
        school: uai("0692001"),
        withdrawable: 1,
        reviewable: 1,
        pending_request: 1,
        competence_line: 1,
        organisation: 1,
        moderator_id: 1,
        harvest_source: 1,
        page_request: 1,
        page_line: 1,
        draft: 1,
    };
    let forms: Vec<Endpoint> = matrix()
        .into_iter()
        .filter(|e| e.route.starts_with("/admin/"))
        .collect();
    assert_eq!(forms.len(), 12);
    let cookie = format!("ecarto_session={}", admin.cookie);
    let (_, before) = ecarto::services::audit::search(
        &app.state.db,
        &ecarto::services::audit::Filter::default(),
        0,
        0,
    )
    .await
    .unwrap();
    for e in forms {
        let Body::Form(body) = (e.body)(&fixtures, Who::Admin) else {
            panic!("{}: an admin page's form", e.route);
        };
        for token in [None, Some("pas-le-bon")] {
            let body = match token {
                Some(t) => format!("{body}&csrf_token={t}"),
                None => body.clone(),
            };
            let res = app
                .send(
                    e.method.clone(),
                    &(e.path)(&fixtures),
                    &[
                        ("cookie", &cookie),
                        ("content-type", "application/x-www-form-urlencoded"),
                    ],
                    body.into_bytes(),
                )
                .await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{} {token:?}", e.route);
            assert!(res.text().contains("CSRF"), "{}: {}", e.route, res.text());
        }
    }
    let (_, after) = ecarto::services::audit::search(
        &app.state.db,
        &ecarto::services::audit::Filter::default(),
        0,
        0,
    )
    .await
    .unwrap();
    assert_eq!(after, before, "nothing was done");
}

/// One row of the competence table: who, which school, which schema, allowed or not, and a
/// word the reason must contain.
struct Case {
    who: &'static str,
    school: &'static str,
    schema: &'static str,
    allowed: bool,
    because: &'static str,
}

#[tokio::test]
async fn competence_follows_the_data_for_every_special_case() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    territories::ensure_loaded(db).await.unwrap();
    // Schools in the real communes of the special cases (codes from the territory reference).
    // (label, UAI, type, secteur, commune, département, académie, région)
    type School = (
        &'static str,
        String,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );
    let schools: Vec<School> = vec![
        (
            "college-lyon",
            uai("0691001"),
            "college",
            "public",
            "69381",
            "69",
            "10",
            "84",
        ),
        (
            "college-lyon-prive",
            uai("0691002"),
            "college",
            "prive",
            "69381",
            "69",
            "10",
            "84",
        ),
        (
            "college-villefranche",
            uai("0691003"),
            "college",
            "public",
            "69264",
            "69",
            "10",
            "84",
        ),
        (
            "ecole-lyon",
            uai("0691004"),
            "ecole",
            "public",
            "69381",
            "69",
            "10",
            "84",
        ),
        (
            "college-ajaccio",
            uai("6201001"),
            "college",
            "public",
            "2A004",
            "2A",
            "27",
            "94",
        ),
        (
            "lycee-bastia",
            uai("7201001"),
            "lycee",
            "public",
            "2B033",
            "2B",
            "27",
            "94",
        ),
        (
            "ecole-paris",
            uai("0751001"),
            "ecole",
            "public",
            "75101",
            "75",
            "01",
            "11",
        ),
        (
            "college-paris",
            uai("0751002"),
            "college",
            "public",
            "75105",
            "75",
            "01",
            "11",
        ),
        (
            "ecole-rennes",
            uai("0351001"),
            "ecole",
            "public",
            "35238",
            "35",
            "14",
            "53",
        ),
        (
            "ecole-bruz",
            uai("0351002"),
            "ecole",
            "public",
            "35047",
            "35",
            "14",
            "53",
        ),
        (
            "autre-rennes",
            uai("0351003"),
            "autre",
            "public",
            "35238",
            "35",
            "14",
            "53",
        ),
        (
            "ecole-montpellier",
            uai("0341001"),
            "ecole",
            "public",
            "34172",
            "34",
            "11",
            "76",
        ),
        (
            "ecole-sete",
            uai("0341002"),
            "ecole",
            "public",
            "34301",
            "34",
            "11",
            "76",
        ),
    ];
    let rows = schools
        .iter()
        .map(|(label, u, t, secteur, commune, dep, acad, reg)| {
            (
                u.as_str(),
                vec![
                    (
                        "appellation_officielle",
                        json!(format!("Établissement {label}")),
                    ),
                    ("type_etablissement", json!(t)),
                    ("secteur", json!(secteur)),
                    ("code_commune", json!(commune)),
                    ("code_departement", json!(dep)),
                    ("code_academie", json!(acad)),
                    ("code_region", json!(reg)),
                ],
            )
        })
        .collect();
    app.publish("annuaire", Some("2026-09-01"), rows).await;
    let uai_of = |label: &str| {
        schools
            .iter()
            .find(|s| s.0 == label)
            .map(|s| s.1.clone())
            .unwrap()
    };

    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let mut who: Vec<(&str, Session)> = Vec::new();
    for (name, org) in [
        ("rhone", Some("departement:69")),
        ("metropole-lyon", Some("200046977")),
        ("corse", Some("region:94")),
        ("paris", Some("217500016")),
        ("academie-lyon", Some("academie:10")),
        ("rennes-metropole", Some("243500139")),
        ("montpellier-metropole", Some("243400017")),
        ("sete-agglo", Some("200066355")),
        ("commune-rennes", Some("213502388")),
    ] {
        let s = app
            .session_for(&format!("{name}@exemple.fr"), org, &["contributor"], &[])
            .await;
        who.push((name, s));
    }
    who.push((
        "beta",
        app.session_for("beta@exemple.fr", None, &["beta-tester"], &[])
            .await,
    ));
    let org_id = |siren: &str| {
        let siren = siren.to_owned();
        let app = &app;
        let admin = &admin;
        async move {
            app.call(
                Some(admin),
                Method::GET,
                "/api/v1/admin/organisations",
                None,
            )
            .await
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["siren"] == siren.as_str())
            .unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };
    // Rennes Métropole holds the school competence; Montpellier Méditerranée Métropole does
    // not, but Montpellier delegates its écoles to it until tomorrow; Sète delegated to its
    // agglomeration until yesterday.
    let rm = org_id("243500139").await;
    app.call(
        Some(&admin),
        Method::PATCH,
        &format!("/api/v1/admin/organisations/{rm}"),
        Some(json!({"school_competence": true})),
    )
    .await
    .assert_status(StatusCode::OK);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let mmm = org_id("243400017").await;
    app.call(
        Some(&admin),
        Method::POST,
        &format!("/api/v1/admin/organisations/{mmm}/competences"),
        Some(json!({"origin": "delegation", "delegated_by": "213401722",
            "school_types": ["ecole"], "secteur": "public", "territory": "commune:34172",
            "valid_until": tomorrow, "reason": "convention de délégation"})),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let sete = org_id("200066355").await;
    app.call(
        Some(&admin),
        Method::POST,
        &format!("/api/v1/admin/organisations/{sete}/competences"),
        Some(json!({"origin": "delegation", "delegated_by": "213403017",
            "school_types": ["ecole"], "secteur": "public", "territory": "commune:34301",
            "valid_from": (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339(),
            "valid_until": yesterday, "reason": "convention échue"})),
    )
    .await
    .assert_status(StatusCode::CREATED);
    // A delegation of a competence the delegator does not hold is refused.
    app.call(
        Some(&admin),
        Method::POST,
        &format!("/api/v1/admin/organisations/{sete}/competences"),
        Some(json!({"origin": "delegation", "delegated_by": "213403017",
            "school_types": ["college"], "secteur": "public", "territory": "commune:34301",
            "reason": "impossible"})),
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);

    let inv = "inventaire-equipement";
    let cases = [
        Case {
            who: "rhone",
            school: "college-villefranche",
            schema: inv,
            allowed: true,
            because: "compétent",
        },
        Case {
            who: "rhone",
            school: "college-lyon",
            schema: inv,
            allowed: false,
            because: "Métropole de Lyon",
        },
        Case {
            who: "metropole-lyon",
            school: "college-lyon",
            schema: inv,
            allowed: true,
            because: "collèges publics de l'EPCI 200046977",
        },
        Case {
            who: "metropole-lyon",
            school: "college-villefranche",
            schema: inv,
            allowed: false,
            because: "hors du territoire",
        },
        Case {
            who: "metropole-lyon",
            school: "ecole-lyon",
            schema: inv,
            allowed: false,
            because: "une école",
        },
        Case {
            who: "rhone",
            school: "college-lyon-prive",
            schema: inv,
            allowed: false,
            because: "collège privé",
        },
        Case {
            who: "metropole-lyon",
            school: "college-lyon-prive",
            schema: inv,
            allowed: false,
            because: "privé",
        },
        Case {
            who: "academie-lyon",
            school: "college-lyon-prive",
            schema: inv,
            allowed: true,
            because: "académie",
        },
        Case {
            who: "academie-lyon",
            school: "college-ajaccio",
            schema: inv,
            allowed: false,
            because: "hors du territoire",
        },
        Case {
            who: "corse",
            school: "college-ajaccio",
            schema: inv,
            allowed: true,
            because: "Corse",
        },
        Case {
            who: "corse",
            school: "lycee-bastia",
            schema: inv,
            allowed: true,
            because: "lycées",
        },
        Case {
            who: "rhone",
            school: "college-ajaccio",
            schema: inv,
            allowed: false,
            because: "hors du territoire",
        },
        Case {
            who: "paris",
            school: "ecole-paris",
            schema: inv,
            allowed: true,
            because: "écoles publiques",
        },
        Case {
            who: "paris",
            school: "college-paris",
            schema: inv,
            allowed: true,
            because: "collèges publics",
        },
        Case {
            who: "rennes-metropole",
            school: "ecole-bruz",
            schema: inv,
            allowed: true,
            because: "EPCI",
        },
        Case {
            who: "commune-rennes",
            school: "ecole-rennes",
            schema: inv,
            allowed: true,
            because: "commune 35238",
        },
        Case {
            who: "commune-rennes",
            school: "ecole-bruz",
            schema: inv,
            allowed: false,
            because: "hors du territoire",
        },
        Case {
            who: "montpellier-metropole",
            school: "ecole-montpellier",
            schema: inv,
            allowed: true,
            because: "délégation de Commune de Montpellier",
        },
        Case {
            who: "sete-agglo",
            school: "ecole-sete",
            schema: inv,
            allowed: false,
            because: "a pris fin",
        },
        Case {
            who: "rhone",
            school: "college-villefranche",
            schema: "signalement",
            allowed: true,
            because: "signaler",
        },
        Case {
            who: "beta",
            school: "ecole-rennes",
            schema: "signalement",
            allowed: true,
            because: "signaler",
        },
        Case {
            who: "beta",
            school: "ecole-rennes",
            schema: inv,
            allowed: false,
            because: "aucune organisation",
        },
        Case {
            who: "commune-rennes",
            school: "ecole-rennes",
            schema: "byod",
            allowed: true,
            because: "écoles publiques",
        },
        Case {
            who: "commune-rennes",
            school: "autre-rennes",
            schema: "byod",
            allowed: false,
            because: "ne concerne pas",
        },
        Case {
            who: "beta",
            school: "autre-rennes",
            schema: "signalement",
            allowed: true,
            because: "signaler",
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let s = &who.iter().find(|(n, _)| *n == c.who).unwrap().1;
        let res = app
            .call(
                Some(s),
                Method::GET,
                &format!(
                    "/api/v1/me/competence?uai={}&schema={}",
                    uai_of(c.school),
                    c.schema
                ),
                None,
            )
            .await;
        res.assert_status(StatusCode::OK);
        let body = res.json();
        let reason = body["reason"].as_str().unwrap_or("");
        if body["allowed"] != json!(c.allowed) || !reason.contains(c.because) {
            failures.push(format!(
                "{} × {} × {}: allowed {} «{reason}», want {} with «{}»",
                c.who, c.school, c.schema, body["allowed"], c.allowed, c.because
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The same answer through the CLI's service and for bad input: 400 and 404, never 500.
    let rhone = &who[0].1;
    let bad = app
        .call(
            Some(rhone),
            Method::GET,
            "/api/v1/me/competence?uai=123&schema=byod",
            None,
        )
        .await;
    bad.assert_status(StatusCode::BAD_REQUEST);
    app.call(
        Some(rhone),
        Method::GET,
        &format!("/api/v1/me/competence?uai={}&schema=byod", uai("0999999")),
        None,
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);
    let missing = app
        .call(Some(rhone), Method::GET, "/api/v1/me/competence", None)
        .await;
    missing.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()["errors"].as_array().unwrap().len(), 2);
    app.call(
        Some(rhone),
        Method::GET,
        &format!(
            "/api/v1/me/competence?uai={}&schema=inconnu",
            uai_of("college-lyon")
        ),
        None,
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);
}
