//! Gantry's own database, on whichever backend the suite runs (SQLite, or PostgreSQL beside
//! `tools/postgres/with-postgres.sh`): an upgrade from the previous schema keeps what was
//! stored, and two processes on one database serve the same sessions.

use std::path::PathBuf;

use crate::common::database::{on_postgres, TestDb};
use crate::common::server::{assert_contains, TestServer};

/// This backend's migrations folder, as compiled into the binary.
fn migrations() -> PathBuf {
    let backend = if on_postgres() { "postgres" } else { "sqlite" };
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../migrations/{backend}"))
}

/// A database at the previous schema (every migration but the newest; on a backend with
/// one migration, the empty database), with rows in it, upgraded by starting Gantry: the
/// rows stay, the newest migration is applied, and the server works on it.
#[test]
fn an_upgrade_from_the_previous_schema_keeps_what_was_stored() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(migrations())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().contains(".down.")),
        "migrations are forward only"
    );
    let previous = tempfile::tempdir().unwrap();
    for file in &files[..files.len() - 1] {
        std::fs::copy(file, previous.path().join(file.file_name().unwrap())).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let url = crate::common::database::url_for(data.path());
    if !on_postgres() {
        std::fs::File::create(data.path().join("gantry.db")).unwrap();
    }
    let db = TestDb::open(&url);
    let migrator = db
        .block_on(sqlx::migrate::Migrator::new(previous.path()))
        .unwrap();
    db.block_on(migrator.run(db.pool())).unwrap();
    let at_previous = files.len() > 1;
    if at_previous {
        db.execute(
            "INSERT INTO jobs (uid, namespace, name, created_at, status, deleted_at) \
             VALUES ('before-upgrade', 'team-a', 'train', '2026-11-30T10:00:00Z', 'Succeeded', \
                     '2026-11-30T11:00:00Z')",
        );
        db.execute(
            "INSERT INTO audit_log (at, actor, action, object, detail, result, client) \
             VALUES ('2026-11-30T10:00:00Z', 'alice', 'job.launch', 'job/team-a/train', '', 'ok', '-')",
        );
    }

    let dir = data.path().to_str().unwrap().to_string();
    let mut server = TestServer::spawn_with(&[("GANTRY_DATA_DIR", &dir)]);
    let admin = server.login();
    let applied = db.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE success");
    assert_eq!(applied, files.len() as i64, "every migration applied");
    if at_previous {
        assert_eq!(
            db.texts("SELECT status FROM jobs WHERE uid = 'before-upgrade'"),
            ["Succeeded"]
        );
        let audit = server.request("GET", "/admin/audit.csv", "", &[("Cookie", &admin)]);
        assert_contains(&audit.body, "job/team-a/train");
    }
    db.close();
    server.stop();
}

/// Two Gantry processes on one database, as two replicas behind a Service: a session made
/// on one is valid on the other, and a logout on either ends it on both.
#[test]
fn two_processes_on_one_database_share_sessions() {
    let first = TestServer::spawn();
    let mut second = TestServer::spawn_with(&[("GANTRY_DATABASE_URL", &first.database_url)]);
    let cookie = first.login();
    let audit = second.request("GET", "/admin/audit.csv", "", &[("Cookie", &cookie)]);
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_contains(&audit.body, "login");

    let origin = second.base.clone();
    let logout = second.request(
        "POST",
        "/api/logout",
        "",
        &[("Cookie", &cookie), ("Origin", &origin)],
    );
    assert_eq!(logout.status, 200, "{}", logout.body);
    let after = first.request("GET", "/admin/audit.csv", "", &[("Cookie", &cookie)]);
    assert_ne!(
        after.status, 200,
        "a session ended on one replica lives on the other"
    );
    second.stop();
}
