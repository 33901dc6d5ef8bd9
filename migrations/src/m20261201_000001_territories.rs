use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("regions")
                .if_not_exists()
                .col(string("code").primary_key())
                .col(string("name"))
                .col(string("zone"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("academies")
                .if_not_exists()
                .col(string("code").primary_key())
                .col(string("name"))
                .col(string("region_code"))
                .col(string("kind"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("departements")
                .if_not_exists()
                .col(string("code").primary_key())
                .col(string("code_men"))
                .col(string("name"))
                .col(string("region_code"))
                .col(string_null("academie_code"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("epcis")
                .if_not_exists()
                .col(string("siren").primary_key())
                .col(string("name"))
                .col(string("kind"))
                .col(big_integer_null("population"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("communes")
                .if_not_exists()
                .col(string("code").primary_key())
                .col(string("name"))
                .col(string("name_folded"))
                .col(string("kind"))
                .col(string("departement_code"))
                .col(string("region_code"))
                .col(string_null("siren"))
                .col(big_integer_null("population"))
                .col(string_null("epci_siren"))
                .col(string_null("parent_code"))
                .col(string("postal_codes"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("commune_former_codes")
                .if_not_exists()
                .col(string("code").primary_key())
                .col(string("current_code"))
                .to_owned(),
        )
        .await?;
        for (name, table, col) in [
            ("idx_communes_departement", "communes", "departement_code"),
            ("idx_communes_epci", "communes", "epci_siren"),
            ("idx_departements_academie", "departements", "academie_code"),
            ("idx_departements_region", "departements", "region_code"),
        ] {
            m.create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "commune_former_codes",
            "communes",
            "epcis",
            "departements",
            "academies",
            "regions",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
