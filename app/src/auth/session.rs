//! Browser sessions: what a session stores, and the idle and absolute timeouts, enforced on
//! the server whatever the cookie says.

use tower_sessions::Session;

use super::settings::AuthSettings;
use crate::error::AppError;
use crate::time::unix_now;

const SESSION_ACCOUNT: &str = "account_id";
const SESSION_LOGIN_AT: &str = "login_at";
const SESSION_LAST_SEEN: &str = "last_seen";

/// Binds the session to `account_id` under a new id, so an id planted before the login
/// (session fixation) is worth nothing after it.
pub async fn start_session(session: &Session, account_id: i64) -> Result<(), AppError> {
    let failed = |e| AppError::internal("starting a session", e);
    session.cycle_id().await.map_err(failed)?;
    let now = unix_now() as i64;
    session
        .insert(SESSION_ACCOUNT, account_id)
        .await
        .map_err(failed)?;
    session
        .insert(SESSION_LOGIN_AT, now)
        .await
        .map_err(failed)?;
    session
        .insert(SESSION_LAST_SEEN, now)
        .await
        .map_err(failed)?;
    Ok(())
}

/// Ends the session: its row is deleted and its cookie cleared.
pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session
        .flush()
        .await
        .map_err(|e| AppError::internal("ending a session", e))
}

/// The account of a live session, enforcing both the idle timeout and the absolute
/// lifetime here, on the server, whatever the cookie says.
pub async fn session_account(settings: &AuthSettings, session: &Session) -> Option<i64> {
    let account: i64 = session.get(SESSION_ACCOUNT).await.ok().flatten()?;
    let login_at: i64 = session.get(SESSION_LOGIN_AT).await.ok().flatten()?;
    let last_seen: i64 = session.get(SESSION_LAST_SEEN).await.ok().flatten()?;
    let now = unix_now() as i64;
    let idle = now - last_seen;
    let age = now - login_at;
    if idle > settings.session_idle.as_secs() as i64
        || age > settings.session_lifetime.as_secs() as i64
    {
        let _ = session.flush().await;
        return None;
    }
    // A write a minute at most (more often for short timeouts): enough to keep the idle
    // clock honest without a database write per request.
    if idle >= (settings.session_idle.as_secs() as i64 / 4).min(60) {
        let _ = session.insert(SESSION_LAST_SEEN, now).await;
    }
    Some(account)
}

/// Whether session `id` still exists in `store` (not logged out, not expired) and is within
/// its absolute lifetime: what a request that lasts (a live stream) checks again and again,
/// since its own `Session` was read once, when it began.
pub async fn is_live(
    settings: &AuthSettings,
    store: &dyn tower_sessions::SessionStore,
    id: &tower_sessions::session::Id,
) -> bool {
    let Ok(Some(record)) = store.load(id).await else {
        return false;
    };
    record
        .data
        .get(SESSION_LOGIN_AT)
        .and_then(serde_json::Value::as_i64)
        .is_some_and(|login_at| {
            unix_now() as i64 - login_at <= settings.session_lifetime.as_secs() as i64
        })
}
