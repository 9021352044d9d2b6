//! `/jobs/new`: the launch form: every field, the manifest preview, and each error beside its
//! field; prefilled from a job (`?from=namespace/name`) or a template.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;
use crate::jobs::form::{self, FieldError, JobForm};
use crate::jobs::{
    get_job_form, get_launch_context, get_template, launch_job, list_templates, preview_job,
    save_template,
};
use crate::live::{self, LiveBadge};
use crate::nodes::GpuSummary;

/// A GPU model as the choice shows it: with how many of its GPUs are free now, when known
/// (free only where pods can go: ready, uncordoned nodes).
fn model_text(model: &str, fleet: Option<&GpuSummary>) -> String {
    match fleet.and_then(|f| f.models.iter().find(|m| m.model == model)) {
        Some(m) => format!("{model} ({} of {} free)", m.free, m.allocatable),
        None => model.to_string(),
    }
}

/// The launch form's inputs: one text signal per field, under the field's name (see
/// `form::text`).
#[derive(Clone, Copy)]
struct FormFields([(&'static str, RwSignal<String>); form::text::FIELDS]);

impl FormFields {
    fn new(form: &JobForm) -> FormFields {
        FormFields(form::text::texts(form).map(|(name, text)| (name, RwSignal::new(text))))
    }

    /// The input of the field `name` (one of `form::text`'s names).
    fn get(&self, name: &str) -> RwSignal<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, signal)| *signal)
            .unwrap_or_else(|| panic!("the launch form has no field {name:?}"))
    }

    /// Replaces every input with `form`'s value (a clone, a template).
    fn fill(&self, form: &JobForm) {
        for ((_, input), (_, text)) in self.0.iter().zip(form::text::texts(form)) {
            input.set(text);
        }
    }

    fn form(&self) -> JobForm {
        form::text::form(|name| self.get(name).get())
    }
}

/// The launch form: every field, the manifest preview, and each error beside its field.
#[component]
pub fn LaunchPage() -> impl IntoView {
    let context = LocalResource::new(get_launch_context);
    let fields = FormFields::new(&JobForm::default());
    let form = move || fields.form();
    // `?from=namespace/name`: a copy of that job's form, under a new name.
    let query = leptos_router::hooks::use_query_map();
    let source = LocalResource::new(move || {
        let from = query.read().get("from").unwrap_or_default();
        async move {
            match from.split_once('/') {
                Some((namespace, name)) => Some(get_job_form(namespace.into(), name.into()).await),
                None => None,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Some(Ok(mut from))) = source.get() {
            from.name = format!("{}-copy", from.name.chars().take(58).collect::<String>());
            fields.fill(&from);
        }
    });
    // Templates: the caller's saved forms.
    let templates = LocalResource::new(list_templates);
    let chosen = RwSignal::new(String::new());
    let template = LocalResource::new(move || {
        let id = chosen.get();
        async move {
            match id.parse::<i64>() {
                Ok(id) => Some(get_template(id).await),
                Err(_) => None,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Some(Ok(saved))) = template.get() {
            fields.fill(&saved);
        }
    });
    let template_name = RwSignal::new(String::new());
    let save = Action::new_local(move |(name, form): &(String, JobForm)| {
        save_template(name.clone(), form.clone())
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            templates.refetch();
        }
    });
    // The fleet's free GPUs per model, live, for the model choices (nothing more than the
    // names for users the cluster does not let list nodes).
    let fleet: RwSignal<Option<GpuSummary>> = RwSignal::new(None);
    let fleet_connection = RwSignal::new(live::Connection::Connecting);
    live::subscribe(
        || "/api/v1/gpu-summary/stream".to_string(),
        move |summary: Result<GpuSummary, AppError>| fleet.set(summary.ok()),
        fleet_connection,
    );
    let preview = Action::new_local(move |form: &JobForm| preview_job(form.clone()));
    let launch = Action::new_local(move |form: &JobForm| launch_job(form.clone()));
    // The fields the user has typed into: their problems show as they type, from the same
    // pure rules the server runs (`form::validate`), before any request is made.
    let typed = RwSignal::new(std::collections::BTreeSet::<&'static str>::new());
    let checked = Memo::new(move |_| match context.get() {
        Some(Ok(context)) => form::validate(&form(), &context).err().unwrap_or_default(),
        _ => Vec::new(),
    });
    // Errors from the last preview or launch (the server's word, including what only the
    // cluster knows), then those of the typed fields; other errors shown above the buttons.
    let errors = move || -> Vec<FieldError> {
        let latest = launch
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| preview.value().get().and_then(Result::err));
        let mut errors = match latest {
            Some(AppError::InvalidFields { errors }) => errors,
            _ => Vec::new(),
        };
        let typed = typed.get();
        for error in checked.get() {
            let field = error.field.split('[').next().unwrap_or_default();
            if typed.contains(field) && !errors.contains(&error) {
                errors.push(error);
            }
        }
        errors
    };
    let other_error = move || {
        launch
            .value()
            .get()
            .and_then(Result::err)
            .filter(|e| !matches!(e, AppError::InvalidFields { .. }))
    };
    let error_for = move |field: &'static str| {
        move || {
            errors()
                .into_iter()
                .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
                .map(|e| {
                    let label = if e.field == field {
                        String::new()
                    } else {
                        format!("{}: ", e.field)
                    };
                    format!("{label}{}", e.reason)
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok((namespace, name))) = launch.value().get() {
            navigate(&format!("/jobs/{namespace}/{name}"), Default::default());
        }
    });
    let field = move |label: &'static str, key: &'static str, hint: &'static str| {
        let signal = fields.get(key);
        view! {
            <label class="field">
                <span>{label}</span>
                <input aria-label=label name=key prop:value=move || signal.get() on:input=move |ev| { typed.update(|t| { t.insert(key); }); signal.set(event_target_value(&ev)) } placeholder=hint />
                <span class="field-error" data-field=key>{error_for(key)}</span>
            </label>
        }
    };
    // A yes/no field: its text is "true" or empty, as `form::text` reads it.
    let checkbox = move |key: &'static str, label: &'static str| {
        let signal = fields.get(key);
        view! {
            <label class="field wide">
                <span>
                    <input
                        type="checkbox"
                        name=key
                        prop:checked=move || signal.get() == "true"
                        on:change=move |ev| {
                            typed.update(|t| { t.insert(key); });
                            signal.set(if event_target_checked(&ev) { "true".into() } else { String::new() })
                        }
                    />
                    " "{label}
                </span>
                <span class="field-error" data-field=key>{error_for(key)}</span>
            </label>
        }
    };
    let area = move |label: &'static str, key: &'static str, hint: &'static str| {
        let signal = fields.get(key);
        view! {
            <label class="field wide">
                <span>{label}</span>
                <textarea aria-label=label name=key rows="3" prop:value=move || signal.get() on:input=move |ev| { typed.update(|t| { t.insert(key); }); signal.set(event_target_value(&ev)) } placeholder=hint></textarea>
                <span class="field-error" data-field=key>{error_for(key)}</span>
            </label>
        }
    };
    view! {
        <Title text="Launch a job" />
        <section class="page">
            <h1>"Launch a training job"</h1>
            <p class="lead">"Fill in what the job needs; Gantry writes the Job, checks it with the cluster, and shows it before anything runs."</p>
            <div class="filters" role="group" aria-label="Templates">
                <label>
                    "Start from a template"
                    <select aria-label="Start from a template" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        <option value="">"Blank form"</option>
                        {move || {
                            templates.get().and_then(Result::ok).unwrap_or_default()
                                .into_iter()
                                .map(|t| view! { <option value=t.id.to_string()>{t.name}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label>
                    "Save this form as"
                    <input aria-label="Template name" placeholder="llama fine-tune, 4 × H100"
                        prop:value=move || template_name.get()
                        on:input=move |ev| template_name.set(event_target_value(&ev)) />
                </label>
                <button type="button" on:click=move |_| { save.dispatch((template_name.get(), form())); }>"Save template"</button>
                <span class="muted" role="status" data-testid="template-saved">
                    {move || match save.value().get() {
                        Some(Ok(())) => "Saved.".to_string(),
                        Some(Err(e)) => e.to_string(),
                        None => String::new(),
                    }}
                </span>
            </div>
            {move || match context.get() {
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                _ => ().into_any(),
            }}
            {move || match source.get() {
                Some(Some(Err(error))) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                _ => ().into_any(),
            }}
            <form class="launch" on:submit=move |ev| ev.prevent_default()>
                <fieldset>
                    <legend>"Job"</legend>
                    {field("Name", "name", "llama-finetune")}
                    <Choice
                        label="Namespace"
                        key="namespace"
                        value=fields.get("namespace")
                        blank="Choose…"
                        options=Signal::derive(move || {
                            context.get().and_then(Result::ok).map(|c| c.namespaces).unwrap_or_default()
                                .into_iter().map(|n| (n.clone(), n)).collect()
                        })
                        error=Signal::derive(error_for("namespace"))
                    />
                    {field("Image", "image", "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime")}
                    {area("Command (one word per line)", "command", "torchrun\n--nproc-per-node=4")}
                    {area("Arguments (one per line)", "args", "train.py")}
                </fieldset>
                <fieldset>
                    <legend>"GPUs"</legend>
                    {field("GPUs", "gpus", "1")}
                    <Choice
                        label="GPU model"
                        key="gpu_model"
                        value=fields.get("gpu_model")
                        blank="Any model"
                        options=Signal::derive(move || {
                            context.get().and_then(Result::ok).map(|c| c.models).unwrap_or_default()
                                .into_iter().map(|m| { let text = model_text(&m, fleet.get().as_ref()); (m, text) }).collect()
                        })
                        error=Signal::derive(error_for("gpu_model"))
                    />
                    <Choice
                        label="GPU resource"
                        key="gpu_resource"
                        value=fields.get("gpu_resource")
                        options=Signal::derive(move || {
                            context.get().and_then(Result::ok).map(|c| c.largest).unwrap_or_default()
                                .into_iter().map(|(r, most)| (r.clone(), format!("{r} (up to {most} per node)"))).collect()
                        })
                        error=Signal::derive(error_for("gpu_resource"))
                    />
                    <p class="muted" data-testid="free-gpus">"Free GPUs per model, live " <LiveBadge connection=fleet_connection /></p>
                </fieldset>
                <fieldset>
                    <legend>"Resources"</legend>
                    {field("CPU request", "cpu_request", "4")}
                    {field("CPU limit", "cpu_limit", "none")}
                    {field("Memory request", "memory_request", "16Gi")}
                    {field("Memory limit", "memory_limit", "none")}
                    {field("Shared memory (/dev/shm)", "shm_size", "16Gi for PyTorch data loaders")}
                    {area("Volumes (claim:/path, :ro for read-only)", "mounts", "datasets:/data:ro")}
                </fieldset>
                <fieldset>
                    <legend>"Environment and hyperparameters"</legend>
                    {area("Environment (NAME=value)", "env", "NCCL_DEBUG=INFO")}
                    {area("From Secrets (NAME=secret/key)", "secret_env", "HF_TOKEN=hf-token/token")}
                    {area("Hyperparameters (key=value)", "hyperparameters", "lr=3e-4")}
                    <label class="field">
                        <span>"Pass hyperparameters as"</span>
                        <select aria-label="Pass hyperparameters as" name="hyperparameters_as" on:change=move |ev| fields.get("hyperparameters_as").set(event_target_value(&ev)) prop:value=move || fields.get("hyperparameters_as").get()>
                            <option value="args">"--key=value arguments"</option>
                            <option value="env">"HP_KEY environment variables"</option>
                        </select>
                    </label>
                    {area("Labels (key=value)", "labels", "team=nlp")}
                    {area("Pod annotations (key=value)", "annotations", "pod-complete.stage.kwok.x-k8s.io/delay=5m")}
                </fieldset>
                <fieldset>
                    <legend>"MLflow tracking"</legend>
                    {checkbox("tracking", "Track with MLflow: Gantry creates the job's run and gives its pods MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and a token for that namespace")}
                    {field("Experiment", "experiment", "llama-finetune")}
                    {checkbox("tracking_service", "Also give the namespace a Service mlflow-server that leads to Gantry, for code that calls set_tracking_uri(\"http://mlflow-server:5000\")")}
                </fieldset>
                <fieldset>
                    <legend>"Run"</legend>
                    {field("Parallelism", "parallelism", "1")}
                    {field("Completions", "completions", "1")}
                    {field("Retries (backoffLimit)", "backoff_limit", "0")}
                    {field("Deadline (seconds)", "active_deadline_seconds", "none")}
                    {field("Delete after finishing (seconds)", "ttl_seconds_after_finished", "keep")}
                </fieldset>
                <p class="form-error" role="alert" data-testid="launch-error">
                    {move || other_error().map(|e| e.to_string())}
                </p>
                <div class="actions">
                    <button type="button" on:click=move |_| { preview.dispatch(form()); }>"Preview manifest"</button>
                    <button type="button" class="primary" on:click=move |_| { launch.dispatch(form()); }>"Launch"</button>
                </div>
            </form>
            {move || {
                preview.value().get().and_then(Result::ok).map(|manifest| {
                    view! {
                        <h2>"Manifest"</h2>
                        <pre class="manifest" data-testid="manifest">{manifest}</pre>
                    }
                })
            }}
        </section>
    }
}

/// A labelled select whose options arrive later (from the cluster): each option is marked
/// selected from `value`, so a value set before the options exist (a clone) still shows.
#[component]
fn Choice(
    label: &'static str,
    key: &'static str,
    value: RwSignal<String>,
    /// The first option, meaning "none chosen", if any.
    #[prop(optional)]
    blank: Option<&'static str>,
    /// (value, text) pairs.
    options: Signal<Vec<(String, String)>>,
    error: Signal<String>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <select aria-label=label name=key on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                {blank.map(|text| view! { <option value="">{text}</option> })}
                {move || {
                    options.get()
                        .into_iter()
                        .map(|(option, text)| {
                            let this = option.clone();
                            view! { <option value=option prop:selected=move || value.get() == this>{text}</option> }
                        })
                        .collect_view()
                }}
            </select>
            <span class="field-error" data-field=key>{move || error.get()}</span>
        </label>
    }
}
