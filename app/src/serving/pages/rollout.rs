//! Rolling a service out to another model, for ops admins: type the model, preview the
//! exact change (the API server's dry run, as the user), then confirm it.

use leptos::prelude::*;

use super::ServiceTarget;
use crate::layout::ConfirmButton;
use crate::serving::{ModelChoice, PreviewRollout, RollOutService, ServiceKind};

#[component]
pub fn RolloutForm(
    target: ServiceTarget,
    /// The spec the page shows: a preview is based on it.
    generation: Memo<i64>,
    /// Registered versions to pick from; the field takes any URI too.
    choices: Memo<Vec<ModelChoice>>,
    preview: ServerAction<PreviewRollout>,
    roll_out: ServerAction<RollOutService>,
) -> impl IntoView {
    let ServiceTarget {
        kind,
        namespace,
        name,
    } = target;
    let typed = RwSignal::new(String::new());
    // What was previewed, and from which generation: the change confirmed is that one, so
    // that a spec changed since the preview is refused rather than changed unseen.
    let previewed: RwSignal<Option<(String, i64)>> = RwSignal::new(None);
    let ask = {
        let (namespace, name) = (namespace.clone(), name.clone());
        move |_| {
            let to = typed.get_untracked().trim().to_string();
            let generation = generation.get_untracked();
            previewed.set(Some((to.clone(), generation)));
            preview.dispatch(PreviewRollout {
                kind,
                namespace: namespace.clone(),
                name: name.clone(),
                to,
                generation,
            });
        }
    };
    // The preview's answer, while it is still about what the field says.
    let answer = move || {
        let (to, _) = previewed.get()?;
        (typed.with(|t| t.trim() == to) && !preview.pending().get())
            .then(|| preview.value().get())
            .flatten()
    };
    let confirm = move || {
        let change = answer()?.ok()?;
        let (to, generation) = previewed.get()?;
        if !change.changed {
            return Some(
                view! { <p class="muted">{format!("It already serves {to}.")}</p> }.into_any(),
            );
        }
        let question = format!(
            "Change {name}'s {} from {} to {}?",
            change.field, change.from, change.to
        );
        let (namespace, name) = (namespace.clone(), name.clone());
        let act = Callback::new(move |()| {
            roll_out.dispatch(RollOutService {
                kind,
                namespace: namespace.clone(),
                name: name.clone(),
                to: to.clone(),
                generation,
            });
        });
        Some(
            view! {
                <p data-testid="rollout-preview">
                    "The API server accepts: "
                    <code>{change.to_string()}</code>
                </p>
                <ConfirmButton label="Roll out" question act />
            }
            .into_any(),
        )
    };
    view! {
        <div data-testid="rollout-form">
            <div class="toolbar">
                {move || {
                    let offered = choices.get();
                    (!offered.is_empty())
                        .then(|| {
                            view! {
                                <label>
                                    "Registry version"
                                    <select
                                        prop:value=move || typed.get()
                                        on:change=move |ev| typed.set(event_target_value(&ev))
                                    >
                                        <option value="">"a URI…"</option>
                                        {offered
                                            .into_iter()
                                            .map(|c| view! { <option value=c.uri>{c.label}</option> })
                                            .collect_view()}
                                    </select>
                                </label>
                            }
                        })
                }}
                <label>
                    "Model"
                    <input
                        type="text"
                        size="48"
                        placeholder=match kind {
                            ServiceKind::InferenceService => "a storage URI, e.g. gs://bucket/model/2",
                            ServiceKind::Deployment => "a model URI or path, or an image when the image is the model",
                        }
                        prop:value=move || typed.get()
                        on:input=move |ev| typed.set(event_target_value(&ev))
                    />
                </label>
                <button type="button" on:click=ask>
                    "Preview"
                </button>
            </div>
            <p class="form-error" role="alert" data-testid="rollout-preview-error">
                {move || answer().and_then(Result::err).map(|e| e.to_string())}
            </p>
            {confirm}
        </div>
    }
}
