//! One run of a job: when, why (schedule, CLI, API), how it ended and what it did.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub job: String,
    /// The scheduled tick (RFC 3339), or a unique stamp for a manual run.
    pub tick: String,
    /// `schedule`, `cli` or `api`.
    pub trigger: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    #[sea_orm(column_type = "Text")]
    pub counts: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
