//! Dependencies of a chart (umbrella charts in Git), as `helm dependency
//! build` resolves them, but straight from the URLs in `Chart.yaml` with
//! no repository registered first (argo-cd #3280) and into the cache, never
//! into the chart's directory:
//!
//! - with a `Chart.lock` (or `requirements.lock`), its pinned versions and
//!   repositories are used, after checking that it is in sync with the
//!   dependencies (Helm's digest of both lists);
//! - `https://...` and `oci://...` repositories are fetched with
//!   [`ChartFetcher::fetch`];
//! - `file://path` is a chart directory relative to the chart in the same
//!   tree, checked against the version constraint and handed back as a
//!   path for the loader;
//! - no repository means the chart is expected under `charts/`.

use std::collections::BTreeMap;

use flotilla_git::{parse_tag_version, Constraint, Tree};
use sha2::{Digest, Sha256};

use super::error::FetchError;
use super::{ChartFetcher, FetchedChart, RepoAuth};
use crate::chart::Lock;
use crate::metadata::{ChartMetadata, Dependency, ImportValue};

/// Credentials for the repositories dependencies name.
pub trait CredentialLookup: Send + Sync {
    /// Credentials for `repo_url` (as written in `Chart.yaml`).
    fn lookup(&self, repo_url: &str) -> RepoAuth;
}

impl CredentialLookup for () {
    fn lookup(&self, _repo_url: &str) -> RepoAuth {
        RepoAuth::none()
    }
}

impl<F: Fn(&str) -> RepoAuth + Send + Sync> CredentialLookup for F {
    fn lookup(&self, repo_url: &str) -> RepoAuth {
        self(repo_url)
    }
}

/// Where a resolved dependency's chart is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencySource {
    /// An archive in the cache (from a chart repository or registry).
    Archive(FetchedChart),
    /// A chart directory in the same tree (`file://`), by its path from
    /// the tree's root.
    Directory {
        /// Tree-relative, `/`-separated, normalised.
        path: String,
    },
    /// No repository: the chart must already be under `charts/`.
    ChartsDirectory,
}

/// One dependency, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDependency {
    /// The dependency's `name` (the chart's name).
    pub name: String,
    /// The version resolved (for [`DependencySource::ChartsDirectory`],
    /// the constraint as written).
    pub version: String,
    /// The repository as written (after alias resolution).
    pub repository: String,
    /// Where the chart is.
    pub source: DependencySource,
}

/// A string as Go's `encoding/json` writes it (HTML characters escaped).
fn go_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One `chart.Dependency` as Go's `json.Marshal` writes it.
fn go_json_dep(d: &Dependency, out: &mut String) {
    out.push_str("{\"name\":");
    go_json_str(&d.name, out);
    if !d.version.is_empty() {
        out.push_str(",\"version\":");
        go_json_str(&d.version, out);
    }
    out.push_str(",\"repository\":");
    go_json_str(&d.repository, out);
    if !d.condition.is_empty() {
        out.push_str(",\"condition\":");
        go_json_str(&d.condition, out);
    }
    if !d.tags.is_empty() {
        out.push_str(",\"tags\":[");
        for (i, t) in d.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_json_str(t, out);
        }
        out.push(']');
    }
    if d.enabled == Some(true) {
        out.push_str(",\"enabled\":true");
    }
    if !d.import_values.is_empty() {
        out.push_str(",\"import-values\":[");
        for (i, v) in d.import_values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match v {
                ImportValue::Name(n) => go_json_str(n, out),
                ImportValue::Map { child, parent } => {
                    out.push_str("{\"child\":");
                    go_json_str(child, out);
                    out.push_str(",\"parent\":");
                    go_json_str(parent, out);
                    out.push('}');
                }
            }
        }
        out.push(']');
    }
    if !d.alias.is_empty() {
        out.push_str(",\"alias\":");
        go_json_str(&d.alias, out);
    }
    out.push('}');
}

/// Helm's `resolver.HashReq`: the digest a `Chart.lock` records for the
/// dependencies it was generated from.
pub(crate) fn hash_req(req: &[Dependency], lock: &[Dependency]) -> String {
    let mut s = String::from("[");
    for (i, list) in [req, lock].iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        if list.is_empty() {
            s.push_str("null");
            continue;
        }
        s.push('[');
        for (j, d) in list.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            go_json_dep(d, &mut s);
        }
        s.push(']');
    }
    s.push(']');
    format!("sha256:{}", hex::encode(Sha256::digest(s.as_bytes())))
}

/// `dir` joined with a relative `rel`, normalised; `None` if it leaves the root.
fn join_inside(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

impl ChartFetcher {
    /// Resolve and fetch the dependencies of the chart whose `Chart.yaml`
    /// is `metadata` (and `Chart.lock`, `lock`), for a chart at `chart_dir`
    /// in `tree` (needed for `file://` dependencies; `None` for a chart
    /// without a tree). `aliases` maps repository names (`@name`,
    /// `alias:name`) to URLs; `creds` gives credentials per repository.
    /// Dependencies are fetched concurrently; the result follows the order
    /// of the lock (when present) or of `Chart.yaml`.
    pub async fn fetch_dependencies(
        &self,
        metadata: &ChartMetadata,
        lock: Option<&Lock>,
        tree: Option<(&dyn Tree, &str)>,
        aliases: &BTreeMap<String, String>,
        creds: &dyn CredentialLookup,
    ) -> Result<Vec<ResolvedDependency>, FetchError> {
        let chart = metadata.name.as_str();
        let v1 = metadata.api_version == "v1";
        let mut req = metadata.dependencies.clone();
        for d in &mut req {
            let alias = d
                .repository
                .strip_prefix('@')
                .or_else(|| d.repository.strip_prefix("alias:"));
            if let Some(alias) = alias {
                match aliases.get(alias) {
                    Some(url) => d.repository = url.clone(),
                    None => {
                        return Err(FetchError::Dependency {
                            chart: chart.to_string(),
                            dependency: d.name.clone(),
                            source: Box::new(FetchError::InvalidUrl {
                                url: d.repository.clone(),
                                reason: format!(
                                    "repository alias {alias:?} is not known; write the repository URL in Chart.yaml"
                                ),
                            }),
                        })
                    }
                }
            }
        }
        let list: Vec<Dependency> = match lock {
            Some(l) => {
                if hash_req(&req, &l.dependencies) != l.digest {
                    return Err(FetchError::LockOutOfSync {
                        chart: chart.to_string(),
                        file: if v1 {
                            "requirements.lock"
                        } else {
                            "Chart.lock"
                        },
                        deps_file: if v1 {
                            "requirements.yaml"
                        } else {
                            "Chart.yaml"
                        },
                    });
                }
                l.dependencies.clone()
            }
            None => req,
        };
        let jobs = list
            .iter()
            .map(|d| self.fetch_dependency(chart, d, tree, creds));
        futures::future::try_join_all(jobs).await
    }

    async fn fetch_dependency(
        &self,
        chart: &str,
        d: &Dependency,
        tree: Option<(&dyn Tree, &str)>,
        creds: &dyn CredentialLookup,
    ) -> Result<ResolvedDependency, FetchError> {
        let repo = d.repository.trim();
        let resolved = |version: String, source| ResolvedDependency {
            name: d.name.clone(),
            version,
            repository: d.repository.clone(),
            source,
        };
        if repo.is_empty() {
            return Ok(resolved(
                d.version.clone(),
                DependencySource::ChartsDirectory,
            ));
        }
        if let Some(rel) = repo.strip_prefix("file://") {
            let (path, version) = self.local_dependency(chart, d, rel, tree)?;
            return Ok(resolved(version, DependencySource::Directory { path }));
        }
        let auth = creds.lookup(repo);
        match self.fetch(repo, &d.name, &d.version, &auth).await {
            Ok(f) => Ok(resolved(f.version.clone(), DependencySource::Archive(f))),
            Err(e) => Err(FetchError::Dependency {
                chart: chart.to_string(),
                dependency: d.name.clone(),
                source: Box::new(e),
            }),
        }
    }

    fn local_dependency(
        &self,
        chart: &str,
        d: &Dependency,
        rel: &str,
        tree: Option<(&dyn Tree, &str)>,
    ) -> Result<(String, String), FetchError> {
        let fail = |reason: String| FetchError::LocalDependency {
            reason: format!(
                "chart {chart}: dependency {} (file://{rel}): {reason}",
                d.name
            ),
        };
        let Some((tree, chart_dir)) = tree else {
            return Err(fail(
                "a file:// dependency needs the chart's source tree".to_string(),
            ));
        };
        if rel.starts_with('/') {
            return Err(fail(
                "absolute paths are not allowed; use a path relative to the chart".to_string(),
            ));
        }
        let path = join_inside(chart_dir, rel)
            .ok_or_else(|| fail(format!("the path leaves {}", tree.location())))?;
        let chart_yaml = if path.is_empty() {
            "Chart.yaml".to_string()
        } else {
            format!("{path}/Chart.yaml")
        };
        let data = tree.read(&chart_yaml).map_err(|e| {
            fail(format!(
                "cannot read {chart_yaml} in {}: {e}",
                tree.location()
            ))
        })?;
        let meta: ChartMetadata =
            serde_yaml_ng::from_slice(&data).map_err(|e| fail(format!("{chart_yaml}: {e}")))?;
        if !d.version.trim().is_empty() {
            let c = Constraint::parse(&d.version)
                .ok_or_else(|| fail(format!("invalid version constraint {:?}", d.version)))?;
            let v = parse_tag_version(&meta.version)
                .ok_or_else(|| fail(format!("{chart_yaml}: invalid version {:?}", meta.version)))?;
            if !c.matches(&v) {
                return Err(fail(format!(
                    "{chart_yaml} has version {}, which does not satisfy {}",
                    meta.version, d.version
                )));
            }
        }
        Ok((path, meta.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_tree() {
        assert_eq!(
            join_inside("apps/umbrella", "../sub").as_deref(),
            Some("apps/sub")
        );
        assert_eq!(
            join_inside("apps/umbrella", "./charts/x").as_deref(),
            Some("apps/umbrella/charts/x")
        );
        assert_eq!(join_inside("a", "../../x"), None);
        assert_eq!(join_inside("", "sub").as_deref(), Some("sub"));
    }

    #[test]
    fn hash_escapes_like_go() {
        let d = Dependency {
            name: "a".into(),
            version: ">=1.0 <2".into(),
            repository: "https://x".into(),
            ..Dependency::default()
        };
        let mut s = String::new();
        go_json_dep(&d, &mut s);
        assert_eq!(
            s,
            r#"{"name":"a","version":"\u003e=1.0 \u003c2","repository":"https://x"}"#
        );
        let list = vec![d];
        assert!(hash_req(&list, &list).starts_with("sha256:"));
        assert_ne!(hash_req(&list, &list), hash_req(&list, &[]));
    }
}
