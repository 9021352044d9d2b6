//! What served when (server only): one writer, on the leading replica, turns what the
//! watches see into rows of `serving_history`, whoever made the change (Gantry, kubectl, a
//! controller), so a service's page shows a timeline after its ReplicaSets are gone.
//!
//! The writer wakes on the watches' ticks (at most every [`PACE`]), works out each
//! service's serving state (model, image, revision, replicas, autoscaling) from the caches,
//! and appends a row for each state that differs from the last one written; a service no
//! longer there gets a "removed" row. The last states are read from the database when the
//! replica starts leading, so a change made while Gantry was stopped is recorded (as seen
//! then) and nothing is written twice. What fails is tried again on the next pass.

use std::collections::HashMap;
use std::time::Duration;

use super::cache::{Held, Services};
use super::managers::Managers;
use super::recognise::Recognised;
use super::store::{self, ServiceKey, Serving};
use super::{pages::autoscaling_text, ServiceKind};
use crate::db::Db;
use crate::leader::Leadership;

/// How often at most the writer compares: changes within it are one row.
const PACE: Duration = Duration::from_millis(500);
/// How long after a failed pass the writer tries again without a tick.
const RETRY: Duration = Duration::from_secs(10);
/// A change Gantry made (its audit log says who) is attributed to that user when it is
/// seen within this long.
const AUDITED_WITHIN: u64 = 120;

/// Who may have made a service's last change, by their objects' managed fields.
#[derive(Debug, Clone)]
pub struct Writers {
    /// The service's own object's (a Deployment's, an InferenceService's).
    pub object: Managers,
    /// A Deployment's HPA's: its autoscaling is another object, written by others.
    pub autoscaler: Option<Managers>,
}

impl Writers {
    /// The managers that tell who changed `before` into `after`: the HPA's when only the
    /// autoscaling changed.
    fn of_change(&self, before: Option<&Serving>, after: &Serving) -> &Managers {
        let only_autoscaling = before.is_some_and(|b| {
            b.autoscaling != after.autoscaling
                && Serving {
                    autoscaling: after.autoscaling.clone(),
                    ..b.clone()
                } == *after
        });
        match (&self.autoscaler, only_autoscaling) {
            (Some(autoscaler), true) => autoscaler,
            _ => &self.object,
        }
    }
}

/// Each service's state now, and who may have made its last change.
pub fn states(held: &Held) -> HashMap<ServiceKey, (Serving, Writers)> {
    let mut states = HashMap::new();
    for ((namespace, name), d) in &held.deployments {
        let Recognised::Server { model, .. } = &d.recognised else {
            continue;
        };
        let autoscaler = held.seen_autoscaler_of(namespace, name);
        let serving = Serving {
            model: model.clone(),
            image: d.image.clone(),
            revision: d.revision,
            replicas: d.replicas.desired,
            autoscaling: autoscaler
                .map(|a| autoscaling_text(Some(&bounds(&a.autoscaling))))
                .unwrap_or_default(),
        };
        let writers = Writers {
            object: d.managers.clone(),
            autoscaler: autoscaler.map(|a| a.managers.clone()),
        };
        states.insert(
            (ServiceKind::Deployment, namespace.clone(), name.clone()),
            (serving, writers),
        );
    }
    for ((namespace, name), isvc) in &held.inference_services {
        let predictor = held.predictor_of(namespace, name);
        let serving = Serving {
            model: isvc.model.clone(),
            image: predictor.map(|(_, d)| d.image.clone()).unwrap_or_default(),
            revision: predictor.map_or(0, |(_, d)| d.revision),
            replicas: predictor.map_or(0, |(_, d)| d.replicas.desired),
            autoscaling: predictor
                .and_then(|(deployment, _)| held.autoscaler_of(namespace, deployment))
                .map(|a| autoscaling_text(Some(&bounds(a))))
                .unwrap_or_default(),
        };
        states.insert(
            (
                ServiceKind::InferenceService,
                namespace.clone(),
                name.clone(),
            ),
            (
                serving,
                Writers {
                    object: isvc.managers.clone(),
                    autoscaler: None,
                },
            ),
        );
    }
    states
}

/// An HPA's bounds and target without where it stands: its wish moving is no change.
fn bounds(a: &super::Autoscaling) -> super::Autoscaling {
    super::Autoscaling {
        desired: None,
        ..a.clone()
    }
}

/// What changed from `before` (none: first seen) to `after`, in words.
pub fn describe(before: Option<&Serving>, after: &Serving) -> String {
    let Some(before) = before else {
        return "first seen".into();
    };
    let mut parts = Vec::new();
    if before.model != after.model {
        parts.push(format!("model {} → {}", before.model, after.model));
    }
    if before.revision != after.revision {
        parts.push(format!("revision {} → {}", before.revision, after.revision));
    }
    if before.image != after.image {
        parts.push(format!("image {} → {}", before.image, after.image));
    }
    if before.replicas != after.replicas {
        parts.push(format!("replicas {} → {}", before.replicas, after.replicas));
    }
    if before.autoscaling != after.autoscaling {
        let text = |a: &str| {
            if a.is_empty() {
                "none".to_string()
            } else {
                a.to_string()
            }
        };
        parts.push(format!(
            "autoscaling {} → {}",
            text(&before.autoscaling),
            text(&after.autoscaling)
        ));
    }
    parts.join("; ")
}

/// Starts the writer (see the module's documentation).
pub fn start(services: Services, db: Db, leader: Leadership) {
    tokio::spawn(write(services, db, leader));
}

async fn write(services: Services, db: Db, mut leader: Leadership) {
    let mut ticks = services.changes();
    // The last state written per service, read when this replica starts leading.
    let mut written: Option<HashMap<ServiceKey, Serving>> = None;
    let mut failed = false;
    loop {
        tokio::select! {
            changed = ticks.changed() => if changed.is_err() { return },
            _ = leader.changed() => {}
            _ = tokio::time::sleep(RETRY), if failed => {}
        }
        tokio::time::sleep(PACE).await;
        ticks.borrow_and_update();
        if !leader.is_leader() {
            written = None;
            continue;
        }
        let Ok(now) = services.read().map(|held| states(&held)) else {
            continue;
        };
        if written.is_none() {
            match store::latest(&db).await {
                Ok(latest) => written = Some(latest),
                Err(error) => {
                    tracing::warn!(%error, "reading the serving history failed; trying again");
                    failed = true;
                    continue;
                }
            }
        }
        let last = written.as_mut().expect("read above");
        let (appended, ok) = record(&db, last, now).await;
        failed = !ok;
        if appended > 0 {
            services.history_written();
        }
    }
}

/// Appends a row for each service whose state differs from `last` (and a "removed" row for
/// each one gone), updating `last` as rows are written: how many, and false when a write
/// failed.
async fn record(
    db: &Db,
    last: &mut HashMap<ServiceKey, Serving>,
    now: HashMap<ServiceKey, (Serving, Writers)>,
) -> (usize, bool) {
    let at = crate::time::unix_now();
    let mut ok = true;
    let mut appended = 0;
    let gone: Vec<ServiceKey> = last
        .keys()
        .filter(|k| !now.contains_key(*k))
        .cloned()
        .collect();
    for key in gone {
        let state = last[&key].clone();
        match store::append(db, at, &key, "", "removed", &state).await {
            Ok(()) => {
                last.remove(&key);
                appended += 1;
            }
            Err(_) => ok = false,
        }
    }
    for (key, (state, writers)) in now {
        let before = last.get(&key);
        if before == Some(&state) {
            continue;
        }
        let managers = writers.of_change(before, &state);
        let change = describe(before, &state);
        // When the managed fields cannot say (a second identical scale by the same writer
        // leaves them as they were), a change Gantry just made is its user's: the audit log
        // knows who.
        let audited = match (before, managers.certain) {
            (Some(_), false) => store::audited_actor(db, &key, at.saturating_sub(AUDITED_WITHIN))
                .await
                .ok()
                .flatten(),
            _ => None,
        };
        let actor = audited.map_or_else(|| managers.who(), |user| format!("gantry:{user}"));
        match store::append(db, at, &key, &actor, &change, &state).await {
            Ok(()) => {
                last.insert(key, state);
                appended += 1;
            }
            Err(_) => ok = false,
        }
    }
    (appended, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(replicas: i32, model: &str) -> Serving {
        Serving {
            model: model.into(),
            image: "tensorflow/serving:2.15.0".into(),
            revision: 1,
            replicas,
            autoscaling: String::new(),
        }
    }

    #[test]
    fn a_change_to_the_autoscaling_alone_is_the_autoscalers_writers() {
        let named = |who: &str| {
            let mut managers = Managers::default();
            managers.last = Some(who.into());
            managers
        };
        let writers = Writers {
            object: named("kubectl-create"),
            autoscaler: Some(named("gantry:alice")),
        };
        let before = serving(1, "s3://m/1");
        let mut autoscaled = before.clone();
        autoscaled.autoscaling = "1–3 on cpu 75%".into();
        assert_eq!(
            writers.of_change(Some(&before), &autoscaled).who(),
            "gantry:alice"
        );
        // Anything else changed with it: the object's writer made it.
        let mut both = autoscaled.clone();
        both.replicas = 2;
        assert_eq!(
            writers.of_change(Some(&before), &both).who(),
            "kubectl-create"
        );
        assert_eq!(writers.of_change(None, &autoscaled).who(), "kubectl-create");
    }

    #[test]
    fn a_change_is_described_by_what_differs() {
        let before = serving(1, "s3://m/1");
        assert_eq!(describe(None, &before), "first seen");
        assert_eq!(describe(Some(&before), &before), "");
        let mut after = serving(3, "s3://m/2");
        after.revision = 2;
        after.autoscaling = "1–4 on cpu 60%".into();
        assert_eq!(
            describe(Some(&before), &after),
            "model s3://m/1 → s3://m/2; revision 1 → 2; replicas 1 → 3; autoscaling none → 1–4 on cpu 60%"
        );
    }
}
