//! A file an organisation publishes on its own open-data portal, harvested on a schedule.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "harvest_sources")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    /// The member who registered it: the harvested submissions are sent in their name.
    pub created_by: i64,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The contribution schema the file follows (`name` or `name@vN`).
    pub schema: String,
    #[sea_orm(column_type = "Text")]
    pub label: String,
    pub active: bool,
    /// The validators of the last fetched version, sent back so that an unchanged file
    /// costs a 304.
    #[sea_orm(column_type = "Text", nullable)]
    pub etag: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_modified: Option<String>,
    /// The hash of the last fetched content: unchanged content does nothing, whatever the
    /// server says.
    pub sha256: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
