//! The `accounts` table: every read and write of an account, and the first admin.

use super::password::{hash_password, random_secret};
use super::rules::{Namespaces, Principal, Role};
use crate::db::Db;
use crate::error::AppError;
use crate::time::now_rfc3339;

/// An account as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub namespaces: String,
    /// 0 or 1: both backends store the flag as an integer (see [`AccountRow::disabled`]).
    disabled: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl AccountRow {
    pub fn disabled(&self) -> bool {
        self.disabled != 0
    }

    pub fn principal(&self) -> Result<Principal, AppError> {
        let role = Role::parse(&self.role).ok_or_else(|| {
            AppError::internal(
                "reading an account",
                format!("unknown role {:?}", self.role),
            )
        })?;
        Ok(Principal {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role,
            namespaces: Namespaces::parse(&self.namespaces)
                .map_err(|e| AppError::internal("reading an account", e))?,
        })
    }
}

const ACCOUNT_COLUMNS: &str = "id, username, display_name, password_hash, role, namespaces, \
                               disabled, created_at, updated_at";

pub async fn find_account(db: &Db, username: &str) -> Result<Option<AccountRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading an account", e))
}

pub async fn account_by_id(db: &Db, id: i64) -> Result<Option<AccountRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| crate::db::failed("reading an account", e))
}

pub async fn list_accounts(db: &Db) -> Result<Vec<AccountRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username"
    ))
    .fetch_all(db.pool())
    .await
    .map_err(|e| crate::db::failed("listing accounts", e))
}

/// Creates an account; 409 when the username is taken. Inputs must be validated already.
pub async fn insert_account(
    conn: &mut crate::db::Conn,
    principal: &Principal,
    password: String,
) -> Result<i64, AppError> {
    let hash = hash_password(password).await?;
    let now = now_rfc3339();
    let result = sqlx::query_scalar(
        "INSERT INTO accounts (username, display_name, password_hash, role, namespaces, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(&principal.username)
    .bind(&principal.display_name)
    .bind(hash)
    .bind(principal.role.as_str())
    .bind(principal.namespaces.to_text())
    .bind(now)
    .fetch_one(conn)
    .await;
    match result {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AppError::Conflict {
            reason: format!("the username {:?} is taken", principal.username),
        }),
        Err(e) => Err(crate::db::failed("creating an account", e)),
    }
}

/// Sets role, namespaces and the disabled flag; takes effect on the account's next request.
pub async fn update_account(
    conn: &mut crate::db::Conn,
    id: i64,
    role: Role,
    namespaces: &Namespaces,
    disabled: bool,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE accounts SET role = $1, namespaces = $2, disabled = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(role.as_str())
    .bind(namespaces.to_text())
    .bind(i64::from(disabled))
    .bind(now_rfc3339())
    .bind(id)
    .execute(conn)
    .await
    .map_err(|e| crate::db::failed("updating an account", e))?;
    Ok(())
}

/// Replaces an account's password (hashed here) and ends none of its sessions: a reset
/// after a leak should be followed by disabling, which does.
pub async fn set_password(
    conn: &mut crate::db::Conn,
    id: i64,
    password: String,
) -> Result<(), AppError> {
    let hash = hash_password(password).await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_rfc3339())
        .bind(id)
        .execute(conn)
        .await
        .map_err(|e| crate::db::failed("setting a password", e))?;
    Ok(())
}

/// On a database without accounts, creates `admin` (ops-admin, every namespace) with the
/// configured password, or with a random one that is logged once, here. There is no
/// default password.
pub async fn ensure_first_admin(db: &Db, password: Option<String>) -> Result<(), AppError> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
        .fetch_one(db.pool())
        .await
        .map_err(|e| crate::db::failed("counting accounts", e))?;
    if count > 0 {
        return Ok(());
    }
    let admin = Principal {
        username: "admin".into(),
        display_name: "Administrator".into(),
        role: Role::OpsAdmin,
        namespaces: Namespaces::All,
    };
    match password {
        Some(password) => {
            super::rules::validate_password(&password).map_err(|e| match e {
                AppError::InvalidInput { reason, .. } => {
                    AppError::invalid("GANTRY_ADMIN_PASSWORD", reason)
                }
                other => other,
            })?;
            let mut tx = db.begin().await?;
            insert_account(tx.conn(), &admin, password).await?;
            tx.commit().await?;
            tracing::info!(
                "created the account \"admin\" with the password from GANTRY_ADMIN_PASSWORD"
            );
        }
        None => {
            let password = random_secret(12);
            let mut tx = db.begin().await?;
            insert_account(tx.conn(), &admin, password.clone()).await?;
            tx.commit().await?;
            // NB: the one and only time this password is shown; it is stored hashed.
            tracing::warn!(
                "created the account \"admin\" with the one-time password {password}; \
                 log in and change it (or set GANTRY_ADMIN_PASSWORD before the first start)"
            );
        }
    }
    Ok(())
}
