//! API tokens for automation (CI pipelines registering models and deploying): created by a
//! user, shown once, stored as a SHA-256 hash, acting with that user's role and namespaces,
//! optionally expiring, revocable. Sent as `Authorization: Bearer gantry_…`.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A token as lists show it: never the secret, only its first characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TokenView {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// The longest a token may live, in days; longer-lived automation renews.
pub const MAX_DAYS: u32 = 365;

/// Creates a token for the caller and returns its secret, the only time it is shown.
#[server(endpoint = "tokens/create")]
pub async fn create_token(name: String, days: Option<String>) -> Result<String, AppError> {
    use super::rules::Action;
    use super::server as auth;

    let who = auth::require(Action::View, None)?;
    if matches!(who.via, auth::Credential::Token(_)) {
        return Err(AppError::forbidden(
            "tokens cannot create tokens; log in to make one",
        ));
    }
    let state = crate::state::app_state()?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "use 1 to 100 characters on one line",
        ));
    }
    let days = match days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => Some(d),
            _ => {
                return Err(AppError::invalid(
                    "days",
                    format!("a whole number of days from 1 to {MAX_DAYS}, or empty for no expiry"),
                ))
            }
        },
    };
    let token = auth::new_token();
    let now = auth::unix_now();
    let expires_at = days.map(|d| auth::format_unix(now + u64::from(d) * 86_400));
    sqlx::query(
        "INSERT INTO api_tokens (account_id, name, prefix, token_hash, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(who.account_id)
    .bind(&name)
    .bind(&token[..14])
    .bind(auth::hash_token(&token))
    .bind(auth::format_unix(now))
    .bind(&expires_at)
    .execute(&state.db)
    .await
    .map_err(|e| AppError::internal("creating a token", e))?;
    let user = &who.principal.username;
    let detail = format!(
        "name={name:?} expires={}",
        expires_at.as_deref().unwrap_or("never")
    );
    crate::audit::record(
        &state.db,
        user,
        "token.create",
        &format!("account/{user}"),
        &detail,
        "ok",
        &auth::client_address(),
    )
    .await?;
    Ok(token)
}

/// The caller's tokens; ops admins see everyone's.
#[server(endpoint = "tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, AppError> {
    use super::rules::Action;
    use super::server as auth;

    let who = auth::require(Action::View, None)?;
    let state = crate::state::app_state()?;
    let everyone = who.principal.role.may(Action::Administer);
    sqlx::query_as(
        "SELECT t.id, a.username AS owner, t.name, t.prefix, t.created_at, t.expires_at, \
         t.revoked_at, t.last_used_at FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE ?1 OR t.account_id = ?2 ORDER BY t.id DESC",
    )
    .bind(everyone)
    .bind(who.account_id)
    .fetch_all(&state.db)
    .await
    .map_err(|e| AppError::internal("listing tokens", e))
}

/// Revokes a token: the caller's own, or anyone's for an ops admin. 404 for others', so a
/// user cannot learn which token ids exist.
#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    use super::rules::Action;
    use super::server as auth;

    let who = auth::require(Action::View, None)?;
    let state = crate::state::app_state()?;
    let everyone = who.principal.role.may(Action::Administer);
    let owner: Option<(String,)> = sqlx::query_as(
        "SELECT a.username FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.id = ?1 AND (?2 OR t.account_id = ?3)",
    )
    .bind(id)
    .bind(everyone)
    .bind(who.account_id)
    .fetch_optional(&state.db)
    .await
    .map_err(|e| AppError::internal("revoking a token", e))?;
    let (owner,) = owner.ok_or_else(|| AppError::not_found(format!("token {id}")))?;
    sqlx::query("UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")
        .bind(auth::now_rfc3339())
        .bind(id)
        .execute(&state.db)
        .await
        .map_err(|e| AppError::internal("revoking a token", e))?;
    crate::audit::record(
        &state.db,
        &who.principal.username,
        "token.revoke",
        &format!("token/{id} of {owner}"),
        "",
        "ok",
        &auth::client_address(),
    )
    .await
}

/// `/tokens`: the caller's API tokens, a form for a new one, and revocation.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    // Fetched by the browser, again after each change (see audit::AuditLog for why).
    let tokens = LocalResource::new(move || {
        create.version().get();
        revoke.version().get();
        list_tokens()
    });
    view! {
        <Title text="API tokens" />
        <section class="page">
            <h1>"API tokens"</h1>
            <p class="lead">
                "For automation: send " <code>"Authorization: Bearer <token>"</code>
                ". A token acts with your role and namespaces."
            </p>
            <ActionForm action=create attr:class="form new-token" attr:aria-label="New token">
                <label>"Name" <input type="text" name="name" placeholder="ci-pipeline" required /></label>
                <label>
                    "Expires after (days, empty for never)"
                    <input type="text" name="days" inputmode="numeric" placeholder="90" />
                </label>
                <button type="submit" class="primary">"Create token"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(token)) => view! {
                    <div class="notice notice-warning" role="status">
                        <strong>"Copy it now: it will not be shown again."</strong>
                        <p><code data-testid="new-token">{token}</code></p>
                    </div>
                }
                    .into_any(),
                Some(Err(error)) => view! {
                    <p class="form-error" role="alert" data-testid="token-error">{error.to_string()}</p>
                }
                    .into_any(),
                None => ().into_any(),
            }}
            {move || match tokens.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) => view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="tokens-table">
                            <thead>
                                <tr>
                                    <th>"Name"</th>
                                    <th>"Owner"</th>
                                    <th>"Starts with"</th>
                                    <th>"Created"</th>
                                    <th>"Expires"</th>
                                    <th>"Last used"</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .map(|t| {
                                        let id = t.id;
                                        let revoked = t.revoked_at.is_some();
                                        let label = t.name.clone();
                                        view! {
                                            <tr data-token=label>
                                                <td>{t.name}</td>
                                                <td>{t.owner}</td>
                                                <td><code>{t.prefix}"…"</code></td>
                                                <td>{t.created_at}</td>
                                                <td>{t.expires_at.unwrap_or_else(|| "never".into())}</td>
                                                <td>{t.last_used_at.unwrap_or_else(|| "never".into())}</td>
                                                <td>
                                                    {if revoked {
                                                        view! { <span class="muted">"revoked"</span> }.into_any()
                                                    } else {
                                                        view! {
                                                            <button
                                                                type="button"
                                                                on:click=move |_| {
                                                                    revoke.dispatch(RevokeToken { id });
                                                                }
                                                            >
                                                                "Revoke"
                                                            </button>
                                                        }
                                                            .into_any()
                                                    }}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any(),
            }}
        </section>
    }
}
