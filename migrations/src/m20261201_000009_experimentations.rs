use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Local experimentations as published once reviewed: one per (organisation, identifier),
        // the last accepted submission's content, with the schools it involves.
        m.create_table(
            Table::create()
                .table("experimentations")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer_null("organisation_id"))
                .col(string("identifiant"))
                .col(text("data"))
                .col(big_integer("submission_id"))
                .col(timestamp_with_time_zone("published_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_experimentations_key")
                .table("experimentations")
                .col("organisation_id")
                .col("identifiant")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("experimentation_schools")
                .if_not_exists()
                .col(big_integer("experimentation_id"))
                .col(string("uai"))
                .primary_key(Index::create().col("experimentation_id").col("uai"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_experimentation_schools_uai")
                .table("experimentation_schools")
                .col("uai")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("experimentation_schools").to_owned())
            .await?;
        m.drop_table(Table::drop().table("experimentations").to_owned())
            .await
    }
}
