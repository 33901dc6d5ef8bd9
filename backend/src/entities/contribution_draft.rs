//! A file being fixed in the browser before it is sent: as uploaded, and as fixed so far.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contribution_drafts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub organisation_id: Option<i64>,
    pub schema_name: String,
    pub schema_version: i32,
    pub file_name: String,
    pub original_sha256: String,
    pub current_sha256: String,
    /// Cells changed so far.
    pub fixes: i32,
    /// The submission it became, once sent.
    pub submission_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
