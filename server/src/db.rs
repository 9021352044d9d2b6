//! Gantry's own database: opened in WAL mode, migrated at start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The migrations in `migrations/`, compiled into the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens (creating if needed) the SQLite database at `url` and applies pending migrations.
pub async fn open(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        // WAL lets page renders read while a write is in progress.
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode, and far cheaper than FULL.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Records this start and logs what the database remembers of earlier ones.
pub async fn record_start(pool: &SqlitePool, version: &str) -> anyhow::Result<()> {
    let previous: Option<(String, String)> =
        sqlx::query_as("SELECT created_at, last_started_version FROM instance WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    match previous {
        Some((created_at, last_version)) => {
            tracing::info!(%created_at, %last_version, version, "opened existing database")
        }
        None => tracing::info!(version, "created a new database"),
    }
    sqlx::query(
        "INSERT INTO instance (id, created_at, last_started_version, last_started_at)
         VALUES (1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         ON CONFLICT (id) DO UPDATE SET
             last_started_version = excluded.last_started_version,
             last_started_at = excluded.last_started_at",
    )
    .bind(version)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether the database answers a trivial query within a second.
pub async fn ping(pool: &SqlitePool) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_secs(1),
        sqlx::query("SELECT 1").execute(pool),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("query failed: {e}")),
        Err(_) => Err("no answer within 1 s".into()),
    }
}
