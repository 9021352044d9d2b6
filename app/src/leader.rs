//! Which replica does the work that must happen once (server only): the job history's
//! writes, log capture, the GPU-use measurements and retention. Every replica watches and
//! serves; one leads, elected with a `coordination.k8s.io/v1` Lease as client-go's
//! leaderelection does (kube-rs has no elector). Without a lease configured this process is
//! the only one and always leads.
//!
//! The leader renews the Lease every [`RETRY`]; another replica takes it over once it has
//! seen no renewal for [`LEASE`] by its own clock (never by comparing timestamps written by
//! another machine's clock). Every write is a replace at the resourceVersion read, so of two
//! replicas trying at once one wins and the other gets a 409. A leader that cannot renew
//! within [`LEASE`] steps down before anyone may take over; a stopping leader hands the
//! Lease back at once, so a rolling update moves the work without waiting for it to expire.
//! The work is idempotent (upserts keyed by uid), so a moment with two leaders repeats a
//! write, never doubles a row.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

use crate::cluster::Cluster;

/// How long a Lease holds without renewal, and how often it is renewed or tried for.
pub const LEASE: Duration = Duration::from_secs(10);
pub const RETRY: Duration = Duration::from_secs(2);

/// Whether this replica leads now; cheap to clone.
#[derive(Clone, Debug)]
pub struct Leadership(watch::Receiver<bool>);

impl Leadership {
    /// The only replica: it always leads.
    pub fn sole() -> Leadership {
        // The sender goes at once: the value stays, and `changed` then never fires.
        let (_, receiver) = watch::channel(true);
        Leadership(receiver)
    }

    /// Elects with the Lease `namespace/name` once `cluster` is connected, as `identity`;
    /// hands it back when `stopping` turns true.
    pub fn elect(
        cluster: Cluster,
        namespace: String,
        name: String,
        identity: String,
        stopping: watch::Receiver<bool>,
    ) -> Leadership {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            let client = cluster.wait_for_client().await;
            let elector = Elector {
                leases: Api::namespaced(client, &namespace),
                name,
                identity,
                seen: None,
                renewed: None,
            };
            elector.run(sender, stopping).await;
        });
        Leadership(receiver)
    }

    pub fn is_leader(&self) -> bool {
        *self.0.borrow()
    }

    /// `gantry_leader` for `/metrics`: 1 while this replica leads, so that an alert can
    /// tell when none does.
    pub fn gauges(&self) -> prometheus_client::registry::Registry {
        let mut registry = prometheus_client::registry::Registry::with_prefix("gantry");
        let gauge = prometheus_client::metrics::gauge::Gauge::<i64>::default();
        gauge.set(i64::from(self.is_leader()));
        registry.register(
            "leader",
            "1 while this replica writes the job history and runs retention",
            gauge,
        );
        registry
    }

    /// Waits for the next change of leadership.
    pub async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A name for this process in the Lease: the pod's (its host name) and a random suffix, as
/// two processes on one machine, or a container restarted in its pod, are different holders.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "gantry".into());
    format!("{host}_{}", crate::auth::password::random_secret(4))
}

struct Elector {
    leases: Api<Lease>,
    name: String,
    identity: String,
    /// The Lease's resourceVersion as last read, and when this replica first saw it: the
    /// holder's renewals change it; one unchanged for [`LEASE`] is expired.
    seen: Option<(String, Instant)>,
    /// When this replica last renewed its own Lease.
    renewed: Option<Instant>,
}

impl Elector {
    async fn run(mut self, leads: watch::Sender<bool>, mut stopping: watch::Receiver<bool>) {
        loop {
            let now = Instant::now();
            match self.try_lead(now).await {
                Ok(true) => self.renewed = Some(now),
                Ok(false) => self.renewed = None,
                Err(error) => {
                    tracing::info!(%error, "leader election: the Lease cannot be read or written")
                }
            }
            let leading = self.renewed.is_some_and(|at| at.elapsed() < LEASE - RETRY);
            if leads.send_replace(leading) != leading {
                tracing::info!(identity = %self.identity, leading, "leadership changed");
            }
            let stop = tokio::select! {
                _ = tokio::time::sleep(RETRY) => false,
                _ = stopping.wait_for(|stopping| *stopping) => true,
            };
            if stop {
                if leading {
                    leads.send_replace(false);
                    self.release().await;
                }
                return;
            }
        }
    }

    /// One round: creates, renews or takes over the Lease when this replica may. `Ok(true)`
    /// when it holds it now, `Ok(false)` when another does (or won the race).
    async fn try_lead(&mut self, now: Instant) -> Result<bool, kube::Error> {
        let Some(lease) = self.leases.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(None, 0)),
            };
            return conflict_is_false(self.leases.create(&PostParams::default(), &lease).await);
        };
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        if self.seen.as_ref().map(|(v, _)| v) != Some(&version) {
            self.seen = Some((version, now));
        }
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        let expired = holder.is_empty()
            || self.seen.as_ref().is_some_and(|(_, at)| {
                now.duration_since(*at)
                    > Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(1) as u64)
            });
        if !ours && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquired = if ours {
            spec.acquire_time.clone()
        } else {
            None
        };
        let mut renewed = lease;
        renewed.spec = Some(self.spec(acquired, transitions));
        conflict_is_false(
            self.leases
                .replace(&self.name, &PostParams::default(), &renewed)
                .await,
        )
    }

    fn spec(&self, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE.as_secs() as i32),
            acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Hands the Lease back (no holder), so another replica takes it at its next round.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.leases.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        match self
            .leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!("leader election: the Lease is handed back"),
            Err(error) => {
                tracing::info!(%error, "leader election: the Lease could not be handed back; it expires")
            }
        }
    }
}

/// A write's outcome: written (`true`), or lost to another replica's write (`false`).
fn conflict_is_false<T>(result: Result<T, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}
