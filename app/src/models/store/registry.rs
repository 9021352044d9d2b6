//! The registry tables: registered models, versions, tags and aliases.

use super::*;

// ---- registered models

const REGISTERED: &str = "SELECT id, name, namespace, description, created_ms, updated_ms, \
     created_by FROM mlflow_registered_models";

pub async fn registered(db: &Db, name: &str) -> Result<Option<RegisteredRow>, AppError> {
    sqlx::query_as(&format!("{REGISTERED} WHERE name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading a registered model", e))
}

/// The registered models in `namespaces` that may match `narrowing` (a superset: the caller
/// applies the filter exactly), by name.
pub async fn registered_matching(
    db: &Db,
    namespaces: &Namespaces,
    narrowing: &[Narrowing<'_>],
) -> Result<Vec<RegisteredRow>, AppError> {
    let columns = [("name", "name")];
    let Some((clause, binds)) = narrowed("namespace", namespaces, narrowing, &columns) else {
        return Ok(Vec::new());
    };
    let sql = format!("{REGISTERED} WHERE {clause} ORDER BY name");
    let mut query = sqlx::query_as(&sql);
    for value in binds {
        query = query.bind(value);
    }
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("searching registered models", e))
}

pub async fn create_registered(
    conn: &mut Conn,
    name: &str,
    namespace: &str,
    description: &str,
    tags: &[KeyValue],
    by: &str,
    now: i64,
) -> Result<i64, AppError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mlflow_registered_models \
         (name, namespace, description, created_ms, updated_ms, created_by) \
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(namespace)
    .bind(description)
    .bind(now)
    .bind(by)
    .fetch_one(&mut *conn)
    .await
    .map_err(taken(format!("Registered Model (name={name})")))?;
    for tag in tags {
        super::upsert_tag(conn, super::REGISTERED_TAGS, id, &tag.key, &tag.value).await?;
    }
    Ok(id)
}

pub async fn update_registered(
    conn: &mut Conn,
    id: i64,
    description: Option<&str>,
    new_name: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_registered_models SET description = COALESCE($2, description), \
         name = COALESCE($3, name), updated_ms = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(description)
    .bind(new_name)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(taken(format!(
        "Registered Model (name={})",
        new_name.unwrap_or_default()
    )))
}

/// Deletes the model with its versions, tags and aliases.
pub async fn delete_registered(conn: &mut Conn, id: i64) -> Result<(), AppError> {
    for sql in [
        "DELETE FROM mlflow_aliases WHERE model = $1",
        "DELETE FROM mlflow_model_version_tags WHERE model = $1",
        "DELETE FROM mlflow_model_versions WHERE model = $1",
        "DELETE FROM mlflow_registered_model_tags WHERE model = $1",
        "DELETE FROM mlflow_registered_models WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(|e| failed("deleting a registered model", e))?;
    }
    Ok(())
}

pub async fn delete_registered_tag(conn: &mut Conn, id: i64, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM mlflow_registered_model_tags WHERE model = $1 AND key = $2")
        .bind(id)
        .bind(key)
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| failed("untagging a registered model", e))
}

pub async fn registered_tags(db: &Db, id: i64) -> Result<Vec<KeyValue>, AppError> {
    pairs(
        db,
        "SELECT key, value FROM mlflow_registered_model_tags WHERE model = $1 ORDER BY key",
        id,
    )
    .await
}

// ---- versions

const VERSION: &str = "SELECT v.model, m.name, m.namespace, v.version, v.source, v.run_id, \
     v.run_link, v.logged_model_id, v.description, v.stage, v.created_ms, v.updated_ms, \
     v.created_by FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model";

/// Adds version `highest stored + 1` of `model`, and answers its number.
pub async fn create_version(conn: &mut Conn, v: &VersionRow) -> Result<i64, AppError> {
    // Touching the model first locks its row (PostgreSQL) or takes the write lock (SQLite)
    // until the transaction ends, so concurrent registrations of one model queue here; the
    // next one's MAX(version), read in a fresh statement, then sees the number before it.
    sqlx::query("UPDATE mlflow_registered_models SET updated_ms = $2 WHERE id = $1")
        .bind(v.model)
        .bind(v.created_ms)
        .execute(&mut *conn)
        .await
        .map_err(|e| failed("registering a version", e))?;
    sqlx::query_scalar(
        "INSERT INTO mlflow_model_versions (model, version, source, run_id, run_link, \
         logged_model_id, description, created_ms, updated_ms, created_by) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $7, $8 \
         FROM mlflow_model_versions WHERE model = $1 RETURNING version",
    )
    .bind(v.model)
    .bind(&v.source)
    .bind(&v.run_id)
    .bind(&v.run_link)
    .bind(&v.logged_model_id)
    .bind(&v.description)
    .bind(v.created_ms)
    .bind(&v.created_by)
    .fetch_one(conn)
    .await
    .map_err(taken(format!("the next version of {}", v.name)))
}

pub async fn version(db: &Db, model: i64, version: i64) -> Result<Option<VersionRow>, AppError> {
    sqlx::query_as(&format!("{VERSION} WHERE v.model = $1 AND v.version = $2"))
        .bind(model)
        .bind(version)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| failed("reading a model version", e))
}

/// The versions of `model`, newest first.
pub async fn versions(db: &Db, model: i64) -> Result<Vec<VersionRow>, AppError> {
    sqlx::query_as(&format!(
        "{VERSION} WHERE v.model = $1 ORDER BY v.version DESC"
    ))
    .bind(model)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("listing model versions", e))
}

/// The newest `limit` versions of `model`, newest first.
pub async fn newest_versions(db: &Db, model: i64, limit: i64) -> Result<Vec<VersionRow>, AppError> {
    sqlx::query_as(&format!(
        "{VERSION} WHERE v.model = $1 ORDER BY v.version DESC LIMIT $2"
    ))
    .bind(model)
    .bind(limit)
    .fetch_all(db.pool())
    .await
    .map_err(|e| failed("listing model versions", e))
}

/// The versions in `namespaces` that may match `narrowing` (a superset: the caller applies
/// the filter exactly), by model name and newest first.
pub async fn versions_matching(
    db: &Db,
    namespaces: &Namespaces,
    narrowing: &[Narrowing<'_>],
) -> Result<Vec<VersionRow>, AppError> {
    let columns = [
        ("name", "m.name"),
        ("run_id", "v.run_id"),
        ("source", "v.source"),
        ("source_path", "v.source"),
    ];
    let Some((clause, binds)) = narrowed("m.namespace", namespaces, narrowing, &columns) else {
        return Ok(Vec::new());
    };
    let sql = format!("{VERSION} WHERE {clause} ORDER BY m.name, v.version DESC");
    let mut query = sqlx::query_as(&sql);
    for value in binds {
        query = query.bind(value);
    }
    query
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("searching model versions", e))
}

pub async fn update_version(
    conn: &mut Conn,
    model: i64,
    version: i64,
    description: Option<&str>,
    stage: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_model_versions SET description = COALESCE($3, description), \
         stage = COALESCE($4, stage), updated_ms = $5 WHERE model = $1 AND version = $2",
    )
    .bind(model)
    .bind(version)
    .bind(description)
    .bind(stage)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("updating a model version", e))
}

/// Moves every other version of `model` in `stage` to Archived.
pub async fn archive_others(
    conn: &mut Conn,
    model: i64,
    version: i64,
    stage: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE mlflow_model_versions SET stage = 'Archived', updated_ms = $4 \
         WHERE model = $1 AND version <> $2 AND stage = $3",
    )
    .bind(model)
    .bind(version)
    .bind(stage)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("archiving model versions", e))
}

/// Deletes a version with its tags and the aliases that point at it.
pub async fn delete_version(conn: &mut Conn, model: i64, version: i64) -> Result<(), AppError> {
    for sql in [
        "DELETE FROM mlflow_aliases WHERE model = $1 AND version = $2",
        "DELETE FROM mlflow_model_version_tags WHERE model = $1 AND version = $2",
        "DELETE FROM mlflow_model_versions WHERE model = $1 AND version = $2",
    ] {
        sqlx::query(sql)
            .bind(model)
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(|e| failed("deleting a model version", e))?;
    }
    Ok(())
}

pub async fn set_version_tag(
    conn: &mut Conn,
    model: i64,
    version: i64,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_model_version_tags (model, version, key, value) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (model, version, key) DO UPDATE SET value = excluded.value",
    )
    .bind(model)
    .bind(version)
    .bind(key)
    .bind(value)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("tagging a model version", e))
}

pub async fn delete_version_tag(
    conn: &mut Conn,
    model: i64,
    version: i64,
    key: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "DELETE FROM mlflow_model_version_tags WHERE model = $1 AND version = $2 AND key = $3",
    )
    .bind(model)
    .bind(version)
    .bind(key)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("untagging a model version", e))
}

// ---- aliases

pub async fn set_alias(
    conn: &mut Conn,
    model: i64,
    alias: &str,
    version: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mlflow_aliases (model, alias, version) VALUES ($1, $2, $3) \
         ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version",
    )
    .bind(model)
    .bind(alias)
    .bind(version)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| failed("setting an alias", e))
}

pub async fn delete_alias(conn: &mut Conn, model: i64, alias: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM mlflow_aliases WHERE model = $1 AND alias = $2")
        .bind(model)
        .bind(alias)
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| failed("deleting an alias", e))
}

/// `model`'s aliases: (alias, version), by alias.
pub async fn aliases(db: &Db, model: i64) -> Result<Vec<(String, i64)>, AppError> {
    sqlx::query_as("SELECT alias, version FROM mlflow_aliases WHERE model = $1 ORDER BY alias")
        .bind(model)
        .fetch_all(db.pool())
        .await
        .map_err(|e| failed("reading aliases", e))
}

/// Which of a model's `aliases` ((alias, version) pairs, as read above) point at `version`.
pub fn aliases_at(aliases: &[(String, i64)], version: i64) -> Vec<String> {
    aliases
        .iter()
        .filter(|(_, v)| *v == version)
        .map(|(alias, _)| alias.clone())
        .collect()
}

// ---- what a page of models or versions shows, read for all of them at once

/// The highest version in each stage of each of `models`, by model then version. Each is one
/// MAX on `mlflow_model_versions_stage`, so a model of 100,000 versions reads a row per
/// stage, not its list.
pub async fn latest_versions_of(db: &Db, models: &[i64]) -> Result<Vec<VersionRow>, AppError> {
    let stages = crate::models::STAGES
        .map(|s| format!("SELECT '{s}' AS stage"))
        .join(" UNION ALL ");
    // Materialized first: inlined, the planner walks the model's versions and runs the MAX
    // for each of them.
    let sql = |ids: &str| {
        format!(
            "WITH latest AS MATERIALIZED (SELECT r.id AS model, (SELECT MAX(w.version) \
             FROM mlflow_model_versions w WHERE w.model = r.id AND w.stage = s.stage) AS version \
             FROM mlflow_registered_models r CROSS JOIN ({stages}) s WHERE r.id IN ({ids})) \
             {VERSION} JOIN latest ON latest.model = v.model AND latest.version = v.version \
             ORDER BY v.model, v.version"
        )
    };
    of_models(db, models, sql, "listing the latest versions").await
}

/// The tags of `versions` ((model, version) pairs): (model, version, key, value). Reads by
/// the tags' key, so a model with many versions costs only the versions asked for.
pub async fn version_tags_of(
    db: &Db,
    versions: &[(i64, i64)],
) -> Result<Vec<(i64, i64, String, String)>, AppError> {
    let mut rows = Vec::new();
    for chunk in versions.chunks(super::MODELS_PER_STATEMENT) {
        let distinct = |pick: fn(&(i64, i64)) -> i64| {
            let mut ids: Vec<i64> = chunk.iter().map(pick).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let (models, numbers) = (distinct(|p| p.0), distinct(|p| p.1));
        // Models × numbers may hold pairs not asked for (a page spanning models); they are
        // dropped below rather than spelled out as row values, which PostgreSQL cannot type.
        let sql = format!(
            "SELECT model, version, key, value FROM mlflow_model_version_tags \
             WHERE model IN ({}) AND version IN ({}) ORDER BY model, version, key",
            crate::db::in_list(models.len()),
            crate::db::in_list_from(models.len() + 1, numbers.len()),
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String, String)>(&sql);
        for id in models.iter().chain(&numbers) {
            query = query.bind(*id);
        }
        let found = query
            .fetch_all(db.pool())
            .await
            .map_err(|e| failed("reading version tags", e))?;
        rows.extend(
            found
                .into_iter()
                .filter(|(m, v, _, _)| chunk.contains(&(*m, *v))),
        );
    }
    Ok(rows)
}

/// The aliases of `models`: (model, alias, version).
pub async fn aliases_of(db: &Db, models: &[i64]) -> Result<Vec<(i64, String, i64)>, AppError> {
    let sql = |ids: &str| {
        format!(
            "SELECT model, alias, version FROM mlflow_aliases WHERE model IN ({ids}) \
             ORDER BY model, alias"
        )
    };
    of_models(db, models, sql, "reading aliases").await
}

/// The tags of `models`: (model, key, value).
pub async fn registered_tags_of(
    db: &Db,
    models: &[i64],
) -> Result<Vec<(i64, String, String)>, AppError> {
    let sql = |ids: &str| {
        format!(
            "SELECT model, key, value FROM mlflow_registered_model_tags WHERE model IN ({ids}) \
             ORDER BY model, key"
        )
    };
    of_models(db, models, sql, "reading tags").await
}

/// The versions registered from one of `sources` (a serving workload's model URIs): source,
/// model name, its namespace and version number, newest first.
pub async fn versions_by_source(
    db: &Db,
    sources: &[String],
) -> Result<Vec<(String, String, String, i64)>, AppError> {
    let mut rows = Vec::new();
    for chunk in sources.chunks(super::MODELS_PER_STATEMENT) {
        let sql = format!(
            "SELECT v.source, m.name, m.namespace, v.version FROM mlflow_model_versions v \
             JOIN mlflow_registered_models m ON m.id = v.model WHERE v.source IN ({}) \
             ORDER BY v.version DESC",
            crate::db::in_list(chunk.len())
        );
        let mut query = sqlx::query_as(&sql);
        for source in chunk {
            query = query.bind(source);
        }
        rows.extend(
            query
                .fetch_all(db.pool())
                .await
                .map_err(|e| failed("finding versions by source", e))?,
        );
    }
    Ok(rows)
}
