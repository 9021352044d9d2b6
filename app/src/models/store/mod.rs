//! The registry's and the tracking server's tables (`migrations/*/20261204170000_models.sql`):
//! experiments, runs with their params, tags, metrics, inputs and outputs, logged models,
//! registered models with their versions, tags and aliases.
//!
//! Writes the client repeats (it retries them) are idempotent here: a repeated metric point
//! or tag is the same row. Names are unique across namespaces, as MLflow's API looks them up
//! by name alone.
//!
//! Here: the rows, and SQL built for many values at once; each table group's statements are
//! in `experiments`, `runs`, `metrics`, `logged_models` and `registry`.

use std::collections::HashMap;

use super::filter::Narrowing;
use super::wire::{KeyValue, Metric, ModelOutput};
use crate::auth::rules::Namespaces;
use crate::db::{failed, Conn, Db};
use crate::error::AppError;

mod experiments;
mod logged_models;
mod metrics;
mod registry;
mod runs;

pub use experiments::*;
pub use logged_models::*;
pub use metrics::*;
pub use registry::*;
pub use runs::*;

/// The most rows one listing reads: the client pages past it with `page_token`.
pub const MAX_PAGE: i64 = 1000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExperimentRow {
    pub id: i64,
    pub name: String,
    pub namespace: String,
    pub lifecycle_stage: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An experiment as the Experiments list shows it: with its active runs' count and when the
/// newest of them started.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExperimentListed {
    pub id: i64,
    pub name: String,
    pub namespace: String,
    pub runs: i64,
    pub last_run_ms: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: String,
    pub experiment_id: i64,
    pub name: String,
    pub user_id: String,
    pub status: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub lifecycle_stage: String,
    pub namespace: String,
    /// The Job it tracks (in `namespace`), for a run Gantry created at a job's launch.
    pub job_name: Option<String>,
    pub job_uid: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoggedModelRow {
    pub id: String,
    pub experiment_id: i64,
    pub name: String,
    pub source_run_id: Option<String>,
    pub status: String,
    pub model_type: String,
    pub params: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub namespace: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegisteredRow {
    pub id: i64,
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub model: i64,
    pub name: String,
    pub namespace: String,
    pub version: i64,
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    pub logged_model_id: String,
    pub description: String,
    pub stage: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub created_by: String,
}

fn taken(what: String) -> impl FnOnce(sqlx::Error) -> AppError {
    move |e| match e {
        sqlx::Error::Database(ref d) if d.is_unique_violation() => AppError::Conflict {
            reason: format!("{what} already exists"),
        },
        e => failed("saving to the registry", e),
    }
}

// ---- SQL built for many rows or values at once

/// A WHERE clause for `narrowing` on the `columns` it names (field → column) within
/// `namespaces`, and its values; `None` when no namespace is allowed.
fn narrowed(
    namespace_column: &str,
    namespaces: &Namespaces,
    narrowing: &[Narrowing<'_>],
    columns: &[(&str, &str)],
) -> Option<(String, Vec<String>)> {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut binds: Vec<String> = Vec::new();
    if let Namespaces::Only(names) = namespaces {
        if names.is_empty() {
            return None;
        }
        let first = binds.len() + 1;
        let list: Vec<String> = (first..first + names.len())
            .map(|i| format!("${i}"))
            .collect();
        clauses.push(format!("{namespace_column} IN ({})", list.join(", ")));
        binds.extend(names.iter().cloned());
    }
    for n in narrowing {
        let Some((_, column)) = columns.iter().find(|(field, _)| *field == n.field) else {
            continue;
        };
        binds.push(n.value.to_string());
        let at = binds.len();
        clauses.push(if n.exact {
            format!("{column} = ${at}")
        } else {
            format!("LOWER({column}) LIKE LOWER(${at})")
        });
    }
    Some((clauses.join(" AND "), binds))
}

/// The values of `rows` rows of `columns` each, for a multi-row INSERT on `conn`:
/// `($1, $2), ($3, $4)` on PostgreSQL, which takes only numbered ones, and `(?, ?), (?, ?)` on
/// SQLite. There sqlx finds each numbered value by its name, a linear search of the
/// statement's names: a log-batch's 700 values a statement spent a sixth of its time in it.
fn placeholders(conn: &Conn, rows: usize, columns: usize) -> String {
    values(conn.backend_name() != "SQLite", rows, columns)
}

fn values(numbered: bool, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| match numbered {
                    true => format!("${}", r * columns + c),
                    false => "?".to_string(),
                })
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Models per `IN (…)` list: far under both backends' limits on parameters.
const MODELS_PER_STATEMENT: usize = 500;

/// Runs `sql` (whose `{}` is an `IN (…)` list) for `models`, a chunk at a time.
async fn of_models<T>(
    db: &Db,
    models: &[i64],
    sql: impl Fn(&str) -> String,
    context: &str,
) -> Result<Vec<T>, AppError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut rows = Vec::new();
    for chunk in models.chunks(MODELS_PER_STATEMENT) {
        let sql = sql(&crate::db::in_list(chunk.len()));
        let mut query = sqlx::query_as::<_, T>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(
            query
                .fetch_all(db.pool())
                .await
                .map_err(|e| failed(context, e))?,
        );
    }
    Ok(rows)
}

/// `(key, value)` rows of one owner, as MLflow's `[{key, value}]`.
async fn pairs<'a, T>(db: &Db, sql: &'a str, id: T) -> Result<Vec<KeyValue>, AppError>
where
    T: 'a + Send + sqlx::Encode<'a, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(id)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading tags", e))?;
    Ok(rows
        .into_iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect())
}

/// What a page of runs shows of each (`tracking::runs::runs_json`), read for all of them in
/// one statement per table: `sql` reads rows `R` of the runs bound as `$1…$n` where it says
/// `{runs}`, and `split` names each row's run. Rows come back per run, in the statement's
/// order.
async fn of_runs<R, T>(
    db: &Db,
    (sql, doing): (&str, &'static str),
    runs: &[&str],
    split: impl Fn(R) -> (String, T),
) -> Result<HashMap<String, Vec<T>>, AppError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    if runs.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = sql.replace("{runs}", &crate::db::in_list_from(1, runs.len()));
    let mut query = sqlx::query_as::<_, R>(&sql);
    for run in runs {
        query = query.bind(*run);
    }
    let rows = query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed(doing, e))?;
    let mut by_run: HashMap<String, Vec<T>> = HashMap::new();
    for row in rows {
        let (run, value) = split(row);
        by_run.entry(run).or_default().push(value);
    }
    Ok(by_run)
}

/// A table of tags, `key → value` per owner: its upsert and what a failure says.
#[derive(Debug, Clone, Copy)]
pub struct TagTable {
    upsert: &'static str,
    doing: &'static str,
}

/// The tag table `table` of owners `owner`: its upsert, written once for all four.
macro_rules! tag_table {
    ($table:literal, $owner:literal, $doing:literal) => {
        TagTable {
            upsert: concat!(
                "INSERT INTO ",
                $table,
                " (",
                $owner,
                ", key, value) VALUES ($1, $2, $3) ",
                "ON CONFLICT (",
                $owner,
                ", key) DO UPDATE SET value = excluded.value"
            ),
            doing: $doing,
        }
    };
}

pub const EXPERIMENT_TAGS: TagTable = tag_table!(
    "mlflow_experiment_tags",
    "experiment_id",
    "tagging an experiment"
);
pub const RUN_TAGS: TagTable = tag_table!("mlflow_run_tags", "run_id", "tagging a run");
pub const LOGGED_MODEL_TAGS: TagTable = tag_table!(
    "mlflow_logged_model_tags",
    "model_id",
    "tagging a logged model"
);
pub const REGISTERED_TAGS: TagTable = tag_table!(
    "mlflow_registered_model_tags",
    "model",
    "tagging a registered model"
);

/// Sets `key` to `value` on `owner` in `tags`, replacing what was there: the client retries
/// tag writes, and MLflow's tags are last-writer-wins.
pub async fn upsert_tag<'a, T>(
    conn: &mut Conn,
    tags: TagTable,
    owner: T,
    key: &'a str,
    value: &'a str,
) -> Result<(), AppError>
where
    T: 'a + Send + sqlx::Encode<'a, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    sqlx::query(tags.upsert)
        .bind(owner)
        .bind(key)
        .bind(value)
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| failed(tags.doing, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value_once_or_none() {
        assert_eq!(super::values(true, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values(false, 2, 2), "(?, ?), (?, ?)");
    }
}
