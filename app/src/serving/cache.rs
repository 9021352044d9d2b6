//! The serving workloads, followed by watches (server only) and read with Gantry's own
//! account: Deployments that serve models (see `recognise`), HorizontalPodAutoscalers, and
//! KServe's InferenceServices once discovery finds their CRD (looked for at start, then
//! every five minutes, so KServe installed later appears without a restart).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec};
use kube::api::DynamicObject;
use kube::discovery::Discovery;
use kube::runtime::watcher;
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use super::managers::Managers;
use super::recognise::{image_of, recognise, Recognised};
use super::{Autoscaling, Canary, Goal, Replicas, TrafficShare};
use crate::cluster::Cluster;
use crate::error::AppError;
use crate::locks;
use crate::watch::{self, Change, StaleMarks};

/// (namespace, name) of the object itself.
pub type Key = (String, String);

/// A Deployment that serves models, as the list needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedDeployment {
    pub recognised: Recognised,
    /// The first container's image and the revision the Deployment runs.
    pub image: String,
    pub revision: i64,
    pub managers: Managers,
    pub replicas: Replicas,
    /// Every replica updated and available.
    pub ready: bool,
    /// Why not: ProgressDeadlineExceeded's message, or what is still missing.
    pub reason: Option<String>,
}

/// An HPA and the Deployment it scales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAutoscaler {
    /// The Deployment it scales (only Deployments are followed).
    pub target: String,
    pub autoscaling: Autoscaling,
    pub managers: Managers,
}

/// A KServe InferenceService.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenInferenceService {
    pub server: String,
    pub model: String,
    pub min_replicas: Option<i32>,
    pub max_replicas: Option<i32>,
    pub ready: bool,
    pub reason: Option<String>,
    pub url: Option<String>,
    pub managers: Managers,
}

/// The name KServe gives InferenceService `name`'s predictor Deployment.
pub fn kserve_predictor(name: &str) -> String {
    format!("{name}-predictor")
}

/// The objects of `map` in `namespace`, by name: the maps are ordered by (namespace, name),
/// so finding them costs the namespace's objects, not every one.
fn in_namespace<'m, 'n, T>(
    map: &'m BTreeMap<Key, T>,
    namespace: &'n str,
) -> impl Iterator<Item = (&'m str, &'m T)> + use<'m, 'n, T> {
    map.range((namespace.to_string(), String::new())..)
        .take_while(move |((ns, _), _)| ns == namespace)
        .map(|((_, name), value)| (name.as_str(), value))
}

/// What the watches hold, ordered by (namespace, name) as the list shows them.
#[derive(Default)]
pub struct Held {
    pub deployments: BTreeMap<Key, ServedDeployment>,
    pub autoscalers: BTreeMap<Key, SeenAutoscaler>,
    pub inference_services: BTreeMap<Key, SeenInferenceService>,
}

impl Held {
    /// The HPA scaling Deployment `name` in `namespace`.
    pub fn autoscaler_of(&self, namespace: &str, name: &str) -> Option<&Autoscaling> {
        self.seen_autoscaler_of(namespace, name)
            .map(|a| &a.autoscaling)
    }

    /// The HPA scaling Deployment `name` in `namespace`, with who wrote it.
    pub fn seen_autoscaler_of(&self, namespace: &str, name: &str) -> Option<&SeenAutoscaler> {
        in_namespace(&self.autoscalers, namespace)
            .find(|(_, a)| a.target == name)
            .map(|(_, a)| a)
    }

    /// The name of InferenceService `name`'s predictor Deployment: the one KServe made or,
    /// before it has, the name it will give it.
    pub fn predictor_name(&self, namespace: &str, name: &str) -> String {
        self.predictor_of(namespace, name)
            .map_or_else(|| kserve_predictor(name), |(d, _)| d.to_string())
    }

    /// The Deployment KServe made for InferenceService `name`, and its state.
    pub fn predictor_of(&self, namespace: &str, name: &str) -> Option<(&str, &ServedDeployment)> {
        let part_of =
            |d: &ServedDeployment| matches!(&d.recognised, Recognised::PartOf(i) if i == name);
        // KServe names it `{name}-predictor`: found at once, as the list asks for each
        // InferenceService on a page; any other name, by its label, the long way.
        let usual = (namespace.to_string(), kserve_predictor(name));
        if let Some((key, d)) = self
            .deployments
            .get_key_value(&usual)
            .filter(|(_, d)| part_of(d))
        {
            return Some((key.1.as_str(), d));
        }
        in_namespace(&self.deployments, namespace).find(|(_, d)| part_of(d))
    }
}

struct Shared {
    held: RwLock<Held>,
    /// Whether the Deployment and HPA watches have listed once.
    deployments_synced: AtomicBool,
    autoscalers_synced: AtomicBool,
    stale: StaleMarks,
    changes: tokio::sync::watch::Sender<u64>,
    /// Ticks when the history writer appended rows.
    history: tokio::sync::watch::Sender<u64>,
}

/// The serving workloads, as last seen; cheap to clone.
#[derive(Clone)]
pub struct Services {
    shared: Arc<Shared>,
}

const DEPLOYMENTS: &str = "deployments";
const AUTOSCALERS: &str = "horizontalpodautoscalers";
const INFERENCE_SERVICES: &str = "inferenceservices";

impl Services {
    /// Starts the watches in the background once `cluster` is connected.
    pub fn start(cluster: Cluster) -> Services {
        let services = Services {
            shared: Arc::new(Shared {
                held: RwLock::default(),
                deployments_synced: AtomicBool::new(false),
                autoscalers_synced: AtomicBool::new(false),
                stale: StaleMarks::default(),
                changes: tokio::sync::watch::Sender::new(0),
                history: tokio::sync::watch::Sender::new(0),
            }),
        };
        let shared = services.shared.clone();
        tokio::spawn(async move {
            let client = cluster.wait_for_client().await;
            tokio::spawn(watch::follow(
                DEPLOYMENTS,
                Api::<Deployment>::all(client.clone()),
                watcher::Config::default(),
                |d| (key(&d.metadata), served_deployment(&d)),
                Into {
                    watch: DEPLOYMENTS,
                    shared: shared.clone(),
                    place: |held| &mut held.deployments,
                    synced: Some(|shared| &shared.deployments_synced),
                },
            ));
            tokio::spawn(watch::follow(
                AUTOSCALERS,
                Api::<HorizontalPodAutoscaler>::all(client.clone()),
                watcher::Config::default(),
                |h| (key(&h.metadata), seen_autoscaler(&h)),
                Into {
                    watch: AUTOSCALERS,
                    shared: shared.clone(),
                    place: |held| &mut held.autoscalers,
                    synced: Some(|shared| &shared.autoscalers_synced),
                },
            ));
            follow_inference_services(client, shared).await;
        });
        services
    }

    /// The workloads, for reading; 503 until the Deployments and HPAs are listed.
    pub fn read(&self) -> Result<RwLockReadGuard<'_, Held>, AppError> {
        if !self.shared.deployments_synced.load(Ordering::Relaxed)
            || !self.shared.autoscalers_synced.load(Ordering::Relaxed)
        {
            return Err(AppError::unavailable(
                "Kubernetes",
                "the inference services are still loading",
            ));
        }
        Ok(locks::read(&self.shared.held))
    }

    /// Since when the list may be out of date (the earliest failing watch), if it is.
    pub fn stale_since(&self) -> Option<u64> {
        self.shared.stale.since()
    }

    /// Ticks whenever a serving workload changes, or a watch fails or recovers.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Says that the history writer appended rows (see [`Services::history_changes`]).
    pub fn history_written(&self) {
        self.shared.history.send_modify(|n| *n += 1);
    }

    /// Ticks after the history writer appended rows: a service's page shows them.
    pub fn history_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.history.subscribe()
    }
}

/// The `deployment.kubernetes.io/revision` annotation of a Deployment or ReplicaSet, 0 when
/// absent.
pub fn revision_number(meta: &kube::api::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get("deployment.kubernetes.io/revision"))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn key(meta: &kube::api::ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// What the list shows of a Deployment that serves models; `None` for any other.
pub fn served_deployment(d: &Deployment) -> Option<ServedDeployment> {
    let recognised = recognise(d)?;
    let status = d.status.clone().unwrap_or_default();
    let replicas = Replicas {
        desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
    };
    let failed = status
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
        .map(|c| {
            c.message
                .clone()
                .unwrap_or_else(|| "ProgressDeadlineExceeded".into())
        });
    let ready = failed.is_none()
        && replicas.updated >= replicas.desired
        && replicas.available >= replicas.desired;
    let reason = failed.or_else(|| {
        (!ready).then(|| {
            format!(
                "{} of {} replicas updated, {} available",
                replicas.updated, replicas.desired, replicas.available
            )
        })
    });
    Some(ServedDeployment {
        recognised,
        image: d
            .spec
            .as_ref()
            .map(|s| image_of(&s.template))
            .unwrap_or_default(),
        revision: revision_number(&d.metadata),
        managers: Managers::of(&d.metadata),
        replicas,
        ready,
        reason,
    })
}

/// The Deployment an HPA scales; `None` when it scales anything else.
pub fn scaled_deployment(h: &HorizontalPodAutoscaler) -> Option<&str> {
    let target = &h.spec.scale_target_ref;
    (target.kind == "Deployment").then_some(target.name.as_str())
}

/// An HPA that scales a Deployment; `None` for one that scales anything else.
pub fn seen_autoscaler(h: &HorizontalPodAutoscaler) -> Option<SeenAutoscaler> {
    let deployment = scaled_deployment(h)?.to_string();
    let spec = &h.spec;
    let target = spec
        .metrics
        .iter()
        .flatten()
        .map(|m| match (&m.resource, &m.external, &m.pods) {
            (Some(r), _, _) => match (r.target.average_utilization, &r.target.average_value) {
                (Some(percent), _) => format!("{} {percent}%", r.name),
                (None, Some(value)) => format!("{} {}", r.name, value.0),
                (None, None) => r.name.clone(),
            },
            (_, Some(e), _) => format!("{} (external)", e.metric.name),
            (_, _, Some(p)) => match &p.target.average_value {
                Some(value) => format!("{} {} per pod", p.metric.name, value.0),
                None => format!("{} per pod", p.metric.name),
            },
            _ => m.type_.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    Some(SeenAutoscaler {
        target: deployment,
        autoscaling: Autoscaling {
            name: h.metadata.name.clone().unwrap_or_default(),
            min: spec.min_replicas.unwrap_or(1),
            max: spec.max_replicas,
            target: if target.is_empty() {
                "cpu 80%".into()
            } else {
                target
            },
            desired: h.status.as_ref().map(|s| s.desired_replicas),
            goal: goal_of(spec),
            fingerprint: fingerprint(spec),
        },
        managers: Managers::of(&h.metadata),
    })
}

/// The HPA's one target, when it is one Gantry's form can set (see [`Goal`]); an HPA
/// without metrics aims at 80% CPU.
fn goal_of(spec: &HorizontalPodAutoscalerSpec) -> Option<Goal> {
    let metrics = spec.metrics.as_deref().unwrap_or_default();
    let [metric] = metrics else {
        return metrics.is_empty().then(|| Goal {
            metric: "cpu".into(),
            value: 80,
        });
    };
    if let Some(r) = &metric.resource {
        let value = r.target.average_utilization?;
        return Goal::is_utilisation(&r.name).then(|| Goal {
            metric: r.name.clone(),
            value,
        });
    }
    let pods = metric.pods.as_ref()?;
    let value = pods.target.average_value.as_ref()?.0.parse().ok()?;
    Some(Goal {
        metric: pods.metric.name.clone(),
        value,
    })
}

/// The HPA spec's fingerprint: a change is refused when the spec it was based on is gone.
/// Serialised by its typed fields, so the same spec gives the same text on every replica.
pub fn fingerprint(spec: &HorizontalPodAutoscalerSpec) -> String {
    let text = serde_json::to_vec(spec).unwrap_or_default();
    Sha256::digest(&text)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The InferenceService's canary as its spec and status say.
pub fn canary_of(isvc: &DynamicObject) -> Canary {
    let mode = isvc.data["status"]["deploymentMode"]
        .as_str()
        .or_else(|| {
            isvc.metadata
                .annotations
                .as_ref()?
                .get("serving.kserve.io/deploymentMode")
                .map(String::as_str)
        })
        .unwrap_or_default()
        .to_string();
    let traffic = isvc.data["status"]["components"]["predictor"]["traffic"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TrafficShare {
            revision: t["revisionName"].as_str().unwrap_or_default().to_string(),
            percent: t["percent"].as_i64().unwrap_or_default(),
            latest: t["latestRevision"].as_bool().unwrap_or_default(),
        })
        .collect();
    Canary {
        splits: matches!(mode.as_str(), "Knative" | "Serverless"),
        mode,
        percent: isvc.data["spec"]["predictor"]["canaryTrafficPercent"].as_i64(),
        traffic,
    }
}

/// What the list shows of an InferenceService: its predictor's model (format and storage
/// URI) or custom container, replica bounds, Ready condition and URL.
pub fn seen_inference_service(object: &DynamicObject) -> Option<SeenInferenceService> {
    let predictor = &object.data["spec"]["predictor"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let (server, model) = if predictor["model"].is_object() {
        let format = text(&predictor["model"]["modelFormat"]["name"]).unwrap_or_default();
        (
            format!("KServe {format}").trim_end().to_string(),
            text(&predictor["model"]["storageUri"]).unwrap_or_default(),
        )
    } else {
        let container = &predictor["containers"][0];
        let uri = container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == "STORAGE_URI" || e["name"] == "MODEL_URI")
            .and_then(|e| text(&e["value"]));
        (
            "KServe custom".to_string(),
            uri.or_else(|| text(&container["image"]))
                .unwrap_or_default(),
        )
    };
    let conditions = object.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready_condition = conditions.iter().find(|c| c["type"] == "Ready");
    let ready = ready_condition.is_some_and(|c| c["status"] == "True");
    let reason = (!ready).then(|| {
        ready_condition
            .and_then(|c| text(&c["message"]).or_else(|| text(&c["reason"])))
            .unwrap_or_else(|| "not reconciled yet".into())
    });
    let replicas = |field: &str| predictor[field].as_i64().map(|n| n as i32);
    Some(SeenInferenceService {
        server,
        model,
        min_replicas: replicas("minReplicas"),
        max_replicas: replicas("maxReplicas"),
        ready,
        reason,
        url: text(&object.data["status"]["url"]),
        managers: Managers::of(&object.metadata),
    })
}

/// Finds KServe's InferenceService (every five minutes until it is installed) and follows it.
async fn follow_inference_services(client: Client, shared: Arc<Shared>) {
    const GROUP: &str = "serving.kserve.io";
    loop {
        if let Ok(discovery) = Discovery::new(client.clone()).filter(&[GROUP]).run().await {
            let found = discovery
                .groups()
                .flat_map(|g| g.recommended_resources())
                .find(|(r, _)| r.kind == "InferenceService");
            if let Some((resource, _)) = found {
                tracing::info!(version = %resource.version, "following KServe InferenceServices");
                let api: Api<DynamicObject> = Api::all_with(client, &resource);
                return watch::follow(
                    INFERENCE_SERVICES,
                    api,
                    watcher::Config::default(),
                    |o| (key(&o.metadata), seen_inference_service(&o)),
                    Into {
                        watch: INFERENCE_SERVICES,
                        shared,
                        place: |held| &mut held.inference_services,
                        // Optional (KServe may not be installed): the list never waits.
                        synced: None,
                    },
                )
                .await;
            }
        }
        tokio::time::sleep(Duration::from_secs(300)).await;
    }
}

/// Applies one watch's changes to its map in [`Held`]; objects converted to `None` (a
/// Deployment that serves no model) are not kept.
struct Into<T: 'static> {
    watch: &'static str,
    shared: Arc<Shared>,
    place: fn(&mut Held) -> &mut BTreeMap<Key, T>,
    /// The flag its first listing sets, for the watches the list waits for.
    synced: Option<fn(&Shared) -> &AtomicBool>,
}

/// An object whose last change's author the follower works out from the version before.
trait Tracked {
    fn managers(&mut self) -> &mut Managers;
}

impl Tracked for ServedDeployment {
    fn managers(&mut self) -> &mut Managers {
        &mut self.managers
    }
}

impl Tracked for SeenAutoscaler {
    fn managers(&mut self) -> &mut Managers {
        &mut self.managers
    }
}

impl Tracked for SeenInferenceService {
    fn managers(&mut self) -> &mut Managers {
        &mut self.managers
    }
}

impl<T: Tracked + PartialEq + Send + Sync + 'static> watch::Follower<(Key, Option<T>)> for Into<T> {
    async fn apply(&mut self, change: Change<(Key, Option<T>)>) {
        let changed = {
            let mut held = locks::write(&self.shared.held);
            let map = (self.place)(&mut held);
            match change {
                Change::Listed(all) => {
                    *map = all
                        .into_iter()
                        .filter_map(|(key, value)| Some((key, value?)))
                        .collect();
                    if let Some(synced) = self.synced {
                        synced(&self.shared).store(true, Ordering::Relaxed);
                    }
                    self.shared.stale.set(self.watch, None);
                    true
                }
                Change::Applied((key, Some(mut value))) => {
                    if let Some(previous) = map.get_mut(&key) {
                        value.managers().after(previous.managers());
                    }
                    let changed = map.get(&key) != Some(&value);
                    map.insert(key, value);
                    changed
                }
                Change::Applied((key, None)) | Change::Deleted((key, _)) => {
                    map.remove(&key).is_some()
                }
                Change::Stale(since) => self.shared.stale.set(self.watch, Some(since)),
            }
        };
        if changed {
            self.shared.changes.send_modify(|n| *n += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespaces_objects_are_found_without_its_neighbours() {
        let map: BTreeMap<Key, u32> = [
            ("ml", "b", 1),
            ("ml", "a", 2),
            ("ml-b", "a", 3),
            ("m", "z", 4),
        ]
        .into_iter()
        .map(|(ns, name, v)| ((ns.to_string(), name.to_string()), v))
        .collect();
        let found: Vec<(&str, &u32)> = in_namespace(&map, "ml").collect();
        assert_eq!(found, [("a", &2), ("b", &1)]);
        assert_eq!(in_namespace(&map, "ml-").count(), 0);
        assert_eq!(in_namespace(&map, "m").count(), 1);
    }
}
