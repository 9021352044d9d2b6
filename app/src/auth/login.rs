//! Checking a username and password: rate-limited, bounded in how many run at once, and as
//! slow for an unknown username as for a wrong password.

use std::net::IpAddr;

use super::accounts::{self, AccountRow};
use super::limiter::{Refused, REFUSALS_WINDOW};
use super::password::{verify_password, DUMMY_HASH};
use super::rules::MAX_PASSWORD_LEN;
use crate::error::AppError;
use crate::state::AppState;

/// Verifies a login, rate-limited and bounded; the same refusal whether the username or
/// the password was wrong. Returns the account row.
pub async fn check_login(
    state: &AppState,
    username: &str,
    password: String,
    client: Option<IpAddr>,
) -> Result<AccountRow, AppError> {
    let attempt = state
        .login_limiter
        .begin(username, client)
        .map_err(|refused| match refused {
            Refused::RateLimited(retry_after_secs) => AppError::RateLimited { retry_after_secs },
            Refused::Busy => AppError::unavailable(
                "login",
                "too many logins are being checked at once; try again in a moment",
            ),
        })?;
    // No stored password is this long; refusing before hashing keeps huge inputs cheap.
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::WrongCredentials);
    }
    let row = accounts::find_account(&state.db, username).await?;
    let hash = row
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = verify_password(password, hash).await;
    match row {
        Some(row) if matches && !row.disabled() => {
            attempt.succeeded();
            Ok(row)
        }
        _ => Err(AppError::WrongCredentials),
    }
}

/// Writes the summed login refusals to the audit log as their windows end, one row per
/// address and reason (see `LoginLimiter::refused`); runs for the server's life.
pub async fn write_refusals(state: AppState) {
    let mut stopping = state.stopping.subscribe();
    loop {
        let last = tokio::select! {
            _ = tokio::time::sleep(REFUSALS_WINDOW / 4) => false,
            _ = stopping.wait_for(|stopping| *stopping) => true,
        };
        for ((client, why), refusals) in state.login_limiter.ended_refusals(last) {
            let detail = format!(
                "{} refusals since {} (one row per address and {} s), accounts: {}",
                refusals.count,
                refusals.since,
                REFUSALS_WINDOW.as_secs(),
                refusals.accounts.join(", ")
            );
            let actor = match refusals.accounts.as_slice() {
                [one] => one.as_str(),
                _ => "-",
            };
            let object = format!("account/{actor}");
            if let Err(error) = crate::audit::record(
                &state.db,
                actor,
                "login.failed",
                &object,
                &detail,
                why,
                &client,
            )
            .await
            {
                tracing::warn!(%error, %client, count = refusals.count, "refused logins not audited");
            }
        }
        if last {
            return;
        }
    }
}
