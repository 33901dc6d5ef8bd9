use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // E-mails written in the transaction of the event they tell about, sent later by the
        // outbox job: an SMTP failure loses nothing, and `dedup_key` makes each one once.
        m.create_table(
            Table::create()
                .table("mail_outbox")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("dedup_key").unique_key())
                .col(string("to_address"))
                .col(string("subject"))
                .col(text("body"))
                .col(string("status"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(timestamp_with_time_zone_null("claimed_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .col(text_null("last_error"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_mail_outbox_due")
                .table("mail_outbox")
                .col("status")
                .col("next_attempt_at")
                .to_owned(),
        )
        .await?;
        // A moderator's choice: every new submission at once, or one digest a day.
        m.alter_table(
            Table::alter()
                .table("users")
                .add_column(boolean("daily_digest").default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("users")
                .drop_column("daily_digest")
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("mail_outbox").to_owned())
            .await
    }
}
