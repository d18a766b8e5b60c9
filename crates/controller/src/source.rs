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

use std::sync::Arc;

use flotilla_core::{Application, ApplicationSource, Manifest};
use flotilla_git::{CommitId, GitCache, GitError, Tree};
use flotilla_render::{DirectoryOptions, RenderError, RenderOptions};
use flotilla_vault::{resolve_manifests, ResolveError, ResolveOptions, VaultClient};

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
/// `targetRevision` resolved to, or a plain directory (no commit).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceRevision {
    /// Repository URL as written.
    pub repo: String,
    /// The revision as written (`HEAD` when empty).
    pub target: String,
    /// The commit, or `None` for a repository substituted by a plain
    /// directory (read as it is now).
    pub commit: Option<CommitId>,
}

impl SourceRevision {
    /// The commit in full, or `local` for a plain directory.
    pub fn display(&self) -> String {
        self.commit
            .map(|c| c.to_hex())
            .unwrap_or_else(|| "local".into())
    }
}

/// Renders Applications' sources from Git.
#[derive(Clone)]
pub struct SourceResolver {
    cache: GitCache,
    options: RenderOptions,
    vault: Option<VaultClient>,
}

impl SourceResolver {
    /// A resolver reading repositories through `cache`.
    pub fn new(cache: GitCache) -> Self {
        Self {
            cache,
            options: RenderOptions::default(),
            vault: None,
        }
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

    /// Where each rendered source of `app` stands in the cache, without
    /// contacting the remote (the caller fetches the repositories first):
    /// a commit for `targetRevision`s resolved against what was fetched last,
    /// a full commit id as it is (fetched only if missing).
    pub async fn revisions(&self, app: &Application) -> Result<Vec<SourceRevision>, SourceFailure> {
        let mut out = Vec::new();
        for source in app.sources() {
            if source.is_ref_only() || source.is_helm_chart() {
                continue;
            }
            let Some(repo) = source.repo_url.clone() else {
                continue;
            };
            let target = target_revision(source);
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
            });
        }
        Ok(out)
    }

    /// The desired manifests of `app` at the given source revisions (from
    /// [`SourceResolver::revisions`]): no remote is contacted unless a
    /// commit is missing from the cache.
    pub async fn desired_at(
        &self,
        app: &Application,
        revisions: &[SourceRevision],
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let mut out = Vec::new();
        let mut at = revisions.iter();
        for source in app.sources() {
            if source.is_ref_only() {
                continue;
            }
            let pinned = if source.is_helm_chart() || source.repo_url.is_none() {
                None
            } else {
                at.next()
            };
            out.extend(self.render_source_at(app, source, pinned).await?);
        }
        self.resolve_secrets(app, &mut out).await?;
        Ok(out)
    }

    /// The desired manifests of `app`: every source rendered, in order
    /// (`ref`-only sources, which only provide value files, are skipped).
    pub async fn desired(&self, app: &Application) -> Result<Vec<Manifest>, SourceFailure> {
        let mut out = Vec::new();
        for source in app.sources() {
            if source.is_ref_only() {
                continue;
            }
            out.extend(self.render_source_at(app, source, None).await?);
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

    async fn render_source_at(
        &self,
        app: &Application,
        source: &ApplicationSource,
        pinned: Option<&SourceRevision>,
    ) -> Result<Vec<Manifest>, SourceFailure> {
        let name = app.name().to_string();
        if source.is_helm_chart() {
            return Err(SourceFailure::Unsupported {
                app: name,
                message: format!(
                    "Helm chart sources are not supported yet (chart {})",
                    source.chart.as_deref().unwrap_or("")
                ),
            });
        }
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
        let tree: Arc<dyn Tree> = match pinned.and_then(|p| p.commit) {
            Some(commit) => Arc::new(
                self.cache
                    .snapshot_commit(&repo, commit)
                    .await
                    .map_err(git_err)?,
            ),
            None => self
                .cache
                .open_tree(&repo, &revision)
                .await
                .map_err(git_err)?,
        };
        let path = source.path.clone().unwrap_or_else(|| ".".into());
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
