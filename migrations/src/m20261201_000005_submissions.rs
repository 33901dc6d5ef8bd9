use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The bytes of every file received, once per content (content-addressed).
        m.create_table(
            Table::create()
                .table("submission_files")
                .if_not_exists()
                .col(string("sha256").primary_key())
                .col(big_integer("size"))
                .col(blob("bytes"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("submissions")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("schema_name"))
                .col(integer("schema_version"))
                .col(string("file_name"))
                .col(string("sha256"))
                .col(big_integer("submitter_id"))
                .col(big_integer_null("organisation_id"))
                .col(integer_null("base_version"))
                .col(string("status"))
                .col(text("report"))
                .col(big_integer("rows_total"))
                .col(big_integer("rows_proposed"))
                .col(big_integer("rows_invalid"))
                .col(big_integer("rows_refused"))
                .col(text("flags"))
                .col(string_null("idempotency_key"))
                .col(big_integer_null("supersedes"))
                .col(timestamp_with_time_zone("created_at"))
                .col(big_integer_null("claimed_by"))
                .col(timestamp_with_time_zone_null("claimed_at"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(integer_null("merged_version"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("submission_rows")
                .if_not_exists()
                .col(big_integer("submission_id"))
                .col(big_integer("line"))
                .col(string_null("uai"))
                // proposed: valid and within competence; invalid: see the report; refused:
                // outside the submitter's competence (reason).
                .col(string("status"))
                .col(text_null("reason"))
                .col(text("proposed"))
                .col(string_null("decision"))
                .primary_key(Index::create().col("submission_id").col("line"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("submission_decisions")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("submission_id"))
                .col(big_integer("moderator_id"))
                .col(string("decision"))
                .col(text("reason"))
                .col(text("rows"))
                .col(text("fields"))
                .col(integer_null("merged_version"))
                .col(timestamp_with_time_zone("at"))
                .to_owned(),
        )
        .await?;
        for (name, table, cols, unique) in [
            (
                "idx_submissions_status",
                "submissions",
                &["status", "created_at"][..],
                false,
            ),
            (
                "idx_submissions_submitter",
                "submissions",
                &["submitter_id"][..],
                false,
            ),
            (
                "idx_submissions_idempotency",
                "submissions",
                &["submitter_id", "idempotency_key"][..],
                true,
            ),
            (
                "idx_submission_rows_uai",
                "submission_rows",
                &["uai"][..],
                false,
            ),
            (
                "idx_submission_decisions_submission",
                "submission_decisions",
                &["submission_id"][..],
                false,
            ),
        ] {
            let mut idx = Index::create().name(name).table(table).to_owned();
            for c in cols {
                idx.col(*c);
            }
            if unique {
                idx.unique();
            }
            m.create_index(idx).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "submission_decisions",
            "submission_rows",
            "submissions",
            "submission_files",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
