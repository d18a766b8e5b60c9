//! Loading a chart from a directory of a Git tree (a chart in Git, as Argo
//! CD renders `path:` sources holding a `Chart.yaml`), with the same rules
//! as a directory on disk: `.helmignore` applied (directories skipped
//! whole), symbolic links followed inside the tree, submodules refused.

use flotilla_git::{EntryKind, Tree};

use super::ignore::{Rules, HELM_IGNORE};
use super::{load_files_budget, Budget, LoadError, LoadLimits};
use crate::chart::{Chart, ChartFile};

/// Loads the chart at `path` (tree-relative, `/`-separated) of `tree`.
///
/// ```
/// use flotilla_git::{LocalTree, Tree};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir_all(dir.path().join("charts/web/templates")).unwrap();
/// std::fs::write(dir.path().join("charts/web/Chart.yaml"), "apiVersion: v2\nname: web\nversion: 0.1.0\n").unwrap();
/// std::fs::write(dir.path().join("charts/web/templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
/// let tree = LocalTree::new(dir.path()).unwrap();
/// let chart = flotilla_helm::load::load_tree(&tree, "charts/web").unwrap();
/// assert_eq!(chart.metadata.name, "web");
/// assert_eq!(chart.templates.len(), 1);
/// ```
pub fn load_tree(tree: &dyn Tree, path: &str) -> Result<Chart, LoadError> {
    load_tree_with(tree, path, &LoadLimits::default())
}

/// [`load_tree`] with explicit limits.
pub fn load_tree_with(
    tree: &dyn Tree,
    path: &str,
    limits: &LoadLimits,
) -> Result<Chart, LoadError> {
    let root = path.trim_matches('/');
    let root = if root == "." { "" } else { root };
    let origin = format!(
        "{}:{}",
        tree.location(),
        if root.is_empty() { "." } else { root }
    );
    let join = |rel: &str| -> String {
        match (root.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => root.to_string(),
            (false, false) => format!("{root}/{rel}"),
        }
    };
    let mut rules = Rules::empty();
    let ignore_path = join(HELM_IGNORE);
    if let Ok(Some(EntryKind::File | EntryKind::Symlink)) = tree.kind(&ignore_path) {
        let text = tree
            .read_to_string(&ignore_path)
            .map_err(|e| LoadError::in_file(&origin, HELM_IGNORE, e.to_string()))?;
        rules = Rules::parse(&text).map_err(|e| LoadError::in_file(&origin, HELM_IGNORE, e))?;
    }
    rules.add_defaults();
    let mut files = Vec::new();
    let mut total = 0u64;
    // (tree path, chart-relative name)
    let mut stack = vec![(join(""), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        if depth > 64 {
            return Err(LoadError::in_file(
                &origin,
                &rel,
                "directories nested too deep (a symbolic link loop?)",
            ));
        }
        let entries = tree
            .list(&dir)
            .map_err(|e| LoadError::in_file(&origin, &rel, e.to_string()))?;
        let mut subdirs = Vec::new();
        for e in entries {
            let name = if rel.is_empty() {
                e.name.clone()
            } else {
                format!("{rel}/{}", e.name)
            };
            let kind = match e.kind {
                EntryKind::Symlink => tree
                    .kind(&e.path)
                    .map_err(|err| LoadError::in_file(&origin, &name, err.to_string()))?
                    .ok_or_else(|| {
                        LoadError::in_file(&origin, &name, "symbolic link to nothing in the tree")
                    })?,
                k => k,
            };
            match kind {
                EntryKind::Dir => {
                    if !rules.ignore(&name, true) {
                        subdirs.push((e.path.clone(), name, depth + 1));
                    }
                }
                EntryKind::Submodule => {
                    if !rules.ignore(&name, false) {
                        return Err(LoadError::in_file(
                            &origin,
                            &name,
                            "a Git submodule inside a chart cannot be read",
                        ));
                    }
                }
                EntryKind::File | EntryKind::Symlink => {
                    if rules.ignore(&name, false) {
                        continue;
                    }
                    if files.len() >= limits.max_files {
                        return Err(LoadError::new(
                            &origin,
                            format!("chart has more than {} files", limits.max_files),
                        ));
                    }
                    let data = tree
                        .read(&e.path)
                        .map_err(|err| LoadError::in_file(&origin, &name, err.to_string()))?;
                    if data.len() as u64 > limits.max_file_bytes {
                        return Err(LoadError::in_file(
                            &origin,
                            &name,
                            format!(
                                "file is larger than the maximum file size {}",
                                limits.max_file_bytes
                            ),
                        ));
                    }
                    total += data.len() as u64;
                    if total > limits.max_total_bytes {
                        return Err(LoadError::new(
                            &origin,
                            format!("chart is larger than {} bytes", limits.max_total_bytes),
                        ));
                    }
                    files.push(ChartFile { name, data });
                }
            }
        }
        // Depth first, in name order, as a directory walk visits them.
        subdirs.reverse();
        stack.extend(subdirs);
    }
    let mut budget = Budget::new(limits);
    load_files_budget(files, &origin, &mut budget, 0)
}
