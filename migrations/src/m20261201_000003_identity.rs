use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("organisations")
                .if_not_exists()
                .col(big_pk_auto("id"))
                // Several organisations may still await their SIREN (NULLs never collide).
                .col(string_null("siren").unique_key())
                .col(string("kind"))
                .col(string("name"))
                .col(string("territory_level"))
                .col(string("territory_code"))
                .col(boolean("school_competence").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("users")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("email").unique_key())
                .col(string_null("display_name"))
                .col(big_integer_null("organisation_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("last_login_at"))
                .col(boolean("disabled").default(false))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("user_roles")
                .if_not_exists()
                .col(big_integer("user_id"))
                .col(string("role"))
                .primary_key(Index::create().col("user_id").col("role"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("moderator_territories")
                .if_not_exists()
                .col(big_integer("user_id"))
                .col(string("level"))
                .col(string("code"))
                .primary_key(Index::create().col("user_id").col("level").col("code"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("external_identities")
                .if_not_exists()
                .col(string("provider"))
                .col(string("subject"))
                .col(big_integer("user_id"))
                .col(string_null("siret"))
                .primary_key(Index::create().col("provider").col("subject"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("competences")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("organisation_id"))
                .col(string("effect"))
                .col(string("school_types"))
                .col(string_null("secteur"))
                .col(string("territory_level"))
                .col(string("territory_code"))
                .col(string("origin"))
                .col(big_integer_null("delegated_by"))
                .col(timestamp_with_time_zone_null("valid_from"))
                .col(timestamp_with_time_zone_null("valid_until"))
                .col(text("reason"))
                .col(timestamp_with_time_zone("created_at"))
                .col(big_integer_null("created_by"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("sessions")
                .if_not_exists()
                .col(string("id_hash").primary_key())
                .col(big_integer("user_id"))
                .col(string("csrf_token"))
                .col(string("method"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("login_tokens")
                .if_not_exists()
                .col(string("token_hash").primary_key())
                .col(string("email"))
                .col(string("purpose"))
                .col(string_null("return_to"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("api_tokens")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("user_id"))
                .col(string("name"))
                .col(string("token_hash").unique_key())
                .col(string("prefix"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("access_requests")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(big_integer("user_id"))
                .col(string("siret"))
                .col(text("message"))
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .col(big_integer_null("decided_by"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(text_null("decision_reason"))
                .col(big_integer_null("organisation_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("audit_log")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(big_integer_null("actor_user_id"))
                .col(string("event"))
                .col(text_null("subject"))
                .col(text("detail"))
                .col(string_null("ip"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("rate_events")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("key"))
                .col(timestamp_with_time_zone("at"))
                .to_owned(),
        )
        .await?;
        for (name, table, cols) in [
            (
                "idx_competences_org",
                "competences",
                &["organisation_id"][..],
            ),
            ("idx_sessions_user", "sessions", &["user_id"][..]),
            ("idx_api_tokens_user", "api_tokens", &["user_id"][..]),
            ("idx_rate_events_key", "rate_events", &["key", "at"][..]),
            ("idx_audit_log_at", "audit_log", &["at"][..]),
            (
                "idx_access_requests_status",
                "access_requests",
                &["status"][..],
            ),
        ] {
            let mut idx = Index::create().name(name).table(table).to_owned();
            for c in cols {
                idx.col(*c);
            }
            m.create_index(idx).await?;
        }
        // The audit log is append-only in the database itself, not only by convention.
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
                     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
                )
                .await?;
            }
            _ => {
                for op in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER audit_log_no_{} BEFORE {op} ON audit_log \
                         BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
                        op.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "rate_events",
            "audit_log",
            "access_requests",
            "api_tokens",
            "login_tokens",
            "sessions",
            "competences",
            "external_identities",
            "moderator_territories",
            "user_roles",
            "users",
            "organisations",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_log_append_only()")
                .await?;
        }
        Ok(())
    }
}
