//! What generators read: repository snapshots and registered clusters,
//! resolved by the caller.

use std::collections::HashMap;
use std::fmt;

use flotilla_core::{ApplicationSet, Cluster, Generator};
use flotilla_git::Tree;

/// A repository at a revision, as a git generator names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoRef {
    /// `repoURL` as written.
    pub url: String,
    /// `revision` as written, `HEAD` when empty.
    pub revision: String,
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.url, self.revision)
    }
}

/// The revision a git generator reads: `revision`, or `HEAD` when empty.
pub(crate) fn effective_revision(revision: Option<&str>) -> String {
    match revision.map(str::trim) {
        None | Some("") => "HEAD".to_string(),
        Some(r) => r.to_string(),
    }
}

/// The key two spellings of one repository URL share: scheme and host in
/// lower case, no user, no default port, no `.git` or trailing `/`
/// ([`flotilla_git::normalize_url`]). Local paths and `file://` URLs are
/// compared as written (minus a trailing `/`), so that no file system is
/// touched here.
pub(crate) fn repo_key(url: &str) -> String {
    let url = url.trim();
    let remote = match url.split_once("://") {
        Some((scheme, _)) => !scheme.eq_ignore_ascii_case("file"),
        // scp-like `user@host:path`
        None => {
            url.contains('@')
                && url
                    .split_once(':')
                    .is_some_and(|(host, _)| !host.contains('/'))
        }
    };
    if remote {
        flotilla_git::normalize_url(url)
    } else {
        url.trim_end_matches('/').to_string()
    }
}

/// What an ApplicationSet's generators read, resolved by the caller:
/// repository snapshots (one [`Tree`] per `repoURL` and `revision`) and the
/// registered clusters.
///
/// Generation does no I/O of its own: git generators read files through the
/// trees given here, and the clusters generator sees exactly the clusters
/// given here (in that order). Repository URLs are matched after
/// normalisation (`https://github.com/org/repo.git` and
/// `https://GitHub.com/org/repo` are one repository); revisions are matched
/// as written (`HEAD` when empty).
///
/// ```
/// use flotilla_appset::GeneratorInputs;
/// use flotilla_core::Cluster;
/// use flotilla_git::LocalTree;
///
/// let dir = std::env::temp_dir();
/// let tree = LocalTree::new(&dir).unwrap();
/// let inputs = GeneratorInputs::new()
///     .with_repository("https://github.com/org/deploy.git", "HEAD", &tree)
///     .with_clusters([Cluster::new("prod", "https://10.0.0.1:6443")]);
/// assert!(inputs.repository("https://github.com/Org/deploy", "").is_none()); // path case matters
/// assert!(inputs.repository("https://GITHUB.com/org/deploy/", "").is_some());
/// assert_eq!(inputs.clusters().len(), 1);
/// ```
#[derive(Default, Clone)]
pub struct GeneratorInputs<'a> {
    repos: HashMap<(String, String), &'a dyn Tree>,
    clusters: Vec<Cluster>,
}

impl fmt::Debug for GeneratorInputs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut repos: Vec<String> = self
            .repos
            .iter()
            .map(|((url, rev), tree)| format!("{url}@{rev} -> {}", tree.location()))
            .collect();
        repos.sort();
        f.debug_struct("GeneratorInputs")
            .field("repos", &repos)
            .field(
                "clusters",
                &self
                    .clusters
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a> GeneratorInputs<'a> {
    /// No repositories and no clusters.
    pub fn new() -> Self {
        GeneratorInputs::default()
    }

    /// Adds the snapshot of `url` at `revision` (`""` means `HEAD`).
    pub fn add_repository(&mut self, url: &str, revision: &str, tree: &'a dyn Tree) {
        self.repos
            .insert((repo_key(url), effective_revision(Some(revision))), tree);
    }

    /// [`GeneratorInputs::add_repository`], by value.
    #[must_use]
    pub fn with_repository(mut self, url: &str, revision: &str, tree: &'a dyn Tree) -> Self {
        self.add_repository(url, revision, tree);
        self
    }

    /// Adds clusters for the clusters generator.
    pub fn add_clusters(&mut self, clusters: impl IntoIterator<Item = Cluster>) {
        self.clusters.extend(clusters);
    }

    /// [`GeneratorInputs::add_clusters`], by value.
    #[must_use]
    pub fn with_clusters(mut self, clusters: impl IntoIterator<Item = Cluster>) -> Self {
        self.add_clusters(clusters);
        self
    }

    /// The snapshot of `url` at `revision`, if given.
    pub fn repository(&self, url: &str, revision: &str) -> Option<&'a dyn Tree> {
        self.repos
            .get(&(repo_key(url), effective_revision(Some(revision))))
            .copied()
    }

    /// The registered clusters, in order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }
}

/// The repositories the git generators of `appset` read, as far as they are
/// known before generating: `repoURL`s and `revision`s that hold a template
/// (a matrix child filled in from its sibling's parameters) are left out;
/// generation reports those with [`AppsetError::MissingRepository`](crate::AppsetError::MissingRepository)
/// if they are not given.
///
/// ```
/// use flotilla_appset::{repositories, RepoRef};
/// use flotilla_core::ApplicationSet;
///
/// let appset: ApplicationSet = serde_json::from_value(serde_json::json!({
///   "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
///   "metadata": {"name": "a"},
///   "spec": {"generators": [{"git": {"repoURL": "https://example.com/r.git",
///                                     "files": [{"path": "*.json"}]}}]}
/// }))?;
/// assert_eq!(repositories(&appset), vec![RepoRef {
///     url: "https://example.com/r.git".into(), revision: "HEAD".into() }]);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn repositories(appset: &ApplicationSet) -> Vec<RepoRef> {
    let mut out = Vec::new();
    for generator in &appset.spec.generators {
        collect_repositories(generator, &mut out, 0);
    }
    out.sort();
    out.dedup();
    out
}

fn collect_repositories(generator: &Generator, out: &mut Vec<RepoRef>, depth: usize) {
    if depth > crate::MAX_NESTING {
        return;
    }
    if let Some(git) = &generator.git {
        let url = git.repo_url.as_deref().unwrap_or_default();
        let revision = effective_revision(git.revision.as_deref());
        if !url.is_empty() && !url.contains("{{") && !revision.contains("{{") {
            out.push(RepoRef {
                url: url.to_string(),
                revision,
            });
        }
    }
    let children = generator
        .matrix
        .iter()
        .flat_map(|m| m.generators.iter())
        .chain(generator.merge.iter().flat_map(|m| m.generators.iter()));
    for child in children {
        collect_repositories(child, out, depth + 1);
    }
}

/// Whether any generator of `appset` is a `clusters` generator (so that
/// callers read the cluster registry only when it is needed).
///
/// ```
/// use flotilla_appset::uses_clusters;
/// use flotilla_core::ApplicationSet;
///
/// let appset: ApplicationSet = serde_json::from_value(serde_json::json!({
///   "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
///   "metadata": {"name": "a"},
///   "spec": {"generators": [{"matrix": {"generators": [
///       {"list": {"elements": [{"app": "web"}]}}, {"clusters": {}}]}}]}
/// }))?;
/// assert!(uses_clusters(&appset));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn uses_clusters(appset: &ApplicationSet) -> bool {
    fn walk(g: &Generator, depth: usize) -> bool {
        depth <= crate::MAX_NESTING
            && (g.clusters.is_some()
                || g.matrix
                    .iter()
                    .flat_map(|m| m.generators.iter())
                    .chain(g.merge.iter().flat_map(|m| m.generators.iter()))
                    .any(|c| walk(c, depth + 1)))
    }
    appset.spec.generators.iter().any(|g| walk(g, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            repo_key("https://GitHub.com/org/repo.git/"),
            "https://github.com/org/repo"
        );
        assert_eq!(
            repo_key("git@github.com:org/repo.git"),
            repo_key("ssh://github.com/org/repo")
        );
        assert_eq!(repo_key("/srv/repo/"), "/srv/repo");
        assert_eq!(repo_key("file:///srv/repo"), "file:///srv/repo");
        assert_eq!(effective_revision(Some(" ")), "HEAD");
        assert_eq!(effective_revision(Some("main")), "main");
    }
}
