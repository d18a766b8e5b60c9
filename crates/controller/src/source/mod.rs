//! From an Application's sources to its desired manifests: each source's
//! repository is opened at its revision through the Git cache (with `--repo
//! URL=LOCAL` substitutions), its path rendered (a kustomization, or a plain
//! directory with Argo CD's `directory` options), and Vault placeholders
//! (`<path:secret/data/api/env#DB_URL>`) resolved, one read per path.
//!
//! ```no_run
//! # async fn f(app: &flotilla_core::Application) -> Result<(), Box<dyn std::error::Error>> {
//! use flotilla_controller::source::SourceResolver;
//! let cache = flotilla_git::GitCache::new("/tmp/flotilla-git-cache")?;
//! cache.substitute("https://github.com/acme/deploy.git", "/src/deploy")?;
//! let manifests = SourceResolver::new(cache).desired(app).await?;
//! # Ok(()) }
//! ```

mod helm;

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_core::{Application, ApplicationSource, Manifest};
use flotilla_git::{CommitId, GitCache, GitError, Tree};
use flotilla_helm::fetch::{ChartFetcher, DependencySource, FetchOptions, FetchedChart, RepoAuth};
use flotilla_render::{DirectoryOptions, RenderError, RenderOptions};
use flotilla_sync::ClusterRegistry;
use flotilla_vault::{resolve_manifests, ResolveError, ResolveOptions, VaultClient};

use helm::{ChartFiles, ClusterCapabilities, HelmInput};

/// Why an Application's desired manifests could not be produced. The sync
/// engine is handed this instead of manifests, and then deletes nothing.
#[derive(Debug, thiserror::Error)]
pub enum SourceFailure {
    /// The repository could not be fetched or read.
    #[error("application {app}: repository {repo} at {revision}: {source}")]
    Git {
        /// Application name.
        app: String,
        /// Repository URL as written.
        repo: String,
        /// Revision as written.
        revision: String,
        /// The Git error.
        #[source]
        source: GitError,
    },
    /// Rendering failed (file and line in the message).
    #[error("application {app}: rendering {repo} path {path}: {source}")]
    Render {
        /// Application name.
        app: String,
        /// Repository URL.
        repo: String,
        /// Path inside it.
        path: String,
        /// The render error.
        #[source]
        source: RenderError,
    },
    /// A Vault placeholder could not be resolved (path and key named, never
    /// a value), or placeholders were found with no Vault configured.
    #[error("application {app}: {message}")]
    Secrets {
        /// Application name.
        app: String,
        /// What failed.
        message: String,
    },
    /// A Helm chart could not be fetched, loaded or rendered (chart, file
    /// and line, or repository URL and version, in the message).
    #[error("application {app}: chart {chart}: {message}")]
    Helm {
        /// Application name.
        app: String,
        /// `repoURL chart@version`, or `repoURL path` for a chart in Git.
        chart: String,
        /// What failed.
        message: String,
    },
    /// The source is of a kind not supported yet, or incomplete.
    #[error("application {app}: {message}")]
    Unsupported {
        /// Application name.
        app: String,
        /// What is not supported.
        message: String,
    },
}

/// Where one source of an Application stands: the commit its
/// `targetRevision` resolved to, a plain directory (no commit), or for a
/// chart from a chart repository the version and archive digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceRevision {
    /// Repository URL as written.
    pub repo: String,
    /// The revision as written (`HEAD` when empty).
    pub target: String,
    /// The commit, or `None` for a repository substituted by a plain
    /// directory (read as it is now) and for a chart.
    pub commit: Option<CommitId>,
    /// The chart version resolved, for a chart source.
    pub chart: Option<ChartRevision>,
}

/// A chart version resolved from a repository.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChartRevision {
    /// The chart's name.
    pub name: String,
    /// The version (`6.14.1`).
    pub version: String,
    /// sha256 of the archive.
    pub digest: String,
}

impl SourceRevision {
    /// The commit in full, the chart version, or `local` for a plain directory.
    pub fn display(&self) -> String {
        match (&self.chart, self.commit) {
            (Some(c), _) => c.version.clone(),
            (None, Some(c)) => c.to_hex(),
            (None, None) => "local".into(),
        }
    }

    /// True for a plain directory, read as it is now (nothing pins it).
    pub fn is_local(&self) -> bool {
        self.commit.is_none() && self.chart.is_none()
    }
}

/// Renders Applications' sources from Git.
#[derive(Clone)]
pub struct SourceResolver {
    cache: GitCache,
    charts: Result<ChartFetcher, String>,
    chart_auth: Arc<BTreeMap<String, RepoAuth>>,
    clusters: Option<Arc<ClusterRegistry>>,
    options: RenderOptions,
    vault: Option<VaultClient>,
}

impl SourceResolver {
    /// A resolver reading repositories through `cache`; charts are kept in
    /// `charts` beside the Git cache's directory.
    pub fn new(cache: GitCache) -> Self {
        let dir = cache
            .root()
            .parent()
            .map(|p| p.join("charts"))
            .unwrap_or_else(|| cache.root().join("charts"));
        let charts = ChartFetcher::new(&dir, FetchOptions::default())
            .map_err(|e| format!("opening the chart cache {}: {e}", dir.display()));
        Self {
            cache,
            charts,
            chart_auth: Arc::new(BTreeMap::new()),
            clusters: None,
            options: RenderOptions::default(),
            vault: None,
        }
    }

    /// Reads charts through `fetcher` instead of the default chart cache.
    pub fn with_chart_fetcher(mut self, fetcher: ChartFetcher) -> Self {
        self.charts = Ok(fetcher);
        self
    }

    /// Credentials for the chart repository or registry at `url`.
    pub fn with_chart_credentials(mut self, url: &str, auth: RepoAuth) -> Self {
        Arc::make_mut(&mut self.chart_auth).insert(url.trim_end_matches('/').to_string(), auth);
        self
    }

    /// Takes `.Capabilities` of Helm sources from their destination
    /// clusters (version and discovered API versions) unless the source
    /// sets `kubeVersion`/`apiVersions`.
    pub fn with_clusters(mut self, clusters: Arc<ClusterRegistry>) -> Self {
        self.clusters = Some(clusters);
        self
    }

    /// Answer for `url` (a Git repository or a chart repository) from
    /// `local`, in both caches (`--repo URL=LOCAL`).
    #[allow(clippy::result_large_err)] // the error type every resolver method returns
    pub fn substitute(&self, url: &str, local: &str) -> Result<(), SourceFailure> {
        let unsupported = |message: String| SourceFailure::Unsupported {
            app: String::new(),
            message,
        };
        let git = self.cache.substitute(url, local);
        let charts = match &self.charts {
            Ok(f) => f.substitute(url, local).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        match (git, charts) {
            (Err(g), Err(c)) => Err(unsupported(format!("--repo {url}={local}: {g}; {c}"))),
            _ => Ok(()),
        }
    }

    /// The chart fetcher, when its cache could be opened.
    pub fn chart_fetcher(&self) -> Option<&ChartFetcher> {
        self.charts.as_ref().ok()
    }

    /// Resolves `<path:...#key>` placeholders in rendered manifests from
    /// this Vault (one read per path). Without one, a manifest holding a
    /// placeholder fails its Application's render.
    pub fn with_vault(mut self, vault: VaultClient) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The Git cache it reads through.
    pub fn cache(&self) -> &GitCache {
        &self.cache
    }

    /// Where each source of `app` stands, one entry per source in order
    /// (`ref` sources included: their files are part of what is rendered),
    /// without contacting a Git remote (the caller fetches the
    /// repositories first): a commit for `targetRevision`s resolved
    /// against what was fetched last, a full commit id as it is (fetched
    /// only if missing); for a chart, the version its `targetRevision`
    /// resolves to in the repository index (cached with a time to live).
    pub async fn revisions(&self, app: &Application) -> Result<Vec<SourceRevision>, SourceFailure> {
        let mut out = Vec::new();
        for (i, source) in app.sources().iter().enumerate() {
            let Some(repo) = source.repo_url.clone() else {
                return Err(SourceFailure::Unsupported {
                    app: app.name().to_string(),
                    message: format!("source {} has no repoURL", i + 1),
                });
            };
            let target = target_revision(source);
            if source.is_helm_chart() {
                let fetched = self.fetch_chart(app, source, None).await?;
                out.push(SourceRevision {
                    repo,
                    target,
                    commit: None,
                    chart: Some(ChartRevision {
                        name: fetched.name,
                        version: fetched.version,
                        digest: fetched.digest,
                    }),
                });
                continue;
            }
            let git_err = |source: GitError| SourceFailure::Git {
                app: app.name().to_string(),
                repo: repo.clone(),
                revision: target.clone(),
                source,
            };
            if self.cache.is_plain_directory(&repo).map_err(git_err)? {
                out.push(SourceRevision {
                    repo,
                    target,
                    commit: None,
                    chart: None,
                });
                continue;
            }
            let commit = match target.parse::<CommitId>() {
                Ok(c) => c,
                Err(_) => match self.cache.resolve_cached(&repo, &target).await {
                    Ok(r) => r.commit,
                    // Never fetched yet (or the ref is new): ask the remote.
                    Err(_) => {
                        self.cache
                            .fetch_revision(&repo, &target)
                            .await
                            .map_err(git_err)?
                            .commit
                    }
                },
            };
            out.push(SourceRevision {
                repo,
                target,
                commit: Some(commit),
                chart: None,
            });
        }
        Ok(out)
    }

    /// The desired manifests of `app` at the given source revisions (from
    /// [`SourceResolver::revisions`]): no remote is contacted unless a
    /// commit or chart is missing from the cache.
    pub async fn desired_at(
        &self,
        app: &Application,
        revisions: &[SourceRevision],
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let sources = app.sources();
        let pins: Vec<Option<&SourceRevision>> = if revisions.len() == sources.len() {
            revisions.iter().map(Some).collect()
        } else {
            vec![None; sources.len()]
        };
        self.desired_with(app, &pins).await
    }

    /// The desired manifests of `app`: every source rendered, in order
    /// (`ref`-only sources, which only provide value files, render
    /// nothing), each at the newest commit or chart version its
    /// `targetRevision` names.
    pub async fn desired(&self, app: &Application) -> Result<Vec<Manifest>, SourceFailure> {
        let pins = vec![None; app.sources().len()];
        self.desired_with(app, &pins).await
    }

    async fn desired_with(
        &self,
        app: &Application,
        pins: &[Option<&SourceRevision>],
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let sources = app.sources();
        // Trees of `ref` sources, for `$ref/...` value files.
        let mut refs: BTreeMap<String, Arc<dyn Tree>> = BTreeMap::new();
        for (source, pin) in sources.iter().zip(pins) {
            if let Some(name) = source.ref_name.as_deref().filter(|n| !n.is_empty()) {
                if source.is_helm_chart() {
                    continue;
                }
                let (tree, _) = self.open_source_tree(app, source, *pin).await?;
                refs.insert(name.to_string(), tree);
            }
        }
        let mut out = Vec::new();
        for (source, pin) in sources.iter().zip(pins) {
            if source.is_ref_only() {
                continue;
            }
            out.extend(self.render_source_at(app, source, *pin, &refs).await?);
        }
        self.resolve_secrets(app, &mut out).await?;
        Ok(out)
    }

    async fn resolve_secrets(
        &self,
        app: &Application,
        manifests: &mut [Manifest],
    ) -> Result<(), SourceFailure> {
        let fail = |message: String| SourceFailure::Secrets {
            app: app.name().to_string(),
            message,
        };
        match &self.vault {
            Some(vault) => {
                resolve_manifests(vault, manifests, &ResolveOptions::default())
                    .await
                    .map_err(|e: ResolveError| fail(e.to_string()))?;
            }
            None => {
                let holder = manifests.iter().find(|m| {
                    serde_json::to_string(&m.object)
                        .map(|t| t.contains("<path:"))
                        .unwrap_or(false)
                });
                if let Some(m) = holder {
                    let key = m
                        .key()
                        .map(|k| k.to_string())
                        .unwrap_or_else(|_| "a manifest".into());
                    return Err(fail(format!(
                        "{key} holds a Vault placeholder (<path:...>) but no Vault is configured (set VAULT_ADDR and VAULT_TOKEN)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The tree of a Git source at its pinned commit, or at its target
    /// revision; and the revision text (commit or `local`).
    async fn open_source_tree(
        &self,
        app: &Application,
        source: &ApplicationSource,
        pinned: Option<&SourceRevision>,
    ) -> Result<(Arc<dyn Tree>, String), SourceFailure> {
        let name = app.name().to_string();
        let repo = source
            .repo_url
            .clone()
            .ok_or_else(|| SourceFailure::Unsupported {
                app: name.clone(),
                message: "a source has no repoURL".into(),
            })?;
        let revision = target_revision(source);
        let git_err = |source: GitError| SourceFailure::Git {
            app: name.clone(),
            repo: repo.clone(),
            revision: revision.clone(),
            source,
        };
        match pinned.and_then(|p| p.commit) {
            Some(commit) => Ok((
                Arc::new(
                    self.cache
                        .snapshot_commit(&repo, commit)
                        .await
                        .map_err(git_err)?,
                ),
                commit.to_hex(),
            )),
            None => {
                let tree = self
                    .cache
                    .open_tree(&repo, &revision)
                    .await
                    .map_err(git_err)?;
                Ok((tree, revision.clone()))
            }
        }
    }

    async fn render_source_at(
        &self,
        app: &Application,
        source: &ApplicationSource,
        pinned: Option<&SourceRevision>,
        refs: &BTreeMap<String, Arc<dyn Tree>>,
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let name = app.name().to_string();
        if source.is_helm_chart() {
            return self.render_chart_source(app, source, pinned, refs).await;
        }
        let repo = source.repo_url.clone().unwrap_or_default();
        let (tree, revision) = self.open_source_tree(app, source, pinned).await?;
        let path = source.path.clone().unwrap_or_else(|| ".".into());
        if is_git_chart(source, tree.as_ref(), &path) {
            return self
                .render_git_chart(app, source, tree, &path, &revision, refs)
                .await;
        }
        let mut options = self.options.clone();
        if let Some(d) = &source.directory {
            options.directory = DirectoryOptions {
                recurse: d.recurse.unwrap_or(false),
                include: d.include.clone(),
                exclude: d.exclude.clone(),
            };
        }
        let p = path.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            flotilla_render::render(tree.as_ref(), &p, &options)
        })
        .await
        .map_err(|e| SourceFailure::Unsupported {
            app: name.clone(),
            message: format!("rendering task failed: {e}"),
        })?
        .map_err(|source| SourceFailure::Render {
            app: name.clone(),
            repo: repo.clone(),
            path,
            source,
        })?;
        Ok(rendered.manifests)
    }

    #[allow(clippy::result_large_err)] // the error type every resolver method returns
    fn fetcher(&self, app: &Application, chart: &str) -> Result<&ChartFetcher, SourceFailure> {
        self.charts.as_ref().map_err(|e| SourceFailure::Helm {
            app: app.name().to_string(),
            chart: chart.to_string(),
            message: e.clone(),
        })
    }

    /// Credentials for a chart repository (longest configured prefix), with
    /// the source's `passCredentials`.
    fn chart_auth_for(&self, url: &str, pass: bool) -> RepoAuth {
        let url = url.trim_end_matches('/');
        self.chart_auth
            .iter()
            .filter(|(k, _)| url == k.as_str() || url.starts_with(&format!("{k}/")))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, a)| a.clone())
            .unwrap_or_else(RepoAuth::none)
            .with_pass_credentials(pass)
    }

    /// The archive of a chart source, at its pinned version or at the
    /// newest version its `targetRevision` allows.
    async fn fetch_chart(
        &self,
        app: &Application,
        source: &ApplicationSource,
        pinned: Option<&SourceRevision>,
    ) -> Result<FetchedChart, SourceFailure> {
        let repo = source.repo_url.clone().unwrap_or_default();
        let chart = source.chart.clone().unwrap_or_default();
        let version = match pinned.and_then(|p| p.chart.as_ref()) {
            Some(c) => c.version.clone(),
            None => match source.target_revision.as_deref().map(str::trim) {
                None | Some("") | Some("HEAD") => "*".to_string(),
                Some(v) => v.to_string(),
            },
        };
        let label = format!("{repo} {chart}@{version}");
        let pass = source
            .helm
            .as_ref()
            .and_then(|h| h.pass_credentials)
            .unwrap_or(false);
        let auth = self.chart_auth_for(&repo, pass);
        self.fetcher(app, &label)?
            .fetch(&repo, &chart, &version, &auth)
            .await
            .map_err(|e| SourceFailure::Helm {
                app: app.name().to_string(),
                chart: label,
                message: e.to_string(),
            })
    }

    async fn render_chart_source(
        &self,
        app: &Application,
        source: &ApplicationSource,
        pinned: Option<&SourceRevision>,
        refs: &BTreeMap<String, Arc<dyn Tree>>,
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let fetched = self.fetch_chart(app, source, pinned).await?;
        let label = format!(
            "{} {}@{}",
            source.repo_url.as_deref().unwrap_or(""),
            fetched.name,
            fetched.version
        );
        let fail = |message: String| SourceFailure::Helm {
            app: app.name().to_string(),
            chart: label.clone(),
            message,
        };
        let fetcher = self.fetcher(app, &label)?.clone();
        let cluster = self.cluster_capabilities(app, source).await;
        let (app2, source2) = (app.clone(), source.clone());
        let refs = refs.clone();
        let revision = fetched.version.clone();
        tokio::task::spawn_blocking(move || {
            let origin = format!("{}-{}.tgz", fetched.name, fetched.version);
            let chart = fetcher.loaded(&fetched.digest, || {
                let bytes = std::fs::read(&fetched.path)
                    .map_err(|e| format!("reading {}: {e}", fetched.path.display()))?;
                flotilla_helm::load_archive(&bytes, &origin).map_err(|e| e.to_string())
            })?;
            helm::render(HelmInput {
                app: &app2,
                source: &source2,
                chart: (*chart).clone(),
                files: ChartFiles::Archive,
                refs,
                revision,
                cluster,
            })
        })
        .await
        .map_err(|e| fail(format!("rendering task failed: {e}")))?
        .map_err(fail)
    }

    async fn render_git_chart(
        &self,
        app: &Application,
        source: &ApplicationSource,
        tree: Arc<dyn Tree>,
        path: &str,
        revision: &str,
        refs: &BTreeMap<String, Arc<dyn Tree>>,
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let label = format!("{} path {path}", source.repo_url.as_deref().unwrap_or(""));
        let fail = |message: String| SourceFailure::Helm {
            app: app.name().to_string(),
            chart: label.clone(),
            message,
        };
        let (t, p) = (tree.clone(), path.to_string());
        let mut chart = tokio::task::spawn_blocking(move || {
            flotilla_helm::load::load_tree(t.as_ref(), &p).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| fail(format!("loading task failed: {e}")))?
        .map_err(fail)?;
        self.complete_dependencies(app, &label, &mut chart, tree.clone(), path)
            .await?;
        let cluster = self.cluster_capabilities(app, source).await;
        let (app2, source2) = (app.clone(), source.clone());
        let refs = refs.clone();
        let revision = revision.to_string();
        let path = path.to_string();
        tokio::task::spawn_blocking(move || {
            helm::render(HelmInput {
                app: &app2,
                source: &source2,
                chart,
                files: ChartFiles::Git { tree, path },
                refs,
                revision,
                cluster,
            })
        })
        .await
        .map_err(|e| fail(format!("rendering task failed: {e}")))?
        .map_err(fail)
    }

    /// Dependencies a chart in Git declares but does not vendor under
    /// `charts/` are fetched from their repositories (as `helm dependency
    /// build` would, into the chart cache, never into the checkout).
    async fn complete_dependencies(
        &self,
        app: &Application,
        label: &str,
        chart: &mut flotilla_helm::Chart,
        tree: Arc<dyn Tree>,
        path: &str,
    ) -> Result<(), SourceFailure> {
        let present: Vec<String> = chart
            .dependencies
            .iter()
            .map(|d| d.metadata.name.clone())
            .collect();
        let missing = chart
            .metadata
            .dependencies
            .iter()
            .any(|d| !d.repository.is_empty() && !present.contains(&d.name));
        if !missing {
            return Ok(());
        }
        let fail = |message: String| SourceFailure::Helm {
            app: app.name().to_string(),
            chart: label.to_string(),
            message,
        };
        let fetcher = self.fetcher(app, label)?;
        let auth = self.chart_auth.clone();
        let lookup = move |url: &str| {
            let url = url.trim_end_matches('/');
            auth.iter()
                .filter(|(k, _)| url == k.as_str() || url.starts_with(&format!("{k}/")))
                .max_by_key(|(k, _)| k.len())
                .map(|(_, a)| a.clone())
                .unwrap_or_else(RepoAuth::none)
        };
        let resolved = fetcher
            .fetch_dependencies(
                &chart.metadata,
                chart.lock.as_ref(),
                Some((tree.as_ref(), path)),
                &BTreeMap::new(),
                &lookup,
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
        for dep in resolved {
            if present.contains(&dep.name) {
                continue;
            }
            let loaded = match dep.source {
                DependencySource::Archive(f) => {
                    let origin = format!("{}-{}.tgz", f.name, f.version);
                    let fetcher = fetcher.clone();
                    tokio::task::spawn_blocking(move || {
                        fetcher.loaded(&f.digest, || {
                            let bytes = std::fs::read(&f.path)
                                .map_err(|e| format!("reading {}: {e}", f.path.display()))?;
                            flotilla_helm::load_archive(&bytes, &origin).map_err(|e| e.to_string())
                        })
                    })
                    .await
                    .map_err(|e| fail(format!("loading task failed: {e}")))?
                    .map_err(fail)?
                    .as_ref()
                    .clone()
                }
                DependencySource::Directory { path } => {
                    let t = tree.clone();
                    tokio::task::spawn_blocking(move || {
                        flotilla_helm::load::load_tree(t.as_ref(), &path).map_err(|e| e.to_string())
                    })
                    .await
                    .map_err(|e| fail(format!("loading task failed: {e}")))?
                    .map_err(fail)?
                }
                DependencySource::ChartsDirectory => continue,
            };
            chart.dependencies.push(loaded);
        }
        Ok(())
    }

    /// The destination cluster's version and API versions, when the
    /// source does not set both and the cluster answers.
    async fn cluster_capabilities(
        &self,
        app: &Application,
        source: &ApplicationSource,
    ) -> Option<ClusterCapabilities> {
        let helm = source.helm.as_ref();
        let has_version =
            helm.is_some_and(|h| h.kube_version.as_deref().is_some_and(|v| !v.is_empty()));
        let has_apis = helm.is_some_and(|h| !h.api_versions.is_empty());
        if has_version && has_apis {
            return None;
        }
        let registry = self.clusters.as_ref()?;
        let conn = match registry.resolve(&app.spec.destination).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(app = app.name(), error = %e, "no destination cluster for .Capabilities; Helm's defaults are used");
                return None;
            }
        };
        match conn.discovery().await {
            Ok(d) => Some(ClusterCapabilities {
                kube_version: d.server_version().map(str::to_string),
                api_versions: d.api_versions(),
            }),
            Err(e) => {
                tracing::debug!(app = app.name(), error = %e, "discovery failed; Helm's default capabilities are used");
                None
            }
        }
    }
}

/// Argo CD's choice for a Git path: `helm` options, or a `Chart.yaml`
/// with no kustomization beside it, make it a Helm chart.
fn is_git_chart(source: &ApplicationSource, tree: &dyn Tree, path: &str) -> bool {
    if source.kustomize.is_some() || source.directory.is_some() {
        return false;
    }
    let at = |f: &str| {
        let p = if path == "." || path.is_empty() {
            f.to_string()
        } else {
            format!("{}/{f}", path.trim_end_matches('/'))
        };
        tree.exists(&p).unwrap_or(false)
    };
    if ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .any(|f| at(f))
    {
        return false;
    }
    source.helm.is_some() || at("Chart.yaml")
}

fn target_revision(source: &ApplicationSource) -> String {
    source
        .target_revision
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "HEAD".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(repo: &str, path: &str) -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "demo"},
            "spec": {
                "source": {"repoURL": repo, "path": path, "targetRevision": "HEAD"},
                "destination": {"server": "https://example.invalid", "namespace": "x"},
            },
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn renders_a_kustomization_from_a_substituted_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("src/overlays/dev");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            "namePrefix: dev-\nresources:\n- cm.yaml\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        )
        .unwrap();
        let cache = GitCache::new(tmp.path().join("cache")).unwrap();
        cache
            .substitute(
                "https://github.com/acme/deploy.git",
                &tmp.path().join("src").display().to_string(),
            )
            .unwrap();
        let resolver = SourceResolver::new(cache);
        let got = resolver
            .desired(&app("https://github.com/acme/deploy", "overlays/dev"))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name(), Some("dev-settings"));

        let err = resolver
            .desired(&app("https://github.com/acme/deploy", "overlays/prod"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("overlays/prod"), "{err}");
        let err = resolver
            .desired(&app("file:///nonexistent/flotilla/repo", "x"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/flotilla/repo"), "{err}");
    }

    #[tokio::test]
    async fn a_placeholder_without_vault_fails_the_render() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("src/app");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-env\nstringData:\n  DB_URL: <path:secret/data/api/env#DB_URL>\n",
        )
        .unwrap();
        let cache = GitCache::new(tmp.path().join("cache")).unwrap();
        cache
            .substitute(
                "https://github.com/acme/deploy.git",
                &tmp.path().join("src").display().to_string(),
            )
            .unwrap();
        let err = SourceResolver::new(cache)
            .desired(&app("https://github.com/acme/deploy", "app"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("v1/Secret") || err.contains("Secret"), "{err}");
        assert!(err.contains("no Vault is configured"), "{err}");
    }
}
