//! Gantry's database, behind one handle: the storage seam (server only).
//!
//! Areas hold a [`Db`] and hand it to their stores; only the stores write SQL, each for its
//! own tables: `jobs/store.rs`, `models/store/`, `auth/accounts.rs`, `auth/token_store.rs`, `audit/store.rs`
//! (and the server's `db.rs` for its start records). `make lint` checks that no other module
//! runs a query.
//!
//! Two backends, SQLite and PostgreSQL, through sqlx's `Any` driver: the stores write one
//! statement for both (`$1` placeholders, which SQLite reads too; no dialect functions), and
//! the few places where the two differ ask [`Db::backend`].

use sqlx::AnyPool;

/// Which database a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// The connection a store's statement runs on inside a [`Tx`].
pub type Conn = sqlx::AnyConnection;

impl Db {
    /// A handle on an opened, migrated database.
    pub fn new(pool: AnyPool, backend: Backend) -> Db {
        Db { pool, backend }
    }

    /// The pool, for the stores.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// A transaction: a change and its audit row commit together, or neither does (dropped
/// without [`Tx::commit`], it rolls back).
pub struct Tx(sqlx::Transaction<'static, sqlx::Any>);

impl Db {
    /// Starts a transaction (on SQLite deferred: the write lock is taken at its first write).
    pub async fn begin(&self) -> Result<Tx, crate::error::AppError> {
        self.pool
            .begin()
            .await
            .map(Tx)
            .map_err(|e| failed("starting a transaction", e))
    }
}

impl Tx {
    /// The transaction's connection, for the stores' statements.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.0
    }

    pub async fn commit(self) -> Result<(), crate::error::AppError> {
        self.0
            .commit()
            .await
            .map_err(|e| failed("committing a change", e))
    }
}

/// `$1, $2, …, $n`, for an `IN (…)` list (both backends read `$n`).
pub fn in_list(n: usize) -> String {
    in_list_from(1, n)
}

/// `$first, …` for `n` values: a second `IN (…)` list after `first - 1` placeholders.
pub fn in_list_from(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a 503 from [`failed`] names the database (`AppError::Unavailable::service`).
pub const SERVICE: &str = "the database";

/// A failed statement as the user hears of it: a database that is busy, locked, full,
/// failing its disk or out of reach is a 503 naming that (the change was not made; trying
/// again later may work), anything else an internal error with a reference.
pub fn failed(context: &str, error: sqlx::Error) -> crate::error::AppError {
    let reason = match &error {
        sqlx::Error::Database(e) => match e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            Some(pg) => postgres_reason(pg.code()),
            None => e
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .and_then(sqlite_reason),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            Some("the database did not answer")
        }
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

/// SQLite's primary result codes (the low byte of an extended one) that mean "not now".
fn sqlite_reason(code: i32) -> Option<&'static str> {
    match code & 0xff {
        5 => Some("the database is busy"),
        6 => Some("the database is locked"),
        10 => Some("the database's disk failed"),
        13 => Some("the database's disk is full"),
        _ => None,
    }
}

/// PostgreSQL's SQLSTATEs that mean "not now": a lock not granted within `lock_timeout`,
/// a transaction that lost a conflict, a server out of room or shutting down.
fn postgres_reason(sqlstate: &str) -> Option<&'static str> {
    match sqlstate {
        "55P03" | "40001" | "40P01" => Some("the database is busy"),
        "53100" => Some("the database's disk is full"),
        "53200" | "53300" => Some("the database is out of resources"),
        "57P01" | "57P02" | "57P03" => Some("the database is shutting down"),
        s if s.starts_with("08") => Some("the database did not answer"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_list_numbers_every_value_once() {
        assert_eq!(in_list(3), "$1, $2, $3");
        assert_eq!(in_list_from(4, 2), "$4, $5");
    }

    #[test]
    fn only_transient_failures_are_unavailable() {
        assert_eq!(sqlite_reason(5 | (3 << 8)), Some("the database is busy"));
        assert_eq!(
            sqlite_reason(19),
            None,
            "a constraint is the caller's or a bug"
        );
        assert_eq!(postgres_reason("55P03"), Some("the database is busy"));
        assert_eq!(
            postgres_reason("08006"),
            Some("the database did not answer")
        );
        assert_eq!(
            postgres_reason("23505"),
            None,
            "a unique violation is a conflict"
        );
    }
}
