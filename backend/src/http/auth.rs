//! Who is calling: the session cookie or a bearer token, resolved once per request; the CSRF
//! guard of every state-changing request; the sign-in pages (e-mail link, first admin) and
//! logout.

use std::net::SocketAddr;

use axum::{
    Form, Json, Router,
    body::Body,
    extract::{ConnectInfo, FromRequestParts, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use super::ui::PageError;
use crate::{
    app::AppState,
    domain::competence::{Actor, Role},
    entities::user,
    error::{AppError, AppResult},
    services::{
        audit,
        auth::{self, SESSION_COOKIE, SessionInfo},
        oidc, users,
    },
    validation::render::escape,
};

/// Sign-in bodies are small; anything larger is not a form of ours.
const FORM_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connexion", get(sign_in_page))
        .route("/auth/email", post(request_link_form))
        .route("/api/v1/auth/magic-link", post(request_link_json))
        .route("/auth/email/confirm", get(confirm_page).post(confirm))
        .route("/auth/bootstrap", get(bootstrap_page).post(bootstrap))
        .route("/auth/logout", post(logout))
        .route("/auth/oidc/{provider}/login", get(oidc_login))
        .route("/auth/oidc/{provider}/callback", get(oidc_callback))
        .route("/acces", get(access_page).post(access_form))
}

/// Keeps the `state` of an OpenID sign-in in the browser that started it.
const OIDC_STATE_COOKIE: &str = "ecarto_oidc_state";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    Session(SessionInfo),
    Token,
}

/// A signed-in caller, with everything authorisation decisions read.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: user::Model,
    pub actor: Actor,
    pub via: Via,
    pub ip: Option<String>,
}

impl Caller {
    pub fn audit(&self) -> audit::Context {
        audit::Context {
            actor: Some(self.user.id),
            ip: self.ip.clone(),
        }
    }

    pub fn require(&self, role: Role) -> AppResult<()> {
        if self.actor.has(role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "cette action demande le rôle {role}, que vous n'avez pas"
            )))
        }
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.via {
            Via::Session(s) => Some(&s.csrf_token),
            Via::Token => None,
        }
    }
}

/// The caller as resolved by the guard, kept in the request so it is read once.
#[derive(Clone)]
struct Resolved(Option<(user::Model, Via)>);

/// The caller's address: the peer, or behind a trusted reverse proxy the last address it
/// appended to `X-Forwarded-For` (earlier ones are whatever the client wrote).
fn client_ip(state: &AppState, parts: &Parts) -> Option<String> {
    if state.config.auth.trust_forwarded_for
        && let Some(last) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
    {
        return Some(last.to_owned());
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn resolve(state: &AppState, headers: &HeaderMap) -> AppResult<Option<(user::Model, Via)>> {
    if let Some(token) = bearer(headers) {
        return match auth::user_for_api_token(&state.db, &token).await? {
            Some(u) => Ok(Some((u, Via::Token))),
            None => Err(AppError::Unauthorized(
                "jeton d'API inconnu ou révoqué".into(),
            )),
        };
    }
    let Some(c) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(auth::session(&state.db, &state.config.auth, &c)
        .await?
        .map(|s| (s.user.clone(), Via::Session(s))))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        match OptionalCaller::from_request_parts(parts, state).await?.0 {
            Some(c) => Ok(c),
            None => Err(AppError::Unauthorized(
                "connectez-vous (/connexion) ou envoyez un jeton d'API (Authorization: Bearer)"
                    .into(),
            )),
        }
    }
}

/// A caller who may or may not be signed in.
pub struct OptionalCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for OptionalCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let resolved = match parts.extensions.get::<Resolved>() {
            Some(r) => r.0.clone(),
            None => resolve(state, &parts.headers).await?,
        };
        let Some((user, via)) = resolved else {
            return Ok(OptionalCaller(None));
        };
        let actor = users::actor(&state.db, &user).await?;
        Ok(OptionalCaller(Some(Caller {
            user,
            actor,
            via,
            ip: client_ip(state, parts),
        })))
    }
}

/// Paths that sign people in: they carry no session authority, so the session's CSRF token
/// does not apply; the Origin check does.
fn is_sign_in(path: &str) -> bool {
    matches!(
        path,
        "/auth/email" | "/auth/email/confirm" | "/auth/bootstrap" | "/api/v1/auth/magic-link"
    ) || path.starts_with("/auth/oidc/")
}

fn forbidden(msg: &str) -> Response {
    AppError::Forbidden(msg.into()).into_response()
}

/// Every state-changing request: a browser's `Origin`, when sent, must be this site; a
/// request carried by the session cookie must also carry the session's CSRF token (header
/// `X-CSRF-Token`, form field or query parameter `csrf_token`). Bearer-token requests carry
/// no ambient authority and need neither.
pub async fn csrf_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
        // Behind a reverse proxy the Host seen here may be the upstream's: the public address
        // the platform is configured with is this site too.
        let public = state.config.public_base_url.trim_end_matches('/');
        if origin_host != host && origin != public {
            return forbidden("requête venue d'un autre site (en-tête Origin) : refusée");
        }
    }
    if is_sign_in(req.uri().path()) {
        return next.run(req).await;
    }
    let resolved = match resolve(&state, req.headers()).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some((_, Via::Session(session))) = &resolved else {
        let mut req = req;
        req.extensions_mut().insert(Resolved(resolved));
        return next.run(req).await;
    };
    let expected = session.csrf_token.clone();
    let from_header = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = req.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v)
    });
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = req.into_parts();
    let (body, from_form) = if is_form && from_header.is_none() && from_query.is_none() {
        let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
            return AppError::TooLarge("formulaire trop volumineux".into()).into_response();
        };
        let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|f| {
                f.into_iter()
                    .find(|(k, _)| k == "csrf_token")
                    .map(|(_, v)| v)
            });
        (Body::from(bytes), token)
    } else {
        (body, None)
    };
    let given = from_header.or(from_query).or(from_form);
    if given.as_deref() != Some(expected.as_str()) {
        return forbidden(
            "jeton CSRF manquant ou invalide : rechargez la page et recommencez \
             (les scripts envoient l'en-tête X-CSRF-Token donné par /api/v1/me)",
        );
    }
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(Resolved(resolved));
    next.run(req).await
}

pub fn session_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    cookie_header(state, SESSION_COOKIE, value, "/", max_age)
}

/// `HttpOnly`, `SameSite=Lax`, and `Secure` when the platform is served over HTTPS.
fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

fn page(title: &str, body: &str) -> Html<String> {
    super::ui::content_page("/connexion", title, body)
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

async fn sign_in_page(
    State(state): State<AppState>,
    caller: OptionalCaller,
    Query(q): Query<ReturnTo>,
) -> Html<String> {
    let return_to = escape(&auth::safe_return_to(q.return_to.as_deref()));
    let mut body = String::new();
    if let Some(c) = &caller.0 {
        body.push_str(&format!(
            "<p id=\"signed-in\">Vous êtes connecté(e) : <strong>{}</strong>.</p>\
             <form method=\"post\" action=\"/auth/logout\"><input type=\"hidden\" \
             name=\"csrf_token\" value=\"{}\"><button>Se déconnecter</button></form>",
            escape(&c.user.email),
            escape(c.csrf_token().unwrap_or(""))
        ));
    }
    for p in &state.config.auth.oidc {
        body.push_str(&format!(
            "<p><a class=\"oidc\" href=\"/auth/oidc/{id}/login?return_to={return_to}\">Se \
             connecter avec {label}</a></p>",
            id = escape(&p.id),
            label = escape(&p.label)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/auth/email\"><p><label>Adresse e-mail <input \
         type=\"email\" name=\"email\" required autocomplete=\"email\"></label></p><input \
         type=\"hidden\" name=\"return_to\" value=\"{return_to}\"><button>Recevoir un lien de \
         connexion</button></form><p>Le lien, valable 15 minutes, ne sert qu'une fois.</p>"
    ));
    page("Connexion", &body)
}

#[derive(Deserialize)]
struct LinkRequest {
    email: String,
    return_to: Option<String>,
}

fn ctx_of(ip: Option<String>) -> audit::Context {
    audit::Context { actor: None, ip }
}

/// The peer address when the server knows it (not behind `oneshot` in tests).
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(state, parts)))
    }
}

const LINK_SENT: &str = "Si cette adresse peut se connecter, un lien de connexion vient de lui \
                         être envoyé. Il est valable 15 minutes et ne sert qu'une fois.";

async fn send_link(state: &AppState, ip: Option<String>, f: LinkRequest) -> AppResult<()> {
    auth::request_magic_link(
        &state.db,
        &state.mailer,
        &state.config.auth,
        &state.config.public_base_url,
        &ctx_of(ip),
        &f.email,
        f.return_to.as_deref(),
    )
    .await
}

async fn request_link_form(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form(f): Form<LinkRequest>,
) -> AppResult<Html<String>> {
    send_link(&state, ip, f).await?;
    Ok(page(
        "Vérifiez votre messagerie",
        &format!("<p id=\"link-sent\">{LINK_SENT}</p>"),
    ))
}

async fn request_link_json(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(f): Json<LinkRequest>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    send_link(&state, ip, f).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"message": LINK_SENT}))))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// A page with a button, not a sign-in on GET: mail scanners that open links would otherwise
/// spend the single use.
async fn confirm_page(Query(q): Query<TokenQuery>) -> Html<String> {
    page(
        "Connexion",
        &format!(
            "<form method=\"post\" action=\"/auth/email/confirm\"><input type=\"hidden\" \
             name=\"token\" value=\"{}\"><button id=\"confirm\">Se connecter</button></form>",
            escape(q.token.as_deref().unwrap_or(""))
        ),
    )
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

fn signed_in(state: &AppState, cookie_value: &str, to: &str) -> Response {
    let max_age = state.config.auth.session_absolute.num_seconds();
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(state, cookie_value, max_age),
    );
    r
}

async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> AppResult<Response> {
    let ctx = ctx_of(ip);
    let (u, to) = auth::consume_magic_link(&state.db, &ctx, &f.token).await?;
    let previous = cookie(&headers, SESSION_COOKIE);
    let id = auth::open_session(
        &state.db,
        &ctx,
        &state.config.auth,
        &u,
        "magic-link",
        previous.as_deref(),
    )
    .await?;
    Ok(signed_in(&state, &id, &auth::safe_return_to(Some(&to))))
}

async fn bootstrap_page(Query(q): Query<TokenQuery>) -> Html<String> {
    page(
        "Premier administrateur",
        &format!(
            "<p>Ce lien fait de vous le premier administrateur de la plateforme. Il ne sert \
             qu'une fois.</p><form method=\"post\" action=\"/auth/bootstrap\"><input \
             type=\"hidden\" name=\"token\" value=\"{}\"><p><label>Adresse e-mail <input \
             type=\"email\" name=\"email\" required></label></p><p><label>Nom <input \
             name=\"display_name\"></label></p><button>Devenir administrateur</button></form>",
            escape(q.token.as_deref().unwrap_or(""))
        ),
    )
}

#[derive(Deserialize)]
struct BootstrapForm {
    token: String,
    email: String,
    display_name: Option<String>,
}

async fn bootstrap(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<BootstrapForm>,
) -> AppResult<Response> {
    let ctx = ctx_of(ip);
    let u = auth::consume_bootstrap(
        &state.db,
        &ctx,
        &f.token,
        &f.email,
        f.display_name.filter(|n| !n.trim().is_empty()),
    )
    .await?;
    let previous = cookie(&headers, SESSION_COOKIE);
    let id = auth::open_session(
        &state.db,
        &ctx,
        &state.config.auth,
        &u,
        "bootstrap",
        previous.as_deref(),
    )
    .await?;
    Ok(signed_in(&state, &id, "/connexion"))
}

async fn logout(State(state): State<AppState>, caller: OptionalCaller) -> AppResult<Response> {
    let mut to = "/".to_owned();
    if let Some(c) = &caller.0
        && let Via::Session(s) = &c.via
    {
        auth::close_session(&state.db, &c.audit(), s).await?;
        // Signed in through a provider: end its session too, or the next sign-in is silent.
        if let (Some(id), Some(hint)) = (s.method.strip_prefix("oidc:"), &s.id_token_hint)
            && let Some(p) = state.config.auth.oidc.iter().find(|p| p.id == id)
        {
            match oidc::end_session_url(p, &state.config.public_base_url, hint).await {
                Ok(Some(url)) => to = url,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "provider logout skipped"),
            }
        }
    }
    let mut r = Redirect::to(&to).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(r)
}

fn provider<'a>(state: &'a AppState, id: &str) -> AppResult<&'a crate::config::OidcProvider> {
    state
        .config
        .auth
        .oidc
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::NotFound(format!("fournisseur d'identité « {id} » inconnu")))
}

fn state_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    cookie_header(state, OIDC_STATE_COOKIE, value, "/auth/oidc", max_age)
}

async fn oidc_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Query(q): Query<ReturnTo>,
) -> Result<Response, PageError> {
    let p = provider(&state, &id)?;
    let ctx = ctx_of(ip);
    if let Some(ip) = &ctx.ip {
        auth::rate_limit(
            &state.db,
            &format!("sign-in:ip:{ip}"),
            chrono::Duration::minutes(15),
            state.config.auth.sign_ins_per_ip,
        )
        .await?;
    }
    let (url, st) = oidc::start(
        &state.db,
        p,
        &state.config.public_base_url,
        q.return_to.as_deref(),
    )
    .await?;
    let mut r = Redirect::to(&url).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, state_cookie(&state, &st, 600));
    Ok(r)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn oidc_callback(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let p = provider(&state, &id)?;
    let ctx = ctx_of(ip);
    if let Some(error) = q.error {
        audit::record(
            &state.db,
            &ctx,
            "login.failed",
            None,
            json!({"method": format!("oidc:{id}"), "why": error, "detail": q.error_description}),
        )
        .await?;
        return Err(AppError::Unauthorized(format!(
            "le fournisseur d'identité a refusé la connexion : {}",
            q.error_description.unwrap_or(error)
        ))
        .into());
    }
    let (Some(code), Some(st)) = (q.code, q.state) else {
        return Err(
            AppError::bad_request("code", "retour du fournisseur sans code ni state").into(),
        );
    };
    let cookie_state = cookie(&headers, OIDC_STATE_COOKIE);
    let signed = oidc::callback(
        &state.db,
        &ctx,
        p,
        &state.config.public_base_url,
        &st,
        cookie_state.as_deref(),
        &code,
    )
    .await?;
    let previous = cookie(&headers, SESSION_COOKIE);
    let sid = auth::open_session_with_hint(
        &state.db,
        &ctx,
        &state.config.auth,
        &signed.user,
        &format!("oidc:{id}"),
        previous.as_deref(),
        Some(signed.id_token),
    )
    .await?;
    let to = match (&signed.unrecognised_siret, signed.user.organisation_id) {
        (Some(siret), None) => format!("/acces?siret={siret}"),
        _ => signed.return_to,
    };
    let mut r = signed_in(&state, &sid, &to);
    r.headers_mut()
        .append(header::SET_COOKIE, state_cookie(&state, "", 0));
    Ok(r)
}

#[derive(Deserialize)]
struct AccessQuery {
    siret: Option<String>,
}

async fn access_page(caller: Caller, Query(q): Query<AccessQuery>) -> Html<String> {
    let known = caller.actor.organisation.as_ref().map(|o| o.name.clone());
    let body = match known {
        Some(name) => format!("<p>Vous êtes membre de {}.</p>", escape(&name)),
        None => format!(
            "<p id=\"unrecognised\">Organisation non reconnue : votre organisation (SIRET {s}) \
             n'est pas encore connue de la plateforme. Demandez l'accès ; un administrateur \
             rattachera votre compte à votre organisation.</p><form method=\"post\" \
             action=\"/acces\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <p><label>SIRET <input name=\"siret\" value=\"{s}\" required></label></p><p><label>\
             Votre fonction et votre organisation <textarea name=\"message\"></textarea></label>\
             </p><button>Demander l'accès</button></form>",
            s = escape(q.siret.as_deref().unwrap_or("")),
            csrf = escape(caller.csrf_token().unwrap_or(""))
        ),
    };
    page("Accès contributeur", &body)
}

#[derive(Deserialize)]
struct AccessForm {
    siret: String,
    #[serde(default)]
    message: String,
}

async fn access_form(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<AccessForm>,
) -> AppResult<Html<String>> {
    let r = users::request_access(
        &state.db,
        &caller.audit(),
        &caller.user,
        &f.siret,
        &f.message,
    )
    .await?;
    Ok(page(
        "Demande envoyée",
        &format!(
            "<p id=\"access-requested\">Votre demande n° {} est enregistrée. Vous recevrez un \
             e-mail quand un administrateur l'aura traitée.</p>",
            r.id
        ),
    ))
}
