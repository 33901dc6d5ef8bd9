use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "communes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub name_folded: String,
    /// `commune` or `arrondissement` (municipal arrondissements of Paris, Lyon, Marseille).
    pub kind: String,
    pub departement_code: String,
    pub region_code: String,
    pub siren: Option<String>,
    pub population: Option<i64>,
    pub epci_siren: Option<String>,
    pub parent_code: Option<String>,
    /// Postal codes separated by spaces.
    pub postal_codes: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
