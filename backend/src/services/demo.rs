//! Demonstration and scale data: the communes a synthetic register is spread over.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    entities::{academie, commune, departement, region},
    synthetic::CommuneSeed,
};

/// Every current commune of a département that has an académie (arrondissements stand in
/// for Paris, Lyon and Marseille, as the annuaire codes them), in code order.
pub async fn commune_seeds<C: ConnectionTrait>(db: &C) -> Result<Vec<CommuneSeed>, DbErr> {
    let departements: HashMap<String, departement::Model> = departement::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.code.clone(), d))
        .collect();
    let academies: HashMap<String, String> = academie::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    let regions: HashMap<String, String> = region::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.code, r.name))
        .collect();
    let with_arrondissements: std::collections::HashSet<String> = commune::Entity::find()
        .filter(commune::Column::ParentCode.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|c| c.parent_code)
        .collect();
    let communes = commune::Entity::find()
        .order_by_asc(commune::Column::Code)
        .all(db)
        .await?;
    Ok(communes
        .into_iter()
        .filter(|c| !with_arrondissements.contains(&c.code))
        .filter_map(|c| {
            let dep = departements.get(&c.departement_code)?;
            let academie_code = dep.academie_code.clone()?;
            Some(CommuneSeed {
                postal_code: c
                    .postal_codes
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                population: c.population.unwrap_or(0).max(0) as u64,
                departement_men: dep.code_men.clone(),
                departement_name: dep.name.clone(),
                academie_name: academies.get(&academie_code).cloned().unwrap_or_default(),
                academie_code,
                region_name: regions.get(&dep.region_code).cloned().unwrap_or_default(),
                region_code: dep.region_code.clone(),
                code: c.code,
                name: c.name,
            })
        })
        .collect())
}
