//! Connecting to the database and applying migrations.

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite") {
        if let Some(path) = sqlite_file(url)
            && let Some(parent) = std::path::Path::new(&path).parent()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", parent.display())))?;
        }
        // WAL lets readers go on while an import writes; NORMAL sync is safe under WAL.
        opts.max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
            });
    } else {
        // A request waits at most 5 s for a connection: while PostgreSQL restarts, or when
        // every connection is busy, it is answered 503 (to retry) rather than left hanging.
        opts.max_connections(10)
            .acquire_timeout(Duration::from_secs(5));
    }
    Database::connect(opts).await
}

fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Serialises writers of the published dataset: on PostgreSQL a transaction-scoped advisory
/// lock, so that two replicas publishing at once queue instead of computing versions from the
/// same base; SQLite already allows one writer at a time.
pub async fn lock_publication<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(720100)")
            .await?;
    } else {
        // A write as the transaction's first statement takes SQLite's write lock now (waiting
        // on the busy timeout), instead of failing later when a read transaction upgrades.
        txn.execute_unprepared("DELETE FROM dataset_versions WHERE 1 = 0")
            .await?;
    }
    Ok(())
}

/// Serialises writers of the scores, so that two runs (a replica's scheduled tick and an
/// administrator's manual run) never compare against the same previous scores at once.
pub async fn lock_scores<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(720101)")
            .await?;
    } else {
        txn.execute_unprepared("DELETE FROM score_runs WHERE 1 = 0")
            .await?;
    }
    Ok(())
}
