//! The repository cache: one bare repository per normalised URL, fetched with
//! gix, guarded by an in-process lock and a file lock.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gix::remote::Direction;

use crate::credentials::{ssh_command, CredentialStore, Credentials};
use crate::error::{chain, GitError};
use crate::git_tree::GitTree;
use crate::local_tree::LocalTree;
use crate::revision::{
    is_full_sha, is_short_sha, resolve_in, CommitId, RemoteRef, RemoteRefs, Resolved, RevisionKind,
    Target,
};
use crate::semver_constraint::{parse_tag_version, Constraint};
use crate::tree::{Limits, Tree};
use crate::url::{RepoUrl, Transport};

/// How repositories are opened for reading: no system, global or environment
/// configuration, and a delta base cache as large as git's default, which
/// makes walking trees of deltified packs several times faster.
pub(crate) fn read_options() -> gix::open::Options {
    gix::open::Options::isolated().config_overrides(["core.deltaBaseCacheLimit=96m"])
}

/// Written into a cached repository once its first fetch completed; a cache
/// directory without it was left half-written and is fetched again.
const MARKER: &str = "flotilla-complete";

/// How the cache fetches and what it allows.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Fetch only this many commits of history (`None`: full history).
    pub depth: Option<NonZeroU32>,
    /// Bounds applied to the snapshots this cache hands out.
    pub limits: Limits,
    /// How long to wait for a connection (HTTP and SSH).
    pub connect_timeout: Duration,
    /// Upper bound for one remote operation (listing refs or fetching).
    pub operation_timeout: Duration,
    /// Send credentials over plain `http://` to hosts that are not loopback.
    pub allow_insecure_http_credentials: bool,
    /// The `ssh` program used for SSH URLs.
    pub ssh_program: PathBuf,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            depth: None,
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(600),
            allow_insecure_http_credentials: false,
            ssh_program: PathBuf::from("ssh"),
        }
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Pack downloads performed (each `receive` of a fetch).
    pub fetches: u64,
    /// Connections that listed the remote's refs (change detection and fetches).
    pub remote_listings: u64,
    /// Times a damaged or half-written cache entry was discarded and fetched again.
    pub repairs: u64,
}

/// The result of [`GitCache::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// The revision still resolves to the commit seen last; nothing was fetched.
    Unchanged(Resolved),
    /// The revision moved (or was never seen); the new commit is in the cache.
    Changed {
        /// The commit seen last, if any.
        previous: Option<CommitId>,
        /// What the revision resolves to now.
        current: Resolved,
    },
}

/// The result of [`GitCache::fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The refs the remote advertised.
    pub refs: RemoteRefs,
    /// `false` when the remote had nothing new.
    pub received_pack: bool,
}

struct Slot {
    key: String,
    dir: PathBuf,
    lock: tokio::sync::Mutex<()>,
    attempts: AtomicU64,
    last_failure: Mutex<Option<(u64, GitError)>>,
    repo: Mutex<Option<gix::ThreadSafeRepository>>,
    verified: AtomicBool,
}

#[derive(Default)]
struct Counters {
    fetches: AtomicU64,
    listings: AtomicU64,
    repairs: AtomicU64,
}

struct Inner {
    root: PathBuf,
    options: CacheOptions,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    credentials: RwLock<CredentialStore>,
    substitutions: RwLock<Vec<(String, String)>>,
    counters: Counters,
    scratch: Mutex<Option<gix::ThreadSafeRepository>>,
}

/// A cache of bare repositories, one per normalised URL, and the entry point
/// for resolving revisions, detecting changes and opening snapshots.
///
/// Cloning is cheap and shares the cache. Concurrent requests for one
/// repository are serialised by an in-process lock and a file lock (for other
/// processes sharing the directory), so many tasks asking for the same commit
/// cause one fetch. Blocking gix work runs on Tokio's blocking pool; every
/// method must be called within a Tokio runtime.
///
/// ```no_run
/// # async fn demo() -> Result<(), flotilla_git::GitError> {
/// use flotilla_git::{GitCache, Tree};
///
/// let cache = GitCache::new("/var/cache/flotilla/git")?;
/// let tree = cache.snapshot("https://github.com/org/deploy.git", "main").await?;
/// for path in tree.glob("overlays/**/config.json")? {
///     let json = tree.read_to_string(&path)?;
///     println!("{path}: {} bytes", json.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GitCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GitCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCache")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

enum Want {
    Revision(String),
    Commit(CommitId),
    All,
}

struct SyncOutcome {
    resolved: Option<Resolved>,
    refs: Option<RemoteRefs>,
    received_pack: bool,
}

/// Sets the flag when dropped unless disarmed: cancels gix work when the
/// awaiting future is dropped.
struct InterruptOnDrop(Arc<AtomicBool>, bool);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if self.1 {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

impl GitCache {
    /// A cache in `root` (created if missing) with default options.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, GitError> {
        Self::with_options(root, CacheOptions::default())
    }

    /// A cache in `root` (created if missing) with `options`.
    pub fn with_options(root: impl Into<PathBuf>, options: CacheOptions) -> Result<Self, GitError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| GitError::io("creating cache directory", &root, e))?;
        let root = std::fs::canonicalize(&root)
            .map_err(|e| GitError::io("opening cache directory", &root, e))?;
        Ok(GitCache {
            inner: Arc::new(Inner {
                root,
                options,
                slots: Mutex::new(HashMap::new()),
                credentials: RwLock::new(CredentialStore::default()),
                substitutions: RwLock::new(Vec::new()),
                counters: Counters::default(),
                scratch: Mutex::new(None),
            }),
        })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The options this cache was created with.
    pub fn options(&self) -> &CacheOptions {
        &self.inner.options
    }

    /// Use `credentials` for every repository whose normalised URL is
    /// `url_prefix` or below it (longest prefix wins), like Argo CD's
    /// repository credential templates.
    pub fn add_credentials(
        &self,
        url_prefix: &str,
        credentials: Credentials,
    ) -> Result<(), GitError> {
        let key = RepoUrl::parse(url_prefix)?.key().to_string();
        if let Ok(mut store) = self.inner.credentials.write() {
            store.insert(key, credentials);
        }
        Ok(())
    }

    /// Read `url` from `local` (a path or `file://` URL of a clone) instead:
    /// `--repo URL=LOCAL`. URLs are compared after normalisation. When `local`
    /// is a plain directory rather than a repository, [`GitCache::open_tree`]
    /// serves it as a [`LocalTree`] and ignores the revision.
    pub fn substitute(&self, url: &str, local: &str) -> Result<(), GitError> {
        let key = RepoUrl::parse(url)?.key().to_string();
        RepoUrl::parse(local)?;
        if let Ok(mut subs) = self.inner.substitutions.write() {
            subs.retain(|(k, _)| k != &key);
            subs.push((key, local.to_string()));
        }
        Ok(())
    }

    /// Counters since this cache was created.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            fetches: c.fetches.load(Ordering::Relaxed),
            remote_listings: c.listings.load(Ordering::Relaxed),
            repairs: c.repairs.load(Ordering::Relaxed),
        }
    }

    /// The URL actually contacted for `url`, after substitution.
    pub fn effective_url(&self, url: &str) -> Result<RepoUrl, GitError> {
        let parsed = RepoUrl::parse(url)?;
        let subs = self
            .inner
            .substitutions
            .read()
            .map(|s| s.clone())
            .unwrap_or_default();
        match subs.iter().find(|(k, _)| k == parsed.key()) {
            Some((_, local)) => RepoUrl::parse(local),
            None => Ok(parsed),
        }
    }

    /// The directory holding the cached bare repository for `url`.
    pub fn repo_dir(&self, url: &str) -> Result<PathBuf, GitError> {
        let u = self.effective_url(url)?;
        Ok(self.inner.root.join(u.cache_dir_name()))
    }

    fn slot(&self, url: &RepoUrl) -> Arc<Slot> {
        let mut slots = match self.inner.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots
            .entry(url.key().to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    key: url.key().to_string(),
                    dir: self.inner.root.join(url.cache_dir_name()),
                    lock: tokio::sync::Mutex::new(()),
                    attempts: AtomicU64::new(0),
                    last_failure: Mutex::new(None),
                    repo: Mutex::new(None),
                    verified: AtomicBool::new(false),
                })
            })
            .clone()
    }

    fn credentials_for(&self, url: &RepoUrl) -> Option<Credentials> {
        let configured = self
            .inner
            .credentials
            .read()
            .ok()
            .and_then(|s| s.lookup(url.key()).cloned());
        configured.or_else(|| {
            url.embedded_password().map(|p| Credentials::Basic {
                username: url.username().unwrap_or("").to_string(),
                password: p.clone(),
            })
        })
    }

    /// Run `f` on the blocking pool with a timeout; dropping the future interrupts it.
    async fn blocking<T: Send + 'static>(
        &self,
        url: &RepoUrl,
        what: &'static str,
        f: impl FnOnce(Arc<AtomicBool>) -> Result<T, GitError> + Send + 'static,
    ) -> Result<T, GitError> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut guard = InterruptOnDrop(flag.clone(), true);
        let task = tokio::task::spawn_blocking(move || f(flag));
        let out = match tokio::time::timeout(self.inner.options.operation_timeout, task).await {
            Ok(Ok(res)) => res,
            Ok(Err(join)) => Err(GitError::Task {
                what,
                url: url.to_string(),
                cause: join.to_string(),
            }),
            Err(_) => Err(GitError::Task {
                what,
                url: url.to_string(),
                cause: format!("timed out after {:?}", self.inner.options.operation_timeout),
            }),
        };
        // Completed (or timed out: then the flag must stay set to stop the work).
        if out.is_ok() {
            guard.1 = false;
        }
        out
    }

    /// Run `f` with the repository's locks held. A remote failure of an attempt
    /// that finished while this call waited is returned without trying again,
    /// so an unreachable remote costs one timeout, not one per waiting task.
    async fn locked<T: Send + 'static>(
        &self,
        url: &RepoUrl,
        what: &'static str,
        f: impl FnOnce(&Inner, &Slot, Arc<AtomicBool>) -> Result<T, GitError> + Send + 'static,
    ) -> Result<T, GitError> {
        let slot = self.slot(url);
        let seen = slot.attempts.load(Ordering::SeqCst);
        let _guard = slot.lock.lock().await;
        if let Some((n, err)) = slot.last_failure.lock().ok().and_then(|g| g.clone()) {
            if n > seen {
                return Err(err);
            }
        }
        let attempt = slot.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let inner = self.inner.clone();
        let slot2 = slot.clone();
        let res = self
            .blocking(url, what, move |flag| {
                let _file_lock = lock_file(&slot2)?;
                f(&inner, &slot2, flag)
            })
            .await;
        if let Ok(mut g) = slot.last_failure.lock() {
            *g = match &res {
                Err(e) if e.is_remote_failure() || matches!(e, GitError::Task { .. }) => {
                    Some((attempt, e.clone()))
                }
                _ => None,
            };
        }
        res
    }

    async fn sync(&self, url: &str, want: Want) -> Result<SyncOutcome, GitError> {
        let u = self.effective_url(url)?;
        let creds = self.credentials_for(&u);
        let u2 = u.clone();
        self.locked(&u, "fetch", move |inner, slot, flag| {
            sync_blocking(inner, slot, &u2, creds.as_ref(), want, &flag)
        })
        .await
    }

    /// List the remote's branches, tags and `HEAD` (one handshake and
    /// `ls-refs`; nothing is downloaded).
    pub async fn ls_remote(&self, url: &str) -> Result<RemoteRefs, GitError> {
        self.ls_remote_for(url, None).await
    }

    async fn ls_remote_for(
        &self,
        url: &str,
        revision: Option<&str>,
    ) -> Result<RemoteRefs, GitError> {
        let u = self.effective_url(url)?;
        let creds = self.credentials_for(&u);
        let extra = revision.and_then(custom_ref).map(str::to_string);
        let cache = self.clone();
        let u2 = u.clone();
        self.blocking(&u, "listing refs", move |flag| {
            let repo = cache.repo_for_listing(&u2)?;
            let repo = repo.to_thread_local();
            let repo = with_overrides(&repo, &cache.inner.options, creds.as_ref())?;
            let specs = refspecs(extra.as_deref());
            let (refs, _) = connect_and_list(
                &cache.inner,
                &repo,
                &u2,
                creds.as_ref(),
                &specs,
                |_p, refs| Ok::<_, GitError>(refs.clone()),
            )?;
            let _ = flag;
            Ok(refs)
        })
        .await
    }

    /// Resolve `revision` to a commit by asking the remote for its refs (like
    /// `git ls-remote`), without fetching. A short commit id needs the objects,
    /// so it fetches when the cache does not have a unique match.
    pub async fn resolve(&self, url: &str, revision: &str) -> Result<Resolved, GitError> {
        let refs = self.ls_remote_for(url, Some(revision)).await?;
        let u = self.effective_url(url)?;
        match resolve_in(&refs, revision) {
            Target::Commit(commit, kind) => Ok(Resolved { commit, kind }),
            Target::Short(_) => self.fetch_revision(url, revision).await,
            Target::NotFound(detail) => {
                if refs.is_empty() {
                    return Err(GitError::EmptyRepository { url: u.to_string() });
                }
                let detail = self
                    .deleted_branch_detail(&u, revision)
                    .await
                    .unwrap_or(detail);
                Err(GitError::RevisionNotFound {
                    url: u.to_string(),
                    revision: revision.to_string(),
                    detail,
                })
            }
        }
    }

    async fn deleted_branch_detail(&self, u: &RepoUrl, revision: &str) -> Option<String> {
        let slot = self.slot(u);
        let rev = revision.to_string();
        let repo = open_existing(&slot).ok().flatten()?;
        tokio::task::spawn_blocking(move || deleted_branch(&repo.to_thread_local(), &rev))
            .await
            .ok()
            .flatten()
    }

    /// Resolve `revision` against the cache only (no network): what was
    /// fetched last. For when the remote is unreachable.
    pub async fn resolve_cached(&self, url: &str, revision: &str) -> Result<Resolved, GitError> {
        let u = self.effective_url(url)?;
        let slot = self.slot(&u);
        let rev = revision.to_string();
        let u2 = u.clone();
        self.blocking(&u, "resolving", move |_| {
            let repo = open_existing(&slot)?.ok_or_else(|| not_cached(&u2, &slot))?;
            resolve_local(&repo.to_thread_local(), &u2.to_string(), &rev)
        })
        .await
    }

    /// Resolve `revision` with the remote and make sure its commit is in the
    /// cache, fetching only when it is not.
    pub async fn fetch_revision(&self, url: &str, revision: &str) -> Result<Resolved, GitError> {
        let out = self.sync(url, Want::Revision(revision.to_string())).await?;
        out.resolved.ok_or_else(|| GitError::Task {
            what: "fetch",
            url: url.to_string(),
            cause: "no revision resolved".into(),
        })
    }

    /// Fetch all branches and tags now (one listing and one pack download if
    /// anything changed), pruning branches and tags deleted on the remote.
    pub async fn fetch(&self, url: &str) -> Result<FetchOutcome, GitError> {
        let out = self.sync(url, Want::All).await?;
        Ok(FetchOutcome {
            refs: out.refs.unwrap_or_default(),
            received_pack: out.received_pack,
        })
    }

    /// The snapshot of `revision`: resolved with the remote, fetched if the
    /// commit is not cached yet.
    pub async fn snapshot(&self, url: &str, revision: &str) -> Result<GitTree, GitError> {
        let resolved = self.fetch_revision(url, revision).await?;
        self.open_snapshot(url, resolved.commit).await
    }

    /// The snapshot of `revision` as last fetched, without contacting the remote.
    pub async fn snapshot_cached(&self, url: &str, revision: &str) -> Result<GitTree, GitError> {
        let resolved = self.resolve_cached(url, revision).await?;
        self.open_snapshot(url, resolved.commit).await
    }

    /// The first line of `commit`'s message, read from the cache without
    /// contacting the remote; `None` when the cache does not hold the commit.
    ///
    /// ```no_run
    /// # async fn f(cache: flotilla_git::GitCache, c: flotilla_git::CommitId) {
    /// if let Some(subject) = cache.commit_subject("https://example.com/r.git", c) {
    ///     println!("{} {subject}", c.short());
    /// }
    /// # }
    /// ```
    pub fn commit_subject(&self, url: &str, commit: CommitId) -> Option<String> {
        let u = self.effective_url(url).ok()?;
        let slot = self.slot(&u);
        let repo = open_existing(&slot).ok()??.to_thread_local();
        let obj = repo.try_find_object(commit.0).ok()??;
        let c = obj.try_into_commit().ok()?;
        let message = c.message_raw_sloppy().to_string();
        Some(
            message
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
        )
    }

    /// The snapshot of `commit`, fetched only if the cache lacks it.
    pub async fn snapshot_commit(&self, url: &str, commit: CommitId) -> Result<GitTree, GitError> {
        let u = self.effective_url(url)?;
        let slot = self.slot(&u);
        let present = match open_existing(&slot) {
            Ok(Some(repo)) => {
                let r = repo.to_thread_local();
                matches!(commit_state(&r, commit.0), CommitState::Present)
            }
            _ => false,
        };
        if !present {
            self.sync(url, Want::Commit(commit)).await?;
        }
        self.open_snapshot(url, commit).await
    }

    async fn open_snapshot(&self, url: &str, commit: CommitId) -> Result<GitTree, GitError> {
        let u = self.effective_url(url)?;
        let slot = self.slot(&u);
        let limits = self.inner.options.limits;
        let u2 = u.clone();
        self.blocking(&u, "opening snapshot", move |_| {
            let repo = open_existing(&slot)?.ok_or_else(|| not_cached(&u2, &slot))?;
            GitTree::new(repo, u2.to_string(), commit, limits)
        })
        .await
    }

    /// Change detection for polling: list the remote's refs (no download) and
    /// compare what `revision` resolves to with `last_seen`. Only when it
    /// changed is the new commit fetched (and only if not already cached).
    pub async fn poll(
        &self,
        url: &str,
        revision: &str,
        last_seen: Option<CommitId>,
    ) -> Result<Poll, GitError> {
        let resolved = self.resolve(url, revision).await?;
        if Some(resolved.commit) == last_seen {
            return Ok(Poll::Unchanged(resolved));
        }
        let current = match resolved.kind {
            RevisionKind::ShortCommit => resolved,
            _ => {
                // Make sure the new commit is cached (fetches only if missing).
                let u = self.effective_url(url)?;
                let slot = self.slot(&u);
                let cached = open_existing(&slot)
                    .ok()
                    .flatten()
                    .map(|r| {
                        matches!(
                            commit_state(&r.to_thread_local(), resolved.commit.0),
                            CommitState::Present
                        )
                    })
                    .unwrap_or(false);
                if cached {
                    resolved
                } else {
                    self.fetch_revision(url, revision).await?
                }
            }
        };
        Ok(Poll::Changed {
            previous: last_seen,
            current,
        })
    }

    /// True when `url` is substituted by a directory that is not a Git
    /// repository: [`GitCache::open_tree`] reads it as it is now, and it has
    /// no commits to fetch or resolve.
    pub fn is_plain_directory(&self, url: &str) -> Result<bool, GitError> {
        Ok(match self.effective_url(url)?.transport() {
            Transport::File { path } => is_plain_dir(path),
            _ => false,
        })
    }

    /// A [`Tree`] for `url` at `revision`: a [`GitTree`] normally, or a
    /// [`LocalTree`] when `url` is substituted by a plain directory (the
    /// revision is then ignored, with a warning).
    pub async fn open_tree(&self, url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError> {
        let u = self.effective_url(url)?;
        if let Transport::File { path } = u.transport() {
            if is_plain_dir(path) {
                tracing::warn!(
                    url = %RepoUrl::parse(url)?,
                    dir = %path.display(),
                    revision,
                    "reading a plain directory: the revision is ignored"
                );
                return Ok(Arc::new(
                    LocalTree::new(path)?.with_limits(self.inner.options.limits),
                ));
            }
        }
        Ok(Arc::new(self.snapshot(url, revision).await?))
    }

    fn repo_for_listing(&self, url: &RepoUrl) -> Result<gix::ThreadSafeRepository, GitError> {
        let slot = self.slot(url);
        if let Ok(Some(repo)) = open_existing(&slot) {
            return Ok(repo);
        }
        let mut scratch = match self.inner.scratch.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(r) = scratch.as_ref() {
            return Ok(r.clone());
        }
        let dir = self.inner.root.join(".scratch.git");
        let repo = match gix::open_opts(&dir, gix::open::Options::isolated()) {
            Ok(r) => r,
            Err(_) => {
                let _ = std::fs::remove_dir_all(&dir);
                gix::init_bare(&dir).map_err(|e| GitError::Io {
                    op: "creating scratch repository",
                    path: dir.display().to_string(),
                    cause: chain(&e),
                })?
            }
        }
        .into_sync();
        *scratch = Some(repo.clone());
        Ok(repo)
    }
}

fn is_plain_dir(path: &Path) -> bool {
    path.is_dir() && !is_git_repo(path)
}

fn is_git_repo(path: &Path) -> bool {
    path.join(".git").exists() || (path.join("HEAD").is_file() && path.join("objects").is_dir())
}

fn not_cached(url: &RepoUrl, slot: &Slot) -> GitError {
    GitError::Corrupt {
        url: url.to_string(),
        dir: slot.dir.display().to_string(),
        cause: "not in the cache yet (nothing was fetched)".into(),
    }
}

/// A ref outside branches and tags that the revision names, to list and fetch it too.
fn custom_ref(revision: &str) -> Option<&str> {
    let r = revision.trim();
    (r.starts_with("refs/") && !r.starts_with("refs/heads/") && !r.starts_with("refs/tags/"))
        .then_some(r)
}

fn refspecs(extra: Option<&str>) -> Vec<String> {
    let mut specs = vec![
        "+refs/heads/*:refs/heads/*".to_string(),
        "+refs/tags/*:refs/tags/*".to_string(),
    ];
    if let Some(r) = extra {
        specs.push(format!("+{r}:{r}"));
    }
    specs
}

fn lock_file(slot: &Slot) -> Result<std::fs::File, GitError> {
    let path = slot.dir.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| GitError::io("opening lock file", &path, e))?;
    file.lock().map_err(|e| GitError::io("locking", &path, e))?;
    Ok(file)
}

/// Open the cached repository if it exists and completed its first fetch.
fn open_existing(slot: &Slot) -> Result<Option<gix::ThreadSafeRepository>, GitError> {
    if let Some(r) = slot.repo.lock().ok().and_then(|g| g.clone()) {
        return Ok(Some(r));
    }
    if !slot.dir.join(MARKER).exists() {
        return Ok(None);
    }
    match gix::open_opts(&slot.dir, read_options()) {
        Ok(r) => {
            let r = r.into_sync();
            if let Ok(mut g) = slot.repo.lock() {
                *g = Some(r.clone());
            }
            Ok(Some(r))
        }
        Err(e) => Err(GitError::Corrupt {
            url: slot.key.clone(),
            dir: slot.dir.display().to_string(),
            cause: chain(&e),
        }),
    }
}

/// Check that every pack index has its pack and that the pack's trailing
/// checksum is the one the index records (cheap: a few bytes per pack). This
/// catches truncated and mismatched packs left by an interrupted process.
fn verify_packs(dir: &Path) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let pack_dir = dir.join("objects").join("pack");
    let Ok(entries) = std::fs::read_dir(&pack_dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let idx = entry.path();
        if idx.extension().and_then(|e| e.to_str()) != Some("idx") {
            continue;
        }
        let pack = idx.with_extension("pack");
        let read_tail = |p: &Path, n: i64| -> Result<Vec<u8>, String> {
            let mut f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let len = f
                .metadata()
                .map_err(|e| format!("{}: {e}", p.display()))?
                .len();
            if len < 32 {
                return Err(format!("{} is truncated ({len} bytes)", p.display()));
            }
            f.seek(SeekFrom::End(-n))
                .map_err(|e| format!("{}: {e}", p.display()))?;
            let mut buf = vec![0; n as usize];
            f.read_exact(&mut buf)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(buf)
        };
        let idx_tail = read_tail(&idx, 40)?;
        let pack_tail = read_tail(&pack, 20)?;
        if idx_tail[..20] != pack_tail[..] {
            return Err(format!(
                "{} does not match its index (truncated or overwritten)",
                pack.display()
            ));
        }
        let mut head = [0u8; 4];
        std::fs::File::open(&pack)
            .and_then(|mut f| f.read_exact(&mut head))
            .map_err(|e| format!("{}: {e}", pack.display()))?;
        if &head != b"PACK" {
            return Err(format!("{} is not a pack file", pack.display()));
        }
    }
    Ok(())
}

/// Remove lock files a killed process left behind (we hold the file lock, so
/// no other process of ours is writing).
fn remove_stale_locks(dir: &Path) {
    fn walk(dir: &Path, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 16 {
                walk(&p, depth + 1);
            } else if p.extension().and_then(|x| x.to_str()) == Some("lock") {
                tracing::warn!(file = %p.display(), "removing stale lock file");
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    for name in [
        "HEAD.lock",
        "packed-refs.lock",
        "config.lock",
        "shallow.lock",
        "index.lock",
    ] {
        let p = dir.join(name);
        if p.exists() {
            tracing::warn!(file = %p.display(), "removing stale lock file");
            let _ = std::fs::remove_file(&p);
        }
    }
    walk(&dir.join("refs"), 0);
}

/// Packs smaller than this many objects are stored as loose objects instead,
/// as `git fetch` does (`fetch.unpackLimit`), so frequent small fetches do not
/// pile up packs that every lookup would have to consider.
const UNPACK_LIMIT: u32 = 100;

/// Turn a small pack a fetch just wrote into loose objects and remove it.
/// On any failure the pack is simply kept.
fn explode_small_pack(repo: &gix::Repository, bundle: &gix::odb::pack::bundle::write::Outcome) {
    use gix::objs::Write as _;
    let (Some(index_path), Some(data_path)) = (&bundle.index_path, &bundle.data_path) else {
        return;
    };
    if bundle.index.num_objects >= UNPACK_LIMIT {
        return;
    }
    let result = (|| -> Result<(), String> {
        let index = gix::odb::pack::index::File::at(index_path, bundle.object_hash)
            .map_err(|e| chain(&e))?;
        for entry in index.iter() {
            let obj = repo.find_object(entry.oid).map_err(|e| chain(&e))?;
            let written = repo
                .objects
                .write_buf(obj.kind, &obj.data)
                .map_err(|e| chain(&e))?;
            if written != entry.oid {
                return Err(format!("object {} was rewritten as {written}", entry.oid));
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            for p in [Some(data_path), Some(index_path), bundle.keep_path.as_ref()]
                .into_iter()
                .flatten()
            {
                let _ = std::fs::remove_file(p);
            }
        }
        Err(e) => {
            tracing::warn!(pack = %data_path.display(), error = %e, "keeping the fetched pack")
        }
    }
}

/// Every fetch adds a pack; index them all in one multi-pack index so
/// lookups stay one binary search however many fetches happened. Failures
/// only cost speed, so they are logged.
fn write_multi_pack_index(dir: &Path, object_hash: gix::hash::Kind, interrupt: &AtomicBool) {
    let pack_dir = dir.join("objects").join("pack");
    let Ok(entries) = std::fs::read_dir(&pack_dir) else {
        return;
    };
    let indices: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx") && p.with_extension("pack").is_file())
        .collect();
    let target = pack_dir.join("multi-pack-index");
    if indices.len() < 2 {
        let _ = std::fs::remove_file(&target);
        return;
    }
    let tmp = pack_dir.join(format!("multi-pack-index.tmp-{}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .map_err(|e| e.to_string())
        .and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            gix::odb::pack::multi_index::write_from_index_paths(
                indices,
                &mut out,
                &mut gix::progress::Discard,
                interrupt,
                gix::odb::pack::multi_index::write::Options { object_hash },
            )
            .map_err(|e| chain(&e))?;
            std::io::Write::flush(&mut out).map_err(|e| e.to_string())
        })
        .and_then(|()| std::fs::rename(&tmp, &target).map_err(|e| e.to_string()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(dir = %dir.display(), error = %e, "could not write the multi-pack index");
    }
}

fn wipe(inner: &Inner, slot: &Slot, reason: &str) -> Result<(), GitError> {
    tracing::warn!(url = %slot.key, dir = %slot.dir.display(), reason, "discarding cached repository; fetching it again");
    inner.counters.repairs.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut g) = slot.repo.lock() {
        *g = None;
    }
    slot.verified.store(false, Ordering::Relaxed);
    if slot.dir.exists() {
        // Move aside first so a crash mid-delete cannot leave a half-deleted repository in place.
        let trash = slot
            .dir
            .with_extension(format!("trash-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&trash);
        std::fs::rename(&slot.dir, &trash)
            .map_err(|e| GitError::io("moving aside", &slot.dir, e))?;
        std::fs::remove_dir_all(&trash).map_err(|e| GitError::io("removing", &trash, e))?;
    }
    Ok(())
}

/// Open (or create) the cached repository for writing, repairing what a killed
/// process or a damaged disk left behind. Called with the locks held.
fn prepare_repo(inner: &Inner, slot: &Slot) -> Result<gix::Repository, GitError> {
    if slot.dir.exists() {
        if !slot.dir.join(MARKER).exists() {
            wipe(
                inner,
                slot,
                "first fetch never completed (half-written cache)",
            )?;
        } else {
            remove_stale_locks(&slot.dir);
            if !slot.verified.load(Ordering::Relaxed) {
                if let Err(why) = verify_packs(&slot.dir) {
                    wipe(inner, slot, &why)?;
                }
            }
        }
    }
    if slot.dir.exists() {
        match gix::open_opts(&slot.dir, read_options()) {
            Ok(r) => {
                slot.verified.store(true, Ordering::Relaxed);
                if let Ok(mut g) = slot.repo.lock() {
                    if g.is_none() {
                        *g = Some(r.clone().into_sync());
                    }
                }
                return Ok(r);
            }
            Err(e) => wipe(inner, slot, &chain(&e))?,
        }
    }
    let repo = gix::init_bare(&slot.dir).map_err(|e| GitError::Io {
        op: "creating cached repository",
        path: slot.dir.display().to_string(),
        cause: chain(&e),
    })?;
    slot.verified.store(true, Ordering::Relaxed);
    Ok(repo)
}

/// A repository handle with the transport configuration applied.
fn with_overrides(
    repo: &gix::Repository,
    options: &CacheOptions,
    creds: Option<&Credentials>,
) -> Result<gix::Repository, GitError> {
    let ssh = ssh_command(
        &options.ssh_program,
        creds.and_then(|c| c.ssh_key_ref()),
        options.connect_timeout.as_secs(),
    );
    let overrides = [
        format!("core.sshCommand={ssh}"),
        "ssh.variant=ssh".to_string(),
        format!(
            "gitoxide.http.connectTimeout={}",
            options.connect_timeout.as_millis()
        ),
        "protocol.version=2".to_string(),
        format!("gitoxide.userAgent=flotilla/{}", env!("CARGO_PKG_VERSION")),
        "protocol.allow=always".to_string(),
    ];
    let opts = gix::open::Options::isolated().config_overrides(overrides);
    gix::open_opts(repo.git_dir(), opts).map_err(|e| GitError::Io {
        op: "opening cached repository",
        path: repo.git_dir().display().to_string(),
        cause: chain(&e),
    })
}

fn classify(url: &RepoUrl, listing: bool, e: &gix::Error) -> GitError {
    let text = chain(e);
    let lc = text.to_ascii_lowercase();
    if lc.contains("authenticat")
        || lc.contains("401")
        || lc.contains("403")
        || lc.contains("credentials")
    {
        GitError::Authentication {
            url: url.to_string(),
            cause: text,
        }
    } else if listing {
        GitError::Unreachable {
            url: url.to_string(),
            cause: text,
        }
    } else {
        GitError::Fetch {
            url: url.to_string(),
            cause: text,
        }
    }
}

fn remote_refs_from(list: &[gix::protocol::handshake::Ref]) -> RemoteRefs {
    use gix::protocol::handshake::Ref;
    let mut out = RemoteRefs::default();
    for r in list {
        let (name, commit, annotated, target) = match r {
            Ref::Peeled {
                full_ref_name,
                object,
                ..
            } => (full_ref_name, *object, true, None),
            Ref::Direct {
                full_ref_name,
                object,
            } => (full_ref_name, *object, false, None),
            Ref::Symbolic {
                full_ref_name,
                target,
                tag,
                object,
            } => (full_ref_name, *object, tag.is_some(), Some(target)),
            Ref::Unborn {
                full_ref_name,
                target,
            } => {
                if full_ref_name == "HEAD" {
                    out.head = Some(target.to_string());
                }
                continue;
            }
        };
        let name = name.to_string();
        if name == "HEAD" {
            out.head = target.map(|t| t.to_string());
            out.head_commit = Some(CommitId(commit));
            continue;
        }
        out.refs.push(RemoteRef {
            name,
            commit: CommitId(commit),
            annotated,
        });
    }
    out.refs.sort_by(|a, b| a.name.cmp(&b.name));
    out.refs.dedup_by(|a, b| a.name == b.name);
    out
}

/// Connect, list refs and hand the prepared fetch plus the listing to `f`.
fn connect_and_list<R>(
    inner: &Inner,
    repo: &gix::Repository,
    url: &RepoUrl,
    creds: Option<&Credentials>,
    specs: &[String],
    f: impl FnOnce(
        gix::remote::fetch::Prepare<
            '_,
            '_,
            Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        >,
        &RemoteRefs,
    ) -> Result<R, GitError>,
) -> Result<(RemoteRefs, R), GitError> {
    let identity = creds.and_then(|c| c.http_identity());
    if identity.is_some()
        && url.is_insecure_http()
        && !inner.options.allow_insecure_http_credentials
    {
        return Err(GitError::InsecureCredentials {
            url: url.to_string(),
        });
    }
    let remote = repo
        .remote_at(url.connect_url())
        .and_then(|r| r.with_refspecs(specs.iter().map(String::as_str), Direction::Fetch))
        .map_err(|e| GitError::InvalidUrl {
            url: url.to_string(),
            reason: chain(&e),
        })?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    let connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| classify(url, true, &e))?;
    let connection = connection.with_credentials(move |action| {
        use gix::credentials::helper::Action;
        match action {
            Action::Get(ctx) => {
                Ok(identity
                    .as_ref()
                    .map(|(user, pass)| gix::credentials::protocol::Outcome {
                        identity: gix::sec::identity::Account {
                            username: user.clone(),
                            password: pass.clone(),
                            oauth_refresh_token: None,
                        },
                        next: ctx.into(),
                    }))
            }
            Action::Store(_) | Action::Erase(_) => Ok(None),
        }
    });
    let head_spec = gix::refspec::parse("HEAD".into(), gix::refspec::parse::Operation::Fetch)
        .map(|s| s.to_owned())
        .map_err(|e| GitError::InvalidUrl {
            url: url.to_string(),
            reason: chain(&e),
        })?;
    let options = gix::remote::ref_map::Options {
        extra_refspecs: vec![head_spec],
        ..Default::default()
    };
    inner.counters.listings.fetch_add(1, Ordering::Relaxed);
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, options)
        .map_err(|e| classify(url, true, &e))?;
    let refs = remote_refs_from(&prepare.ref_map().remote_refs);
    tracing::debug!(url = %url, refs = refs.refs.len(), "listed remote refs");
    let out = f(prepare, &refs)?;
    Ok((refs, out))
}

enum CommitState {
    Present,
    Missing,
    Broken(String),
}

/// Is `id` a readable commit whose root tree is readable too?
fn commit_state(repo: &gix::Repository, id: gix::ObjectId) -> CommitState {
    match repo.try_find_object(id) {
        Ok(None) => CommitState::Missing,
        Err(e) => CommitState::Broken(chain(&e)),
        Ok(Some(obj)) => {
            if obj.kind != gix::objs::Kind::Commit {
                return CommitState::Broken(format!("{id} is a {}, not a commit", obj.kind));
            }
            let tree = match obj
                .try_into_commit()
                .map_err(|e| chain(&e))
                .and_then(|c| c.tree_id().map_err(|e| chain(&e)))
            {
                Ok(t) => t.detach(),
                Err(e) => return CommitState::Broken(e),
            };
            match repo.try_find_object(tree) {
                Ok(Some(_)) => CommitState::Present,
                // A shallow or partial fetch could lack it; treat as missing so it is fetched.
                Ok(None) => CommitState::Missing,
                Err(e) => CommitState::Broken(chain(&e)),
            }
        }
    }
}

/// Find the unique commit whose id starts with `prefix`.
fn lookup_short(
    repo: &gix::Repository,
    url: &str,
    prefix: &str,
) -> Result<Option<CommitId>, GitError> {
    let p = gix::hash::Prefix::from_hex(prefix).map_err(|e| GitError::RevisionNotFound {
        url: url.to_string(),
        revision: prefix.to_string(),
        detail: e.to_string(),
    })?;
    let mut candidates = std::collections::HashSet::new();
    repo.objects
        .lookup_prefix(p, Some(&mut candidates))
        .map_err(|e| GitError::Object {
            location: url.to_string(),
            what: format!("objects starting with {prefix}"),
            cause: chain(&e),
        })?;
    let mut commits: Vec<gix::ObjectId> = candidates
        .into_iter()
        .filter(|id| {
            repo.find_header(*id)
                .map(|h| h.kind() == gix::objs::Kind::Commit)
                .unwrap_or(false)
        })
        .collect();
    commits.sort();
    match commits.len() {
        0 => Ok(None),
        1 => Ok(Some(CommitId(commits[0]))),
        _ => Err(GitError::AmbiguousRevision {
            url: url.to_string(),
            revision: prefix.to_string(),
            candidates: commits
                .iter()
                .map(|c| c.to_hex_with_len(12).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// If `revision` was a branch we fetched before, say it was deleted.
fn deleted_branch(repo: &gix::Repository, revision: &str) -> Option<String> {
    let name = if revision.starts_with("refs/heads/") {
        revision.to_string()
    } else {
        format!("refs/heads/{revision}")
    };
    let mut r = repo.try_find_reference(name.as_str()).ok().flatten()?;
    let id = r.peel_to_id().ok()?;
    Some(format!(
        "branch {:?} no longer exists on the remote (it was at {} when last fetched)",
        name.trim_start_matches("refs/heads/"),
        id.detach().to_hex_with_len(12)
    ))
}

/// Delete local branches and tags the remote no longer has; point `HEAD`
/// where the remote's points. Failures are logged, not fatal.
fn update_local_refs(repo: &gix::Repository, refs: &RemoteRefs) {
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
    use gix::refs::Target as RefTarget;
    let mut edits = Vec::new();
    if let Ok(platform) = repo.references() {
        for prefix in ["refs/heads/", "refs/tags/"] {
            let Ok(iter) = platform.prefixed(prefix) else {
                continue;
            };
            for r in iter.flatten() {
                let name = r.name().as_bstr().to_string();
                if refs.get(&name).is_none() {
                    tracing::info!(reference = %name, "pruning a ref deleted on the remote");
                    edits.push(RefEdit {
                        change: Change::Delete {
                            expected: PreviousValue::Any,
                            log: RefLog::AndReference,
                        },
                        name: r.name().to_owned(),
                        deref: false,
                    });
                }
            }
        }
    }
    if let Some(head) = &refs.head {
        let exists = repo
            .try_find_reference(head.as_str())
            .ok()
            .flatten()
            .is_some();
        let current = repo
            .head_name()
            .ok()
            .flatten()
            .map(|n| n.as_bstr().to_string());
        if exists && current.as_deref() != Some(head.as_str()) {
            if let Ok(target) = gix::refs::FullName::try_from(head.as_str()) {
                if let Ok(name) = gix::refs::FullName::try_from("HEAD") {
                    edits.push(RefEdit {
                        change: Change::Update {
                            log: LogChange::default(),
                            expected: PreviousValue::Any,
                            new: RefTarget::Symbolic(target),
                        },
                        name,
                        deref: false,
                    });
                }
            }
        }
    }
    if !edits.is_empty() {
        if let Err(e) = repo.edit_references(edits) {
            tracing::warn!(error = %chain(&e), "could not update local refs after fetching");
        }
    }
}

fn sync_blocking(
    inner: &Inner,
    slot: &Slot,
    url: &RepoUrl,
    creds: Option<&Credentials>,
    want: Want,
    interrupt: &AtomicBool,
) -> Result<SyncOutcome, GitError> {
    let mut repaired = false;
    loop {
        let repo = prepare_repo(inner, slot)?;
        match sync_once(inner, slot, &repo, url, creds, &want, interrupt) {
            Err(GitError::Corrupt { cause, .. }) if !repaired => {
                repaired = true;
                drop(repo);
                wipe(inner, slot, &cause)?;
            }
            Err(e) => {
                // A first fetch that failed leaves nothing behind (a mistyped URL
                // should not leave an empty repository in the cache).
                if !slot.dir.join(MARKER).exists() {
                    if let Ok(mut g) = slot.repo.lock() {
                        *g = None;
                    }
                    let _ = std::fs::remove_dir_all(&slot.dir);
                }
                return Err(e);
            }
            ok => return ok,
        }
    }
}

fn sync_once(
    inner: &Inner,
    slot: &Slot,
    base: &gix::Repository,
    url: &RepoUrl,
    creds: Option<&Credentials>,
    want: &Want,
    interrupt: &AtomicBool,
) -> Result<SyncOutcome, GitError> {
    let corrupt = |cause: String| GitError::Corrupt {
        url: url.to_string(),
        dir: slot.dir.display().to_string(),
        cause,
    };
    let repo = with_overrides(base, &inner.options, creds)?;
    // A commit asked for by id that is already here needs no network at all.
    if let Want::Commit(id) = want {
        match commit_state(&repo, id.0) {
            CommitState::Present => {
                return Ok(SyncOutcome {
                    resolved: Some(Resolved {
                        commit: *id,
                        kind: RevisionKind::Commit,
                    }),
                    refs: None,
                    received_pack: false,
                })
            }
            CommitState::Broken(why) => return Err(corrupt(why)),
            CommitState::Missing => {}
        }
    }
    let revision = match want {
        Want::Revision(r) => Some(r.as_str()),
        _ => None,
    };
    let specs = refspecs(revision.and_then(custom_ref));
    let shallow = inner.options.depth;

    enum Plan {
        Done(Option<Resolved>),
        Received(Target),
        Shallow(Target),
    }

    let (refs, plan) = connect_and_list(inner, &repo, url, creds, &specs, |prepare, refs| {
        let target = match want {
            Want::Revision(r) => Some(resolve_in(refs, r)),
            Want::Commit(id) => Some(Target::Commit(*id, RevisionKind::Commit)),
            Want::All => None,
        };
        match &target {
            Some(Target::NotFound(detail)) => {
                if refs.is_empty() {
                    return Err(GitError::EmptyRepository {
                        url: url.to_string(),
                    });
                }
                let detail = revision
                    .and_then(|r| deleted_branch(&repo, r))
                    .unwrap_or_else(|| detail.clone());
                return Err(GitError::RevisionNotFound {
                    url: url.to_string(),
                    revision: revision.unwrap_or_default().to_string(),
                    detail,
                });
            }
            Some(Target::Commit(id, kind)) => match commit_state(&repo, id.0) {
                CommitState::Present => {
                    return Ok(Plan::Done(Some(Resolved {
                        commit: *id,
                        kind: kind.clone(),
                    })))
                }
                CommitState::Broken(why) => return Err(corrupt(why)),
                CommitState::Missing => {}
            },
            Some(Target::Short(prefix)) => {
                if let Some(c) = lookup_short(&repo, &url.to_string(), prefix)? {
                    return Ok(Plan::Done(Some(Resolved {
                        commit: c,
                        kind: RevisionKind::ShortCommit,
                    })));
                }
            }
            None => {}
        }
        if refs.is_empty() {
            return Err(GitError::EmptyRepository {
                url: url.to_string(),
            });
        }
        let target = target.unwrap_or(Target::NotFound(String::new()));
        if shallow.is_some() {
            return Ok(Plan::Shallow(target));
        }
        inner.counters.fetches.fetch_add(1, Ordering::Relaxed);
        let outcome = prepare
            .with_write_packed_refs_only(true)
            .receive(gix::progress::Discard, interrupt)
            .map_err(|e| classify(url, false, &e))?;
        let received = match &outcome.status {
            gix::remote::fetch::Status::Change {
                write_pack_bundle, ..
            } => {
                explode_small_pack(&repo, write_pack_bundle);
                true
            }
            _ => false,
        };
        tracing::info!(url = %url, received_pack = received, "fetched");
        Ok(Plan::Received(target))
    })?;

    let (target, received_pack) = match plan {
        Plan::Done(resolved) => {
            return Ok(SyncOutcome {
                resolved,
                refs: Some(refs),
                received_pack: false,
            })
        }
        Plan::Received(t) => (t, true),
        Plan::Shallow(t) => {
            let depth = shallow.unwrap_or(NonZeroU32::MIN);
            // Fetch just what is needed, `depth` commits deep.
            let spec = match (&t, want) {
                (Target::Commit(_, RevisionKind::Branch(b)), _) => {
                    format!("+refs/heads/{b}:refs/heads/{b}")
                }
                (Target::Commit(_, RevisionKind::Tag(tag)), _) => {
                    format!("+refs/tags/{tag}:refs/tags/{tag}")
                }
                (Target::Commit(_, RevisionKind::Semver { tag, .. }), _) => {
                    format!("+refs/tags/{tag}:refs/tags/{tag}")
                }
                (Target::Commit(_, RevisionKind::Ref(r)), _) => format!("+{r}:{r}"),
                (Target::Commit(_, RevisionKind::Head { branch: Some(b) }), _) => {
                    format!("+refs/heads/{b}:refs/heads/{b}")
                }
                (Target::Commit(id, _), _) => id.to_hex(),
                _ => String::new(),
            };
            let specs = if spec.is_empty() {
                specs.clone()
            } else {
                vec![spec]
            };
            let (_, ()) = connect_and_list(inner, &repo, url, creds, &specs, |prepare, _| {
                inner.counters.fetches.fetch_add(1, Ordering::Relaxed);
                let outcome = prepare
                    .with_write_packed_refs_only(true)
                    .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth))
                    .receive(gix::progress::Discard, interrupt)
                    .map_err(|e| classify(url, false, &e))?;
                if let gix::remote::fetch::Status::Change {
                    write_pack_bundle, ..
                } = &outcome.status
                {
                    explode_small_pack(&repo, write_pack_bundle);
                }
                Ok(())
            })?;
            (t, true)
        }
    };

    update_local_refs(&repo, &refs);
    write_multi_pack_index(&slot.dir, repo.object_hash(), interrupt);
    let marker = slot.dir.join(MARKER);
    if !marker.exists() {
        std::fs::write(&marker, b"").map_err(|e| GitError::io("writing", &marker, e))?;
    }
    if let Ok(mut g) = slot.repo.lock() {
        if g.is_none() {
            *g = Some(base.clone().into_sync());
        }
    }

    let resolved = match target {
        Target::Commit(id, kind) => match commit_state(&repo, id.0) {
            CommitState::Present => Some(Resolved { commit: id, kind }),
            CommitState::Broken(why) => return Err(corrupt(why)),
            CommitState::Missing => {
                // Not reachable from any branch or tag: ask for the commit itself.
                let spec = vec![id.to_hex()];
                let fetched = connect_and_list(inner, &repo, url, creds, &spec, |prepare, _| {
                    inner.counters.fetches.fetch_add(1, Ordering::Relaxed);
                    let mut p = prepare.with_write_packed_refs_only(true);
                    if let Some(depth) = shallow {
                        p = p.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth));
                    }
                    Ok(p.receive(gix::progress::Discard, interrupt).is_ok())
                });
                match (fetched, commit_state(&repo, id.0)) {
                    (_, CommitState::Present) => Some(Resolved { commit: id, kind }),
                    (Err(e), _) if e.is_remote_failure() => return Err(e),
                    _ => {
                        return Err(GitError::CommitNotFound {
                            url: url.to_string(),
                            commit: id.to_hex(),
                        })
                    }
                }
            }
        },
        Target::Short(prefix) => match lookup_short(&repo, &url.to_string(), &prefix)? {
            Some(c) => Some(Resolved {
                commit: c,
                kind: RevisionKind::ShortCommit,
            }),
            None => {
                return Err(GitError::RevisionNotFound {
                    url: url.to_string(),
                    revision: prefix.clone(),
                    detail: "no branch or tag of that name and no commit starting with it".into(),
                })
            }
        },
        Target::NotFound(_) => None,
    };
    Ok(SyncOutcome {
        resolved,
        refs: Some(refs),
        received_pack,
    })
}

/// Resolve `revision` in a local repository with the same rules as
/// [`GitCache::resolve`], from its refs and objects.
pub(crate) fn resolve_local(
    repo: &gix::Repository,
    url: &str,
    revision: &str,
) -> Result<Resolved, GitError> {
    let rev = revision.trim();
    let rev = if rev.is_empty() { "HEAD" } else { rev };
    let not_found = |detail: String| GitError::RevisionNotFound {
        url: url.to_string(),
        revision: revision.to_string(),
        detail,
    };
    let peel = |name: &str| -> Option<(CommitId, bool)> {
        let mut r = repo.try_find_reference(name).ok().flatten()?;
        let direct = r.target().try_id().map(|id| id.to_owned());
        let id = r.peel_to_id().ok()?.detach();
        Some((CommitId(id), direct.is_some_and(|d| d != id)))
    };
    if is_full_sha(rev) {
        let id: CommitId = rev
            .parse()
            .map_err(|e: crate::revision::ParseCommitIdError| not_found(e.to_string()))?;
        return match commit_state(repo, id.0) {
            CommitState::Present => Ok(Resolved {
                commit: id,
                kind: RevisionKind::Commit,
            }),
            _ => Err(GitError::CommitNotFound {
                url: url.to_string(),
                commit: id.to_hex(),
            }),
        };
    }
    if let Some(constraint) = Constraint::parse(rev) {
        let mut best: Option<(semver::Version, String, CommitId)> = None;
        if let Ok(platform) = repo.references() {
            if let Ok(iter) = platform.prefixed("refs/tags/") {
                for mut r in iter.flatten() {
                    let name = r.name().as_bstr().to_string();
                    let tag = name.trim_start_matches("refs/tags/").to_string();
                    let Some(v) = parse_tag_version(&tag) else {
                        continue;
                    };
                    if !constraint.matches(&v)
                        || best
                            .as_ref()
                            .is_some_and(|(b, _, _)| v.cmp_precedence(b).is_le())
                    {
                        continue;
                    }
                    if let Ok(id) = r.peel_to_id() {
                        best = Some((v, tag, CommitId(id.detach())));
                    }
                }
            }
        }
        if let Some((v, tag, commit)) = best {
            return Ok(Resolved {
                commit,
                kind: RevisionKind::Semver {
                    tag,
                    version: v.to_string(),
                },
            });
        }
    }
    if rev == "HEAD" {
        if let Ok(id) = repo.head_id() {
            let branch = repo.head_name().ok().flatten().map(|n| {
                n.as_bstr()
                    .to_string()
                    .trim_start_matches("refs/heads/")
                    .to_string()
            });
            return Ok(Resolved {
                commit: CommitId(id.detach()),
                kind: RevisionKind::Head { branch },
            });
        }
    } else {
        if rev.starts_with("refs/") {
            if let Some((id, _)) = peel(rev) {
                let kind = if let Some(b) = rev.strip_prefix("refs/heads/") {
                    RevisionKind::Branch(b.to_string())
                } else if let Some(t) = rev.strip_prefix("refs/tags/") {
                    RevisionKind::Tag(t.to_string())
                } else {
                    RevisionKind::Ref(rev.to_string())
                };
                return Ok(Resolved { commit: id, kind });
            }
        }
        if let Some((id, _)) = peel(&format!("refs/heads/{rev}")) {
            return Ok(Resolved {
                commit: id,
                kind: RevisionKind::Branch(rev.to_string()),
            });
        }
        if let Some((id, _)) = peel(&format!("refs/tags/{rev}")) {
            return Ok(Resolved {
                commit: id,
                kind: RevisionKind::Tag(rev.to_string()),
            });
        }
    }
    if is_short_sha(rev) {
        if let Some(c) = lookup_short(repo, url, &rev.to_ascii_lowercase())? {
            return Ok(Resolved {
                commit: c,
                kind: RevisionKind::ShortCommit,
            });
        }
    }
    Err(not_found(deleted_branch(repo, rev).unwrap_or_else(|| {
        "no branch, tag, ref or commit of that name in the cache".to_string()
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refspec_sets() {
        assert_eq!(refspecs(None).len(), 2);
        assert_eq!(
            refspecs(Some("refs/pull/1/head"))[2],
            "+refs/pull/1/head:refs/pull/1/head"
        );
        assert_eq!(custom_ref("refs/pull/1/head"), Some("refs/pull/1/head"));
        assert_eq!(custom_ref("refs/heads/main"), None);
        assert_eq!(custom_ref("main"), None);
    }

    #[test]
    fn pack_verification_detects_truncation() {
        let dir = std::env::temp_dir().join(format!("flotilla-verify-{}", std::process::id()));
        let pack_dir = dir.join("objects/pack");
        std::fs::create_dir_all(&pack_dir).unwrap();
        let checksum = [7u8; 20];
        let mut pack = b"PACK\0\0\0\x02\0\0\0\0".to_vec();
        pack.extend_from_slice(&[0u8; 20]);
        pack.extend_from_slice(&checksum);
        let mut idx = vec![0u8; 64];
        idx.extend_from_slice(&checksum);
        idx.extend_from_slice(&[1u8; 20]);
        std::fs::write(pack_dir.join("pack-a.pack"), &pack).unwrap();
        std::fs::write(pack_dir.join("pack-a.idx"), &idx).unwrap();
        assert_eq!(verify_packs(&dir), Ok(()));
        std::fs::write(pack_dir.join("pack-a.pack"), &pack[..pack.len() - 5]).unwrap();
        assert!(verify_packs(&dir).is_err());
        std::fs::remove_file(pack_dir.join("pack-a.pack")).unwrap();
        assert!(verify_packs(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
