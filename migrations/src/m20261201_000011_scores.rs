use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One row per successful computation of the scores, tied to the dataset version it
        // read. A failed run writes nothing here: its scores never become visible.
        m.create_table(
            Table::create()
                .table("score_runs")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("scope"))
                .col(integer_null("dataset_version"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone("finished_at"))
                .col(integer("schools"))
                .col(integer("territories"))
                .col(integer("written"))
                .to_owned(),
        )
        .await?;
        // A territory's scores as of a run, written only when they differ from its previous
        // ones: its scores at run R are its latest row with run_id <= R.
        m.create_table(
            Table::create()
                .table("territory_scores")
                .if_not_exists()
                .col(string("level"))
                .col(string("code"))
                .col(big_integer("run_id"))
                .col(string("hash"))
                .col(text("data"))
                .primary_key(Index::create().col("level").col("code").col("run_id"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("territory_scores").to_owned())
            .await?;
        m.drop_table(Table::drop().table("score_runs").to_owned())
            .await
    }
}
