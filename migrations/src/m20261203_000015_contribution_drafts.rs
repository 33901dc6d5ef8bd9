use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // A file being fixed in the browser before it is sent: the file as uploaded and the
        // file as fixed so far, both kept in `submission_files` (content-addressed).
        m.create_table(
            Table::create()
                .table("contribution_drafts")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("user_id"))
                .col(big_integer_null("organisation_id"))
                .col(string("schema_name"))
                .col(integer("schema_version"))
                .col(string("file_name"))
                .col(string("original_sha256"))
                .col(string("current_sha256"))
                .col(integer("fixes"))
                .col(big_integer_null("submission_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_contribution_drafts_user")
                .table("contribution_drafts")
                .col("user_id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("contribution_drafts").to_owned())
            .await
    }
}
