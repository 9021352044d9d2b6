//! Checking a username and password: rate-limited, and as slow for an unknown username as
//! for a wrong password.

use std::net::IpAddr;

use super::accounts::{self, AccountRow};
use super::password::{verify_password, DUMMY_HASH};
use super::rules::MAX_PASSWORD_LEN;
use crate::error::AppError;
use crate::state::AppState;

/// Verifies a login, rate-limited; the same refusal whether the username or the password
/// was wrong. Returns the account row.
pub async fn check_login(
    state: &AppState,
    username: &str,
    password: String,
    client: Option<IpAddr>,
) -> Result<AccountRow, AppError> {
    if let Err(retry_after_secs) = state.login_limiter.check(username, client) {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    // No stored password is this long; refusing before hashing keeps huge inputs cheap.
    if password.len() > MAX_PASSWORD_LEN {
        state.login_limiter.record_failure(username, client);
        return Err(AppError::WrongCredentials);
    }
    let row = accounts::find_account(&state.db, username).await?;
    let hash = row
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = verify_password(password, hash).await;
    match row {
        Some(row) if matches && !row.disabled => {
            state.login_limiter.record_success(username);
            Ok(row)
        }
        _ => {
            state.login_limiter.record_failure(username, client);
            Err(AppError::WrongCredentials)
        }
    }
}
