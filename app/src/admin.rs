//! Admin: accounts, their roles and namespaces, and the audit log (ops admins only).
//!
//! Every change here is checked on the server (ops admins only), validated field by field,
//! refused as a whole when anything is wrong, and written to the audit log.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::audit::pages::AuditLog;
use crate::auth::rules::Role;
use crate::error::AppError;

/// An account as the Admin area shows it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// `*` or a comma-separated list.
    pub namespaces: String,
    pub disabled: bool,
    pub created_at: String,
}

#[server(endpoint = "accounts")]
pub async fn list_accounts() -> Result<Vec<AccountView>, AppError> {
    use crate::auth::accounts;
    use crate::auth::rules::Action;

    let (state, _) = crate::state::caller(Action::Administer, None)?;
    accounts::list_accounts(&state.db)
        .await?
        .into_iter()
        .map(|row| {
            let principal = row.principal()?;
            Ok(AccountView {
                disabled: row.disabled(),
                username: row.username,
                display_name: row.display_name,
                role: principal.role,
                namespaces: principal.namespaces.to_text(),
                created_at: row.created_at,
            })
        })
        .collect()
}

/// Creates an account. Every field is checked before anything is stored.
#[server(endpoint = "accounts/create")]
pub async fn create_account(
    username: String,
    display_name: String,
    password: String,
    role: String,
    namespaces: String,
) -> Result<(), AppError> {
    use crate::auth::accounts;
    use crate::auth::rules::{self, Action, Namespaces, Principal};

    let (state, who) = crate::state::caller(Action::Administer, None)?;
    who.signed_in_in_person("create accounts")?;
    let username = username.trim().to_string();
    rules::validate_username(&username)?;
    let display_name = validate_display_name(&display_name)?;
    rules::validate_password(&password)?;
    let role = parse_role(&role)?;
    let namespaces = Namespaces::parse(&namespaces)?;
    let principal = Principal {
        username: username.clone(),
        display_name,
        role,
        namespaces: namespaces.clone(),
    };
    let mut tx = state.db.begin().await?;
    let outcome = accounts::insert_account(tx.conn(), &principal, password).await;
    let detail = format!("role={} namespaces={}", role.as_str(), namespaces.to_text());
    let object = format!("account/{username}");
    let entry = crate::audit::Entry {
        actor: &who.username,
        action: "account.create",
        object: &object,
        detail: &detail,
    };
    crate::audit::committed(&state.db, tx, entry, outcome)
        .await
        .map(|_| ())
}

/// Changes an account's role, namespaces and whether it may log in. An admin cannot lock
/// themselves out; since only ops admins get here, one always remains.
#[server(endpoint = "accounts/update")]
pub async fn update_account(
    username: String,
    role: String,
    namespaces: String,
    disabled: Option<String>,
) -> Result<(), AppError> {
    use crate::auth::accounts;
    use crate::auth::rules::{Action, Namespaces};

    let (state, who) = crate::state::caller(Action::Administer, None)?;
    let role = parse_role(&role)?;
    let namespaces = Namespaces::parse(&namespaces)?;
    let disabled = disabled.is_some_and(|v| v == "on" || v == "true");
    let row = accounts::find_account(&state.db, &username)
        .await?
        .ok_or_else(|| AppError::not_found(format!("account {username:?}")))?;
    if username == who.username && (disabled || role != Role::OpsAdmin) {
        return Err(AppError::Conflict {
            reason: "you cannot disable your own account or take away your own ops-admin role"
                .into(),
        });
    }
    let mut tx = state.db.begin().await?;
    let outcome = accounts::update_account(tx.conn(), row.id, role, &namespaces, disabled).await;
    let detail = format!(
        "role: {} -> {}; namespaces: {} -> {}; disabled: {} -> {}",
        row.role,
        role.as_str(),
        row.namespaces,
        namespaces.to_text(),
        row.disabled(),
        disabled
    );
    let object = format!("account/{username}");
    let entry = crate::audit::Entry {
        actor: &who.username,
        action: "account.update",
        object: &object,
        detail: &detail,
    };
    crate::audit::committed(&state.db, tx, entry, outcome).await
}

/// Sets a new password for an account (the user is told it by the admin, out of band).
#[server(endpoint = "accounts/password")]
pub async fn reset_password(username: String, password: String) -> Result<(), AppError> {
    use crate::auth::accounts;
    use crate::auth::rules::{self, Action};

    let (state, who) = crate::state::caller(Action::Administer, None)?;
    who.signed_in_in_person("set passwords")?;
    rules::validate_password(&password)?;
    let row = accounts::find_account(&state.db, &username)
        .await?
        .ok_or_else(|| AppError::not_found(format!("account {username:?}")))?;
    let mut tx = state.db.begin().await?;
    let outcome = accounts::set_password(tx.conn(), row.id, password).await;
    let object = format!("account/{username}");
    let entry = crate::audit::Entry {
        actor: &who.username,
        action: "account.password",
        object: &object,
        detail: "",
    };
    crate::audit::committed(&state.db, tx, entry, outcome).await
}

#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<Role, AppError> {
    Role::parse(role)
        .ok_or_else(|| AppError::invalid("role", "choose viewer, data-scientist or ops-admin"))
}

/// Display names are shown, never interpreted; they must still be one readable line.
#[cfg(feature = "ssr")]
fn validate_display_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "display_name",
            "use 1 to 100 characters on one line",
        ));
    }
    Ok(name.to_string())
}

/// The administration area.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <section class="page">
            <h1>"Admin"</h1>
            <p class="lead">
                "Who may use Gantry, what each of them may do, and a record of what they did. "
                "Everyone's API tokens are on the " <a href="/tokens">"API tokens"</a> " page."
            </p>
            <Accounts />
            <AuditLog />
        </section>
    }
}

/// The accounts table, a form per account, and the form for a new one.
#[component]
fn Accounts() -> impl IntoView {
    let create = ServerAction::<CreateAccount>::new();
    let update = ServerAction::<UpdateAccount>::new();
    let password = ServerAction::<ResetPassword>::new();
    // Fetched by the browser (see AuditLog for why), again after every change.
    let accounts = LocalResource::new(move || {
        create.version().get();
        update.version().get();
        list_accounts()
    });
    let error_of =
        |value: Option<Result<(), AppError>>| value.and_then(Result::err).map(|e| e.to_string());
    view! {
        <section class="accounts" aria-label="Accounts">
            <h2>"Accounts"</h2>
            <p class="form-error" role="alert" data-testid="account-error">
                {move || {
                    error_of(update.value().get()).or_else(|| error_of(password.value().get()))
                }}
            </p>
            {move || match accounts.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) => {
                    view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="accounts-table">
                                <thead>
                                    <tr>
                                        <th>"User"</th>
                                        <th>"Role, namespaces, access"</th>
                                        <th>"New password"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|account| view! { <AccountRow account update password /> })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
            }}
            <h3>"New account"</h3>
            <ActionForm action=create attr:class="form new-account" attr:aria-label="New account">
                <label>"Username" <input type="text" name="username" required /></label>
                <label>"Display name" <input type="text" name="display_name" required /></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="new-password" required />
                </label>
                <label>"Role" <RoleSelect selected=Role::Viewer /></label>
                <label>
                    "Namespaces (comma-separated, or * for all)"
                    <input type="text" name="namespaces" placeholder="team-a, team-b" />
                </label>
                <p class="form-error" role="alert" data-testid="new-account-error">
                    {move || error_of(create.value().get())}
                </p>
                <button type="submit" class="primary">"Create account"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn AccountRow(
    account: AccountView,
    update: ServerAction<UpdateAccount>,
    password: ServerAction<ResetPassword>,
) -> impl IntoView {
    let username = account.username;
    let for_access = username.clone();
    let for_password = username.clone();
    view! {
        <tr data-username=username.clone()>
            <td>
                <strong>{username.clone()}</strong>
                <br />
                <span class="muted">{account.display_name}</span>
            </td>
            <td>
                <ActionForm action=update attr:class="inline-form" attr:aria-label=format!("Access of {username}")>
                    <input type="hidden" name="username" value=for_access />
                    <RoleSelect selected=account.role />
                    <input type="text" name="namespaces" aria-label="Namespaces" value=account.namespaces />
                    <label class="check">
                        <input type="checkbox" name="disabled" checked=account.disabled />
                        "Disabled"
                    </label>
                    <button type="submit">"Save"</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=password attr:class="inline-form" attr:aria-label=format!("Password of {username}")>
                    <input type="hidden" name="username" value=for_password />
                    <input
                        type="password"
                        name="password"
                        aria-label="New password"
                        autocomplete="new-password"
                        required
                    />
                    <button type="submit">"Set"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    view! {
        <select name="role" aria-label="Role">
            {Role::ALL
                .into_iter()
                .map(|role| {
                    view! {
                        <option value=role.as_str() selected=role == selected>
                            {role.as_str()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}
