//! A contributing organisation (commune, EPCI, département, région, collectivité à statut
//! particulier, académie), identified by its SIREN once known.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub siren: Option<String>,
    pub kind: String,
    pub name: String,
    pub territory_level: String,
    pub territory_code: String,
    pub school_competence: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
