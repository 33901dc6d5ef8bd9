//! A proposed value a moderator rejected: the same proposal sent again is flagged with it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dismissed_proposals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uai: String,
    pub field: String,
    /// The value as JSON.
    #[sea_orm(column_type = "Text")]
    pub value: String,
    pub submission_id: i64,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
