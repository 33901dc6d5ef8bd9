//! Demonstration and scale data: the communes a synthetic register is spread over.

use std::collections::HashSet;

use crate::{
    reference::territories::{CommuneKind, TerritoryReference},
    synthetic::CommuneSeed,
};

/// Every commune of a département that has an académie, as the annuaire codes them: Paris,
/// Lyon and Marseille by their municipal arrondissements, the others as themselves.
pub fn commune_seeds(reference: &TerritoryReference) -> Vec<CommuneSeed> {
    let with_arrondissements: HashSet<&str> = reference
        .communes
        .iter()
        .filter_map(|c| c.parent.as_ref().map(|p| p.as_str()))
        .collect();
    reference
        .communes
        .iter()
        .filter(|c| {
            c.kind == CommuneKind::Arrondissement || !with_arrondissements.contains(c.code.as_str())
        })
        .filter_map(|c| {
            let dep = reference.departement(&c.departement)?;
            let academie = reference.academie(dep.academie.as_ref()?)?;
            let region = reference.region(&dep.region)?;
            Some(CommuneSeed {
                code: c.code.as_str().to_owned(),
                name: c.name.clone(),
                departement_men: dep.code.ministry_code(),
                departement_name: dep.name.clone(),
                academie_code: academie.code.as_str().to_owned(),
                academie_name: academie.name.clone(),
                region_code: region.code.as_str().to_owned(),
                region_name: region.name.clone(),
                postal_code: c.postal_codes.first().cloned().unwrap_or_default(),
                population: c.population.unwrap_or(0).max(0) as u64,
            })
        })
        .collect()
}
