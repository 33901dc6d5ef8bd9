//! One successful computation of the scores, and the dataset version it read.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "score_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `full` or `touched` (the territories of the schools changed since the previous run).
    pub scope: String,
    pub dataset_version: Option<i32>,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    pub schools: i32,
    pub territories: i32,
    /// Territories whose scores changed, hence rows written.
    pub written: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
