//! Where the controller finds its Applications and ApplicationSets: YAML
//! files in a Git repository at a revision, or in a local directory (the
//! `applications` entries of the configuration).

use std::path::Path;

use flotilla_appset::{read_application_sets, read_kind, LocatedApplicationSet};
use flotilla_core::{Application, APPLICATION_KIND};
use flotilla_git::{GitCache, GlobMode, Tree};

use crate::config::AppSourceConfig;

/// An Application read from a file, with where it was read.
#[derive(Clone, Debug)]
pub struct LocatedApplication {
    /// The Application.
    pub app: Application,
    /// `file:line` of its document.
    pub location: String,
}

/// Everything one read of the sources found.
#[derive(Debug, Default)]
pub struct Definitions {
    /// Applications written as such.
    pub applications: Vec<LocatedApplication>,
    /// ApplicationSets.
    pub application_sets: Vec<LocatedApplicationSet>,
}

/// Why the definitions could not be read. Nothing that exists is changed
/// when this happens.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionsError {
    /// A repository could not be read.
    #[error("applications from {repo} at {revision}: {source}")]
    Git {
        /// Repository URL.
        repo: String,
        /// Revision.
        revision: String,
        /// Cause.
        #[source]
        source: Box<flotilla_git::GitError>,
    },
    /// A file could not be read.
    #[error("{file}: {message}")]
    File {
        /// The file (`repo@rev:path` or a local path).
        file: String,
        /// What went wrong (with the line for a parse error).
        message: String,
    },
}

/// Reads every configured source. `cache` must have fetched the repositories
/// already when `fetch` is false.
pub async fn read(
    sources: &[AppSourceConfig],
    cache: &GitCache,
) -> Result<Definitions, DefinitionsError> {
    let mut out = Definitions::default();
    for source in sources {
        match source {
            AppSourceConfig::Git {
                repo,
                revision,
                paths,
            } => {
                let git = |source| DefinitionsError::Git {
                    repo: repo.clone(),
                    revision: revision.clone(),
                    source: Box::new(source),
                };
                let tree = match cache.snapshot_cached(repo, revision).await {
                    Ok(t) => std::sync::Arc::new(t) as std::sync::Arc<dyn Tree>,
                    Err(_) => cache.open_tree(repo, revision).await.map_err(git)?,
                };
                let mut files = std::collections::BTreeSet::new();
                for p in paths {
                    for f in tree.glob_with(p, GlobMode::Git).map_err(git)? {
                        files.insert(f);
                    }
                }
                for f in files {
                    let bytes = tree.read(&f).map_err(git)?;
                    let shown = format!("{repo}@{revision}:{f}");
                    let text = String::from_utf8(bytes).map_err(|_| DefinitionsError::File {
                        file: shown.clone(),
                        message: "not UTF-8 text".into(),
                    })?;
                    parse_into(&text, &shown, &mut out)?;
                }
            }
            AppSourceConfig::Directory { path } => read_directory(path, &mut out)?,
        }
    }
    Ok(out)
}

fn read_directory(dir: &Path, out: &mut Definitions) -> Result<(), DefinitionsError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DefinitionsError::File {
        file: dir.display().to_string(),
        message: format!("reading the directory: {e}"),
    })?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    files.sort();
    for f in files {
        let shown = f.display().to_string();
        let text = std::fs::read_to_string(&f).map_err(|e| DefinitionsError::File {
            file: shown.clone(),
            message: e.to_string(),
        })?;
        parse_into(&text, &shown, out)?;
    }
    Ok(())
}

/// Adds the Applications and ApplicationSets of one (multi-document) file.
/// Documents of other kinds are skipped.
pub fn parse_into(text: &str, file: &str, out: &mut Definitions) -> Result<(), DefinitionsError> {
    let err = |message: String| DefinitionsError::File {
        file: file.to_string(),
        message,
    };
    out.application_sets
        .extend(read_application_sets(text, file).map_err(|e| err(e.to_string()))?);
    for (app, location) in
        read_kind::<Application>(text, file, APPLICATION_KIND).map_err(|e| err(e.to_string()))?
    {
        app.check_type_meta()
            .map_err(|e| err(format!("{location}: {e}")))?;
        if app.name().is_empty() {
            return Err(err(format!("{location}: the Application has no name")));
        }
        out.applications.push(LocatedApplication {
            app,
            location: location.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_applications_and_sets_and_skips_other_kinds() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n\
apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n\
spec:\n  destination: {server: https://x}\n---\n\
apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\nspec:\n  generators: []\n";
        let mut d = Definitions::default();
        parse_into(text, "apps.yaml", &mut d).unwrap();
        assert_eq!(d.applications.len(), 1);
        assert_eq!(d.applications[0].app.name(), "a");
        // The line of its `---` marker, as for ApplicationSets.
        assert_eq!(d.applications[0].location, "apps.yaml:4");
        assert_eq!(d.application_sets.len(), 1);
    }

    #[test]
    fn a_bad_application_names_the_file_and_line() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: [1]\n";
        let mut d = Definitions::default();
        let e = parse_into(text, "apps.yaml", &mut d)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("apps.yaml: apps.yaml:5"), "{e}");
    }
}
