use axum::{Json, Router, routing::get};
use serde::Serialize;

use crate::{
    app::AppState,
    domain::catalog::{Catalog, Field},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/fields", get(fields))
}

#[derive(Serialize)]
struct Fields {
    licence: &'static str,
    fields: &'static [Field],
}

/// The field catalogue: machine names, themes, labels, types, for whom each is expected.
async fn fields() -> Json<Fields> {
    Json(Fields {
        licence: super::LICENCE,
        fields: Catalog::get().fields(),
    })
}
