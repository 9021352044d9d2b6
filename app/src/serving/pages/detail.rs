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
use super::record::{Events, History, Pods};
use super::rollback::{PreviousModel, Revisions};
use super::rollout::RolloutForm;
use super::scale::{ScaleBasis, ScaleForm};
use super::{autoscaling_text, model_text, replicas_text, status_text, ServiceTarget};
use crate::error::AppError;
use crate::live::{self, LiveBadge};
use crate::serving::{
    PreviewRollout, RemoveAutoscaling, RollBackService, RollOutService, ScaleService,
    ServiceDetail, SetAutoscaling, SetCanary,
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
            // Outside the live part: the stream's updates do not redraw (or refetch) charts.
            <crate::metrics::pages::charts::ChartsSection
                testid="service-metrics"
                title="Traffic"
                off="Prometheus not configured: set GANTRY_PROMETHEUS_URL to chart this service's traffic."
                fetch=move |p| {
                    let (kind, namespace, name) = key.get();
                    crate::metrics::get_service_charts(kind, namespace, name, p.range, p.from, p.to)
                }
            />
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
        <PreviousModel detail generation can_operate rollback />
        <History detail />
        <Revisions detail generation can_operate rollback />
        <Pods detail />
        <Events detail />
    }
}
