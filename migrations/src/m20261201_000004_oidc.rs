use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // An OpenID Connect sign-in between the redirect to the provider and its return: kept
        // in the database so that any replica can take the callback.
        m.create_table(
            Table::create()
                .table("oidc_attempts")
                .if_not_exists()
                .col(string("state_hash").primary_key())
                .col(string("provider"))
                .col(string("nonce"))
                .col(string("pkce_verifier"))
                .col(string("return_to"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        // The ID token of an OpenID sign-in, sent back as `id_token_hint` at logout.
        m.alter_table(
            Table::alter()
                .table("sessions")
                .add_column(text_null("id_token_hint"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("sessions")
                .drop_column("id_token_hint")
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("oidc_attempts").to_owned())
            .await
    }
}
