use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The record's `presence_annuaire` copied beside it, so that lists, exports and scores
        // keep to the official list (the annuaire's schools) in the query. Records published
        // before this column have no presence: the next import of the annuaire gives it.
        m.alter_table(
            Table::alter()
                .table("schools")
                .add_column(string_null("presence_annuaire"))
                .to_owned(),
        )
        .await?;
        // How a source wrote the coded values it wrote otherwise than the catalogue
        // (`50OuPlus` for `50_plus`), and the codes no spelling matches: kept, never dropped.
        m.alter_table(
            Table::alter()
                .table("observations")
                .add_column(text_null("raw"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("observations")
                .drop_column("raw")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("schools")
                .drop_column("presence_annuaire")
                .to_owned(),
        )
        .await
    }
}
