//! A service's canary: for an InferenceService KServe runs in Knative mode, how its requests
//! are split, and (for ops admins) start, promote and abort, each after a confirmation; in
//! any other mode, and for a plain Deployment, what is possible instead.

use leptos::prelude::*;

use super::ServiceTarget;
use crate::layout::ConfirmButton;
use crate::serving::{
    Canary, CanaryAction, ServiceKind, SetCanary, CANARY_PERCENT, CANARY_WITHOUT_A_MESH,
};

#[component]
pub fn CanarySection(
    target: ServiceTarget,
    canary: Memo<Option<Canary>>,
    /// The model it serves now: what the rest of the requests stay on.
    model: Memo<String>,
    generation: Memo<i64>,
    can_operate: Signal<bool>,
    act: ServerAction<SetCanary>,
) -> impl IntoView {
    if target.kind == ServiceKind::Deployment {
        return view! { <p class="muted" data-testid="canary-mesh">{CANARY_WITHOUT_A_MESH}</p> }
            .into_any();
    }
    let name = target.name.clone();
    let ask = Asker {
        target,
        generation,
        act,
    };
    // The section is built again only when its shape changes, not at each status update:
    // what was typed and an open question survive the split moving.
    let shape = Memo::new(move |_| {
        canary.with(|c| {
            c.as_ref().map(|c| {
                let running = c.percent.filter(|p| (1..100).contains(p));
                (c.splits, c.mode.clone(), running)
            })
        })
    });
    view! {
        <div data-testid="canary">
            {move || {
                let Some((splits, mode, running)) = shape.get() else { return ().into_any() };
                if !splits {
                    let mode = if mode.is_empty() { "an unknown".into() } else { mode };
                    return view! {
                        <p class="muted" data-testid="canary-unsupported">
                            {format!(
                                "KServe runs {name} in {mode} mode, where it does not split requests between revisions (only in Knative mode): a canary would have no effect. Rolling a version out replaces its pods in a rolling update.",
                            )}
                        </p>
                    }
                        .into_any();
                }
                let ask = ask.clone();
                view! {
                    <p data-testid="canary-state">
                        {match running {
                            Some(p) => format!("A canary gets {p}% of the requests."),
                            None => "No canary: every request goes to one revision.".into(),
                        }}
                    </p>
                    <Split canary />
                    {move || {
                        can_operate
                            .get()
                            .then(|| match running {
                                Some(p) => view! { <Running percent=p model ask=ask.clone() /> }.into_any(),
                                None => view! { <Start model ask=ask.clone() /> }.into_any(),
                            })
                    }}
                }
                    .into_any()
            }}
        </div>
    }
    .into_any()
}

/// Sends a canary change about the service, based on the generation the page shows.
#[derive(Clone)]
struct Asker {
    target: ServiceTarget,
    generation: Memo<i64>,
    act: ServerAction<SetCanary>,
}

impl Asker {
    fn send(&self, action: CanaryAction, to: String, percent: i64) {
        self.act.dispatch(SetCanary {
            namespace: self.target.namespace.clone(),
            name: self.target.name.clone(),
            action,
            to,
            percent,
            generation: self.generation.get_untracked(),
        });
    }
}

/// Start a canary: another model for a share of the requests.
#[component]
fn Start(model: Memo<String>, ask: Asker) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let percent = RwSignal::new("10".to_string());
    let name = ask.target.name.clone();
    let question = Signal::derive(move || {
        format!(
            "Send {}% of {name}'s requests to {}, the rest staying on {}?",
            percent.get().trim(),
            to.get().trim(),
            model.get()
        )
    });
    // What does not parse is the server's to refuse, naming the field.
    let act = Callback::new(move |()| {
        let share = percent.get_untracked().trim().parse().unwrap_or(-1);
        ask.send(
            CanaryAction::Start,
            to.get_untracked().trim().to_string(),
            share,
        );
    });
    view! {
        <div class="toolbar" data-testid="canary-start">
            <label>
                "Canary model"
                <input
                    type="text"
                    size="40"
                    placeholder="a storage URI, e.g. gs://bucket/model/2"
                    prop:value=move || to.get()
                    on:input=move |ev| to.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Share (%)"
                <input
                    type="number"
                    min=*CANARY_PERCENT.start()
                    max=*CANARY_PERCENT.end()
                    prop:value=move || percent.get()
                    on:input=move |ev| percent.set(event_target_value(&ev))
                />
            </label>
            <ConfirmButton label="Start canary" question act />
        </div>
    }
}

/// A canary in progress: promote it, or abort it.
#[component]
fn Running(percent: i64, model: Memo<String>, ask: Asker) -> impl IntoView {
    let name = ask.target.name.clone();
    let promote = {
        let name = name.clone();
        Signal::derive(move || {
            format!(
                "Send all of {name}'s requests to the canary ({}), now at {percent}%?",
                model.get()
            )
        })
    };
    let abort = format!(
        "Send all of {name}'s requests back to the revision rolled out before the canary, which now gets {percent}%?"
    );
    let (promoter, aborter) = (ask.clone(), ask);
    view! {
        <div class="toolbar" data-testid="canary-running">
            <ConfirmButton
                label="Promote"
                question=promote
                act=Callback::new(move |()| promoter.send(CanaryAction::Promote, String::new(), 0))
            />
            <ConfirmButton
                label="Abort"
                question=abort
                act=Callback::new(move |()| aborter.send(CanaryAction::Abort, String::new(), 0))
            />
        </div>
    }
}

/// How KServe reports the requests split now.
#[component]
fn Split(canary: Memo<Option<Canary>>) -> impl IntoView {
    let traffic = Memo::new(move |_| {
        canary.with(|c| c.as_ref().map(|c| c.traffic.clone()).unwrap_or_default())
    });
    move || {
        let traffic = traffic.get();
        if traffic.is_empty() {
            return view! { <p class="muted">"KServe has not reported a split yet."</p> }
                .into_any();
        }
        view! {
            <table class="table" data-testid="canary-split">
                <thead>
                    <tr>
                        <th>"Revision"</th>
                        <th>"Requests"</th>
                    </tr>
                </thead>
                <tbody>
                    {traffic
                        .into_iter()
                        .map(|t| {
                            let label = if t.latest { format!("{} (newest)", t.revision) } else { t.revision };
                            view! {
                                <tr>
                                    <td>{label}</td>
                                    <td>{format!("{}%", t.percent)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    }
}
