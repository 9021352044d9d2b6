//! `/serving/model/{name}`: where a registered model's versions served and when, from the
//! serving history (so after the services and their ReplicaSets are gone too).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::models::pages::BackToModel;
use crate::serving::{get_where_served, ServedTime, WhereServed, SERVED_SHOWN};

#[component]
pub fn WhereServedPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let served = LocalResource::new(move || get_where_served(name()));
    view! {
        <Title text=move || format!("Where {} served", name()) />
        <section class="page">
            <BackToModel name=Signal::derive(name) />
            <h1>{move || format!("Where {} served", name())}</h1>
            {move || match served.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(served)) => view! { <ServedTable served /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ServedTable(served: WhereServed) -> impl IntoView {
    if served.times.is_empty() {
        return view! {
            <p class="muted" data-testid="served-none">
                "No service Gantry has seen served a version of it."
            </p>
        }
        .into_any();
    }
    let full = served.times.len() as i64 >= SERVED_SHOWN;
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="served-table">
                <thead>
                    <tr>
                        <th>"Version"</th>
                        <th>"Service"</th>
                        <th>"Namespace"</th>
                        <th>"From (UTC)"</th>
                        <th>"Until (UTC)"</th>
                        <th>"Model URI"</th>
                    </tr>
                </thead>
                <tbody>{served.times.into_iter().map(row).collect_view()}</tbody>
            </table>
        </div>
        {full.then(|| view! { <p class="muted">{format!("The newest {SERVED_SHOWN} shown.")}</p> })}
    }
    .into_any()
}

fn row(time: ServedTime) -> impl IntoView {
    let href = format!(
        "/serving/{}/{}/{}",
        time.kind.slug(),
        crate::url::encode_component(&time.namespace),
        crate::url::encode_component(&time.name)
    );
    let version = time
        .version
        .map(|v| format!("v{v}"))
        .unwrap_or_else(|| "–".into());
    view! {
        <tr data-service=time.name.clone()>
            <td>{version}</td>
            <td>
                <a href=href>{format!("{} {}", time.kind.label(), time.name)}</a>
            </td>
            <td>{time.namespace}</td>
            <td>{time.since}</td>
            <td>{time.until.unwrap_or_else(|| "serving now".into())}</td>
            <td class="mono">{time.model}</td>
        </tr>
    }
}
