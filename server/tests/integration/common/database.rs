//! The database of a test server. SQLite in its data directory by default; when the suite
//! runs beside PostgreSQL (`tools/postgres/with-postgres.sh` sets GANTRY_TEST_POSTGRES_URL),
//! a database of its own on that server, named after the data directory so that a server
//! restarted on the same directory finds the same database.

use std::path::Path;

use sqlx::{Connection, Executor};

/// The database URL for a server whose data directory is `data`, created if it is new.
pub fn url_for(data: &Path) -> String {
    let Ok(server) = std::env::var("GANTRY_TEST_POSTGRES_URL") else {
        return format!("sqlite://{}", data.join("gantry.db").display());
    };
    // Temporary directories' names are unique on the machine; hex keeps them a valid name.
    let name: String = data
        .file_name()
        .unwrap()
        .as_encoded_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("gantry_{name}");
    // On a thread of its own: servers are started from async tests too, where blocking on
    // a runtime is refused.
    let (admin_url, database) = (server.clone(), name.clone());
    std::thread::spawn(move || create_if_missing(&admin_url, &database))
        .join()
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn create_if_missing(server: &str, name: &str) {
    runtime().block_on(async {
        let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut admin)
                .await
                .unwrap();
        if exists.is_none() {
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
        }
    });
}

/// Whether the suite runs on PostgreSQL (else on SQLite).
pub fn on_postgres() -> bool {
    std::env::var_os("GANTRY_TEST_POSTGRES_URL").is_some()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A connection pool on a test server's database, for the checks and the setup that a
/// test makes behind the server's back. Statements are written for both backends.
pub struct TestDb {
    runtime: tokio::runtime::Runtime,
    pool: sqlx::AnyPool,
}

impl TestDb {
    pub fn open(url: &str) -> TestDb {
        sqlx::any::install_default_drivers();
        let runtime = runtime();
        let pool = runtime.block_on(sqlx::AnyPool::connect(url)).unwrap();
        TestDb { runtime, pool }
    }

    pub fn execute(&self, statement: &str) {
        self.runtime
            .block_on(sqlx::raw_sql(statement).execute(&self.pool))
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// The one number `query` returns (a count).
    pub fn count(&self, query: &str) -> i64 {
        self.runtime
            .block_on(sqlx::query_scalar(query).fetch_one(&self.pool))
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// The text column of every row `query` returns.
    pub fn texts(&self, query: &str) -> Vec<String> {
        self.runtime
            .block_on(sqlx::query_scalar(query).fetch_all(&self.pool))
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// Runs `work` with a connection of its own, inside this pool's runtime (to hold a
    /// lock while the server is asked for something).
    pub fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.pool
    }

    pub fn close(self) {
        self.runtime.block_on(self.pool.close());
    }
}
