//! `/nodes`: every GPU node in a table that filters, sorts and pages, kept current by the
//! nodes stream; ops admins cordon and uncordon from it.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;
use crate::layout::{ConfirmButton, StaleNotice};
use crate::live::{self, LiveBadge};
use crate::nodes::{NodeFilter, NodeHealth, NodePage, PageUpdate, SetCordon, PAGE_SIZE};

/// The GPU node inventory, kept current by the nodes stream (`live`).
#[component]
pub fn NodesPage() -> impl IntoView {
    let model = RwSignal::new(String::new());
    let min_free = RwSignal::new(String::new());
    let readiness = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new(String::from("name"));
    let page = RwSignal::new(0usize);
    let filter = Memo::new(move |_| NodeFilter {
        model: model.get(),
        min_free: min_free.get().trim().parse().unwrap_or(0),
        readiness: readiness.get(),
        search: search.get(),
        sort: sort.get(),
        page: page.get(),
    });
    let data: RwSignal<Option<Result<NodePage, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::subscribe(
        move || {
            let f = filter.get();
            let (min_free, page) = (f.min_free.to_string(), f.page.to_string());
            format!(
                "/api/v1/gpu-nodes/stream?{}",
                crate::url::query(&[
                    ("model", &f.model),
                    ("min_free", &min_free),
                    ("readiness", &f.readiness),
                    ("search", &f.search),
                    ("sort", &f.sort),
                    ("page", &page),
                ])
            )
        },
        move |message: Result<PageUpdate, AppError>| {
            data.update(|data| match message {
                Ok(PageUpdate::Snapshot(page)) => *data = Some(Ok(page)),
                Ok(PageUpdate::Delta(delta)) => {
                    if let Some(Ok(page)) = data.as_mut() {
                        delta.apply(page);
                    }
                }
                Err(error) => *data = Some(Err(error)),
            });
        },
        connection,
    );
    let cordon = ServerAction::<SetCordon>::new();
    let me = LocalResource::new(crate::auth::get_current_user);
    let can_operate = Signal::derive(move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|user| user.role.may(crate::auth::rules::Action::OperateCluster))
    });
    let on_filter = move |signal: RwSignal<String>| {
        move |ev| {
            signal.set(event_target_value(&ev));
            page.set(0);
        }
    };
    let stale = move || data.get().and_then(Result::ok).and_then(|p| p.stale_since);
    // The table is built once and then follows `result`; only errors and the first load
    // replace it.
    let error = Memo::new(move |_| data.with(|d| d.as_ref().and_then(|r| r.clone().err())));
    let loaded = Memo::new(move |_| data.with(|d| matches!(d, Some(Ok(_)))));
    let result = Memo::new(move |_| {
        data.with(|d| {
            d.as_ref()
                .and_then(|r| r.as_ref().ok())
                .cloned()
                .unwrap_or_default()
        })
    });
    view! {
        <Title text="GPU nodes" />
        <section class="page">
            <div class="page-head">
                <h1>"GPU nodes"</h1>
                <LiveBadge connection />
            </div>
            <p class="lead">"Every node with GPUs: model, capacity, allocated, free and health."</p>
            <StaleNotice since=Signal::derive(stale) />
            <div class="filters" role="search" aria-label="Filter nodes">
                <label>
                    "Model"
                    <select aria-label="GPU model" on:change=on_filter(model) prop:value=move || model.get()>
                        <option value="">"All models"</option>
                        {move || {
                            data.get()
                                .and_then(Result::ok)
                                .map(|p| p.models)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|m| view! { <option value=m.clone()>{m.clone()}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label>
                    "Free GPUs at least"
                    <input
                        type="number"
                        min="0"
                        aria-label="Free GPUs at least"
                        on:change=on_filter(min_free)
                        placeholder="0"
                    />
                </label>
                <label>
                    "Readiness"
                    <select aria-label="Readiness" on:change=on_filter(readiness)>
                        <option value="">"Any"</option>
                        <option value="ready">"Ready"</option>
                        <option value="not-ready">"Not ready"</option>
                    </select>
                </label>
                <label>
                    "Search"
                    <input
                        type="search"
                        aria-label="Search"
                        placeholder="gpu-h100 or gpu.family=hopper"
                        on:change=on_filter(search)
                    />
                </label>
                <label>
                    "Sort by"
                    <select aria-label="Sort by" on:change=on_filter(sort)>
                        <option value="name">"Name"</option>
                        <option value="free">"Most free"</option>
                        <option value="model">"Model"</option>
                    </select>
                </label>
            </div>
            {move || match (error.get(), loaded.get()) {
                (Some(error), _) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                (None, false) => view! { <p class="muted">"Loading…"</p> }.into_any(),
                (None, true) => view! { <NodeTable result page cordon can_operate /> }.into_any(),
            }}
            <p class="form-error" role="alert" data-testid="cordon-error">
                {move || cordon.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
        </section>
    }
}

#[component]
fn NodeTable(
    result: Memo<NodePage>,
    page: RwSignal<usize>,
    cordon: ServerAction<SetCordon>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let pages = move || result.with(|r| r.matching.div_ceil(PAGE_SIZE).max(1));
    let current = move || result.with(|r| r.page);
    view! {
        <p class="muted" data-testid="node-count">
            {move || format!("{} nodes match", result.with(|r| r.matching))}
        </p>
        <div class="table-wrap">
            <table class="table" data-testid="nodes-table">
                <thead>
                    <tr>
                        <th>"Node"</th>
                        <th>"GPU model"</th>
                        <th>"Allocatable"</th>
                        <th>"Allocated"</th>
                        <th>"Free"</th>
                        <th>"Resources"</th>
                        <th>"Health"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    // Keyed by the row's content: a delta re-renders only the rows that
                    // changed, so a cordon being confirmed on another row stays open.
                    <For
                        each=move || result.with(|r| r.rows.clone())
                        key=|row| format!("{row:?}")
                        children=move |row| {
                            let health = health_text(&row.health);
                            let resources = row
                                .resources
                                .iter()
                                .map(|(name, (total, used))| {
                                    format!("{}: {used}/{total}", name.trim_start_matches("nvidia.com/"))
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            let model = match (row.physical_gpus, row.replicas) {
                                (Some(gpus), Some(replicas)) => {
                                    format!("{} ({gpus} × {replicas} time-sliced)", row.model)
                                }
                                (Some(gpus), None) => format!("{} × {gpus}", row.model),
                                _ => row.model.clone(),
                            };
                            let key = row.name.clone();
                            let node = row.name.clone();
                            let cordoned = row.health.cordoned;
                            view! {
                                <tr data-node=key>
                                    <td>
                                        <a href=format!("/nodes/{}", row.name)>{row.name.clone()}</a>
                                    </td>
                                    <td>{model}</td>
                                    <td>{row.allocatable}</td>
                                    <td data-testid="allocated">{row.allocated}</td>
                                    <td data-testid="free">{row.free}</td>
                                    <td>{resources}</td>
                                    <td>{health}</td>
                                    <td>
                                        <Show when=move || can_operate.get()>
                                            <CordonButton
                                                node=node.clone()
                                                cordoned
                                                action=cordon
                                            />
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </div>
        <crate::layout::Pager
            page
            current=Signal::derive(current)
            pages=Signal::derive(pages)
        />
    }
}

/// Cordon or uncordon, in two steps: the first click asks, the second does it.
#[component]
fn CordonButton(node: String, cordoned: bool, action: ServerAction<SetCordon>) -> impl IntoView {
    let verb = if cordoned { "Uncordon" } else { "Cordon" };
    let question = format!("{verb} {node}?");
    view! {
        <ConfirmButton
            label=verb
            question=question
            act=Callback::new(move |()| {
                action.dispatch(SetCordon { node: node.clone(), cordon: !cordoned });
            })
        />
    }
}

/// Ready or not, cordoned, and the pressure conditions, as one line.
pub fn health_text(health: &NodeHealth) -> String {
    let mut parts = vec![if health.ready { "Ready" } else { "NotReady" }.to_string()];
    if health.cordoned {
        parts.push("cordoned".into());
    }
    parts.extend(health.pressure.iter().cloned());
    parts.join(", ")
}
