//! The `api_tokens` table: tokens stored as SHA-256 hashes, looked up, listed and revoked.

use sha2::{Digest, Sha256};

use super::password::random_secret;
use super::TokenView;
use crate::db::Db;
use crate::error::AppError;
use crate::time::now_rfc3339;

/// What a new token is shown as, once: a fixed prefix so secret scanners can spot it.
const TOKEN_PREFIX: &str = "gantry_";

pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new token's secret text; only its hash is stored.
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_secret(32))
}

/// A live token: whose, which, and what it may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    pub account_id: i64,
    pub token_id: i64,
    /// Set for a job's token: it reaches MLflow's routes in this namespace only.
    pub namespace: Option<String>,
}

/// The live (not revoked, not expired) token `token` is.
pub async fn token_account(db: &Db, token: &str) -> Option<LiveToken> {
    let row: Option<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, account_id, namespace FROM api_tokens WHERE token_hash = $1 \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(hash_token(token))
    .bind(now_rfc3339())
    .fetch_optional(db.pool())
    .await
    .ok()?;
    let (token_id, account_id, namespace) = row?;
    let _ = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now_rfc3339())
        .bind(token_id)
        .execute(db.pool())
        .await;
    Some(LiveToken {
        account_id,
        token_id,
        namespace,
    })
}

/// Whether token `id` is still live (not revoked, not expired): what an open stream made
/// with it checks again and again.
pub async fn is_live(db: &Db, id: i64) -> Result<bool, AppError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM api_tokens WHERE id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(id)
    .bind(now_rfc3339())
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading a token", e))?;
    Ok(row.is_some())
}

/// A token to store: its secret is hashed, never kept.
pub struct NewToken<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub token: &'a str,
    pub created_at: &'a str,
    pub expires_at: Option<&'a str>,
    /// A job's token: the namespace it is limited to and the Job whose end revokes it.
    pub job: Option<(&'a str, &'a str)>,
}

/// Stores a new token (its hash and its first characters, never the secret).
pub async fn insert(conn: &mut crate::db::Conn, new: &NewToken<'_>) -> Result<(), AppError> {
    let (namespace, job_uid) = new.job.unzip();
    sqlx::query(
        "INSERT INTO api_tokens (account_id, name, prefix, token_hash, created_at, expires_at, \
         namespace, job_uid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.account_id)
    .bind(new.name)
    .bind(&new.token[..14])
    .bind(hash_token(new.token))
    .bind(new.created_at)
    .bind(new.expires_at)
    .bind(namespace)
    .bind(job_uid)
    .execute(conn)
    .await
    .map_err(|e| crate::db::failed("creating a token", e))?;
    Ok(())
}

/// Revokes the tokens made for the Job `uid`'s pods: what the jobs' history writer calls
/// when it sees the Job end or leave the cluster.
pub async fn revoke_for_job(db: &Db, uid: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE job_uid = $2 AND revoked_at IS NULL")
        .bind(now_rfc3339())
        .bind(uid)
        .execute(db.pool())
        .await
        .map_err(|e| crate::db::failed("revoking a job's token", e))?;
    Ok(())
}

/// The tokens of `account_id`, or everyone's; newest first.
pub async fn list(db: &Db, everyone: bool, account_id: i64) -> Result<Vec<TokenView>, AppError> {
    sqlx::query_as(
        "SELECT t.id, a.username AS owner, t.name, t.prefix, t.created_at, t.expires_at, \
         t.revoked_at, t.last_used_at FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE $1 OR t.account_id = $2 ORDER BY t.id DESC",
    )
    .bind(everyone)
    .bind(account_id)
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("listing tokens", e))
}

/// The owner's username of token `id` if it is `account_id`'s (or if `everyone`).
pub async fn owner(
    db: &Db,
    id: i64,
    everyone: bool,
    account_id: i64,
) -> Result<Option<String>, AppError> {
    let owner: Option<(String,)> = sqlx::query_as(
        "SELECT a.username FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.id = $1 AND ($2 OR t.account_id = $3)",
    )
    .bind(id)
    .bind(everyone)
    .bind(account_id)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("revoking a token", e))?;
    Ok(owner.map(|(name,)| name))
}

/// Marks token `id` revoked (once: a second revocation keeps the first time).
pub async fn revoke(conn: &mut crate::db::Conn, id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_rfc3339())
        .bind(id)
        .execute(conn)
        .await
        .map_err(|e| crate::db::failed("revoking a token", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let token = new_token();
        assert!(token.starts_with("gantry_") && token.len() == 7 + 64);
        assert_ne!(token, new_token());
        assert_eq!(hash_token(&token).len(), 64);
        assert_ne!(hash_token(&token), token);
    }
}
