//! `can_contribute` over the database: the school's facts from the published dataset and the
//! territory reference, the schema's scope from the registry, the decision from the domain.

use std::collections::HashMap;

use chrono::Utc;
use ecarto_contrib_schemas::{Audience, Registry};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    domain::{
        competence::{self, Actor, Decision, SchemaScope, SchoolFacts},
        uai::Uai,
    },
    entities::{commune, school},
    error::{AppError, AppResult},
};

/// What the decision knows of a school, or 404 for a UAI the register does not hold.
pub async fn school_facts<C: ConnectionTrait>(db: &C, uai: &str) -> AppResult<SchoolFacts> {
    let uai = Uai::parse(uai).map_err(|e| AppError::bad_request("uai", e.to_string()))?;
    school_facts_many(db, [uai.as_str().to_owned()])
        .await?
        .remove(uai.as_str())
        .ok_or_else(|| AppError::NotFound(format!("aucun établissement {uai} dans le registre")))
}

/// The facts of many schools at once (two queries per 500), the unknown ones left out.
pub async fn school_facts_many<C: ConnectionTrait>(
    db: &C,
    uais: impl IntoIterator<Item = String>,
) -> AppResult<HashMap<String, SchoolFacts>> {
    let uais: Vec<String> = uais.into_iter().collect();
    let mut out = HashMap::new();
    for chunk in uais.chunks(500) {
        let schools = school::Entity::find()
            .filter(school::Column::Uai.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        let codes: Vec<String> = schools
            .iter()
            .filter_map(|s| s.code_commune.clone())
            .collect();
        let communes: HashMap<String, commune::Model> = commune::Entity::find()
            .filter(commune::Column::Code.is_in(codes))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.code.clone(), c))
            .collect();
        for s in schools {
            let c = s.code_commune.as_ref().and_then(|c| communes.get(c));
            out.insert(
                s.uai.clone(),
                SchoolFacts {
                    commune_parent: c.and_then(|c| c.parent_code.clone()),
                    commune_name: c.map(|c| c.name.clone()),
                    epci: c.and_then(|c| c.epci_siren.clone()),
                    uai: s.uai,
                    name: s.name,
                    type_etablissement: s.type_etablissement,
                    secteur: s.secteur,
                    commune: s.code_commune,
                    departement: s.code_departement,
                    academie: s.code_academie,
                    region: s.code_region,
                },
            );
        }
    }
    Ok(out)
}

/// The scope of a schema named `name` or `name@vN`.
pub fn schema_scope(spec: &str) -> AppResult<SchemaScope> {
    let schema = Registry::embedded()
        .resolve(spec)
        .map_err(|e| AppError::bad_request("schema", e.to_string()))?;
    Ok(SchemaScope {
        name: schema.name.clone(),
        school_types: (!schema.school_types.is_empty()).then(|| schema.school_types.clone()),
        open_to_beta_testers: schema.audience == Audience::Everyone,
    })
}

/// The one check every contribution goes through.
pub async fn can_contribute<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    uai: &str,
    schema: &str,
) -> AppResult<Decision> {
    let scope = schema_scope(schema)?;
    let school = school_facts(db, uai).await?;
    Ok(competence::can_contribute(
        actor,
        &school,
        &scope,
        Utc::now(),
    ))
}
