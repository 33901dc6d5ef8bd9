//! A school a submission touches, with its territories (for the review queue).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "submission_schools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub submission_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub uai: String,
    pub commune: Option<String>,
    pub commune_parent: Option<String>,
    pub epci: Option<String>,
    pub departement: Option<String>,
    pub academie: Option<String>,
    pub region: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
