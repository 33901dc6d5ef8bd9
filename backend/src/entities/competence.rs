//! One line of an organisation's competence: grant or exclusion, school types × secteur ×
//! territory, from the general rule, an admin override or a delegation, maybe time-bounded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "competences")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    pub effect: String,
    pub school_types: String,
    pub secteur: Option<String>,
    pub territory_level: String,
    pub territory_code: String,
    pub origin: String,
    pub delegated_by: Option<i64>,
    pub valid_from: Option<DateTimeUtc>,
    pub valid_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub created_at: DateTimeUtc,
    pub created_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
