use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // What each school adds to its territories' scores, worked out when its record is
        // published, so that the scores job reads a few hundred bytes per school instead of
        // its whole record. `score_facts_key` names the catalogue and scoring rules they were
        // worked out with: facts of other rules (and the NULLs of schools published before
        // this column) are worked out again from the record by the next full recompute.
        // SQLite adds one column per statement.
        m.alter_table(
            Table::alter()
                .table("schools")
                .add_column(text_null("score_facts"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("schools")
                .add_column(string_null("score_facts_key"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in ["score_facts", "score_facts_key"] {
            m.alter_table(
                Table::alter()
                    .table("schools")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
