//! The chart fetcher: the I/O half of the Helm crate.
//!
//! [`ChartFetcher`] resolves a chart name and a version (an exact version
//! or a semver range, as Argo CD resolves `targetRevision` for a Helm
//! source) against
//!
//! - an HTTP(S) chart repository (`index.yaml`, relative or absolute
//!   `urls`, `digest` verified, basic auth, TLS options, Helm's
//!   `passCredentials` rule for archives on another host),
//! - an OCI registry (`oci://host/path`: tags listed and picked, the Helm
//!   chart layer pulled through the distribution API, anonymous or basic
//!   credentials through the registry's token service),
//! - a local directory holding `index.yaml` and archives (through
//!   [`ChartFetcher::substitute`], Flotilla's `--repo URL=LOCAL`),
//!
//! and keeps what it downloads in a content-addressed cache on disk
//! (archives by sha256; index files with a time to live). A warm fetch of
//! a pinned version costs no request; [`ChartFetcher::loaded`] keeps loaded
//! charts in memory by digest, so a warm render decompresses nothing.
//! Dependencies of a chart (umbrella charts in Git) are fetched straight
//! from the URLs in `Chart.yaml` or `Chart.lock`
//! ([`ChartFetcher::fetch_dependencies`]), never into the user's checkout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), flotilla_helm::fetch::FetchError> {
//! use flotilla_helm::fetch::{ChartFetcher, FetchOptions, RepoAuth};
//!
//! let fetcher = ChartFetcher::new("/var/lib/flotilla/charts", FetchOptions::default())?;
//! // Air-gapped: answer for the public repository from a local directory.
//! fetcher.substitute("https://helm.releases.hashicorp.com", "/srv/charts")?;
//! let vault = fetcher
//!     .fetch("https://helm.releases.hashicorp.com", "vault", "0.28.*", &RepoAuth::none())
//!     .await?;
//! println!("{} {} sha256:{} at {}", vault.name, vault.version, vault.digest, vault.path.display());
//! let bytes = vault.read().await?; // the .tgz, for the loader
//! # let _ = bytes; Ok(()) }
//! ```

mod deps;
mod error;
mod http;
mod index;
mod location;
mod oci;
mod store;
mod version;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use flotilla_git::Secret;
use reqwest::Url;

use crate::chart::Chart;

pub use deps::{CredentialLookup, DependencySource, ResolvedDependency};
pub use error::FetchError;
pub use http::TlsOptions;
pub use index::{IndexEntry, RepoIndex};

use error::shorten;
use location::{redact_url, resolve_reference, Location};
use store::{sha256_hex, CachedRef, Store};
use version::{is_pinned, listing, select, Selection};

/// How `oci://` registries are spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainHttp {
    /// Plain HTTP for loopback hosts (`127.0.0.1`, `::1`, `localhost`),
    /// HTTPS otherwise.
    #[default]
    Loopback,
    /// Always plain HTTP (Helm's `--plain-http`).
    Always,
    /// Always HTTPS.
    Never,
}

/// Settings of a [`ChartFetcher`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// How long a downloaded `index.yaml` (or OCI tag list) is used before
    /// it is fetched again. A pinned version already cached never needs it.
    pub index_ttl: Duration,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries of a request after a transport error or 429/502/503/504
    /// (with exponential backoff, capped at 2 s).
    pub retries: u32,
    /// Largest `index.yaml` accepted.
    pub max_index_bytes: u64,
    /// Largest chart archive accepted.
    pub max_archive_bytes: u64,
    /// Plain HTTP for OCI registries.
    pub plain_http: PlainHttp,
    /// How many loaded charts [`ChartFetcher::loaded`] keeps in memory.
    pub loaded_capacity: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            index_ttl: Duration::from_secs(180),
            timeout: Duration::from_secs(120),
            retries: 2,
            max_index_bytes: 256 << 20,
            max_archive_bytes: 256 << 20,
            plain_http: PlainHttp::Loopback,
            loaded_capacity: 512,
        }
    }
}

/// Credentials and TLS settings for one repository.
#[derive(Debug, Clone, Default)]
pub struct RepoAuth {
    /// Basic-auth user name.
    pub username: Option<String>,
    /// Basic-auth password (or token).
    pub password: Option<Secret>,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Send the credentials with archive downloads on another scheme, host
    /// or port than the repository's (Argo CD's and Helm's
    /// `passCredentials`). Off by default, as in Helm.
    pub pass_credentials: bool,
}

impl RepoAuth {
    /// No credentials, default TLS.
    pub fn none() -> Self {
        RepoAuth::default()
    }

    /// Basic authentication.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        RepoAuth {
            username: Some(username.into()),
            password: Some(password.into()),
            ..RepoAuth::default()
        }
    }

    /// With these TLS settings.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// With `passCredentials` set.
    pub fn with_pass_credentials(mut self, pass: bool) -> Self {
        self.pass_credentials = pass;
        self
    }

    fn has_credentials(&self) -> bool {
        self.username.as_deref().is_some_and(|u| !u.is_empty())
            || self
                .password
                .as_ref()
                .is_some_and(|p| !p.expose().is_empty())
    }
}

/// A chart archive in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedChart {
    /// The chart's name.
    pub name: String,
    /// The version resolved (as the repository spells it).
    pub version: String,
    /// sha256 of the archive, lowercase hex (no `sha256:` prefix).
    pub digest: String,
    /// The archive in the cache (read-only; shared by every caller).
    pub path: PathBuf,
    /// Where the archive was (or would be) downloaded from, redacted.
    pub url: String,
    /// True when no download was needed.
    pub cached: bool,
}

impl FetchedChart {
    /// The archive's bytes.
    pub async fn read(&self) -> Result<Vec<u8>, FetchError> {
        tokio::fs::read(&self.path)
            .await
            .map_err(|e| FetchError::io("reading cached chart", &self.path, e))
    }
}

/// Counters since the fetcher was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetcherStats {
    /// `index.yaml` files (and OCI tag lists) downloaded.
    pub index_downloads: u64,
    /// Chart archives downloaded (or read from a local repository).
    pub archive_downloads: u64,
    /// Fetches answered from the cache without downloading an archive.
    pub cache_hits: u64,
    /// Charts loaded by [`ChartFetcher::loaded`] (misses of the memory cache).
    pub charts_loaded: u64,
}

#[derive(Default)]
struct Counters {
    index_downloads: AtomicU64,
    archive_downloads: AtomicU64,
    cache_hits: AtomicU64,
    charts_loaded: AtomicU64,
}

#[derive(Default)]
struct Loaded {
    tick: u64,
    charts: HashMap<String, (u64, Arc<Chart>)>,
}

struct CachedIndex {
    at: Instant,
    /// For local directories: the file's modification time when read.
    mtime: Option<SystemTime>,
    index: Arc<RepoIndex>,
}

struct Inner {
    store: Store,
    http: http::Http,
    options: FetchOptions,
    substitutions: RwLock<Vec<(String, String)>>,
    indexes: Mutex<HashMap<String, CachedIndex>>,
    /// Repository key -> when [`ChartFetcher::refresh_index`] last asked
    /// for fresh data: cached indexes and tag lists older than that are stale.
    refreshed: Mutex<HashMap<String, SystemTime>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    loaded: Mutex<Loaded>,
    counters: Counters,
}

/// Fetches charts into a content-addressed cache. Cheap to clone; share
/// one per process.
#[derive(Clone)]
pub struct ChartFetcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ChartFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChartFetcher")
            .field("cache", &self.inner.store.root())
            .finish_non_exhaustive()
    }
}

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ChartFetcher {
    /// A fetcher caching under `cache_dir` (created if missing).
    pub fn new(cache_dir: impl AsRef<Path>, options: FetchOptions) -> Result<Self, FetchError> {
        let store = Store::open(cache_dir.as_ref())?;
        let http = http::Http::new(options.timeout, options.retries);
        Ok(ChartFetcher {
            inner: Arc::new(Inner {
                store,
                http,
                options,
                substitutions: RwLock::new(Vec::new()),
                indexes: Mutex::new(HashMap::new()),
                refreshed: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
                loaded: Mutex::new(Loaded::default()),
                counters: Counters::default(),
            }),
        })
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        self.inner.store.root()
    }

    /// Answer for repository `url` from `local`: a directory (or `file://`
    /// URL) holding `index.yaml` and the archives, another `http(s)://`
    /// repository, or an `oci://` registry path. URLs are compared after
    /// normalisation (scheme and host case, default port, user
    /// information, trailing slash). Credentials given for `url` are sent
    /// to a substitute HTTP repository.
    pub fn substitute(&self, url: &str, local: &str) -> Result<(), FetchError> {
        let key = Location::parse(url)?.key();
        Location::parse(local)?;
        let mut subs = match self.inner.substitutions.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        subs.retain(|(k, _)| k != &key);
        subs.push((key, local.to_string()));
        Ok(())
    }

    fn effective(&self, url: &str) -> Result<Location, FetchError> {
        let loc = Location::parse(url)?;
        let key = loc.key();
        let subs = match self.inner.substitutions.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match subs.iter().find(|(k, _)| *k == key) {
            Some((_, local)) => Location::parse(local),
            None => Ok(loc),
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> FetcherStats {
        let c = &self.inner.counters;
        FetcherStats {
            index_downloads: c.index_downloads.load(Ordering::Relaxed),
            archive_downloads: c.archive_downloads.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            charts_loaded: c.charts_loaded.load(Ordering::Relaxed),
        }
    }

    async fn key_lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut locks = lock_ignoring_poison(&self.inner.locks);
            locks.entry(key).or_default().clone()
        };
        m.lock_owned().await
    }

    fn refreshed_at(&self, repo_key: &str) -> Option<SystemTime> {
        lock_ignoring_poison(&self.inner.refreshed)
            .iter()
            .filter(|(k, _)| repo_key == k.as_str() || repo_key.starts_with(&format!("{k}/")))
            .map(|(_, t)| *t)
            .max()
    }

    /// Fetch `chart` at `version` (an exact version, a semver range, or
    /// empty for the highest stable version) from the repository at
    /// `repo_url` (`https://...`, `oci://...`, or a substituted URL).
    pub async fn fetch(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        auth: &RepoAuth,
    ) -> Result<FetchedChart, FetchError> {
        if chart.is_empty() && !repo_url.trim().to_ascii_lowercase().starts_with("oci://") {
            return Err(FetchError::InvalidUrl {
                url: location::redact(repo_url),
                reason: "no chart name given".to_string(),
            });
        }
        if chart.contains("..") || chart.starts_with('/') || chart.contains(['\\', '\0']) {
            return Err(FetchError::InvalidUrl {
                url: location::redact(repo_url),
                reason: format!("invalid chart name {chart:?}"),
            });
        }
        let loc = self.effective(repo_url)?;
        match &loc {
            Location::Oci { host, path } => {
                self.fetch_oci(host, path, chart, version.trim(), auth)
                    .await
            }
            _ => {
                self.fetch_from_index(&loc, chart, version.trim(), auth)
                    .await
            }
        }
    }

    /// The versions of `chart` the repository offers, highest first.
    pub async fn versions(
        &self,
        repo_url: &str,
        chart: &str,
        auth: &RepoAuth,
    ) -> Result<Vec<String>, FetchError> {
        let loc = self.effective(repo_url)?;
        match &loc {
            Location::Oci { host, path } => {
                let repo = oci::repository(path, chart);
                let tags = self.oci_tags(host, &repo, auth).await?;
                Ok(listing(&oci::tag_candidates(&tags)))
            }
            _ => {
                let index = self.index(&loc, auth).await?;
                let entries =
                    index
                        .entries
                        .get(chart)
                        .ok_or_else(|| FetchError::ChartNotFound {
                            chart: chart.to_string(),
                            repo: loc.display(),
                            available: shorten(index.entries.keys().cloned().collect(), 30),
                        })?;
                Ok(listing(&candidates(entries)))
            }
        }
    }

    /// Fetch the repository's index again now (HTTP repositories), and
    /// treat cached OCI tag lists under it as stale, so the next range
    /// resolution sees new versions.
    pub async fn refresh_index(&self, repo_url: &str, auth: &RepoAuth) -> Result<(), FetchError> {
        let loc = self.effective(repo_url)?;
        lock_ignoring_poison(&self.inner.refreshed).insert(loc.key(), SystemTime::now());
        lock_ignoring_poison(&self.inner.indexes).retain(|k, _| {
            let key = loc.key();
            k != &key && !k.starts_with(&format!("{key}/"))
        });
        if let Location::Http(_) = loc {
            self.index(&loc, auth).await?;
        }
        Ok(())
    }

    /// The chart loaded from the archive with `digest`, from memory when
    /// it was loaded before; otherwise `load` runs (decompression and
    /// parsing: the caller's loader) and its result is kept.
    pub fn loaded<E>(
        &self,
        digest: &str,
        load: impl FnOnce() -> Result<Chart, E>,
    ) -> Result<Arc<Chart>, E> {
        {
            let mut l = lock_ignoring_poison(&self.inner.loaded);
            l.tick += 1;
            let tick = l.tick;
            if let Some((t, c)) = l.charts.get_mut(digest) {
                *t = tick;
                return Ok(c.clone());
            }
        }
        let chart = Arc::new(load()?);
        self.inner
            .counters
            .charts_loaded
            .fetch_add(1, Ordering::Relaxed);
        let mut l = lock_ignoring_poison(&self.inner.loaded);
        l.tick += 1;
        let tick = l.tick;
        let cap = self.inner.options.loaded_capacity.max(1);
        while l.charts.len() >= cap {
            let Some(oldest) = l
                .charts
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            l.charts.remove(&oldest);
        }
        l.charts.insert(digest.to_string(), (tick, chart.clone()));
        Ok(chart)
    }

    fn hit(&self, r: CachedRef, path: PathBuf) -> FetchedChart {
        self.inner
            .counters
            .cache_hits
            .fetch_add(1, Ordering::Relaxed);
        FetchedChart {
            name: r.name,
            version: r.version,
            digest: r.digest,
            path,
            url: r.url,
            cached: true,
        }
    }

    async fn fetch_from_index(
        &self,
        loc: &Location,
        chart: &str,
        request: &str,
        auth: &RepoAuth,
    ) -> Result<FetchedChart, FetchError> {
        let key = loc.key();
        let store = &self.inner.store;
        let _guard = self
            .key_lock(format!("chart\0{key}\0{chart}\0{request}"))
            .await;
        // A pinned version resolved before: its archive is known by digest.
        // (Local directories are always re-read: they change under us.)
        if matches!(loc, Location::Http(_)) && is_pinned(request) {
            if let Some(r) = store.get_ref(&key, chart, request).await {
                if let Some(p) = store.blob(&r.digest).await {
                    return Ok(self.hit(r, p));
                }
            }
        }
        let index = self.index(loc, auth).await?;
        let entries = index
            .entries
            .get(chart)
            .ok_or_else(|| FetchError::ChartNotFound {
                chart: chart.to_string(),
                repo: loc.display(),
                available: shorten(index.entries.keys().cloned().collect(), 30),
            })?;
        let cands = candidates(entries);
        let entry = match select(&cands, request) {
            Selection::Found(i) => &entries[i],
            Selection::NoMatch => {
                return Err(FetchError::VersionNotFound {
                    chart: chart.to_string(),
                    constraint: if request.is_empty() { "*" } else { request }.to_string(),
                    repo: loc.display(),
                    available: shorten(listing(&cands), 20),
                })
            }
            Selection::Invalid => {
                return Err(FetchError::InvalidConstraint {
                    chart: chart.to_string(),
                    constraint: request.to_string(),
                    repo: loc.display(),
                })
            }
        };
        let first = entry.urls.first().ok_or_else(|| FetchError::NoUrls {
            chart: chart.to_string(),
            version: entry.version.clone(),
            repo: loc.display(),
        })?;
        if let Some(d) = &entry.digest {
            if let Some(p) = store.blob(d).await {
                let r = CachedRef {
                    name: chart.to_string(),
                    version: entry.version.clone(),
                    digest: d.clone(),
                    url: self.display_chart_url(loc, first),
                };
                self.remember(&key, chart, request, &r).await;
                return Ok(self.hit(r, p));
            }
        }
        let (data, url) = self.download_archive(loc, first, auth).await?;
        let actual = sha256_hex(&data);
        if let Some(expected) = &entry.digest {
            if *expected != actual {
                return Err(FetchError::DigestMismatch {
                    chart: chart.to_string(),
                    version: entry.version.clone(),
                    url,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let path = store.put_blob(&actual, &data).await?;
        let r = CachedRef {
            name: chart.to_string(),
            version: entry.version.clone(),
            digest: actual.clone(),
            url: url.clone(),
        };
        self.remember(&key, chart, request, &r).await;
        Ok(FetchedChart {
            name: chart.to_string(),
            version: entry.version.clone(),
            digest: actual,
            path,
            url,
            cached: false,
        })
    }

    async fn remember(&self, key: &str, chart: &str, request: &str, r: &CachedRef) {
        let store = &self.inner.store;
        let mut names = vec![r.version.as_str()];
        if is_pinned(request) && request != r.version {
            names.push(request);
        }
        for v in names {
            if let Err(e) = store.put_ref(key, chart, v, r).await {
                tracing::warn!(error = %e, "cannot record chart resolution in the cache");
            }
        }
    }

    fn display_chart_url(&self, loc: &Location, reference: &str) -> String {
        match loc {
            Location::Http(base) => resolve_reference(base, reference)
                .map(|u| redact_url(&u))
                .unwrap_or_else(|_| reference.to_string()),
            Location::Dir(dir) => dir.join(reference).display().to_string(),
            Location::Oci { .. } => reference.to_string(),
        }
    }

    /// Download (or read) the archive an index entry names.
    async fn download_archive(
        &self,
        loc: &Location,
        reference: &str,
        auth: &RepoAuth,
    ) -> Result<(Vec<u8>, String), FetchError> {
        let limit = self.inner.options.max_archive_bytes;
        match loc {
            Location::Http(base) => {
                let url = resolve_reference(base, reference).map_err(|reason| {
                    FetchError::InvalidUrl {
                        url: location::redact(reference),
                        reason,
                    }
                })?;
                let data = self.get_archive_url(base, &url, auth, limit).await?;
                Ok((data, redact_url(&url)))
            }
            Location::Dir(dir) => {
                let found =
                    local_archive(dir, reference).map_err(|reason| FetchError::InvalidIndex {
                        url: dir.join("index.yaml").display().to_string(),
                        reason,
                    })?;
                let path = match found {
                    Some(p) => p,
                    None => {
                        // An absolute URL in a local index whose file is not
                        // in the directory: download it.
                        let url = Url::parse(reference).map_err(|e| FetchError::InvalidUrl {
                            url: location::redact(reference),
                            reason: e.to_string(),
                        })?;
                        let base = url.clone();
                        let data = self.get_archive_url(&base, &url, auth, limit).await?;
                        return Ok((data, redact_url(&url)));
                    }
                };
                let meta = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| FetchError::io("reading chart archive", &path, e))?;
                if meta.len() > limit {
                    return Err(FetchError::TooLarge {
                        url: path.display().to_string(),
                        limit,
                    });
                }
                let data = tokio::fs::read(&path)
                    .await
                    .map_err(|e| FetchError::io("reading chart archive", &path, e))?;
                self.inner
                    .counters
                    .archive_downloads
                    .fetch_add(1, Ordering::Relaxed);
                Ok((data, path.display().to_string()))
            }
            Location::Oci { .. } => Err(FetchError::InvalidUrl {
                url: reference.to_string(),
                reason: "not a chart repository".to_string(),
            }),
        }
    }

    async fn get_archive_url(
        &self,
        repo: &Url,
        url: &Url,
        auth: &RepoAuth,
        limit: u64,
    ) -> Result<Vec<u8>, FetchError> {
        // Helm's rule: credentials go to the repository's own scheme, host
        // and port, elsewhere only with passCredentials.
        let same_origin = repo.scheme() == url.scheme()
            && repo.host_str() == url.host_str()
            && repo.port_or_known_default() == url.port_or_known_default();
        let basic = basic_of(auth, same_origin || auth.pass_credentials);
        let empty = Secret::new("");
        let data = self
            .inner
            .http
            .get(
                url,
                &auth.tls,
                basic.map(|(u, p)| (u, p.unwrap_or(&empty))),
                limit,
            )
            .await?;
        self.inner
            .counters
            .archive_downloads
            .fetch_add(1, Ordering::Relaxed);
        Ok(data)
    }

    /// The parsed index of an HTTP repository or local directory.
    async fn index(&self, loc: &Location, auth: &RepoAuth) -> Result<Arc<RepoIndex>, FetchError> {
        match loc {
            Location::Dir(dir) => self.local_index(dir).await,
            Location::Http(base) => self.remote_index(loc, base, auth).await,
            Location::Oci { .. } => Err(FetchError::InvalidUrl {
                url: loc.display(),
                reason: "an OCI registry has no index.yaml".to_string(),
            }),
        }
    }

    async fn local_index(&self, dir: &Path) -> Result<Arc<RepoIndex>, FetchError> {
        let path = dir.join("index.yaml");
        let key = format!("file://{}", path.display());
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| FetchError::io("reading chart repository index", &path, e))?;
        let mtime = meta.modified().ok();
        if let Some(c) = lock_ignoring_poison(&self.inner.indexes).get(&key) {
            if c.mtime.is_some() && c.mtime == mtime {
                return Ok(c.index.clone());
            }
        }
        if meta.len() > self.inner.options.max_index_bytes {
            return Err(FetchError::TooLarge {
                url: path.display().to_string(),
                limit: self.inner.options.max_index_bytes,
            });
        }
        let data = tokio::fs::read(&path)
            .await
            .map_err(|e| FetchError::io("reading chart repository index", &path, e))?;
        let index =
            Arc::new(
                RepoIndex::parse(&data).map_err(|reason| FetchError::InvalidIndex {
                    url: path.display().to_string(),
                    reason,
                })?,
            );
        lock_ignoring_poison(&self.inner.indexes).insert(
            key,
            CachedIndex {
                at: Instant::now(),
                mtime,
                index: index.clone(),
            },
        );
        Ok(index)
    }

    fn fresh_in_memory(&self, key: &str) -> Option<Arc<RepoIndex>> {
        let ttl = self.inner.options.index_ttl;
        let indexes = lock_ignoring_poison(&self.inner.indexes);
        let c = indexes.get(key)?;
        (c.at.elapsed() < ttl).then(|| c.index.clone())
    }

    async fn remote_index(
        &self,
        loc: &Location,
        base: &Url,
        auth: &RepoAuth,
    ) -> Result<Arc<RepoIndex>, FetchError> {
        let key = loc.key();
        if let Some(i) = self.fresh_in_memory(&key) {
            return Ok(i);
        }
        let _guard = self.key_lock(format!("index\0{key}")).await;
        if let Some(i) = self.fresh_in_memory(&key) {
            return Ok(i);
        }
        let ttl = self.inner.options.index_ttl;
        let refreshed = self.refreshed_at(&key);
        let cached = self.inner.store.get_index(&key).await;
        if let Some((when, data)) = &cached {
            let age = SystemTime::now()
                .duration_since(*when)
                .unwrap_or(Duration::MAX);
            if age < ttl && refreshed.is_none_or(|r| *when > r) {
                if let Ok(index) = RepoIndex::parse(data) {
                    return Ok(self.keep_index(key, index, age));
                }
            }
        }
        let mut url = base.clone();
        let path = format!("{}/index.yaml", base.path().trim_end_matches('/'));
        url.set_path(&path);
        let empty = Secret::new("");
        let basic = basic_of(auth, true);
        let fetched = self
            .inner
            .http
            .get(
                &url,
                &auth.tls,
                basic.map(|(u, p)| (u, p.unwrap_or(&empty))),
                self.inner.options.max_index_bytes,
            )
            .await;
        let data = match fetched {
            Ok(d) => d,
            Err(e) => {
                // A repository outage: keep rendering from the last index
                // we had (its pinned archives are cached anyway).
                if let Some((when, data)) = cached {
                    if let Ok(index) = RepoIndex::parse(&data) {
                        tracing::warn!(repo = %loc.display(), error = %e,
                            "cannot refresh the chart repository index; using the cached one");
                        let age = SystemTime::now()
                            .duration_since(when)
                            .unwrap_or(Duration::MAX);
                        return Ok(self.keep_index(key, index, age.min(ttl)));
                    }
                }
                return Err(e);
            }
        };
        self.inner
            .counters
            .index_downloads
            .fetch_add(1, Ordering::Relaxed);
        let index = RepoIndex::parse(&data).map_err(|reason| FetchError::InvalidIndex {
            url: redact_url(&url),
            reason,
        })?;
        if let Err(e) = self.inner.store.put_index(&key, &data).await {
            tracing::warn!(error = %e, "cannot cache the chart repository index");
        }
        Ok(self.keep_index(key, index, Duration::ZERO))
    }

    fn keep_index(&self, key: String, index: RepoIndex, age: Duration) -> Arc<RepoIndex> {
        let index = Arc::new(index);
        let at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        lock_ignoring_poison(&self.inner.indexes).insert(
            key,
            CachedIndex {
                at,
                mtime: None,
                index: index.clone(),
            },
        );
        index
    }
}

fn candidates(entries: &[IndexEntry]) -> Vec<(String, Option<semver::Version>)> {
    entries
        .iter()
        .map(|e| (e.version.clone(), e.parsed.clone()))
        .collect()
}

/// The basic credentials to send, if any and if `allowed`.
fn basic_of(auth: &RepoAuth, allowed: bool) -> Option<(&str, Option<&Secret>)> {
    if !allowed || !auth.has_credentials() {
        return None;
    }
    Some((
        auth.username.as_deref().unwrap_or(""),
        auth.password.as_ref(),
    ))
}

/// The file a local index entry names: a relative path inside `dir`, a
/// `file://` URL, or (for an absolute URL) its file name when the directory
/// holds it. `Ok(None)` when the entry must be downloaded.
fn local_archive(dir: &Path, reference: &str) -> Result<Option<PathBuf>, String> {
    if let Ok(url) = Url::parse(reference) {
        if url.scheme() == "file" {
            return url
                .to_file_path()
                .map(Some)
                .map_err(|()| format!("invalid file URL {reference:?}"));
        }
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("")
            .to_string();
        let candidate = dir.join(&name);
        return Ok((!name.is_empty() && candidate.is_file()).then_some(candidate));
    }
    let rel = reference.split(['?', '#']).next().unwrap_or(reference);
    if rel.starts_with('/') {
        return Err(format!("chart URL {reference:?} is an absolute path"));
    }
    let mut out = dir.to_path_buf();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "chart URL {reference:?} leaves the repository directory"
                ))
            }
            s => out.push(s),
        }
    }
    Ok(Some(out))
}
