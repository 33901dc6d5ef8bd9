use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // What moderators rejected, value by value, so that the same proposal sent again comes
        // with the earlier decision instead of being reviewed from scratch.
        m.create_table(
            Table::create()
                .table("dismissed_proposals")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("uai"))
                .col(string("field"))
                .col(text("value"))
                .col(big_integer("submission_id"))
                .col(text("reason"))
                .col(timestamp_with_time_zone("at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_dismissed_proposals_uai_field")
                .table("dismissed_proposals")
                .col("uai")
                .col("field")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("dismissed_proposals").to_owned())
            .await
    }
}
