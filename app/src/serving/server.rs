//! The Serving area's answers as the caller may see them (server only), shared by the
//! server functions, the JSON API and the live feeds.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, Probe};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::Api;

use super::cache::{
    canary_of, kserve_predictor, revision_number, seen_inference_service, served_deployment, Held,
};
use super::recognise::{image_of, model_of, Recognised};
use super::{
    ModelChoice, Revision, ServiceDetail, ServiceEvent, ServiceKind, ServiceList, ServicePod,
    ServiceRow, CHOICES_SHOWN, PAGE_SIZE,
};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;
use crate::time::format_unix;

/// The most events a service's page shows, newest first.
const EVENTS_SHOWN: usize = 50;

/// What RBAC calls each kind: (group, resource).
fn resource(kind: ServiceKind) -> (&'static str, &'static str) {
    match kind {
        ServiceKind::InferenceService => ("serving.kserve.io", "inferenceservices"),
        ServiceKind::Deployment => ("apps", "deployments"),
    }
}

/// KServe's InferenceService, for requests made without discovery.
pub(super) fn inference_services() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "serving.kserve.io",
        "v1beta1",
        "InferenceService",
    ))
}

/// The services the caches hold, by (namespace, name, kind), before access is checked:
/// the Deployments in order, then the InferenceServices in order.
fn keys(held: &Held) -> Vec<(&str, &str, ServiceKind)> {
    let deployments = held
        .deployments
        .iter()
        .filter(|(_, d)| matches!(d.recognised, Recognised::Server { .. }))
        .map(|((namespace, name), _)| (namespace.as_str(), name.as_str(), ServiceKind::Deployment));
    let inference_services = held.inference_services.keys().map(|(namespace, name)| {
        (
            namespace.as_str(),
            name.as_str(),
            ServiceKind::InferenceService,
        )
    });
    deployments.chain(inference_services).collect()
}

/// The list's row of one service the caches hold.
fn row(held: &Held, (namespace, name, kind): (&str, &str, ServiceKind)) -> Option<ServiceRow> {
    let key = (namespace.to_string(), name.to_string());
    match kind {
        ServiceKind::Deployment => {
            let d = held.deployments.get(&key)?;
            let Recognised::Server { server, model } = &d.recognised else {
                return None;
            };
            Some(ServiceRow {
                kind,
                namespace: key.0,
                name: key.1,
                server: server.clone(),
                model: model.clone(),
                version: None,
                replicas: d.replicas,
                autoscaling: held.autoscaler_of(namespace, name).cloned(),
                ready: d.ready,
                reason: d.reason.clone(),
                url: None,
            })
        }
        ServiceKind::InferenceService => {
            let isvc = held.inference_services.get(&key)?;
            let predictor = held.predictor_of(namespace, name);
            Some(ServiceRow {
                kind,
                server: isvc.server.clone(),
                model: isvc.model.clone(),
                version: None,
                replicas: predictor.map(|(_, d)| d.replicas).unwrap_or_default(),
                autoscaling: predictor
                    .and_then(|(deployment, _)| held.autoscaler_of(namespace, deployment))
                    .cloned(),
                ready: isvc.ready,
                reason: isvc.reason.clone(),
                url: isvc.url.clone(),
                namespace: key.0,
                name: key.1,
            })
        }
    }
}

/// Of the `services`' namespaces, by kind, those where the caller may list that kind: by
/// Gantry's rules and by the cluster's RBAC.
pub(super) async fn visible<'a>(
    state: &AppState,
    caller: &Caller,
    services: impl Iterator<Item = (ServiceKind, &'a str)> + Clone,
) -> Result<HashMap<ServiceKind, BTreeSet<String>>, AppError> {
    let mut visible = HashMap::new();
    for kind in [ServiceKind::Deployment, ServiceKind::InferenceService] {
        let namespaces = services.clone().filter(|s| s.0 == kind).map(|s| s.1);
        let allowed = state
            .cluster
            .namespaces_listing(caller, resource(kind), namespaces)
            .await?;
        visible.insert(kind, allowed);
    }
    Ok(visible)
}

/// The services the caller may see (Gantry's namespaces, and the cluster's RBAC for listing
/// each kind there), by namespace and name; page `page` of [`PAGE_SIZE`].
pub async fn list(state: &AppState, caller: &Caller, page: usize) -> Result<ServiceList, AppError> {
    caller.check(Action::View, None)?;
    // The caches are read twice, and never held while access reviews are awaited: once for
    // the namespaces to review, then for the page, whose rows alone are made (1,000
    // services are merged by reference, 100 copied).
    let namespaces: Vec<(ServiceKind, String)> = {
        let held = state.services.read()?;
        let mut namespaces: Vec<(ServiceKind, &str)> = keys(&held)
            .into_iter()
            .map(|(namespace, _, kind)| (kind, namespace))
            .collect();
        // In order within each kind: a namespace's services are next to each other.
        namespaces.dedup();
        namespaces
            .into_iter()
            .map(|(kind, namespace)| (kind, namespace.to_string()))
            .collect()
    };
    let visible = visible(
        state,
        caller,
        namespaces
            .iter()
            .map(|(kind, namespace)| (*kind, namespace.as_str())),
    )
    .await?;
    let (total, mut rows) = {
        let held = state.services.read()?;
        let mut keys = keys(&held);
        keys.retain(|(namespace, _, kind)| visible[kind].contains(*namespace));
        // Two ordered runs: the stable sort merges them in one pass.
        keys.sort();
        let rows: Vec<ServiceRow> = keys
            .iter()
            .skip(page.saturating_mul(PAGE_SIZE))
            .take(PAGE_SIZE)
            .filter_map(|key| row(&held, *key))
            .collect();
        (keys.len(), rows)
    };
    name_versions(state, caller, &mut rows).await?;
    Ok(ServiceList {
        rows,
        page,
        total,
        stale_since: state.services.stale_since().map(format_unix),
    })
}

/// Names the registered version each row serves, when the registry has one with that URI
/// in a namespace the caller may see (the newest, if several were registered from it);
/// answers the registered model's name by URI.
async fn name_versions(
    state: &AppState,
    caller: &Caller,
    rows: &mut [ServiceRow],
) -> Result<HashMap<String, String>, AppError> {
    let sources: Vec<String> = rows
        .iter()
        .map(|r| r.model.clone())
        .filter(|m| !m.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if sources.is_empty() {
        return Ok(HashMap::new());
    }
    let mut named: HashMap<String, (String, String)> = HashMap::new();
    for (source, model, namespace, version) in
        crate::models::store::versions_by_source(&state.db, &sources).await?
    {
        if caller.check(Action::View, Some(&namespace)).is_ok() {
            named
                .entry(source)
                .or_insert_with(|| (format!("{model} v{version}"), model));
        }
    }
    for row in rows {
        row.version = named.get(&row.model).map(|(version, _)| version.clone());
    }
    Ok(named
        .into_iter()
        .map(|(source, (_, model))| (source, model))
        .collect())
}

/// The newest versions of registered model `model` (the one a service serves, as
/// [`name_versions`] found it): what a rollout may pick from.
async fn model_choices(
    state: &AppState,
    model: Option<&str>,
) -> Result<Vec<ModelChoice>, AppError> {
    use crate::models::store;
    let Some(model) = model else {
        return Ok(Vec::new());
    };
    let Some(registered) = store::registered(&state.db, model).await? else {
        return Ok(Vec::new());
    };
    let versions = store::newest_versions(&state.db, registered.id, CHOICES_SHOWN).await?;
    Ok(versions
        .into_iter()
        .map(|v| ModelChoice {
            label: match v.stage.as_str() {
                "" | "None" => format!("{} v{}", v.name, v.version),
                stage => format!("{} v{} ({stage})", v.name, v.version),
            },
            uri: v.source,
        })
        .collect())
}

/// The Deployment whose pods serve `namespace/name` (an InferenceService's predictor), for
/// a caller the cluster lets get it; from the caches, so a made-up name costs nothing.
pub async fn serving_deployment(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
) -> Result<String, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::View, Some(namespace))?;
    let what = format!("{} {namespace}/{name}", kind.label());
    if !state
        .cluster
        .allowed(caller, "get", resource(kind), Some(namespace))
        .await?
    {
        return Err(AppError::forbidden(format!(
            "the cluster does not let you get {what}"
        )));
    }
    let held = state.services.read()?;
    let key = (namespace.to_string(), name.to_string());
    let deployment = match kind {
        ServiceKind::Deployment => held
            .deployments
            .get(&key)
            .filter(|d| matches!(d.recognised, Recognised::Server { .. }))
            .map(|_| name.to_string()),
        ServiceKind::InferenceService => held
            .inference_services
            .contains_key(&key)
            .then(|| held.predictor_name(namespace, name)),
    };
    deployment.ok_or_else(|| AppError::not_found(what))
}

/// One service in full, read as the caller: the object, its Deployment's rollout,
/// ReplicaSets (revisions), pods and events.
pub async fn detail(
    state: &AppState,
    caller: &Caller,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
) -> Result<ServiceDetail, AppError> {
    crate::names::check_object(namespace, name)?;
    caller.check(Action::View, Some(namespace))?;
    let client = state.cluster.as_user(caller)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let what = format!("{} {namespace}/{name}", kind.label());
    let (mut row, deployment, generation, canary) = match kind {
        ServiceKind::Deployment => {
            let d = deployments
                .get(name)
                .await
                .map_err(|e| AppError::from_kube(e, &what))?;
            let served = served_deployment(&d)
                .filter(|s| matches!(s.recognised, Recognised::Server { .. }))
                .ok_or_else(|| AppError::not_found(&what))?;
            let Recognised::Server { server, model } = served.recognised else {
                unreachable!("filtered above")
            };
            let row = ServiceRow {
                kind,
                namespace: namespace.into(),
                name: name.into(),
                server,
                model,
                version: None,
                replicas: served.replicas,
                autoscaling: None,
                ready: served.ready,
                reason: served.reason,
                url: None,
            };
            let generation = d.metadata.generation.unwrap_or_default();
            (row, Some(d), generation, None)
        }
        ServiceKind::InferenceService => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &inference_services());
            let isvc = api
                .get(name)
                .await
                .map_err(|e| AppError::from_kube(e, &what))?;
            let seen = seen_inference_service(&isvc).ok_or_else(|| AppError::not_found(&what))?;
            // Read from the cluster, so the page answers while the caches still load.
            let predictor = state.services.read().map_or_else(
                |_| kserve_predictor(name),
                |held| held.predictor_name(namespace, name),
            );
            // Not there yet while KServe reconciles: the page says so.
            let d = match deployments.get(&predictor).await {
                Ok(d) => Some(d),
                Err(kube::Error::Api(status)) if status.code == 404 => None,
                Err(e) => return Err(AppError::from_kube(e, &format!("deployment {predictor}"))),
            };
            let row = ServiceRow {
                kind,
                namespace: namespace.into(),
                name: name.into(),
                server: seen.server,
                model: seen.model,
                version: None,
                replicas: d
                    .as_ref()
                    .and_then(served_deployment)
                    .map(|s| s.replicas)
                    .unwrap_or_default(),
                autoscaling: None,
                ready: seen.ready,
                reason: seen.reason,
                url: seen.url,
            };
            let generation = isvc.metadata.generation.unwrap_or_default();
            (row, d, generation, Some(canary_of(&isvc)))
        }
    };
    if let Some(d) = &deployment {
        let d_name = d.metadata.name.clone().unwrap_or_default();
        row.autoscaling = state
            .services
            .read()
            .ok()
            .and_then(|held| held.autoscaler_of(namespace, &d_name).cloned());
    }
    let registered = name_versions(state, caller, std::slice::from_mut(&mut row)).await?;
    let choices = model_choices(state, registered.get(&row.model).map(String::as_str)).await?;
    let key = (kind, namespace.to_string(), name.to_string());
    let history = super::store::of_service(&state.db, &key, super::HISTORY_SHOWN).await?;
    let Some(d) = deployment else {
        return Ok(ServiceDetail {
            row,
            deployment: None,
            generation,
            progressing: None,
            rollout_failed: None,
            readiness_probe: None,
            revisions: Vec::new(),
            pods: Vec::new(),
            events: Vec::new(),
            history,
            choices,
            canary,
        });
    };
    let (revisions, pods, events) = workload(client, namespace, name, &d).await?;
    let conditions = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let progressing = conditions.iter().find(|c| c.type_ == "Progressing");
    let rollout_failed = progressing
        .filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
        .map(|c| c.message.clone().unwrap_or_default());
    let progressing = progressing.map(|c| {
        format!(
            "{}: {}",
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default()
        )
    });
    let readiness_probe = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.readiness_probe.as_ref())
        .map(describe_probe);
    Ok(ServiceDetail {
        row,
        deployment: d.metadata.name.clone(),
        generation,
        progressing,
        rollout_failed,
        readiness_probe,
        revisions,
        pods,
        events,
        history,
        choices,
        canary,
    })
}

/// The Deployment's ReplicaSets (newest revision first), pods and recent events, read as
/// the caller.
async fn workload(
    client: kube::Client,
    namespace: &str,
    service: &str,
    d: &Deployment,
) -> Result<(Vec<Revision>, Vec<ServicePod>, Vec<ServiceEvent>), AppError> {
    let selector = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let current = revision_number(&d.metadata);
    let listing = ListParams::default().labels(&selector);
    let sets = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
        .list(&listing)
        .await
        .map_err(|e| AppError::from_kube(e, "replica sets"))?;
    let mut revisions: Vec<Revision> = sets
        .items
        .iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .map(|rs| {
            let template = rs
                .spec
                .as_ref()
                .and_then(|s| s.template.clone())
                .unwrap_or_default();
            let number = revision_number(&rs.metadata);
            Revision {
                number,
                name: rs.metadata.name.clone().unwrap_or_default(),
                image: image_of(&template),
                model: model_of(&template),
                created: rs
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
                ready: rs
                    .status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0),
                current: number == current,
            }
        })
        .collect();
    revisions.sort_by_key(|r| std::cmp::Reverse(r.number));
    let revision_of: HashMap<String, i64> = sets
        .items
        .iter()
        .filter_map(|rs| {
            let hash = rs
                .metadata
                .labels
                .as_ref()?
                .get("pod-template-hash")?
                .clone();
            Some((hash, revision_number(&rs.metadata)))
        })
        .collect();
    let pod_list = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&listing)
        .await
        .map_err(|e| AppError::from_kube(e, "pods"))?;
    let mut pods: Vec<ServicePod> = pod_list
        .items
        .iter()
        .map(|p| {
            let status = p.status.clone().unwrap_or_default();
            let containers = status.container_statuses.clone().unwrap_or_default();
            ServicePod {
                name: p.metadata.name.clone().unwrap_or_default(),
                phase: status.phase.clone().unwrap_or_default(),
                ready: !containers.is_empty() && containers.iter().all(|c| c.ready),
                restarts: containers.iter().map(|c| c.restart_count).sum(),
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                revision: p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("pod-template-hash"))
                    .and_then(|h| revision_of.get(h).copied()),
            }
        })
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    let mut about: BTreeSet<String> = pods.iter().map(|p| p.name.clone()).collect();
    about.extend(revisions.iter().map(|r| r.name.clone()));
    about.insert(d.metadata.name.clone().unwrap_or_default());
    about.insert(service.to_string());
    let events = Api::<Event>::namespaced(client, namespace)
        .list(&ListParams::default().limit(500))
        .await
        .map_err(|e| AppError::from_kube(e, "events"))?;
    let mut events: Vec<ServiceEvent> = events
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object
                .name
                .as_ref()
                .is_some_and(|n| about.contains(n))
        })
        .map(|e| {
            let last_seen = e
                .last_timestamp
                .map(|t| t.0)
                .or(e.event_time.map(|t| t.0))
                .or(e.metadata.creation_timestamp.map(|t| t.0));
            ServiceEvent {
                object: format!(
                    "{} {}",
                    e.involved_object.kind.unwrap_or_default(),
                    e.involved_object.name.unwrap_or_default()
                ),
                kind: e.type_.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                last_seen: last_seen.map(|t| t.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    events.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
    events.truncate(EVENTS_SHOWN);
    Ok((revisions, pods, events))
}

/// A probe as a person reads it: "HTTP GET :8501/v1/models/resnet, after 5 s, every 10 s".
fn describe_probe(probe: &Probe) -> String {
    let port = |p: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString| match p {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    };
    let how = if let Some(http) = &probe.http_get {
        format!(
            "HTTP GET :{}{}",
            port(&http.port),
            http.path.clone().unwrap_or_default()
        )
    } else if let Some(tcp) = &probe.tcp_socket {
        format!("TCP :{}", port(&tcp.port))
    } else if let Some(grpc) = &probe.grpc {
        format!("gRPC :{}", grpc.port)
    } else if let Some(exec) = &probe.exec {
        format!(
            "exec {}",
            exec.command.clone().unwrap_or_default().join(" ")
        )
    } else {
        "unknown".into()
    };
    format!(
        "{how}, after {} s, every {} s",
        probe.initial_delay_seconds.unwrap_or(0),
        probe.period_seconds.unwrap_or(10)
    )
}
