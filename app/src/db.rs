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
