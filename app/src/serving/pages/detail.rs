//! `/serving/{kind}/{namespace}/{name}`: one service: its rollout's progress; scaling,
//! rolling out another model and autoscaling for ops admins; its revisions, pods and
//! events, pushed again whenever the watches see it change. The page is built once and
//! then follows the stream, so that a confirmation asked or a replica count typed survives
//! a rollout's status updates; it is asked again only when what it is about changed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::autoscaling::{AutoscalingBasis, AutoscalingForm};
use super::canary::CanarySection;
use super::rollout::RolloutForm;
use super::{
    autoscaling_text, model_text, replicas_text, status_text, ReplicaCount, ServiceTarget,
};
use crate::error::AppError;
use crate::layout::ConfirmButton;
use crate::live::{self, LiveBadge};
use crate::serving::{
    PreviewRollout, RemoveAutoscaling, RollBackService, RollOutService, ScaleService,
    ServiceDetail, ServiceKind, SetAutoscaling, SetCanary,
};

#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        let p = params.read();
        (
            p.get("kind").unwrap_or_default(),
            p.get("namespace").unwrap_or_default(),
            p.get("name").unwrap_or_default(),
        )
    });
    let detail: RwSignal<Option<Result<ServiceDetail, AppError>>> = RwSignal::new(None);
    let connection = RwSignal::new(live::Connection::Connecting);
    live::subscribe(
        move || {
            let (kind, namespace, name) = key.get();
            format!(
                "/api/v1/services/{}/{}/{}/stream",
                crate::url::encode_component(&kind),
                crate::url::encode_component(&namespace),
                crate::url::encode_component(&name)
            )
        },
        move |message| detail.set(Some(message)),
        connection,
    );
    let scale = ServerAction::<ScaleService>::new();
    let rollback = ServerAction::<RollBackService>::new();
    let autoscale = ServerAction::<SetAutoscaling>::new();
    let unscale = ServerAction::<RemoveAutoscaling>::new();
    let preview = ServerAction::<PreviewRollout>::new();
    let roll_out = ServerAction::<RollOutService>::new();
    let canary = ServerAction::<SetCanary>::new();
    // The newer of the two autoscaling answers (setting after removing, or back): each
    // action keeps its last answer, so the newest is the one that arrived last.
    let autoscaled = RwSignal::new(None);
    Effect::new(move |_| {
        if let Some(answer) = autoscale.value().get() {
            autoscaled.set(Some(answer));
        }
    });
    Effect::new(move |_| {
        if let Some(answer) = unscale.value().get() {
            autoscaled.set(Some(answer));
        }
    });
    let me = LocalResource::new(crate::auth::get_current_user);
    let can_operate = Signal::derive(move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|user| user.role.may(crate::auth::rules::Action::OperateCluster))
    });
    // Only the first answer, an error, or another service builds the view again.
    let error = Memo::new(move |_| detail.with(|d| d.as_ref().and_then(|r| r.clone().err())));
    let loaded = Memo::new(move |_| detail.with(|d| matches!(d, Some(Ok(_)))).then(|| key.get()));
    view! {
        <Title text=move || key.get().2 />
        <section class="page">
            <p><a href="/serving">"← Serving"</a></p>
            <div class="page-head">
                <h1>{move || key.get().2}</h1>
                <LiveBadge connection />
            </div>
            {move || match (error.get(), loaded.get()) {
                (Some(error), _) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                (None, None) => view! { <p class="muted">"Loading…"</p> }.into_any(),
                (None, Some(_)) => {
                    let first = detail.get_untracked().and_then(Result::ok);
                    let Some(first) = first else { return ().into_any() };
                    // The newest service the stream sent; it keeps the last while an error shows.
                    let current = Memo::new(move |last: Option<&ServiceDetail>| {
                        detail
                            .with(|d| d.as_ref().and_then(|r| r.as_ref().ok()).cloned())
                            .or_else(|| last.cloned())
                            .unwrap_or_else(|| first.clone())
                    });
                    let actions = Actions {
                        scale,
                        rollback,
                        autoscale,
                        unscale,
                        preview,
                        roll_out,
                        canary,
                    };
                    view! { <ServiceView detail=current actions can_operate /> }.into_any()
                }
            }}
            <p class="form-error" role="alert" data-testid="scale-error">
                {move || scale.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
            <p role="status" data-testid="rollout-result">
                {move || roll_out.value().get().and_then(Result::ok)}
            </p>
            <p class="form-error" role="alert" data-testid="rollout-error">
                {move || roll_out.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
            <p role="status" data-testid="canary-result">
                {move || canary.value().get().and_then(Result::ok)}
            </p>
            <p class="form-error" role="alert" data-testid="canary-error">
                {move || canary.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
            <p role="status" data-testid="rollback-result">
                {move || rollback.value().get().and_then(Result::ok)}
            </p>
            <p class="form-error" role="alert" data-testid="rollback-error">
                {move || rollback.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
            <p role="status" data-testid="autoscaling-result">
                {move || autoscaled.get().and_then(Result::ok)}
            </p>
            <p class="form-error" role="alert" data-testid="autoscaling-error">
                {move || autoscaled.get().and_then(Result::err).map(|e| e.to_string())}
            </p>
        </section>
    }
}

/// The changes the page can make; their answers show below the view.
#[derive(Clone, Copy)]
struct Actions {
    scale: ServerAction<ScaleService>,
    rollback: ServerAction<RollBackService>,
    autoscale: ServerAction<SetAutoscaling>,
    unscale: ServerAction<RemoveAutoscaling>,
    preview: ServerAction<PreviewRollout>,
    roll_out: ServerAction<RollOutService>,
    canary: ServerAction<SetCanary>,
}

#[component]
fn ServiceView(
    detail: Memo<ServiceDetail>,
    actions: Actions,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let Actions {
        scale,
        rollback,
        autoscale,
        unscale,
        preview,
        roll_out,
        canary,
    } = actions;
    // A change is based on the spec the page shows when it is confirmed.
    let generation = Memo::new(move |_| detail.with(|d| d.generation));
    let facts = move || {
        detail.with(|detail| {
            let row = &detail.row;
            [
                ("Kind", row.kind.label().to_string()),
                ("Namespace", row.namespace.clone()),
                ("Server", row.server.clone()),
                ("Model", model_text(row)),
                ("URL", row.url.clone().unwrap_or_else(|| "–".into())),
                ("Replicas", replicas_text(&row.replicas)),
                ("Autoscaling", autoscaling_text(row.autoscaling.as_ref())),
                (
                    "Readiness probe",
                    detail
                        .readiness_probe
                        .clone()
                        .unwrap_or_else(|| "none".into()),
                ),
                ("Status", status_text(row)),
            ]
            .into_iter()
            .map(|(k, v)| view! { <dt>{k}</dt> <dd>{v}</dd> })
            .collect_view()
        })
    };
    let progress = Memo::new(move |_| {
        let r = detail.with(|d| d.row.replicas);
        let percent = if r.desired > 0 {
            (100 * r.available.min(r.desired) / r.desired).clamp(0, 100)
        } else {
            100
        };
        let text = format!(
            "{} updated, {} ready, {} available of {} desired",
            r.updated, r.ready, r.available, r.desired
        );
        (percent, text)
    });
    let scale_basis = Memo::new(move |_| detail.with(ScaleBasis::of));
    let autoscaling_basis = Memo::new(move |_| detail.with(AutoscalingBasis::of));
    let replicas = Signal::derive(move || detail.with(|d| d.row.replicas.desired));
    let choices = Memo::new(move |_| detail.with(|d| d.choices.clone()));
    let canary_state = Memo::new(move |_| detail.with(|d| d.canary.clone()));
    let model = Memo::new(move |_| detail.with(|d| d.row.model.clone()));
    let target: ServiceTarget = detail.with_untracked(|d| ServiceTarget {
        kind: d.row.kind,
        namespace: d.row.namespace.clone(),
        name: d.row.name.clone(),
    });
    let target_of_canary = target.clone();
    // What a rollback of an InferenceService returns to: the model it served before.
    let earlier_model = Memo::new(move |_| {
        detail.with(|d| {
            let row = &d.row;
            let earlier = d
                .history
                .iter()
                .find(|h| h.model != row.model && !h.model.is_empty())?;
            (row.kind == ServiceKind::InferenceService).then(|| RollbackTarget {
                question: format!(
                    "Roll {} back from {} to {}?",
                    row.name, row.model, earlier.model
                ),
                kind: ServiceKind::InferenceService,
                namespace: row.namespace.clone(),
                name: row.name.clone(),
                to_revision: 0,
            })
        })
    });
    view! {
        <dl class="facts" data-testid="service-facts">
            {facts}
        </dl>
        <h2>"Rollout"</h2>
        {move || {
            detail
                .with(|d| d.rollout_failed.clone())
                .map(|message| {
                    view! {
                        <p class="form-error" role="alert" data-testid="rollout-failed">
                            <strong>"Rollout failed (ProgressDeadlineExceeded): "</strong>
                            {message}
                        </p>
                    }
                })
        }}
        <div class="capacity" data-testid="rollout">
            <span class="capacity-label">"Available"</span>
            <progress
                max="100"
                value=move || progress.with(|p| p.0)
                aria-label=move || progress.with(|p| format!("Rollout: {}", p.1))
            ></progress>
            <span class="capacity-text" data-testid="rollout-text">
                {move || progress.with(|p| p.1.clone())}
            </span>
        </div>
        {move || {
            detail.with(|d| d.progressing.clone()).map(|p| view! { <p class="muted">{p}</p> })
        }}
        {move || {
            can_operate
                .get()
                .then(|| view! { <ScaleForm basis=scale_basis.get() generation scale /> })
        }}
        {move || {
            can_operate
                .get()
                .then(|| {
                    view! {
                        <h2>"Roll out a version"</h2>
                        <RolloutForm
                            target=target.clone()
                            generation
                            choices
                            preview
                            roll_out
                        />
                    }
                })
        }}
        <h2>"Canary"</h2>
        <CanarySection
            target=target_of_canary
            canary=canary_state
            model
            generation
            can_operate
            act=canary
        />
        {move || {
            can_operate
                .get()
                .then(|| {
                    view! {
                        <h2>"Autoscaling"</h2>
                        <AutoscalingForm
                            basis=autoscaling_basis.get()
                            replicas
                            set=autoscale
                            remove=unscale
                        />
                    }
                })
        }}
        {move || {
            let target = earlier_model.get().filter(|_| can_operate.get())?;
            Some(
                view! {
                    <div class="toolbar" data-testid="rollback-model">
                        <RollbackButton
                            label="Roll back to the previous model"
                            target
                            generation
                            rollback
                        />
                    </div>
                },
            )
        }}
        <h2>"History"</h2>
        <p class="muted">
            "What it served when, and who changed it: every change the watches saw, made in Gantry or not."
        </p>
        <div class="table-wrap">
            <table class="table" data-testid="history">
                <thead>
                    <tr>
                        <th>"When"</th>
                        <th>"Who"</th>
                        <th>"Change"</th>
                        <th>"Model served"</th>
                        <th>"Replicas"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        detail
                            .with(|d| d.history.clone())
                            .into_iter()
                            .map(|h| {
                                view! {
                                    <tr>
                                        <td>{h.at}</td>
                                        <td>{h.actor}</td>
                                        <td class="wrap">{h.change}</td>
                                        <td class="wrap">{h.model}</td>
                                        <td>{h.replicas}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
        <h2>"Revisions"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="revisions">
                <thead>
                    <tr>
                        <th>"Revision"</th>
                        <th>"Image"</th>
                        <th>"Model"</th>
                        <th>"Created"</th>
                        <th>"Ready pods"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    // A row is made again only when what its rollback would restore changed;
                    // its ready pods follow the stream.
                    <For
                        each=move || detail.with(|d| d.revisions.clone())
                        key=|rev| (rev.number, rev.current, rev.image.clone(), rev.model.clone())
                        children=move |rev| {
                            let number = rev.number;
                            let offer = detail.with_untracked(|d| {
                                let row = &d.row;
                                (row.kind == ServiceKind::Deployment && !rev.current)
                                    .then(|| RollbackTarget {
                                        question: format!(
                                            "Roll {} back to revision {} ({}, model {})?",
                                            row.name,
                                            rev.number,
                                            rev.image,
                                            rev.model,
                                        ),
                                        kind: ServiceKind::Deployment,
                                        namespace: row.namespace.clone(),
                                        name: row.name.clone(),
                                        to_revision: rev.number,
                                    })
                            });
                            let ready = move || {
                                detail.with(|d| {
                                    d.revisions
                                        .iter()
                                        .find(|r| r.number == number)
                                        .map_or(0, |r| r.ready)
                                })
                            };
                            view! {
                                <tr data-revision=rev.number data-current=rev.current.to_string()>
                                    <td>
                                        {rev.number}
                                        {rev.current.then_some(" (current)")}
                                    </td>
                                    <td class="wrap">{rev.image}</td>
                                    <td class="wrap">{rev.model}</td>
                                    <td>{rev.created}</td>
                                    <td>{ready}</td>
                                    <td>
                                        {move || {
                                            let target = offer.clone().filter(|_| can_operate.get())?;
                                            Some(
                                                view! {
                                                    <RollbackButton
                                                        label="Roll back"
                                                        target
                                                        generation
                                                        rollback
                                                    />
                                                },
                                            )
                                        }}
                                    </td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </div>
        <h2>"Pods"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="service-pods">
                <thead>
                    <tr>
                        <th>"Pod"</th>
                        <th>"Phase"</th>
                        <th>"Ready"</th>
                        <th>"Restarts"</th>
                        <th>"Node"</th>
                        <th>"Revision"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        detail
                            .with(|d| d.pods.clone())
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <tr data-pod=p.name.clone()>
                                        <td>{p.name.clone()}</td>
                                        <td>{p.phase}</td>
                                        <td>{if p.ready { "yes" } else { "no" }}</td>
                                        <td>{p.restarts}</td>
                                        <td>{p.node.unwrap_or_else(|| "–".into())}</td>
                                        <td>
                                            {p.revision.map(|r| r.to_string()).unwrap_or_else(|| "–".into())}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
        <h2>"Events"</h2>
        {move || {
            let events = detail.with(|d| d.events.clone());
            if events.is_empty() {
                return view! { <p class="muted">"No recent events."</p> }.into_any();
            }
            view! {
                <ul class="events" data-testid="service-events">
                    {events
                        .into_iter()
                        .map(|e| {
                            view! {
                                <li class=format!("event {}", e.kind.to_lowercase())>
                                    <strong>{e.reason}</strong>
                                    " "
                                    {e.object}
                                    ": "
                                    {e.message}
                                    <span class="muted">{format!(" · {}", e.last_seen)}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}

/// What the scale form is about: the form is made again (and a count typed in it dropped)
/// only when this changes, not on every status update.
#[derive(Debug, Clone, PartialEq)]
struct ScaleBasis {
    kind: ServiceKind,
    namespace: String,
    name: String,
    /// The replicas now: a Deployment's, or an InferenceService's minimum.
    current: i32,
    /// The HPA that sets a Deployment's replicas, and its bounds.
    owned_by: Option<(String, i32, i32)>,
}

impl ScaleBasis {
    fn of(detail: &ServiceDetail) -> ScaleBasis {
        let row = &detail.row;
        // An InferenceService is scaled by its predictor's minReplicas, which KServe's HPA keeps.
        let current = match row.kind {
            ServiceKind::Deployment => row.replicas.desired,
            ServiceKind::InferenceService => row
                .autoscaling
                .as_ref()
                .map_or(row.replicas.desired, |a| a.min),
        };
        let owned_by = match (row.kind, &row.autoscaling) {
            (ServiceKind::Deployment, Some(hpa)) => Some((hpa.name.clone(), hpa.min, hpa.max)),
            _ => None,
        };
        ScaleBasis {
            kind: row.kind,
            namespace: row.namespace.clone(),
            name: row.name.clone(),
            current,
            owned_by,
        }
    }
}

/// Scaling, for ops admins: how many replicas, then a confirmation that says exactly what
/// will change. A Deployment an HPA scales says so instead: its bounds decide.
#[component]
fn ScaleForm(
    basis: ScaleBasis,
    generation: Memo<i64>,
    scale: ServerAction<ScaleService>,
) -> impl IntoView {
    let ScaleBasis {
        kind,
        namespace,
        name,
        current,
        owned_by,
    } = basis;
    if let Some((hpa, min, max)) = owned_by {
        return view! {
            <p class="muted" data-testid="scale-owned">
                {format!(
                    "The HorizontalPodAutoscaler {hpa} sets the replicas (between {min} and {max}): change its bounds under Autoscaling to scale.",
                )}
            </p>
        }
            .into_any();
    }
    let wanted = RwSignal::new(current.to_string());
    let question = {
        let name = name.clone();
        Signal::derive(move || {
            let to = wanted.get();
            match kind {
                ServiceKind::Deployment => format!("Scale {name} from {current} to {to} replicas?"),
                ServiceKind::InferenceService => {
                    format!("Set {name}'s minimum replicas from {current} to {to}?")
                }
            }
        })
    };
    let label = match kind {
        ServiceKind::Deployment => "Replicas",
        ServiceKind::InferenceService => "Minimum replicas",
    };
    view! {
        <div class="toolbar" data-testid="scale">
            <ReplicaCount label lowest=0 typed=wanted />
            <ConfirmButton
                label="Scale"
                question
                act=Callback::new(move |()| {
                    scale
                        .dispatch(ScaleService {
                            kind,
                            namespace: namespace.clone(),
                            name: name.clone(),
                            replicas: wanted.get_untracked().trim().parse().unwrap_or(-1),
                            generation: generation.get_untracked(),
                        });
                })
            />
        </div>
    }
    .into_any()
}

/// A rollback on offer: the confirmation's question and what it rolls back (at the
/// generation the page shows when it is confirmed).
#[derive(Debug, Clone, PartialEq)]
struct RollbackTarget {
    question: String,
    kind: ServiceKind,
    namespace: String,
    name: String,
    to_revision: i64,
}

/// Rolls back after a confirmation that says exactly to what.
#[component]
fn RollbackButton(
    label: &'static str,
    target: RollbackTarget,
    generation: Memo<i64>,
    rollback: ServerAction<RollBackService>,
) -> impl IntoView {
    let RollbackTarget {
        question,
        kind,
        namespace,
        name,
        to_revision,
    } = target;
    view! {
        <ConfirmButton
            label
            question
            act=Callback::new(move |()| {
                rollback
                    .dispatch(RollBackService {
                        kind,
                        namespace: namespace.clone(),
                        name: name.clone(),
                        to_revision,
                        generation: generation.get_untracked(),
                    });
            })
        />
    }
}
