//! ApplicationSets to Applications with the repositories they read: each
//! git generator's repository is resolved through the Git cache (once per
//! URL and revision), including repositories only known once a matrix has
//! filled them in. Used by the controller and by the one-shot CLI commands.
//!
//! ```no_run
//! # async fn f(text: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use flotilla_controller::appsets::{expand, RepoSnapshots, Resolution};
//! let cache = flotilla_git::GitCache::new("/tmp/flotilla-git-cache")?;
//! let mut repos = RepoSnapshots::new(&cache, Resolution::Remote);
//! for located in flotilla_appset::read_application_sets(text, "appset.yaml")? {
//!     let apps = expand(&located, &[], &Default::default(), &mut repos).await?;
//!     println!("{} generates {} Applications", located.appset.name(), apps.len());
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;

use flotilla_appset::{
    generate_with, repositories, AppsetError, GenerateOptions, GeneratedApplication,
    GeneratorInputs, LocatedApplicationSet,
};
use flotilla_core::Cluster;
use flotilla_git::{GitCache, GitError, Tree};

/// Why an ApplicationSet could not be expanded.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    /// A repository a generator reads could not be resolved.
    #[error("{location}: ApplicationSet {appset:?}: repository {url} at {revision}: {source}")]
    Repository {
        /// Where the ApplicationSet was read.
        location: String,
        /// Its name.
        appset: String,
        /// Repository URL.
        url: String,
        /// Revision.
        revision: String,
        /// The Git error.
        #[source]
        source: GitError,
    },
    /// A generator or the template failed.
    #[error("{location}: {source}")]
    Generate {
        /// Where the ApplicationSet was read.
        location: String,
        /// The error (names the generator, file and line).
        #[source]
        source: AppsetError,
    },
    /// A matrix kept asking for more repositories.
    #[error("{location}: ApplicationSet {appset:?} needs more than 64 repositories")]
    TooManyRepositories {
        /// Where the ApplicationSet was read.
        location: String,
        /// Its name.
        appset: String,
    },
}

/// How [`RepoSnapshots`] resolves a revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// With the remote, fetching what is new.
    Remote,
    /// From what was fetched last; the remote is asked only for a
    /// repository or revision never fetched.
    CachedFirst,
    /// From what was fetched last, never contacting the remote.
    Offline,
}

/// Repository snapshots, resolved once per URL and revision.
pub struct RepoSnapshots<'c> {
    cache: &'c GitCache,
    mode: Resolution,
    trees: Vec<(String, String, Arc<dyn Tree>)>,
}

impl<'c> RepoSnapshots<'c> {
    /// Snapshots through `cache`, resolved as `mode` says.
    pub fn new(cache: &'c GitCache, mode: Resolution) -> Self {
        RepoSnapshots {
            cache,
            mode,
            trees: Vec::new(),
        }
    }

    /// True when `url` at `revision` is resolved already.
    pub fn has(&self, url: &str, revision: &str) -> bool {
        let key = flotilla_git::normalize_url(url);
        self.trees
            .iter()
            .any(|(u, r, _)| r == revision && flotilla_git::normalize_url(u) == key)
    }

    /// Every resolved snapshot: URL, revision and where it was read.
    pub fn resolved(&self) -> impl Iterator<Item = (&str, &str, String)> {
        self.trees
            .iter()
            .map(|(u, r, t)| (u.as_str(), r.as_str(), t.location()))
    }

    /// Resolves `url` at `revision` (once).
    pub async fn resolve(&mut self, url: &str, revision: &str) -> Result<(), GitError> {
        if self.has(url, revision) {
            return Ok(());
        }
        let plain_dir = self.cache.is_plain_directory(url)?;
        let tree: Arc<dyn Tree> = match self.mode {
            _ if plain_dir => self.cache.open_tree(url, revision).await?,
            Resolution::Remote => self.cache.open_tree(url, revision).await?,
            Resolution::Offline => Arc::new(self.cache.snapshot_cached(url, revision).await?),
            Resolution::CachedFirst => match self.cache.snapshot_cached(url, revision).await {
                Ok(t) => Arc::new(t),
                Err(_) => self.cache.open_tree(url, revision).await?,
            },
        };
        tracing::debug!(url, revision, tree = %tree.location(), "repository resolved");
        self.trees
            .push((url.to_string(), revision.to_string(), tree));
        Ok(())
    }
}

/// The Applications one ApplicationSet generates, resolving the
/// repositories it needs through `repos`. Warnings are logged.
pub async fn expand(
    located: &LocatedApplicationSet,
    clusters: &[Cluster],
    options: &GenerateOptions,
    repos: &mut RepoSnapshots<'_>,
) -> Result<Vec<GeneratedApplication>, ExpandError> {
    let appset = &located.appset;
    let location = located.location.to_string();
    let repo_err = |url: &str, revision: &str, source: GitError| ExpandError::Repository {
        location: location.clone(),
        appset: appset.name().to_string(),
        url: url.to_string(),
        revision: revision.to_string(),
        source,
    };
    for repo in repositories(appset) {
        repos
            .resolve(&repo.url, &repo.revision)
            .await
            .map_err(|e| repo_err(&repo.url, &repo.revision, e))?;
    }
    // Each round resolves one repository a matrix filled in; bounded.
    for _ in 0..64 {
        let result = {
            let mut inputs = GeneratorInputs::new().with_clusters(clusters.iter().cloned());
            for (url, revision, tree) in &repos.trees {
                inputs.add_repository(url, revision, tree.as_ref());
            }
            generate_with(appset, &inputs, options)
        };
        match result {
            Ok(generation) => {
                for warning in &generation.warnings {
                    tracing::warn!("{location}: ApplicationSet {:?}: {warning}", appset.name());
                }
                return Ok(generation.applications);
            }
            Err(e) => match e.missing_repository() {
                Some((url, revision)) if !repos.has(url, revision) => {
                    let (url, revision) = (url.to_string(), revision.to_string());
                    repos
                        .resolve(&url, &revision)
                        .await
                        .map_err(|g| repo_err(&url, &revision, g))?;
                }
                _ => {
                    return Err(ExpandError::Generate {
                        location,
                        source: e,
                    })
                }
            },
        }
    }
    Err(ExpandError::TooManyRepositories {
        location,
        appset: appset.name().to_string(),
    })
}

/// One cluster per kubeconfig context: named after the context, with the
/// server of the context's cluster (for the clusters generator). Contexts
/// whose cluster has no server are left out.
pub fn clusters_from_kubeconfig(config: &kube::config::Kubeconfig) -> Vec<Cluster> {
    config
        .contexts
        .iter()
        .filter_map(|named| {
            let context = named.context.as_ref()?;
            let server = config
                .clusters
                .iter()
                .find(|c| c.name == context.cluster)?
                .cluster
                .as_ref()?
                .server
                .clone()?;
            Some(Cluster::new(named.name.clone(), server))
        })
        .collect()
}
