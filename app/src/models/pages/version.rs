//! `/models/{name}/versions/{version}`: one version and where it came from: the run that
//! logged it (its params and latest metrics), the Job that ran the run (image, command,
//! GPUs, data volumes, how long, GPU-hours), and the version it was made from.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{pairs_table, version_href, BackToModel};
use crate::jobs::JobLineage;
use crate::models::{
    get_version, LineageRun, Optimisation, OptimiseVersion, VersionDetail, OPTIMISE_IMAGE,
    QUANTISATIONS,
};

/// One version of a model with its lineage.
#[component]
pub fn VersionPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let number = move || params.read().get("version").unwrap_or_default();
    let detail = LocalResource::new(move || {
        let (name, number) = (name(), number());
        async move {
            let version = number.parse::<i64>().map_err(|_| {
                crate::error::AppError::not_found(format!("version {number:?} of model {name:?}"))
            })?;
            get_version(name, version).await
        }
    });
    view! {
        <Title text=move || format!("{} version {}", name(), number()) />
        <section class="page">
            <BackToModel name=Signal::derive(name) />
            <h1>{move || format!("{} version {}", name(), number())}</h1>
            {move || match detail.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => view! { <VersionView detail /> }.into_any(),
            }}
        </section>
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "–".into()
    } else {
        text
    }
}

#[component]
fn VersionView(detail: VersionDetail) -> impl IntoView {
    let VersionDetail {
        model,
        namespace,
        version,
        description_html,
        tags,
        run,
        job,
        parent,
        can_manage,
    } = detail;
    let optimise = can_manage.then(|| view! { <OptimiseSection model version=version.version /> });
    let aliases: Vec<String> = version.aliases.iter().map(|a| format!("@{a}")).collect();
    let made_from = match parent {
        Some((name, number)) => view! {
            <a href=version_href(&name, number)>{format!("{name} version {number}")}</a>
        }
        .into_any(),
        None => "–".into_any(),
    };
    let description = (!description_html.is_empty()).then(|| {
        view! {
            <dt>"Description"</dt>
            <dd class="markdown" data-testid="version-description" inner_html=description_html></dd>
        }
    });
    let tags = tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <dl class="facts" data-testid="version-facts">
            <dt>"Namespace"</dt>
            <dd>{namespace}</dd>
            <dt>"Stage"</dt>
            <dd>{version.stage}</dd>
            <dt>"Aliases"</dt>
            <dd>{or_dash(aliases.join(", "))}</dd>
            <dt>"Source"</dt>
            <dd class="mono">{version.source}</dd>
            <dt>"Registered by"</dt>
            <dd>{version.created_by}</dd>
            <dt>"Registered (UTC)"</dt>
            <dd>{version.created}</dd>
            <dt>"Made from"</dt>
            <dd data-testid="version-parent">{made_from}</dd>
            {description}
            <dt>"Tags"</dt>
            <dd>{or_dash(tags)}</dd>
        </dl>
        <h2>"Lineage"</h2>
        <LineageRunView run />
        <LineageJobView job has_run=!version.run_id.is_empty() />
        {optimise}
    }
}

/// Launches a Job converting this version to TensorFlow Lite; the result comes back as a
/// version of the target model, made from this one. Opens the job's page once launched.
#[component]
fn OptimiseSection(model: String, version: i64) -> impl IntoView {
    let target = RwSignal::new(format!("{model}-tflite"));
    let image = RwSignal::new(OPTIMISE_IMAGE.to_string());
    let quantise = RwSignal::new("int8".to_string());
    let launch = ServerAction::<OptimiseVersion>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok((namespace, name))) = launch.value().get() {
            navigate(&format!("/jobs/{namespace}/{name}"), Default::default());
        }
    });
    let text = |label: &'static str, signal: RwSignal<String>| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input
                    aria-label=label
                    prop:value=move || signal.get()
                    on:input=move |ev| signal.set(event_target_value(&ev))
                />
            </label>
        }
    };
    view! {
        <section data-testid="optimise">
            <h2>"Optimise"</h2>
            <p class="muted">
                "A job converts this version to TensorFlow Lite and registers the result as a \
                 version of the target model, made from this one. The image needs TensorFlow \
                 and mlflow-skinny."
            </p>
            {text("Target model", target)}
            {text("Conversion image", image)}
            <label class="field">
                <span>"Quantisation"</span>
                <select
                    aria-label="Quantisation"
                    on:change=move |ev| quantise.set(event_target_value(&ev))
                >
                    {QUANTISATIONS
                        .into_iter()
                        .map(|q| view! { <option value=q selected=move || quantise.get() == q>{q}</option> })
                        .collect_view()}
                </select>
            </label>
            <button
                type="button"
                disabled=move || launch.pending().get()
                on:click=move |_| {
                    launch.dispatch(OptimiseVersion {
                        optimisation: Optimisation {
                            model: model.clone(),
                            version,
                            target: target.get_untracked().trim().to_string(),
                            image: image.get_untracked(),
                            quantise: quantise.get_untracked(),
                        },
                    });
                }
            >
                "Launch optimisation job"
            </button>
            {move || match launch.value().get() {
                Some(Err(error)) => Some(view! { <crate::error::ErrorNotice error /> }),
                _ => None,
            }}
        </section>
    }
}

#[component]
fn LineageRunView(run: Option<LineageRun>) -> impl IntoView {
    let Some(LineageRun {
        run,
        experiment,
        params,
    }) = run
    else {
        return view! {
            <h3>"Run"</h3>
            <p class="muted" data-testid="lineage-run">
                "No run you can see logged this version."
            </p>
        }
        .into_any();
    };
    view! {
        <h3>"Run"</h3>
        <dl class="facts" data-testid="lineage-run">
            <dt>"Run"</dt>
            <dd>
                <a href=format!("/runs/{}", run.id)>{run.name}</a>
            </dd>
            <dt>"Experiment"</dt>
            <dd>
                <a href=format!("/experiments/{}", experiment.id)>{experiment.name}</a>
            </dd>
            <dt>"Status"</dt>
            <dd>{run.status}</dd>
            <dt>"Duration"</dt>
            <dd>{crate::time::duration_text(Some(run.duration_secs))}</dd>
        </dl>
        <h4>"Parameters"</h4>
        {pairs_table(params, "params", "lineage-params")}
        <h4>"Metrics (latest)"</h4>
        {pairs_table(run.metrics, "metrics", "lineage-metrics")}
    }
    .into_any()
}

#[component]
fn LineageJobView(
    job: Option<Result<JobLineage, crate::error::AppError>>,
    has_run: bool,
) -> impl IntoView {
    let job = match job {
        None => {
            let why = if has_run {
                "The run was not launched by Gantry, so no Job is known."
            } else {
                "No run, so no Job is known."
            };
            return view! {
                <h3>"Job"</h3>
                <p class="muted" data-testid="lineage-job">{why}</p>
            }
            .into_any();
        }
        Some(Err(error)) => {
            return view! {
                <h3>"Job"</h3>
                <crate::error::ErrorNotice error />
            }
            .into_any()
        }
        Some(Ok(job)) => job,
    };
    let href = format!(
        "/jobs/{}/{}",
        job.namespace,
        crate::url::encode_component(&job.name)
    );
    let gpus = crate::jobs::gpus_text(
        job.gpus_per_pod,
        job.gpu_resource.as_deref(),
        job.gpu_model.as_deref(),
    );
    view! {
        <h3>"Job"</h3>
        <dl class="facts" data-testid="lineage-job">
            <dt>"Job"</dt>
            <dd>
                <a href=href>{format!("{}/{}", job.namespace, job.name)}</a>
            </dd>
            <dt>"Status"</dt>
            <dd>{job.phase.as_str()}</dd>
            <dt>"Image"</dt>
            <dd class="mono">{or_dash(job.image)}</dd>
            <dt>"Command"</dt>
            <dd class="mono">{or_dash(job.command)}</dd>
            <dt>"GPUs per pod"</dt>
            <dd>{gpus}</dd>
            <dt>"Pods to complete"</dt>
            <dd>{job.completions}</dd>
            <dt>"Data volumes"</dt>
            <dd class="mono">{or_dash(job.volumes.join(", "))}</dd>
            <dt>"Duration"</dt>
            <dd>{crate::time::duration_text(job.duration_secs)}</dd>
            <dt>"GPU-hours"</dt>
            <dd>
                {job
                    .gpu_hours
                    .map(|h| format!("{h:.2}"))
                    .unwrap_or_else(|| "not measured yet".into())}
            </dd>
        </dl>
    }
    .into_any()
}
