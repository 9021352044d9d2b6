//! `/serving/{kind}/{namespace}/{name}`: one service: its rollout's progress, scaling for
//! ops admins, its revisions, pods and events, pushed again whenever the watches see it
//! change.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{autoscaling_text, model_text, replicas_text, status_text};
use crate::error::AppError;
use crate::layout::ConfirmButton;
use crate::live::{self, LiveBadge};
use crate::serving::{RollBackService, ScaleService, ServiceDetail, ServiceKind};

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
    let me = LocalResource::new(crate::auth::get_current_user);
    let can_operate = Signal::derive(move || {
        me.get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|user| user.role.may(crate::auth::rules::Action::OperateCluster))
    });
    view! {
        <Title text=move || key.get().2 />
        <section class="page">
            <p><a href="/serving">"← Serving"</a></p>
            <div class="page-head">
                <h1>{move || key.get().2}</h1>
                <LiveBadge connection />
            </div>
            {move || match detail.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(detail)) => {
                    view! { <ServiceView detail scale rollback can_operate /> }.into_any()
                }
            }}
            <p class="form-error" role="alert" data-testid="scale-error">
                {move || scale.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
            <p role="status" data-testid="rollback-result">
                {move || rollback.value().get().and_then(Result::ok)}
            </p>
            <p class="form-error" role="alert" data-testid="rollback-error">
                {move || rollback.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
        </section>
    }
}

#[component]
fn ServiceView(
    detail: ServiceDetail,
    scale: ServerAction<ScaleService>,
    rollback: ServerAction<RollBackService>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let row = detail.row.clone();
    let version = detail.resource_version.clone();
    // What a rollback of an InferenceService returns to: the model it served before.
    let earlier_model = detail
        .history
        .iter()
        .find(|h| h.model != row.model && !h.model.is_empty())
        .map(|h| h.model.clone());
    let facts = [
        ("Kind", row.kind.label().to_string()),
        ("Namespace", row.namespace.clone()),
        ("Server", row.server.clone()),
        ("Model", model_text(&row)),
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
        ("Status", status_text(&row)),
    ];
    let r = row.replicas;
    let percent = if r.desired > 0 {
        (100 * r.available.min(r.desired) / r.desired).clamp(0, 100)
    } else {
        100
    };
    let progress = format!(
        "{} updated, {} ready, {} available of {} desired",
        r.updated, r.ready, r.available, r.desired
    );
    view! {
        <dl class="facts" data-testid="service-facts">
            {facts
                .into_iter()
                .map(|(k, v)| view! { <dt>{k}</dt> <dd>{v}</dd> })
                .collect_view()}
        </dl>
        <h2>"Rollout"</h2>
        {detail
            .rollout_failed
            .clone()
            .map(|message| {
                view! {
                    <p class="form-error" role="alert" data-testid="rollout-failed">
                        <strong>"Rollout failed (ProgressDeadlineExceeded): "</strong>
                        {message}
                    </p>
                }
            })}
        <div class="capacity" data-testid="rollout">
            <span class="capacity-label">"Available"</span>
            <progress max="100" value=percent aria-label=format!("Rollout: {progress}")></progress>
            <span class="capacity-text" data-testid="rollout-text">{progress}</span>
        </div>
        {detail.progressing.clone().map(|p| view! { <p class="muted">{p}</p> })}
        {
            let detail = detail.clone();
            move || can_operate.get().then(|| view! { <ScaleForm detail=detail.clone() scale /> })
        }
        {
            let (row, version) = (row.clone(), version.clone());
            move || {
                let earlier = earlier_model.clone()?;
                (can_operate.get() && row.kind == ServiceKind::InferenceService)
                    .then(|| {
                        let target = RollbackTarget {
                            question: format!(
                                "Roll {} back from {} to {}?",
                                row.name,
                                row.model,
                                earlier,
                            ),
                            call: RollBackService {
                                kind: ServiceKind::InferenceService,
                                namespace: row.namespace.clone(),
                                name: row.name.clone(),
                                to_revision: 0,
                                resource_version: version.clone(),
                            },
                        };
                        view! {
                            <div class="toolbar" data-testid="rollback-model">
                                <RollbackButton
                                    label="Roll back to the previous model"
                                    target
                                    rollback
                                />
                            </div>
                        }
                    })
            }
        }
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
                    {detail
                        .history
                        .iter()
                        .map(|h| {
                            view! {
                                <tr>
                                    <td>{h.at.clone()}</td>
                                    <td>{h.actor.clone()}</td>
                                    <td class="wrap">{h.change.clone()}</td>
                                    <td class="wrap">{h.model.clone()}</td>
                                    <td>{h.replicas}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
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
                    {detail
                        .revisions
                        .iter()
                        .map(|rev| {
                            let offer = (row.kind == ServiceKind::Deployment && !rev.current)
                                .then(|| RollbackTarget {
                                    question: format!(
                                        "Roll {} back to revision {} ({}, model {})?",
                                        row.name,
                                        rev.number,
                                        rev.image,
                                        rev.model,
                                    ),
                                    call: RollBackService {
                                        kind: ServiceKind::Deployment,
                                        namespace: row.namespace.clone(),
                                        name: row.name.clone(),
                                        to_revision: rev.number,
                                        resource_version: version.clone(),
                                    },
                                });
                            view! {
                                <tr data-revision=rev.number data-current=rev.current.to_string()>
                                    <td>
                                        {rev.number}
                                        {rev.current.then_some(" (current)")}
                                    </td>
                                    <td class="wrap">{rev.image.clone()}</td>
                                    <td class="wrap">{rev.model.clone()}</td>
                                    <td>{rev.created.clone()}</td>
                                    <td>{rev.ready}</td>
                                    <td>
                                        {move || {
                                            let target = offer.clone().filter(|_| can_operate.get())?;
                                            Some(
                                                view! {
                                                    <RollbackButton
                                                        label="Roll back"
                                                        target
                                                        rollback
                                                    />
                                                },
                                            )
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
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
                    {detail
                        .pods
                        .iter()
                        .map(|p| {
                            view! {
                                <tr data-pod=p.name.clone()>
                                    <td>{p.name.clone()}</td>
                                    <td>{p.phase.clone()}</td>
                                    <td>{if p.ready { "yes" } else { "no" }}</td>
                                    <td>{p.restarts}</td>
                                    <td>{p.node.clone().unwrap_or_else(|| "–".into())}</td>
                                    <td>
                                        {p.revision.map(|r| r.to_string()).unwrap_or_else(|| "–".into())}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <h2>"Events"</h2>
        {if detail.events.is_empty() {
            view! { <p class="muted">"No recent events."</p> }.into_any()
        } else {
            view! {
                <ul class="events" data-testid="service-events">
                    {detail
                        .events
                        .iter()
                        .map(|e| {
                            view! {
                                <li class=format!("event {}", e.kind.to_lowercase())>
                                    <strong>{e.reason.clone()}</strong>
                                    " "
                                    {e.object.clone()}
                                    ": "
                                    {e.message.clone()}
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

/// Scaling, for ops admins: how many replicas, then a confirmation that says exactly what
/// will change. A Deployment an HPA scales says so instead: its bounds decide.
#[component]
fn ScaleForm(detail: ServiceDetail, scale: ServerAction<ScaleService>) -> impl IntoView {
    let row = detail.row;
    if let (ServiceKind::Deployment, Some(hpa)) = (row.kind, &row.autoscaling) {
        return view! {
            <p class="muted" data-testid="scale-owned">
                {format!(
                    "The HorizontalPodAutoscaler {} sets the replicas (between {} and {}): change its bounds to scale.",
                    hpa.name,
                    hpa.min,
                    hpa.max,
                )}
            </p>
        }
            .into_any();
    }
    // An InferenceService is scaled by its predictor's minReplicas, which KServe's HPA keeps.
    let current = match row.kind {
        ServiceKind::Deployment => row.replicas.desired,
        ServiceKind::InferenceService => row
            .autoscaling
            .as_ref()
            .map_or(row.replicas.desired, |a| a.min),
    };
    let wanted = RwSignal::new(current.to_string());
    let name = row.name.clone();
    let kind = row.kind;
    let question = Signal::derive(move || {
        let to = wanted.get();
        match kind {
            ServiceKind::Deployment => format!("Scale {name} from {current} to {to} replicas?"),
            ServiceKind::InferenceService => {
                format!("Set {name}'s minimum replicas from {current} to {to}?")
            }
        }
    });
    let (namespace, service, version) = (row.namespace, row.name, detail.resource_version);
    let label = match kind {
        ServiceKind::Deployment => "Replicas",
        ServiceKind::InferenceService => "Minimum replicas",
    };
    view! {
        <div class="toolbar" data-testid="scale">
            <label>
                {label}
                <input
                    type="number"
                    min="0"
                    max=crate::serving::MAX_REPLICAS
                    prop:value=move || wanted.get()
                    on:input=move |ev| wanted.set(event_target_value(&ev))
                />
            </label>
            <ConfirmButton
                label="Scale"
                question
                act=Callback::new(move |()| {
                    scale
                        .dispatch(ScaleService {
                            kind,
                            namespace: namespace.clone(),
                            name: service.clone(),
                            replicas: wanted.get_untracked().trim().parse().unwrap_or(-1),
                            resource_version: version.clone(),
                        });
                })
            />
        </div>
    }
    .into_any()
}

/// A rollback on offer: the confirmation's question and the call it makes.
#[derive(Clone)]
struct RollbackTarget {
    question: String,
    call: RollBackService,
}

/// Rolls back after a confirmation that says exactly to what.
#[component]
fn RollbackButton(
    label: &'static str,
    target: RollbackTarget,
    rollback: ServerAction<RollBackService>,
) -> impl IntoView {
    let RollbackTarget { question, call } = target;
    view! {
        <ConfirmButton
            label
            question
            act=Callback::new(move |()| {
                rollback.dispatch(call.clone());
            })
        />
    }
}
