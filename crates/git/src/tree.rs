//! The snapshot trait every reader of a repository goes through.

use std::fmt;

use crate::error::GitError;
use crate::glob::GlobMode;

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file (executable or not).
    File,
    /// A directory.
    Dir,
    /// A symbolic link (as listed; reading follows it).
    Symlink,
    /// A submodule (gitlink): its content is another repository.
    Submodule,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name within its directory.
    pub name: String,
    /// The entry's path relative to the snapshot root (`dir/name`).
    pub path: String,
    /// What it is (symbolic links are reported as such, not followed).
    pub kind: EntryKind,
}

/// Bounds on the work one request can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file `read` returns, in bytes.
    pub max_file_size: u64,
    /// Most paths a glob may return.
    pub max_glob_matches: usize,
    /// Most tree entries a glob (or a full listing) may visit.
    pub max_walk_entries: usize,
}

impl Default for Limits {
    /// 32 MiB per file, 10,000 glob matches, 1,000,000 visited entries.
    fn default() -> Self {
        Limits {
            max_file_size: 32 * 1024 * 1024,
            max_glob_matches: 10_000,
            max_walk_entries: 1_000_000,
        }
    }
}

/// An immutable view of a file tree: one commit of a Git repository
/// ([`GitTree`](crate::GitTree)) or a local directory
/// ([`LocalTree`](crate::LocalTree)).
///
/// Paths are relative, `/`-separated, and may not leave the root: absolute
/// paths, `..` above the root and symbolic links pointing outside are refused
/// with [`GitError::PathEscapes`]. Symbolic links inside the tree are followed
/// by `read`, `list` and `kind`, as a checkout on disk would.
///
/// ```
/// use flotilla_git::{LocalTree, Tree};
///
/// let dir = std::env::temp_dir().join(format!("flotilla-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("overlays/prod")).unwrap();
/// std::fs::write(dir.join("overlays/prod/config.json"), "{}").unwrap();
///
/// let tree = LocalTree::new(&dir).unwrap();
/// assert_eq!(tree.read("overlays/prod/config.json").unwrap(), b"{}");
/// assert_eq!(tree.glob("overlays/**/config.json").unwrap(), vec!["overlays/prod/config.json"]);
/// assert!(tree.read("../etc/passwd").is_err());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub trait Tree: Send + Sync + fmt::Debug {
    /// Where this tree comes from, for messages: `URL@commit` or a directory.
    fn location(&self) -> String;

    /// The content of the file at `path` (symbolic links followed).
    fn read(&self, path: &str) -> Result<Vec<u8>, GitError>;

    /// The entries of the directory at `path` (`""` or `"."` for the root), sorted by name.
    fn list(&self, path: &str) -> Result<Vec<Entry>, GitError>;

    /// What `path` is after following symbolic links, or `None` if it does not exist.
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, GitError>;

    /// Paths of the files matching `pattern` under `mode`, sorted. Only paths
    /// that [`read`](Tree::read) accepts are returned: directories, submodules
    /// and symbolic links that point outside the tree or to directories are left out.
    fn glob_with(&self, pattern: &str, mode: GlobMode) -> Result<Vec<String>, GitError>;

    /// [`glob_with`](Tree::glob_with) in Argo CD's default mode ([`GlobMode::Git`]).
    fn glob(&self, pattern: &str) -> Result<Vec<String>, GitError> {
        self.glob_with(pattern, GlobMode::Git)
    }

    /// The file at `path` as UTF-8 text.
    fn read_to_string(&self, path: &str) -> Result<String, GitError> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|e| GitError::InvalidPath {
            location: self.location(),
            path: path.to_string(),
            reason: format!("file is not UTF-8 text ({e})"),
        })
    }

    /// `true` if `path` exists (after following symbolic links).
    fn exists(&self, path: &str) -> Result<bool, GitError> {
        Ok(self.kind(path)?.is_some())
    }
}

/// One parsed component of a relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Component<'a> {
    Normal(&'a str),
    Parent,
}

/// Split a user-supplied relative path into components, skipping `.` and
/// empty segments. Absolute paths are refused as escaping; NUL bytes as invalid.
pub(crate) fn split_path<'a>(
    location: &dyn Fn() -> String,
    path: &'a str,
) -> Result<Vec<Component<'a>>, GitError> {
    if path.contains('\0') {
        return Err(GitError::InvalidPath {
            location: location(),
            path: path.to_string(),
            reason: "contains a NUL byte".into(),
        });
    }
    if path.starts_with('/') || path.starts_with('\\') || has_drive_prefix(path) {
        return Err(GitError::PathEscapes {
            location: location(),
            path: path.to_string(),
            detail: " (absolute paths are not allowed)".into(),
        });
    }
    Ok(path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .map(|s| {
            if s == ".." {
                Component::Parent
            } else {
                Component::Normal(s)
            }
        })
        .collect())
}

fn has_drive_prefix(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b.len() == 2 || b[2] == b'/' || b[2] == b'\\')
}

/// Join a directory path and a name into a relative path.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return name.to_string();
    }
    let mut out = String::with_capacity(dir.len() + 1 + name.len());
    out.push_str(dir);
    out.push('/');
    out.push_str(name);
    out
}

/// Normalise a directory argument for display in listings: `"."` and `"/"`-trimmed.
pub(crate) fn clean_dir(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let loc = || "here".to_string();
        assert_eq!(
            split_path(&loc, "a/./b//c/../d").unwrap(),
            vec![
                Component::Normal("a"),
                Component::Normal("b"),
                Component::Normal("c"),
                Component::Parent,
                Component::Normal("d")
            ]
        );
        assert!(split_path(&loc, "").unwrap().is_empty());
        assert!(matches!(
            split_path(&loc, "/etc/passwd"),
            Err(GitError::PathEscapes { .. })
        ));
        assert!(matches!(
            split_path(&loc, "C:/x"),
            Err(GitError::PathEscapes { .. })
        ));
        assert!(matches!(
            split_path(&loc, "a\0b"),
            Err(GitError::InvalidPath { .. })
        ));
        assert_eq!(clean_dir("./a//b/"), "a/b");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a/x");
    }
}
