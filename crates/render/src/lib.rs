//! Manifests from a source: plain directories, and kustomizations built
//! natively with output identical to `kustomize build`.
//!
//! Rendering is a pure function of (snapshot, path, options) -> ordered
//! manifests: everything is read through [`flotilla_git::Tree`], so a local
//! directory, a Git commit and a test fixture render the same.
//!
//! ```no_run
//! use flotilla_git::LocalTree;
//! use flotilla_render::{render, RenderOptions};
//!
//! let tree = LocalTree::new("/path/to/repo")?;
//! let out = render(&tree, "overlays/prod/eu-west-1", &RenderOptions::default())?;
//! print!("{}", out.to_yaml()); // exactly what `kustomize build` prints
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod directory;
mod error;
pub mod kustomize;

use flotilla_core::{Location, Manifest};
use flotilla_git::{EntryKind, Tree};
use serde_json::Value;

pub use directory::{glob_match, DirectoryOptions};
pub use error::RenderError;
/// YAML as kustomize reads and writes it: the workspace's one
/// go-yaml-compatible parser and emitter ([`flotilla_yaml`]).
pub use flotilla_yaml as yaml;

/// Options of a render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Largest file read, in bytes (default 8 MiB).
    pub max_file_size: u64,
    /// Bounds on YAML alias expansion and nesting.
    pub yaml_limits: yaml::ParseLimits,
    /// Refuse a patch whose target selects nothing (kustomize silently
    /// ignores it). Default: true.
    pub patch_must_match: bool,
    /// How plain directories are read (Argo CD's `directory` source).
    pub directory: DirectoryOptions,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            max_file_size: 8 * 1024 * 1024,
            yaml_limits: yaml::ParseLimits::default(),
            patch_must_match: true,
            directory: DirectoryOptions::default(),
        }
    }
}

/// What kind of source a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A directory with a kustomization file.
    Kustomize,
    /// A directory of plain manifests.
    Directory,
}

/// The result of a render: manifests in output order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// How the source was read.
    pub kind: Option<SourceKind>,
    /// The manifests, each with the location it came from.
    pub manifests: Vec<Manifest>,
}

impl Rendered {
    /// The manifests as `kustomize build` prints them: go-yaml v2 style,
    /// documents separated by `---`.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.manifests.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            yaml::emit_map_document(&m.object, &mut out);
        }
        out
    }

    /// The manifests as a pretty-printed JSON list.
    pub fn to_json(&self) -> String {
        let list: Vec<&serde_json::Map<String, Value>> =
            self.manifests.iter().map(|m| &m.object).collect();
        let mut s = serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into());
        s.push('\n');
        s
    }
}

fn normalize(path: &str) -> String {
    kustomize::build::join("", path).unwrap_or_else(|| path.to_string())
}

/// Renders `path`: a kustomization when the directory has one, else the
/// plain manifests of the directory.
pub fn render(tree: &dyn Tree, path: &str, opts: &RenderOptions) -> Result<Rendered, RenderError> {
    let dir = normalize(path);
    let engine = kustomize::build::Engine { tree, opts };
    let here = Location::in_file(if dir.is_empty() { "." } else { &dir });
    match tree.kind(&dir) {
        Ok(Some(EntryKind::Dir)) => {}
        Ok(Some(_)) => return Err(RenderError::input(here, "not a directory")),
        Ok(None) => return Err(RenderError::input(here, "no such directory")),
        Err(source) => {
            return Err(RenderError::Read {
                location: here,
                source: Box::new(source),
            })
        }
    }
    match engine.load_kust(&dir, &here)? {
        Some(kt) => {
            let res = engine.build(&kt)?;
            Ok(Rendered {
                kind: Some(SourceKind::Kustomize),
                manifests: res
                    .into_iter()
                    .map(|r| Manifest::new(r.obj).with_location(r.origin))
                    .collect(),
            })
        }
        None => directory::render_directory(&engine, &dir, &opts.directory),
    }
}

/// Builds the kustomization in `path`, as `kustomize build` does; an error
/// when the directory has no kustomization file.
pub fn kustomize_build(
    tree: &dyn Tree,
    path: &str,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    let dir = normalize(path);
    let engine = kustomize::build::Engine { tree, opts };
    let here = Location::in_file(if dir.is_empty() { "." } else { &dir });
    let Some(kt) = engine.load_kust(&dir, &here)? else {
        return Err(RenderError::input(
            here,
            "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory",
        ));
    };
    let res = engine.build(&kt)?;
    Ok(Rendered {
        kind: Some(SourceKind::Kustomize),
        manifests: res
            .into_iter()
            .map(|r| Manifest::new(r.obj).with_location(r.origin))
            .collect(),
    })
}

/// The snapshot root and relative path used to render a local `path`: the
/// enclosing Git work tree when there is one (so bases anywhere in the
/// repository resolve, and symbolic links leading out of it are refused),
/// else the filesystem root.
///
/// ```no_run
/// let (root, rel) = flotilla_render::local_root("overlays/prod")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn local_root(
    path: impl AsRef<std::path::Path>,
) -> std::io::Result<(std::path::PathBuf, String)> {
    let abs = std::fs::canonicalize(path.as_ref())?;
    let mut root = abs.as_path();
    let found = loop {
        if root.join(".git").exists() {
            break Some(root.to_path_buf());
        }
        match root.parent() {
            Some(p) => root = p,
            None => break None,
        }
    };
    let root = found.unwrap_or_else(|| std::path::PathBuf::from("/"));
    let rel = abs
        .strip_prefix(&root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((root, rel))
}

/// Renders a directory of the local filesystem (see [`local_root`]).
pub fn render_local(
    path: impl AsRef<std::path::Path>,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    let shown = path.as_ref().display().to_string();
    let (root, rel) = local_root(path.as_ref())
        .map_err(|e| RenderError::input(Location::in_file(&shown), e.to_string()))?;
    let tree = flotilla_git::LocalTree::new(&root).map_err(|source| RenderError::Read {
        location: Location::in_file(&shown),
        source: Box::new(source),
    })?;
    render(&tree, &rel, opts)
}
