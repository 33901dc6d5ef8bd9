//! Local experimentations: published from accepted `experimentation-locale` rows, one per
//! (organisation, identifier) — a later accepted row replaces the earlier one — and listed by
//! territory with their schools.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    domain::competence::TerritoryRef,
    entities::{experimentation, experimentation_school, organisation, submission, submission_row},
    error::{AppError, AppResult},
    services::competence,
};

/// Publishes the experimentation rows among `rows` (those with a typed `$row`).
pub async fn publish<'a, C: ConnectionTrait>(
    txn: &C,
    s: &submission::Model,
    rows: impl Iterator<Item = &'a submission_row::Model>,
) -> AppResult<u64> {
    let mut n = 0;
    for r in rows {
        let proposed: Map<String, Value> = serde_json::from_str(&r.proposed).unwrap_or_default();
        let Some(Value::Object(row)) = proposed.get("$row") else {
            continue;
        };
        let identifiant = row
            .get("identifiant")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let uais: BTreeSet<String> = row
            .get("uai")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let mut data = row.clone();
        data.remove("uai");
        let existing = experimentation::Entity::find()
            .filter(experimentation::Column::Identifiant.eq(&identifiant))
            .filter(match s.organisation_id {
                Some(o) => experimentation::Column::OrganisationId.eq(o),
                None => experimentation::Column::OrganisationId.is_null(),
            })
            .one(txn)
            .await?;
        let id = match existing {
            Some(e) => {
                let id = e.id;
                let mut m: experimentation::ActiveModel = e.into();
                m.data = Set(Value::Object(data).to_string());
                m.submission_id = Set(s.id);
                m.published_at = Set(Utc::now());
                m.update(txn).await?;
                experimentation_school::Entity::delete_many()
                    .filter(experimentation_school::Column::ExperimentationId.eq(id))
                    .exec(txn)
                    .await?;
                id
            }
            None => {
                experimentation::ActiveModel {
                    organisation_id: Set(s.organisation_id),
                    identifiant: Set(identifiant),
                    data: Set(Value::Object(data).to_string()),
                    submission_id: Set(s.id),
                    published_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(txn)
                .await?
                .id
            }
        };
        let schools: Vec<experimentation_school::ActiveModel> = uais
            .into_iter()
            .map(|uai| experimentation_school::ActiveModel {
                experimentation_id: Set(id),
                uai: Set(uai),
            })
            .collect();
        if !schools.is_empty() {
            experimentation_school::Entity::insert_many(schools)
                .exec_without_returning(txn)
                .await?;
        }
        n += 1;
    }
    Ok(n)
}

#[derive(Debug, Serialize)]
pub struct SchoolRef {
    pub uai: String,
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExperimentationView {
    pub id: i64,
    pub identifiant: String,
    #[serde(flatten)]
    pub data: Map<String, Value>,
    pub schools: Vec<SchoolRef>,
    /// Who declared it and where it was reviewed.
    pub organisation: Option<String>,
    pub submission_id: i64,
    pub published_at: chrono::DateTime<Utc>,
}

/// The experimentations with a school in `territory` (all without one), newest first.
pub async fn list(
    db: &DatabaseConnection,
    territory: Option<&str>,
) -> AppResult<Vec<ExperimentationView>> {
    let territory: Option<TerritoryRef> = match territory {
        Some(t) => Some(
            t.parse()
                .map_err(|e: String| AppError::bad_request("territory", e))?,
        ),
        None => None,
    };
    let all = experimentation::Entity::find()
        .order_by_desc(experimentation::Column::PublishedAt)
        .all(db)
        .await?;
    let links = experimentation_school::Entity::find().all(db).await?;
    let uais: BTreeSet<String> = links.iter().map(|l| l.uai.clone()).collect();
    let facts = competence::school_facts_many(db, uais).await?;
    let orgs: HashMap<i64, String> = organisation::Entity::find()
        .filter(organisation::Column::Id.is_in(all.iter().filter_map(|e| e.organisation_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut out = Vec::new();
    for e in all {
        let mine: Vec<&String> = links
            .iter()
            .filter(|l| l.experimentation_id == e.id)
            .map(|l| &l.uai)
            .collect();
        if let Some(t) = &territory
            && !mine
                .iter()
                .any(|u| facts.get(*u).is_some_and(|f| f.is_in(t)))
        {
            continue;
        }
        out.push(ExperimentationView {
            id: e.id,
            identifiant: e.identifiant,
            data: serde_json::from_str(&e.data).unwrap_or_default(),
            schools: mine
                .into_iter()
                .map(|u| SchoolRef {
                    uai: u.clone(),
                    name: facts.get(u).map(|f| f.name.clone()),
                })
                .collect(),
            organisation: e.organisation_id.and_then(|o| orgs.get(&o).cloned()),
            submission_id: e.submission_id,
            published_at: e.published_at,
        });
    }
    Ok(out)
}
