//! The reconcile loop.
//!
//! - A **source refresh** (every poll interval, at once on a webhook push or
//!   an API refresh) fetches each repository once, reads the configured
//!   Applications and ApplicationSets, expands the sets and creates, updates
//!   or deletes the Applications they generate. A generator error leaves
//!   that set's Applications as they are.
//! - **Application reconciles** run on a bounded pool of workers, one at a
//!   time per Application: resolve the source revisions from the cache,
//!   render (skipped when neither the commits nor the Application changed),
//!   compare with the cluster and sync when `automated` says so.
//! - **Watches** on the kinds each Application deploys, per cluster, queue a
//!   reconcile of the Application a changed object belongs to (after
//!   `selfHealDelay`), so drift is healed in seconds and health follows the
//!   cluster without waiting for the next poll.
//!
//! Status and history are kept in the [`Store`] under the state directory:
//! a restart shows the last known state at once, and an operation left
//! running by a crash is marked `Interrupted` and converged by the first
//! reconcile.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use flotilla_appset::{GenerateOptions, LocatedApplicationSet};
use flotilla_core::{Application, Cluster, Manifest};
use flotilla_git::{CacheOptions, Credentials, GitCache};
pub use flotilla_sync::tree::{ResourceTree, Root as TreeRoot};
use flotilla_sync::{
    AppStatus, CacheEvent, CancellationToken, ClusterRegistry, ResourceOperation,
    ResourceSyncStatus, SourceError, SyncEngine, SyncResult, SyncSettings,
};
use futures::StreamExt;
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::appsets::{expand, RepoSnapshots, Resolution};
use crate::config::ControllerConfig;
use crate::definitions::{self, Definitions};
use crate::metrics::Metrics;
use crate::source::{SourceResolver, SourceRevision};
use crate::store::{rfc3339, AppRecord, HistoryEntry, NewOperation, Phase, Store, StoreError};
use crate::views::{
    AppSetView, AppView, ClusterView, ConditionView, OperationView, ResourceView, SyncRequest,
};

/// Polls that may skip comparing an Application whose commits did not
/// change (10 × 180 s: a full comparison every half hour by default).
const FULL_COMPARE_EVERY: u32 = 10;

/// Argo CD's default `revisionHistoryLimit`.
const DEFAULT_HISTORY: usize = 10;

/// Errors of the controller's operations.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// No Application of that name.
    #[error("no application named {0:?}")]
    NotFound(String),
    /// No history entry of that id for the Application.
    #[error("application {app:?} has no history entry {id}")]
    NoSuchEntry {
        /// Application.
        app: String,
        /// The id asked for.
        id: i64,
    },
    /// A sync is already running for the Application.
    #[error("application {0:?} is being synced; try again when the operation ends")]
    Busy(String),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The controller could not start (bad Vault settings, kubeconfig...).
    #[error("{0}")]
    Setup(String),
    /// The operation was refused or failed (names the application).
    #[error("{0}")]
    Failed(String),
    /// The request itself is wrong (a selected resource the Application
    /// does not have, an option that cannot go with another).
    #[error("{0}")]
    Invalid(String),
}

/// Why an Application is reconciled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reason {
    /// A watch event on one of its resources.
    Event,
    /// The periodic poll.
    Poll,
    /// A webhook push for one of its repositories.
    Webhook,
    /// Its definition changed, or it was created.
    Changed,
    /// A person asked (API refresh).
    Refresh,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Event => "event",
            Reason::Poll => "poll",
            Reason::Webhook => "webhook",
            Reason::Changed => "definition",
            Reason::Refresh => "refresh",
        }
    }
}

/// What the rendered manifests were made from.
#[derive(Clone)]
struct Rendered {
    key: String,

    manifests: Vec<Manifest>,
}

/// One Application's state in memory.
struct AppEntry {
    app: Application,
    app_set: Option<String>,
    /// Delete its resources when it is removed (generated Applications
    /// unless `preserveResourcesOnDeletion`; others with Argo CD's
    /// resources finalizer).
    cascade: bool,
    spec_key: String,
    rendered: Option<Rendered>,
    view: AppView,
    auto_sync_disabled: bool,
    /// Key (spec + commits) and phase of the last automated sync attempt.
    last_attempt: Option<(String, Phase)>,
    /// The key the cluster was last synced to successfully.
    synced_key: Option<String>,
    /// The key of the last comparison that found everything Synced and
    /// Healthy, and how many polls skipped comparing since (watches report
    /// changes on the cluster in between).
    quiet: Option<(String, u32)>,
    syncing: bool,
    /// The last comparison's diff per resource ([`browse::resource_key`]).
    diffs: BTreeMap<String, String>,
    /// A digest of what was last saved (see `persist`).
    persisted: Option<u64>,
}

#[derive(Default)]
struct State {
    apps: BTreeMap<String, AppEntry>,
    appsets: BTreeMap<String, AppSetView>,
    /// Per ApplicationSet, what it generated last (kept on generator errors).
    generated: BTreeMap<String, Vec<(Application, bool)>>,
    /// Repository fetch errors by URL (as written).
    repo_errors: BTreeMap<String, String>,
    /// Repositories the ApplicationSets' git generators read.
    generator_repos: BTreeSet<String>,
    /// The last error reading the definitions, if the last read failed.
    definitions_error: Option<String>,
    refreshed_once: bool,
}

/// The reconcile queue: each Application at most once in it, and at most
/// one reconcile of an Application at a time.
#[derive(Default)]
struct QueueState {
    pending: HashMap<String, Reason>,
    active: HashSet<String>,
    again: HashMap<String, Reason>,
    delayed: HashSet<String>,
}

struct Inner {
    config: ControllerConfig,
    resolver: SourceResolver,
    engine: SyncEngine,
    clusters: Vec<Cluster>,
    store: Store,
    metrics: Metrics,
    state: Mutex<State>,
    queue: Mutex<QueueState>,
    tx: mpsc::UnboundedSender<String>,
    /// Watch events and post-sync looks: served before the main queue, so
    /// status follows the cluster even while a bulk of reconciles waits.
    tx_fast: mpsc::UnboundedSender<String>,
    rx: tokio::sync::Mutex<(
        mpsc::UnboundedReceiver<String>,
        mpsc::UnboundedReceiver<String>,
    )>,
    /// Repositories (normalised URLs) to refresh now; empty set = all.
    refresh_requests: Mutex<Option<(BTreeSet<String>, Reason)>>,
    refresh_wake: Notify,
    shutdown: CancellationToken,
    sync_slots: Semaphore,
    /// Bumped after every finished reconcile (for waiters).
    progress: tokio::sync::watch::Sender<u64>,
    /// Names of Applications whose status changed (for live pages).
    changes: tokio::sync::broadcast::Sender<String>,
    /// Commit subjects already read (`repo@commit`).
    subjects: Mutex<HashMap<String, String>>,
}

/// The controller. Cheap to clone; every clone is the same controller.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use flotilla_controller::{config::ControllerConfig, Controller};
/// let config = ControllerConfig::load(std::path::Path::new("flotilla.yaml"))?;
/// let controller = Controller::new(config).await?;
/// let running = controller.clone();
/// let task = tokio::spawn(async move { running.run().await });
/// // ... later:
/// controller.shutdown();
/// task.await??;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("config", &self.inner.config.file)
            .finish()
    }
}

mod browse;

pub use browse::side_by_side;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn now_text() -> String {
    rfc3339(SystemTime::now())
}

fn spec_key(app: &Application) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(app).unwrap_or_default();
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..12])
}

fn revisions_text(revs: &[SourceRevision]) -> String {
    revs.iter()
        .map(SourceRevision::display)
        .collect::<Vec<_>>()
        .join(",")
}

impl Controller {
    /// A controller for `config`: opens the state store (recovering
    /// operations a crash left running), the Git cache, the clusters and
    /// Vault. Nothing runs until [`Controller::run`].
    pub async fn new(config: ControllerConfig) -> Result<Controller, ControllerError> {
        let setup = |what: &str, e: &dyn std::fmt::Display| {
            ControllerError::Setup(format!("{}: {what}: {e}", config.file.display()))
        };
        let store = Store::open(&config.state_dir)?;
        let cache = GitCache::with_options(config.state_dir.join("git"), CacheOptions::default())
            .map_err(|e| setup("opening the Git cache", &e))?;
        let mut resolver = SourceResolver::new(cache.clone());
        for repo in &config.repositories {
            if let Some(local) = &repo.substitute {
                resolver
                    .substitute(&repo.url, local)
                    .map_err(|e| setup(&format!("repository {}", repo.url), &e))?;
            }
            if let Some(password) = &repo.password {
                let user = repo.username.clone().unwrap_or_else(|| "git".into());
                cache
                    .add_credentials(
                        &repo.url,
                        Credentials::basic(user.clone(), password.expose().to_string()),
                    )
                    .map_err(|e| setup(&format!("repository {}", repo.url), &e))?;
                resolver = resolver.with_chart_credentials(
                    &repo.url,
                    flotilla_helm::fetch::RepoAuth::basic(user, password.expose().to_string()),
                );
            }
        }
        if let Some(v) = &config.vault {
            let mut vc = flotilla_vault::ClientConfig::new(v.address.clone());
            if let Some(token) = &v.token {
                vc = vc.with_auth(flotilla_vault::AuthMethod::Token(
                    flotilla_core::SecretString::new(token.expose()),
                ));
            }
            vc.ca_cert = v.ca_cert.clone();
            vc.namespace = v.namespace.clone();
            let client = flotilla_vault::VaultClient::new(vc).map_err(|e| setup("vault", &e))?;
            resolver = resolver.with_vault(client);
        }
        let kubeconfig = match &config.clusters.kubeconfig {
            Some(p) => kube::config::Kubeconfig::read_from(p)
                .map_err(|e| setup(&format!("kubeconfig {}", p.display()), &e))?,
            None => kube::config::Kubeconfig::read().map_err(|e| setup("kubeconfig", &e))?,
        };
        let kubeconfig = if config.clusters.contexts.is_empty() {
            kubeconfig
        } else {
            let mut k = kubeconfig;
            let wanted: &[String] = &config.clusters.contexts;
            for w in wanted {
                if !k.contexts.iter().any(|c| &c.name == w) {
                    return Err(setup(
                        "clusters.contexts",
                        &format!("the kubeconfig has no context {w:?}"),
                    ));
                }
            }
            k.contexts.retain(|c| wanted.contains(&c.name));
            k
        };
        let mut clusters = crate::appsets::clusters_from_kubeconfig(&kubeconfig);
        for (context, labels) in &config.clusters.labels {
            match clusters.iter_mut().find(|c| &c.name == context) {
                Some(c) => c.labels.extend(labels.clone()),
                None => {
                    return Err(setup(
                        "clusters.labels",
                        &format!("the kubeconfig has no context {context:?}"),
                    ))
                }
            }
        }
        for context in config.clusters.limits.keys() {
            if !kubeconfig.contexts.iter().any(|c| &c.name == context) {
                return Err(setup(
                    "clusters.limits",
                    &format!("the kubeconfig has no context {context:?}"),
                ));
            }
        }
        let mut registry =
            ClusterRegistry::new().with_default_limits(config.clusters.default_limits);
        registry.add_kubeconfig(kubeconfig);
        for (context, limits) in &config.clusters.limits {
            registry
                .set_limits(context, *limits)
                .map_err(|e| setup("clusters.limits", &e))?;
        }
        let registry = Arc::new(registry);
        // Compares read a watch-fed cache per cluster instead of listing.
        let engine = SyncEngine::with_settings(
            registry.clone(),
            flotilla_sync::EngineSettings {
                cache: true,
                ..Default::default()
            },
        );
        let resolver = resolver.with_clusters(registry);

        let interrupted = store.recover_interrupted()?;
        for e in &interrupted {
            tracing::warn!(app = %e.app, id = e.id, revision = %e.revision, "an operation was interrupted by a stop; the next reconcile converges");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (tx_fast, rx_fast) = mpsc::unbounded_channel();
        let syncs = config.concurrency.syncs.max(1);
        let inner = Inner {
            resolver,
            engine,
            clusters,
            store,
            metrics: Metrics::new(),
            state: Mutex::new(State::default()),
            queue: Mutex::new(QueueState::default()),
            tx,
            tx_fast,
            rx: tokio::sync::Mutex::new((rx_fast, rx)),
            refresh_requests: Mutex::new(None),
            refresh_wake: Notify::new(),
            shutdown: CancellationToken::new(),
            sync_slots: Semaphore::new(syncs),
            progress: tokio::sync::watch::channel(0).0,
            changes: tokio::sync::broadcast::channel(4096).0,
            subjects: Mutex::new(HashMap::new()),
            config,
        };
        let controller = Controller {
            inner: Arc::new(inner),
        };
        controller.load_state()?;
        Ok(controller)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ControllerConfig {
        &self.inner.config
    }

    /// Its metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Its store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// A token cancelled when the controller stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Asks the controller to stop: no new reconcile starts, running syncs
    /// stop at their next safe point (between requests, before any prune),
    /// and [`Controller::run`] returns once the workers are done.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Restores Applications and their last status from the store.
    fn load_state(&self) -> Result<(), ControllerError> {
        let records = self.inner.store.apps()?;
        let mut state = lock(&self.inner.state);
        for rec in records {
            let Ok(app) = serde_json::from_str::<Application>(&rec.app_json) else {
                tracing::warn!(app = %rec.name, "the stored Application does not parse; it is read again from its source");
                continue;
            };
            let mut view: AppView = serde_json::from_str(&rec.status_json).unwrap_or_default();
            view.auto_sync_disabled = rec.auto_sync_disabled;
            let last = self.inner.store.history(&rec.name, 1)?.into_iter().next();
            if let Some(e) = &last {
                view.operation = Some(e.view(false));
            }
            let cascade = cascade_of(&app);
            let key = spec_key(&app);
            state.apps.insert(
                rec.name.clone(),
                AppEntry {
                    spec_key: key,
                    app,
                    app_set: rec.app_set.clone(),
                    cascade,
                    rendered: None,
                    view,
                    auto_sync_disabled: rec.auto_sync_disabled,
                    last_attempt: None,
                    synced_key: None,
                    quiet: None,
                    syncing: false,
                    diffs: BTreeMap::new(),
                    persisted: None,
                },
            );
        }
        Ok(())
    }

    /// Runs until [`Controller::shutdown`]: the source refresh loop, the
    /// reconcile workers and the watches. Returns when every worker has
    /// finished its current reconcile.
    pub async fn run(&self) -> Result<(), ControllerError> {
        let workers = self.inner.config.concurrency.reconciles.max(1);
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let c = self.clone();
            tasks.push(tokio::spawn(async move { c.worker().await }));
        }
        let c = self.clone();
        tasks.push(tokio::spawn(async move { c.refresh_loop().await }));
        let c = self.clone();
        tasks.push(tokio::spawn(async move { c.cache_events().await }));
        self.inner.shutdown.cancelled().await;
        self.inner.engine.stop_caches();
        for t in tasks {
            let _ = t.await;
        }
        tracing::info!("controller stopped");
        Ok(())
    }

    // ----- source refresh --------------------------------------------------

    /// Refreshes the sources now: the repositories `urls` (all when empty)
    /// are fetched and the Applications using them reconciled. Returns at
    /// once; the work happens in the refresh loop.
    pub fn refresh_repositories(&self, urls: &[String]) {
        self.request_refresh(urls, Reason::Webhook);
    }

    fn request_refresh(&self, urls: &[String], reason: Reason) {
        {
            let mut req = lock(&self.inner.refresh_requests);
            let (set, r) = req.get_or_insert_with(|| (BTreeSet::new(), reason));
            *r = (*r).max(reason);
            if urls.is_empty() {
                set.insert(String::new());
            }
            for u in urls {
                set.insert(flotilla_git::normalize_url(u));
            }
        }
        self.inner.refresh_wake.notify_one();
    }

    /// Every repository URL the controller reads (configured definitions,
    /// Applications' sources, git generators), as written.
    pub fn repositories(&self) -> Vec<String> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        let mut add = |u: &str| {
            out.entry(flotilla_git::normalize_url(u))
                .or_insert_with(|| u.to_string());
        };
        for s in &self.inner.config.applications {
            if let crate::config::AppSourceConfig::Git { repo, .. } = s {
                add(repo);
            }
        }
        let state = lock(&self.inner.state);
        for e in state.apps.values() {
            for s in e.app.sources() {
                if let Some(u) = &s.repo_url {
                    if !s.is_helm_chart() {
                        add(u);
                    }
                }
            }
        }
        for u in &state.generator_repos {
            add(u);
        }
        drop(state);
        for r in &self.inner.config.repositories {
            if r.kind == crate::config::RepositoryType::Git {
                add(&r.url);
            }
        }
        out.into_values().collect()
    }

    async fn refresh_loop(&self) {
        let poll = self.inner.config.poll_interval;
        let mut next_poll = tokio::time::Instant::now();
        loop {
            let requested = lock(&self.inner.refresh_requests).take();
            let (only, reason): (Option<BTreeSet<String>>, Reason) = match requested {
                Some((set, r)) if !set.contains("") => (Some(set), r),
                Some((_, r)) => (None, r),
                None => {
                    if tokio::time::Instant::now() >= next_poll {
                        next_poll = tokio::time::Instant::now() + poll;
                        (None, Reason::Poll)
                    } else {
                        tokio::select! {
                            _ = self.inner.shutdown.cancelled() => return,
                            _ = self.inner.refresh_wake.notified() => {}
                            _ = tokio::time::sleep_until(next_poll) => {}
                        }
                        continue;
                    }
                }
            };
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            self.refresh_sources(only.as_ref(), reason).await;
        }
    }

    /// One source refresh: fetch, read definitions, expand, update the
    /// Applications, queue reconciles.
    async fn refresh_sources(&self, only: Option<&BTreeSet<String>>, reason: Reason) {
        let started = Instant::now();
        let cache = self.inner.resolver.cache().clone();
        // 1. Fetch each repository once.
        let repos = self.repositories();
        let wanted: Vec<String> = repos
            .into_iter()
            .filter(|u| only.is_none_or(|o| o.contains(&flotilla_git::normalize_url(u))))
            .collect();
        let fetched: Vec<(String, Result<(), String>)> = futures::stream::iter(wanted)
            .map(|url| {
                let cache = cache.clone();
                let metrics = &self.inner.metrics;
                async move {
                    if cache.is_plain_directory(&url).unwrap_or(false) {
                        return (url, Ok(()));
                    }
                    let t = Instant::now();
                    let r = cache.fetch(&url).await;
                    metrics.git_fetch(&url, t.elapsed(), r.is_ok());
                    (url, r.map(|_| ()).map_err(|e| e.to_string()))
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        let mut touched: BTreeSet<String> = BTreeSet::new();
        {
            let mut state = lock(&self.inner.state);
            for (url, r) in &fetched {
                touched.insert(flotilla_git::normalize_url(url));
                match r {
                    Ok(()) => {
                        state.repo_errors.remove(url);
                    }
                    Err(e) => {
                        tracing::warn!(repo = %url, error = %e, "fetching failed; the last fetched commit is used");
                        state.repo_errors.insert(url.clone(), e.clone());
                    }
                }
            }
        }

        // 2. Definitions and generation (from the cache: fetched above).
        let defs = definitions::read(&self.inner.config.applications, &cache).await;
        let defs = match defs {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "reading the Applications failed; nothing is changed");
                lock(&self.inner.state).definitions_error = Some(e.to_string());
                self.queue_apps_using(only, &touched, reason);
                return;
            }
        };
        lock(&self.inner.state).definitions_error = None;
        self.apply_definitions(defs, &cache).await;
        self.queue_apps_using(only, &touched, reason);
        lock(&self.inner.state).refreshed_once = true;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            reason = reason.as_str(),
            "sources refreshed"
        );
    }

    fn queue_apps_using(
        &self,
        only: Option<&BTreeSet<String>>,
        touched: &BTreeSet<String>,
        reason: Reason,
    ) {
        let names: Vec<String> = {
            let state = lock(&self.inner.state);
            state
                .apps
                .iter()
                .filter(|(_, e)| match only {
                    None => true,
                    Some(_) => e.app.sources().iter().any(|s| {
                        s.repo_url
                            .as_deref()
                            .is_some_and(|u| touched.contains(&flotilla_git::normalize_url(u)))
                    }),
                })
                .map(|(n, _)| n.clone())
                .collect()
        };
        for n in names {
            self.enqueue(&n, reason);
        }
    }

    async fn apply_definitions(&self, defs: Definitions, cache: &GitCache) {
        // Generated Applications, per set; a failing set keeps what it had.
        let mut repos = RepoSnapshots::new(cache, Resolution::CachedFirst);
        let options = GenerateOptions::default();
        let mut generated: BTreeMap<String, Vec<(Application, bool)>> = BTreeMap::new();
        let mut set_views: BTreeMap<String, AppSetView> = BTreeMap::new();
        let previous = lock(&self.inner.state).generated.clone();
        for located in &defs.application_sets {
            let name = located.appset.name().to_string();
            let preserve = preserve_resources(located);
            let mut view = AppSetView {
                name: name.clone(),
                source: located.location.to_string(),
                ..AppSetView::default()
            };
            match expand(located, &self.inner.clusters, &options, &mut repos).await {
                Ok(apps) => {
                    view.generators = located
                        .appset
                        .spec
                        .generators
                        .iter()
                        .filter_map(|g| serde_json::to_value(g).ok())
                        .collect();
                    view.parameters = apps
                        .iter()
                        .map(|g| crate::views::GeneratedView {
                            generator: g.origin.generator.clone(),
                            source: g.origin.source.clone(),
                            parameters: g.parameters.clone(),
                            application: g.application.name().to_string(),
                        })
                        .collect();
                    let list: Vec<(Application, bool)> = apps
                        .into_iter()
                        .map(|g| {
                            let cascade = !preserve && cascade_of(&g.application);
                            (g.application, cascade)
                        })
                        .collect();
                    view.applications = list.iter().map(|(a, _)| a.name().to_string()).collect();
                    generated.insert(name.clone(), list);
                }
                Err(e) => {
                    tracing::error!(appset = %name, error = %e, "generation failed; its Applications are kept as they are");
                    view.error = Some(e.to_string());
                    let kept = previous.get(&name).cloned().unwrap_or_default();
                    view.applications = kept.iter().map(|(a, _)| a.name().to_string()).collect();
                    generated.insert(name.clone(), kept);
                }
            }
            set_views.insert(name, view);
        }

        // The desired set of Applications.
        let mut desired: BTreeMap<String, (Application, Option<String>, bool)> = BTreeMap::new();
        for la in &defs.applications {
            let cascade = cascade_of(&la.app);
            desired.insert(la.app.name().to_string(), (la.app.clone(), None, cascade));
        }
        for (set, apps) in &generated {
            for (app, cascade) in apps {
                let name = app.name().to_string();
                if desired.contains_key(&name) {
                    tracing::warn!(app = %name, appset = %set, "generated twice; the first definition is kept");
                    continue;
                }
                desired.insert(name, (app.clone(), Some(set.clone()), *cascade));
            }
        }

        // Diff with what exists.
        let mut created = Vec::new();
        let mut changed = Vec::new();
        let mut removed: Vec<(Application, bool)> = Vec::new();
        {
            let mut state = lock(&self.inner.state);
            let set_policies: HashMap<String, SyncPolicyKind> = defs
                .application_sets
                .iter()
                .map(|l| (l.appset.name().to_string(), applications_sync(l)))
                .collect();
            let set_preserve: HashMap<String, bool> = defs
                .application_sets
                .iter()
                .map(|l| (l.appset.name().to_string(), preserve_resources(l)))
                .collect();
            let existing: Vec<String> = state.apps.keys().cloned().collect();
            for name in existing {
                if desired.contains_key(&name) {
                    continue;
                }
                let Some(entry) = state.apps.get(&name) else {
                    continue;
                };
                // An ApplicationSet that still exists but may not delete.
                if let Some(set) = &entry.app_set {
                    if set_policies.get(set).is_some_and(|p| !p.delete) {
                        continue;
                    }
                }
                if let Some(entry) = state.apps.remove(&name) {
                    // The set's current setting wins: it may have switched to
                    // preserving resources in the same commit.
                    let cascade = entry
                        .app_set
                        .as_ref()
                        .and_then(|s| set_preserve.get(s))
                        .map_or(entry.cascade, |preserve| !preserve);
                    removed.push((entry.app, cascade));
                }
            }
            for (name, (app, set, cascade)) in desired {
                let key = spec_key(&app);
                match state.apps.get_mut(&name) {
                    Some(entry) => {
                        if entry.spec_key != key {
                            let may_update = entry
                                .app_set
                                .as_ref()
                                .and_then(|s| set_policies.get(s))
                                .is_none_or(|p| p.update);
                            if may_update {
                                entry.app = app.clone();
                                entry.spec_key = key;
                                entry.cascade = cascade;
                                changed.push(name.clone());
                            }
                        }
                        entry.app_set = set;
                    }
                    None => {
                        let view = initial_view(&app, set.as_deref());
                        state.apps.insert(
                            name.clone(),
                            AppEntry {
                                app: app.clone(),
                                app_set: set,
                                cascade,
                                spec_key: key,
                                rendered: None,
                                view,
                                auto_sync_disabled: false,
                                last_attempt: None,
                                synced_key: None,
                                quiet: None,
                                syncing: false,
                                diffs: BTreeMap::new(),
                                persisted: None,
                            },
                        );
                        created.push(name.clone());
                    }
                }
            }
            state.generated = generated;
            state.appsets = set_views;
            state.generator_repos = defs
                .application_sets
                .iter()
                .flat_map(|l| flotilla_appset::repositories(&l.appset))
                .map(|r| r.url)
                .collect();
        }
        for name in created.iter().chain(&changed) {
            tracing::info!(app = %name, "application {}", if created.contains(name) { "created" } else { "updated" });
            self.persist(name);
            self.enqueue(name, Reason::Changed);
        }
        for (app, cascade) in removed {
            let name = app.name().to_string();
            tracing::info!(app = %name, cascade, "application removed");
            if let Err(e) = self.inner.store.delete_app(&name) {
                tracing::error!(app = %name, error = %e, "removing the application from the store");
            }
            if cascade {
                let c = self.clone();
                tokio::spawn(async move { c.delete_resources(app).await });
            }
        }
    }

    /// Deletes every resource an Application tracks (its removal with
    /// cascade).
    async fn delete_resources(&self, mut app: Application) {
        let name = app.name().to_string();
        // An empty sync that prunes, allowed even without `automated`: it is
        // a deletion.
        let policy = app.spec.sync_policy.get_or_insert_with(Default::default);
        let automated = policy.automated.get_or_insert_with(Default::default);
        automated.allow_empty = Some(true);
        automated.enabled = Some(true);
        let settings = SyncSettings {
            prune: Some(true),
            cancel: self.inner.shutdown.child_token(),
            ..SyncSettings::default()
        };
        let _slot = self.inner.sync_slots.acquire().await;
        let result = self
            .inner
            .engine
            .sync(&app, Ok(Vec::new()), &settings)
            .await;
        match &result.error {
            None => {
                tracing::info!(app = %name, resources = result.resources.len(), "resources of a removed application deleted")
            }
            Some(e) => {
                tracing::error!(app = %name, error = %e, "deleting the resources of a removed application failed")
            }
        }
    }

    // ----- queue and workers ----------------------------------------------

    fn enqueue(&self, name: &str, reason: Reason) {
        let mut q = lock(&self.inner.queue);
        if q.active.contains(name) {
            let r = q.again.entry(name.to_string()).or_insert(reason);
            *r = (*r).max(reason);
            return;
        }
        if let Some(r) = q.pending.get_mut(name) {
            *r = (*r).max(reason);
            return;
        }
        q.pending.insert(name.to_string(), reason);
        let _ = if reason == Reason::Event {
            self.inner.tx_fast.send(name.to_string())
        } else {
            self.inner.tx.send(name.to_string())
        };
    }

    /// Queues a reconcile after `delay`, once however many events arrive.
    fn enqueue_later(&self, name: &str, delay: Duration) {
        {
            let mut q = lock(&self.inner.queue);
            if !q.delayed.insert(name.to_string()) {
                return;
            }
        }
        let c = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            tokio::select! {
                _ = c.inner.shutdown.cancelled() => {}
                _ = tokio::time::sleep(delay) => {
                    lock(&c.inner.queue).delayed.remove(&name);
                    c.enqueue(&name, Reason::Event);
                }
            }
        });
    }

    async fn worker(&self) {
        loop {
            let name = {
                let mut guard = self.inner.rx.lock().await;
                let (fast, main) = &mut *guard;
                tokio::select! {
                    biased;
                    _ = self.inner.shutdown.cancelled() => return,
                    n = fast.recv() => match n { Some(n) => n, None => return },
                    n = main.recv() => match n { Some(n) => n, None => return },
                }
            };
            let reason = {
                let mut q = lock(&self.inner.queue);
                let r = q.pending.remove(&name).unwrap_or(Reason::Poll);
                q.active.insert(name.clone());
                r
            };
            let started = Instant::now();
            let ok = self.reconcile(&name, reason).await;
            self.inner
                .metrics
                .reconcile(&name, started.elapsed(), if ok { "ok" } else { "error" });
            let again = {
                let mut q = lock(&self.inner.queue);
                q.active.remove(&name);
                q.again.remove(&name)
            };
            self.inner.progress.send_modify(|v| *v += 1);
            if let Some(r) = again {
                if !self.inner.shutdown.is_cancelled() {
                    self.enqueue(&name, r);
                }
            }
        }
    }

    /// Reconciles one Application. Returns false when something failed
    /// (the failure is in the Application's conditions).
    async fn reconcile(&self, name: &str, reason: Reason) -> bool {
        let (app, rendered, auto_disabled, last_attempt, synced_key) = {
            let state = lock(&self.inner.state);
            let Some(e) = state.apps.get(name) else {
                return true;
            };
            (
                e.app.clone(),
                e.rendered.clone(),
                e.auto_sync_disabled,
                e.last_attempt.clone(),
                e.synced_key.clone(),
            )
        };
        let mut conditions = Vec::new();
        {
            let state = lock(&self.inner.state);
            for s in app.sources() {
                if let Some(url) = &s.repo_url {
                    if let Some(err) = state.repo_errors.get(url) {
                        conditions.push(condition(
                            "ComparisonError",
                            format!("repository {url}: fetching failed (the last fetched commit is used): {err}"),
                        ));
                    }
                }
            }
        }

        // Revisions, then render unless nothing changed.
        let revisions = match self.inner.resolver.revisions(&app).await {
            Ok(r) => r,
            Err(e) => {
                conditions.push(condition("ComparisonError", e.to_string()));
                self.set_failed_comparison(name, conditions);
                return false;
            }
        };
        let spec = spec_key(&app);
        let key = format!("{spec}@{}", revisions_text(&revisions));
        let plain_dir = revisions.iter().any(SourceRevision::is_local);
        // A poll that finds the same commits as the last quiet comparison
        // needs no comparison: watches report what changes on the cluster.
        // Every FULL_COMPARE_EVERY polls, compare anyway.
        if reason == Reason::Poll && !plain_dir && conditions.is_empty() {
            let mut state = lock(&self.inner.state);
            if let Some(e) = state.apps.get_mut(name) {
                if let Some((k, n)) = e.quiet.as_mut() {
                    if *k == key && *n < FULL_COMPARE_EVERY {
                        *n += 1;
                        return true;
                    }
                }
            }
        }
        let manifests = match rendered.filter(|r| r.key == key && !plain_dir) {
            Some(r) => r.manifests,
            None => match self.inner.resolver.desired_at(&app, &revisions).await {
                Ok(m) => {
                    if let Some(e) = lock(&self.inner.state).apps.get_mut(name) {
                        e.rendered = Some(Rendered {
                            key: key.clone(),
                            manifests: m.clone(),
                        });
                    }
                    m
                }
                Err(e) => {
                    conditions.push(condition("ComparisonError", e.to_string()));
                    self.set_failed_comparison(name, conditions);
                    return false;
                }
            },
        };
        let revision = revisions_text(&revisions);

        // Compare.
        let status = match self.inner.engine.compare(&app, Ok(manifests.clone())).await {
            Ok(s) => s,
            Err(e) => {
                conditions.push(condition("ComparisonError", e.to_string()));
                self.set_failed_comparison(name, conditions);
                return false;
            }
        };

        // Decide on an automated sync.
        let automated = app.spec.automated().cloned();
        let mut sync_trigger = None;
        if !status.in_sync() {
            if let Some(auto) = &automated {
                let empty_refused = manifests.is_empty() && !auto.allow_empty();
                let new_target = synced_key.as_deref() != Some(key.as_str());
                let failed_here = last_attempt
                    .as_ref()
                    .is_some_and(|(k, p)| k == &key && *p == Phase::Failed);
                if auto_disabled {
                    // A rollback turned automated sync off.
                } else if empty_refused {
                    conditions.push(condition(
                        "SyncError",
                        "the render is empty and allowEmpty is false: nothing is synced or pruned"
                            .into(),
                    ));
                } else if failed_here && reason != Reason::Poll && reason != Reason::Refresh {
                    conditions.push(condition(
                        "SyncError",
                        format!("the last automated sync to {revision} failed; it is retried at the next poll or on a new commit"),
                    ));
                } else if new_target {
                    sync_trigger = Some(format!("automated ({})", reason.as_str()));
                } else if auto.self_heal() {
                    sync_trigger = Some("self-heal".to_string());
                }
            }
        }

        // Record the comparison.
        {
            let mut state = lock(&self.inner.state);
            if let Some(e) = state.apps.get_mut(name) {
                apply_status(&mut e.view, &status, &revision, &conditions);
                e.diffs = status
                    .resources
                    .iter()
                    .filter_map(|r| {
                        let key = browse::resource_key(&r.group, &r.kind, &r.namespace, &r.name);
                        r.diff.clone().map(|d| (key, d))
                    })
                    .collect();
                if status.in_sync() {
                    e.synced_key = Some(key.clone());
                }
                e.quiet = (status.in_sync()
                    && status.health == flotilla_sync::HealthCode::Healthy
                    && conditions.is_empty())
                .then(|| (key.clone(), 0));
            }
        }
        let ok = match sync_trigger {
            Some(trigger) => self
                .run_sync(name, &app, Ok(manifests), &revision, &key, &trigger, None)
                .await
                .is_ok_and(|op| op.phase == "Succeeded"),
            None => true,
        };
        self.persist(name);
        ok
    }

    fn set_failed_comparison(&self, name: &str, conditions: Vec<ConditionView>) {
        for c in &conditions {
            tracing::warn!(app = %name, "{}", c.message);
        }
        {
            let mut state = lock(&self.inner.state);
            if let Some(e) = state.apps.get_mut(name) {
                e.view.sync = "Unknown".into();
                e.view.conditions = conditions;
                e.view.reconciled_at = now_text();
            }
        }
        self.persist(name);
    }

    /// Runs one sync and records it: history, status, metrics.
    #[allow(clippy::too_many_arguments)]
    async fn run_sync(
        &self,
        name: &str,
        app: &Application,
        desired: Result<Vec<Manifest>, SourceError>,
        revision: &str,
        key: &str,
        trigger: &str,
        request: Option<&SyncRequest>,
    ) -> Result<OperationView, ControllerError> {
        {
            let mut state = lock(&self.inner.state);
            let e = state
                .apps
                .get_mut(name)
                .ok_or_else(|| ControllerError::NotFound(name.to_string()))?;
            if e.syncing {
                return Err(ControllerError::Busy(name.to_string()));
            }
            e.syncing = true;
        }
        let _slot = self.inner.sync_slots.acquire().await;
        let started = SystemTime::now();
        let app_json = serde_json::to_string(app).unwrap_or_default();
        let id = match self.inner.store.begin_operation(&NewOperation {
            app: name.to_string(),
            revision: revision.to_string(),
            app_json,
            trigger: trigger.to_string(),
            started_at: started,
        }) {
            Ok(id) => id,
            Err(e) => {
                self.set_syncing(name, false);
                return Err(e.into());
            }
        };
        let running = OperationView {
            id,
            app: name.to_string(),
            revision: revision.to_string(),
            phase: "Running".into(),
            trigger: trigger.to_string(),
            started_at: rfc3339(started),
            ..OperationView::default()
        };
        if let Some(e) = lock(&self.inner.state).apps.get_mut(name) {
            e.view.operation = Some(running.clone());
        }
        let _ = self.inner.changes.send(name.to_string());
        tracing::info!(app = %name, revision, trigger, "sync started");
        // A selective sync applies what was chosen and prunes nothing; its
        // result says nothing about the rest, so a comparison follows.
        let selective = request.is_some_and(|r| !r.resources.is_empty());
        let settings = SyncSettings {
            dry_run: request.is_some_and(|r| r.dry_run),
            prune: if selective {
                Some(false)
            } else {
                request.and_then(|r| r.prune)
            },
            force: request.is_some_and(|r| r.force).then_some(true),
            cancel: self.inner.shutdown.child_token(),
            ..SyncSettings::default()
        };
        let result = self
            .inner
            .engine
            .sync_with_retry(app, desired, &settings)
            .await;
        let interrupted = self.inner.shutdown.is_cancelled() && result.error.is_some();
        let phase = if result.succeeded() {
            Phase::Succeeded
        } else if interrupted {
            Phase::Interrupted
        } else {
            Phase::Failed
        };
        let message = match &result.error {
            Some(e) => e.to_string(),
            None => summary(&result),
        };
        let resources: Vec<ResourceView> = result
            .resources
            .iter()
            .filter(|r| !(selective && r.operation == ResourceOperation::PruneSkipped))
            .map(resource_view)
            .collect();
        let resources_json = serde_json::to_string(&resources).unwrap_or_else(|_| "[]".into());
        if let Err(e) = self
            .inner
            .store
            .finish_operation(id, phase, &message, &resources_json)
        {
            tracing::error!(app = %name, error = %e, "recording the operation");
        }
        let limit = app
            .spec
            .revision_history_limit
            .map(|l| l.max(1) as usize)
            .unwrap_or(DEFAULT_HISTORY);
        let _ = self.inner.store.trim_history(name, limit);
        self.inner.metrics.sync(&phase.to_string());
        match phase {
            Phase::Succeeded => {
                tracing::info!(app = %name, revision, ms = result.duration.as_millis() as u64, "sync succeeded")
            }
            _ => tracing::warn!(app = %name, revision, "sync {phase}: {message}"),
        }
        let dry_run = settings.dry_run;
        let op = OperationView {
            phase: phase.to_string(),
            finished_at: now_text(),
            message,
            resources,
            ..running
        };
        {
            let mut state = lock(&self.inner.state);
            if let Some(e) = state.apps.get_mut(name) {
                e.syncing = false;
                if !dry_run {
                    if !selective {
                        e.last_attempt = Some((key.to_string(), phase));
                    }
                    if phase == Phase::Succeeded && selective {
                        e.quiet = None;
                    } else if phase == Phase::Succeeded {
                        e.synced_key = Some(key.to_string());
                        apply_sync_result(&mut e.view, &result, revision);
                        if result.succeeded() {
                            e.diffs.clear();
                        }
                    } else {
                        e.view
                            .conditions
                            .push(condition("SyncError", op.message.clone()));
                    }
                }
                e.view.operation = Some(OperationView {
                    resources: Vec::new(),
                    ..op.clone()
                });
            }
        }
        self.persist(name);
        // Watch events bring the health up to date; queue one look anyway.
        if phase == Phase::Succeeded && !dry_run {
            self.enqueue_later(name, self.inner.config.self_heal_delay);
        }
        Ok(op)
    }

    fn set_syncing(&self, name: &str, v: bool) {
        if let Some(e) = lock(&self.inner.state).apps.get_mut(name) {
            e.syncing = v;
        }
    }

    /// Saves an Application's state and tells live pages, when it changed
    /// (a reconcile that finds everything as it was writes nothing; the
    /// reconcile time alone is not a change).
    fn persist(&self, name: &str) {
        use std::hash::{Hash, Hasher};
        let rec = {
            let mut state = lock(&self.inner.state);
            let Some(e) = state.apps.get_mut(name) else {
                return;
            };
            let mut view = e.view.clone();
            let op = view.operation.take();
            let app_json = serde_json::to_string(&e.app).unwrap_or_default();
            let reconciled_at = std::mem::take(&mut view.reconciled_at);
            let status_key = serde_json::to_string(&view).unwrap_or_default();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&app_json, &status_key, e.auto_sync_disabled, &e.app_set).hash(&mut h);
            op.as_ref().map(|o| (o.id, &o.phase)).hash(&mut h);
            let key = h.finish();
            if e.persisted == Some(key) {
                return;
            }
            e.persisted = Some(key);
            view.reconciled_at = reconciled_at;
            AppRecord {
                name: name.to_string(),
                app_json,
                app_set: e.app_set.clone(),
                status_json: serde_json::to_string(&view).unwrap_or_default(),
                auto_sync_disabled: e.auto_sync_disabled,
                updated_at: SystemTime::now(),
            }
        };
        if let Err(e) = self.inner.store.put_app(&rec) {
            tracing::error!(app = %name, error = %e, "saving the application's state");
        }
        // Nobody listening is fine.
        let _ = self.inner.changes.send(name.to_string());
    }

    /// The metrics in Prometheus' text format, with `flotilla_app_info`
    /// brought up to date (done per scrape rather than per reconcile).
    pub fn encode_metrics(&self) -> String {
        let info: Vec<(String, String, String)> = {
            let state = lock(&self.inner.state);
            state
                .apps
                .values()
                .map(|e| {
                    (
                        e.view.name.clone(),
                        e.view.sync.clone(),
                        e.view.health.clone(),
                    )
                })
                .collect()
        };
        self.inner.metrics.set_app_info(&info);
        for stats in self.cache_stats() {
            self.inner.metrics.set_cache(&stats);
        }
        self.inner.metrics.encode()
    }

    // ----- cluster caches ---------------------------------------------------

    /// Follows the cluster caches: an Application whose objects changed on
    /// its cluster is looked at again (self-heal, health) after
    /// `selfHealDelay`; when a cache is complete again (start, outage, an
    /// expired watch), every Application on that cluster is.
    async fn cache_events(&self) {
        let mut rx = self.inner.engine.cache_events();
        let delay = self.inner.config.self_heal_delay;
        loop {
            let event = tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                e = rx.recv() => e,
            };
            let clusters: Vec<String> = match event {
                Ok(CacheEvent::Changed { apps, .. }) => {
                    for app in apps {
                        if lock(&self.inner.state).apps.contains_key(&app) {
                            self.enqueue_later(&app, delay);
                        }
                    }
                    continue;
                }
                Ok(CacheEvent::Tree { .. }) => continue,
                Ok(CacheEvent::Synced { cluster }) => vec![cluster],
                // Events were dropped: anything may have changed.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(
                        dropped = n,
                        "cluster cache events dropped; looking at every application"
                    );
                    self.inner
                        .engine
                        .caches()
                        .iter()
                        .map(|c| c.cluster().to_string())
                        .collect()
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let names: Vec<String> = lock(&self.inner.state)
                .apps
                .iter()
                .filter(|(_, e)| clusters.contains(&e.view.cluster))
                .map(|(n, _)| n.clone())
                .collect();
            for n in names {
                self.enqueue_later(&n, delay);
            }
        }
    }

    /// The resource tree of an Application: the resources of its last
    /// comparison and what each owns on the cluster, from the cache.
    pub async fn tree(&self, name: &str) -> Result<ResourceTree, ControllerError> {
        let (app, roots) = {
            let state = lock(&self.inner.state);
            let e = state
                .apps
                .get(name)
                .ok_or_else(|| ControllerError::NotFound(name.to_string()))?;
            let roots: Vec<TreeRoot> = e
                .view
                .resources
                .iter()
                .map(|r| TreeRoot {
                    group: r.group.clone(),
                    version: String::new(),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                    sync: r.status.clone(),
                })
                .collect();
            (e.app.clone(), roots)
        };
        self.inner
            .engine
            .tree(&app, &roots)
            .await
            .map_err(|e| ControllerError::Failed(e.to_string()))
    }

    /// What each cluster cache holds.
    pub fn cache_stats(&self) -> Vec<flotilla_sync::CacheStats> {
        self.inner
            .engine
            .caches()
            .iter()
            .map(|c| c.stats())
            .collect()
    }

    // ----- what the API shows and does -----------------------------------

    /// Every Application (without resources), by name.
    pub fn applications(&self) -> Vec<AppView> {
        let state = lock(&self.inner.state);
        state
            .apps
            .values()
            .map(|e| {
                let mut v = e.view.clone();
                v.resources.clear();
                if let Some(op) = v.operation.as_mut() {
                    op.resources.clear();
                }
                v
            })
            .collect()
    }

    /// One Application, with its resources.
    pub fn application(&self, name: &str) -> Option<AppView> {
        lock(&self.inner.state)
            .apps
            .get(name)
            .map(|e| e.view.clone())
    }

    /// The ApplicationSets, by name.
    pub fn application_sets(&self) -> Vec<AppSetView> {
        lock(&self.inner.state).appsets.values().cloned().collect()
    }

    /// The clusters Applications can deploy to.
    pub fn clusters(&self) -> Vec<ClusterView> {
        let state = lock(&self.inner.state);
        self.inner
            .clusters
            .iter()
            .map(|c| ClusterView {
                name: c.name.clone(),
                server: c.server.clone(),
                applications: state
                    .apps
                    .values()
                    .filter(|e| e.view.cluster == c.name)
                    .count(),
                labels: c.labels.clone(),
                ..ClusterView::default()
            })
            .collect()
    }

    /// Problems outside any one Application: the definitions could not be
    /// read, an ApplicationSet failed to generate.
    pub fn problems(&self) -> Vec<String> {
        let state = lock(&self.inner.state);
        let mut out: Vec<String> = state.definitions_error.iter().cloned().collect();
        out.extend(state.appsets.values().filter_map(|s| s.error.clone()));
        out
    }

    /// True once the sources have been read at least once.
    pub fn ready(&self) -> bool {
        lock(&self.inner.state).refreshed_once
    }

    /// The sync history of an Application, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<OperationView>, ControllerError> {
        if !lock(&self.inner.state).apps.contains_key(name) {
            return Err(ControllerError::NotFound(name.to_string()));
        }
        Ok(self
            .inner
            .store
            .history(name, 1000)?
            .iter()
            .map(|e| e.view(false))
            .collect())
    }

    /// Refreshes `name` now (Argo CD's refresh): its repositories are
    /// fetched, then it (and every Application reading them) is reconciled.
    pub fn refresh(&self, name: &str) -> Result<(), ControllerError> {
        let repos: Vec<String> = {
            let state = lock(&self.inner.state);
            let e = state
                .apps
                .get(name)
                .ok_or_else(|| ControllerError::NotFound(name.to_string()))?;
            e.app
                .sources()
                .iter()
                .filter(|s| !s.is_helm_chart())
                .filter_map(|s| s.repo_url.clone())
                .collect()
        };
        if repos.is_empty() {
            self.enqueue(name, Reason::Refresh);
        } else {
            self.request_refresh(&repos, Reason::Refresh);
        }
        Ok(())
    }

    /// Syncs an Application now to its target revision, as a person asks:
    /// automated sync is switched back on if a rollback had switched it off.
    pub async fn sync(
        &self,
        name: &str,
        request: SyncRequest,
        who: &str,
    ) -> Result<OperationView, ControllerError> {
        let app = lock(&self.inner.state)
            .apps
            .get(name)
            .map(|e| e.app.clone())
            .ok_or_else(|| ControllerError::NotFound(name.to_string()))?;
        let (desired, revision, key) = self.fresh_desired(&app).await;
        let desired = match (request.resources.is_empty(), desired) {
            (false, Ok(all)) => {
                let dest_ns = app
                    .spec
                    .destination
                    .namespace
                    .as_deref()
                    .unwrap_or_default();
                Ok(browse::select(name, dest_ns, all, &request)?)
            }
            (_, d) => d,
        };
        if !request.dry_run {
            self.set_auto_sync_disabled(name, false)?;
        }
        self.run_sync(
            name,
            &app,
            desired,
            &revision,
            &key,
            &format!("manual sync by {who}"),
            Some(&request),
        )
        .await
    }

    /// Renders the Application at the latest fetched commit.
    async fn fresh_desired(
        &self,
        app: &Application,
    ) -> (Result<Vec<Manifest>, SourceError>, String, String) {
        let spec = spec_key(app);
        match self.inner.resolver.revisions(app).await {
            Ok(revs) => {
                let revision = revisions_text(&revs);
                let key = format!("{spec}@{revision}");
                let desired = self
                    .inner
                    .resolver
                    .desired_at(app, &revs)
                    .await
                    .map_err(SourceError::new);
                (desired, revision, key)
            }
            Err(e) => (Err(SourceError::new(e)), String::new(), spec),
        }
    }

    /// Returns an Application to the revision of history entry `id` and
    /// switches its automated sync off (as Argo CD does), so the next commit
    /// does not undo the rollback. A manual sync switches it on again.
    pub async fn rollback(
        &self,
        name: &str,
        id: i64,
        prune: bool,
        who: &str,
    ) -> Result<OperationView, ControllerError> {
        if !lock(&self.inner.state).apps.contains_key(name) {
            return Err(ControllerError::NotFound(name.to_string()));
        }
        let app = self.pinned_app(name, id)?;
        self.set_auto_sync_disabled(name, true)?;
        let (desired, revision, key) = self.fresh_desired(&app).await;
        self.run_sync(
            name,
            &app,
            desired,
            &revision,
            &key,
            &format!("rollback to {id} by {who}"),
            Some(&SyncRequest {
                prune: Some(prune),
                dry_run: false,
                ..SyncRequest::default()
            }),
        )
        .await
    }

    /// The Application as history entry `id` synced it, every source
    /// pinned to the commit (or chart version) of then.
    fn pinned_app(&self, name: &str, id: i64) -> Result<Application, ControllerError> {
        let entry: HistoryEntry =
            self.inner
                .store
                .entry(name, id)?
                .ok_or_else(|| ControllerError::NoSuchEntry {
                    app: name.to_string(),
                    id,
                })?;
        let mut app: Application = serde_json::from_str(&entry.app_json).map_err(|e| {
            ControllerError::Failed(format!(
                "application {name:?}: history entry {id} cannot be read: {e}"
            ))
        })?;
        let commits: Vec<&str> = entry.revision.split(',').collect();
        pin_sources(&mut app, &commits);
        Ok(app)
    }

    fn set_auto_sync_disabled(&self, name: &str, disabled: bool) -> Result<(), ControllerError> {
        {
            let mut state = lock(&self.inner.state);
            let e = state
                .apps
                .get_mut(name)
                .ok_or_else(|| ControllerError::NotFound(name.to_string()))?;
            e.auto_sync_disabled = disabled;
            e.view.auto_sync_disabled = disabled;
        }
        self.inner.store.set_auto_sync_disabled(name, disabled)?;
        self.persist(name);
        Ok(())
    }

    /// Waits until `check` holds for the Applications, re-checking after
    /// every reconcile, or until `timeout`. Returns the last Applications.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[AppView]) -> bool,
    ) -> Result<Vec<AppView>, Vec<AppView>> {
        let mut rx = self.inner.progress.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let apps = self.applications();
            if check(&apps) {
                return Ok(apps);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Err(self.applications()),
                _ = rx.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// `applicationsSync` of an ApplicationSet's `syncPolicy`.
#[derive(Clone, Copy, Debug)]
struct SyncPolicyKind {
    update: bool,
    delete: bool,
}

impl Default for SyncPolicyKind {
    fn default() -> Self {
        SyncPolicyKind {
            update: true,
            delete: true,
        }
    }
}

fn applications_sync(l: &LocatedApplicationSet) -> SyncPolicyKind {
    let policy = l
        .appset
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.applications_sync.as_deref());
    match policy {
        Some("create-only") => SyncPolicyKind {
            update: false,
            delete: false,
        },
        Some("create-update") => SyncPolicyKind {
            update: true,
            delete: false,
        },
        Some("create-delete") => SyncPolicyKind {
            update: false,
            delete: true,
        },
        _ => SyncPolicyKind::default(),
    }
}

fn preserve_resources(l: &LocatedApplicationSet) -> bool {
    l.appset
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.preserve_resources_on_deletion)
        .unwrap_or(false)
}

/// Whether removing the Application deletes its resources: when it carries
/// Argo CD's resources finalizer (which ApplicationSets put on what they
/// generate unless `preserveResourcesOnDeletion`).
fn cascade_of(app: &Application) -> bool {
    app.metadata
        .finalizers
        .iter()
        .any(|f| f.starts_with("resources-finalizer.argocd.argoproj.io"))
}

/// Pins each source to the revision recorded for it (one per source, in
/// order, as [`revisions_text`] writes them): a Git source to its commit,
/// a chart to its version; `local` pins nothing.
fn pin_sources(app: &mut Application, commits: &[&str]) {
    let mut i = 0;
    let pin = |s: &mut flotilla_core::ApplicationSource, i: &mut usize| {
        if let Some(c) = commits.get(*i) {
            let is_commit = c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit());
            if is_commit || (s.is_helm_chart() && !c.is_empty() && *c != "local") {
                s.target_revision = Some(c.to_string());
            }
        }
        *i += 1;
    };
    if !app.spec.sources.is_empty() {
        for s in app.spec.sources.iter_mut() {
            pin(s, &mut i);
        }
    } else if let Some(s) = app.spec.source.as_mut() {
        pin(s, &mut i);
    }
}

fn condition(kind: &str, message: String) -> ConditionView {
    ConditionView {
        kind: kind.to_string(),
        message,
        time: now_text(),
    }
}

fn initial_view(app: &Application, app_set: Option<&str>) -> AppView {
    let first = app
        .sources()
        .iter()
        .find(|s| !s.is_ref_only())
        .cloned()
        .unwrap_or_default();
    let auto = app.spec.automated();
    AppView {
        name: app.name().to_string(),
        project: app
            .spec
            .project
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "default".into()),
        app_set: app_set.map(str::to_string),
        repo: first.repo_url.clone().unwrap_or_default(),
        path: first.path.clone().unwrap_or_default(),
        target_revision: first
            .target_revision
            .clone()
            .unwrap_or_else(|| "HEAD".into()),
        labels: app.metadata.labels.clone(),
        server: app.spec.destination.server.clone().unwrap_or_default(),
        cluster: app.spec.destination.name.clone().unwrap_or_default(),
        namespace: app.spec.destination.namespace.clone().unwrap_or_default(),
        sync: "Unknown".into(),
        health: "Unknown".into(),
        automated: auto.is_some(),
        prune: auto.is_some_and(|a| a.prune()),
        self_heal: auto.is_some_and(|a| a.self_heal()),
        ..AppView::default()
    }
}

fn apply_status(
    view: &mut AppView,
    status: &AppStatus,
    revision: &str,
    conditions: &[ConditionView],
) {
    view.sync = if status.in_sync() {
        "Synced"
    } else {
        "OutOfSync"
    }
    .into();
    view.health = status.health.as_str().into();
    view.cluster = status.cluster.clone();
    view.revision = revision.to_string();
    view.conditions = conditions.to_vec();
    view.reconciled_at = now_text();
    view.resources = status.resources.iter().map(resource_view).collect();
}

fn apply_sync_result(view: &mut AppView, result: &SyncResult, revision: &str) {
    view.revision = revision.to_string();
    if !result.cluster.is_empty() {
        view.cluster = result.cluster.clone();
    }
    let leftover = result.resources.iter().any(|r| {
        r.operation == ResourceOperation::PruneSkipped
            || (r.status == ResourceSyncStatus::Extraneous
                && r.operation != ResourceOperation::Pruned)
    });
    view.sync = if leftover { "OutOfSync" } else { "Synced" }.into();
    view.health = result.health.as_str().into();
    view.conditions.retain(|c| c.kind != "SyncError");
    view.reconciled_at = now_text();
    view.resources = result
        .resources
        .iter()
        .filter(|r| r.hook.is_none() && r.operation != ResourceOperation::Pruned)
        .map(|r| {
            let mut v = resource_view(r);
            if r.operation != ResourceOperation::PruneSkipped {
                v.status = "Synced".into();
            }
            v
        })
        .collect();
}

fn resource_view(r: &flotilla_sync::ResourceResult) -> ResourceView {
    ResourceView {
        group: r.group.clone(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        status: r.status.to_string(),
        health: r.health.as_ref().map(|h| h.status.as_str().to_string()),
        operation: Some(r.operation.to_string()).filter(|o| o != "Unchanged"),
        message: r.message.clone(),
    }
}

fn summary(result: &SyncResult) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &result.resources {
        *counts.entry(r.operation.to_string()).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, v)| format!("{v} {}", k.to_lowercase()))
        .collect();
    format!(
        "successfully synced ({}) in {} ms",
        parts.join(", "),
        result.duration.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(json: serde_json::Value) -> Application {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn rollback_pins_each_source_to_its_commit_or_chart_version() {
        let c1 = "a".repeat(40);
        let c2 = "b".repeat(40);
        let c3 = "c".repeat(40);
        let mut a = app(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "x"},
            "spec": {"sources": [
                {"repoURL": "https://r/1", "path": "a", "targetRevision": "HEAD"},
                {"repoURL": "https://r/2", "ref": "values"},
                {"repoURL": "https://charts", "chart": "web", "targetRevision": "1.*"},
                {"repoURL": "https://r/3", "path": "b"},
                {"repoURL": "https://r/4", "path": "c", "targetRevision": "main"}
            ], "destination": {"server": "https://c"}}
        }));
        pin_sources(&mut a, &[&c1, &c2, "1.4.2", &c3, "local"]);
        let pinned: Vec<Option<&str>> = a
            .spec
            .sources
            .iter()
            .map(|s| s.target_revision.as_deref())
            .collect();
        assert_eq!(
            pinned,
            [
                Some(c1.as_str()),
                Some(c2.as_str()),
                Some("1.4.2"),
                Some(c3.as_str()),
                Some("main")
            ]
        );
    }

    #[test]
    fn cascade_follows_argo_cd() {
        let plain = app(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "x"}, "spec": {}
        }));
        let fin = app(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "x", "finalizers": ["resources-finalizer.argocd.argoproj.io"]}, "spec": {}
        }));
        assert!(!cascade_of(&plain));
        assert!(cascade_of(&fin));
    }

    #[test]
    fn the_queue_keeps_the_strongest_reason() {
        assert!(Reason::Refresh > Reason::Event);
        assert!(Reason::Webhook > Reason::Poll);
    }
}
