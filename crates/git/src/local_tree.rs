//! A local directory as a [`Tree`].

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::GitError;
use crate::glob::{GlobMode, Pattern};
use crate::tree::{clean_dir, join, split_path, Component, Entry, EntryKind, Limits, Tree};

/// A directory on disk read through the [`Tree`] trait, so renderers and
/// generators run the same on a working copy as on a cached commit.
///
/// Paths are resolved by the operating system (symbolic links followed) and
/// must stay below the canonical root; `.git` directories are not part of the tree.
#[derive(Debug, Clone)]
pub struct LocalTree {
    root: PathBuf,
    limits: Limits,
}

impl LocalTree {
    /// Open `root`, which must be an existing directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, GitError> {
        let root = root.as_ref();
        let canonical =
            fs::canonicalize(root).map_err(|e| GitError::io("opening directory", root, e))?;
        if !canonical.is_dir() {
            return Err(GitError::NotADirectory {
                location: canonical.display().to_string(),
                path: String::new(),
            });
        }
        Ok(LocalTree {
            root: canonical,
            limits: Limits::default(),
        })
    }

    /// Use `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn loc(&self) -> String {
        self.root.display().to_string()
    }

    /// Map a relative path to a canonical path below the root, or fail.
    fn resolve(&self, path: &str) -> Result<PathBuf, GitError> {
        let loc = || self.loc();
        let comps = split_path(&loc, path)?;
        let mut depth: usize = 0;
        let mut joined = self.root.clone();
        for c in &comps {
            match c {
                Component::Parent => {
                    if depth == 0 {
                        return Err(GitError::PathEscapes {
                            location: self.loc(),
                            path: path.to_string(),
                            detail: String::new(),
                        });
                    }
                    depth -= 1;
                    joined.push("..");
                }
                Component::Normal(n) => {
                    if *n == ".git" {
                        return Err(GitError::NotFound {
                            location: self.loc(),
                            path: path.to_string(),
                        });
                    }
                    depth += 1;
                    joined.push(n);
                }
            }
        }
        let canonical = match fs::canonicalize(&joined) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling link that points outside is an escape, not a missing file.
                if let Some(outside) = self.escaping_link(&comps) {
                    return Err(GitError::PathEscapes {
                        location: self.loc(),
                        path: path.to_string(),
                        detail: outside,
                    });
                }
                return Err(GitError::NotFound {
                    location: self.loc(),
                    path: path.to_string(),
                });
            }
            Err(e) if e.raw_os_error() == Some(40) => {
                return Err(GitError::SymlinkLoop {
                    location: self.loc(),
                    path: path.to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(GitError::NotADirectory {
                    location: self.loc(),
                    path: path.to_string(),
                })
            }
            Err(e) => return Err(GitError::io("resolving", &joined, e)),
        };
        if !canonical.starts_with(&self.root) {
            return Err(GitError::PathEscapes {
                location: self.loc(),
                path: path.to_string(),
                detail: format!(" (resolves to {})", canonical.display()),
            });
        }
        Ok(canonical)
    }

    /// Describe the first symbolic link along `comps` whose target leaves the root.
    fn escaping_link(&self, comps: &[Component<'_>]) -> Option<String> {
        let mut p = self.root.clone();
        for c in comps {
            match c {
                Component::Parent => {
                    p.pop();
                }
                Component::Normal(n) => p.push(n),
            }
            if let Ok(target) = fs::read_link(&p) {
                let abs = if target.is_absolute() {
                    target.clone()
                } else {
                    p.parent()
                        .map(|d| d.join(&target))
                        .unwrap_or_else(|| target.clone())
                };
                let norm = lexical(&abs);
                if !norm.starts_with(&self.root) {
                    return Some(format!(" (symbolic link to {})", target.display()));
                }
            }
        }
        None
    }

    fn check_limit_visit(&self, visited: &mut usize, pattern: &str) -> Result<(), GitError> {
        *visited += 1;
        if *visited > self.limits.max_walk_entries {
            return Err(GitError::GlobLimit {
                location: self.loc(),
                pattern: pattern.to_string(),
                what: "had to visit",
                limit: self.limits.max_walk_entries,
            });
        }
        Ok(())
    }
}

fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn kind_of(ft: fs::FileType) -> EntryKind {
    if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else {
        EntryKind::File
    }
}

impl Tree for LocalTree {
    fn location(&self) -> String {
        self.loc()
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, GitError> {
        let p = self.resolve(path)?;
        let meta = fs::metadata(&p).map_err(|e| GitError::io("reading", &p, e))?;
        if meta.is_dir() {
            return Err(GitError::IsADirectory {
                location: self.loc(),
                path: path.to_string(),
            });
        }
        if meta.len() > self.limits.max_file_size {
            return Err(GitError::FileTooLarge {
                location: self.loc(),
                path: path.to_string(),
                size: meta.len(),
                limit: self.limits.max_file_size,
            });
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        fs::File::open(&p)
            .and_then(|f| f.take(self.limits.max_file_size + 1).read_to_end(&mut buf))
            .map_err(|e| GitError::io("reading", &p, e))?;
        if buf.len() as u64 > self.limits.max_file_size {
            return Err(GitError::FileTooLarge {
                location: self.loc(),
                path: path.to_string(),
                size: buf.len() as u64,
                limit: self.limits.max_file_size,
            });
        }
        Ok(buf)
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, GitError> {
        let p = self.resolve(path)?;
        if !p.is_dir() {
            return Err(GitError::NotADirectory {
                location: self.loc(),
                path: path.to_string(),
            });
        }
        let dir = clean_dir(path);
        let mut out = Vec::new();
        for entry in fs::read_dir(&p).map_err(|e| GitError::io("listing", &p, e))? {
            let entry = entry.map_err(|e| GitError::io("listing", &p, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                tracing::warn!(dir = %p.display(), "skipping a file name that is not UTF-8");
                continue;
            };
            if name == ".git" {
                continue;
            }
            let ft = entry
                .file_type()
                .map_err(|e| GitError::io("listing", entry.path(), e))?;
            out.push(Entry {
                path: join(&dir, &name),
                name,
                kind: kind_of(ft),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn kind(&self, path: &str) -> Result<Option<EntryKind>, GitError> {
        match self.resolve(path) {
            Ok(p) => Ok(Some(if p.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            })),
            Err(GitError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn glob_with(&self, pattern: &str, mode: GlobMode) -> Result<Vec<String>, GitError> {
        let pat = Pattern::new(pattern, mode)?;
        let base = pat.base_dir().to_string();
        let mut out = Vec::new();
        let mut visited = 0usize;
        // Start at the literal base directory when it is one; a wildcard-free
        // Git pattern may also name a single file.
        match self.kind(&base) {
            Ok(Some(EntryKind::Dir)) => {}
            Ok(Some(_)) => {
                if pat.matches(&base) {
                    out.push(base);
                }
                return Ok(out);
            }
            Ok(None) | Err(GitError::NotADirectory { .. }) => return Ok(out),
            Err(e) => return Err(e),
        }
        // Walk without following directory links, as `git ls-files` lists them.
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            for entry in self.list(&dir)? {
                self.check_limit_visit(&mut visited, pattern)?;
                match entry.kind {
                    EntryKind::Dir => stack.push(entry.path),
                    EntryKind::File | EntryKind::Symlink => {
                        if !pat.matches(&entry.path) {
                            continue;
                        }
                        if entry.kind == EntryKind::Symlink {
                            match self.kind(&entry.path) {
                                Ok(Some(EntryKind::File)) => {}
                                Ok(_) => continue,
                                Err(e) => {
                                    tracing::warn!(path = %entry.path, error = %e, "glob skips a symbolic link");
                                    continue;
                                }
                            }
                        }
                        out.push(entry.path);
                        if out.len() > self.limits.max_glob_matches {
                            return Err(GitError::GlobLimit {
                                location: self.loc(),
                                pattern: pattern.to_string(),
                                what: "matched",
                                limit: self.limits.max_glob_matches,
                            });
                        }
                    }
                    EntryKind::Submodule => {}
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
