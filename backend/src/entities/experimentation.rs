//! A local experimentation as published: the accepted row of an `experimentation-locale`
//! submission.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "experimentations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: Option<i64>,
    pub identifiant: String,
    /// The row's columns as typed by the schema (nom, description, thematiques, dates…).
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub submission_id: i64,
    pub published_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
