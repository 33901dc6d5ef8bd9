//! A territory's scores as of a run, stored when they changed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "territory_scores")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub level: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    pub hash: String,
    /// The counts ([`crate::domain::scores::Cube`]) as JSON.
    #[sea_orm(column_type = "Text")]
    pub data: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
