use axum::{
    Json, Router,
    extract::{Path, Query, State},
    routing::get,
};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

use crate::{
    app::AppState,
    entities::dataset_version,
    error::{AppError, AppResult},
    services::{
        datasets::{self, Change},
        provenance::{self, ProvenanceView},
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets/versions", get(versions))
        .route("/api/v1/datasets/versions/{n}/changes", get(changes))
        .route("/api/v1/datasets/changes", get(changes_between))
}

#[derive(Serialize)]
struct VersionView {
    version: i32,
    created_at: chrono::DateTime<chrono::Utc>,
    kind: String,
    summary: String,
    import_id: Option<i64>,
    schools_created: i64,
    schools_changed: i64,
    values_changed: i64,
}

impl From<dataset_version::Model> for VersionView {
    fn from(v: dataset_version::Model) -> Self {
        Self {
            version: v.version,
            created_at: v.created_at,
            kind: v.kind,
            summary: v.summary,
            import_id: v.import_id,
            schools_created: v.schools_created,
            schools_changed: v.schools_changed,
            values_changed: v.values_changed,
        }
    }
}

#[derive(Serialize)]
struct Versions {
    latest: Option<i32>,
    versions: Vec<VersionView>,
}

async fn versions(State(state): State<AppState>) -> AppResult<Json<Versions>> {
    let versions: Vec<VersionView> = datasets::versions(&state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(Versions {
        latest: versions.first().map(|v| v.version),
        versions,
    }))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
    per_page: Option<u64>,
}

#[derive(Serialize)]
pub(crate) struct ChangeView {
    #[serde(flatten)]
    change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_source: Option<ProvenanceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_source: Option<ProvenanceView>,
}

#[derive(Serialize)]
struct Changes {
    version: VersionView,
    /// Schools changed by this version; the page counts schools, each with all its changes.
    total_schools: u64,
    page: u64,
    per_page: u64,
    changes: Vec<ChangeView>,
}

async fn changes(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Changes>> {
    let n: i32 = raw.parse().map_err(|_| {
        AppError::bad_request("n", format!("« {raw} » n'est pas un numéro de version"))
    })?;
    let version = dataset_version::Entity::find_by_id(n)
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("la version {n} du jeu de données n'existe pas"))
        })?;
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(100).clamp(1, 1000);
    let (total_schools, list) = datasets::changes(&state.db, n, page, per_page).await?;
    let ids = list
        .iter()
        .flat_map(|c| c.old_provenance.into_iter().chain(c.new_provenance));
    let provs = provenance::describe(&state.db, ids.collect::<Vec<_>>()).await?;
    let changes = list
        .into_iter()
        .map(|c| ChangeView {
            old_source: c.old_provenance.and_then(|id| provs.get(&id).cloned()),
            new_source: c.new_provenance.and_then(|id| provs.get(&id).cloned()),
            change: c,
        })
        .collect();
    Ok(Json(Changes {
        version: version.into(),
        total_schools,
        page,
        per_page,
        changes,
    }))
}

#[derive(Deserialize)]
struct BetweenQuery {
    from: Option<String>,
    to: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// What changed between two versions, with the sources of both values: the API's and the
/// downloads page's.
#[derive(Serialize)]
pub(crate) struct Between {
    pub from: i32,
    pub to: i32,
    pub total_schools: u64,
    pub page: u64,
    pub per_page: u64,
    pub changes: Vec<ChangeView>,
}

impl ChangeView {
    pub(crate) fn change(&self) -> &Change {
        &self.change
    }
    pub(crate) fn new_source(&self) -> Option<&ProvenanceView> {
        self.new_source.as_ref()
    }
}

/// Reads `from` and `to` (two published versions, the first older), then the changes.
pub(crate) async fn between(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
    page: u64,
    per_page: u64,
) -> AppResult<Between> {
    let mut violations = Vec::new();
    let mut number = |name: &'static str, raw: Option<&str>| match raw.map(str::trim) {
        None | Some("") => {
            violations.push(crate::error::Violation {
                pointer: name.into(),
                detail: "choisissez une version".into(),
            });
            None
        }
        Some(r) => match r.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                violations.push(crate::error::Violation {
                    pointer: name.into(),
                    detail: format!("« {r} » n'est pas un numéro de version"),
                });
                None
            }
        },
    };
    let (from, to) = (number("from", from), number("to", to));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(AppError::BadRequest {
            title: "deux numéros de version sont attendus".into(),
            violations,
        });
    };
    if from >= to {
        return Err(AppError::bad_request(
            "from",
            format!(
                "la version de départ ({from}) doit être plus ancienne que celle d'arrivée ({to})"
            ),
        ));
    }
    for n in [from, to] {
        if dataset_version::Entity::find_by_id(n)
            .one(&state.db)
            .await?
            .is_none()
        {
            return Err(AppError::NotFound(format!(
                "la version {n} du jeu de données n'existe pas"
            )));
        }
    }
    let (total_schools, list) =
        datasets::changes_between(&state.db, from, to, page, per_page).await?;
    let ids = list
        .iter()
        .flat_map(|c| c.old_provenance.into_iter().chain(c.new_provenance));
    let provs = provenance::describe(&state.db, ids.collect::<Vec<_>>()).await?;
    Ok(Between {
        from,
        to,
        total_schools,
        page,
        per_page,
        changes: list
            .into_iter()
            .map(|c| ChangeView {
                old_source: c.old_provenance.and_then(|id| provs.get(&id).cloned()),
                new_source: c.new_provenance.and_then(|id| provs.get(&id).cloned()),
                change: c,
            })
            .collect(),
    })
}

async fn changes_between(
    State(state): State<AppState>,
    Query(q): Query<BetweenQuery>,
) -> AppResult<Json<Between>> {
    Ok(Json(
        between(
            &state,
            q.from.as_deref(),
            q.to.as_deref(),
            q.page.unwrap_or(1).max(1),
            q.per_page.unwrap_or(100).clamp(1, 1000),
        )
        .await?,
    ))
}
