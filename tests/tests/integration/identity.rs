//! Signing in without an external provider (e-mail links, the first admin's bootstrap link),
//! sessions, CSRF, API tokens, access requests and the audit log.

use axum::http::{Method, StatusCode, header};
use ecarto::services::auth;
use ecarto_tests::{
    Session, TestApp, TestResponse,
    node::{SmtpServer, decoded, link_in, wait_for_messages},
};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded_pairs(pairs).into_bytes()
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn session_cookie(res: &TestResponse) -> Option<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{}=", auth::SESSION_COOKIE))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

async fn me(app: &TestApp, cookie: &str) -> TestResponse {
    app.send(
        Method::GET,
        "/api/v1/me",
        &[("cookie", &format!("{}={cookie}", auth::SESSION_COOKIE))],
        vec![],
    )
    .await
}

async fn ask_link(app: &TestApp, email: &str) -> TestResponse {
    app.send(
        Method::POST,
        "/auth/email",
        &[FORM],
        form(&[("email", email), ("return_to", "/schemas")]),
    )
    .await
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap_or("").to_owned()
}

async fn confirm(app: &TestApp, token: &str, previous: Option<&str>) -> TestResponse {
    let cookie = previous.map(|c| format!("{}={c}", auth::SESSION_COOKIE));
    let mut headers = vec![FORM];
    if let Some(c) = &cookie {
        headers.push(("cookie", c));
    }
    app.send(
        Method::POST,
        "/auth/email/confirm",
        &headers,
        form(&[("token", token)]),
    )
    .await
}

#[tokio::test]
async fn magic_link_sign_in_through_a_real_smtp_server() {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::with_config(|c| c.mail.smtp_url = Some(url)).await;

    let res = ask_link(&app, "Agent.Test@Rennes.fr").await;
    res.assert_status(StatusCode::OK);
    assert!(res.text().contains("link-sent"));
    let unknown = ask_link(&app, "personne@exemple.fr").await;
    // The answer does not tell whether the address has an account.
    assert_eq!(unknown.status, res.status);
    assert_eq!(unknown.text(), res.text());

    let messages = smtp.messages(2);
    assert_eq!(messages.len(), 2, "two e-mails received by the SMTP server");
    let to_agent = messages
        .iter()
        .find(|m| m.contains("agent.test@rennes.fr"))
        .expect("the agent's e-mail");
    let link = link_in(to_agent, "http://127.0.0.1:8080/auth/email/confirm?token=")
        .expect("a sign-in link in the e-mail");
    let token = token_of(&link);

    // Opening the link shows a button; only the POST signs in.
    let page = app.get(&format!("/auth/email/confirm?token={token}")).await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("id=\"confirm\""));

    let res = confirm(&app, &token, None).await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header(header::LOCATION), Some("/schemas"));
    let set_cookie = res.header(header::SET_COOKIE).unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let cookie = session_cookie(&res).unwrap();
    let body = me(&app, &cookie).await;
    body.assert_status(StatusCode::OK);
    let body = body.json();
    assert_eq!(body["email"], "agent.test@rennes.fr");
    assert_eq!(body["roles"], json!(["beta-tester"]));
    assert_eq!(body["organisation_status"], "none");

    // Single use: the same link again is refused, and says why.
    let again = confirm(&app, &token, None).await;
    again.assert_status(StatusCode::UNAUTHORIZED);
    assert!(again.text().contains("déjà utilisé"), "{}", again.text());
    // A made-up token too.
    confirm(&app, &"0".repeat(64), None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_links_expire_and_requests_are_rate_limited() {
    let app = TestApp::with_config(|c| c.auth.magic_link_ttl = chrono::Duration::seconds(-1)).await;
    let outbox = app.dir.path().join("outbox");
    ask_link(&app, "agent@exemple.fr")
        .await
        .assert_status(StatusCode::OK);
    let messages = wait_for_messages(&outbox, 1);
    let link = link_in(
        &messages[0],
        "http://127.0.0.1:8080/auth/email/confirm?token=",
    )
    .unwrap();
    let res = confirm(&app, &token_of(&link), None).await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert!(res.text().contains("expiré"), "{}", res.text());

    for _ in 0..2 {
        ask_link(&app, "agent@exemple.fr")
            .await
            .assert_status(StatusCode::OK);
    }
    let limited = ask_link(&app, "agent@exemple.fr").await;
    limited.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text().contains("réessayez"), "{}", limited.text());
    // Other addresses are not held back by one address's limit.
    ask_link(&app, "autre@exemple.fr")
        .await
        .assert_status(StatusCode::OK);
    ask_link(&app, "pas une adresse")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_first_admin_comes_from_the_bootstrap_link_once() {
    let app = TestApp::new().await;
    let link = auth::bootstrap_link(&app.state.db, "http://127.0.0.1:8080")
        .await
        .unwrap()
        .expect("no admin yet: a link");
    let token = token_of(&link);
    app.get(&format!("/auth/bootstrap?token={token}"))
        .await
        .assert_status(StatusCode::OK);
    let res = app
        .send(
            Method::POST,
            "/auth/bootstrap",
            &[FORM],
            form(&[("token", &token), ("email", "dne@education.gouv.fr")]),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let cookie = session_cookie(&res).unwrap();
    let body = me(&app, &cookie).await.json();
    assert!(
        body["roles"].as_array().unwrap().contains(&json!("admin")),
        "{body}"
    );
    // Used once; and no new link once an admin exists.
    app.send(
        Method::POST,
        "/auth/bootstrap",
        &[FORM],
        form(&[("token", &token), ("email", "autre@exemple.fr")]),
    )
    .await
    .assert_status(StatusCode::CONFLICT);
    assert!(
        auth::bootstrap_link(&app.state.db, "http://x")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn sessions_rotate_expire_and_end_at_logout() {
    let app = TestApp::new().await;
    let outbox = app.dir.path().join("outbox");
    let first = app
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    ask_link(&app, "agent@exemple.fr")
        .await
        .assert_status(StatusCode::OK);
    let link = link_in(
        &wait_for_messages(&outbox, 1)[0],
        "http://127.0.0.1:8080/auth/email/confirm?token=",
    )
    .unwrap();
    // Signing in again from a browser that had a session gives a new id and ends the old one.
    let res = confirm(&app, &token_of(&link), Some(&first.cookie)).await;
    let second = session_cookie(&res).unwrap();
    assert_ne!(second, first.cookie);
    me(&app, &first.cookie)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    me(&app, &second).await.assert_status(StatusCode::OK);

    // Logout needs the CSRF token, ends the session and clears the cookie.
    let s = app
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let cookie = format!("{}={}", auth::SESSION_COOKIE, s.cookie);
    app.send(Method::POST, "/auth/logout", &[("cookie", &cookie)], vec![])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            "/auth/logout",
            &[("cookie", &cookie), FORM],
            form(&[("csrf_token", &s.csrf)]),
        )
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert!(
        res.header(header::SET_COOKIE)
            .unwrap()
            .contains("Max-Age=0")
    );
    me(&app, &s.cookie)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // Idle expiry.
    let idle = TestApp::with_config(|c| c.auth.session_idle = chrono::Duration::zero()).await;
    let s = idle
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    me(&idle, &s.cookie)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    // Absolute expiry.
    let short =
        TestApp::with_config(|c| c.auth.session_absolute = chrono::Duration::seconds(-1)).await;
    let s = short
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    me(&short, &s.cookie)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let app = TestApp::with_config(|c| c.public_base_url = "https://ecarto.example".into()).await;
    let link = auth::bootstrap_link(&app.state.db, "https://ecarto.example")
        .await
        .unwrap()
        .unwrap();
    let res = app
        .send(
            Method::POST,
            "/auth/bootstrap",
            &[FORM],
            form(&[("token", &token_of(&link)), ("email", "a@exemple.fr")]),
        )
        .await;
    assert!(
        res.header(header::SET_COOKIE).unwrap().contains("; Secure"),
        "{:?}",
        res.header(header::SET_COOKIE)
    );
}

#[tokio::test]
async fn csrf_and_origin_are_checked_on_state_changing_requests() {
    let app = TestApp::new().await;
    let s = app
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let cookie = format!("{}={}", auth::SESSION_COOKIE, s.cookie);
    let body = json!({"name": "x"}).to_string().into_bytes();
    let json_ct = ("content-type", "application/json");
    for headers in [
        vec![("cookie", cookie.as_str()), json_ct],
        vec![
            ("cookie", cookie.as_str()),
            json_ct,
            ("x-csrf-token", "wrong"),
        ],
    ] {
        let res = app
            .send(Method::POST, "/api/v1/me/tokens", &headers, body.clone())
            .await;
        res.assert_status(StatusCode::FORBIDDEN);
        assert!(res.text().contains("CSRF"), "{}", res.text());
    }
    let res = app
        .send(
            Method::POST,
            "/api/v1/me/tokens",
            &[
                ("cookie", &cookie),
                json_ct,
                ("x-csrf-token", &s.csrf),
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8080"),
            ],
            body.clone(),
        )
        .await;
    res.assert_status(StatusCode::FORBIDDEN);
    assert!(res.text().contains("Origin"), "{}", res.text());
    // Login forms are checked for their origin too (login CSRF).
    app.send(
        Method::POST,
        "/auth/email",
        &[
            FORM,
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ],
        form(&[("email", "a@exemple.fr")]),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    app.send(
        Method::POST,
        "/api/v1/me/tokens",
        &[
            ("cookie", &cookie),
            json_ct,
            ("x-csrf-token", &s.csrf),
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ],
        body,
    )
    .await
    .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn return_urls_never_leave_the_site() {
    let app = TestApp::new().await;
    let outbox = app.dir.path().join("outbox");
    app.send(
        Method::POST,
        "/auth/email",
        &[FORM],
        form(&[
            ("email", "a@exemple.fr"),
            ("return_to", "https://evil.example/"),
        ]),
    )
    .await
    .assert_status(StatusCode::OK);
    let link = link_in(
        &wait_for_messages(&outbox, 1)[0],
        "http://127.0.0.1:8080/auth/email/confirm?token=",
    )
    .unwrap();
    let res = confirm(&app, &token_of(&link), None).await;
    assert_eq!(res.header(header::LOCATION), Some("/"));
    let page = app.get("/connexion?return_to=//evil.example").await.text();
    assert!(!page.contains("evil.example"), "{page}");
}

async fn audit_events(app: &TestApp, admin: &Session) -> Vec<String> {
    app.call(
        Some(admin),
        Method::GET,
        "/api/v1/admin/audit?limit=1000",
        None,
    )
    .await
    .json()
    .as_array()
    .unwrap()
    .iter()
    .map(|e| e["event"].as_str().unwrap_or("").to_owned())
    .collect()
}

#[tokio::test]
async fn api_tokens_are_shown_once_hashed_and_revocable() {
    let app = TestApp::new().await;
    let s = app
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let res = app
        .call(
            Some(&s),
            Method::POST,
            "/api/v1/me/tokens",
            Some(json!({"name": "import nocturne"})),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let created = res.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ecarto_"));
    let id = created["token"]["id"].as_i64().unwrap();
    // Not stored in clear.
    let stored = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT token_hash FROM api_tokens".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "token_hash")
        .unwrap();
    assert_ne!(stored, secret);
    assert!(!stored.contains(&secret[7..]));
    // Listed without the secret.
    let list = app
        .call(Some(&s), Method::GET, "/api/v1/me/tokens", None)
        .await
        .text();
    assert!(!list.contains(&secret), "{list}");

    let bearer = format!("Bearer {secret}");
    let res = app
        .send(
            Method::GET,
            "/api/v1/me",
            &[("authorization", &bearer)],
            vec![],
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json()["signed_in_with"], "api-token");
    let list = app
        .call(Some(&s), Method::GET, "/api/v1/me/tokens", None)
        .await
        .json();
    assert!(
        !list[0]["last_used_at"].is_null(),
        "last use recorded: {list}"
    );
    // A bearer needs no CSRF token: no cookie, no ambient authority.
    app.send(
        Method::POST,
        "/api/v1/me/tokens",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        json!({"name": "second"}).to_string().into_bytes(),
    )
    .await
    .assert_status(StatusCode::CREATED);

    // Someone else cannot revoke it, and does not learn it exists.
    let other = app
        .session_for("autre@exemple.fr", None, &["beta-tester"], &[])
        .await;
    app.call(
        Some(&other),
        Method::DELETE,
        &format!("/api/v1/me/tokens/{id}"),
        None,
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);
    app.call(
        Some(&s),
        Method::DELETE,
        &format!("/api/v1/me/tokens/{id}"),
        None,
    )
    .await
    .assert_status(StatusCode::OK);
    let res = app
        .send(
            Method::GET,
            "/api/v1/me",
            &[("authorization", &bearer)],
            vec![],
        )
        .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert!(res.text().contains("révoqué"), "{}", res.text());

    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let events = audit_events(&app, &admin).await;
    for e in [
        "api-token.created",
        "api-token.revoked",
        "login.succeeded",
        "role.granted",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let app = TestApp::new().await;
    app.session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    for sql in ["UPDATE audit_log SET event = 'x'", "DELETE FROM audit_log"] {
        let err = app.state.db.execute_unprepared(sql).await;
        assert!(err.is_err(), "{sql} must be refused");
    }
}

#[tokio::test]
async fn an_unrecognised_organisation_requests_access_and_an_admin_decides() {
    let app = TestApp::new().await;
    let outbox = app.dir.path().join("outbox");
    let agent = app
        .session_for("agent@cc-exemple.fr", None, &["beta-tester"], &[])
        .await;
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    app.call(
        Some(&agent),
        Method::POST,
        "/api/v1/me/access-requests",
        Some(json!({"siret": "123"})),
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);
    let res = app
        .call(
            Some(&agent),
            Method::POST,
            "/api/v1/me/access-requests",
            Some(json!({"siret": "22690001700013", "message": "DSI du Département du Rhône"})),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    let id = res.json()["id"].as_i64().unwrap();
    let me_now = app
        .call(Some(&agent), Method::GET, "/api/v1/me", None)
        .await
        .json();
    assert_eq!(me_now["organisation_status"], "access-requested");
    // One pending request at a time.
    app.call(
        Some(&agent),
        Method::POST,
        "/api/v1/me/access-requests",
        Some(json!({"siret": "22690001700013"})),
    )
    .await
    .assert_status(StatusCode::CONFLICT);
    // Not for the agent to decide.
    app.call(
        Some(&agent),
        Method::POST,
        &format!("/api/v1/admin/access-requests/{id}/decision"),
        Some(json!({"decision": "approve", "organisation": "departement:69"})),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    let pending = app
        .call(
            Some(&admin),
            Method::GET,
            "/api/v1/admin/access-requests?status=pending",
            None,
        )
        .await
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let res = app
        .call(
            Some(&admin),
            Method::POST,
            &format!("/api/v1/admin/access-requests/{id}/decision"),
            Some(json!({"decision": "approve", "organisation": "departement:69"})),
        )
        .await;
    res.assert_status(StatusCode::OK);
    let me_now = app
        .call(Some(&agent), Method::GET, "/api/v1/me", None)
        .await
        .json();
    assert_eq!(me_now["organisation"]["name"], "Département du Rhône");
    assert_eq!(me_now["organisation"]["siren"], "226900017");
    assert!(
        me_now["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("contributor")),
        "{me_now}"
    );
    assert!(
        me_now["competence_summary"][0]
            .as_str()
            .unwrap()
            .contains("collèges publics du département 69"),
        "{me_now}"
    );
    ecarto::services::outbox::drain(&app.state.db, &app.state.mailer)
        .await
        .unwrap();
    let mails = wait_for_messages(&outbox, 1);
    assert!(
        mails
            .iter()
            .map(|m| decoded(m))
            .any(|m| m.contains("agent@cc-exemple.fr") && m.contains("acceptée"))
    );

    // A refusal needs a reason, which the person receives.
    let other = app
        .session_for("autre@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let id2 = app
        .call(
            Some(&other),
            Method::POST,
            "/api/v1/me/access-requests",
            Some(json!({"siret": "99999999900011"})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let url = format!("/api/v1/admin/access-requests/{id2}/decision");
    app.call(
        Some(&admin),
        Method::POST,
        &url,
        Some(json!({"decision": "refuse"})),
    )
    .await
    .assert_status(StatusCode::BAD_REQUEST);
    app.call(
        Some(&admin),
        Method::POST,
        &url,
        Some(
            json!({"decision": "refuse", "reason": "SIRET inconnu de l'annuaire des entreprises"}),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    ecarto::services::outbox::drain(&app.state.db, &app.state.mailer)
        .await
        .unwrap();
    let mails = wait_for_messages(&outbox, 2);
    assert!(mails.iter().any(|m| decoded(m).contains("SIRET inconnu")));
    let events = audit_events(&app, &admin).await;
    for e in [
        "access-request.created",
        "access-request.approved",
        "access-request.refused",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
}

#[tokio::test]
async fn me_needs_a_signed_in_caller() {
    let app = TestApp::new().await;
    let res = app.get("/api/v1/me").await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    let body: Value = res.json();
    assert_eq!(body["type"], "/problems/unauthorized");
    app.send(
        Method::GET,
        "/api/v1/me",
        &[("authorization", "Bearer ecarto_nope")],
        vec![],
    )
    .await
    .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_requests_are_limited_per_address_behind_a_trusted_proxy() {
    let app = TestApp::with_config(|c| {
        c.auth.trust_forwarded_for = true;
        c.auth.sign_ins_per_ip = 2;
    })
    .await;
    let from = |ip: &'static str, n: u32| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/api/v1/auth/magic-link",
                &[
                    ("content-type", "application/json"),
                    ("x-forwarded-for", &format!("203.0.113.9, {ip}")),
                ],
                json!({"email": format!("agent{n}@exemple.fr")})
                    .to_string()
                    .into_bytes(),
            )
            .await
            .status
        }
    };
    assert_eq!(from("198.51.100.1", 1).await, StatusCode::ACCEPTED);
    assert_eq!(from("198.51.100.1", 2).await, StatusCode::ACCEPTED);
    assert_eq!(from("198.51.100.1", 3).await, StatusCode::TOO_MANY_REQUESTS);
    // The address the proxy appended counts, not the one the client wrote before it.
    assert_eq!(from("198.51.100.2", 4).await, StatusCode::ACCEPTED);
    let admin = app
        .session_for("admin@exemple.fr", None, &["admin"], &[])
        .await;
    let audit = app
        .call(Some(&admin), Method::GET, "/api/v1/admin/audit", None)
        .await
        .json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "magic-link.sent" && e["ip"] == "198.51.100.2"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_of_one_commune_arriving_at_once_make_one_organisation() {
    let app = TestApp::new().await;
    ecarto::services::territories::ensure_loaded(&app.state.db)
        .await
        .unwrap();
    let db = &app.state.db;
    let (a, b) = tokio::join!(
        ecarto::services::organisations::by_siren(db, "21350238800018"),
        ecarto::services::organisations::by_siren(db, "21350238800026"),
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(a.name, "Commune de Rennes");
}

#[tokio::test]
async fn behind_a_reverse_proxy_the_public_address_is_this_site() {
    let app = TestApp::with_config(|c| c.public_base_url = "https://ecarto.example".into()).await;
    let s = app
        .session_for("agent@exemple.fr", None, &["beta-tester"], &[])
        .await;
    let cookie = format!("{}={}", auth::SESSION_COOKIE, s.cookie);
    let send = |origin: &'static str| {
        let (app, cookie, csrf) = (&app, cookie.clone(), s.csrf.clone());
        async move {
            app.send(
                Method::POST,
                "/api/v1/me/tokens",
                &[
                    ("cookie", &cookie),
                    ("x-csrf-token", &csrf),
                    ("content-type", "application/json"),
                    ("origin", origin),
                    // What the proxy forwards.
                    ("host", "127.0.0.1:8080"),
                ],
                json!({"name": "x"}).to_string().into_bytes(),
            )
            .await
            .status
        }
    };
    assert_eq!(send("https://ecarto.example").await, StatusCode::CREATED);
    assert_eq!(send("https://evil.example").await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_hsts_only_over_https() {
    let app = TestApp::new().await;
    for path in [
        "/",
        "/api/v1/fields",
        "/static/ecarto.css",
        "/nope",
        "/api/v1/schools/nope",
    ] {
        let res = app.get(path).await;
        let csp = res
            .header(header::CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{path}: {csp}"
        );
        assert_eq!(
            res.header(header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            res.header(header::REFERRER_POLICY),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(res.header(header::X_FRAME_OPTIONS), Some("DENY"), "{path}");
        assert_eq!(
            res.header(header::STRICT_TRANSPORT_SECURITY),
            None,
            "{path}: plain HTTP"
        );
    }
    let https = TestApp::with_config(|c| c.public_base_url = "https://ecarto.example".into()).await;
    let res = https.get("/").await;
    assert_eq!(
        res.header(header::STRICT_TRANSPORT_SECURITY),
        Some("max-age=31536000; includeSubDomains")
    );
}
