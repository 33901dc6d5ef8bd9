//! The HTTP API: one module per resource, each with its own router and thin handlers.

use axum::Router;
use tower_http::trace::TraceLayer;

use crate::app::AppState;

mod health;
mod territories;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(territories::router())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
