//! Gantry's own database: SQLite (WAL mode, the default) or PostgreSQL, chosen by the URL's
//! scheme, opened and migrated at start. The stores reach it through [`Db`]'s `Any` pool;
//! the session store needs the backend's own pool, opened here beside it.

use std::str::FromStr;
use std::time::Duration;

use gantry_app::db::{Backend, Db};
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Executor;

use gantry_app::auth::session_store::Sessions;

/// Each backend's migrations, compiled into the binary: forward only, one folder each.
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a statement waits for another writer's lock before it is refused with a 503
/// ("the database is busy"): SQLite's busy timeout, PostgreSQL's `lock_timeout`.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens (creating a SQLite file if needed) the database at `url`, applies pending
/// migrations, and returns it with the session store on the same database.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<(Db, Sessions)> {
    sqlx::any::install_default_drivers();
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        open_postgres(url, max_connections).await
    } else {
        open_sqlite(url, max_connections).await
    }
}

async fn open_sqlite(url: &str, max_connections: u32) -> anyhow::Result<(Db, Sessions)> {
    // The session store's pool creates the file and puts it in WAL mode, which lasts;
    // WAL lets page renders read while a write is in progress.
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode, and far cheaper than FULL.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(LOCK_WAIT)
        .foreign_keys(true);
    let sessions = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?;
    // The Any driver takes a URL only; the per-connection settings follow on connect.
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        LOCK_WAIT.as_millis()
    );
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(move |conn, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    SQLITE.run(&pool).await?;
    let sessions = Sessions::sqlite(sessions).await?;
    Ok((Db::new(pool, Backend::Sqlite), sessions))
}

async fn open_postgres(url: &str, max_connections: u32) -> anyhow::Result<(Db, Sessions)> {
    let lock_timeout = format!("{}ms", LOCK_WAIT.as_millis());
    let options = PgConnectOptions::from_str(url)?
        .options([("lock_timeout", lock_timeout.as_str())])
        .application_name("gantry");
    let sessions = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(LOCK_WAIT)
        .connect_with(options)
        .await?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(LOCK_WAIT)
        .after_connect(move |conn, _| {
            let set =
                format!("SET lock_timeout = '{lock_timeout}'; SET application_name = 'gantry'");
            Box::pin(async move {
                conn.execute(set.as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    POSTGRES.run(&pool).await?;
    let sessions = Sessions::postgres(sessions).await?;
    Ok((Db::new(pool, Backend::Postgres), sessions))
}

/// `url` with the password of its user part masked, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    match url[start..].split_once('@') {
        Some((user_info, rest)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{}{user}:***@{rest}", &url[..start])
        }
        _ => url.to_string(),
    }
}

/// Records this start and logs what the database remembers of earlier ones.
pub async fn record_start(db: &Db, version: &str) -> anyhow::Result<()> {
    let previous: Option<(String, String)> =
        sqlx::query_as("SELECT created_at, last_started_version FROM instance WHERE id = 1")
            .fetch_optional(db.pool())
            .await?;
    match previous {
        Some((created_at, last_version)) => {
            tracing::info!(%created_at, %last_version, version, "opened existing database")
        }
        None => tracing::info!(version, "created a new database"),
    }
    let now = gantry_app::time::now_rfc3339();
    sqlx::query(
        "INSERT INTO instance (id, created_at, last_started_version, last_started_at)
         VALUES (1, $1, $2, $1)
         ON CONFLICT (id) DO UPDATE SET
             last_started_version = excluded.last_started_version,
             last_started_at = excluded.last_started_at",
    )
    .bind(now)
    .bind(version)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Whether the database answers a trivial query within a second.
pub async fn ping(db: &Db) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_secs(1),
        sqlx::query("SELECT 1").execute(db.pool()),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("query failed: {e}")),
        Err(_) => Err("no answer within 1 s".into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            super::redacted("postgres://gantry:s3cret@db:5432/gantry"),
            "postgres://gantry:***@db:5432/gantry"
        );
        assert_eq!(
            super::redacted("postgres://db/gantry"),
            "postgres://db/gantry"
        );
        assert_eq!(
            super::redacted("sqlite://data/gantry.db"),
            "sqlite://data/gantry.db"
        );
    }
}
