use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dataset_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub import_id: Option<i64>,
    pub schools_created: i64,
    pub schools_changed: i64,
    pub values_changed: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
