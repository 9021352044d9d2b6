//! Gantry's database, behind one handle: the storage seam (server only).
//!
//! Areas hold a [`Db`] and hand it to their stores; only the stores write SQL, each for its
//! own tables: `jobs/store.rs`, `auth/accounts.rs`, `auth/token_store.rs`, `audit/store.rs`
//! (and the server's `db.rs` for its start records). `make lint` checks that no other module
//! runs a query. A second backend (PostgreSQL) therefore changes this type and the stores,
//! never the areas.

use sqlx::SqlitePool;

/// The database handle: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// A handle on an opened, migrated SQLite database.
    pub fn sqlite(pool: SqlitePool) -> Db {
        Db { pool }
    }

    /// The SQLite pool, for the stores and the session store.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A transaction: a change and its audit row commit together, or neither does (dropped
/// without [`Tx::commit`], it rolls back).
pub struct Tx(sqlx::Transaction<'static, sqlx::Sqlite>);

impl Db {
    /// Starts a transaction (deferred: the write lock is taken at its first write).
    pub async fn begin(&self) -> Result<Tx, crate::error::AppError> {
        self.pool
            .begin()
            .await
            .map(Tx)
            .map_err(|e| crate::error::AppError::internal("starting a transaction", e))
    }
}

impl Tx {
    /// The transaction's connection, for the stores' statements.
    pub fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.0
    }

    pub async fn commit(self) -> Result<(), crate::error::AppError> {
        self.0
            .commit()
            .await
            .map_err(|e| crate::error::AppError::internal("committing a change", e))
    }
}

/// How a 503 from [`failed`] names the database (`AppError::Unavailable::service`).
pub const SERVICE: &str = "the database";

/// A failed statement as the user hears of it: a database that is busy, locked, full or
/// failing its disk is a 503 naming that (the change was not made; trying again later may
/// work), anything else an internal error with a reference.
pub fn failed(context: &str, error: sqlx::Error) -> crate::error::AppError {
    let code = match &error {
        sqlx::Error::Database(e) => e.code().and_then(|c| c.parse::<i32>().ok()),
        _ => None,
    };
    // SQLite's primary result codes (the low byte of an extended one).
    let reason = match code.map(|c| c & 0xff) {
        Some(5) => Some("the database is busy"),
        Some(6) => Some("the database is locked"),
        Some(10) => Some("the database's disk failed"),
        Some(13) => Some("the database's disk is full"),
        _ => None,
    };
    match reason {
        Some(reason) => {
            tracing::warn!(%error, context, "database unavailable");
            crate::error::AppError::unavailable(
                SERVICE,
                format!("{reason} while {context}; nothing was changed, try again"),
            )
        }
        None => crate::error::AppError::internal(context, error),
    }
}
