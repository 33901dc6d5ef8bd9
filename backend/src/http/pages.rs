use axum::{Router, response::Html, routing::get};

use crate::app::AppState;

/// Embedded at build time: nothing is read from the working directory at run time.
const INDEX: &str = include_str!("../../../admin-ui/index.html");

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(|| async { Html(INDEX) }))
}
