use sea_orm::entity::prelude::*;

/// The table also holds `score_facts` and `score_facts_key` (see
/// `domain::scores::SchoolFacts`), written with the row by the publication and read by the
/// scores job in plain SQL: left out of the entity so that lists and searches do not read them.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "schools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub uai: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub name_folded: String,
    pub type_etablissement: Option<String>,
    pub secteur: Option<String>,
    pub etat: Option<String>,
    pub code_commune: Option<String>,
    pub code_departement: Option<String>,
    pub code_academie: Option<String>,
    pub code_region: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The record's `presence_annuaire`: `present` when the latest annuaire import covering
    /// the school lists it, `absent` when it no longer does, none when never listed. Only
    /// `present` schools are in the official denominator, lists and exports by default.
    pub presence_annuaire: Option<String>,
    /// The dataset version that last changed this school: its `school_revisions` row of that
    /// version holds the published record.
    pub version: i32,
    pub created_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
