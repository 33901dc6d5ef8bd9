//! OpenID Connect sign-in (ProConnect in production): authorization code with PKCE, `state`
//! and `nonce` checked, the ID token's signature checked against the provider's JWKS with its
//! issuer and audience, the provider discovered from its issuer URL at each sign-in (so that
//! key rotations need nothing here).

use chrono::{Duration, Utc};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
    core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    config::OidcProvider,
    entities::{external_identity, oidc_attempt, organisation, user},
    error::{AppError, AppResult},
    services::{audit, auth, users},
};

/// ProConnect's claims beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProConnectClaims {
    pub siret: Option<String>,
    pub usual_name: Option<String>,
    pub uid: Option<String>,
}

impl AdditionalClaims for ProConnectClaims {}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long a person has to come back from the provider.
const ATTEMPT_TTL_MINUTES: i64 = 10;

pub fn http_client() -> AppResult<reqwest::Client> {
    // No redirects: following one from a token endpoint would be an SSRF vector.
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(AppError::internal)
}

fn unavailable(p: &OidcProvider, e: impl std::fmt::Display) -> AppError {
    tracing::warn!(provider = %p.id, error = %e, "OpenID provider unavailable");
    AppError::Internal(format!(
        "fournisseur d'identité {} indisponible : {e}",
        p.label
    ))
}

async fn discover(
    p: &OidcProvider,
    http: &reqwest::Client,
    redirect: String,
) -> AppResult<(Client, ProviderMetadataWithLogout)> {
    let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|e| unavailable(p, e))?;
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, http)
        .await
        .map_err(|e| unavailable(p, e))?;
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(p.client_id.clone()),
        Some(ClientSecret::new(p.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect).map_err(|e| unavailable(p, e))?);
    Ok((client, metadata))
}

pub fn redirect_uri(base_url: &str, provider: &str) -> String {
    format!(
        "{}/auth/oidc/{provider}/callback",
        base_url.trim_end_matches('/')
    )
}

/// Starts a sign-in: records the attempt and returns the provider's authorization URL and the
/// `state`, which the browser also keeps in a cookie to prove the callback is its own.
pub async fn start(
    db: &DatabaseConnection,
    p: &OidcProvider,
    base_url: &str,
    return_to: Option<&str>,
) -> AppResult<(String, String)> {
    let http = http_client()?;
    let (client, _) = discover(p, &http, redirect_uri(base_url, &p.id)).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in p.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.url();
    let now = Utc::now();
    oidc_attempt::ActiveModel {
        state_hash: Set(auth::hash(state.secret())),
        provider: Set(p.id.clone()),
        nonce: Set(nonce.secret().clone()),
        pkce_verifier: Set(verifier.secret().clone()),
        return_to: Set(auth::safe_return_to(return_to)),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(ATTEMPT_TTL_MINUTES)),
    }
    .insert(db)
    .await?;
    Ok((url.to_string(), state.secret().clone()))
}

/// What a completed sign-in gives.
pub struct SignedIn {
    pub user: user::Model,
    pub return_to: String,
    pub id_token: String,
    /// The organisation of the SIRET, or `None` with the SIRET when it is not recognised.
    pub organisation: Option<organisation::Model>,
    pub unrecognised_siret: Option<String>,
}

fn refused(why: &str) -> AppError {
    AppError::Unauthorized(format!("connexion refusée : {why}"))
}

/// Completes a sign-in from the provider's redirect: every check fails closed, and is audited.
#[allow(clippy::too_many_arguments)]
pub async fn callback(
    db: &DatabaseConnection,
    ctx: &audit::Context,
    p: &OidcProvider,
    base_url: &str,
    state: &str,
    cookie_state: Option<&str>,
    code: &str,
) -> AppResult<SignedIn> {
    let fail = |why: &'static str| async move {
        audit::record(
            db,
            ctx,
            "login.failed",
            None,
            json!({"method": format!("oidc:{}", p.id), "why": why}),
        )
        .await?;
        Err::<SignedIn, AppError>(refused(why))
    };
    if cookie_state != Some(state) {
        return fail("le paramètre state ne correspond pas à ce navigateur").await;
    }
    let Some(attempt) = oidc_attempt::Entity::find_by_id(auth::hash(state))
        .filter(oidc_attempt::Column::Provider.eq(&p.id))
        .one(db)
        .await?
    else {
        return fail("state inconnu ou déjà utilisé").await;
    };
    // Single use, whatever happens next.
    oidc_attempt::Entity::delete_by_id(attempt.state_hash.clone())
        .exec(db)
        .await?;
    if Utc::now() >= attempt.expires_at {
        return fail("la tentative de connexion a expiré").await;
    }
    let http = http_client()?;
    let (client, _) = discover(p, &http, redirect_uri(base_url, &p.id)).await?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| unavailable(p, e))?
        .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
        .request_async(&http)
        .await;
    let Ok(tokens) = exchange else {
        return fail("le fournisseur a refusé le code (déjà utilisé ou invalide)").await;
    };
    let Some(id_token) = tokens.id_token() else {
        return fail("le fournisseur n'a pas envoyé de jeton d'identité").await;
    };
    let verifier = client.id_token_verifier();
    let claims = match id_token.claims(&verifier, &Nonce::new(attempt.nonce.clone())) {
        Ok(c) => c.clone(),
        Err(e) => {
            audit::record(
                db,
                ctx,
                "login.failed",
                None,
                json!({"method": format!("oidc:{}", p.id), "why": e.to_string()}),
            )
            .await?;
            return Err(refused(&format!("jeton d'identité invalide ({e})")));
        }
    };
    let info: UserInfoClaims<ProConnectClaims, CoreGenderClaim> = match client.user_info(
        tokens.access_token().clone(),
        Some(claims.subject().clone()),
    ) {
        Ok(request) => match request.request_async(&http).await {
            Ok(i) => i,
            Err(e) => return Err(unavailable(p, e)),
        },
        Err(_) => {
            return fail("le fournisseur n'a pas de point userinfo").await;
        }
    };
    let email = info
        .email()
        .or(claims.email())
        .map(|e| e.as_str().to_owned());
    let Some(email) = email else {
        return fail("le fournisseur n'a pas donné d'adresse e-mail").await;
    };
    let email = users::normalise_email(&email)?;
    let given = info
        .given_name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    let usual = info.additional_claims().usual_name.clone();
    let display_name = match (given, usual) {
        (Some(g), Some(u)) => Some(format!("{g} {u}")),
        (g, u) => g.or(u),
    };
    let siret = info.additional_claims().siret.clone();
    let subject = claims.subject().as_str().to_owned();

    // The person: by this provider's subject first, then by address.
    let linked = external_identity::Entity::find_by_id((p.id.clone(), subject.clone()))
        .one(db)
        .await?;
    let u = match linked {
        Some(l) => users::by_id(db, l.user_id).await?,
        None => {
            let (u, created) = users::find_or_create(db, &email, display_name).await?;
            if created {
                audit::record(
                    db,
                    ctx,
                    "user.created",
                    Some(email.clone()),
                    json!({"via": format!("oidc:{}", p.id)}),
                )
                .await?;
            }
            external_identity::ActiveModel {
                provider: Set(p.id.clone()),
                subject: Set(subject),
                user_id: Set(u.id),
                siret: Set(siret.clone()),
            }
            .insert(db)
            .await?;
            u
        }
    };
    if u.disabled {
        return fail("ce compte est désactivé").await;
    }
    let ctx = audit::Context {
        actor: Some(u.id),
        ip: ctx.ip.clone(),
    };
    let (organisation, unrecognised_siret) = match &siret {
        Some(s) => match users::join_by_siret(db, &ctx, &u, s).await? {
            Some(org) => (Some(org), None),
            None => (None, Some(s.clone())),
        },
        None => (None, None),
    };
    let u = users::by_id(db, u.id).await?;
    Ok(SignedIn {
        user: u,
        return_to: attempt.return_to,
        id_token: id_token.to_string(),
        organisation,
        unrecognised_siret,
    })
}

/// Where to send the browser at logout so that the provider's session ends too.
pub async fn end_session_url(
    p: &OidcProvider,
    base_url: &str,
    id_token_hint: &str,
) -> AppResult<Option<String>> {
    let http = http_client()?;
    let (_, metadata) = discover(p, &http, redirect_uri(base_url, &p.id)).await?;
    let Some(endpoint) = metadata.additional_metadata().end_session_endpoint.clone() else {
        return Ok(None);
    };
    let mut url = endpoint.url().clone();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token_hint)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/", base_url.trim_end_matches('/')),
        )
        .append_pair("state", &auth::random_token()?);
    Ok(Some(url.to_string()))
}
