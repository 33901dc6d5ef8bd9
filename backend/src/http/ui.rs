//! The pages' templates (`admin-ui/templates`) and static files (`admin-ui/static`): embedded
//! in the binary at build time, compiled once, nothing read from the working directory.
//! Templates escape every value (`.html` templates auto-escape in minijinja); handlers give
//! them plain data already in French.

use std::sync::OnceLock;

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use minijinja::{Environment, Value, context, value::Serde};
use serde::Serialize;

use super::auth::{Caller, OptionalCaller};
use crate::{app::AppState, domain::competence::Role, error::AppError};

/// A template of `admin-ui/templates`, embedded under its file name.
macro_rules! template {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../admin-ui/templates/", $name)),
        )
    };
}

const TEMPLATES: &[(&str, &str)] = &[
    template!("base.html"),
    template!("home.html"),
    template!("search.html"),
    template!("school.html"),
    template!("downloads.html"),
    template!("changelog.html"),
    template!("map.html"),
    template!("report.html"),
    template!("my_reports.html"),
    template!("moderation_queue.html"),
    template!("moderation_submission.html"),
    template!("contribute.html"),
    template!("draft.html"),
    template!("draft_report.html"),
    template!("draft_heading.html"),
    template!("draft_checking.html"),
    template!("my_contributions.html"),
    template!("my_contribution.html"),
    template!("admin_layout.html"),
    template!("admin_dashboard.html"),
    template!("admin_requests.html"),
    template!("admin_organisations.html"),
    template!("admin_organisation.html"),
    template!("admin_moderators.html"),
    template!("admin_sources.html"),
    template!("admin_jobs.html"),
    template!("admin_journal.html"),
    template!("error.html"),
    // A page whose body a handler writes itself (already escaped), in the common layout.
    template!("content.html"),
];

/// `(name, content type, bytes)`.
const STATIC: &[(&str, &str, &str)] = &[
    (
        "ecarto.css",
        "text/css; charset=utf-8",
        include_str!("../../../admin-ui/static/ecarto.css"),
    ),
    (
        "ecarto.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../admin-ui/static/ecarto.js"),
    ),
];

/// The templates, compiled once. A template that does not compile is a build defect, caught
/// by this module's test.
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_formatter(format_value);
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

/// How a value is written into a page: nothing for a missing one (rather than `none`), and
/// HTML's five special characters escaped in `.html` templates. (minijinja's own formatter
/// escapes `/` too, which adds nothing to safety in text and quoted attributes.)
fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    if value.is_safe() || !matches!(state.auto_escape(), minijinja::AutoEscape::Html) {
        return minijinja::escape_formatter(out, state, value);
    }
    let escaped = crate::validation::render::escape(&value.to_string());
    out.write_str(&escaped)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
}

/// The sections of the main menu: `(path, label)`.
const NAV: &[(&str, &str)] = &[
    ("/", "Accueil"),
    ("/recherche", "Rechercher"),
    ("/carte", "Carte"),
    ("/territoires", "Territoires"),
    ("/telechargements", "Télécharger"),
    ("/contribuer", "Contribuer"),
];

#[derive(Serialize)]
struct NavItem {
    href: &'static str,
    label: &'static str,
    current: bool,
}

/// Renders a page: `section` is the main menu's entry it belongs to (its path).
pub fn page(
    template: &str,
    section: &str,
    data: impl Serialize,
) -> Result<Html<String>, PageError> {
    let nav: Vec<NavItem> = NAV
        .iter()
        .map(|(href, label)| NavItem {
            href,
            label,
            current: *href == section,
        })
        .collect();
    let ctx = context! { nav => Value::from(Serde(&nav)), ..Value::from(Serde(&data)) };
    env()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| PageError(AppError::internal(format!("template {template}: {e}"))))
}

/// The sign-in page, which brings the person back to `here` once signed in: where a page
/// that needs someone sends the anonymous.
pub fn sign_in_to(here: &str) -> Response {
    let query = serde_urlencoded::to_string([("return_to", here)]).unwrap_or_default();
    Redirect::to(&format!("/connexion?{query}")).into_response()
}

/// A page for people holding one of `roles`: the signed-in caller, or the answer to give
/// instead (the sign-in page for the anonymous, a « forbidden » page saying `why` to others).
/// The API's rule is the same `Actor::has`.
pub fn gate(
    caller: OptionalCaller,
    here: &str,
    roles: &[Role],
    why: &str,
) -> Result<Caller, Box<Response>> {
    let Some(caller) = caller.0 else {
        return Err(Box::new(sign_in_to(here)));
    };
    if roles.iter().any(|r| caller.actor.has(*r)) {
        Ok(caller)
    } else {
        Err(Box::new(
            PageError(AppError::Forbidden(why.to_owned())).into_response(),
        ))
    }
}

/// A template rendered alone, without the layout: a part of a page sent after its start.
pub fn fragment(template: &str, data: impl Serialize) -> Result<String, PageError> {
    env()
        .get_template(template)
        .and_then(|t| t.render(Value::from(Serde(&data))))
        .map_err(|e| PageError(AppError::internal(format!("template {template}: {e}"))))
}

/// A page whose body a handler wrote itself (escaped already), in the common layout under a
/// `<h1>` of its title.
pub fn content_page(section: &str, title: &str, body: &str) -> Html<String> {
    let content = format!(
        "<h1>{}</h1>{body}",
        crate::validation::render::escape(title)
    );
    page(
        "content.html",
        section,
        serde_json::json!({ "title": title, "content": content }),
    )
    .unwrap_or_else(|_| {
        Html(format!(
            "<!doctype html><html lang=\"fr\"><title>{title}</title>{content}</html>"
        ))
    })
}

/// An error shown as a page (`error.html`) rather than as problem+json: the same status and
/// words as the API's.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let d = self.0.describe();
        let detail = error_detail(&self.0);
        let body = env()
            .get_template("error.html")
            .and_then(|t| {
                t.render(context! {
                    nav => Value::from(Serde(NAV
                        .iter()
                        .map(|(href, label)| NavItem { href, label, current: false })
                        .collect::<Vec<_>>())),
                    title => d.title,
                    detail => detail,
                })
            })
            .unwrap_or_else(|_| "Erreur".to_owned());
        (d.status, Html(body)).into_response()
    }
}

pub type PageResult = Result<Html<String>, PageError>;

/// What an error page says of an error: its detail, or for a fault of the service a word that
/// tells the person to try again (the fault itself goes to the log).
pub fn error_detail(e: &AppError) -> String {
    let d = e.describe();
    d.detail
        .clone()
        .or_else(|| {
            (d.status == StatusCode::INTERNAL_SERVER_ERROR).then(|| {
                "Le service a rencontré une erreur ; réessayez dans un instant.".to_owned()
            })
        })
        .unwrap_or_default()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{name}", get(static_file))
}

async fn static_file(Path(name): Path<String>) -> Response {
    match STATIC.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // Embedded in the binary: a release changes them; an hour is a fair cache.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(env.get_template("error.html").is_ok());
    }

    #[test]
    fn values_are_escaped_and_the_menu_marks_its_section() {
        let html = page(
            "error.html",
            "/recherche",
            serde_json::json!({"title": "<script>x</script>", "detail": "a & b"}),
        )
        .map_err(|e| e.0.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(!html.contains("<script>x"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains(r#"<a href="/recherche" aria-current="page">Rechercher</a>"#));
        assert!(html.contains("Aller au contenu") && html.contains("<main id=\"contenu\""));
    }
}
