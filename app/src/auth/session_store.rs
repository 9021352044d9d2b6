//! The session store on Gantry's own database, whichever backend it is: tower-sessions'
//! SQLite or PostgreSQL store behind one type, which the session layer and `AppState` hold.
//! On PostgreSQL every replica reads the same sessions: a login on one is valid on all.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, Result};
use tower_sessions::SessionStore;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    /// The store on a SQLite pool, its table created if missing.
    pub async fn sqlite(pool: sqlx::SqlitePool) -> std::result::Result<Sessions, sqlx::Error> {
        let store = SqliteStore::new(pool);
        store.migrate().await?;
        Ok(Sessions::Sqlite(store))
    }

    /// The store on a PostgreSQL pool, its schema and table created if missing.
    pub async fn postgres(pool: sqlx::PgPool) -> std::result::Result<Sessions, sqlx::Error> {
        let store = PostgresStore::new(pool);
        store.migrate().await?;
        Ok(Sessions::Postgres(store))
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            Sessions::Sqlite(s) => s.create(record).await,
            Sessions::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            Sessions::Sqlite(s) => s.save(record).await,
            Sessions::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            Sessions::Sqlite(s) => s.load(id).await,
            Sessions::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete(id).await,
            Sessions::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete_expired().await,
            Sessions::Postgres(s) => s.delete_expired().await,
        }
    }
}
