//! The Kubernetes connection: which cluster Gantry talks to, and whether it answers.
//!
//! Gantry starts without a reachable cluster and keeps probing, so the header can say which
//! context and API server version it is connected to, or show a banner with the reason it is not.
//!
//! Reads and writes made for a user go out as that user ([`Cluster::as_user`]): Gantry's
//! own service account may only read what its caches need and impersonate, so the cluster's
//! RBAC has the last word on what each user can see and change.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the header and `/readyz` know about the cluster connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClusterStatus {
    /// The API server answered the last probe.
    Connected {
        /// The kubeconfig context, or `in-cluster` for a service account.
        context: String,
        /// The API server's URL.
        server: String,
        /// The API server's `gitVersion`, e.g. `v1.36.3`.
        version: String,
    },
    /// No probe has succeeded yet, or the last one failed.
    NotConnected {
        /// Which context or source was tried, if any was found.
        context: Option<String>,
        /// Why, in words a user can act on.
        reason: String,
    },
}

/// The header badge: the context and version, or "not connected".
#[component]
pub fn ClusterBadge(status: ClusterStatus) -> impl IntoView {
    match status {
        ClusterStatus::Connected {
            context,
            server,
            version,
        } => view! {
            <span class="cluster-badge connected" title=format!("API server {server}")>
                <span class="dot" aria-hidden="true"></span>
                <span class="cluster-context">{context}</span>
                <span class="cluster-version">{version}</span>
            </span>
        }
        .into_any(),
        ClusterStatus::NotConnected { .. } => view! {
            <span class="cluster-badge disconnected">
                <span class="dot" aria-hidden="true"></span>
                "not connected"
            </span>
        }
        .into_any(),
    }
}

/// The banner shown on every page while Gantry cannot reach the cluster.
#[component]
pub fn NotConnectedBanner(status: ClusterStatus) -> impl IntoView {
    match status {
        ClusterStatus::Connected { .. } => ().into_any(),
        ClusterStatus::NotConnected { context, reason } => {
            let tried = context
                .map(|c| format!(" (context {c})"))
                .unwrap_or_default();
            view! {
                <div class="notice notice-warning banner" role="status" data-testid="cluster-banner">
                    <strong>"Not connected to Kubernetes"{tried}</strong>
                    <p>{reason}</p>
                    <p class="muted">
                        "Gantry retries in the background. Pages that need the cluster stay empty until it answers."
                    </p>
                </div>
            }
            .into_any()
        }
    }
}

#[cfg(feature = "ssr")]
pub use self::ssr::{impersonation, Cluster, ClusterSource, REQUEST_TIMEOUT};

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex, RwLock};
    use std::time::{Duration, Instant};

    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    };
    use kube::api::PostParams;
    use kube::config::{KubeConfigOptions, Kubeconfig};
    use kube::{Api, Client, Config};

    use crate::auth::rules::Principal;
    use crate::error::AppError;
    use crate::locks;

    /// The Kubernetes user and groups Gantry acts as for `principal` (before the configured
    /// extra groups). The `gantry:` prefix keeps them apart from the cluster's own users;
    /// `k8s/base/rbac.yaml` binds the groups.
    pub fn impersonation(principal: &Principal) -> (String, Vec<String>) {
        (
            format!("gantry:{}", principal.username),
            vec![format!("gantry:{}", principal.role.as_str())],
        )
    }

    use super::ClusterStatus;

    /// How long one probe of the API server may take before it counts as unreachable.
    const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
    /// Every call to the API server has deadlines: to connect (TCP and TLS), and between the
    /// bytes of a request and of its answer. An API server that stops answering (overloaded,
    /// partitioned, SIGSTOPped) then fails a call within these instead of holding it for ever.
    /// Watches fit inside: the server closes each watch every [`crate::watch::WATCH_SECS`].
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// While the API server does not answer, an access review answered within this long is
    /// reused rather than asked again (and a question never answered is refused with 503 at
    /// once): cached pages keep working for the people who could see them a moment ago.
    pub const ACCESS_GRACE: Duration = Duration::from_secs(300);

    /// Where to find the cluster, from Gantry's configuration.
    #[derive(Debug, Clone, Default)]
    pub struct ClusterSource {
        /// Kubeconfig files to merge, as `KUBECONFIG` lists them; empty means in-cluster config.
        pub kubeconfig: Vec<PathBuf>,
        /// The context to use instead of the kubeconfig's current one.
        pub context: Option<String>,
        /// Groups sent with every impersonated request, besides `gantry:<role>`.
        pub impersonate_groups: Vec<String>,
    }

    /// The shared connection: a client once one could be built, and the latest probe's result.
    #[derive(Clone)]
    pub struct Cluster {
        source: ClusterSource,
        inner: Arc<RwLock<Inner>>,
        /// SubjectAccessReview answers, reused for at most [`ACCESS_TTL`].
        access: Arc<Mutex<HashMap<AccessQuestion, (bool, Instant)>>>,
    }

    /// How long a SubjectAccessReview answer is trusted while the API server answers: RBAC
    /// changes reach filtered views within this time, and a page of cached data costs one
    /// review, not one per row.
    pub const ACCESS_TTL: Duration = Duration::from_secs(30);

    /// A kept review answer, while it is younger than [`ACCESS_TTL`].
    fn fresh(known: Option<(bool, Instant)>) -> Option<bool> {
        known
            .filter(|(_, at)| at.elapsed() < ACCESS_TTL)
            .map(|(answer, _)| answer)
    }

    /// "May this user `verb` `resource` (in `group`) in `namespace`?"
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct AccessQuestion {
        pub user: String,
        pub groups: Vec<String>,
        pub verb: String,
        pub group: String,
        pub resource: String,
        /// `None` for cluster-scoped resources, or all namespaces.
        pub namespace: Option<String>,
    }

    struct Inner {
        connection: Option<Connection>,
        status: ClusterStatus,
    }

    /// A client and what it was built from, kept across probes.
    #[derive(Clone)]
    struct Connection {
        client: Client,
        /// What the client was built from; impersonating clients start from it.
        config: Config,
        context: String,
        server: String,
    }

    impl Cluster {
        /// A connection that has not been probed yet.
        pub fn new(source: ClusterSource) -> Self {
            let status = ClusterStatus::NotConnected {
                context: source.context.clone(),
                reason: "connecting…".into(),
            };
            Cluster {
                source,
                inner: Arc::new(RwLock::new(Inner {
                    connection: None,
                    status,
                })),
                access: Arc::default(),
            }
        }

        /// The latest probe's result.
        pub fn status(&self) -> ClusterStatus {
            locks::read(&self.inner).status.clone()
        }

        /// Gantry's own client, for the watch-backed caches; `None` until connected.
        pub fn client(&self) -> Option<Client> {
            let inner = locks::read(&self.inner);
            inner.connection.as_ref().map(|c| c.client.clone())
        }

        /// Gantry's own client, once connected: what the watches wait for before they start.
        pub async fn wait_for_client(&self) -> Client {
            loop {
                match self.client() {
                    Some(client) => return client,
                    None => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        }

        /// The user and every group Gantry impersonates for `principal`.
        fn identity(&self, principal: &Principal) -> (String, Vec<String>) {
            let (user, mut groups) = impersonation(principal);
            groups.extend(self.source.impersonate_groups.iter().cloned());
            (user, groups)
        }

        /// A client whose every request carries `Impersonate-User: gantry:<username>` and
        /// `Impersonate-Group: gantry:<role>` (plus the configured groups), so the API server
        /// authorizes it as that user: the one way Gantry acts for a user. 503 while no
        /// cluster is connected.
        pub fn as_user(&self, principal: &Principal) -> Result<Client, AppError> {
            self.impersonating(principal, Some(REQUEST_TIMEOUT))
        }

        /// [`Cluster::as_user`] for answers that may pause for long (a followed log): no
        /// deadline between bytes, so the caller bounds the whole exchange itself.
        pub fn as_user_following(&self, principal: &Principal) -> Result<Client, AppError> {
            self.impersonating(principal, None)
        }

        /// 503 at once, with the reason, while the last probe failed: a write then fails in
        /// milliseconds rather than after each of its calls' deadlines.
        fn impersonating(
            &self,
            principal: &Principal,
            read_timeout: Option<Duration>,
        ) -> Result<Client, AppError> {
            let connection = {
                let inner = locks::read(&self.inner);
                if let ClusterStatus::NotConnected { reason, .. } = &inner.status {
                    return Err(AppError::unavailable("Kubernetes", reason.clone()));
                }
                inner
                    .connection
                    .clone()
                    .ok_or_else(|| AppError::unavailable("Kubernetes", "not connected"))?
            };
            let mut config = connection.config;
            config.read_timeout = read_timeout;
            let (user, groups) = self.identity(principal);
            config.auth_info.impersonate = Some(user);
            config.auth_info.impersonate_groups = Some(groups);
            Client::try_from(config).map_err(|e| AppError::internal("building a user's client", e))
        }

        /// Of `namespaces`, those where `principal` may see things by Gantry's scopes and may
        /// list `resource` by the cluster's RBAC (one cached review per distinct namespace):
        /// how data from Gantry's shared caches is cut down to what each user may see.
        pub async fn namespaces_listing<'a>(
            &self,
            principal: &Principal,
            resource: (&str, &str),
            namespaces: impl IntoIterator<Item = &'a str>,
        ) -> Result<std::collections::BTreeSet<String>, AppError> {
            let distinct: std::collections::BTreeSet<&str> = namespaces.into_iter().collect();
            let mut visible = std::collections::BTreeSet::new();
            let mut unknown = Vec::new();
            // The fresh answers under one lock and one identity: a list page asks about
            // every namespace it shows, at every request.
            {
                let mut question = self.question(principal, "list", resource, None);
                let cache = locks::lock(&self.access);
                for namespace in distinct {
                    if principal
                        .check(crate::auth::rules::Action::View, Some(namespace))
                        .is_err()
                    {
                        continue;
                    }
                    question.namespace = Some(namespace.to_string());
                    match fresh(cache.get(&question).copied()) {
                        Some(true) => {
                            visible.insert(namespace.to_string());
                        }
                        Some(false) => {}
                        None => unknown.push(namespace),
                    }
                }
            }
            for namespace in unknown {
                if self
                    .allowed(principal, "list", resource, Some(namespace))
                    .await?
                {
                    visible.insert(namespace.to_string());
                }
            }
            Ok(visible)
        }

        /// What [`Cluster::allowed`] asks the API server about `principal`, and keeps the
        /// answer by.
        fn question(
            &self,
            principal: &Principal,
            verb: &str,
            (group, resource): (&str, &str),
            namespace: Option<&str>,
        ) -> AccessQuestion {
            let (user, groups) = self.identity(principal);
            AccessQuestion {
                user,
                groups,
                verb: verb.into(),
                group: group.into(),
                resource: resource.into(),
                namespace: namespace.map(str::to_string),
            }
        }

        /// Whether `principal` may `verb` `resource` in `namespace`, as the cluster's RBAC
        /// answers a SubjectAccessReview for the user Gantry impersonates. For filtering data
        /// served from Gantry's shared caches, which are read with Gantry's own account.
        pub async fn allowed(
            &self,
            principal: &Principal,
            verb: &str,
            (group, resource): (&str, &str),
            namespace: Option<&str>,
        ) -> Result<bool, AppError> {
            let question = self.question(principal, verb, (group, resource), namespace);
            let known = locks::lock(&self.access).get(&question).copied();
            if let Some(answer) = fresh(known) {
                return Ok(answer);
            }
            let in_grace = known
                .filter(|(_, at)| at.elapsed() < ACCESS_GRACE)
                .map(|(answer, _)| answer);
            if let ClusterStatus::NotConnected { reason, .. } = self.status() {
                return in_grace.ok_or_else(|| {
                    AppError::unavailable("Kubernetes", format!("access review: {reason}"))
                });
            }
            let client = self
                .client()
                .ok_or_else(|| AppError::unavailable("Kubernetes", "not connected"))?;
            // `pods/log` is the resource `pods`, subresource `log`.
            let (resource, subresource) = match question.resource.split_once('/') {
                Some((resource, sub)) => (resource.to_string(), Some(sub.to_string())),
                None => (question.resource.clone(), None),
            };
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(question.user.clone()),
                    groups: Some(question.groups.clone()),
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(question.verb.clone()),
                        group: Some(question.group.clone()),
                        resource: Some(resource),
                        subresource,
                        namespace: question.namespace.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = match Api::<SubjectAccessReview>::all(client)
                .create(&PostParams::default(), &review)
                .await
            {
                Ok(review) => review.status.is_some_and(|s| s.allowed),
                Err(e) => {
                    return in_grace.ok_or_else(|| {
                        AppError::unavailable("Kubernetes", format!("access review failed: {e}"))
                    })
                }
            };
            let mut cache = locks::lock(&self.access);
            // Bounded: forget answers past their grace when the cache grows.
            if cache.len() > 10_000 {
                cache.retain(|_, (_, at)| at.elapsed() < ACCESS_GRACE);
                if cache.len() > 10_000 {
                    cache.clear();
                }
            }
            cache.insert(question, (answer, Instant::now()));
            Ok(answer)
        }

        /// Builds a client (once) and asks the API server for its version.
        async fn probe(&self) -> ClusterStatus {
            let existing = locks::read(&self.inner).connection.clone();
            let connection = match existing {
                Some(connection) => Ok(connection),
                None => build_connection(&self.source).await,
            };
            let status = match &connection {
                Ok(connection) => ask_version(connection).await,
                Err(status) => status.clone(),
            };
            let mut inner = locks::write(&self.inner);
            if let Ok(connection) = connection {
                inner.connection = Some(connection);
            }
            inner.status = status.clone();
            status
        }

        /// Probes now, then keeps probing in the background: often while disconnected, so a
        /// cluster that comes up later is found quickly; rarely while connected.
        pub async fn connect_and_watch(&self) {
            let first = self.probe().await;
            log_change(None, &first);
            let this = self.clone();
            tokio::spawn(async move {
                let mut last = first;
                loop {
                    // Often enough that an API server gone silent is known (and writes refused
                    // at once) within seconds, cheap enough to run on every replica.
                    let pause = match last {
                        ClusterStatus::Connected { .. } => Duration::from_secs(10),
                        ClusterStatus::NotConnected { .. } => Duration::from_secs(5),
                    };
                    tokio::time::sleep(pause).await;
                    let now = this.probe().await;
                    log_change(Some(&last), &now);
                    last = now;
                }
            });
        }
    }

    fn log_change(before: Option<&ClusterStatus>, now: &ClusterStatus) {
        if before == Some(now) {
            return;
        }
        match now {
            ClusterStatus::Connected {
                context,
                server,
                version,
            } => tracing::info!(%context, %server, %version, "connected to Kubernetes"),
            ClusterStatus::NotConnected { context, reason } => {
                tracing::warn!(?context, %reason, "not connected to Kubernetes")
            }
        }
    }

    /// Reads the kubeconfig (or the in-cluster service account) and builds a client.
    async fn build_connection(source: &ClusterSource) -> Result<Connection, ClusterStatus> {
        let not_connected = |context: Option<String>, reason: String| ClusterStatus::NotConnected {
            context,
            reason,
        };
        let (config, context) = if source.kubeconfig.is_empty() {
            let config = Config::incluster().map_err(|e| {
                not_connected(
                    None,
                    format!(
                        "no kubeconfig found (set KUBECONFIG or create ~/.kube/config) and not \
                         running inside a cluster ({e})"
                    ),
                )
            })?;
            (config, "in-cluster".to_string())
        } else {
            let kubeconfig = read_kubeconfig(&source.kubeconfig)
                .map_err(|reason| not_connected(source.context.clone(), reason))?;
            let context = source
                .context
                .clone()
                .or_else(|| kubeconfig.current_context.clone())
                .unwrap_or_default();
            let options = KubeConfigOptions {
                context: source.context.clone(),
                ..Default::default()
            };
            let config = Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| {
                    not_connected(Some(context.clone()), format!("invalid kubeconfig: {e}"))
                })?;
            (config, context)
        };
        let server = config.cluster_url.to_string();
        let mut config = config;
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(REQUEST_TIMEOUT);
        config.write_timeout = Some(REQUEST_TIMEOUT);
        // The read deadline counts from each request sent, not from when a pooled connection
        // went idle.
        config.reset_reader_on_write = true;
        let base_config = config.clone();
        let client = Client::try_from(config).map_err(|e| {
            not_connected(
                Some(context.clone()),
                format!("cannot create a client: {e}"),
            )
        })?;
        Ok(Connection {
            client,
            config: base_config,
            context,
            server,
        })
    }

    fn read_kubeconfig(paths: &[PathBuf]) -> Result<Kubeconfig, String> {
        // kube's error already names the file and the cause.
        paths
            .iter()
            .try_fold(Kubeconfig::default(), |merged, path| {
                Kubeconfig::read_from(path)
                    .and_then(|next| merged.merge(next))
                    .map_err(|e| e.to_string())
            })
    }

    async fn ask_version(connection: &Connection) -> ClusterStatus {
        let Connection {
            client,
            context,
            server,
            ..
        } = connection;
        match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
            Ok(Ok(info)) => ClusterStatus::Connected {
                context: context.clone(),
                server: server.clone(),
                version: info.git_version,
            },
            Ok(Err(e)) => ClusterStatus::NotConnected {
                context: Some(context.clone()),
                reason: format!("the API server at {server} did not answer: {e}"),
            },
            Err(_) => ClusterStatus::NotConnected {
                context: Some(context.clone()),
                reason: format!(
                    "the API server at {server} did not answer within {}s",
                    PROBE_TIMEOUT.as_secs()
                ),
            },
        }
    }
}
