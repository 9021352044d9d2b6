//! Accounts, passwords, sessions and API tokens, and the layer that says who a request is
//! from (server only).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use leptos::prelude::use_context;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use tower_sessions::Session;

use super::rules::{Action, Namespaces, Principal, Role};
use crate::error::AppError;
use crate::state::AppState;

/// Session and login settings, from Gantry's configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long is over.
    pub session_idle: Duration,
    /// A session is over this long after its login, used or not.
    pub session_lifetime: Duration,
    /// Groups sent to Kubernetes with every impersonated request, besides `gantry:<role>`.
    pub impersonate_groups: Vec<String>,
    /// Origins (`https://portal.example`) whose pages may make state-changing requests:
    /// the configured trusted origins and the embedding portals.
    pub trusted_origins: Vec<String>,
    /// Origins allowed to show Gantry in a frame (CSP `frame-ancestors`).
    pub embed_origins: Vec<String>,
    /// Whether the session cookie is `Secure` (Gantry served over HTTPS, or embedded).
    pub secure_cookies: bool,
}

/// Who a request is from, put into the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub account_id: i64,
    /// How: a browser session or an API token (the token's id).
    pub via: Credential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session,
    Token(i64),
}

// ---------------------------------------------------------------------------------------
// Passwords

/// Hashes with argon2id (the crate's defaults: 19 MiB, 2 passes), on a blocking thread:
/// a hash takes tens of milliseconds of CPU, which would stall every request on the runtime.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::internal("hashing a password", e))
    })
    .await
    .map_err(|e| AppError::internal("hashing a password", e))?
}

/// Whether `password` matches `hash`, on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the username is unknown, so that a
/// wrong username takes as long to refuse as a wrong password and timing reveals nothing.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(random_secret(16).as_bytes(), &salt)
        .expect("hashing a random password")
        .to_string()
});

/// `bytes` random bytes, hex-encoded.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now as stored in accounts, tokens and the audit log: `YYYY-MM-DDTHH:MM:SSZ` (UTC).
/// (SQLite's own clock would do, but every table wants the same format.)
pub fn now_rfc3339() -> String {
    format_unix(unix_now())
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn format_unix(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), valid for every date after 1970.
    let z = days as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

// ---------------------------------------------------------------------------------------
// Accounts

/// An account as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub namespaces: String,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl AccountRow {
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

pub async fn find_account(db: &SqlitePool, username: &str) -> Result<Option<AccountRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = ?1"
    ))
    .bind(username)
    .fetch_optional(db)
    .await
    .map_err(|e| AppError::internal("reading an account", e))
}

pub async fn account_by_id(db: &SqlitePool, id: i64) -> Result<Option<AccountRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
    .map_err(|e| AppError::internal("reading an account", e))
}

pub async fn list_accounts(db: &SqlitePool) -> Result<Vec<AccountRow>, AppError> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username"
    ))
    .fetch_all(db)
    .await
    .map_err(|e| AppError::internal("listing accounts", e))
}

/// Creates an account; 409 when the username is taken. Inputs must be validated already.
pub async fn insert_account(
    db: &SqlitePool,
    principal: &Principal,
    password: String,
) -> Result<i64, AppError> {
    let hash = hash_password(password).await?;
    let now = now_rfc3339();
    let result = sqlx::query(
        "INSERT INTO accounts (username, display_name, password_hash, role, namespaces, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )
    .bind(&principal.username)
    .bind(&principal.display_name)
    .bind(hash)
    .bind(principal.role.as_str())
    .bind(principal.namespaces.to_text())
    .bind(now)
    .execute(db)
    .await;
    match result {
        Ok(done) => Ok(done.last_insert_rowid()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AppError::Conflict {
            reason: format!("the username {:?} is taken", principal.username),
        }),
        Err(e) => Err(AppError::internal("creating an account", e)),
    }
}

/// Sets role, namespaces and the disabled flag; takes effect on the account's next request.
pub async fn update_account(
    db: &SqlitePool,
    id: i64,
    role: Role,
    namespaces: &Namespaces,
    disabled: bool,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE accounts SET role = ?1, namespaces = ?2, disabled = ?3, updated_at = ?4 WHERE id = ?5",
    )
    .bind(role.as_str())
    .bind(namespaces.to_text())
    .bind(disabled)
    .bind(now_rfc3339())
    .bind(id)
    .execute(db)
    .await
    .map_err(|e| AppError::internal("updating an account", e))?;
    Ok(())
}

/// Replaces an account's password (hashed here) and ends none of its sessions: a reset
/// after a leak should be followed by disabling, which does.
pub async fn set_password(db: &SqlitePool, id: i64, password: String) -> Result<(), AppError> {
    let hash = hash_password(password).await?;
    sqlx::query("UPDATE accounts SET password_hash = ?1, updated_at = ?2 WHERE id = ?3")
        .bind(hash)
        .bind(now_rfc3339())
        .bind(id)
        .execute(db)
        .await
        .map_err(|e| AppError::internal("setting a password", e))?;
    Ok(())
}

/// On a database without accounts, creates `admin` (ops-admin, every namespace) with the
/// configured password, or with a random one that is logged once, here. There is no
/// default password.
pub async fn ensure_first_admin(db: &SqlitePool, password: Option<String>) -> Result<(), AppError> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
        .fetch_one(db)
        .await
        .map_err(|e| AppError::internal("counting accounts", e))?;
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
            insert_account(db, &admin, password).await?;
            tracing::info!(
                "created the account \"admin\" with the password from GANTRY_ADMIN_PASSWORD"
            );
        }
        None => {
            let password = random_secret(12);
            insert_account(db, &admin, password.clone()).await?;
            // NB: the one and only time this password is shown; it is stored hashed.
            tracing::warn!(
                "created the account \"admin\" with the one-time password {password}; \
                 log in and change it (or set GANTRY_ADMIN_PASSWORD before the first start)"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sessions

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
async fn session_account(settings: &AuthSettings, session: &Session) -> Option<i64> {
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

// ---------------------------------------------------------------------------------------
// API tokens

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

/// The account and token id of a live (not revoked, not expired) token.
async fn token_account(db: &SqlitePool, token: &str) -> Option<(i64, i64)> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, account_id FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > ?2)",
    )
    .bind(hash_token(token))
    .bind(now_rfc3339())
    .fetch_optional(db)
    .await
    .ok()?;
    let (token_id, account_id) = row?;
    let _ = sqlx::query("UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2")
        .bind(now_rfc3339())
        .bind(token_id)
        .execute(db)
        .await;
    Some((account_id, token_id))
}

// ---------------------------------------------------------------------------------------
// The request layer

/// Paths that never depend on who asks: probes, metrics, the front end's files. They skip
/// the session and account lookups, which would otherwise cost two database reads for
/// every script, stylesheet and wasm fetch of every page load.
fn needs_no_identity(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/favicon.svg")
        || path.starts_with("/pkg/")
}

/// Server functions anyone may call: logging in, and asking who is logged in. Every other
/// `/api/` call without a user is a 401 here, before its arguments are even read; each
/// function then checks its own role and namespace rules.
fn is_public_api(path: &str) -> bool {
    matches!(path, "/api/login" | "/api/me")
}

/// Says who the request is from (an `Authorization: Bearer` token, else the session) by
/// putting [`Authenticated`] into its extensions; sends anonymous page requests to the
/// login page. A token that is not valid is a 401 at once: automation should hear why.
pub async fn authenticate(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    if needs_no_identity(request.uri().path()) {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    let found = match bearer {
        Some(token) => match token_account(&state.db, &token).await {
            Some((account, token_id)) => Some((account, Credential::Token(token_id))),
            None => {
                return (
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    AppError::Unauthenticated,
                )
                    .into_response()
            }
        },
        None => session_account(&state.auth, &session)
            .await
            .map(|account| (account, Credential::Session)),
    };
    // The account is read on every request, so disabling it or changing its role takes
    // effect at once, not at the next login.
    let authenticated = match found {
        Some((account_id, via)) => match account_by_id(&state.db, account_id).await {
            Ok(Some(row)) if !row.disabled => row.principal().ok().map(|principal| Authenticated {
                principal,
                account_id,
                via,
            }),
            _ => None,
        },
        None => None,
    };
    match authenticated {
        Some(who) => {
            request.extensions_mut().insert(who);
        }
        None if request.uri().path().starts_with("/api/") => {
            if !is_public_api(request.uri().path()) {
                return AppError::Unauthenticated.into_response();
            }
        }
        None if request.method() == Method::GET && request.uri().path() != "/login" => {
            let next_path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let target = format!("/login?next={}", crate::url::encode_component(next_path));
            return Redirect::to(&target).into_response();
        }
        None => {}
    }
    next.run(request).await
}

/// Where a successful login goes: `next` if it is a path on this site, else the overview.
/// Anything else (`//evil.example`, `https://…`, `javascript:`) would make the login page an
/// open redirect.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

// ---------------------------------------------------------------------------------------
// Inside server functions

/// Who is calling the current server function or rendering the current page, if anyone.
pub fn current() -> Option<Authenticated> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Authenticated>().cloned())
}

/// The caller, if they may take `action` (in `namespace`); 401 for nobody, 403 with the
/// reason otherwise. Every server function starts with this (or [`require_login`]).
pub fn require(action: Action, namespace: Option<&str>) -> Result<Authenticated, AppError> {
    let who = current().ok_or(AppError::Unauthenticated)?;
    who.principal.check(action, namespace)?;
    Ok(who)
}

/// The caller's address, for the audit log and rate limits.
pub fn client_address() -> String {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "-".into())
}

// ---------------------------------------------------------------------------------------
// Login rate limits

/// Failed logins remembered per account and per client address, in memory: a restart
/// forgets them, which costs an attacker a restart they cannot cause.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Per account: 5 failures in 5 minutes, then wait. Per address: 20, so one office behind
/// one address is not locked out by one person's typos.
const WINDOW: Duration = Duration::from_secs(300);
const PER_ACCOUNT: usize = 5;
const PER_ADDRESS: usize = 20;

impl LoginLimiter {
    fn keys(username: &str, client: Option<IpAddr>) -> [(String, usize); 2] {
        [
            (format!("user:{username}"), PER_ACCOUNT),
            (
                format!("addr:{}", client.map(|c| c.to_string()).unwrap_or_default()),
                PER_ADDRESS,
            ),
        ]
    }

    /// `Err(seconds to wait)` when either limit is reached.
    pub fn check(&self, username: &str, client: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("limiter lock");
        let mut wait = 0;
        for (key, limit) in Self::keys(username, client) {
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = *times.front().expect("non-empty");
                    wait = wait.max((WINDOW - now.duration_since(oldest)).as_secs() + 1);
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, username: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("limiter lock");
        // Bounded memory under a flood of made-up usernames: forget the oldest entries.
        if failures.len() > 100_000 {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for (key, _) in Self::keys(username, client) {
            failures.entry(key).or_default().push_back(now);
        }
    }

    pub fn record_success(&self, username: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(&format!("user:{username}"));
    }
}

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
    if password.len() > super::rules::MAX_PASSWORD_LEN {
        state.login_limiter.record_failure(username, client);
        return Err(AppError::WrongCredentials);
    }
    let row = find_account(&state.db, username).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_utc() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1795978800), "2026-11-29T19:00:00Z");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/jobs?ns=team-a"), "/jobs?ns=team-a");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\\evil",
            "",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }

    #[test]
    fn the_limiter_counts_per_account_and_per_address() {
        let limiter = LoginLimiter::default();
        let here: Option<IpAddr> = "10.0.0.1".parse().ok();
        for _ in 0..PER_ACCOUNT {
            assert!(limiter.check("alice", here).is_ok());
            limiter.record_failure("alice", here);
        }
        let wait = limiter.check("alice", here).unwrap_err();
        assert!(wait > 0 && wait <= WINDOW.as_secs() + 1, "{wait}");
        // Another account from the same address is still allowed, until the address limit.
        assert!(limiter.check("bob", here).is_ok());
        limiter.record_success("alice");
        assert!(limiter.check("alice", here).is_ok());
    }

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let token = new_token();
        assert!(token.starts_with("gantry_") && token.len() == 7 + 64);
        assert_ne!(token, new_token());
        assert_eq!(hash_token(&token).len(), 64);
        assert_ne!(hash_token(&token), token);
    }
}
