use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The schools a submission touches with their territories, copied at submission time,
        // so that a moderator's queue is one indexed query however long it is.
        m.create_table(
            Table::create()
                .table("submission_schools")
                .if_not_exists()
                .col(big_integer("submission_id"))
                .col(string("uai"))
                .col(string_null("commune"))
                .col(string_null("commune_parent"))
                .col(string_null("epci"))
                .col(string_null("departement"))
                .col(string_null("academie"))
                .col(string_null("region"))
                .primary_key(Index::create().col("submission_id").col("uai"))
                .to_owned(),
        )
        .await?;
        for col in ["departement", "academie", "region", "epci", "commune"] {
            m.create_index(
                Index::create()
                    .name(format!("idx_submission_schools_{col}"))
                    .table("submission_schools")
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("submission_schools").to_owned())
            .await
    }
}
