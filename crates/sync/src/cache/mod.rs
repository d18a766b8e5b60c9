//! The cluster cache: per cluster, one LIST then one WATCH per resource
//! type, so that a compare reads memory instead of the API server.
//!
//! What is watched:
//! - every type an Application may manage or prune (discovery's listable,
//!   deletable types), cluster-wide, with the tracking label as selector
//!   when labels are written (with annotation tracking only, untracked
//!   objects are dropped on arrival): objects nobody manages cost nothing;
//! - every Namespace (names only matter: which exist);
//! - the children of managed objects ([`CHILD_KINDS`]: Pods, ReplicaSets,
//!   Jobs, PersistentVolumeClaims, EndpointSlices), one watch per kind, kept
//!   only in the namespaces Applications deploy into (others are dropped on
//!   arrival; a new namespace makes these watches list again), for health
//!   and the resource tree;
//! - CustomResourceDefinitions (metadata only), to follow types appearing
//!   and disappearing at run time.
//!
//! A watch that fails is listed again from scratch after a back-off (an
//! expired resourceVersion, `410 Gone`, is handled the same way); until its
//! list ends the cache is not synced, and a compare fails with
//! [`SyncError::CacheNotSynced`] rather than see a partial cluster: nothing
//! is pruned from a stale view. The pure store is in [`store`].

pub mod store;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use flotilla_core::annotations::INSTANCE_LABEL;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{metadata_watcher, watcher};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::cluster::{ClusterConn, ResourceType};
use crate::error::{Result, SyncError};
use crate::tracking::TrackingMethod;
use store::{Change, Store};
pub use store::{ObjKey, StoreSize, StreamId};

/// Kinds watched per namespace as children of managed objects: (group, kind).
pub const CHILD_KINDS: &[(&str, &str)] = &[
    ("", "Pod"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("", "PersistentVolumeClaim"),
    ("discovery.k8s.io", "EndpointSlice"),
];

/// What a cache reports to whoever drives reconciles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheEvent {
    /// Objects tracked by these Applications were created, changed or
    /// deleted on the cluster.
    Changed {
        /// The cluster.
        cluster: String,
        /// The Applications.
        apps: Vec<String>,
    },
    /// Objects owned (directly or not) by these Applications' resources
    /// changed: a ReplicaSet, a Pod. Their trees changed; their comparison
    /// did not, so a controller need not look at them again.
    Tree {
        /// The cluster.
        cluster: String,
        /// The Applications.
        apps: Vec<String>,
    },
    /// Every watched type of the cluster is listed again after the cache was
    /// not synced (start, outage, expired watch): compares that failed can
    /// run now.
    Synced {
        /// The cluster.
        cluster: String,
    },
}

/// Counts for `/metrics` and `flotilla status`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CacheStats {
    /// The cluster.
    pub cluster: String,
    /// Cached objects.
    pub objects: usize,
    /// Bytes held for them.
    pub bytes: usize,
    /// Watches running.
    pub watches: usize,
    /// Whether every cluster-wide watch has listed.
    pub synced: bool,
}

struct Shared {
    conn: Arc<ClusterConn>,
    tracking: TrackingMethod,
    store: RwLock<Store>,
    events: broadcast::Sender<CacheEvent>,
    streams: Mutex<HashMap<StreamId, CancellationToken>>,
    /// Bumped when children must be listed again (new namespaces).
    children_epoch: tokio::sync::watch::Sender<u64>,
    /// Since when the cache is not synced (`None`: synced).
    unsynced_since: Mutex<Option<Instant>>,
    /// Why a watch last failed, per stream.
    last_errors: Mutex<HashMap<StreamId, String>>,
    synced_tx: tokio::sync::watch::Sender<u64>,
    started: tokio::sync::Mutex<bool>,
    shutdown: CancellationToken,
}

/// The watch-fed cache of one cluster. Cheap to clone; the watches stop
/// when [`ClusterCache::stop`] is called.
#[derive(Clone)]
pub struct ClusterCache {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ClusterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCache")
            .field("cluster", &self.shared.conn.name())
            .finish()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn to_value(obj: DynamicObject, ar: &ApiResource) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        map.insert("kind".into(), Value::String(ar.kind.clone()));
    }
    v
}

fn rv_of(v: &Value) -> u64 {
    v.get("metadata")
        .and_then(|m| m.get("resourceVersion"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Whether a failed list means "this type cannot be listed here" (forbidden,
/// gone, not allowed) rather than an outage.
fn permanent(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => {
            matches!(s.code, 403..=405)
        }
        _ => false,
    }
}

impl ClusterCache {
    /// A cache for one cluster; nothing is watched until
    /// [`ClusterCache::start`]. `events` receives what changed.
    pub fn new(
        conn: Arc<ClusterConn>,
        tracking: TrackingMethod,
        events: broadcast::Sender<CacheEvent>,
    ) -> ClusterCache {
        let (synced_tx, _) = tokio::sync::watch::channel(0);
        ClusterCache {
            shared: Arc::new(Shared {
                conn,
                tracking,
                store: RwLock::new(Store::new(tracking)),
                events,
                streams: Mutex::new(HashMap::new()),
                children_epoch: tokio::sync::watch::channel(0).0,
                unsynced_since: Mutex::new(Some(Instant::now())),
                last_errors: Mutex::new(HashMap::new()),
                synced_tx,
                started: tokio::sync::Mutex::new(false),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        self.shared.conn.name()
    }

    /// Starts the watches (discovery first); calling it again does nothing.
    pub async fn start(&self) -> Result<()> {
        let mut started = self.shared.started.lock().await;
        if *started {
            return Ok(());
        }
        self.reconcile_streams(false).await?;
        let me = self.clone();
        tokio::spawn(async move { me.follow_crds().await });
        *started = true;
        Ok(())
    }

    /// Stops every watch.
    pub fn stop(&self) {
        self.shared.shutdown.cancel();
    }

    /// Brings the cluster-wide watches in line with discovery: a watch per
    /// listable, deletable type (and Namespaces); watches of types that are
    /// gone stop and their objects leave the cache.
    async fn reconcile_streams(&self, refresh: bool) -> Result<()> {
        let conn = &self.shared.conn;
        let index = if refresh {
            conn.refresh_discovery().await?
        } else {
            conn.discovery().await?
        };
        let mut wanted: HashMap<StreamId, ResourceType> = HashMap::new();
        for t in index.prunable() {
            if !t.supports("watch") {
                continue;
            }
            let id = StreamId::tracked(&t.api_resource.group, &t.api_resource.kind);
            wanted.insert(id, t.clone());
        }
        if let Some(t) = index.get("", "v1", "Namespace") {
            wanted.insert(StreamId::tracked("", "Namespace"), t.clone());
        }
        // Children: one watch per kind, kept in the Applications' namespaces.
        for (g, k) in CHILD_KINDS {
            if let Some(t) = index.any_version(g, k) {
                wanted.insert(StreamId::children(g, k), t.clone());
            }
        }
        let running: Vec<StreamId> = lock(&self.shared.streams).keys().cloned().collect();
        for id in running {
            if !wanted.contains_key(&id) {
                if let Some(token) = lock(&self.shared.streams).remove(&id) {
                    token.cancel();
                }
                let change = write(&self.shared.store).remove_stream(&id);
                tracing::debug!(cluster = %conn.name(), kind = %id.kind, "type gone: watch stopped");
                self.emit(change);
            }
        }
        for (id, t) in wanted {
            self.ensure_stream(id, t);
        }
        self.note_sync_state();
        Ok(())
    }

    fn ensure_stream(&self, id: StreamId, t: ResourceType) {
        let mut streams = lock(&self.shared.streams);
        if streams.contains_key(&id) {
            return;
        }
        let token = self.shared.shutdown.child_token();
        streams.insert(id.clone(), token.clone());
        drop(streams);
        write(&self.shared.store).add_stream(id.clone(), t.clone());
        self.note_sync_state();
        let me = self.clone();
        tokio::spawn(async move { me.run_stream(id, t, token).await });
    }

    /// Keeps children (Pods, ReplicaSets, ...) in these namespaces too.
    /// New namespaces make the children watches list again (at most once a
    /// second), to pick up what they dropped before.
    pub async fn watch_namespaces(&self, namespaces: impl IntoIterator<Item = String>) {
        let new = {
            let mut store = write(&self.shared.store);
            let new = store.add_child_namespaces(namespaces);
            if new {
                for id in store.stream_ids().iter().filter(|id| id.children) {
                    store.mark_stale(id);
                }
            }
            new
        };
        if new {
            self.shared.children_epoch.send_modify(|n| *n += 1);
        }
    }

    fn emit(&self, change: Change) {
        if !change.apps.is_empty() {
            let _ = self.shared.events.send(CacheEvent::Changed {
                cluster: self.cluster().to_string(),
                apps: change.apps.into_iter().collect(),
            });
        }
        if !change.trees.is_empty() {
            let _ = self.shared.events.send(CacheEvent::Tree {
                cluster: self.cluster().to_string(),
                apps: change.trees.into_iter().collect(),
            });
        }
    }

    /// Records whether the cluster-wide view is complete, and says so when it
    /// becomes complete again.
    fn note_sync_state(&self) {
        let synced = read(&self.shared.store).synced();
        let mut since = lock(&self.shared.unsynced_since);
        match (synced, since.is_some()) {
            (true, true) => {
                *since = None;
                drop(since);
                self.shared.synced_tx.send_modify(|n| *n += 1);
                let _ = self.shared.events.send(CacheEvent::Synced {
                    cluster: self.cluster().to_string(),
                });
                tracing::debug!(cluster = %self.cluster(), "cluster cache synced");
            }
            (false, false) => *since = Some(Instant::now()),
            _ => {}
        }
    }

    async fn run_stream(&self, id: StreamId, t: ResourceType, token: CancellationToken) {
        let conn = &self.shared.conn;
        let api: Api<DynamicObject> = Api::all_with(conn.client().clone(), &t.api_resource);
        let mut config = watcher::Config::default();
        let all_namespaces = id.group.is_empty() && id.kind == "Namespace";
        if !id.children && !all_namespaces && self.shared.tracking.uses_label() {
            config = config.labels(INSTANCE_LABEL);
        }
        let mut epoch = self.shared.children_epoch.subscribe();
        let mut backoff = Duration::from_millis(250);
        loop {
            epoch.mark_unchanged();
            let stream = watcher(api.clone(), config.clone());
            futures::pin_mut!(stream);
            let failure = loop {
                let event = tokio::select! {
                    _ = token.cancelled() => return,
                    Ok(()) = epoch.changed(), if id.children => {
                        // New namespaces: gather more for a moment, list again.
                        tokio::select! {
                            _ = token.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        break None;
                    }
                    e = stream.next() => e,
                };
                let Some(event) = event else {
                    break None;
                };
                match event {
                    Ok(watcher::Event::Init) => write(&self.shared.store).begin_list(&id),
                    Ok(watcher::Event::InitApply(o)) => {
                        write(&self.shared.store).list_apply(&id, to_value(o, &t.api_resource))
                    }
                    Ok(watcher::Event::InitDone) => {
                        let change = write(&self.shared.store).end_list(&id);
                        lock(&self.shared.last_errors).remove(&id);
                        backoff = Duration::from_millis(250);
                        self.emit(change);
                        self.note_sync_state();
                    }
                    Ok(watcher::Event::Apply(o)) => {
                        let change =
                            write(&self.shared.store).apply(&id, to_value(o, &t.api_resource));
                        self.emit(change);
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        let v = to_value(o, &t.api_resource);
                        let ns = store_meta(&v, "namespace");
                        let name = store_meta(&v, "name");
                        let change = write(&self.shared.store).delete(&id, ns, name, rv_of(&v));
                        self.emit(change);
                    }
                    Err(e) => break Some(e),
                }
            };
            let Some(e) = failure else {
                // The watcher ended, or children must be listed again: start
                // anew (it lists first).
                continue;
            };
            if permanent(&e) {
                // Not listable here (forbidden, or the type just went away):
                // an empty, synced stream; discovery decides whether it stays.
                tracing::debug!(cluster = %conn.name(), kind = %id.kind, error = %e, "type not listable; treated as empty");
                {
                    let mut store = write(&self.shared.store);
                    store.begin_list(&id);
                    store.end_list(&id);
                }
                self.note_sync_state();
                let me = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.reconcile_streams(true).await {
                        tracing::debug!(error = %e, "discovery after a failed list");
                    }
                });
                backoff = Duration::from_secs(60);
            } else {
                tracing::debug!(cluster = %conn.name(), kind = %id.kind, error = %e, "watch interrupted; listing again after {backoff:?}");
                lock(&self.shared.last_errors).insert(id.clone(), e.to_string());
                write(&self.shared.store).interrupted(&id);
                self.note_sync_state();
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// Follows CustomResourceDefinitions: a CRD created or deleted changes
    /// which types are watched.
    async fn follow_crds(&self) {
        let ar = ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.shared.conn.client().clone(), &ar);
        let stream = metadata_watcher(api, watcher::Config::default());
        futures::pin_mut!(stream);
        let mut listed = false;
        let mut backoff = Duration::from_millis(500);
        loop {
            let event = tokio::select! {
                _ = self.shared.shutdown.cancelled() => return,
                e = stream.next() => e,
            };
            let changed = match event {
                None => return,
                Some(Ok(watcher::Event::InitDone)) => {
                    let was = listed;
                    listed = true;
                    was
                }
                Some(Ok(watcher::Event::Apply(_))) | Some(Ok(watcher::Event::Delete(_))) => listed,
                Some(Ok(_)) => false,
                Some(Err(e)) => {
                    tracing::debug!(cluster = %self.cluster(), error = %e, "CRD watch interrupted");
                    tokio::select! {
                        _ = self.shared.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    false
                }
            };
            if changed {
                // CRDs come in batches: let the batch land, then discover once.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Err(e) = self.reconcile_streams(true).await {
                    tracing::debug!(cluster = %self.cluster(), error = %e, "discovery after a CRD change failed");
                }
            }
        }
    }

    /// Waits until every cluster-wide watch has listed. A cache that has
    /// been unsynced for longer than `timeout` fails at once (the cluster is
    /// down: do not hold a worker per Application).
    pub async fn wait_synced(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.shared.synced_tx.subscribe();
        loop {
            let since = *lock(&self.shared.unsynced_since);
            let Some(since) = since else {
                return Ok(());
            };
            let left = timeout.saturating_sub(since.elapsed());
            if left.is_zero() {
                return Err(self.not_synced());
            }
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep(left.min(Duration::from_millis(250))) => {}
            }
        }
    }

    fn not_synced(&self) -> SyncError {
        let unsynced = read(&self.shared.store).unsynced();
        let errors = lock(&self.shared.last_errors);
        let mut parts = Vec::new();
        for id in unsynced.iter().filter(|id| !id.children).take(3) {
            let what = if id.group.is_empty() {
                id.kind.clone()
            } else {
                format!("{}/{}", id.group, id.kind)
            };
            match errors.get(id) {
                Some(e) => parts.push(format!("{what}: {e}")),
                None => parts.push(format!("{what}: listing")),
            }
        }
        let more = unsynced.iter().filter(|id| !id.children).count();
        let mut reason = parts.join("; ");
        if more > 3 {
            reason.push_str(&format!("; and {} more types", more - 3));
        }
        SyncError::CacheNotSynced {
            cluster: self.cluster().to_string(),
            reason,
        }
    }

    /// Waits (at most `timeout`) until the namespace watches of children
    /// have listed too, for a complete resource tree; never fails.
    pub async fn wait_children(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !read(&self.shared.store).all_synced() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the cluster-wide view is complete now.
    pub fn is_synced(&self) -> bool {
        lock(&self.shared.unsynced_since).is_none()
    }

    /// The cached live object, if its type is watched.
    pub fn get(&self, key: &ObjKey) -> Option<Value> {
        read(&self.shared.store).get(key)
    }

    /// Whether objects of this type are watched cluster-wide and listed.
    pub fn covers(&self, group: &str, kind: &str) -> bool {
        read(&self.shared.store).covers(group, kind)
    }

    /// Every cached object tracked by `app`, with its type.
    pub fn tracked_by(&self, app: &str) -> Vec<(ResourceType, Value)> {
        read(&self.shared.store).tracked_by(app)
    }

    /// Objects whose owner references name `uid`.
    pub fn children(&self, uid: &str) -> Vec<Value> {
        read(&self.shared.store).children(uid)
    }

    /// Names of the cluster's Namespaces.
    pub fn namespaces(&self) -> BTreeSet<String> {
        read(&self.shared.store).namespaces()
    }

    /// Takes the server's answer to our own apply, so a compare right after
    /// a sync sees it before the watch event arrives.
    pub fn observe(&self, rtype: &ResourceType, obj: Value) {
        let id = StreamId::tracked(&rtype.api_resource.group, &rtype.api_resource.kind);
        let mut store = write(&self.shared.store);
        if store.covers(&id.group, &id.kind) {
            store.apply(&id, obj);
        }
    }

    /// Forgets an object we deleted (a late watch event from before the
    /// delete does not bring it back).
    pub fn forget(&self, rtype: &ResourceType, namespace: &str, name: &str) {
        let id = StreamId::tracked(&rtype.api_resource.group, &rtype.api_resource.kind);
        write(&self.shared.store).delete(&id, namespace, name, 0);
    }

    /// Objects, bytes and watches.
    pub fn stats(&self) -> CacheStats {
        let size = read(&self.shared.store).size();
        CacheStats {
            cluster: self.cluster().to_string(),
            objects: size.objects,
            bytes: size.bytes,
            watches: lock(&self.shared.streams).len(),
            synced: self.is_synced(),
        }
    }
}

fn store_meta<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}
