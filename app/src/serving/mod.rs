//! Serving: every inference service a user may see (KServe InferenceServices, and the
//! Deployments that serve models), live, with its rollout, revisions, pods and events, and
//! scaling as the user.
//!
//! `recognise` (which Deployments serve models, and what model: the rule), `cache` (the
//! Deployment, HPA and InferenceService watches), `managers` (who changed an object),
//! `history` (the one writer of what served when), `store` (its table), `server` (the
//! list and one service, as the user), `actions` (scale and roll back, as the user),
//! `autoscale` (an HPA or an InferenceService's bounds, as the user), `rollout` (another
//! model, previewed by the API server's dry run, as the user), `canary` (an
//! InferenceService's traffic split, as the user), `served` (where a
//! registered model served, from the history), `api`
//! (the JSON API and streams), `stream` (the live feeds), `pages`.

#[cfg(feature = "ssr")]
pub mod actions;
#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod autoscale;
#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod canary;
#[cfg(feature = "ssr")]
pub mod history;
#[cfg(feature = "ssr")]
pub mod managers;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod recognise;
#[cfg(feature = "ssr")]
pub mod rollout;
#[cfg(feature = "ssr")]
pub mod served;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod stream;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::rules::Action;
use crate::error::AppError;

/// What kind of object a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServiceKind {
    /// A KServe InferenceService (its predictor's Deployment is folded into it).
    InferenceService,
    /// A Deployment that serves a model (see `recognise`).
    Deployment,
}

impl ServiceKind {
    /// As the URL names it: `/serving/{kind}/{namespace}/{name}`.
    pub fn slug(self) -> &'static str {
        match self {
            ServiceKind::InferenceService => "inferenceservice",
            ServiceKind::Deployment => "deployment",
        }
    }

    pub fn from_slug(slug: &str) -> Result<ServiceKind, AppError> {
        match slug {
            "inferenceservice" => Ok(ServiceKind::InferenceService),
            "deployment" => Ok(ServiceKind::Deployment),
            _ => Err(AppError::invalid(
                "kind",
                "must be inferenceservice or deployment",
            )),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ServiceKind::InferenceService => "InferenceService",
            ServiceKind::Deployment => "Deployment",
        }
    }
}

/// An HPA's bounds and target, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Autoscaling {
    /// The HorizontalPodAutoscaler's name; for an InferenceService, the one KServe made.
    pub name: String,
    pub min: i32,
    pub max: i32,
    /// What it aims at, e.g. "cpu 80%".
    pub target: String,
    /// The replicas it last asked for.
    pub desired: Option<i32>,
    /// Its one target when Gantry's form can edit it; `None` when it aims at something
    /// else (an external metric), or at several: setting autoscaling then replaces them.
    pub goal: Option<Goal>,
    /// A fingerprint of the HPA's spec, which a change to a Deployment's HPA sends back: an
    /// HPA has no `metadata.generation`, and its status moves at every sync.
    pub fingerprint: String,
}

/// What an autoscaler aims at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    /// `cpu` or `memory`: the pods' average utilisation, in percent of their requests. Any
    /// other name: a per-pod custom metric, whose average per pod is aimed at.
    pub metric: String,
    pub value: i32,
}

impl Goal {
    /// Whether `metric` is a resource the autoscaler reads as a utilisation.
    pub fn is_utilisation(metric: &str) -> bool {
        matches!(metric, "cpu" | "memory")
    }
}

impl std::fmt::Display for Goal {
    /// As the list shows an HPA's target: "cpu 80%", "requests_per_second 20 per pod".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if Goal::is_utilisation(&self.metric) {
            write!(f, "{} {}%", self.metric, self.value)
        } else {
            write!(f, "{} {} per pod", self.metric, self.value)
        }
    }
}

/// Replicas as the Deployment's status counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replicas {
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
}

/// One service in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRow {
    pub kind: ServiceKind,
    pub namespace: String,
    pub name: String,
    /// The model server: "KServe sklearn", "vLLM", "TF Serving", a label's value…
    pub server: String,
    /// The model it serves: a storage URI, a model path or id, else the image.
    pub model: String,
    /// The registered model version with that URI, when the registry has one: "name v3".
    pub version: Option<String>,
    pub replicas: Replicas,
    pub autoscaling: Option<Autoscaling>,
    /// Ready, or the reason it is not.
    pub ready: bool,
    pub reason: Option<String>,
    pub url: Option<String>,
}

/// Rows on a page of the services list: the first page is what most people look at, and
/// every answer carries all of its rows.
pub const PAGE_SIZE: usize = 100;

/// What the list's stream sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceList {
    /// One page: at most [`PAGE_SIZE`], by namespace and name.
    pub rows: Vec<ServiceRow>,
    /// Which page (0-based).
    pub page: usize,
    /// The services the caller may see, on all pages.
    pub total: usize,
    /// Set while a watch is failing: the time of the last known state.
    pub stale_since: Option<String>,
}

/// One ReplicaSet of the service's Deployment: what a rollback can return to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub number: i64,
    pub name: String,
    pub image: String,
    pub model: String,
    pub created: String,
    /// Its ready pods.
    pub ready: i32,
    /// The revision the Deployment runs now.
    pub current: bool,
}

/// A pod of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePod {
    pub name: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i32,
    pub node: Option<String>,
    /// Its ReplicaSet's revision.
    pub revision: Option<i64>,
}

/// An event about the service, its ReplicaSets or its pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEvent {
    pub object: String,
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub last_seen: String,
}

/// One row of a service's timeline: what it served from then on, and who changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct HistoryEntry {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`: when Gantry saw the change.
    pub at: String,
    /// `gantry:<user>` for a change made in Gantry, else the writer's field manager
    /// (`kubectl-scale`, `kube-controller-manager`, KServe's `manager`).
    pub actor: String,
    pub change: String,
    pub model: String,
    pub image: String,
    pub revision: i64,
    pub replicas: i32,
    pub autoscaling: String,
}

/// Rows of a service's timeline its page shows, newest first.
pub const HISTORY_SHOWN: i64 = 100;

/// A service in full, read as the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetail {
    pub row: ServiceRow,
    /// The Deployment that runs it (for an InferenceService, its predictor's).
    pub deployment: Option<String>,
    /// The object's `metadata.generation`: a change sends it back, and is refused if the
    /// service's spec changed since (its status may: a rollout moves it all the time).
    pub generation: i64,
    /// The Deployment's Progressing condition: its reason and message.
    pub progressing: Option<String>,
    /// Set when the rollout failed (ProgressDeadlineExceeded): its message.
    pub rollout_failed: Option<String>,
    /// The readiness probe, in words.
    pub readiness_probe: Option<String>,
    pub revisions: Vec<Revision>,
    pub pods: Vec<ServicePod>,
    pub events: Vec<ServiceEvent>,
    /// What it served when, newest first (at most [`HISTORY_SHOWN`]).
    pub history: Vec<HistoryEntry>,
    /// The versions of the registered model it serves, newest first (at most
    /// [`CHOICES_SHOWN`]), for a rollout to pick from; empty when the registry does not
    /// know what it serves.
    pub choices: Vec<ModelChoice>,
    /// An InferenceService's canary: whether KServe splits its traffic, and how.
    pub canary: Option<Canary>,
}

/// An InferenceService's canary, as its spec asks and its status says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// KServe's deployment mode (`status.deploymentMode`, else its annotation): `Standard`
    /// (or `RawDeployment`), `Knative` (or `Serverless`), `ModelMesh`.
    pub mode: String,
    /// Whether KServe splits traffic in that mode: only Knative's revisions can.
    pub splits: bool,
    /// `spec.predictor.canaryTrafficPercent`: the share the newest revision gets.
    pub percent: Option<i64>,
    /// `status.components.predictor.traffic`: how requests are split now.
    pub traffic: Vec<TrafficShare>,
}

/// One revision's share of an InferenceService's requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficShare {
    pub revision: String,
    pub percent: i64,
    /// The newest ready revision (the canary while one is in progress).
    pub latest: bool,
}

/// What a canary change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryAction {
    /// Roll another model out to a share of the requests.
    Start,
    /// Send every request to the canary.
    Promote,
    /// Send every request back to the revision rolled out before the canary.
    Abort,
}

/// What a canary of a plain Deployment can be without a service mesh, as its page and the
/// API's refusal say it.
pub const CANARY_WITHOUT_A_MESH: &str = "A Deployment has no revisions to split requests \
    between: its Service spreads them evenly over the ready pods it selects. Without a service \
    mesh, a canary is a second Deployment whose pods the same Service selects, its share about \
    its ready replicas over all of them (1 pod of 10 is about 10%), rolled out and removed like \
    any Deployment; a weighted split needs KServe in Knative mode or a mesh or gateway (Istio, \
    Linkerd, Gateway API HTTPRoute weights).";

/// The shares a canary may start with, in percent: 0 and 100 are abort and promote.
pub const CANARY_PERCENT: std::ops::RangeInclusive<i64> = 1..=99;

/// Registered versions a service's page offers to roll out to.
pub const CHOICES_SHOWN: i64 = 50;

/// A registered version a service could roll out to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// "iris v2", with its stage when it has one: "iris v2 (Production)".
    pub label: String,
    /// Where its artifacts are: what the service would be given to serve.
    pub uri: String,
}

/// An autoscaling change, as the page and the JSON API send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingChange {
    pub min: i32,
    pub max: i32,
    pub goal: Goal,
    /// What the change is based on: [`ServiceDetail::autoscaling_basis`] as the page showed it.
    pub based_on: String,
}

impl std::fmt::Display for AutoscalingChange {
    /// "1–3 on cpu 75%": the bounds and the goal, as the list shows an HPA.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}–{} on {}", self.min, self.max, self.goal)
    }
}

impl ServiceDetail {
    /// What an autoscaling change is based on, and is refused if it no longer is: an
    /// InferenceService's `metadata.generation` (its predictor holds the bounds), a
    /// Deployment's HPA's fingerprint, empty while it has none.
    pub fn autoscaling_basis(&self) -> String {
        match self.row.kind {
            ServiceKind::InferenceService => self.generation.to_string(),
            ServiceKind::Deployment => self
                .row
                .autoscaling
                .as_ref()
                .map(|a| a.fingerprint.clone())
                .unwrap_or_default(),
        }
    }
}

/// Rolling out another model: the field that changes, from what to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChange {
    /// Its path in the object, e.g. `spec.predictor.model.storageUri`.
    pub field: String,
    pub from: String,
    pub to: String,
    /// False when the service already served it: nothing was sent.
    pub changed: bool,
}

impl std::fmt::Display for ModelChange {
    /// "spec.predictor.model.storageUri: gs://m/1 → gs://m/2", as the preview shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}", self.field, self.from, self.to)
    }
}

/// Where a registered model's versions served, as the caller may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhereServed {
    pub model: String,
    /// The model's namespace.
    pub namespace: String,
    /// Newest first, at most [`SERVED_SHOWN`].
    pub times: Vec<ServedTime>,
}

/// A time a service served one version of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedTime {
    /// The version registered with that URI (the newest, if several were).
    pub version: Option<i64>,
    /// The URI it served.
    pub model: String,
    pub kind: ServiceKind,
    pub namespace: String,
    pub name: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`: when Gantry saw it start serving it.
    pub since: String,
    /// When it stopped (served another model, or was removed); `None` while it serves it.
    pub until: Option<String>,
}

/// Times a model's "where it served" shows.
pub const SERVED_SHOWN: i64 = 200;

/// The most replicas Gantry sets a service to: a typo of 1000 for 10 is refused before it
/// reaches the cluster.
pub const MAX_REPLICAS: i32 = 1_000;

/// The services the caller may see.
#[server(endpoint = "serving/list")]
pub async fn list_services(page: usize) -> Result<ServiceList, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::list(&state, &caller, page).await
}

/// Starts, promotes or aborts an InferenceService's canary as the calling ops admin, if its
/// spec is still at `generation` (`to` and `percent` only to start). Answers what was done;
/// audited whatever the outcome.
#[server(endpoint = "serving/canary")]
pub async fn set_canary(
    namespace: String,
    name: String,
    action: CanaryAction,
    to: String,
    percent: i64,
    generation: i64,
) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    crate::state::to_completion(async move {
        canary::change(
            &state, &caller, &namespace, &name, action, &to, percent, generation,
        )
        .await
    })
    .await
}

/// Where the registered model `name`'s versions served, as the caller may see it.
#[server(endpoint = "serving/served")]
pub async fn get_where_served(name: String) -> Result<WhereServed, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    served::served(&state, &caller, &name).await
}

/// One service in full, as the caller.
#[server(endpoint = "serving/detail")]
pub async fn get_service(
    kind: ServiceKind,
    namespace: String,
    name: String,
) -> Result<ServiceDetail, AppError> {
    let (state, caller) = crate::state::caller(Action::View, None)?;
    server::detail(&state, &caller, kind, &namespace, &name).await
}

/// Scales a Deployment through its scale subresource, as the calling ops admin, if its spec
/// is still at `generation`; audited whatever the outcome.
#[server(endpoint = "serving/scale")]
pub async fn scale_service(
    kind: ServiceKind,
    namespace: String,
    name: String,
    replicas: i32,
    generation: i64,
) -> Result<(), AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    crate::state::to_completion(async move {
        actions::scale(
            &state, &caller, kind, &namespace, &name, replicas, generation,
        )
        .await
    })
    .await
}

/// Rolls the service back as the calling ops admin, if its spec is still at `generation`:
/// a Deployment to revision `to_revision` (0: the one before the current), as `kubectl
/// rollout undo` does; an InferenceService to the model it served before. Answers what it
/// rolled back to; audited whatever the outcome.
#[server(endpoint = "serving/rollback")]
pub async fn roll_back_service(
    kind: ServiceKind,
    namespace: String,
    name: String,
    to_revision: i64,
    generation: i64,
) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    let done = crate::state::to_completion(async move {
        actions::roll_back(
            &state,
            &caller,
            kind,
            &namespace,
            &name,
            to_revision,
            generation,
        )
        .await
    })
    .await?;
    Ok(if done.changed {
        format!("Rolled back to {}.", done.to)
    } else {
        format!("Nothing to do: {} is already what runs.", done.to)
    })
}

/// Sets the service's autoscaling as the calling ops admin, if it is still as
/// `change.based_on` says: a Deployment's HPA is created or changed (its metrics replaced
/// by the one goal); an InferenceService's predictor gets the bounds, `scaleMetric` and
/// `scaleTarget`, which KServe's HPA follows. Answers what was done; audited whatever the
/// outcome.
#[server(endpoint = "serving/autoscale", input = server_fn::codec::Json)]
pub async fn set_autoscaling(
    kind: ServiceKind,
    namespace: String,
    name: String,
    change: AutoscalingChange,
) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    crate::state::to_completion(async move {
        autoscale::set(&state, &caller, kind, &namespace, &name, &change).await
    })
    .await
}

/// Deletes a Deployment's HPA as the calling ops admin, if its spec is still as `based_on`
/// says; the replicas stay where the HPA left them. Audited whatever the outcome.
#[server(endpoint = "serving/autoscale/remove")]
pub async fn remove_autoscaling(
    kind: ServiceKind,
    namespace: String,
    name: String,
    based_on: String,
) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    crate::state::to_completion(async move {
        autoscale::remove(&state, &caller, kind, &namespace, &name, &based_on).await
    })
    .await
}

/// The change rolling the service out to `to` would make, sent to the API server as a dry
/// run as the calling ops admin (its RBAC, validation and admission webhooks answer; nothing
/// is stored), if its spec is still at `generation`.
#[server(endpoint = "serving/rollout/preview")]
pub async fn preview_rollout(
    kind: ServiceKind,
    namespace: String,
    name: String,
    to: String,
    generation: i64,
) -> Result<ModelChange, AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    rollout::roll_out(
        &state, &caller, kind, &namespace, &name, &to, generation, true,
    )
    .await
}

/// Rolls the service out to the model `to` as the calling ops admin, if its spec is still
/// at `generation`. Answers what changed; audited whatever the outcome.
#[server(endpoint = "serving/rollout")]
pub async fn roll_out_service(
    kind: ServiceKind,
    namespace: String,
    name: String,
    to: String,
    generation: i64,
) -> Result<String, AppError> {
    let (state, caller) = crate::state::caller(Action::OperateCluster, None)?;
    let done = crate::state::to_completion(async move {
        rollout::roll_out(
            &state, &caller, kind, &namespace, &name, &to, generation, false,
        )
        .await
    })
    .await?;
    Ok(if done.changed {
        format!("Rolled out: {done}.")
    } else {
        format!("Nothing to do: it already serves {}.", done.to)
    })
}
