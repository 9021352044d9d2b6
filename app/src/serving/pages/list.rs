//! `/serving`: every inference service the user may see, kept current by the services
//! stream.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{autoscaling_text, href, model_text, replicas_text, status_text};
use crate::error::AppError;
use crate::layout::StaleNotice;
use crate::live::{self, LiveBadge};
use crate::serving::{ServiceList, PAGE_SIZE};

#[component]
pub fn ServingPage() -> impl IntoView {
    let data: RwSignal<Option<Result<ServiceList, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    let page = RwSignal::new(0usize);
    live::subscribe(
        move || format!("/api/v1/services/stream?page={}", page.get()),
        move |message| data.set(Some(message)),
        connection,
    );
    view! {
        <Title text="Serving" />
        <section class="page">
            <div class="page-head">
                <h1>"Serving"</h1>
                <LiveBadge connection />
            </div>
            <p class="muted">
                "KServe InferenceServices, and Deployments that serve models: labelled "
                <code>"gantry.io/model-server"</code>
                ", or running a known model server's image (TF Serving, vLLM, Triton, TorchServe, TGI, MLServer)."
            </p>
            {move || match data.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(list)) => view! { <ServiceTable list page /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ServiceTable(list: ServiceList, page: RwSignal<usize>) -> impl IntoView {
    let empty = list.rows.is_empty();
    let (total, current) = (list.total, list.page);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    view! {
        <p class="muted" data-testid="service-count">
            {format!("{total} services")}
        </p>
        <StaleNotice since=Signal::derive(move || list.stale_since.clone()) />
        <div class="table-wrap">
            <table class="table" data-testid="services">
                <thead>
                    <tr>
                        <th>"Service"</th>
                        <th>"Namespace"</th>
                        <th>"Kind"</th>
                        <th>"Server"</th>
                        <th>"Model"</th>
                        <th>"Replicas"</th>
                        <th>"Autoscaling"</th>
                        <th>"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr
                                    data-namespace=row.namespace.clone()
                                    data-service=row.name.clone()
                                    data-ready=row.ready.to_string()
                                >
                                    <td>
                                        <a href=href(&row)>{row.name.clone()}</a>
                                        {row
                                            .url
                                            .clone()
                                            .map(|url| view! { <div class="muted">{url}</div> })}
                                    </td>
                                    <td>{row.namespace.clone()}</td>
                                    <td>{row.kind.label()}</td>
                                    <td>{row.server.clone()}</td>
                                    <td class="wrap">{model_text(&row)}</td>
                                    <td data-testid="replicas">{replicas_text(&row.replicas)}</td>
                                    <td>{autoscaling_text(row.autoscaling.as_ref())}</td>
                                    <td>{status_text(&row)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {empty.then(|| view! { <p class="muted">"No inference services that you may see."</p> })}
        {(pages > 1)
            .then(|| {
                view! {
                    <crate::layout::Pager
                        page
                        current=Signal::derive(move || current)
                        pages=Signal::derive(move || pages)
                    />
                }
            })}
    }
}
