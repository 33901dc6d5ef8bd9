use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "school_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub uai: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The whole published record of the school as of this version.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    /// `{field: previous [value, provenance id] or null}` for the fields this version changed.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
