//! `/models`: the registered models the user may see, and `/models/{name}`: one model's
//! versions with their stages, aliases and sources. What MLflow code registers appears here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::compare::CompareButton;
use super::{model_href, version_href};
use crate::error::AppError;
use crate::layout::ConfirmButton;
use crate::models::{
    get_model, list_models, list_version_files, DeleteVersion, ModelDetail, ModelSummary, SetAlias,
    SetStage, VersionFiles, LIST_LIMIT, STAGES,
};

/// The model registry.
#[component]
pub fn ModelsPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    // Fetched after hydration (as the audit log): the registry changes between the server's
    // render and the wasm's first fetch whenever a client is logging.
    let models = LocalResource::new(move || list_models(search.get()));
    view! {
        <Title text="Models" />
        <section class="page" data-testid="models">
            <h1>"Models"</h1>
            <super::ModelsTabs current="/models" />
            <p class="lead">
                "The models your training code registered (MLflow's client, pointed at Gantry), \
                 with their versions and aliases."
            </p>
            <div class="filters">
                <label>
                    "Search"
                    <input
                        type="search"
                        placeholder="fraud"
                        prop:value=move || search.get()
                        on:change=move |ev| search.set(event_target_value(&ev))
                    />
                </label>
            </div>
            {move || match models.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => {
                    view! {
                        <p class="empty" data-testid="models-empty">
                            "No models are registered in your namespaces yet. Set \
                             MLFLOW_TRACKING_URI to this server and MLFLOW_TRACKING_TOKEN to an \
                             API token, then call mlflow.register_model."
                        </p>
                    }
                        .into_any()
                }
                Some(Ok(rows)) => {
                    let more = (rows.len() == LIST_LIMIT)
                        .then(|| {
                            view! {
                                <p class="muted">
                                    {format!("The first {LIST_LIMIT} by name; search to find others.")}
                                </p>
                            }
                        });
                    view! {
                        <ModelsTable rows />
                        {more}
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

fn aliases_text(aliases: &[(String, i64)]) -> String {
    aliases
        .iter()
        .map(|(alias, version)| format!("@{alias} → {version}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn ModelsTable(rows: Vec<ModelSummary>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="models-table">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Namespace"</th>
                        <th>"Latest version"</th>
                        <th>"Versions"</th>
                        <th>"Aliases"</th>
                        <th>"Updated (UTC)"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|m| {
                            let href = model_href(&m.name);
                            view! {
                                <tr data-model=m.name.clone()>
                                    <td>
                                        <a href=href>{m.name.clone()}</a>
                                    </td>
                                    <td>{m.namespace}</td>
                                    <td>{m.latest_version.map(|v| v.to_string())}</td>
                                    <td>{m.versions}</td>
                                    <td>{aliases_text(&m.aliases)}</td>
                                    <td>{m.updated}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// One registered model and its versions; data scientists and ops admins of its namespace
/// set aliases, move stages and delete versions here, each confirmed first.
#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = LocalResource::new(move || get_model(name()));
    let alias = ServerAction::<SetAlias>::new();
    let stage = ServerAction::<SetStage>::new();
    let delete = ServerAction::<DeleteVersion>::new();
    let error: RwSignal<Option<AppError>> = RwSignal::new(None);
    // After each change: the page shows what is stored now, or why nothing changed.
    let settled = move |outcome: Option<Result<(), AppError>>| match outcome {
        Some(Ok(())) => {
            error.set(None);
            detail.refetch();
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    };
    Effect::new(move |_| settled(alias.value().get()));
    Effect::new(move |_| settled(stage.value().get()));
    Effect::new(move |_| settled(delete.value().get()));
    let actions = Actions {
        alias,
        stage,
        delete,
    };
    view! {
        <Title text=name />
        <section class="page">
            <p>
                <a href="/models">"← Models"</a>
            </p>
            <h1>{name}</h1>
            {move || error.get().map(|error| view! { <crate::error::ErrorNotice error /> })}
            {move || match detail.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => view! { <ModelView detail actions /> }.into_any(),
            }}
        </section>
    }
}

/// The page's three changes, dispatched from each version's row.
#[derive(Clone, Copy)]
struct Actions {
    alias: ServerAction<SetAlias>,
    stage: ServerAction<SetStage>,
    delete: ServerAction<DeleteVersion>,
}

#[component]
fn ModelView(detail: ModelDetail, actions: Actions) -> impl IntoView {
    let model = detail.model;
    let can_manage = detail.can_manage;
    let name = model.name.clone();
    let name_for_files = model.name.clone();
    let version_numbers: Vec<i64> = detail.versions.iter().map(|v| v.version).collect();
    view! {
        <dl class="facts">
            <dt>"Namespace"</dt>
            <dd>{model.namespace}</dd>
            <dt>"Description"</dt>
            {if model.description.is_empty() {
                view! { <dd>"–"</dd> }.into_any()
            } else {
                // Rendered from Markdown and sanitised on the server (models::markdown).
                view! { <dd class="markdown" data-testid="model-description" inner_html=detail.description_html></dd> }
                    .into_any()
            }}
            <dt>"Aliases"</dt>
            <dd data-testid="model-aliases">
                {if model.aliases.is_empty() { "none".to_string() } else { aliases_text(&model.aliases) }}
            </dd>
            <dt>"Tags"</dt>
            <dd>
                {if detail.tags.is_empty() {
                    "none".to_string()
                } else {
                    detail.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                }}
            </dd>
        </dl>
        <h2>"Versions"</h2>
        <p>
            <a href=format!(
                "/serving/model/{}",
                crate::url::encode_component(&name),
            )>"Where it served"</a>
        </p>
        <div class="table-wrap">
            <table class="table" data-testid="versions-table">
                <thead>
                    <tr>
                        <th>"Compare"</th>
                        <th>"Version"</th>
                        <th>"Stage"</th>
                        <th>"Aliases"</th>
                        <th>"Source"</th>
                        <th>"Run"</th>
                        <th>"Registered by"</th>
                        <th>"Registered (UTC)"</th>
                        {can_manage.then(|| view! { <th>"Change"</th> })}
                    </tr>
                </thead>
                <tbody>
                    {detail
                        .versions
                        .into_iter()
                        .map(|v| {
                            let change = can_manage
                                .then(|| {
                                    view! {
                                        <td>
                                            <VersionActions
                                                name=name.clone()
                                                version=v.version
                                                stage=v.stage.clone()
                                                actions
                                            />
                                        </td>
                                    }
                                });
                            view! {
                                <tr data-version=v.version>
                                    <td>
                                        <input
                                            type="checkbox"
                                            form="compare-versions"
                                            name="v"
                                            value=v.version
                                            aria-label=format!("Compare version {}", v.version)
                                        />
                                    </td>
                                    <td>
                                        <a href=version_href(&name, v.version)>{v.version}</a>
                                    </td>
                                    <td>{v.stage}</td>
                                    <td>{v.aliases.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(", ")}</td>
                                    <td class="mono">{v.source}</td>
                                    <td class="mono">
                                        {(!v.run_id.is_empty())
                                            .then(|| {
                                                view! {
                                                    <a href=format!("/runs/{}", v.run_id)>{v.run_id.clone()}</a>
                                                }
                                            })}
                                    </td>
                                    <td>{v.created_by}</td>
                                    <td>{v.created}</td>
                                    {change}
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {(version_numbers.len() >= 2)
            .then(|| {
                view! {
                    <CompareButton
                        form="compare-versions"
                        action=format!("{}/compare", model_href(&name))
                        what="versions"
                    />
                }
            })}
        <FilesSection name=name_for_files versions=version_numbers />
    }
}

/// Set an alias, move the stage, delete: each asks first, saying exactly what will change.
#[component]
fn VersionActions(name: String, version: i64, stage: String, actions: Actions) -> impl IntoView {
    let alias = RwSignal::new(String::new());
    let target = RwSignal::new(stage.clone());
    let archive = RwSignal::new(false);
    let (for_alias, for_stage, for_delete) = (name.clone(), name.clone(), name);
    let alias_question =
        Signal::derive(move || format!("Point @{} at version {version}?", alias.get().trim()));
    let stage_question = Signal::derive(move || {
        let to = target.get();
        let others = if archive.get() {
            format!(" The other versions in {to} move to Archived.")
        } else {
            String::new()
        };
        format!("Move version {version} from {stage} to {to}?{others}")
    });
    view! {
        <div class="version-actions">
            <span class="inline-form">
                <input
                    type="text"
                    aria-label=format!("Alias for version {version}")
                    placeholder="champion"
                    prop:value=move || alias.get()
                    on:input=move |ev| alias.set(event_target_value(&ev))
                />
                <ConfirmButton
                    label="Set alias"
                    question=alias_question
                    act=Callback::new(move |()| {
                        actions.alias.dispatch(SetAlias {
                            name: for_alias.clone(),
                            alias: alias.get_untracked().trim().to_string(),
                            version,
                        });
                    })
                />
            </span>
            <span class="inline-form">
                <select
                    aria-label=format!("Stage for version {version}")
                    on:change=move |ev| target.set(event_target_value(&ev))
                >
                    {STAGES
                        .iter()
                        .map(|s| {
                            view! {
                                <option value=*s selected=move || target.get() == *s>
                                    {*s}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || archive.get()
                        on:change=move |ev| archive.set(event_target_checked(&ev))
                    />
                    "archive the others there"
                </label>
                <ConfirmButton
                    label="Move"
                    question=stage_question
                    act=Callback::new(move |()| {
                        actions.stage.dispatch(SetStage {
                            name: for_stage.clone(),
                            version,
                            stage: target.get_untracked(),
                            archive_others: archive.get_untracked(),
                        });
                    })
                />
            </span>
            <ConfirmButton
                label="Delete"
                question=format!(
                    "Delete version {version}? Its tags and the aliases pointing at it go too.",
                )
                act=Callback::new(move |()| {
                    actions.delete.dispatch(DeleteVersion {
                        name: for_delete.clone(),
                        version,
                    });
                })
            />
        </div>
    }
}

/// The link that downloads the file kept at `path` (`<experiment>/…`), through the MLflow
/// artifact route (the session's cookie is the credential).
pub(super) fn download_href(path: &str) -> String {
    let encoded: Vec<String> = path.split('/').map(crate::url::encode_component).collect();
    format!("/api/2.0/mlflow-artifacts/artifacts/{}", encoded.join("/"))
}

pub(super) fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// A version's files: pick the version, open folders, download files.
#[component]
fn FilesSection(name: String, versions: Vec<i64>) -> impl IntoView {
    let version = RwSignal::new(versions.first().copied());
    let folder = RwSignal::new(String::new());
    let listing = LocalResource::new(move || {
        let (name, version, folder) = (name.clone(), version.get(), folder.get());
        async move {
            match version {
                Some(version) => list_version_files(name, version, folder).await.map(Some),
                None => Ok(None),
            }
        }
    });
    view! {
        <section class="files" aria-label="Files" data-testid="files">
            <h2>"Files"</h2>
            <label>
                "Version"
                <select on:change=move |ev| {
                    version.set(event_target_value(&ev).parse().ok());
                    folder.set(String::new());
                }>
                    {versions
                        .iter()
                        .map(|v| view! { <option value=*v>{*v}</option> })
                        .collect_view()}
                </select>
            </label>
            {move || {
                (!folder.get().is_empty())
                    .then(|| {
                        view! {
                            <button type="button" on:click=move |_| folder.set(String::new())>
                                "↑ All files"
                            </button>
                        }
                    })
            }}
            {move || match listing.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(None)) => view! { <p class="muted">"No versions."</p> }.into_any(),
                Some(Ok(Some(files))) => view! { <FileList files folder /> }.into_any(),
            }}
        </section>
    }
}

#[component]
pub(super) fn FileList(files: VersionFiles, folder: RwSignal<String>) -> impl IntoView {
    if !files.kept_by_gantry {
        return view! {
            <p class="muted">{format!("Kept outside Gantry, at {}.", files.source)}</p>
        }
        .into_any();
    }
    if files.files.is_empty() {
        return view! { <p class="muted">"No files."</p> }.into_any();
    }
    view! {
        <ul class="file-list">
            {files
                .files
                .into_iter()
                .map(|f| {
                    if f.is_dir {
                        let path = f.path.clone();
                        view! {
                            <li>
                                <button type="button" class="link" on:click=move |_| folder.set(path.clone())>
                                    {format!("{}/", f.name)}
                                </button>
                            </li>
                        }
                            .into_any()
                    } else {
                        let file_name = f.name.rsplit('/').next().unwrap_or(&f.name).to_string();
                        view! {
                            <li>
                                <a href=download_href(&f.path) download=file_name>
                                    {f.name.clone()}
                                </a>
                                " "
                                <span class="muted">{f.size.map(size_text)}</span>
                            </li>
                        }
                            .into_any()
                    }
                })
                .collect_view()}
        </ul>
    }
        .into_any()
}
