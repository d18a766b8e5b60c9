//! The sync engine: compare desired manifests with a cluster, validate,
//! apply in Argo CD's order, wait for health, run hooks, prune.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_core::annotations::{
    HELM_HOOK_DELETE_POLICY, HOOK_DELETE_POLICY, INSTANCE_LABEL, TRACKING_ID,
};
use flotilla_core::{Application, HookType, Manifest};
use futures::{StreamExt, TryStreamExt};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    PropagationPolicy, ValidationDirective,
};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::cache::{CacheEvent, ClusterCache};
use crate::cluster::{ClusterConn, ClusterRegistry, ResourceType};
use crate::diff::{self, IgnoreRules, DESIRED_HASH_ANNOTATION};
use crate::error::{Result, SourceError, SyncError, ValidationFailure};
use crate::health::{self, HealthCode, HealthStatus};
use crate::order::{kind_rank, SyncPhase};
use crate::retry::{sleep_or_cancel, RetryPolicy};
use crate::tracking::{self, TrackingMethod};
use crate::tree;
use tokio::sync::broadcast;

/// The field manager Flotilla applies with.
pub const FIELD_MANAGER: &str = "flotilla";

/// Sync status of one resource, as Argo CD names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ResourceSyncStatus {
    /// Live equals desired.
    Synced,
    /// Live differs from desired.
    OutOfSync,
    /// Desired but absent live.
    Missing,
    /// Tracked for the Application live, but no longer desired (a prune candidate).
    Extraneous,
}

impl fmt::Display for ResourceSyncStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceSyncStatus::Synced => "Synced",
            ResourceSyncStatus::OutOfSync => "OutOfSync",
            ResourceSyncStatus::Missing => "Missing",
            ResourceSyncStatus::Extraneous => "Extraneous",
        })
    }
}

/// What the sync did to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ResourceOperation {
    /// Nothing: it was in sync.
    Unchanged,
    /// Created.
    Created,
    /// Changed.
    Configured,
    /// Only validated (dry run).
    DryRun,
    /// Deleted because it is no longer desired.
    Pruned,
    /// Not deleted although no longer desired (pruning off, `Prune=false`, ...).
    PruneSkipped,
    /// A hook that ran and succeeded.
    HookSucceeded,
    /// A hook that failed.
    HookFailed,
    /// Not reached because the sync stopped earlier.
    Skipped,
    /// The operation failed.
    Failed,
}

impl fmt::Display for ResourceOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One resource of an Application: its state, and what a sync did to it.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceResult {
    /// `group/version/Kind namespace/name`.
    pub resource: String,
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Sync status before the sync (for `diff`/`status`, the current one).
    pub status: ResourceSyncStatus,
    /// Health after the sync, when the kind has one.
    pub health: Option<HealthStatus>,
    /// The hook type, for hooks.
    pub hook: Option<String>,
    /// Phase.
    pub phase: SyncPhase,
    /// Wave.
    pub wave: i64,
    /// What the sync did.
    pub operation: ResourceOperation,
    /// A message (reason of a failure, why a prune was skipped, ...).
    pub message: String,
    /// Unified YAML diff (live to desired), Secret values masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// The state of one Application on its cluster.
#[derive(Clone, Debug, Serialize)]
pub struct AppStatus {
    /// Application name.
    pub app: String,
    /// Cluster name.
    pub cluster: String,
    /// `Synced` when every resource is, else `OutOfSync`.
    pub sync: ResourceSyncStatus,
    /// Aggregated health.
    pub health: HealthCode,
    /// Every resource (hooks excluded).
    pub resources: Vec<ResourceResult>,
}

impl AppStatus {
    /// True when every resource is Synced.
    pub fn in_sync(&self) -> bool {
        self.resources
            .iter()
            .all(|r| r.status == ResourceSyncStatus::Synced)
    }
}

/// Outcome of a sync.
#[derive(Debug, Serialize)]
pub struct SyncResult {
    /// Application name.
    pub app: String,
    /// Cluster name (empty when the destination could not be resolved).
    pub cluster: String,
    /// Every resource and hook, with what was done.
    pub resources: Vec<ResourceResult>,
    /// Aggregated health after the sync.
    pub health: HealthCode,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// How long it took.
    pub duration: Duration,
    /// The error that stopped the sync, if it failed.
    #[serde(serialize_with = "ser_error")]
    pub error: Option<SyncError>,
}

fn ser_error<S: serde::Serializer>(
    e: &Option<SyncError>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl SyncResult {
    /// True when the sync succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// A progress report during a sync.
#[derive(Clone, Debug)]
pub enum ProgressEvent {
    /// A wave starts.
    Wave {
        /// Application.
        app: String,
        /// Phase.
        phase: SyncPhase,
        /// Wave.
        wave: i64,
        /// Resources in it.
        resources: usize,
    },
    /// One resource was handled.
    Resource {
        /// Application.
        app: String,
        /// The resource.
        resource: String,
        /// What was done.
        operation: ResourceOperation,
        /// Details.
        message: String,
    },
    /// Waiting (for health, for a CRD, for a hook).
    Waiting {
        /// Application.
        app: String,
        /// What for.
        what: String,
    },
}

/// Callback receiving progress events.
pub type ProgressFn = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// Engine-wide settings.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Resources applied at once within a wave.
    pub concurrency: usize,
    /// How long a wave (or hook, or CRD) may take to become healthy.
    pub health_timeout: Duration,
    /// How resources are marked as the Application's.
    pub tracking: TrackingMethod,
    /// Answer compares from a watch-fed [`ClusterCache`] per cluster instead
    /// of listing (for long-running processes; a one-shot CLI lists).
    pub cache: bool,
    /// How long a compare waits for a cluster's cache to list everything
    /// (counted from when it became unsynced); then it fails with
    /// [`SyncError::CacheNotSynced`].
    pub cache_sync_timeout: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            concurrency: 16,
            health_timeout: Duration::from_secs(300),
            tracking: TrackingMethod::AnnotationAndLabel,
            cache: false,
            cache_sync_timeout: Duration::from_secs(60),
        }
    }
}

/// Settings of one sync.
#[derive(Clone, Default)]
pub struct SyncSettings {
    /// Validate and report only; change nothing.
    pub dry_run: bool,
    /// Prune: `None` follows `syncPolicy.automated.prune`.
    pub prune: Option<bool>,
    /// Take over fields owned by other managers: `None` follows the sync
    /// options (`Force=true`, `ServerSideApply=true`, which in Argo CD always
    /// forces) and `selfHeal` (undoing changes made on the cluster is what
    /// it asks for).
    pub force: Option<bool>,
    /// Wait for the last wave to be healthy before returning.
    pub wait_for_health: bool,
    /// Cancels the sync (between requests, and every wait).
    pub cancel: CancellationToken,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
    /// Retries: `None` follows `syncPolicy.retry`.
    pub retry: Option<RetryPolicy>,
}

impl fmt::Debug for SyncSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSettings")
            .field("dry_run", &self.dry_run)
            .field("prune", &self.prune)
            .field("force", &self.force)
            .field("wait_for_health", &self.wait_for_health)
            .finish()
    }
}

/// Version-less identity of an object: group, kind, namespace, name.
type ObjKey = (String, String, String, String);

/// One desired object, prepared for the cluster.
#[derive(Clone, Debug)]
struct DesiredObject {
    group: String,
    version: String,
    kind: String,
    namespace: String,
    name: String,
    generate_name: bool,
    /// The object to apply (tracking and hash set).
    obj: Value,
    hash: String,
    rtype: Option<ResourceType>,
    phase: SyncPhase,
    hook: Option<HookType>,
    hook_delete: Vec<String>,
    wave: i64,
    options: flotilla_core::SyncOptions,
    location: Option<String>,
}

impl DesiredObject {
    fn display(&self) -> String {
        let gv = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        if self.namespace.is_empty() {
            format!("{gv}/{} {}", self.kind, self.name)
        } else {
            format!("{gv}/{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    fn key(&self) -> ObjKey {
        (
            self.group.clone(),
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
        )
    }

    fn result(&self, status: ResourceSyncStatus) -> ResourceResult {
        ResourceResult {
            resource: self.display(),
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            status,
            health: None,
            hook: self.hook.map(|h| h.to_string()),
            phase: self.phase,
            wave: self.wave,
            operation: ResourceOperation::Unchanged,
            message: String::new(),
            diff: None,
        }
    }
}

/// A live object tracked for the Application but not desired.
#[derive(Clone, Debug)]
struct Extraneous {
    rtype: ResourceType,
    namespace: String,
    name: String,
    wave: i64,
    options: flotilla_core::SyncOptions,
    hook: bool,
}

impl Extraneous {
    fn display(&self) -> String {
        let ar = &self.rtype.api_resource;
        if self.namespace.is_empty() {
            format!("{}/{} {}", ar.api_version, ar.kind, self.name)
        } else {
            format!(
                "{}/{} {}/{}",
                ar.api_version, ar.kind, self.namespace, self.name
            )
        }
    }

    fn result(&self) -> ResourceResult {
        let ar = &self.rtype.api_resource;
        ResourceResult {
            resource: self.display(),
            group: ar.group.clone(),
            kind: ar.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            status: ResourceSyncStatus::Extraneous,
            health: None,
            hook: None,
            phase: SyncPhase::Sync,
            wave: self.wave,
            operation: ResourceOperation::Unchanged,
            message: String::new(),
            diff: None,
        }
    }
}

/// Per-object comparison.
#[derive(Clone, Debug)]
struct Compared {
    status: ResourceSyncStatus,
    /// Apply even though Synced: only the hash annotation is missing.
    refresh_hash: bool,
    /// The server's prediction (a dry run was made and succeeded).
    predicted: Option<Value>,
    diff: Option<String>,
    message: String,
}

/// Everything known about an Application on its cluster.
struct Snapshot {
    conn: Arc<ClusterConn>,
    app: String,
    objects: Vec<DesiredObject>,
    hooks: Vec<DesiredObject>,
    live: HashMap<ObjKey, Value>,
    compared: Vec<Compared>,
    extraneous: Vec<Extraneous>,
    rules: IgnoreRules,
    /// The destination namespace to create (CreateNamespace=true), when missing.
    create_namespace: Option<Value>,
    /// Namespaces that exist on the cluster.
    existing_namespaces: BTreeSet<String>,
    /// The cluster cache `live` came from (Secret values in it are hashed).
    cache: Option<ClusterCache>,
}

/// The sync engine over a cluster registry.
#[derive(Clone)]
pub struct SyncEngine {
    registry: Arc<ClusterRegistry>,
    settings: EngineSettings,
    caches: Arc<std::sync::Mutex<HashMap<String, ClusterCache>>>,
    cache_events: broadcast::Sender<CacheEvent>,
    predictions: Predictions,
}

/// (cluster, object, desired hash, live resourceVersion, force).
type PredictionKey = (String, ObjKey, String, String, bool);

/// Recent server-side dry-run answers, so that a sync right after the
/// compare that decided it does not ask the server the same question again.
/// Keyed by the live resourceVersion: any change on the cluster misses.
#[derive(Clone, Default)]
struct Predictions(Arc<std::sync::Mutex<HashMap<PredictionKey, (Value, String)>>>);

impl Predictions {
    /// Answers kept at most (they are taken by the sync that follows);
    /// beyond it, all go.
    const MAX: usize = 2_000;

    fn get(&self, key: &PredictionKey, take: bool) -> Option<(Value, String)> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if take {
            map.remove(key)
        } else {
            map.get(key).cloned()
        }
    }

    fn put(&self, key: PredictionKey, answer: (Value, String)) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(key, answer);
    }
}

impl fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncEngine")
            .field("registry", &self.registry)
            .field("settings", &self.settings)
            .finish()
    }
}

fn group_of(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn kube_error(
    conn: &ClusterConn,
    resource: &str,
    operation: &str,
    e: kube::Error,
    obj: Option<&Value>,
) -> SyncError {
    let redact = |m: String| match obj {
        Some(obj) => diff::redact_secret_values(&m, obj),
        None => m,
    };
    match e {
        kube::Error::Api(status) => {
            if status.code == 409 && status.reason == "Conflict" && operation != "create" {
                let managers = conflict_managers(&status.message);
                if !managers.is_empty() {
                    return SyncError::Conflict {
                        cluster: conn.name().to_string(),
                        resource: resource.to_string(),
                        managers,
                        message: redact(status.message.clone()),
                    };
                }
            }
            SyncError::Resource {
                cluster: conn.name().to_string(),
                resource: resource.to_string(),
                operation: operation.to_string(),
                message: redact(format!("{} ({})", status.message, status.reason)),
                code: Some(status.code),
            }
        }
        other => SyncError::Resource {
            cluster: conn.name().to_string(),
            resource: resource.to_string(),
            operation: operation.to_string(),
            message: redact(other.to_string()),
            code: None,
        },
    }
}

/// The managers named in a server-side apply conflict message
/// (`conflict with "kubectl-edit" using apps/v1: .spec.replicas`).
fn conflict_managers(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(i) = rest.find("conflict with \"") {
        rest = &rest[i + "conflict with \"".len()..];
        if let Some(end) = rest.find('"') {
            let m = rest[..end].to_string();
            if !out.contains(&m) {
                out.push(m);
            }
            rest = &rest[end..];
        }
    }
    out
}

fn api_for(conn: &ClusterConn, rtype: &ResourceType, namespace: &str) -> Api<DynamicObject> {
    if rtype.namespaced && !namespace.is_empty() {
        Api::namespaced_with(conn.client().clone(), namespace, &rtype.api_resource)
    } else {
        Api::all_with(conn.client().clone(), &rtype.api_resource)
    }
}

fn to_value(obj: DynamicObject, rtype: &ResourceType) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.insert("apiVersion".into(), json!(rtype.api_resource.api_version));
        map.insert("kind".into(), json!(rtype.api_resource.kind));
    }
    v
}

fn meta_str<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

async fn list_all(
    api: &Api<DynamicObject>,
    lp: ListParams,
    rtype: &ResourceType,
) -> std::result::Result<Vec<Value>, kube::Error> {
    let mut out = Vec::new();
    let mut lp = lp.limit(500);
    loop {
        let list = api.list(&lp).await?;
        let token = list.metadata.continue_.clone();
        out.extend(list.items.into_iter().map(|o| to_value(o, rtype)));
        match token {
            Some(t) if !t.is_empty() => lp = lp.continue_token(&t),
            _ => return Ok(out),
        }
    }
}

impl SyncEngine {
    /// An engine over a registry, with default settings.
    pub fn new(registry: Arc<ClusterRegistry>) -> Self {
        Self::with_settings(registry, EngineSettings::default())
    }

    /// An engine with explicit settings.
    pub fn with_settings(registry: Arc<ClusterRegistry>, settings: EngineSettings) -> Self {
        let (cache_events, _) = broadcast::channel(4096);
        SyncEngine {
            registry,
            settings,
            caches: Arc::default(),
            cache_events,
            predictions: Predictions::default(),
        }
    }

    /// What the cluster caches report (objects of Applications changed, a
    /// cache synced again). Only with [`EngineSettings::cache`].
    pub fn cache_events(&self) -> broadcast::Receiver<CacheEvent> {
        self.cache_events.subscribe()
    }

    /// The cache of a cluster, started on first use; `None` when caching is
    /// off.
    pub async fn cache_for(&self, conn: &Arc<ClusterConn>) -> Result<Option<ClusterCache>> {
        if !self.settings.cache {
            return Ok(None);
        }
        let cache = {
            let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
            caches
                .entry(conn.name().to_string())
                .or_insert_with(|| {
                    ClusterCache::new(
                        conn.clone(),
                        self.settings.tracking,
                        self.cache_events.clone(),
                    )
                })
                .clone()
        };
        cache.start().await?;
        Ok(Some(cache))
    }

    /// The caches started so far.
    pub fn caches(&self) -> Vec<ClusterCache> {
        let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<ClusterCache> = caches.values().cloned().collect();
        v.sort_by(|a, b| a.cluster().cmp(b.cluster()));
        v
    }

    /// Stops every cache's watches.
    pub fn stop_caches(&self) {
        for c in self.caches() {
            c.stop();
        }
    }

    /// The registry.
    pub fn registry(&self) -> &ClusterRegistry {
        &self.registry
    }

    /// The connection of an Application's destination.
    pub async fn cluster_for(&self, app: &Application) -> Result<Arc<ClusterConn>> {
        self.registry.resolve(&app.spec.destination).await
    }

    /// The resource tree of an Application: `roots` (its managed resources,
    /// as its last comparison listed them) and what each owns on the
    /// cluster. Read from the cluster cache; without caching, a cache is
    /// started for the call and stopped after it.
    pub async fn tree(
        &self,
        app: &Application,
        roots: &[tree::Root],
    ) -> Result<tree::ResourceTree> {
        let conn = self.cluster_for(app).await?;
        let (cache, temporary) = match self.cache_for(&conn).await? {
            Some(c) => (c, false),
            None => {
                let (tx, _) = broadcast::channel(16);
                let c = ClusterCache::new(conn.clone(), self.settings.tracking, tx);
                c.start().await?;
                (c, true)
            }
        };
        let mut namespaces: BTreeSet<String> = roots
            .iter()
            .map(|r| r.namespace.clone())
            .filter(|n| !n.is_empty())
            .collect();
        namespaces.extend(app.spec.destination.namespace.clone());
        cache.watch_namespaces(namespaces).await;
        let outcome = cache.wait_synced(self.settings.cache_sync_timeout).await;
        if outcome.is_ok() {
            cache.wait_children(Duration::from_secs(10)).await;
        }
        let nodes =
            outcome.map(|()| tree::build(roots, &|k| cache.get(k), &|uid| cache.children(uid)));
        if temporary {
            cache.stop();
        }
        Ok(tree::ResourceTree {
            app: app.name().to_string(),
            cluster: conn.name().to_string(),
            nodes: nodes?,
        })
    }

    /// Compares the desired manifests of an Application with its cluster:
    /// per resource Synced / OutOfSync / Missing / Extraneous, a unified
    /// diff for each difference, and health. Changes nothing (server-side
    /// dry runs are used where a cheap comparison cannot decide).
    ///
    /// `desired` is the render result: an error is reported as
    /// [`SyncError::Source`].
    pub async fn compare(
        &self,
        app: &Application,
        desired: std::result::Result<Vec<Manifest>, SourceError>,
    ) -> Result<AppStatus> {
        let manifests = desired.map_err(|source| SyncError::Source {
            app: app.name().to_string(),
            source,
        })?;
        let snapshot = self.snapshot(app, manifests, true).await?;
        Ok(self.status_of(&snapshot))
    }

    fn status_of(&self, s: &Snapshot) -> AppStatus {
        let mut resources = Vec::new();
        for (obj, c) in s.objects.iter().zip(&s.compared) {
            let mut r = obj.result(c.status);
            r.diff = c.diff.clone();
            r.message = c.message.clone();
            r.health = match s.live.get(&obj.key()) {
                Some(live) => health::assess(live),
                None => Some(HealthStatus::new(HealthCode::Missing, "")),
            };
            resources.push(r);
        }
        for e in &s.extraneous {
            if e.hook {
                continue;
            }
            let mut r = e.result();
            r.message =
                "no longer in the desired manifests: a sync with prune enabled deletes it".into();
            resources.push(r);
        }
        let sync = if resources
            .iter()
            .all(|r| r.status == ResourceSyncStatus::Synced)
        {
            ResourceSyncStatus::Synced
        } else {
            ResourceSyncStatus::OutOfSync
        };
        let health = health::aggregate(
            resources
                .iter()
                .filter(|r| r.status != ResourceSyncStatus::Extraneous)
                .filter_map(|r| r.health.as_ref().map(|h| &h.status)),
        );
        AppStatus {
            app: s.app.clone(),
            cluster: s.conn.name().to_string(),
            sync,
            health,
            resources,
        }
    }

    /// Syncs an Application once (no retry): validates every resource with
    /// a server-side dry run, applies what differs in Argo CD's order
    /// (phases, waves, kinds), waits for health between waves, runs hooks and
    /// prunes. A failure at any point stops the sync and prunes nothing.
    ///
    /// `desired` is the render result; an error there fails the sync without
    /// touching the cluster: an absent desired set can never prune.
    pub async fn sync(
        &self,
        app: &Application,
        desired: std::result::Result<Vec<Manifest>, SourceError>,
        settings: &SyncSettings,
    ) -> SyncResult {
        let start = Instant::now();
        let mut result = SyncResult {
            app: app.name().to_string(),
            cluster: String::new(),
            resources: Vec::new(),
            health: HealthCode::Unknown,
            attempts: 1,
            duration: Duration::ZERO,
            error: None,
        };
        match desired {
            Err(source) => {
                result.error = Some(SyncError::Source {
                    app: app.name().to_string(),
                    source,
                });
            }
            Ok(manifests) => {
                let mut run = Run {
                    engine: self,
                    app,
                    settings,
                    results: Vec::new(),
                };
                let outcome = run.execute(manifests).await;
                result.resources = run.results;
                match outcome {
                    Ok((cluster, health)) => {
                        result.cluster = cluster;
                        result.health = health;
                    }
                    Err((cluster, e)) => {
                        result.cluster = cluster;
                        result.error = Some(e);
                    }
                }
            }
        }
        result.duration = start.elapsed();
        result
    }

    /// Syncs with retries as the Application's `syncPolicy.retry` (or
    /// `settings.retry`) says: exponential backoff, capped, cancellable.
    /// Errors that retrying cannot fix (invalid manifests, validation,
    /// conflicts, an absent desired set) are not retried.
    pub async fn sync_with_retry(
        &self,
        app: &Application,
        desired: std::result::Result<Vec<Manifest>, SourceError>,
        settings: &SyncSettings,
    ) -> SyncResult {
        let policy = settings.retry.clone().unwrap_or_else(|| {
            RetryPolicy::from_strategy(app.spec.sync_policy.as_ref().and_then(|p| p.retry.as_ref()))
        });
        let manifests = match desired {
            Ok(m) => m,
            Err(e) => return self.sync(app, Err(e), settings).await,
        };
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let mut result = self.sync(app, Ok(manifests.clone()), settings).await;
            result.attempts = attempt + 1;
            let retryable = result.error.as_ref().is_some_and(retryable);
            if !retryable || attempt >= policy.retries {
                result.duration = start.elapsed();
                return result;
            }
            let wait = policy.delay(attempt);
            if let Some(e) = &result.error {
                tracing::warn!(app = %app.name(), attempt = attempt + 1, wait_ms = wait.as_millis() as u64, error = %e, "sync failed, retrying");
            }
            if let Err(e) = sleep_or_cancel(wait, &settings.cancel).await {
                result.error = Some(e);
                result.duration = start.elapsed();
                return result;
            }
            attempt += 1;
        }
    }

    /// Resolves the cluster, prepares the desired objects and reads the live state.
    async fn snapshot(
        &self,
        app: &Application,
        manifests: Vec<Manifest>,
        with_diff: bool,
    ) -> Result<Snapshot> {
        let conn = self.cluster_for(app).await?;
        let rules = IgnoreRules::new(&app.spec.ignore_differences)?;
        let app_name = app.name().to_string();
        let (objects, hooks) = self.prepare(app, &conn, manifests).await?;
        let method = self.settings.tracking;

        // Live objects of the desired kinds, one list per kind and namespace.
        let mut groups: BTreeMap<(String, String, String, String), ResourceType> = BTreeMap::new();
        for o in objects.iter().chain(&hooks) {
            if let Some(t) = &o.rtype {
                let ar = &t.api_resource;
                groups.insert(
                    (
                        ar.group.clone(),
                        ar.version.clone(),
                        ar.kind.clone(),
                        o.namespace.clone(),
                    ),
                    t.clone(),
                );
            }
        }
        // With a cache, what it covers is read from memory; the rest (a kind
        // whose CRD was applied a moment ago) is listed.
        let cache = self.cache_for(&conn).await?;
        let mut live: HashMap<ObjKey, Value> = HashMap::new();
        if let Some(c) = &cache {
            let mut namespaces: BTreeSet<String> = objects
                .iter()
                .chain(&hooks)
                .map(|o| o.namespace.clone())
                .filter(|n| !n.is_empty())
                .collect();
            if let Some(ns) = app.spec.destination.namespace.as_ref() {
                namespaces.insert(ns.clone());
            }
            c.watch_namespaces(namespaces).await;
            c.wait_synced(self.settings.cache_sync_timeout).await?;
            groups.retain(|(g, _, k, _), _| !c.covers(g, k));
            for o in objects.iter().chain(&hooks) {
                if o.rtype.is_some() && c.covers(&o.group, &o.kind) {
                    if let Some(v) = c.get(&o.key()) {
                        live.insert(o.key(), v);
                    }
                }
            }
        }
        let conc = self.settings.concurrency.max(1);
        let conn_ref = &conn;
        let lists: Vec<Vec<Value>> = futures::stream::iter(
            groups
                .into_iter()
                .map(|((_, _, _, ns), t)| async move {
                    let api = api_for(conn_ref, &t, &ns);
                    list_all(&api, ListParams::default(), &t)
                        .await
                        .map_err(|e| SyncError::Request {
                            cluster: conn_ref.name().to_string(),
                            operation: format!(
                                "listing {} in namespace {ns:?}",
                                t.api_resource.plural
                            ),
                            message: e.to_string(),
                        })
                })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(conc)
        .try_collect()
        .await?;
        for v in lists.into_iter().flatten() {
            let (g, _) = group_of(v.get("apiVersion").and_then(Value::as_str).unwrap_or(""));
            let key = (
                g.to_string(),
                v.get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                meta_str(&v, "namespace").to_string(),
                meta_str(&v, "name").to_string(),
            );
            live.insert(key, v);
        }

        // Tracked objects of every kind: prune candidates.
        let index = conn.discovery().await?;
        let selector = if method.uses_label() {
            format!("{INSTANCE_LABEL}={app_name}")
        } else {
            String::new()
        };
        let desired_keys: BTreeSet<ObjKey> = objects
            .iter()
            .chain(&hooks)
            .map(DesiredObject::key)
            .collect();
        let extraneous_of = |t: &ResourceType, v: &Value| -> Option<Extraneous> {
            let ns = meta_str(v, "namespace").to_string();
            let name = meta_str(v, "name").to_string();
            let key = (
                t.api_resource.group.clone(),
                t.api_resource.kind.clone(),
                ns.clone(),
                name.clone(),
            );
            if desired_keys.contains(&key) || !tracking::is_tracked_by(v, &app_name, method) {
                return None;
            }
            let m = Manifest::from_value(v.clone()).unwrap_or_default();
            Some(Extraneous {
                rtype: t.clone(),
                namespace: ns,
                name,
                wave: m.sync_wave().unwrap_or(0),
                options: m.sync_options(),
                hook: !m.hook_types().unwrap_or_default().is_empty(),
            })
        };
        let from_cache: Vec<Extraneous> = match &cache {
            Some(c) => c
                .tracked_by(&app_name)
                .iter()
                .filter_map(|(t, v)| extraneous_of(t, v))
                .collect(),
            None => Vec::new(),
        };
        let tracked: Vec<Vec<Extraneous>> = futures::stream::iter(
            index
                .prunable()
                .iter()
                .filter(|t| {
                    cache
                        .as_ref()
                        .is_none_or(|c| !c.covers(&t.api_resource.group, &t.api_resource.kind))
                })
                .cloned()
                .map(|t| {
                    let selector = selector.clone();
                    let extraneous_of = &extraneous_of;
                    async move {
                        let api: Api<DynamicObject> =
                            Api::all_with(conn_ref.client().clone(), &t.api_resource);
                        let mut lp = ListParams::default().limit(500);
                        if !selector.is_empty() {
                            lp = lp.labels(&selector);
                        }
                        let mut found = Vec::new();
                        loop {
                            let list = match api.list_metadata(&lp).await {
                                Ok(l) => l,
                                Err(kube::Error::Api(s))
                                    if s.code == 404 || s.code == 405 || s.code == 403 =>
                                {
                                    break
                                }
                                Err(e) => {
                                    return Err(SyncError::Request {
                                        cluster: conn_ref.name().to_string(),
                                        operation: format!(
                                            "listing tracked {}",
                                            t.api_resource.plural
                                        ),
                                        message: e.to_string(),
                                    })
                                }
                            };
                            let token = list.metadata.continue_.clone();
                            for item in list.items {
                                let mut v = serde_json::to_value(&item).unwrap_or(Value::Null);
                                v["apiVersion"] = json!(t.api_resource.api_version);
                                v["kind"] = json!(t.api_resource.kind);
                                found.extend(extraneous_of(&t, &v));
                            }
                            match token {
                                Some(tk) if !tk.is_empty() => lp = lp.continue_token(&tk),
                                _ => break,
                            }
                        }
                        Ok(found)
                    }
                })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(conc)
        .try_collect()
        .await?;
        let mut extraneous: Vec<Extraneous> = tracked.into_iter().flatten().collect();
        extraneous.extend(from_cache);
        extraneous.sort_by(|a, b| {
            (kind_rank(&a.rtype.api_resource.kind), &a.namespace, &a.name).cmp(&(
                kind_rank(&b.rtype.api_resource.kind),
                &b.namespace,
                &b.name,
            ))
        });

        // Namespaces: which exist (for validation of objects in new ones).
        let ns_type = index.get("", "v1", "Namespace").cloned();
        let mut existing_namespaces = BTreeSet::new();
        if let Some(c) = cache.as_ref().filter(|c| c.covers("", "Namespace")) {
            existing_namespaces = c.namespaces();
        } else if let Some(t) = &ns_type {
            let api: Api<DynamicObject> = Api::all_with(conn.client().clone(), &t.api_resource);
            let list = api
                .list_metadata(&ListParams::default())
                .await
                .map_err(|e| SyncError::Request {
                    cluster: conn.name().to_string(),
                    operation: "listing namespaces".into(),
                    message: e.to_string(),
                })?;
            existing_namespaces = list
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect();
        }
        let create_namespace = self.namespace_to_create(app, &objects, &existing_namespaces);

        let mut snapshot = Snapshot {
            conn: conn.clone(),
            app: app_name,
            objects,
            hooks,
            live,
            compared: Vec::new(),
            extraneous,
            rules,
            create_namespace,
            existing_namespaces,
            cache,
        };
        snapshot.compared = self.compare_objects(&snapshot, app, with_diff).await?;
        Ok(snapshot)
    }

    fn namespace_to_create(
        &self,
        app: &Application,
        objects: &[DesiredObject],
        existing: &BTreeSet<String>,
    ) -> Option<Value> {
        let ns = app
            .spec
            .destination
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())?;
        if app.spec.sync_options().create_namespace() != Some(true) || existing.contains(ns) {
            return None;
        }
        if objects
            .iter()
            .any(|o| o.group.is_empty() && o.kind == "Namespace" && o.name == ns)
        {
            return None;
        }
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        if let Some(meta) = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.managed_namespace_metadata.as_ref())
        {
            if !meta.labels.is_empty() {
                obj["metadata"]["labels"] = json!(meta.labels);
            }
            if !meta.annotations.is_empty() {
                obj["metadata"]["annotations"] = json!(meta.annotations);
            }
        }
        Some(obj)
    }

    /// Turns manifests into desired objects: resolves kinds through
    /// discovery, sets or strips namespaces, adds tracking, computes hashes,
    /// phases and waves.
    async fn prepare(
        &self,
        app: &Application,
        conn: &ClusterConn,
        manifests: Vec<Manifest>,
    ) -> Result<(Vec<DesiredObject>, Vec<DesiredObject>)> {
        let app_name = app.name();
        let app_options = app.spec.sync_options();
        for option in app_options.unrecognized() {
            tracing::warn!(app = %app_name, option, "unknown sync option ignored");
        }
        if app_options.replace() == Some(true) {
            tracing::warn!(app = %app_name, "sync option Replace=true is not supported: resources are applied with server-side apply");
        }
        let dest_ns = app
            .spec
            .destination
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        // CRDs in this sync: group/kind -> namespaced.
        let mut crds: HashMap<(String, String), bool> = HashMap::new();
        for m in &manifests {
            if m.kind() == Some("CustomResourceDefinition") {
                let spec = m.object.get("spec");
                let group = spec
                    .and_then(|s| s.get("group"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let kind = spec
                    .and_then(|s| s.get("names"))
                    .and_then(|n| n.get("kind"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let namespaced =
                    spec.and_then(|s| s.get("scope")).and_then(Value::as_str) != Some("Cluster");
                crds.insert((group.to_string(), kind.to_string()), namespaced);
            }
        }
        let mut objects = Vec::new();
        let mut hooks = Vec::new();
        let mut seen: BTreeSet<ObjKey> = BTreeSet::new();
        let mut index = conn.discovery().await?;
        let mut refreshed = false;
        for manifest in manifests {
            let location = manifest.location.as_ref().map(ToString::to_string);
            let hook_types = manifest.hook_types()?;
            if hook_types.contains(&HookType::Skip) {
                continue;
            }
            let wave = manifest.sync_wave()?;
            let options = manifest.sync_options();
            let generate_name = manifest.name().is_none() && manifest.generate_name().is_some();
            let (api_version, kind, name) = if generate_name {
                let api_version = manifest.api_version().unwrap_or("").to_string();
                flotilla_core::split_api_version(&api_version)
                    .map_err(|e| e.with_location(manifest.location.as_ref()))?;
                (
                    api_version,
                    manifest.kind().unwrap_or("").to_string(),
                    manifest.generate_name().unwrap_or("").to_string(),
                )
            } else {
                let key = manifest.key()?;
                (key.api_version(), key.kind.clone(), key.name.clone())
            };
            if kind.is_empty() {
                return Err(flotilla_core::CoreError::MissingField {
                    field: "kind".into(),
                    location: manifest.location.clone(),
                }
                .into());
            }
            let (group, version) = group_of(&api_version);
            let (group, version) = (group.to_string(), version.to_string());
            let mut rtype = index.get(&group, &version, &kind).cloned();
            if rtype.is_none() && !refreshed {
                // An unknown kind: discovery may be stale (refreshed once per sync).
                index = conn.refresh_discovery().await?;
                refreshed = true;
                rtype = index.get(&group, &version, &kind).cloned();
            }
            let namespaced = match &rtype {
                Some(t) => t.namespaced,
                None => match crds.get(&(group.clone(), kind.clone())) {
                    Some(n) => *n,
                    None => {
                        let resource = format!("{api_version}/{kind} {name}");
                        if options.skip_dry_run_on_missing_resource() == Some(true) {
                            manifest.namespace().is_some()
                        } else {
                            return Err(SyncError::UnknownKind {
                                cluster: conn.name().to_string(),
                                resource: match &location {
                                    Some(l) => format!("{resource} (from {l})"),
                                    None => resource,
                                },
                                kind,
                                api_version,
                            });
                        }
                    }
                },
            };
            let mut manifest = manifest;
            let namespace = if namespaced {
                let ns = manifest
                    .namespace()
                    .map(str::to_string)
                    .unwrap_or_else(|| dest_ns.clone());
                manifest.set_namespace(&ns)?;
                ns
            } else {
                if let Ok(meta) = manifest.metadata_mut() {
                    meta.remove("namespace");
                }
                String::new()
            };
            let method = self.settings.tracking;
            if method.uses_label() {
                manifest.set_label(INSTANCE_LABEL, app_name)?;
            }
            if method.uses_annotation() {
                let id = tracking::tracking_id(
                    app_name,
                    &group,
                    &kind,
                    (!namespace.is_empty()).then_some(namespace.as_str()),
                    &name,
                );
                manifest.set_annotation(TRACKING_ID, &id)?;
            }
            let mut obj = manifest.into_value();
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                if let Some(Value::Object(a)) = meta.get_mut("annotations") {
                    a.remove(DESIRED_HASH_ANNOTATION);
                }
            }
            let hash = diff::desired_hash(&obj);
            if let Some(Value::Object(a)) = obj
                .get_mut("metadata")
                .and_then(|m| m.get_mut("annotations"))
            {
                a.insert(DESIRED_HASH_ANNOTATION.into(), json!(hash));
            }
            let hook_delete: Vec<String> = annotation(&obj, HOOK_DELETE_POLICY)
                .or_else(|| annotation(&obj, HELM_HOOK_DELETE_POLICY))
                .map(|s| {
                    s.split(',')
                        .map(|p| match p.trim() {
                            "hook-succeeded" => "HookSucceeded".to_string(),
                            "hook-failed" => "HookFailed".to_string(),
                            "before-hook-creation" => "BeforeHookCreation".to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let base = DesiredObject {
                group: group.clone(),
                version: version.clone(),
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                generate_name,
                obj,
                hash,
                rtype: rtype.clone(),
                phase: SyncPhase::Sync,
                hook: None,
                hook_delete,
                wave,
                options,
                location,
            };
            if hook_types.is_empty() {
                if !seen.insert(base.key()) {
                    return Err(SyncError::Manifest {
                        source: flotilla_core::CoreError::InvalidValue {
                            field: "metadata.name".into(),
                            value: name,
                            reason: format!(
                                "{} appears more than once in the desired manifests",
                                base.display()
                            ),
                            location: base
                                .location
                                .as_deref()
                                .map(flotilla_core::Location::in_file),
                        },
                    });
                }
                objects.push(base);
            } else {
                for hook in hook_types {
                    let phase = match hook {
                        HookType::PreSync => SyncPhase::PreSync,
                        HookType::Sync => SyncPhase::Sync,
                        HookType::PostSync => SyncPhase::PostSync,
                        HookType::SyncFail => SyncPhase::SyncFail,
                        HookType::PostDelete | HookType::Skip => continue,
                    };
                    let mut h = base.clone();
                    h.phase = phase;
                    h.hook = Some(hook);
                    hooks.push(h);
                }
            }
        }
        // Namespaces and CRDs move up to the earliest wave that needs them.
        let mut needed_ns: HashMap<String, i64> = HashMap::new();
        let mut needed_kind: HashMap<(String, String), i64> = HashMap::new();
        for o in &objects {
            if !o.namespace.is_empty() {
                let w = needed_ns.entry(o.namespace.clone()).or_insert(o.wave);
                *w = (*w).min(o.wave);
            }
            let w = needed_kind
                .entry((o.group.clone(), o.kind.clone()))
                .or_insert(o.wave);
            *w = (*w).min(o.wave);
        }
        for o in &mut objects {
            if o.group.is_empty() && o.kind == "Namespace" {
                if let Some(w) = needed_ns.get(&o.name) {
                    o.wave = o.wave.min(*w);
                }
            }
            if o.kind == "CustomResourceDefinition" {
                let spec = o.obj.get("spec");
                let g = spec
                    .and_then(|s| s.get("group"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let k = spec
                    .and_then(|s| s.get("names"))
                    .and_then(|n| n.get("kind"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let Some(w) = needed_kind.get(&(g, k)) {
                    o.wave = o.wave.min(*w);
                }
            }
        }
        objects.sort_by(|a, b| {
            (a.wave, kind_rank(&a.kind), &a.namespace, &a.name).cmp(&(
                b.wave,
                kind_rank(&b.kind),
                &b.namespace,
                &b.name,
            ))
        });
        hooks.sort_by(|a, b| {
            (a.phase, a.wave, kind_rank(&a.kind), &a.name).cmp(&(
                b.phase,
                b.wave,
                kind_rank(&b.kind),
                &b.name,
            ))
        });
        Ok((objects, hooks))
    }

    /// Compares every desired object with its live state.
    async fn compare_objects(
        &self,
        s: &Snapshot,
        app: &Application,
        with_diff: bool,
    ) -> Result<Vec<Compared>> {
        let force_default = self.force_default(app, None);
        let conc = self.settings.concurrency.max(1);
        let results: Vec<Result<Compared>> = futures::stream::iter(
            s.objects
                .iter()
                .map(|o| async move {
                    let live = s.live.get(&o.key());
                    let Some(live) = live else {
                        let diff = if with_diff {
                            let mut d = o.obj.clone();
                            strip_hash(&mut d);
                            diff::mask_secret(&mut d);
                            diff::unified_yaml_diff(None, Some(&d), &o.display())
                        } else {
                            None
                        };
                        return Ok(Compared {
                            status: ResourceSyncStatus::Missing,
                            refresh_hash: false,
                            predicted: None,
                            diff,
                            message: String::new(),
                        });
                    };
                    let mut desired = o.obj.clone();
                    diff::fold_string_data(&mut desired);
                    // The cache holds Secret values as digests: compare digests.
                    let hashed = s.cache.is_some() && o.group.is_empty() && o.kind == "Secret";
                    if hashed {
                        crate::cache::store::hash_secret_values(&mut desired);
                    }
                    if o.options.respect_ignore_differences() == Some(true)
                        || app.spec.sync_options().respect_ignore_differences() == Some(true)
                    {
                        s.rules.respect(&mut desired, live)?;
                    }
                    strip_hash(&mut desired);
                    let mut desired_n = diff::normalize(&desired);
                    s.rules.apply(&mut desired_n, Some(live))?;
                    let mut live_n = diff::normalize(live);
                    s.rules.apply(&mut live_n, Some(live))?;
                    let hash_matches =
                        annotation(live, DESIRED_HASH_ANNOTATION) == Some(o.hash.as_str());
                    if hash_matches && diff::is_subset(&desired_n, &live_n) {
                        return Ok(Compared {
                            status: ResourceSyncStatus::Synced,
                            refresh_hash: false,
                            predicted: None,
                            diff: None,
                            message: String::new(),
                        });
                    }
                    // Ask the server what applying would give.
                    let force = force_default || o.options.force() == Some(true);
                    // The same desired object against the same live version
                    // was dry-run a moment ago (a compare, then its sync):
                    // the server's answer is the same.
                    let memo_key = (
                        s.conn.name().to_string(),
                        o.key(),
                        o.hash.clone(),
                        meta_str(live, "resourceVersion").to_string(),
                        force,
                    );
                    // A sync takes the answer (it applies next: the live
                    // version changes); a compare leaves it for its sync.
                    let memo = self.predictions.get(&memo_key, !with_diff);
                    let (predicted, message) = match memo {
                        Some(hit) => hit,
                        None => {
                            let answer = match self.apply_one(&s.conn, o, true, force).await {
                                Ok(p) => (p, String::new()),
                                Err(SyncError::Conflict { managers, .. }) if !force => {
                                    let p = self.apply_one(&s.conn, o, true, true).await?;
                                    (p, format!("fields owned by {} differ", managers.join(", ")))
                                }
                                Err(e) => {
                                    return Ok(Compared {
                                        status: ResourceSyncStatus::OutOfSync,
                                        refresh_hash: false,
                                        predicted: None,
                                        diff: None,
                                        message: e.to_string(),
                                    })
                                }
                            };
                            if !meta_str(live, "resourceVersion").is_empty() {
                                self.predictions.put(memo_key, answer.clone());
                            }
                            answer
                        }
                    };
                    let mut pred_n = if hashed {
                        let mut p = predicted.clone();
                        crate::cache::store::hash_secret_values(&mut p);
                        diff::normalize(&p)
                    } else {
                        diff::normalize(&predicted)
                    };
                    s.rules.apply(&mut pred_n, Some(live))?;
                    let synced = pred_n == live_n;
                    let diff = if !synced && with_diff {
                        let (mut a, mut b) = (live_n.clone(), pred_n.clone());
                        diff::mask_secret_pair(Some(&mut a), Some(&mut b));
                        diff::unified_yaml_diff(Some(&a), Some(&b), &o.display())
                    } else {
                        None
                    };
                    Ok(Compared {
                        status: if synced {
                            ResourceSyncStatus::Synced
                        } else {
                            ResourceSyncStatus::OutOfSync
                        },
                        refresh_hash: synced && !hash_matches,
                        predicted: Some(predicted),
                        diff,
                        message,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .buffered(conc)
        .collect()
        .await;
        results.into_iter().collect()
    }

    fn force_default(&self, app: &Application, settings: Option<&SyncSettings>) -> bool {
        if let Some(force) = settings.and_then(|s| s.force) {
            return force;
        }
        let opts = app.spec.sync_options();
        opts.force() == Some(true)
            || opts.server_side_apply() == Some(true)
            || app.spec.automated().is_some_and(|a| a.self_heal())
    }

    /// Server-side apply (or dry run) of one object; returns the server's object.
    async fn apply_one(
        &self,
        conn: &ClusterConn,
        o: &DesiredObject,
        dry_run: bool,
        force: bool,
    ) -> Result<Value> {
        self.apply_value(conn, o, &o.obj, &o.namespace, dry_run, force)
            .await
    }

    async fn apply_value(
        &self,
        conn: &ClusterConn,
        o: &DesiredObject,
        obj: &Value,
        namespace: &str,
        dry_run: bool,
        force: bool,
    ) -> Result<Value> {
        let Some(rtype) = &o.rtype else {
            return Err(SyncError::UnknownKind {
                cluster: conn.name().to_string(),
                resource: o.display(),
                kind: o.kind.clone(),
                api_version: if o.group.is_empty() {
                    o.version.clone()
                } else {
                    format!("{}/{}", o.group, o.version)
                },
            });
        };
        let api = api_for(conn, rtype, namespace);
        let operation = if dry_run { "dry-run" } else { "apply" };
        if o.generate_name {
            let mut pp = PostParams {
                dry_run,
                field_manager: Some(FIELD_MANAGER.into()),
            };
            pp.dry_run = dry_run;
            let dynamic: DynamicObject =
                serde_json::from_value(obj.clone()).map_err(|e| SyncError::Resource {
                    cluster: conn.name().to_string(),
                    resource: o.display(),
                    operation: "create".into(),
                    message: format!("not a Kubernetes object: {e}"),
                    code: None,
                })?;
            return api
                .create(&pp, &dynamic)
                .await
                .map(|v| to_value(v, rtype))
                .map_err(|e| kube_error(conn, &o.display(), "create", e, Some(obj)));
        }
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.dry_run = dry_run;
        pp.force = force;
        pp.field_validation = Some(if o.options.validate() == Some(false) {
            ValidationDirective::Ignore
        } else {
            ValidationDirective::Strict
        });
        api.patch(&o.name, &pp, &Patch::Apply(obj))
            .await
            .map(|v| to_value(v, rtype))
            .map_err(|e| kube_error(conn, &o.display(), operation, e, Some(obj)))
    }
}

fn strip_hash(obj: &mut Value) {
    if let Some(Value::Object(a)) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        a.remove(DESIRED_HASH_ANNOTATION);
        if a.is_empty() {
            if let Some(Value::Object(m)) = obj.get_mut("metadata") {
                m.remove("annotations");
            }
        }
    }
}

/// Whether a failed sync is worth another attempt.
fn retryable(e: &SyncError) -> bool {
    !matches!(
        e,
        SyncError::Source { .. }
            | SyncError::Validation { .. }
            | SyncError::Manifest { .. }
            | SyncError::UnknownDestination { .. }
            | SyncError::ClusterConfig { .. }
            | SyncError::IgnoreRule { .. }
            | SyncError::Cancelled
            | SyncError::PruneRefused { .. }
            | SyncError::Conflict { .. }
    )
}

/// One sync run.
struct Run<'a> {
    engine: &'a SyncEngine,
    app: &'a Application,
    settings: &'a SyncSettings,
    results: Vec<ResourceResult>,
}

type RunError = (String, SyncError);

impl Run<'_> {
    fn emit(&self, event: ProgressEvent) {
        if let Some(p) = &self.settings.progress {
            p(&event);
        }
    }

    fn check_cancel(&self) -> Result<()> {
        if self.settings.cancel.is_cancelled() {
            Err(SyncError::Cancelled)
        } else {
            Ok(())
        }
    }

    async fn execute(
        &mut self,
        manifests: Vec<Manifest>,
    ) -> std::result::Result<(String, HealthCode), RunError> {
        let cluster = match self.engine.cluster_for(self.app).await {
            Ok(c) => c.name().to_string(),
            Err(e) => return Err((String::new(), e)),
        };
        match self.execute_inner(manifests).await {
            Ok(h) => Ok((cluster, h)),
            Err(e) => Err((cluster, e)),
        }
    }

    async fn execute_inner(&mut self, manifests: Vec<Manifest>) -> Result<HealthCode> {
        let engine = self.engine;
        let app = self.app;
        let mut s = tokio::select! {
            r = engine.snapshot(app, manifests, false) => r?,
            _ = self.settings.cancel.cancelled() => return Err(SyncError::Cancelled),
        };
        let conn = s.conn.clone();
        let force = engine.force_default(app, Some(self.settings));
        let prune_enabled = self
            .settings
            .prune
            .unwrap_or_else(|| app.spec.automated().is_some_and(|a| a.prune()));
        let allow_empty = app.spec.automated().is_some_and(|a| a.allow_empty());

        // Results for every object, updated as the sync goes.
        for (o, c) in s.objects.iter().zip(&s.compared) {
            let mut r = o.result(c.status);
            r.message = c.message.clone();
            self.results.push(r);
        }
        let n_objects = s.objects.len();

        // Never prune everything unless allowed.
        let prunable: Vec<&Extraneous> = s.extraneous.iter().filter(|e| !e.hook).collect();
        if s.objects.is_empty() && !prunable.is_empty() && prune_enabled && !allow_empty {
            for e in &prunable {
                let mut r = e.result();
                r.operation = ResourceOperation::PruneSkipped;
                r.message = "not pruned: the desired set is empty".into();
                self.results.push(r);
            }
            return Err(SyncError::PruneRefused {
                app: s.app.clone(),
                reason: format!(
                    "the desired set is empty and would delete all {} resources (set syncPolicy.automated.allowEmpty to allow it)",
                    prunable.len()
                ),
            });
        }

        let to_apply: Vec<usize> = (0..n_objects)
            .filter(|&i| {
                s.compared[i].status != ResourceSyncStatus::Synced || s.compared[i].refresh_hash
            })
            .collect();
        let nothing_to_do = to_apply.is_empty()
            && s.create_namespace.is_none()
            && (prunable.is_empty() || !prune_enabled);
        if nothing_to_do {
            self.record_extraneous(&s, prune_enabled);
            self.emit(ProgressEvent::Resource {
                app: s.app.clone(),
                resource: format!("{} resources", n_objects),
                operation: ResourceOperation::Unchanged,
                message: "in sync".into(),
            });
            return Ok(self.final_health(&s));
        }

        // 1. Validate everything first.
        self.validate(&mut s, &to_apply, force).await?;
        if self.settings.dry_run {
            for &i in &to_apply {
                self.results[i].operation = ResourceOperation::DryRun;
            }
            self.record_extraneous(&s, prune_enabled);
            return Ok(self.final_health(&s));
        }

        // 2. The destination namespace.
        if let Some(ns) = s.create_namespace.clone() {
            let api: Api<DynamicObject> = Api::all_with(
                conn.client().clone(),
                &kube::api::ApiResource {
                    group: String::new(),
                    version: "v1".into(),
                    api_version: "v1".into(),
                    kind: "Namespace".into(),
                    plural: "namespaces".into(),
                },
            );
            let name = meta_str(&ns, "name").to_string();
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Apply(&ns),
            )
            .await
            .map_err(|e| kube_error(&conn, &format!("v1/Namespace {name}"), "apply", e, None))?;
            s.existing_namespaces.insert(name.clone());
            self.emit(ProgressEvent::Resource {
                app: s.app.clone(),
                resource: format!("v1/Namespace {name}"),
                operation: ResourceOperation::Created,
                message: "CreateNamespace=true".into(),
            });
        }

        // 3. Phases and waves.
        let hooks_to_run = !s.hooks.is_empty();
        let outcome = self
            .run_phases(&mut s, &to_apply, force, prune_enabled)
            .await;
        if let Err(e) = outcome {
            if hooks_to_run {
                self.run_hooks(&s, SyncPhase::SyncFail).await.ok();
            }
            // Mark what was not reached.
            for r in &mut self.results {
                if r.operation == ResourceOperation::Unchanged
                    && r.status != ResourceSyncStatus::Synced
                {
                    r.operation = ResourceOperation::Skipped;
                }
            }
            return Err(e);
        }
        Ok(self.final_health(&s))
    }

    fn record_extraneous(&mut self, s: &Snapshot, prune_enabled: bool) {
        for e in s.extraneous.iter().filter(|e| !e.hook) {
            let mut r = e.result();
            r.operation = ResourceOperation::PruneSkipped;
            r.message = if prune_enabled {
                "not pruned".into()
            } else {
                "ignored (requires pruning)".into()
            };
            self.results.push(r);
        }
    }

    /// Server-side dry run of everything the sync will apply.
    async fn validate(&mut self, s: &mut Snapshot, to_apply: &[usize], force: bool) -> Result<()> {
        self.check_cancel()?;
        let engine = self.engine;
        let conn = s.conn.clone();
        let conc = engine.settings.concurrency.max(1);
        let existing = &s.existing_namespaces;
        let hooks_needed = !s.hooks.is_empty();
        let snapshot = &*s;
        let targets: Vec<&DesiredObject> = to_apply
            .iter()
            .filter(|&&i| snapshot.compared[i].predicted.is_none())
            .map(|&i| &snapshot.objects[i])
            .chain(snapshot.hooks.iter().filter(|_| hooks_needed))
            .collect();
        let conn_ref = &conn;
        let failures: Vec<Option<ValidationFailure>> = futures::stream::iter(
            targets
                .into_iter()
                .map(|o| async move {
                    // A kind whose CRD is part of this sync is validated once the CRD is established.
                    o.rtype.as_ref()?;
                    let force = force || o.options.force() == Some(true);
                    let mut obj = o.obj.clone();
                    let mut namespace = o.namespace.clone();
                    if o.rtype.as_ref().is_some_and(|t| t.namespaced)
                        && !existing.contains(&namespace)
                    {
                        // Its namespace is created by this sync: validate in an existing one.
                        namespace = "default".into();
                        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.insert("namespace".into(), json!("default"));
                        }
                    }
                    let r = if o.hook.is_some() && !o.generate_name {
                        // A named hook is deleted and created anew: validate it as a
                        // creation (under a generated name), not as a change of the
                        // previous run's object, whose spec may be immutable.
                        let mut fresh = o.clone();
                        fresh.generate_name = true;
                        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.remove("name");
                            m.insert("generateName".into(), json!(format!("{}-", o.name)));
                        }
                        engine
                            .apply_value(conn_ref, &fresh, &obj, &namespace, true, true)
                            .await
                    } else if namespace == o.namespace {
                        engine.apply_one(conn_ref, o, true, force).await
                    } else {
                        // Schema validation only: another namespace's owners are irrelevant.
                        engine
                            .apply_value(conn_ref, o, &obj, &namespace, true, true)
                            .await
                    };
                    match r {
                        Ok(_) => None,
                        Err(e) => Some(ValidationFailure {
                            resource: o.display(),
                            location: o.location.clone(),
                            reason: match e {
                                SyncError::Resource { message, .. } => message,
                                other => other.to_string(),
                            },
                        }),
                    }
                })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(conc)
        .collect()
        .await;
        let failures: Vec<ValidationFailure> = failures.into_iter().flatten().collect();
        if !failures.is_empty() {
            for f in &failures {
                if let Some(r) = self.results.iter_mut().find(|r| r.resource == f.resource) {
                    r.operation = ResourceOperation::Failed;
                    r.message = f.reason.clone();
                }
            }
            return Err(SyncError::Validation {
                cluster: conn.name().to_string(),
                failures,
            });
        }
        Ok(())
    }

    async fn run_phases(
        &mut self,
        s: &mut Snapshot,
        to_apply: &[usize],
        force: bool,
        prune_enabled: bool,
    ) -> Result<()> {
        // PreSync hooks.
        self.run_hooks(s, SyncPhase::PreSync).await?;

        // Sync phase: waves of resources, with Sync hooks in their waves.
        let mut waves: BTreeSet<i64> = to_apply.iter().map(|&i| s.objects[i].wave).collect();
        waves.extend(
            s.hooks
                .iter()
                .filter(|h| h.phase == SyncPhase::Sync)
                .map(|h| h.wave),
        );
        let last_wave = waves.iter().next_back().copied();
        let has_post = s.hooks.iter().any(|h| h.phase == SyncPhase::PostSync);
        for wave in waves {
            self.check_cancel()?;
            let members: Vec<usize> = to_apply
                .iter()
                .copied()
                .filter(|&i| s.objects[i].wave == wave)
                .collect();
            self.emit(ProgressEvent::Wave {
                app: s.app.clone(),
                phase: SyncPhase::Sync,
                wave,
                resources: members.len(),
            });
            // Kind groups in order.
            let mut ranks: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &i in &members {
                ranks
                    .entry(kind_rank(&s.objects[i].kind))
                    .or_default()
                    .push(i);
            }
            for (_, group) in ranks {
                self.apply_group(s, &group, force).await?;
                if group
                    .iter()
                    .any(|&i| s.objects[i].kind == "CustomResourceDefinition")
                {
                    self.crds_established(s, &group).await?;
                }
            }
            self.run_hook_wave(s, SyncPhase::Sync, wave).await?;
            let last = Some(wave) == last_wave;
            if !last || has_post || self.settings.wait_for_health {
                self.wait_healthy(s, &members).await?;
            }
        }

        // Prune (reverse waves), PruneLast at the very end.
        let candidates: Vec<Extraneous> =
            s.extraneous.iter().filter(|e| !e.hook).cloned().collect();
        let (last, normal): (Vec<Extraneous>, Vec<Extraneous>) =
            candidates.into_iter().partition(|e| {
                e.options.prune_last() == Some(true)
                    || self.app.spec.sync_options().prune_last() == Some(true)
            });
        self.prune(s, normal, prune_enabled).await?;
        self.run_hooks(s, SyncPhase::PostSync).await?;
        self.prune(s, last, prune_enabled).await?;
        Ok(())
    }

    async fn apply_group(&mut self, s: &mut Snapshot, group: &[usize], force: bool) -> Result<()> {
        self.check_cancel()?;
        let engine = self.engine;
        let conn = s.conn.clone();
        // Kinds from CRDs applied earlier in this sync: resolve and validate now.
        for &i in group {
            if s.objects[i].rtype.is_none() {
                let o = &s.objects[i];
                let t = conn.resource_type(&o.group, &o.version, &o.kind).await?;
                let Some(t) = t else {
                    return Err(SyncError::UnknownKind {
                        cluster: conn.name().to_string(),
                        resource: o.display(),
                        kind: o.kind.clone(),
                        api_version: format!("{}/{}", o.group, o.version),
                    });
                };
                s.objects[i].rtype = Some(t);
            }
        }
        let conc = engine.settings.concurrency.max(1);
        let snapshot = &*s;
        let conn_ref = &conn;
        let cancel = &self.settings.cancel;
        let outcomes: Vec<(usize, Result<Value>)> = futures::stream::iter(
            group
                .iter()
                .copied()
                .map(|i| async move {
                    let o = &snapshot.objects[i];
                    let force = force || o.options.force() == Some(true);
                    if cancel.is_cancelled() {
                        return (i, Err(SyncError::Cancelled));
                    }
                    (i, engine.apply_one(conn_ref, o, false, force).await)
                })
                .collect::<Vec<_>>(),
        )
        .buffer_unordered(conc)
        .collect()
        .await;
        let mut errors = Vec::new();
        for (i, r) in outcomes {
            let o = &s.objects[i];
            let res = &mut self.results[i];
            match r {
                Ok(v) => {
                    res.operation = if res.status == ResourceSyncStatus::Missing {
                        ResourceOperation::Created
                    } else {
                        ResourceOperation::Configured
                    };
                    if let (Some(c), Some(t)) = (&s.cache, &o.rtype) {
                        c.observe(t, v.clone());
                    }
                    s.live.insert(o.key(), v);
                }
                Err(e) => {
                    res.operation = ResourceOperation::Failed;
                    res.message = e.to_string();
                    errors.push(e);
                }
            }
            let (op, msg) = (res.operation, res.message.clone());
            self.emit(ProgressEvent::Resource {
                app: s.app.clone(),
                resource: o.display(),
                operation: op,
                message: msg,
            });
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(SyncError::Multiple(errors)),
        }
    }

    /// Waits for CRDs of a group to be Established, then refreshes discovery.
    async fn crds_established(&mut self, s: &mut Snapshot, group: &[usize]) -> Result<()> {
        let conn = s.conn.clone();
        for &i in group {
            let o = &s.objects[i];
            if o.kind != "CustomResourceDefinition" {
                continue;
            }
            self.emit(ProgressEvent::Waiting {
                app: s.app.clone(),
                what: format!("{} to be established", o.display()),
            });
            let rtype = o.rtype.clone();
            let name = o.name.clone();
            let display = o.display();
            self.poll(conn.name(), &format!("{display} to be established"), || {
                let conn = conn.clone();
                let rtype = rtype.clone();
                let name = name.clone();
                let display = display.clone();
                async move {
                    let Some(t) = rtype else { return Ok(true) };
                    let api = api_for(&conn, &t, "");
                    let v = api
                        .get(&name)
                        .await
                        .map_err(|e| kube_error(&conn, &display, "get", e, None))?;
                    let v = to_value(v, &t);
                    Ok(health::assess(&v).is_some_and(|h| h.status == HealthCode::Healthy))
                }
            })
            .await?;
        }
        conn.refresh_discovery().await?;
        Ok(())
    }

    /// Polls `check` with backoff until it says true; bounded by the health
    /// timeout and cancellable.
    async fn poll<F, Fut>(&self, cluster: &str, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            if check().await? {
                return Ok(());
            }
            if start.elapsed() > self.engine.settings.health_timeout {
                return Err(SyncError::Timeout {
                    cluster: cluster.to_string(),
                    what: what.to_string(),
                    seconds: self.engine.settings.health_timeout.as_secs(),
                });
            }
            sleep_or_cancel(delay, &self.settings.cancel).await?;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Waits until the given objects are healthy (those whose kind has a
    /// health); fails when one becomes Degraded.
    async fn wait_healthy(&mut self, s: &mut Snapshot, members: &[usize]) -> Result<()> {
        let pending: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| {
                let o = &s.objects[i];
                health::assess(&json!({"apiVersion": if o.group.is_empty() { o.version.clone() } else { format!("{}/{}", o.group, o.version) }, "kind": o.kind}))
                    .is_some()
                    || !matches!(o.kind.as_str(), "ConfigMap" | "Secret" | "ServiceAccount" | "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" | "Namespace" | "NetworkPolicy" | "ResourceQuota" | "LimitRange" | "PodDisruptionBudget" | "StorageClass" | "CustomResourceDefinition" | "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration")
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        self.emit(ProgressEvent::Waiting {
            app: s.app.clone(),
            what: format!("{} resources to become healthy", pending.len()),
        });
        let conn = s.conn.clone();
        let start = Instant::now();
        // Reading the cache costs no request: look often.
        let (mut delay, max_delay) = if s.cache.is_some() {
            (Duration::from_millis(50), Duration::from_millis(500))
        } else {
            (Duration::from_millis(200), Duration::from_secs(2))
        };
        loop {
            self.check_cancel()?;
            // One list per kind and namespace.
            let mut groups: BTreeMap<(String, String, String), ResourceType> = BTreeMap::new();
            for &i in &pending {
                let o = &s.objects[i];
                if let Some(t) = &o.rtype {
                    groups.insert(
                        (o.group.clone(), o.kind.clone(), o.namespace.clone()),
                        t.clone(),
                    );
                }
            }
            if let Some(c) = &s.cache {
                // Read from the cache, which the watches keep current.
                groups.retain(|(g, k, _), _| !c.covers(g, k));
                for &i in &pending {
                    let o = &s.objects[i];
                    if c.covers(&o.group, &o.kind) {
                        if let Some(v) = c.get(&o.key()) {
                            s.live.insert(o.key(), v);
                        }
                    }
                }
            }
            for ((_, _, ns), t) in groups {
                let api = api_for(&conn, &t, &ns);
                let items = list_all(&api, ListParams::default(), &t)
                    .await
                    .map_err(|e| SyncError::Request {
                        cluster: conn.name().to_string(),
                        operation: format!("listing {} to check health", t.api_resource.plural),
                        message: e.to_string(),
                    })?;
                for v in items {
                    let key = (
                        t.api_resource.group.clone(),
                        t.api_resource.kind.clone(),
                        meta_str(&v, "namespace").to_string(),
                        meta_str(&v, "name").to_string(),
                    );
                    if s.live.contains_key(&key) {
                        s.live.insert(key, v);
                    }
                }
            }
            let mut waiting = Vec::new();
            for &i in &pending {
                let o = &s.objects[i];
                let h = s.live.get(&o.key()).and_then(health::assess);
                match h {
                    None => {}
                    Some(h)
                        if h.status == HealthCode::Healthy || h.status == HealthCode::Suspended => {
                    }
                    Some(h) if h.status == HealthCode::Degraded => {
                        return Err(SyncError::Unhealthy {
                            cluster: conn.name().to_string(),
                            resource: o.display(),
                            health: h.status.to_string(),
                            message: h.message,
                        })
                    }
                    Some(h) => waiting.push(format!("{} ({})", o.display(), h)),
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if start.elapsed() > self.engine.settings.health_timeout {
                return Err(SyncError::Timeout {
                    cluster: conn.name().to_string(),
                    what: format!("health of {}", waiting.join(", ")),
                    seconds: self.engine.settings.health_timeout.as_secs(),
                });
            }
            sleep_or_cancel(delay, &self.settings.cancel).await?;
            delay = (delay * 2).min(max_delay);
        }
    }

    async fn run_hooks(&mut self, s: &Snapshot, phase: SyncPhase) -> Result<()> {
        let waves: BTreeSet<i64> = s
            .hooks
            .iter()
            .filter(|h| h.phase == phase)
            .map(|h| h.wave)
            .collect();
        for wave in waves {
            self.run_hook_wave(s, phase, wave).await?;
        }
        Ok(())
    }

    /// Runs the hooks of one phase and wave: delete (BeforeHookCreation),
    /// create, wait for completion, delete per policy.
    async fn run_hook_wave(&mut self, s: &Snapshot, phase: SyncPhase, wave: i64) -> Result<()> {
        let hooks: Vec<&DesiredObject> = s
            .hooks
            .iter()
            .filter(|h| h.phase == phase && h.wave == wave)
            .collect();
        if hooks.is_empty() {
            return Ok(());
        }
        self.emit(ProgressEvent::Wave {
            app: s.app.clone(),
            phase,
            wave,
            resources: hooks.len(),
        });
        let conn = s.conn.clone();
        for h in hooks {
            self.check_cancel()?;
            let Some(t) = h.rtype.clone() else {
                return Err(SyncError::UnknownKind {
                    cluster: conn.name().to_string(),
                    resource: h.display(),
                    kind: h.kind.clone(),
                    api_version: h.version.clone(),
                });
            };
            let api = api_for(&conn, &t, &h.namespace);
            let policies = &h.hook_delete;
            let before_creation =
                policies.is_empty() || policies.iter().any(|p| p == "BeforeHookCreation");
            if !h.generate_name && before_creation {
                self.delete_and_wait(&api, &conn, &h.display(), &h.name)
                    .await?;
            }
            let created = self.engine.apply_one(&conn, h, false, true).await?;
            let name = meta_str(&created, "name").to_string();
            let display = if h.namespace.is_empty() {
                format!("{}/{} {name}", t.api_resource.api_version, h.kind)
            } else {
                format!(
                    "{}/{} {}/{name}",
                    t.api_resource.api_version, h.kind, h.namespace
                )
            };
            self.emit(ProgressEvent::Resource {
                app: s.app.clone(),
                resource: display.clone(),
                operation: ResourceOperation::Created,
                message: format!("{} hook", h.hook.map(|x| x.to_string()).unwrap_or_default()),
            });
            // Wait for the hook to finish.
            let mut final_health = health::assess(&created);
            if final_health.is_some() {
                let start = Instant::now();
                let mut delay = Duration::from_millis(200);
                loop {
                    let v = api
                        .get(&name)
                        .await
                        .map_err(|e| kube_error(&conn, &display, "get", e, None))?;
                    let v = to_value(v, &t);
                    let hs = health::assess(&v);
                    match hs.as_ref().map(|x| x.status) {
                        Some(HealthCode::Healthy) | Some(HealthCode::Degraded) | None => {
                            final_health = hs;
                            break;
                        }
                        _ => {}
                    }
                    if start.elapsed() > self.engine.settings.health_timeout {
                        return Err(SyncError::Timeout {
                            cluster: conn.name().to_string(),
                            what: format!("hook {display} to complete"),
                            seconds: self.engine.settings.health_timeout.as_secs(),
                        });
                    }
                    sleep_or_cancel(delay, &self.settings.cancel).await?;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
            let failed = final_health
                .as_ref()
                .is_some_and(|x| x.status == HealthCode::Degraded);
            let mut r = h.result(ResourceSyncStatus::Synced);
            r.resource = display.clone();
            r.name = name.clone();
            r.health = final_health.clone();
            r.operation = if failed {
                ResourceOperation::HookFailed
            } else {
                ResourceOperation::HookSucceeded
            };
            r.message = final_health
                .as_ref()
                .map(|x| x.message.clone())
                .unwrap_or_default();
            self.emit(ProgressEvent::Resource {
                app: s.app.clone(),
                resource: display.clone(),
                operation: r.operation,
                message: r.message.clone(),
            });
            self.results.push(r);
            let delete = if failed {
                policies.iter().any(|p| p == "HookFailed")
            } else {
                policies.iter().any(|p| p == "HookSucceeded")
            };
            if delete {
                let dp = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..Default::default()
                };
                match api.delete(&name, &dp).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(st)) if st.code == 404 => {}
                    Err(e) => return Err(kube_error(&conn, &display, "delete", e, None)),
                }
            }
            if failed {
                return Err(SyncError::Unhealthy {
                    cluster: conn.name().to_string(),
                    resource: display,
                    health: "Degraded".into(),
                    message: final_health.map(|x| x.message).unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    async fn delete_and_wait(
        &self,
        api: &Api<DynamicObject>,
        conn: &ClusterConn,
        display: &str,
        name: &str,
    ) -> Result<()> {
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(st)) if st.code == 404 => return Ok(()),
            Err(e) => return Err(kube_error(conn, display, "delete", e, None)),
        }
        self.poll(conn.name(), &format!("{display} to be deleted"), || async {
            match api.get_opt(name).await {
                Ok(None) => Ok(true),
                Ok(Some(_)) => Ok(false),
                Err(e) => Err(kube_error(conn, display, "get", e, None)),
            }
        })
        .await
    }

    async fn prune(
        &mut self,
        s: &Snapshot,
        candidates: Vec<Extraneous>,
        prune_enabled: bool,
    ) -> Result<()> {
        if candidates.is_empty() {
            return Ok(());
        }
        let conn = s.conn.clone();
        let mut by_wave: BTreeMap<i64, Vec<Extraneous>> = BTreeMap::new();
        for c in candidates {
            by_wave.entry(c.wave).or_default().push(c);
        }
        let app_policy = self
            .app
            .spec
            .sync_options()
            .prune_propagation_policy()
            .map(str::to_string);
        for (wave, mut group) in by_wave.into_iter().rev() {
            self.check_cancel()?;
            // Reverse kind order within a wave: workloads before what they use.
            group.sort_by_key(|e| std::cmp::Reverse(kind_rank(&e.rtype.api_resource.kind)));
            let mut deletable = Vec::new();
            for e in group {
                let mut r = e.result();
                r.wave = wave;
                let skip = if !prune_enabled {
                    Some("ignored (requires pruning)".to_string())
                } else if matches!(e.options.prune(), Some("false")) {
                    Some("not pruned: Prune=false".into())
                } else if matches!(e.options.prune(), Some("confirm")) {
                    Some("not pruned: Prune=confirm needs confirmation".into())
                } else if matches!(e.options.delete(), Some("false")) {
                    Some("not pruned: Delete=false".into())
                } else {
                    None
                };
                match skip {
                    Some(m) => {
                        r.operation = ResourceOperation::PruneSkipped;
                        r.message = m;
                        self.results.push(r);
                    }
                    None => deletable.push(e),
                }
            }
            let conc = self.engine.settings.concurrency.max(1);
            let conn_ref = &conn;
            let policy = app_policy.clone();
            let outcomes: Vec<(Extraneous, Result<()>)> = futures::stream::iter(
                deletable
                    .into_iter()
                    .map(|e| {
                        let policy = e
                            .options
                            .prune_propagation_policy()
                            .map(str::to_string)
                            .or_else(|| policy.clone());
                        async move {
                            let api = api_for(conn_ref, &e.rtype, &e.namespace);
                            let propagation = match policy.as_deref() {
                                Some("background") => PropagationPolicy::Background,
                                Some("orphan") => PropagationPolicy::Orphan,
                                _ => PropagationPolicy::Foreground,
                            };
                            let dp = DeleteParams {
                                propagation_policy: Some(propagation),
                                ..Default::default()
                            };
                            let r = match api.delete(&e.name, &dp).await {
                                Ok(_) => Ok(()),
                                Err(kube::Error::Api(st)) if st.code == 404 => Ok(()),
                                Err(err) => {
                                    Err(kube_error(conn_ref, &e.display(), "delete", err, None))
                                }
                            };
                            (e, r)
                        }
                    })
                    .collect::<Vec<_>>(),
            )
            .buffer_unordered(conc)
            .collect()
            .await;
            let mut errors = Vec::new();
            for (e, outcome) in outcomes {
                let mut r = e.result();
                r.wave = wave;
                match outcome {
                    Ok(()) => {
                        r.operation = ResourceOperation::Pruned;
                        if let Some(c) = &s.cache {
                            c.forget(&e.rtype, &e.namespace, &e.name);
                        }
                    }
                    Err(err) => {
                        r.operation = ResourceOperation::Failed;
                        r.message = err.to_string();
                        errors.push(err);
                    }
                }
                self.emit(ProgressEvent::Resource {
                    app: s.app.clone(),
                    resource: r.resource.clone(),
                    operation: r.operation,
                    message: r.message.clone(),
                });
                self.results.push(r);
            }
            match errors.len() {
                0 => {}
                1 => return Err(errors.remove(0)),
                _ => return Err(SyncError::Multiple(errors)),
            }
        }
        Ok(())
    }

    fn final_health(&mut self, s: &Snapshot) -> HealthCode {
        let mut codes = Vec::new();
        for (i, o) in s.objects.iter().enumerate() {
            let h = match s.live.get(&o.key()) {
                Some(v) => health::assess(v),
                None => Some(HealthStatus::new(HealthCode::Missing, "")),
            };
            if let Some(h) = &h {
                codes.push(h.status);
            }
            if let Some(r) = self.results.get_mut(i) {
                r.health = h;
            }
        }
        health::aggregate(&codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_messages_name_managers() {
        let m = r#"Apply failed with 2 conflicts: conflict with "kubectl-edit" using apps/v1: .spec.replicas; conflict with "helm" using apps/v1: .spec.x"#;
        assert_eq!(conflict_managers(m), vec!["kubectl-edit", "helm"]);
        assert!(conflict_managers("nothing").is_empty());
    }
}
