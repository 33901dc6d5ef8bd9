//! A contribution file as received: immutable, with its report and what became of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "submissions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub schema_name: String,
    pub schema_version: i32,
    pub file_name: String,
    pub sha256: String,
    pub submitter_id: i64,
    pub organisation_id: Option<i64>,
    pub base_version: Option<i32>,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub report: String,
    pub rows_total: i64,
    pub rows_proposed: i64,
    pub rows_invalid: i64,
    pub rows_refused: i64,
    #[sea_orm(column_type = "Text")]
    pub flags: String,
    pub idempotency_key: Option<String>,
    pub supersedes: Option<i64>,
    pub created_at: DateTimeUtc,
    pub claimed_by: Option<i64>,
    pub claimed_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
    pub merged_version: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
