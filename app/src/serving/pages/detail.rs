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
use crate::serving::{ScaleService, ServiceDetail, ServiceKind};

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
                Some(Ok(detail)) => view! { <ServiceView detail scale can_operate /> }.into_any(),
            }}
            <p class="form-error" role="alert" data-testid="scale-error">
                {move || scale.value().get().and_then(Result::err).map(|e| e.to_string())}
            </p>
        </section>
    }
}

#[component]
fn ServiceView(
    detail: ServiceDetail,
    scale: ServerAction<ScaleService>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let row = detail.row.clone();
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
                    </tr>
                </thead>
                <tbody>
                    {detail
                        .revisions
                        .iter()
                        .map(|rev| {
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
