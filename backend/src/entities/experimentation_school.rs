//! A school taking part in a published experimentation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "experimentation_schools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub experimentation_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub uai: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
