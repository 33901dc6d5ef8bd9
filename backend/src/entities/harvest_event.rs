//! One fetch of a harvested source and its outcome.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "harvest_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source_id: i64,
    pub at: DateTimeUtc,
    /// `submitted`, `unchanged`, `invalid` or `unreachable`.
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub submission_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
