use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "observations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub uai: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    /// The millésime or date of the observation, empty when the source gives none.
    #[sea_orm(primary_key, auto_increment = false)]
    pub millesime: String,
    pub import_id: i64,
    /// `{field: value}` as read from the source.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    /// `{field: spelling}`: how the source wrote a coded value it wrote otherwise than the
    /// catalogue's code, and the codes no known spelling matches (absent from `data`).
    #[sea_orm(column_type = "Text", nullable)]
    pub raw: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
