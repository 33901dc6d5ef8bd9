use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "epcis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub siren: String,
    pub name: String,
    pub kind: String,
    pub population: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
