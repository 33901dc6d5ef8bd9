use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("imports")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("kind"))
                .col(string("file_name"))
                .col(string("sha256"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(string("status"))
                .col(big_integer("rows_read"))
                .col(big_integer("rows_imported"))
                .col(big_integer("rows_rejected"))
                .col(text("report"))
                .col(integer_null("dataset_version"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("provenances")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("source"))
                .col(string_null("millesime"))
                .col(big_integer_null("import_id"))
                .col(big_integer_null("submission_id"))
                .col(timestamp_with_time_zone("recorded_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("dataset_versions")
                .if_not_exists()
                .col(integer("version").primary_key())
                .col(timestamp_with_time_zone("created_at"))
                .col(string("kind"))
                .col(text("summary"))
                .col(big_integer_null("import_id"))
                .col(big_integer("schools_created"))
                .col(big_integer("schools_changed"))
                .col(big_integer("values_changed"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("schools")
                .if_not_exists()
                .col(string("uai").primary_key())
                .col(text("name"))
                .col(text("name_folded"))
                .col(string_null("type_etablissement"))
                .col(string_null("secteur"))
                .col(string_null("etat"))
                .col(string_null("code_commune"))
                .col(string_null("code_departement"))
                .col(string_null("code_academie"))
                .col(string_null("code_region"))
                .col(double_null("latitude"))
                .col(double_null("longitude"))
                .col(integer("version"))
                .col(integer("created_version"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("school_revisions")
                .if_not_exists()
                .col(string("uai"))
                .col(integer("version"))
                .col(text("data"))
                .col(text("changes"))
                .primary_key(Index::create().col("uai").col("version"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("observations")
                .if_not_exists()
                .col(string("uai"))
                .col(string("source"))
                .col(string("millesime"))
                .col(big_integer("import_id"))
                .col(text("data"))
                .primary_key(Index::create().col("uai").col("source").col("millesime"))
                .to_owned(),
        )
        .await?;
        for (name, table, cols) in [
            (
                "idx_schools_departement",
                "schools",
                &["code_departement"][..],
            ),
            ("idx_schools_academie", "schools", &["code_academie"][..]),
            ("idx_schools_region", "schools", &["code_region"][..]),
            ("idx_schools_commune", "schools", &["code_commune"][..]),
            (
                "idx_schools_type_secteur",
                "schools",
                &["type_etablissement", "secteur"][..],
            ),
            (
                "idx_school_revisions_version",
                "school_revisions",
                &["version"][..],
            ),
        ] {
            let mut idx = Index::create().name(name).table(table).to_owned();
            for c in cols {
                idx.col(*c);
            }
            m.create_index(idx).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "observations",
            "school_revisions",
            "schools",
            "dataset_versions",
            "provenances",
            "imports",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
