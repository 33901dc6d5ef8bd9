//! The HTTP API: one module per resource, each with its own router and thin handlers.

use axum::Router;
use tower_http::trace::TraceLayer;

use crate::app::AppState;

/// The licence of everything the platform publishes.
pub const LICENCE: &str = "Licence Ouverte / Open Licence 2.0 (Etalab), https://www.etalab.gouv.fr/licence-ouverte-open-licence";

mod admin;
mod admin_pages;
pub mod answer_cache;
pub mod auth;
mod catalog;
mod conditional;
mod contribution_pages;
pub(crate) mod datasets;
mod exports;
mod harvest;
mod health;
mod me;
mod moderation_pages;
mod openapi;
mod public_pages;
mod report_pages;
mod schemas;
mod schools;
mod security;
mod submissions;
mod territories;
mod territory_page;
pub mod ui;
pub(crate) mod validate;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(catalog::router())
        .merge(openapi::router())
        .merge(public_pages::router())
        .merge(report_pages::router())
        .merge(moderation_pages::router())
        .merge(contribution_pages::router())
        .merge(admin_pages::router())
        .merge(ui::router())
        .merge(schools::router())
        .merge(datasets::router())
        .merge(exports::router())
        .merge(territories::router())
        .merge(territory_page::router())
        .merge(harvest::router())
        .merge(schemas::router())
        .merge(validate::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(admin::router())
        .merge(submissions::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            answer_cache::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
