use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The history of scheduled and manual job runs. A scheduled run's row is its claim:
        // the unique (job, tick) lets one replica of many run each tick.
        m.create_table(
            Table::create()
                .table("job_runs")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("job"))
                .col(string("tick"))
                .col(string("trigger"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(text("counts"))
                .col(text_null("error"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_job_runs_tick")
                .table("job_runs")
                .col("job")
                .col("tick")
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("job_runs").to_owned())
            .await
    }
}
