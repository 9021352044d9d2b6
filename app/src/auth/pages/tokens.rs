//! `/tokens`: the caller's API tokens, a form for a new one, and revocation.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth::{list_tokens, CreateToken, RevokeToken};

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
