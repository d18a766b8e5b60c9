//! The cluster registry: destinations from kubeconfig contexts and explicit
//! [`Cluster`] entries, one reused client per cluster, per-cluster client-side
//! rate limits ([`ClusterLimits`]) and per-cluster discovery.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use flotilla_core::{ApplicationDestination, Cluster};
use kube::api::ApiResource;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{verbs, Discovery, Scope};
use serde_json::json;
use tokio::sync::{OnceCell, RwLock};

use crate::error::{Result, SyncError};
use crate::ratelimit::{ClusterLimits, RateLimitLayer, RateLimiter};
use crate::stats::{classify, RequestStats};

/// Normalises an API server URL for comparison: lower-case scheme and host,
/// no default port (443 for https, 80 for http), no trailing slash.
///
/// ```
/// use flotilla_sync::normalize_server;
/// assert_eq!(normalize_server("HTTPS://Example.COM:443/"), "https://example.com");
/// assert_eq!(normalize_server("https://127.0.0.1:6443"), "https://127.0.0.1:6443");
/// ```
pub fn normalize_server(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("https".to_string(), url),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    if !default_port.is_empty() && authority.ends_with(default_port) {
        authority.truncate(authority.len() - default_port.len());
    }
    let path = path.trim_end_matches('/');
    format!("{scheme}://{authority}{path}")
}

/// Where a registry entry's connection settings come from.
#[derive(Clone)]
enum Source {
    /// A context of a kubeconfig.
    Kubeconfig {
        config: Arc<Kubeconfig>,
        context: String,
    },
    /// An explicit cluster (Argo CD cluster secret), turned into a one-context kubeconfig.
    Explicit(Arc<Kubeconfig>),
}

struct Entry {
    /// Display name (context name, or the cluster's name).
    name: String,
    /// Other names that select it (kubeconfig cluster name).
    aliases: Vec<String>,
    /// API server URL as written.
    server: String,
    source: Source,
    /// Its own rate limits; `None`: the registry's default.
    limits: Option<ClusterLimits>,
    conn: OnceCell<Arc<ClusterConn>>,
}

/// Known clusters, by name and server URL. Connections are made on first use
/// and reused.
///
/// Every connection rate-limits its requests (client-go's QPS and burst, see
/// [`crate::ratelimit`]): with its cluster's own [`ClusterLimits`] when
/// [`ClusterRegistry::set_limits`] gave some, else with the registry's
/// default ([`DEFAULT_CLUSTER_LIMITS`](crate::DEFAULT_CLUSTER_LIMITS) unless
/// [`ClusterRegistry::set_default_limits`] changed it). Limits are read when
/// a cluster's connection is made (its first use): set them before.
#[derive(Default)]
pub struct ClusterRegistry {
    entries: Vec<Entry>,
    default_limits: ClusterLimits,
}

impl std::fmt::Debug for ClusterRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRegistry")
            .field("clusters", &self.known())
            .finish()
    }
}

impl ClusterRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with every context of the kubeconfig kubectl would read
    /// (`$KUBECONFIG`, else `~/.kube/config`).
    pub fn from_default_kubeconfig() -> Result<Self> {
        let config = Kubeconfig::read().map_err(|e| SyncError::ClusterConfig {
            cluster: "kubeconfig".into(),
            message: format!("reading the kubeconfig ($KUBECONFIG or ~/.kube/config): {e}"),
        })?;
        let mut registry = Self::new();
        registry.add_kubeconfig(config);
        Ok(registry)
    }

    /// A registry with every context of one kubeconfig file.
    pub fn from_kubeconfig_file(path: &Path) -> Result<Self> {
        let config = Kubeconfig::read_from(path).map_err(|e| SyncError::ClusterConfig {
            cluster: path.display().to_string(),
            message: format!("reading kubeconfig {}: {e}", path.display()),
        })?;
        let mut registry = Self::new();
        registry.add_kubeconfig(config);
        Ok(registry)
    }

    /// Adds every context of a kubeconfig: selectable by context name, by
    /// cluster name, and by server URL.
    pub fn add_kubeconfig(&mut self, config: Kubeconfig) {
        let config = Arc::new(config);
        for named in &config.contexts {
            let Some(context) = &named.context else {
                continue;
            };
            let server = config
                .clusters
                .iter()
                .find(|c| c.name == context.cluster)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone())
                .unwrap_or_default();
            self.entries.push(Entry {
                name: named.name.clone(),
                aliases: vec![context.cluster.clone()],
                server,
                source: Source::Kubeconfig {
                    config: config.clone(),
                    context: named.name.clone(),
                },
                limits: None,
                conn: OnceCell::new(),
            });
        }
    }

    /// Adds an explicit cluster (as an Argo CD cluster secret describes it):
    /// server, CA, bearer token, basic auth, client certificate, or an exec
    /// credential plugin.
    pub fn add_cluster(&mut self, cluster: &Cluster) -> Result<()> {
        let name = if cluster.name.is_empty() {
            cluster.server.clone()
        } else {
            cluster.name.clone()
        };
        let tls = &cluster.config.tls_client_config;
        let mut cluster_entry = json!({"server": cluster.server});
        if let Some(ca) = &tls.ca_data {
            cluster_entry["certificate-authority-data"] = json!(ca);
        }
        if tls.is_insecure() {
            cluster_entry["insecure-skip-tls-verify"] = json!(true);
        }
        if let Some(server_name) = &tls.server_name {
            cluster_entry["tls-server-name"] = json!(server_name);
        }
        if let Some(proxy) = &cluster.config.proxy_url {
            cluster_entry["proxy-url"] = json!(proxy);
        }
        let mut user = json!({});
        let c = &cluster.config;
        if let Some(token) = &c.bearer_token {
            user["token"] = json!(token.expose());
        }
        if let Some(username) = &c.username {
            user["username"] = json!(username);
        }
        if let Some(password) = &c.password {
            user["password"] = json!(password.expose());
        }
        if let Some(cert) = &tls.cert_data {
            user["client-certificate-data"] = json!(cert);
        }
        if let Some(key) = &tls.key_data {
            user["client-key-data"] = json!(key.expose());
        }
        if let Some(exec) = &c.exec_provider_config {
            let env: Vec<_> = exec
                .env
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v.expose()}))
                .collect();
            user["exec"] = json!({
                "apiVersion": exec.api_version.clone()
                    .unwrap_or_else(|| "client.authentication.k8s.io/v1beta1".into()),
                "command": exec.command,
                "args": exec.args,
                "env": env,
                "installHint": exec.install_hint,
                "interactiveMode": "Never",
            });
        }
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster_entry}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        });
        // The serde error never quotes the (secret) values: only what is missing.
        let config: Kubeconfig =
            serde_json::from_value(doc).map_err(|e| SyncError::ClusterConfig {
                cluster: name.clone(),
                message: format!("invalid connection settings ({:?} error)", e.classify()),
            })?;
        self.entries.push(Entry {
            name: name.clone(),
            aliases: Vec::new(),
            server: cluster.server.clone(),
            source: Source::Explicit(Arc::new(config)),
            limits: None,
            conn: OnceCell::new(),
        });
        Ok(())
    }

    /// The rate limits of every cluster without its own
    /// ([`DEFAULT_CLUSTER_LIMITS`](crate::DEFAULT_CLUSTER_LIMITS) unless
    /// changed).
    pub fn default_limits(&self) -> ClusterLimits {
        self.default_limits
    }

    /// Sets the rate limits of every cluster without its own (clusters
    /// added before and after). A connection already made keeps the limits
    /// it was made with.
    pub fn set_default_limits(&mut self, limits: ClusterLimits) {
        self.default_limits = limits;
        for entry in &self.entries {
            if entry.limits.is_none() && entry.conn.initialized() {
                tracing::warn!(cluster = %entry.name, %limits, "the default rate limits changed after the connection was made; it keeps its limits");
            }
        }
    }

    /// [`ClusterRegistry::set_default_limits`], by value.
    pub fn with_default_limits(mut self, limits: ClusterLimits) -> Self {
        self.set_default_limits(limits);
        self
    }

    /// Gives one known cluster its own rate limits, instead of the default.
    /// `name` selects it as a destination `name` does: a context name, else
    /// a kubeconfig cluster name, or an explicit cluster's name.
    ///
    /// # Errors
    ///
    /// [`SyncError::UnknownDestination`] when no cluster has that name.
    pub fn set_limits(&mut self, name: &str, limits: ClusterLimits) -> Result<()> {
        let index = self
            .index_by_name(name)
            .ok_or_else(|| SyncError::UnknownDestination {
                destination: name.to_string(),
                known: self.known_list(),
            })?;
        let entry = &mut self.entries[index];
        if entry.conn.initialized() {
            tracing::warn!(cluster = %entry.name, %limits, "rate limits set after the connection was made; it keeps its limits");
        }
        entry.limits = Some(limits);
        Ok(())
    }

    /// The rate limits a cluster's connection gets (its own, else the
    /// default); `None` for an unknown name.
    pub fn limits(&self, name: &str) -> Option<ClusterLimits> {
        self.index_by_name(name)
            .map(|i| self.entries[i].limits.unwrap_or(self.default_limits))
    }

    fn index_by_name(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .or_else(|| {
                self.entries
                    .iter()
                    .position(|e| e.aliases.iter().any(|a| a == name))
            })
    }

    fn known_list(&self) -> String {
        if self.entries.is_empty() {
            "(none)".into()
        } else {
            self.known().join(", ")
        }
    }

    /// Known clusters as `name (server)`.
    pub fn known(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| format!("{} ({})", e.name, e.server))
            .collect()
    }

    fn find(&self, destination: &ApplicationDestination) -> Result<&Entry> {
        let found = if let Some(name) = destination.name.as_deref().filter(|n| !n.is_empty()) {
            self.index_by_name(name).map(|i| &self.entries[i])
        } else if let Some(server) = destination.server.as_deref().filter(|s| !s.is_empty()) {
            let wanted = normalize_server(server);
            self.entries
                .iter()
                .find(|e| normalize_server(&e.server) == wanted)
        } else {
            return Err(SyncError::UnknownDestination {
                destination: "(destination has neither server nor name)".into(),
                known: self.known().join(", "),
            });
        };
        found.ok_or_else(|| SyncError::UnknownDestination {
            destination: destination
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| destination.server.clone())
                .unwrap_or_default(),
            known: self.known_list(),
        })
    }

    /// The connection for an Application's destination (made on first use,
    /// then reused).
    pub async fn resolve(&self, destination: &ApplicationDestination) -> Result<Arc<ClusterConn>> {
        let entry = self.find(destination)?;
        entry
            .conn
            .get_or_try_init(|| async {
                let (config, context) = match &entry.source {
                    Source::Kubeconfig { config, context } => (config.clone(), context.clone()),
                    Source::Explicit(config) => (config.clone(), entry.name.clone()),
                };
                let limits = entry.limits.unwrap_or(self.default_limits);
                ClusterConn::connect(&entry.name, &entry.server, &config, &context, limits)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The connection for a cluster by name (context, cluster or explicit name).
    pub async fn by_name(&self, name: &str) -> Result<Arc<ClusterConn>> {
        self.resolve(&ApplicationDestination {
            name: Some(name.to_string()),
            ..Default::default()
        })
        .await
    }
}

/// Installs rustls' `ring` provider as the process default when none is
/// installed: a binary that links crates enabling both `ring` and
/// `aws-lc-rs` otherwise panics on its first TLS connection.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: one provider is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// One served resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// Group, version, kind and plural.
    pub api_resource: ApiResource,
    /// True when objects of this type live in namespaces.
    pub namespaced: bool,
    /// Verbs the server supports on it.
    pub verbs: Vec<String>,
}

impl ResourceType {
    pub(crate) fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// What discovery found on a cluster.
#[derive(Debug, Default)]
pub struct DiscoveryIndex {
    by_gvk: HashMap<(String, String, String), ResourceType>,
    /// The preferred version of each group/kind that can be listed and deleted:
    /// where tracked resources are searched for pruning.
    prunable: Vec<ResourceType>,
    /// The API server's version (`v1.32.13`), when it answered.
    server_version: Option<String>,
}

impl DiscoveryIndex {
    /// The type for a group, version and kind.
    pub fn get(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceType> {
        self.by_gvk
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// Any served version of a group and kind.
    pub fn any_version(&self, group: &str, kind: &str) -> Option<&ResourceType> {
        self.prunable
            .iter()
            .find(|t| t.api_resource.group == group && t.api_resource.kind == kind)
            .or_else(|| {
                self.by_gvk
                    .values()
                    .find(|t| t.api_resource.group == group && t.api_resource.kind == kind)
            })
    }

    /// Types searched for tracked resources (one version per group/kind).
    pub fn prunable(&self) -> &[ResourceType] {
        &self.prunable
    }

    /// The API server's version (`gitVersion` of `/version`), when known.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    /// The served API versions as Argo CD hands them to Helm's
    /// `--api-versions`: each `group/version` (`v1` for the core group)
    /// and each `group/version/Kind`, sorted.
    pub fn api_versions(&self) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        for (group, version, kind) in self.by_gvk.keys() {
            let gv = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            out.insert(format!("{gv}/{kind}"));
            out.insert(gv);
        }
        out.into_iter().collect()
    }
}

/// Group/kinds never searched for tracked resources: derived or
/// short-lived objects that are never applied from Git.
const NOT_TRACKED: &[(&str, &str)] = &[
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("", "Endpoints"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("coordination.k8s.io", "Lease"),
    ("", "ComponentStatus"),
    ("", "Binding"),
    ("", "Node"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("apps", "ControllerRevision"),
    ("metrics.k8s.io", "PodMetrics"),
    ("metrics.k8s.io", "NodeMetrics"),
];

/// A connection to one cluster: a reused client, its rate limiter, its
/// request counters and its discovery cache.
pub struct ClusterConn {
    name: String,
    server: String,
    client: kube::Client,
    limits: ClusterLimits,
    stats: RequestStats,
    discovery: RwLock<Option<Arc<DiscoveryIndex>>>,
}

impl std::fmt::Debug for ClusterConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConn")
            .field("name", &self.name)
            .field("server", &self.server)
            .field("limits", &self.limits)
            .finish()
    }
}

impl ClusterConn {
    async fn connect(
        name: &str,
        server: &str,
        config: &Kubeconfig,
        context: &str,
        limits: ClusterLimits,
    ) -> Result<ClusterConn> {
        let options = KubeConfigOptions {
            context: Some(context.to_string()),
            ..Default::default()
        };
        let kube_config = kube::Config::from_custom_kubeconfig(config.clone(), &options)
            .await
            .map_err(|e| SyncError::ClusterConfig {
                cluster: name.to_string(),
                message: format!("loading the connection settings: {e}"),
            })?;
        Self::from_config_with_limits(name, server, kube_config, limits)
    }

    /// A connection from a ready `kube::Config`, counting its requests,
    /// rate-limited by [`DEFAULT_CLUSTER_LIMITS`](crate::DEFAULT_CLUSTER_LIMITS).
    pub fn from_config(name: &str, server: &str, config: kube::Config) -> Result<ClusterConn> {
        Self::from_config_with_limits(name, server, config, ClusterLimits::default())
    }

    /// A connection from a ready `kube::Config`, counting its requests and
    /// rate-limiting them by `limits`: every request made through the
    /// connection (by every Application syncing to the cluster) takes a
    /// token from one bucket; a watch takes one when it starts. Must be
    /// called within a tokio runtime (as `kube::Client::new`).
    pub fn from_config_with_limits(
        name: &str,
        server: &str,
        config: kube::Config,
        limits: ClusterLimits,
    ) -> Result<ClusterConn> {
        ensure_crypto_provider();
        let stats = RequestStats::new();
        let counter = stats.clone();
        let layer =
            tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
                counter.record(classify(
                    request.method(),
                    request.uri().path(),
                    request.uri().query(),
                ));
                request
            });
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| {
            SyncError::ClusterConfig {
                cluster: name.to_string(),
                message: format!("building a client: {e}"),
            }
        })?;
        let builder = builder.with_layer(&layer);
        // The limiter is the outermost layer: a request is counted when it
        // is sent, after its wait.
        let client = if limits.is_unlimited() {
            builder.build()
        } else {
            let limiter = RateLimitLayer::new(RateLimiter::new(limits), stats.clone());
            builder.with_layer(&limiter).build()
        };
        tracing::debug!(cluster = %name, %limits, "client rate limits");
        Ok(ClusterConn {
            name: name.to_string(),
            server: server.to_string(),
            client,
            limits,
            stats,
            discovery: RwLock::new(None),
        })
    }

    /// The cluster's name in the registry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The client (shared; cheap to clone).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The client-side rate limits its requests are held to.
    pub fn limits(&self) -> ClusterLimits {
        self.limits
    }

    /// Requests sent through this connection so far, and their waits for
    /// the rate limiter.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// The discovery index, run once and cached.
    pub async fn discovery(&self) -> Result<Arc<DiscoveryIndex>> {
        if let Some(index) = self.discovery.read().await.as_ref() {
            return Ok(index.clone());
        }
        self.refresh_discovery().await
    }

    /// Runs discovery again (after CRDs were applied, or on an unknown kind).
    pub async fn refresh_discovery(&self) -> Result<Arc<DiscoveryIndex>> {
        let mut slot = self.discovery.write().await;
        let discovery = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(cluster = %self.name, error = %e, "aggregated discovery failed, using per-group discovery");
                Discovery::new(self.client.clone())
                    .run()
                    .await
                    .map_err(|e| SyncError::Request {
                        cluster: self.name.clone(),
                        operation: "discovery".into(),
                        message: e.to_string(),
                    })?
            }
        };
        let mut index = DiscoveryIndex::default();
        for group in discovery.groups() {
            for version in group.versions() {
                for (ar, caps) in group.versioned_resources(version) {
                    let t = ResourceType {
                        namespaced: caps.scope == Scope::Namespaced,
                        verbs: caps.operations.clone(),
                        api_resource: ar.clone(),
                    };
                    index
                        .by_gvk
                        .insert((ar.group.clone(), ar.version.clone(), ar.kind.clone()), t);
                }
            }
            for (ar, caps) in group.recommended_resources() {
                let t = ResourceType {
                    namespaced: caps.scope == Scope::Namespaced,
                    verbs: caps.operations.clone(),
                    api_resource: ar.clone(),
                };
                let skip = NOT_TRACKED
                    .iter()
                    .any(|(g, k)| *g == ar.group && *k == ar.kind);
                if !skip && t.supports(verbs::LIST) && t.supports(verbs::DELETE) {
                    index.prunable.push(t);
                }
            }
        }
        index.server_version = match self.client.apiserver_version().await {
            Ok(info) => Some(info.git_version),
            Err(e) => {
                tracing::debug!(cluster = %self.name, error = %e, "the API server's version is unknown");
                None
            }
        };
        tracing::debug!(cluster = %self.name, types = index.by_gvk.len(), "discovery done");
        let index = Arc::new(index);
        *slot = Some(index.clone());
        Ok(index)
    }

    /// The type of a group/version/kind; refreshes discovery once when unknown.
    pub async fn resource_type(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<Option<ResourceType>> {
        let index = self.discovery().await?;
        if let Some(t) = index.get(group, version, kind) {
            return Ok(Some(t.clone()));
        }
        let index = self.refresh_discovery().await?;
        Ok(index.get(group, version, kind).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::SecretString;

    #[test]
    fn servers_are_normalised() {
        assert_eq!(
            normalize_server("https://kubernetes.default.svc:443/"),
            "https://kubernetes.default.svc"
        );
        assert_eq!(normalize_server("HTTP://A:80"), "http://a");
        assert_eq!(normalize_server("https://a:6443"), "https://a:6443");
    }

    fn kubeconfig() -> Kubeconfig {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [
                {"name": "cl-a", "cluster": {"server": "https://127.0.0.1:6443/"}},
                {"name": "cl-b", "cluster": {"server": "https://10.0.0.9"}},
            ],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [
                {"name": "ctx-a", "context": {"cluster": "cl-a", "user": "u"}},
                {"name": "ctx-b", "context": {"cluster": "cl-b", "user": "u"}},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn destinations_are_found_by_server_context_or_cluster_name() {
        let mut registry = ClusterRegistry::new();
        registry.add_kubeconfig(kubeconfig());
        let dest = |server: Option<&str>, name: Option<&str>| ApplicationDestination {
            server: server.map(str::to_string),
            name: name.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(
            registry
                .find(&dest(Some("https://127.0.0.1:6443"), None))
                .unwrap()
                .name,
            "ctx-a"
        );
        assert_eq!(
            registry
                .find(&dest(Some("HTTPS://10.0.0.9:443/"), None))
                .unwrap()
                .name,
            "ctx-b"
        );
        assert_eq!(
            registry.find(&dest(None, Some("ctx-b"))).unwrap().name,
            "ctx-b"
        );
        assert_eq!(
            registry.find(&dest(None, Some("cl-a"))).unwrap().name,
            "ctx-a"
        );
        let err = registry
            .find(&dest(None, Some("nope")))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("nope") && err.contains("ctx-a") && err.contains("ctx-b"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn each_cluster_gets_its_limits_or_the_default() {
        use crate::ratelimit::{CLIENT_GO_LIMITS, DEFAULT_CLUSTER_LIMITS};
        let mut registry = ClusterRegistry::new();
        registry.add_kubeconfig(kubeconfig());
        registry
            .add_cluster(&Cluster::new("prod", "https://prod.example:6443"))
            .unwrap();
        assert_eq!(registry.default_limits(), DEFAULT_CLUSTER_LIMITS);
        assert_eq!(registry.limits("ctx-a"), Some(DEFAULT_CLUSTER_LIMITS));
        registry.set_default_limits(CLIENT_GO_LIMITS);
        let own = ClusterLimits::new(20.0, 40);
        registry.set_limits("ctx-b", own).unwrap();
        // By kubeconfig cluster name, as destinations select it.
        registry
            .set_limits("cl-a", ClusterLimits::UNLIMITED)
            .unwrap();
        registry
            .set_limits("prod", ClusterLimits::new(1.5, 3))
            .unwrap();
        let err = registry.set_limits("nope", own).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("ctx-a"), "{err}");
        assert_eq!(registry.limits("nope"), None);
        assert_eq!(registry.limits("ctx-b"), Some(own));
        assert_eq!(registry.limits("ctx-a"), Some(ClusterLimits::UNLIMITED));

        // Connections (made without contacting the server) carry them.
        let b = registry.by_name("ctx-b").await.unwrap();
        assert_eq!(b.limits(), own);
        assert!(format!("{b:?}").contains("burst: 40"));
        let a = registry.by_name("ctx-a").await.unwrap();
        assert!(a.limits().is_unlimited());
        let prod = registry.by_name("prod").await.unwrap();
        assert_eq!(prod.limits(), ClusterLimits::new(1.5, 3));
        let mut plain = ClusterRegistry::new().with_default_limits(CLIENT_GO_LIMITS);
        plain.add_kubeconfig(kubeconfig());
        assert_eq!(
            plain.by_name("ctx-a").await.unwrap().limits(),
            CLIENT_GO_LIMITS
        );
    }

    #[test]
    fn explicit_clusters_never_show_their_secrets() {
        let mut registry = ClusterRegistry::new();
        let mut cluster = Cluster::new("prod", "https://prod.example:6443");
        cluster.config.bearer_token = Some(SecretString::new("s3cr3t-token"));
        cluster.config.exec_provider_config = Some(flotilla_core::ExecProviderConfig {
            command: "aws".into(),
            args: vec!["eks".into(), "get-token".into()],
            ..Default::default()
        });
        registry.add_cluster(&cluster).unwrap();
        assert!(!format!("{registry:?}").contains("s3cr3t"));
        let dest = ApplicationDestination {
            server: Some("https://prod.example:6443".into()),
            ..Default::default()
        };
        assert_eq!(registry.find(&dest).unwrap().name, "prod");
    }
}
