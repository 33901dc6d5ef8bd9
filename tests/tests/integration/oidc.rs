//! OpenID Connect sign-in against a real provider (`oidc-provider`, shaped like ProConnect)
//! and every way it must fail.

use axum::http::{Method, StatusCode, header};
use ecarto::{config::OidcProvider, services::territories};
use ecarto_tests::{
    TestApp, TestResponse,
    node::{OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OidcServer},
};
use serde_json::json;

const BASE: &str = "http://127.0.0.1:8080";
const CALLBACK: &str = "http://127.0.0.1:8080/auth/oidc/proconnect/callback";
/// The commune of Rennes: its SIREN is in the territory reference.
const RENNES_SIRET: &str = "21350238800018";

struct Setup {
    app: TestApp,
    provider: OidcServer,
}

async fn setup(signed_userinfo: bool) -> Setup {
    let provider = OidcServer::start(CALLBACK, &format!("{BASE}/"), signed_userinfo);
    let issuer = provider.issuer.clone();
    let app = TestApp::with_config(move |c| {
        // Several providers side by side: a second one, only listed.
        c.auth.oidc.push(OidcProvider {
            id: "education".into(),
            label: "Guichet Éducation".into(),
            issuer: issuer.clone(),
            client_id: "other".into(),
            client_secret: "other-secret".into(),
            scopes: vec!["openid".into(), "email".into()],
        });
        c.auth.oidc.push(OidcProvider {
            id: "proconnect".into(),
            label: "ProConnect".into(),
            issuer,
            client_id: OIDC_CLIENT_ID.into(),
            client_secret: OIDC_CLIENT_SECRET.into(),
            scopes: OidcProvider::PROCONNECT_SCOPES
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    })
    .await;
    territories::ensure_loaded(&app.state.db).await.unwrap();
    Setup { app, provider }
}

fn cookie_value(res: &TestResponse, name: &str) -> Option<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
        .filter(|v| !v.is_empty())
}

/// Starts a sign-in at the platform, plays the browser at the provider, and returns the
/// callback URL (path and query) with the browser's state cookie.
async fn through_provider(s: &Setup) -> (String, String) {
    let res = s
        .app
        .get("/auth/oidc/proconnect/login?return_to=/schemas")
        .await;
    res.assert_status(StatusCode::SEE_OTHER);
    let authorize = res.header(header::LOCATION).unwrap().to_owned();
    assert!(authorize.starts_with(&s.provider.issuer), "{authorize}");
    for needle in ["code_challenge_method=S256", "nonce=", "state=", "siret"] {
        assert!(authorize.contains(needle), "{needle} in {authorize}");
    }
    let state_cookie = cookie_value(&res, "ecarto_oidc_state").expect("state cookie");
    let back = s.provider.follow(&authorize, CALLBACK).await;
    (back.trim_start_matches(BASE).to_owned(), state_cookie)
}

async fn callback(s: &Setup, path: &str, state_cookie: Option<&str>) -> TestResponse {
    let cookie = state_cookie.map(|c| format!("ecarto_oidc_state={c}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
    s.app.send(Method::GET, path, &headers, vec![]).await
}

async fn me(s: &Setup, session: &str) -> serde_json::Value {
    let res = s
        .app
        .send(
            Method::GET,
            "/api/v1/me",
            &[("cookie", &format!("ecarto_session={session}"))],
            vec![],
        )
        .await;
    res.assert_status(StatusCode::OK);
    res.json()
}

#[tokio::test]
async fn a_proconnect_agent_signs_in_and_joins_the_organisation_of_their_siret() {
    let s = setup(true).await;
    s.provider
        .next_user("agent-rennes", "Camille.Martin@Rennes.fr", RENNES_SIRET)
        .await;
    let page = s.app.get("/connexion").await.text();
    assert!(page.contains("/auth/oidc/proconnect/login"), "{page}");
    assert!(page.contains("/auth/oidc/education/login"), "{page}");
    assert!(page.contains("Se connecter avec ProConnect"), "{page}");

    let (path, state) = through_provider(&s).await;
    let res = callback(&s, &path, Some(&state)).await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(res.header(header::LOCATION), Some("/schemas"));
    let session = cookie_value(&res, "ecarto_session").expect("session cookie");
    let body = me(&s, &session).await;
    assert_eq!(body["email"], "camille.martin@rennes.fr");
    assert_eq!(body["display_name"], "Camille Martin");
    assert_eq!(body["organisation"]["name"], "Commune de Rennes");
    assert_eq!(body["organisation"]["siren"], "213502388");
    assert_eq!(body["signed_in_with"], "oidc:proconnect");
    assert!(
        body["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("contributor")),
        "{body}"
    );
    assert!(
        body["competence_summary"][0]
            .as_str()
            .unwrap()
            .contains("écoles publiques de la commune 35238"),
        "{body}"
    );

    // The same callback again: the state was used once.
    let again = callback(&s, &path, Some(&state)).await;
    again.assert_status(StatusCode::UNAUTHORIZED);

    // A replayed code under a fresh state: the provider refuses it.
    let fresh = s.app.get("/auth/oidc/proconnect/login?return_to=/").await;
    let fresh_state = cookie_value(&fresh, "ecarto_oidc_state").unwrap();
    let code = path
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap();
    let replay = callback(
        &s,
        &format!("/auth/oidc/proconnect/callback?code={code}&state={fresh_state}"),
        Some(&fresh_state),
    )
    .await;
    replay.assert_status(StatusCode::UNAUTHORIZED);
    assert!(replay.text().contains("code"), "{}", replay.text());

    // Logout ends the provider's session too.
    let csrf = body["csrf_token"].as_str().unwrap();
    let out = s
        .app
        .send(
            Method::POST,
            "/auth/logout",
            &[
                ("cookie", &format!("ecarto_session={session}")),
                ("x-csrf-token", csrf),
            ],
            vec![],
        )
        .await;
    out.assert_status(StatusCode::SEE_OTHER);
    let to = out.header(header::LOCATION).unwrap();
    assert!(to.starts_with(&s.provider.issuer), "{to}");
    assert!(to.contains("id_token_hint="), "{to}");
}

#[tokio::test]
async fn a_wrong_or_missing_state_is_refused() {
    let s = setup(false).await;
    s.provider
        .next_user("agent-1", "agent@rennes.fr", RENNES_SIRET)
        .await;
    let (path, state) = through_provider(&s).await;
    // Another browser's callback (no state cookie), then a state that is not the one sent.
    callback(&s, &path, None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let forged = path.replace(&format!("state={state}"), "state=forged");
    let res = callback(&s, &forged, Some("forged")).await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    assert!(res.text().contains("state"), "{}", res.text());
    // The provider's own refusal comes back as an error, not a session.
    let res = callback(
        &s,
        "/auth/oidc/proconnect/callback?error=access_denied&error_description=annul%C3%A9",
        Some(&state),
    )
    .await;
    res.assert_status(StatusCode::UNAUTHORIZED);
    s.app
        .get("/auth/oidc/inconnu/login")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tampered_expired_or_misdirected_id_tokens_are_refused() {
    let s = setup(false).await;
    s.provider
        .next_user("agent-2", "agent2@rennes.fr", RENNES_SIRET)
        .await;
    for mode in [
        "expired",
        "bad-signature",
        "wrong-nonce",
        "wrong-audience",
        "wrong-issuer",
    ] {
        s.provider.tamper(mode).await;
        let (path, state) = through_provider(&s).await;
        let res = callback(&s, &path, Some(&state)).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "{mode}: {}",
            res.text()
        );
        // An error page in the common layout (the browser came back from the provider).
        let page = res.text().replace("&#39;", "'");
        assert!(
            page.contains("jeton d'identité invalide") && page.contains("Aller au contenu"),
            "{mode}: {page}"
        );
        assert!(cookie_value(&res, "ecarto_session").is_none(), "{mode}");
    }
    s.provider.tamper("none").await;
    let (path, state) = through_provider(&s).await;
    callback(&s, &path, Some(&state))
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_unknown_siren_is_asked_to_request_access() {
    let s = setup(false).await;
    s.provider
        .next_user("agent-3", "agent@inconnue.fr", "99999999900011")
        .await;
    let (path, state) = through_provider(&s).await;
    let res = callback(&s, &path, Some(&state)).await;
    res.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        res.header(header::LOCATION),
        Some("/acces?siret=99999999900011")
    );
    let session = cookie_value(&res, "ecarto_session").unwrap();
    let body = me(&s, &session).await;
    assert!(body["organisation"].is_null());
    assert_eq!(body["roles"], json!(["beta-tester"]));
    let cookie = format!("ecarto_session={session}");
    let page = s
        .app
        .send(
            Method::GET,
            "/acces?siret=99999999900011",
            &[("cookie", &cookie)],
            vec![],
        )
        .await
        .text();
    assert!(page.contains("Organisation non reconnue"), "{page}");
    let csrf = body["csrf_token"].as_str().unwrap();
    let res = s
        .app
        .send(
            Method::POST,
            "/acces",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            format!("csrf_token={csrf}&siret=99999999900011&message=DSI").into_bytes(),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert!(res.text().contains("access-requested"));
    assert_eq!(
        me(&s, &session).await["organisation_status"],
        "access-requested"
    );
}
