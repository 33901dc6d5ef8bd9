use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // A file an organisation already publishes on its own portal, fetched by the harvest
        // job and turned into a submission when it changes.
        m.create_table(
            Table::create()
                .table("harvest_sources")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("organisation_id"))
                .col(big_integer("created_by"))
                .col(text("url"))
                .col(string("schema"))
                .col(text("label"))
                .col(boolean("active"))
                .col(text_null("etag"))
                .col(text_null("last_modified"))
                .col(string_null("sha256"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        // Every fetch and what came of it: the report an organisation reads.
        m.create_table(
            Table::create()
                .table("harvest_events")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("source_id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("status"))
                .col(text("message"))
                .col(big_integer_null("submission_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_harvest_events_source")
                .table("harvest_events")
                .col("source_id")
                .col("id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("harvest_events").to_owned())
            .await?;
        m.drop_table(Table::drop().table("harvest_sources").to_owned())
            .await
    }
}
